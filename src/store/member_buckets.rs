//! Reading and editing the bucketed member indexes (`member_index`): a save loads only the
//! buckets its posts touch, inside its transaction, and writes each back once; reads walk a
//! member's post buckets newest first, one bucket at a time, so a member page or a crawl of
//! a member with 20,000 posts never decodes the whole list.

use std::collections::BTreeMap;

use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use super::member_index::{alias_entry, alias_key, member_of, posts_key, posts_key_last, MemberAliases, MemberPosts};
use super::write::abort;
use super::{decode, decode_or_default, encode, keys, Position, Store};
use crate::config::MemberId;
use crate::model::Post;

type Abortable<T> = Result<T, ConflictableTransactionError<String>>;

/// The members the store holds posts of, kept in memory (read on open, added to by saves,
/// read again after a repair): every unfiltered listing asks whether one of them is no longer
/// configured, and a seek per member per request grows with the member list.
#[derive(Default)]
pub(super) struct StoredMembers {
    names: std::collections::HashSet<String>,
    /// Changes whenever `names` does, so callers can cache what they derived from it.
    version: u64,
}

/// The bucket at `key`, read from `tree` the first time this transaction asks for it.
pub(super) fn loaded<'m, K: Ord + AsRef<[u8]>, T: serde::de::DeserializeOwned + Default>(
    buckets: &'m mut BTreeMap<K, T>,
    tree: &TransactionalTree,
    key: K,
) -> Abortable<&'m mut T> {
    Ok(match buckets.entry(key) {
        std::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
        std::collections::btree_map::Entry::Vacant(entry) => {
            let bucket = decode_or_default(tree.get(entry.key().as_ref())?).map_err(abort)?;
            entry.insert(bucket)
        }
    })
}

/// The buckets one transaction has read and changed, written back by `write`.
#[derive(Default)]
pub(super) struct BucketEdits {
    posts: BTreeMap<Vec<u8>, MemberPosts>,
    aliases: BTreeMap<Vec<u8>, MemberAliases>,
    river: BTreeMap<Vec<u8>, MemberPosts>,
}

/// Takes post `id` out of `member`'s bucket (in `member_posts` or the river) that holds
/// `published`, outside a transaction; an emptied bucket is removed. Whether it was there.
pub(super) fn take_from_bucket(
    tree: &sled::Tree,
    member: &MemberId,
    published: chrono::DateTime<chrono::Utc>,
    id: &str,
) -> anyhow::Result<bool> {
    let key = posts_key(member, published.timestamp_millis());
    let Some(value) = tree.get(&key)? else { return Ok(false) };
    let mut bucket: MemberPosts = decode(&value)?;
    if !bucket.contains(published, id) {
        return Ok(false);
    }
    bucket.remove(published, id);
    match bucket.is_empty() {
        true => tree.remove(&key)?,
        false => tree.insert(&key, encode(&bucket)?)?,
    };
    Ok(true)
}

impl BucketEdits {
    pub fn posts(&mut self, tree: &TransactionalTree, member: &MemberId, millis: i64) -> Abortable<&mut MemberPosts> {
        loaded(&mut self.posts, tree, posts_key(member, millis))
    }

    /// The member's river bucket (`river`) that holds posts published at `millis`.
    pub fn river(&mut self, tree: &TransactionalTree, member: &MemberId, millis: i64) -> Abortable<&mut MemberPosts> {
        loaded(&mut self.river, tree, posts_key(member, millis))
    }

    pub fn aliases(
        &mut self,
        tree: &TransactionalTree,
        member: &MemberId,
        alias: &str,
    ) -> Abortable<&mut MemberAliases> {
        loaded(&mut self.aliases, tree, alias_key(member, alias))
    }

    /// Writes every bucket read back; an emptied one is removed.
    pub fn write(
        self,
        posts_tree: &TransactionalTree,
        aliases_tree: &TransactionalTree,
        river_tree: &TransactionalTree,
    ) -> Abortable<()> {
        for (tree, buckets) in [(posts_tree, self.posts), (river_tree, self.river)] {
            for (key, bucket) in buckets {
                match bucket.is_empty() {
                    true => tree.remove(key)?,
                    false => tree.insert(key, encode(&bucket).map_err(abort)?)?,
                };
            }
        }
        for (key, bucket) in self.aliases {
            match bucket.is_empty() {
                true => aliases_tree.remove(key)?,
                false => aliases_tree.insert(key, encode(&bucket).map_err(abort)?)?,
            };
        }
        Ok(())
    }
}

