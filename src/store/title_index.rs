//! The title index: every post under the hash of its folded title (`dedupe::title_key`),
//! so the repost check finds other members' posts of the same title near a date with one
//! read instead of reading thousands of recent posts whole (that read made a fetch pass
//! over 10,000 feeds quadratic). The hashes are spread over 65,536 buckets, one sled value
//! each, not one key per post: sled 0.34 keeps every page's metadata in memory, and a key
//! per post in random order was ~40 MB more at 1,000,000 posts; a bucket holds ~15 entries
//! there, so a save still rewrites little. Written in the post's own transaction; built once
//! on open for a store from before it (`build_if_missing`). An entry is not removed when a
//! post's title changes: readers confirm the title on the post itself, so a stale entry
//! costs one read and is never a wrong match.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use super::write::abort;
use super::{decode, decode_or_default, encode, keys, Store};
use crate::model::Post;

/// Set once the title index holds every stored post.
const TITLE_INDEX_BUILT_KEY: &str = "title_index_built";

/// At most this many entries are returned for one title and window: a title every member
/// uses ("周报") cannot make one check read the store.
pub const MATCHES_READ: usize = 200;

/// The SHA-256 of a folded title, its first 8 bytes; the first 2 name its bucket.
fn title_hash(title_key: &str) -> u64 {
    let digest = Sha256::digest(title_key.as_bytes());
    u64::from_be_bytes(digest[..8].try_into().expect("a SHA-256 has 32 bytes"))
}

pub(super) fn bucket_key(hash: u64) -> [u8; 2] {
    ((hash >> 48) as u16).to_be_bytes()
}

/// One post in a bucket: its title hash, published milliseconds, id and member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Filed(pub(super) u64, i64, String, String);

/// The title buckets one transaction has read and changed, written back once by `write`
/// (an import batch files thousands of posts; a bucket is decoded once, not once per post).
#[derive(Default)]
pub(super) struct TitleEdits(std::collections::BTreeMap<[u8; 2], Vec<Filed>>);

impl TitleEdits {
    /// Files `post` under its title at its (new) time. Only the newest `MATCHES_READ` posts
    /// of one title are kept: a title every member uses, or a member's flood of one title,
    /// cannot grow a bucket (and every save into it) without bound.
    pub fn file(&mut self, index: &TransactionalTree, post: &Post) -> Result<(), ConflictableTransactionError<String>> {
        let filed = Filed::of(post);
        let bucket = super::member_buckets::loaded(&mut self.0, index, bucket_key(filed.0))?;
        file_in(bucket, filed);
        Ok(())
    }

    pub fn write(self, index: &TransactionalTree) -> Result<(), ConflictableTransactionError<String>> {
        for (key, bucket) in self.0 {
            index.insert(&key, encode(&bucket).map_err(abort)?)?;
        }
        Ok(())
    }
}

impl Filed {
    /// The entry of `post`: its folded title's hash, its time, id and member.
    pub(super) fn of(post: &Post) -> Filed {
        let hash = title_hash(&crate::dedupe::title_key(&post.title));
        Filed(hash, post.published.timestamp_millis(), post.id.clone(), post.member.to_string())
    }
}

/// Files `filed` in its `bucket`, in place of an entry of the same post (a post moved in
/// time is listed once, at its new time).
pub(super) fn file_in(bucket: &mut Vec<Filed>, filed: Filed) {
    let hash = filed.0;
    bucket.retain(|Filed(_, _, id, _)| *id != filed.2);
    bucket.push(filed);
    keep_newest_of_title(bucket, hash);
}

/// Drops the oldest entries of title `hash` past `MATCHES_READ`.
fn keep_newest_of_title(bucket: &mut Vec<Filed>, hash: u64) {
    let mut of_title: Vec<usize> = (0..bucket.len()).filter(|&i| bucket[i].0 == hash).collect();
    if of_title.len() <= MATCHES_READ {
        return;
    }
    of_title.sort_by_key(|&i| bucket[i].1);
    let dropped: std::collections::HashSet<usize> = of_title[..of_title.len() - MATCHES_READ].iter().copied().collect();
    let mut index = 0;
    bucket.retain(|_| {
        index += 1;
        !dropped.contains(&(index - 1))
    });
}

/// A post the title index lists: published milliseconds, id and member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TitleEntry {
    pub millis: i64,
    pub id: String,
    pub member: String,
}

