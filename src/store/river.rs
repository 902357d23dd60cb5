//! The river index: the posts the combined feeds and the home page may show (neither a first
//! fetch's backlog nor a copy of another post), per member in time order. The river is read
//! per member and merged (`http::river`), so a member with ten thousand posts in a day or two
//! thousand copies costs that member a seek, not every reader a scan past them. Kept in the
//! same 30-day buckets as `member_posts` (one sled value per member and 30 days, not a key per
//! post: sled 0.34 holds metadata for every page from open on, and a key per post was ~80,000
//! pages at 1,000,000 posts). Written in the transaction that writes the post (`write.rs`);
//! built once on open for a store from before it (`build_if_missing`), from the river of a
//! key per post when there is one.

use std::collections::BTreeMap;

use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use super::member_buckets::BucketEdits;
use super::member_index::{member_of, posts_key, posts_key_last, MemberPosts};
use super::{decode, decode_or_default, encode, keys, Store};
use crate::config::MemberId;
use crate::model::Post;

/// Set once the river's buckets hold every stored post they should.
pub(super) const RIVER_BUILT_KEY: &str = "river_buckets_built";
/// The river of a key per post (before the buckets), and the mark it was complete.
const KEYED_RIVER_TREE: &str = "river";
const KEYED_RIVER_BUILT_KEY: &str = "river_built";
/// Entries a build holds before it merges them into their buckets.
const BUILD_ENTRIES: usize = 100_000;

/// Whether the river may show `post` at all (the daily cap and moderation are the reader's).
pub fn in_river(post: &Post) -> bool {
    !post.backlog && post.duplicate_of.is_none()
}

/// Inside a refresh's transaction: `post`'s river entry at its new time, or none; the entry
/// at its previous time (`old_time`, when it moved or was there) goes.
pub(super) fn write_entry(
    buckets: &mut BucketEdits,
    river: &TransactionalTree,
    member: &MemberId,
    post: &Post,
    old_time: Option<&[u8]>,
) -> Result<(), ConflictableTransactionError<String>> {
    if let Some(old) = old_time.and_then(keys::time_of) {
        buckets.river(river, member, old.timestamp_millis())?.remove(old, &post.id);
    }
    if in_river(post) {
        buckets.river(river, member, post.published.timestamp_millis())?.insert(post.published, &post.id);
    }
    Ok(())
}

/// One entry of a member's river: published milliseconds and id.
pub type RiverEntry = (i64, String);

impl Store {
    /// The newest river entry of `member` strictly older than (`millis`, `id`), or the newest
    /// of all when `before` is `None`: usually one bucket read.
    pub fn river_entry_before(
        &self,
        member: &MemberId,
        before: Option<(i64, &str)>,
    ) -> anyhow::Result<Option<RiverEntry>> {
        let last = match before {
            Some((millis, _)) => posts_key(member, millis),
            None => posts_key_last(member),
        };
        for item in self.river.range(keys::member_prefix(member)..=last).rev() {
            let (_, value) = item?;
            let bucket: MemberPosts = decode(&value)?;
            if let Some(entry) = bucket.newest_before(before) {
                return Ok(Some(entry.clone()));
            }
        }
        Ok(None)
    }

