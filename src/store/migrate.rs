//! Brings a store written by an older planet up to `SCHEMA_VERSION`, in place, on open.
//! Version 1 kept one key per post in `posts_by_member` and one per alias in `aliases`;
//! version 2 keeps one value per member in `member_posts` and `member_aliases`. The new
//! trees are rebuilt in full from the old ones before the version is bumped, so a crash
//! mid-way just rebuilds them on the next open; the old trees are dropped only after.

use anyhow::Context as _;

use super::member_index::{MemberAliases, MemberPosts};
use super::{encode, keys, SCHEMA_VERSION};

const OLD_BY_MEMBER: &str = "posts_by_member";
const OLD_ALIASES: &str = "aliases";

/// Reads the stored schema version, migrates older layouts, refuses newer ones.
pub fn to_current(db: &sled::Db, member_posts: &sled::Tree, member_aliases: &sled::Tree) -> anyhow::Result<()> {
    let stored = match db.get("schema_version")? {
        None => {
            db.insert("schema_version", &SCHEMA_VERSION.to_be_bytes())?;
            return Ok(());
        }
        Some(bytes) => u32::from_be_bytes(bytes.as_ref().try_into().context("schema_version is corrupt")?),
    };
    anyhow::ensure!(
        stored <= SCHEMA_VERSION,
        "the store has schema version {stored}, newer than this planet ({SCHEMA_VERSION}); upgrade planet"
    );
    if stored == 1 {
        tracing::info!("migrating the store from schema version 1 to {SCHEMA_VERSION}");
        rebuild_member_indexes(db, member_posts, member_aliases)?;
        db.insert("schema_version", &SCHEMA_VERSION.to_be_bytes())?;
        db.flush().context("failed to flush the migrated store")?;
    }
    for name in [OLD_BY_MEMBER, OLD_ALIASES] {
        if db.tree_names().iter().any(|tree| tree.as_ref() == name.as_bytes()) {
            db.drop_tree(name).with_context(|| format!("failed to drop the old tree {name}"))?;
        }
    }
    Ok(())
}

/// The member id and the rest of a version-1 key (`member NUL rest`).
fn split_member(key: &[u8]) -> anyhow::Result<(&[u8], &[u8])> {
    let separator = key.iter().position(|b| *b == 0).context("corrupt version-1 index key")?;
    Ok((&key[..separator], &key[separator + 1..]))
}

fn rebuild_member_indexes(db: &sled::Db, member_posts: &sled::Tree, member_aliases: &sled::Tree) -> anyhow::Result<()> {
    member_posts.clear()?;
    member_aliases.clear()?;
    // Keys are sorted, so each member's entries are consecutive: one member in memory at a time.
    let mut current: Option<(Vec<u8>, MemberPosts)> = None;
    for item in db.open_tree(OLD_BY_MEMBER)?.iter() {
        let (key, _) = item?;
        let (member, rest) = split_member(&key)?;
        let time = keys::time_of(rest).context("corrupt version-1 member index key")?;
        if current.as_ref().is_some_and(|(m, _)| m.as_slice() != member) {
            let (m, posts) = current.take().expect("checked above");
            member_posts.insert(m, encode(&posts)?)?;
        }
        current
            .get_or_insert_with(|| (member.to_vec(), MemberPosts::default()))
            .1
            .insert(time, keys::id_after_time(rest));
    }
    if let Some((m, posts)) = current {
        member_posts.insert(m, encode(&posts)?)?;
    }
    let mut current: Option<(Vec<u8>, MemberAliases)> = None;
    for item in db.open_tree(OLD_ALIASES)?.iter() {
        let (key, id) = item?;
        let (member, alias) = split_member(&key)?;
        if current.as_ref().is_some_and(|(m, _)| m.as_slice() != member) {
            let (m, aliases) = current.take().expect("checked above");
            member_aliases.insert(m, encode(&aliases)?)?;
        }
        current
            .get_or_insert_with(|| (member.to_vec(), MemberAliases::default()))
            .1
            .insert(String::from_utf8_lossy(alias).into_owned(), &String::from_utf8_lossy(&id));
    }
    if let Some((m, aliases)) = current {
        member_aliases.insert(m, encode(&aliases)?)?;
    }
    Ok(())
}
