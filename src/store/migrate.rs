//! Brings a store written by an older planet up to `SCHEMA_VERSION`, in place, on open.
//! Version 1 kept posts by id, with one index key per post in `posts_by_time` and
//! `posts_by_member` and one per alias in `aliases`. Version 2 keeps posts by (published,
//! id) in `timeline` with `post_index` from id, and one value per member in `member_posts`
//! and `member_aliases`. The new trees are rebuilt in full from the old ones before the
//! version is bumped, so a crash mid-way just rebuilds them on the next open; the old trees
//! are dropped only after. Version 3 moves the posts out of `timeline` into the body log
//! (`bodies`); that move is `post_codec::rewrite_outdated`'s, which runs next on every open
//! until it is done, so here the version is only recorded. Version 4 splits each member's
//! value in `member_posts` and `member_aliases` into buckets (`member_index`): each old
//! value's buckets are written before the old value is removed, and writing an entry twice
//! changes nothing, so a crash mid-way is finished on the next open.

use anyhow::Context as _;

use super::member_index::{alias_entry, alias_key, member_of, posts_key, MemberAliases, MemberPosts};
use super::{decode, decode_or_default, encode, keys, PostSummary, Store, SCHEMA_VERSION};
use crate::config::MemberId;

const VERSION_1_TREES: [&str; 4] = ["posts", "posts_by_time", "posts_by_member", "aliases"];

/// Reads the stored schema version, migrates older layouts, refuses newer ones.
/// For a store opened only to be read: its schema must be this planet's already.
pub fn ensure_current(store: &Store) -> anyhow::Result<()> {
    let stored = match store.db.get("schema_version")? {
        None => return Ok(()),
        Some(bytes) => u32::from_be_bytes(bytes.as_ref().try_into().context("schema_version is corrupt")?),
    };
    anyhow::ensure!(
        stored == SCHEMA_VERSION,
        "the store has schema version {stored} and this planet reads {SCHEMA_VERSION}; open it with `planet serve` or `planet fetch` first (they migrate it)"
    );
    Ok(())
}

pub fn to_current(store: &Store) -> anyhow::Result<()> {
    let db = &store.db;
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
    if stored < SCHEMA_VERSION {
        tracing::info!("migrating the store from schema version {stored} to {SCHEMA_VERSION}");
        if stored == 1 {
            rebuild_from_version_1(store)?;
        }
        if stored < 4 {
            split_member_values(store)?;
        }
        db.insert("schema_version", &SCHEMA_VERSION.to_be_bytes())?;
        db.flush().context("failed to flush the migrated store")?;
    }
    for name in VERSION_1_TREES {
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

fn rebuild_from_version_1(store: &Store) -> anyhow::Result<()> {
    for tree in [&store.timeline, &store.post_index, &store.member_posts, &store.member_aliases, &store.counters] {
        tree.clear()?;
    }
    for item in store.db.open_tree("posts")?.iter() {
        let (id, value) = item?;
        let summary: PostSummary = decode(&super::post_codec::unpack(&value)?)?;
        let time = keys::time_bytes(summary.published);
        store.timeline.insert(keys::with_id(&time, &summary.id), value)?;
        store.post_index.insert(id, &time)?;
    }
    regroup_by_member(
        store.db.open_tree("posts_by_member")?,
        &store.member_posts,
        |posts: &mut MemberPosts, rest, _| {
            let time = keys::time_of(rest).context("corrupt version-1 member index key")?;
            posts.insert(time, keys::id_after_time(rest));
            Ok(())
        },
    )?;
    regroup_by_member(
        store.db.open_tree("aliases")?,
        &store.member_aliases,
        |aliases: &mut MemberAliases, alias, id| {
            aliases.insert(String::from_utf8_lossy(alias).into_owned(), &String::from_utf8_lossy(id));
            Ok(())
        },
    )?;
    Ok(())
}

/// Folds a version-1 tree keyed `member NUL rest` into one value per member in `into`, with
/// `add(value, rest, stored)` per entry. Keys are sorted, so each member's entries are
/// consecutive: one member's value is in memory at a time.
fn regroup_by_member<T: Default + serde::Serialize>(
    old: sled::Tree,
    into: &sled::Tree,
    add: impl Fn(&mut T, &[u8], &[u8]) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut current: Option<(Vec<u8>, T)> = None;
    for item in old.iter() {
        let (key, stored) = item?;
        let (member, rest) = split_member(&key)?;
        if let Some((done, value)) = current.take_if(|(m, _)| m.as_slice() != member) {
            into.insert(done, encode(&value)?)?;
        }
        let (_, value) = current.get_or_insert_with(|| (member.to_vec(), T::default()));
        add(value, rest, &stored)?;
    }
    if let Some((member, value)) = current {
        into.insert(member, encode(&value)?)?;
    }
    Ok(())
}

/// Schema 3 to 4: every one-value-per-member key (no NUL) of `member_posts` and
/// `member_aliases` becomes that member's buckets. One member's value is in memory at a time.
fn split_member_values(store: &Store) -> anyhow::Result<()> {
    for item in store.member_posts.iter() {
        let (key, value) = item?;
        let Some(member) = whole_member_key(&key)? else { continue };
        let posts: MemberPosts = decode(&value)?;
        let mut buckets: std::collections::BTreeMap<Vec<u8>, MemberPosts> = Default::default();
        for (millis, id) in posts.entries() {
            buckets.entry(posts_key(&member, *millis)).or_default().insert_millis(*millis, id);
        }
        for (bucket_key, entries) in buckets {
            let mut bucket: MemberPosts = decode_or_default(store.member_posts.get(&bucket_key)?)?;
            entries.entries().for_each(|(millis, id)| bucket.insert_millis(*millis, id));
            store.member_posts.insert(bucket_key, encode(&bucket)?)?;
        }
        store.member_posts.remove(key)?;
    }
    for item in store.member_aliases.iter() {
        let (key, value) = item?;
        let Some(member) = whole_member_key(&key)? else { continue };
        let aliases: MemberAliases = decode(&value)?;
        let mut buckets: std::collections::BTreeMap<Vec<u8>, MemberAliases> = Default::default();
        for (alias, id) in aliases.entries() {
            buckets.entry(alias_key(&member, alias)).or_default().insert(alias_entry(&member, alias), id);
        }
        for (bucket_key, entries) in buckets {
            let mut bucket: MemberAliases = decode_or_default(store.member_aliases.get(&bucket_key)?)?;
            entries.entries().for_each(|(alias, id)| bucket.insert(alias.clone(), id));
            store.member_aliases.insert(bucket_key, encode(&bucket)?)?;
        }
        store.member_aliases.remove(key)?;
    }
    Ok(())
}

/// The member of a schema-3 key (the member id alone); `None` for a bucket key.
fn whole_member_key(key: &[u8]) -> anyhow::Result<Option<MemberId>> {
    if member_of(key).is_some() {
        return Ok(None);
    }
    let member = MemberId::parse(&String::from_utf8_lossy(key)).map_err(anyhow::Error::msg)?;
    Ok(Some(member))
}
