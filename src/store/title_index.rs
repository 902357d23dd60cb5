//! The title index: every post under the hash of its folded title (`dedupe::title_key`),
//! then time and id, so the repost check finds other members' posts of the same title near
//! a date with one range read instead of reading thousands of recent posts whole (that
//! read made a fetch pass over 10,000 feeds quadratic). Written in the post's own
//! transaction; built once on open for a store from before it (`build_if_missing`).
//! An entry is not removed when a post's title changes: readers confirm the title on the
//! post itself, so a stale entry costs one read and is never a wrong match.

use sha2::{Digest, Sha256};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use super::{keys, Store};
use crate::config::MemberId;
use crate::model::Post;

/// Set once the title index holds every stored post.
const TITLE_INDEX_BUILT_KEY: &str = "title_index_built";

/// At most this many entries are read for one title and window: a title every member uses
/// ("周报") cannot make one check read the store.
pub const MATCHES_READ: usize = 200;

/// The first 8 bytes of the SHA-256 of a folded title.
fn title_hash(title_key: &str) -> [u8; 8] {
    let digest = Sha256::digest(title_key.as_bytes());
    digest[..8].try_into().expect("a SHA-256 has 32 bytes")
}

fn key_of(title_key: &str, time: &[u8], id: &str) -> Vec<u8> {
    let mut key = title_hash(title_key).to_vec();
    key.extend_from_slice(&keys::with_id(time, id));
    key
}

/// Inside a post's transaction: its entry under its title and time; the entry at its old
/// time goes when it moved (`old_time`).
pub fn write_entry(
    index: &TransactionalTree,
    post: &Post,
    old_time: Option<&[u8]>,
) -> Result<(), ConflictableTransactionError<String>> {
    let title_key = crate::dedupe::title_key(&post.title);
    let time = keys::time_bytes(post.published);
    if let Some(old_time) = old_time.filter(|old| *old != time.as_slice()) {
        index.remove(key_of(&title_key, old_time, &post.id))?;
    }
    index.insert(key_of(&title_key, &time, &post.id), post.member.as_str().as_bytes())?;
    Ok(())
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
    /// `MATCHES_READ` (keys and member ids only: no post is read).
    pub fn posts_titled(
        &self,
        title_key: &str,
        from: chrono::DateTime<chrono::Utc>,
        until: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<Vec<TitleEntry>> {
        let hash = title_hash(title_key);
        let start = key_of(title_key, &keys::time_bytes(from), "");
        let mut end = key_of(title_key, &keys::time_bytes(until), "");
        // Every id at `until` itself is included: ids are UTF-8, never 0xFF.
        end.push(0xFF);
        let mut entries = Vec::new();
        for item in self.title_index.range(start..end).take(MATCHES_READ) {
            let (key, member) = item?;
            let rest = &key[hash.len()..];
            let millis = keys::time_of(rest).map(|t| t.timestamp_millis()).unwrap_or(i64::MIN);
            let member = String::from_utf8_lossy(&member).into_owned();
            entries.push(TitleEntry { millis, id: keys::id_after_time(rest).to_string(), member });
        }
        Ok(entries)
    }
}

/// Builds the title index from the timeline when this store has none yet (a store from
/// before it, or one whose build was interrupted): every post is read once.
pub fn build_if_missing(store: &Store) -> anyhow::Result<()> {
    if store.db.get(TITLE_INDEX_BUILT_KEY)?.is_some() {
        return Ok(());
    }
    store.title_index.clear()?;
    let mut batch = sled::Batch::default();
    let mut pending = 0;
    for item in store.timeline.iter() {
        let (key, value) = item?;
        // A post that cannot be read has no title to match; it is reported by the readers.
        let Ok(post) = store.decode_stored(&value) else { continue };
        let member: &MemberId = &post.member;
        batch.insert(key_of(&crate::dedupe::title_key(&post.title), &key[..8], &post.id), member.as_str().as_bytes());
        pending += 1;
        if pending >= 1_000 {
            store.title_index.apply_batch(std::mem::take(&mut batch))?;
            pending = 0;
        }
    }
    store.title_index.apply_batch(batch)?;
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