impl Store {
    /// One member's posts newest first, starting after `after` (exclusive): one bucket of
    /// the member's index is read at a time.
    pub fn member_posts_newest_first<'a>(
        &'a self,
        member: &MemberId,
        after: Option<&Position>,
    ) -> impl Iterator<Item = anyhow::Result<Post>> + 'a {
        self.member_entries_newest_first(member, after).filter_map(move |entry| match entry {
            Ok((millis, id)) => self.post_at(millis, &id).transpose(),
            Err(error) => Some(Err(error)),
        })
    }

    /// `member`'s newest `limit` posts, as `member_posts` reads them, except that those in
    /// `saved` come from there instead of the store. For a caller that has just saved them
    /// and still holds the member's lock (`refresh::dedupe`): a first fetch's grouping would
    /// otherwise read back every post it wrote, each read waiting on other members' saves.
    pub fn member_posts_with_saved(
        &self,
        member: &MemberId,
        limit: usize,
        saved: &[Post],
    ) -> anyhow::Result<Vec<Post>> {
        let saved: std::collections::HashMap<&str, &Post> = saved.iter().map(|post| (post.id.as_str(), post)).collect();
        let mut posts = Vec::new();
        for entry in self.member_entries_newest_first(member, None) {
            if posts.len() >= limit {
                break;
            }
            let (millis, id) = entry?;
            let post = match saved.get(id.as_str()) {
                Some(post) => Some((*post).clone()),
                None => self.post_at(millis, &id)?,
            };
            posts.extend(post);
        }
        Ok(posts)
    }

    /// (published milliseconds, id) of `member`'s posts newest first, after `after`
    /// (exclusive) when given: one bucket of the member's index is read at a time.
    fn member_entries_newest_first<'a>(
        &'a self,
        member: &MemberId,
        after: Option<&Position>,
    ) -> impl Iterator<Item = anyhow::Result<(i64, String)>> + 'a {
        let last = match after {
            Some(position) => posts_key(member, position.published.timestamp_millis()),
            None => posts_key_last(member),
        };
        let after = after.cloned();
        let buckets = self.member_posts.range(keys::member_prefix(member)..=last).rev();
        buckets.flat_map(move |item| {
            let bucket = item.map_err(anyhow::Error::from).and_then(|(_, value)| decode::<MemberPosts>(&value));
            match bucket {
                Ok(bucket) => bucket.newest_first(after.as_ref()).into_iter().map(Ok).collect::<Vec<_>>(),
                Err(error) => vec![Err(error)],
            }
        })
    }

    /// (member, publication time) of every post, from the member indexes alone: cheap
    /// statistics.
    pub fn post_times(&self) -> impl Iterator<Item = anyhow::Result<(String, chrono::DateTime<chrono::Utc>)>> + '_ {
        self.member_posts.iter().flat_map(|item| {
            let times = item.map_err(anyhow::Error::from).and_then(|(key, value)| {
                let member = member_of(&key).unwrap_or_default().to_string();
                let posts: MemberPosts = decode(&value)?;
                Ok(posts.times().map(|time| Ok((member.clone(), time))).collect::<Vec<_>>())
            });
            times.unwrap_or_else(|error| vec![Err(error)])
        })
    }

    /// The members the store holds posts of: one seek per member, past its buckets.
    pub fn members_stored(&self) -> anyhow::Result<Vec<String>> {
        let mut members = Vec::new();
        let mut from = Vec::new();
        while let Some(item) = self.member_posts.range(from.clone()..).next() {
            let (key, _) = item?;
            let member = member_of(&key).unwrap_or_default().to_string();
            // Past every key of this member: `member NUL ...` < `member 0x01`.
            from = member.as_bytes().to_vec();
            from.push(1);
            members.push(member);
        }
        Ok(members)
    }

    /// Reads the stored members into memory (on open, and after a repair removed posts).
    pub(super) fn load_stored_members(&self) -> anyhow::Result<()> {
        let names = self.members_stored()?.into_iter().collect();
        let mut stored = self.stored_members.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        stored.version += 1;
        stored.names = names;
        Ok(())
    }

    /// After a save of `member`'s posts has committed.
    pub(super) fn note_member_stored(&self, member: &MemberId) {
        let known = self.stored_members.read().unwrap_or_else(|p| p.into_inner()).names.contains(member.as_str());
        if !known {
            let mut stored = self.stored_members.write().unwrap_or_else(|poisoned| poisoned.into_inner());
            stored.version += stored.names.insert(member.to_string()) as u64;
        }
    }

    /// Changes whenever the set of stored members does.
    pub fn stored_members_version(&self) -> u64 {
        self.stored_members.read().unwrap_or_else(|p| p.into_inner()).version
    }

    /// Whether the store holds any post of `member` (no disk read).
    pub fn holds_posts_of(&self, member: &MemberId) -> bool {
        self.stored_members.read().unwrap_or_else(|p| p.into_inner()).names.contains(member.as_str())
    }

    /// Whether a member the store holds posts of is `which` (no disk read).
    pub fn any_stored_member(&self, which: impl Fn(&str) -> bool) -> bool {
        self.stored_members.read().unwrap_or_else(|p| p.into_inner()).names.iter().any(|name| which(name))
    }

    /// The post `alias` (`guid:...` or `link:...`) finds among the member's posts.
    pub fn alias(&self, member: &MemberId, alias: &str) -> anyhow::Result<Option<String>> {
        let bucket: MemberAliases = decode_or_default(self.member_aliases.get(alias_key(member, alias))?)?;
        Ok(bucket.get(&alias_entry(member, alias)).map(str::to_string))
    }

    /// Removes post `id` (published at `published`) from the member indexes of whichever
    /// member holds it; that member, if one did. Outside a transaction: `store repair` only.
    pub(super) fn unindex_post(
        &self,
        id: &str,
        published: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<Option<MemberId>> {
        for member in self.members_stored()? {
            let member = MemberId::parse(&member).map_err(anyhow::Error::msg)?;
            if !take_from_bucket(&self.member_posts, &member, published, id)? {
                continue;
            }
            // Every bucket: an alias's bucket comes from its text, which a damaged post has lost.
            let prefix = keys::member_prefix(&member);
            for item in self.member_aliases.iter() {
                let (key, value) = item?;
                let mut aliases: MemberAliases = decode(&value)?;
                if aliases.remove_id_of(&prefix, id) {
                    match aliases.is_empty() {
                        true => self.member_aliases.remove(key)?,
                        false => self.member_aliases.insert(key, encode(&aliases)?)?,
                    };
                }
            }
            return Ok(Some(member));
        }
        Ok(None)
    }
}
