//! The river index: the posts the combined feeds and the home page may show (neither a first
//! fetch's backlog nor a copy of another post), keyed by member, then time and id. The river
//! is read per member and merged (`http::river`), so a member with ten thousand posts in a day
//! or two thousand copies costs that member a seek, not every reader a scan past them.
//! Written in the transaction that writes the post (`write.rs`); built once on open for a
//! store from before it (`build_if_missing`).

use std::ops::Bound;

use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use super::{keys, Store};
use crate::config::MemberId;
use crate::model::Post;

/// Set once the river index holds every stored post it should.
const RIVER_BUILT_KEY: &str = "river_built";

/// A river entry: (member, NUL, time bytes, id), so one member's entries are one key range in
/// the timeline's order.
pub(super) fn key_of(member: &MemberId, time: &[u8], id: &str) -> Vec<u8> {
    let mut key = keys::member_prefix(member);
    key.extend_from_slice(time);
    key.extend_from_slice(id.as_bytes());
    key
}

/// Whether the river may show `post` at all (the daily cap and moderation are the reader's).
pub fn in_river(post: &Post) -> bool {
    !post.backlog && post.duplicate_of.is_none()
}

/// Inside a refresh's transaction: `post`'s river entry at its new time, or none; the entry
/// at its previous time (`old_time`, when it moved or was there) goes.
pub fn write_entry(
    river: &TransactionalTree,
    member: &MemberId,
    post: &Post,
    old_time: Option<&[u8]>,
) -> Result<(), ConflictableTransactionError<String>> {
    if let Some(old_time) = old_time {
        river.remove(key_of(member, old_time, &post.id))?;
    }
    if in_river(post) {
        river.insert(key_of(member, &keys::time_bytes(post.published), &post.id), &[])?;
    }
    Ok(())
}

/// One entry of a member's river: published milliseconds and id.
pub type RiverEntry = (i64, String);

impl Store {
    /// The newest river entry of `member` strictly older than (`millis`, `id`), or the newest
    /// of all when `before` is `None`: one seek.
    pub fn river_entry_before(
        &self,
        member: &MemberId,
        before: Option<(i64, &str)>,
    ) -> anyhow::Result<Option<RiverEntry>> {
        let prefix = keys::member_prefix(member);
        let upper = match before {
            Some((millis, id)) => {
                let mut key = prefix.clone();
                key.extend_from_slice(&keys::by_millis(millis, id));
                Bound::Excluded(key)
            }
            None => Bound::Excluded(prefix_end(&prefix)),
        };
        let Some(item) = self.river.range((Bound::Included(prefix.clone()), upper)).next_back() else {
            return Ok(None);
        };
        let (key, _) = item?;
        Ok(Some(entry_of(&key[prefix.len()..])))
    }

    /// River entries of `member` from `from` (that entry included) to `until` milliseconds
    /// (excluded), oldest first (keys only: no post is read).
    pub fn river_entries_from<'a>(
        &'a self,
        member: &MemberId,
        from: (i64, &str),
        until: i64,
    ) -> impl Iterator<Item = anyhow::Result<RiverEntry>> + 'a {
        self.river_range(member, from, until)
    }

    /// River entries of `member` published in [`from`, `until`) milliseconds, newest first
    /// (keys only: no post is read).
    pub fn river_entries_newest_first<'a>(
        &'a self,
        member: &MemberId,
        from: i64,
        until: i64,
    ) -> impl Iterator<Item = anyhow::Result<RiverEntry>> + 'a {
        self.river_range(member, (from, ""), until).rev()
    }

    /// The entries of `member` in [`from`, `until`), read in either direction.
    fn river_range<'a>(
        &'a self,
        member: &MemberId,
        from: (i64, &str),
        until: i64,
    ) -> impl DoubleEndedIterator<Item = anyhow::Result<RiverEntry>> + 'a {
        let prefix = keys::member_prefix(member);
        let mut start = prefix.clone();
        start.extend_from_slice(&keys::by_millis(from.0, from.1));
        let mut end = prefix.clone();
        end.extend_from_slice(&keys::by_millis(until, ""));
        let range = if start < end { Some(self.river.range(start..end)) } else { None };
        range.into_iter().flatten().map(move |item| {
            let (key, _) = item?;
            Ok(entry_of(&key[prefix.len()..]))
        })
    }

    /// The post at a river entry (one `timeline` read); `None` when it is damaged (counted).
    pub fn post_at(&self, millis: i64, id: &str) -> anyhow::Result<Option<Post>> {
        Ok(self.timeline.get(keys::by_millis(millis, id))?.and_then(|value| self.read_or_note_damage(id, &value)))
    }
}