impl Store {
    /// Posts filed under `title_key` published in [`from`, `until`], oldest first, at most
    /// `MATCHES_READ` (one bucket read: no post is read).
    pub fn posts_titled(
        &self,
        title_key: &str,
        from: chrono::DateTime<chrono::Utc>,
        until: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<Vec<TitleEntry>> {
        let hash = title_hash(title_key);
        let Some(value) = self.title_index.get(bucket_key(hash))? else { return Ok(Vec::new()) };
        let bucket: Vec<Filed> = decode(&value)?;
        let window = from.timestamp_millis()..=until.timestamp_millis();
        let mut entries: Vec<TitleEntry> = bucket
            .into_iter()
            .filter(|Filed(filed, millis, _, _)| *filed == hash && window.contains(millis))
            .map(|Filed(_, millis, id, member)| TitleEntry { millis, id, member })
            .collect();
        entries.sort_by(|a, b| (a.millis, a.id.as_bytes()).cmp(&(b.millis, b.id.as_bytes())));
        entries.truncate(MATCHES_READ);
        Ok(entries)
    }
}

/// Builds the title index from the timeline when this store has none yet (a store from
/// before it, or one whose build was interrupted): every post is read once and filed in its
/// bucket, one bucket rewrite per post, so memory stays flat at any store size.
pub fn build_if_missing(store: &Store) -> anyhow::Result<()> {
    if store.db.get(TITLE_INDEX_BUILT_KEY)?.is_some() {
        return Ok(());
    }
    store.title_index.clear()?;
    for item in store.timeline.iter() {
        let (key, value) = item?;
        // A post that cannot be read has no title to match; it is reported by the readers.
        let Ok(post) = store.decode_stored(&value) else { continue };
        let hash = title_hash(&crate::dedupe::title_key(&post.title));
        let millis = keys::time_of(&key).map(|t| t.timestamp_millis()).unwrap_or(i64::MIN);
        let bucket_key = bucket_key(hash);
        let mut bucket: Vec<Filed> = decode_or_default(store.title_index.get(bucket_key)?)?;
        bucket.push(Filed(hash, millis, post.id, post.member.to_string()));
        keep_newest_of_title(&mut bucket, hash);
        store.title_index.insert(bucket_key, encode(&bucket)?)?;
    }
    store.db.insert(TITLE_INDEX_BUILT_KEY, &[1])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{member, open, post, state, time};
    use super::*;

    fn ids(entries: Vec<TitleEntry>) -> Vec<String> {
        entries.into_iter().map(|entry| entry.id).collect()
    }

    #[test]
    fn the_title_index_finds_posts_by_folded_title_within_a_window_and_follows_a_moved_post() {
        let (_dir, store) = open();
        let titled = |m: &str, id: &str, hours: i64, title: &str| Post { title: title.into(), ..post(m, id, hours) };
        store.save_refresh(&member("a"), &[titled("a", "a1", 10, "Hello, World")], &state("a")).unwrap();
        store.save_refresh(&member("b"), &[titled("b", "b1", 20, "【转】hello world!")], &state("b")).unwrap();
        store.save_refresh(&member("b"), &[titled("b", "b2", 20, "Another")], &state("b")).unwrap();
        let key = crate::dedupe::title_key("Hello World");
        assert_eq!(ids(store.posts_titled(&key, time(0), time(30)).unwrap()), ["a1", "b1"]);
        assert_eq!(ids(store.posts_titled(&key, time(15), time(20)).unwrap()), ["b1"], "`until` is included");
        assert_eq!(store.posts_titled(&key, time(0), time(30)).unwrap()[1].member, "b");

        // A corrected date moves the entry: it is listed once, at its new time.
        store.save_posts(&member("a"), &[titled("a", "a1", 100, "Hello, World")]).unwrap();
        assert_eq!(ids(store.posts_titled(&key, time(0), time(200)).unwrap()), ["b1", "a1"]);
    }

    #[test]
    fn one_title_keeps_only_its_newest_entries_so_a_flood_of_it_cannot_grow_a_bucket() {
        let (_dir, store) = open();
        let flood: Vec<Post> = (0..(MATCHES_READ as i64 + 50))
            .map(|i| Post { title: "周报".into(), ..post("a", &format!("w{i}"), i) })
            .collect();
        store.save_posts(&member("a"), &flood).unwrap();
        let key = crate::dedupe::title_key("周报");
        let kept = store.posts_titled(&key, time(-1), time(10_000)).unwrap();
        assert_eq!(kept.len(), MATCHES_READ);
        assert_eq!(kept[0].id, "w50", "the oldest 50 went");
        let bucket = store.title_index.get(bucket_key(title_hash(&key))).unwrap().unwrap();
        assert!(decode::<Vec<Filed>>(&bucket).unwrap().len() <= MATCHES_READ + 5);
    }

    #[test]
    fn a_store_without_a_title_index_gets_one_built_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        {
            let store = Store::open(&path, 1024 * 1024).unwrap();
            store.save_refresh(&member("a"), &[post("a", "a1", 1), post("a", "a2", 2)], &state("a")).unwrap();
            store.title_index.clear().unwrap();
            store.db.remove(TITLE_INDEX_BUILT_KEY).unwrap();
            store.flush().unwrap();
        }
        let store = Store::open(&path, 1024 * 1024).unwrap();
        let key = crate::dedupe::title_key("Post a2");
        assert_eq!(ids(store.posts_titled(&key, time(0), time(5)).unwrap()), ["a2"]);
    }
}