    /// River entries of `member` from `from` (that entry included) to `until` milliseconds
    /// (excluded), oldest first (no post is read).
    pub fn river_entries_from<'a>(
        &'a self,
        member: &MemberId,
        from: (i64, &str),
        until: i64,
    ) -> impl Iterator<Item = anyhow::Result<RiverEntry>> + 'a {
        let (from_millis, from_id) = (from.0, from.1.to_string());
        self.river_buckets(member, from_millis, until).flat_map(move |bucket| match bucket {
            Ok(bucket) => {
                bucket.entries_between((from_millis, &from_id), until).iter().cloned().map(Ok).collect::<Vec<_>>()
            }
            Err(error) => vec![Err(error)],
        })
    }

    /// River entries of `member` published in [`from`, `until`) milliseconds, newest first
    /// (no post is read).
    pub fn river_entries_newest_first<'a>(
        &'a self,
        member: &MemberId,
        from: i64,
        until: i64,
    ) -> impl Iterator<Item = anyhow::Result<RiverEntry>> + 'a {
        self.river_buckets(member, from, until).rev().flat_map(move |bucket| match bucket {
            Ok(bucket) => bucket.entries_between((from, ""), until).iter().rev().cloned().map(Ok).collect::<Vec<_>>(),
            Err(error) => vec![Err(error)],
        })
    }

    /// The buckets of `member` that may hold entries in [`from`, `until`], read lazily in
    /// either direction.
    fn river_buckets(
        &self,
        member: &MemberId,
        from: i64,
        until: i64,
    ) -> impl DoubleEndedIterator<Item = anyhow::Result<MemberPosts>> {
        let range = (from <= until).then(|| self.river.range(posts_key(member, from)..=posts_key(member, until)));
        range.into_iter().flatten().map(|item| decode(&item?.1))
    }

    /// The post at a river entry (one `timeline` read); `None` when it is damaged (counted).
    pub fn post_at(&self, millis: i64, id: &str) -> anyhow::Result<Option<Post>> {
        Ok(self.timeline.get(keys::by_millis(millis, id))?.and_then(|value| self.read_or_note_damage(id, &value)))
    }

    /// Takes post `id` out of `member`'s river, outside a transaction (`store repair`).
    pub(super) fn remove_river_entry(&self, member: &MemberId, time: &[u8], id: &str) -> anyhow::Result<()> {
        if let Some(published) = keys::time_of(time) {
            super::member_buckets::take_from_bucket(&self.river, member, published, id)?;
        }
        Ok(())
    }
}

/// Builds the river's buckets when this store has none yet (a store from before them, or
/// one whose build was interrupted): from the river of a key per post when that was complete
/// (keys only), else from every post in the timeline. The key-per-post tree goes after.
pub fn build_if_missing(store: &Store) -> anyhow::Result<()> {
    if store.db.get(RIVER_BUILT_KEY)?.is_some() {
        return Ok(());
    }
    store.river.clear()?;
    let keyed = store.db.open_tree(KEYED_RIVER_TREE)?;
    let mut entries = Entries::default();
    if store.db.get(KEYED_RIVER_BUILT_KEY)?.is_some() {
        for key in keyed.iter().keys() {
            let key = key?;
            let Some(member) = member_of(&key).and_then(|name| MemberId::parse(name).ok()) else { continue };
            let rest = &key[member.as_str().len() + 1..];
            let Some(published) = keys::time_of(rest) else { continue };
            entries.add(store, &member, published.timestamp_millis(), keys::id_after_time(rest))?;
        }
    } else {
        for item in store.timeline.iter() {
            let (_, value) = item?;
            // A post that cannot be read is not listed anyway; it is reported by the readers.
            let Ok(post) = store.decode_stored(&value) else { continue };
            if in_river(&post) {
                entries.add(store, &post.member, post.published.timestamp_millis(), &post.id)?;
            }
        }
    }
    entries.merge_into(store)?;
    store.db.insert(RIVER_BUILT_KEY, &[1])?;
    drop(keyed);
    store.db.drop_tree(KEYED_RIVER_TREE)?;
    store.db.remove(KEYED_RIVER_BUILT_KEY)?;
    Ok(())
}

/// Entries a build has read, by bucket key, merged into the stored buckets every
/// `BUILD_ENTRIES` so memory stays flat at any store size.
#[derive(Default)]
struct Entries {
    buckets: BTreeMap<Vec<u8>, Vec<(i64, String)>>,
    count: usize,
}

impl Entries {
    fn add(&mut self, store: &Store, member: &MemberId, millis: i64, id: &str) -> anyhow::Result<()> {
        self.buckets.entry(posts_key(member, millis)).or_default().push((millis, id.to_string()));
        self.count += 1;
        if self.count >= BUILD_ENTRIES {
            std::mem::take(self).merge_into(store)?;
        }
        Ok(())
    }