/// The (milliseconds, id) of a river key after its member prefix.
fn entry_of(rest: &[u8]) -> RiverEntry {
    let millis = keys::time_of(rest).map(|t| t.timestamp_millis()).unwrap_or(i64::MIN);
    (millis, keys::id_after_time(rest).to_string())
}

/// The first key after every key that starts with `prefix` (a member prefix ends in NUL, so
/// adding one to that byte does).
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    if let Some(last) = end.last_mut() {
        *last += 1;
    }
    end
}

/// Builds the river index from the timeline when this store has none yet (a store from
/// before it, or one whose build was interrupted): every post is read once.
pub fn build_if_missing(store: &Store) -> anyhow::Result<()> {
    if store.db.get(RIVER_BUILT_KEY)?.is_some() {
        return Ok(());
    }
    store.river.clear()?;
    let mut batch = sled::Batch::default();
    let mut pending = 0;
    for item in store.timeline.iter() {
        let (key, value) = item?;
        // A post that cannot be read is not listed anyway; it is reported by the readers.
        let Ok(post) = store.decode_stored(&value) else { continue };
        if in_river(&post) {
            batch.insert(key_of(&post.member, &key[..8], &post.id), &[]);
            pending += 1;
        }
        if pending >= 1_000 {
            store.river.apply_batch(std::mem::take(&mut batch))?;
            pending = 0;
        }
    }
    store.river.apply_batch(batch)?;
    store.db.insert(RIVER_BUILT_KEY, &[1])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{member, open, post, state, time};
    use super::*;

    fn river_ids(store: &Store, who: &str) -> Vec<String> {
        let mut ids = Vec::new();
        let mut before: Option<RiverEntry> = None;
        while let Some(entry) =
            store.river_entry_before(&member(who), before.as_ref().map(|(m, i)| (*m, i.as_str()))).unwrap()
        {
            ids.push(entry.1.clone());
            before = Some(entry);
        }
        ids
    }

    #[test]
    fn the_river_index_leaves_out_backlog_and_copies_and_follows_a_post_that_moves_in_time() {
        let (_dir, store) = open();
        let backlog = Post { backlog: true, ..post("a", "a-backlog", 1) };
        let copy = Post { duplicate_of: Some("a1".into()), ..post("a", "a-copy", 2) };
        store
            .save_refresh(&member("a"), &[post("a", "a1", 3), backlog, copy, post("a", "a2", 4)], &state("a"))
            .unwrap();
        store.save_refresh(&member("b"), &[post("b", "b1", 5)], &state("b")).unwrap();
        assert_eq!(river_ids(&store, "a"), ["a2", "a1"]);
        assert_eq!(river_ids(&store, "b"), ["b1"]);

        // A corrected date moves the entry; a post that became a copy leaves.
        let moved = Post { published: time(10), ..post("a", "a1", 3) };
        let now_a_copy = Post { duplicate_of: Some("a1".into()), ..post("a", "a2", 4) };
        store.save_posts(&member("a"), &[moved, now_a_copy]).unwrap();
        assert_eq!(river_ids(&store, "a"), ["a1"]);
        let after_a1 =
            store.river_entries_from(&member("a"), (time(0).timestamp_millis(), ""), time(20).timestamp_millis());
        let entries: Vec<RiverEntry> = after_a1.collect::<anyhow::Result<_>>().unwrap();
        assert_eq!(entries, [(time(10).timestamp_millis(), "a1".to_string())]);
    }

    #[test]
    fn a_store_without_a_river_index_gets_one_built_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        {
            let store = Store::open(&path, 8 << 20).unwrap();
            let copy = Post { duplicate_of: Some("a1".into()), ..post("a", "a-copy", 2) };
            store.save_refresh(&member("a"), &[post("a", "a1", 1), copy], &state("a")).unwrap();
            // As a store written before the river index was.
            store.river.clear().unwrap();
            store.db.remove(RIVER_BUILT_KEY).unwrap();
            store.flush().unwrap();
        }
        let store = Store::open(&path, 8 << 20).unwrap();
        assert_eq!(river_ids(&store, "a"), ["a1"]);
    }
}