    fn merge_into(self, store: &Store) -> anyhow::Result<()> {
        for (key, entries) in self.buckets {
            let mut bucket: MemberPosts = decode_or_default(store.river.get(&key)?)?;
            entries.iter().for_each(|(millis, id)| bucket.insert_millis(*millis, id));
            store.river.insert(key, encode(&bucket)?)?;
        }
        Ok(())
    }
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
    fn river_reads_cross_thirty_day_buckets_in_both_directions_and_stop_at_their_bounds() {
        let (_dir, store) = open();
        // Posts 20 days apart over 200 days: ten buckets, some empty, some with two posts.
        let posts: Vec<Post> = (0..10).map(|i| post("a", &format!("a{i}"), i * 20 * 24)).collect();
        store.save_refresh(&member("a"), &posts, &state("a")).unwrap();
        store.save_refresh(&member("b"), &[post("b", "b1", 30 * 24)], &state("b")).unwrap();
        let expected: Vec<String> = (0..10).rev().map(|i| format!("a{i}")).collect();
        assert_eq!(river_ids(&store, "a"), expected);
        assert_eq!(river_ids(&store, "b"), ["b1"]);

        let millis = |hours: i64| time(hours).timestamp_millis();
        let from: Vec<String> = store
            .river_entries_from(&member("a"), (millis(40 * 24), "a2"), millis(140 * 24))
            .map(|entry| entry.unwrap().1)
            .collect();
        assert_eq!(from, ["a2", "a3", "a4", "a5", "a6"], "from included, until excluded");
        let after_a2: Vec<String> = store
            .river_entries_from(&member("a"), (millis(40 * 24), "a3"), millis(100 * 24))
            .map(|entry| entry.unwrap().1)
            .collect();
        assert_eq!(after_a2, ["a3", "a4"], "an id after a2's at a2's time starts after it");
        let newest: Vec<String> = store
            .river_entries_newest_first(&member("a"), millis(60 * 24), millis(180 * 24))
            .map(|entry| entry.unwrap().1)
            .collect();
        assert_eq!(newest, ["a8", "a7", "a6", "a5", "a4", "a3"]);
        assert_eq!(store.river_entries_newest_first(&member("a"), millis(10), millis(0)).count(), 0);
    }

    /// A store whose river is a key per post (before the buckets), complete or not built.
    fn keyed_river_store(keyed_river_built: bool) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let store = Store::open(&path, 8 << 20).unwrap();
        let copy = Post { duplicate_of: Some("a1".into()), ..post("a", "a-copy", 2) };
        store.save_refresh(&member("a"), &[post("a", "a1", 1), copy, post("a", "a2", 1_000)], &state("a")).unwrap();
        store.river.clear().unwrap();
        store.db.remove(RIVER_BUILT_KEY).unwrap();
        if keyed_river_built {
            let keyed = store.db.open_tree(KEYED_RIVER_TREE).unwrap();
            for (id, hours) in [("a1", 1), ("a2", 1_000)] {
                let mut key = keys::member_prefix(&member("a"));
                key.extend_from_slice(&keys::by_time(time(hours), id));
                keyed.insert(key, &[]).unwrap();
            }
            store.db.insert(KEYED_RIVER_BUILT_KEY, &[1]).unwrap();
        }
        store.flush().unwrap();
        (dir, path)
    }

    #[test]
    fn a_river_of_a_key_per_post_becomes_buckets_on_open_and_its_tree_goes() {
        let (_dir, path) = keyed_river_store(true);
        let store = Store::open(&path, 8 << 20).unwrap();
        assert_eq!(river_ids(&store, "a"), ["a2", "a1"]);
        assert!(!store.db.tree_names().iter().any(|name| name.as_ref() == KEYED_RIVER_TREE.as_bytes()));
        assert!(store.db.get(KEYED_RIVER_BUILT_KEY).unwrap().is_none());
    }

    #[test]
    fn a_store_without_a_river_index_gets_one_built_from_its_posts_on_open() {
        let (_dir, path) = keyed_river_store(false);
        let store = Store::open(&path, 8 << 20).unwrap();
        assert_eq!(river_ids(&store, "a"), ["a2", "a1"], "the copy is left out");
    }
}
