//! Reclaiming the body log. Bodies replaced by an edit, a regrouping or a second import stay
//! in the log as garbage (counted in the transaction that replaced them); when more than half
//! of the log is garbage, the live bodies are copied to a new file and the old one deleted.
//! This runs on open and after every fetch pass (`Store::maintain_body_log`), so a server
//! that runs for months does not keep a feed's every edit.
//!
//! A compaction runs beside refreshes that keep writing. Writers append only while they hold
//! `post_writes` (see `write`); a compaction takes it to switch files and again for each batch
//! it moves, and moves a post only if its reference is still the one it read, so a post
//! written meanwhile keeps its newer body. Garbage is counted per file, so bodies replaced
//! during a compaction count where they are: in the old file, which goes, or the new one.
//! The old file is unlinked at the end but stays open for reading until the next maintenance
//! (`BodyLog::release_retired`): a reader that took a reference just before it was moved
//! still finds its bytes.

use anyhow::Context as _;

use super::bodies::BodyRef;
use super::post_codec::{replace_bodies, Replacement, REWRITE_BATCH};
use super::{body_garbage_counter, Store, BODY_FILE_KEY};

/// Garbage in the body log below this is left alone: a compaction copies every live post.
pub const COMPACT_MIN_GARBAGE: u64 = 16 << 20;

impl Store {
    /// After a fetch pass: closes the files the last compaction emptied, and compacts again
    /// if the log is mostly garbage. Reads and writes every live post when it compacts, so it
    /// runs off the async workers.
    /// Also what an open could not do on a full disk: the river and title indexes are built
    /// if they were not, and the disk reserve is taken back once writes succeed again.
    pub fn maintain_body_log(&self) -> anyhow::Result<()> {
        self.bodies.release_retired();
        super::river::build_if_missing(self)?;
        super::title_index::build_if_missing(self)?;
        compact_if_wasteful(self, COMPACT_MIN_GARBAGE)?;
        if self.write_failure().is_none() {
            self.keep_reserve();
        }
        Ok(())
    }
}

/// Compacts the body log when more than half of it (and at least `min_garbage` bytes) is
/// bodies no post refers to any more, or when a compaction was cut short (two files).
/// Returns whether it compacted.
pub fn compact_if_wasteful(store: &Store, min_garbage: u64) -> anyhow::Result<bool> {
    let garbage = store.body_garbage()?;
    let wasteful = garbage >= min_garbage.max(1) && garbage.saturating_mul(2) > store.bodies.size_on_disk();
    let cut_short = store.bodies.numbers().len() > 1;
    if wasteful || cut_short {
        compact(store)?;
    }
    Ok(wasteful || cut_short)
}

/// Copies every live post into a new body log file, points `timeline` at the copies, flushes
/// sled, and only then deletes the old files: a crash at any step leaves every reference
/// valid (old files stay until the next open compacts again).
pub fn compact(store: &Store) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let before = store.bodies.size_on_disk();
    let target = switch_to_new_file(store)?;
    move_all_to_current_file(store, target)?;
    finish(store, target)?;
    tracing::info!(
        before_bytes = before,
        after_bytes = store.bodies.current_len(),
        seconds = started.elapsed().as_secs_f32(),
        "body log compacted"
    );
    Ok(())
}

/// Makes appends go to a new file, under the write lock: no refresh is between its append
/// and its commit. Returns the new file's number.
fn switch_to_new_file(store: &Store) -> anyhow::Result<u32> {
    let target = store.bodies.numbers().last().copied().unwrap_or(0) + 1;
    let _writing = store.lock_post_writes();
    store.bodies.switch_to(target)?;
    store.db.insert(BODY_FILE_KEY, &u64::from(target).to_be_bytes())?;
    Ok(target)
}

/// Moves every post whose body is not in file `target` there, a batch at a time.
fn move_all_to_current_file(store: &Store, target: u32) -> anyhow::Result<()> {
    let mut batch = Vec::new();
    for item in store.timeline.iter() {
        let (key, value) = item?;
        if let Some(reference) = BodyRef::decode(&value).filter(|reference| reference.file != target) {
            batch.push((key, reference));
        }
        if batch.len() >= REWRITE_BATCH {
            move_to_current_file(store, &mut batch)?;
        }
    }
    move_to_current_file(store, &mut batch)
}

/// Every reference names file `target` now, and no refresh can name another again: the old
/// files' garbage counts go, sled is flushed, and only then are the old files removed.
fn finish(store: &Store, target: u32) -> anyhow::Result<()> {
    for file in store.bodies.numbers().into_iter().filter(|file| *file != target) {
        store.counters.remove(body_garbage_counter(file))?;
    }
    store.db.flush().context("failed to flush the compacted store")?;
    store.bodies.remove_others()
}

/// Copies these posts' bodies to the file appends go to and points their `timeline` keys at
/// the copies, holding the write lock; a post written (or moved in time) since its reference
/// was read is left as it is: its new body is in the new file already. (The old copies count
/// as garbage of the old file, whose count goes with it in `finish`.)
pub(super) fn move_to_current_file(store: &Store, batch: &mut Vec<(sled::IVec, BodyRef)>) -> anyhow::Result<()> {
    let _writing = store.lock_post_writes();
    let mut moves = Vec::with_capacity(batch.len());
    for (key, old) in batch.drain(..) {
        if store.timeline.get(&key)?.as_deref() == Some(old.encode().as_slice()) {
            match store.bodies.read(&old) {
                Ok(packed) => moves.push(Replacement { packed, key, old: Some(old) }),
                // A damaged post stays as it is (still damaged once its file goes): one lost
                // post must not stop the compaction of every other.
                Err(error) => store.note_damage(super::keys::id_after_time(&key), &error),
            }
        }
    }
    replace_bodies(store, &mut moves)
}

#[cfg(test)]
mod tests {
    use super::super::post_codec;
    use super::super::tests::{all_by_id, member, open, post, state};
    use super::*;
    use crate::model::Post;
    use crate::sanitize;

    fn edited(posts: &[Post], text: &str) -> Vec<Post> {
        let content_html = sanitize::html(&format!("<p>{text}, and longer than the body was</p>"), None);
        posts.iter().map(|post| Post { content_html: content_html.clone(), ..post.clone() }).collect()
    }

    #[test]
    fn an_edited_posts_old_body_is_garbage_until_a_compaction_copies_the_live_posts_to_a_new_file() {
        let (_dir, store) = open();
        let posts: Vec<Post> = (0..50).map(|n| post("a", &format!("a{n}"), n)).collect();
        store.save_refresh(&member("a"), &posts, &state("a")).unwrap();
        assert_eq!(store.body_garbage().unwrap(), 0);
        let mut edited = posts.clone();
        for post in &mut edited {
            post.content_html = sanitize::html("<p>edited, and longer than it was</p>", None);
        }
        store.save_refresh(&member("a"), &edited, &state("a")).unwrap();
        let garbage = store.body_garbage().unwrap();
        let before = store.bodies.size_on_disk();
        assert!(garbage > 0 && garbage < before, "{garbage} of {before}");
        let expected = all_by_id(&store);

        compact(&store).unwrap();
        assert_eq!(store.bodies.numbers(), vec![2], "one new file, the old one deleted");
        assert_eq!(store.bodies.size_on_disk(), before + before - garbage, "the old file is open until released");
        store.bodies.release_retired();
        assert_eq!(store.bodies.size_on_disk(), before - garbage);
        assert_eq!(store.bodies.current_len(), before - garbage);
        assert_eq!(store.body_garbage().unwrap(), 0);
        assert_eq!(all_by_id(&store), expected);
        store.save_refresh(&member("a"), &[post("a", "new", 99)], &state("a")).unwrap();
        assert_eq!(store.post("new").unwrap().unwrap().id, "new", "appends go to the new file");
    }

    #[test]
    fn a_compaction_cut_short_leaves_every_post_readable_and_the_next_open_finishes_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let expected = {
            let store = Store::open(&path, 8 << 20).unwrap();
            let posts: Vec<Post> = (0..30).map(|n| post("a", &format!("a{n}"), n)).collect();
            store.save_refresh(&member("a"), &posts, &state("a")).unwrap();
            // A compaction that moved ten posts to file 2, then the process died.
            store.bodies.switch_to(2).unwrap();
            let mut moved = Vec::new();
            for item in store.timeline.iter().take(10) {
                let (key, value) = item.unwrap();
                let packed = store.stored(&value).unwrap().into_owned();
                moved.push(post_codec::Replacement { key, old: BodyRef::decode(&value), packed });
            }
            post_codec::replace_bodies(&store, &mut moved).unwrap();
            store.flush().unwrap();
            all_by_id(&store)
        };
        assert_eq!(expected.len(), 30);
        let store = Store::open(&path, 8 << 20).unwrap();
        assert_eq!(store.bodies.numbers().len(), 1, "finished on open: {:?}", store.bodies.numbers());
        assert_eq!(all_by_id(&store), expected);
    }

    /// Every byte of the body log is a live post's or counted as garbage.
    fn assert_garbage_is_exact(store: &Store) {
        store.bodies.release_retired();
        let live: u64 =
            store.timeline.iter().map(|item| u64::from(BodyRef::decode(&item.unwrap().1).unwrap().len)).sum();
        assert_eq!(store.bodies.size_on_disk(), live + store.body_garbage().unwrap(), "live {live}");
    }

    #[test]
    fn bodies_replaced_during_a_compaction_count_as_garbage_where_they_are_left() {
        let (_dir, store) = open();
        let posts: Vec<Post> = (0..20).map(|n| post("a", &format!("a{n}"), n)).collect();
        store.save_refresh(&member("a"), &posts, &state("a")).unwrap();
        let target = switch_to_new_file(&store).unwrap();
        // The compaction has moved the ten oldest posts...
        let mut oldest: Vec<(sled::IVec, BodyRef)> = store
            .timeline
            .iter()
            .take(10)
            .map(|item| item.unwrap())
            .map(|(key, value)| (key, BodyRef::decode(&value).unwrap()))
            .collect();
        move_to_current_file(&store, &mut oldest).unwrap();
        // ...when a refresh edits one it moved (a2) and one it has not reached (a15).
        let moved_copy = |id: &str| {
            let time = store.post_index.get(id).unwrap().unwrap();
            BodyRef::decode(&store.timeline.get(super::super::keys::with_id(&time, id)).unwrap().unwrap()).unwrap()
        };
        let a2_moved = moved_copy("a2");
        assert_eq!(a2_moved.file, target);
        let edits = edited(&[posts[2].clone(), posts[15].clone()], "edited mid-compaction");
        store.save_refresh(&member("a"), &edits, &state("a")).unwrap();
        move_all_to_current_file(&store, target).unwrap();
        finish(&store, target).unwrap();

        assert_eq!(store.body_garbage().unwrap(), u64::from(a2_moved.len), "a15's old body went with the old file");
        assert_garbage_is_exact(&store);
        let stored = all_by_id(&store);
        assert_eq!(stored["a2"].content_html, edits[0].content_html);
        assert_eq!(stored["a15"].content_html, edits[1].content_html);
    }

    #[test]
    fn a_post_edited_while_a_compaction_moves_its_batch_keeps_its_new_body() {
        let (_dir, store) = open();
        let posts: Vec<Post> = (0..20).map(|n| post("a", &format!("a{n}"), n)).collect();
        store.save_refresh(&member("a"), &posts, &state("a")).unwrap();
        // The compaction has switched files and read a batch's references...
        store.bodies.switch_to(2).unwrap();
        let mut batch: Vec<(sled::IVec, BodyRef)> = store
            .timeline
            .iter()
            .map(|item| item.unwrap())
            .map(|(key, value)| (key, BodyRef::decode(&value).unwrap()))
            .collect();
        // ...when a refresh rewrites one of those posts.
        let edit = edited(&posts[3..4], "edited during the compaction");
        store.save_refresh(&member("a"), &edit, &state("a")).unwrap();
        move_to_current_file(&store, &mut batch).unwrap();

        let stored = all_by_id(&store);
        assert_eq!(stored["a3"].content_html, edit[0].content_html, "the edit is not overwritten");
        assert_eq!(stored["a4"].content_html, posts[4].content_html);
        assert_eq!(stored.len(), 20);
        for item in store.timeline.iter() {
            assert_eq!(BodyRef::decode(&item.unwrap().1).unwrap().file, 2, "every post is in the new file");
        }
    }

    #[test]
    fn compactions_beside_a_refresh_that_keeps_editing_lose_no_edit() {
        let (_dir, store) = open();
        let posts: Vec<Post> = (0..40).map(|n| post("a", &format!("a{n}"), n)).collect();
        store.save_refresh(&member("a"), &posts, &state("a")).unwrap();
        let writer = {
            let (store, posts) = (store.clone(), posts.clone());
            std::thread::spawn(move || {
                for round in 0..30 {
                    store.save_refresh(&member("a"), &edited(&posts, &format!("round {round}")), &state("a")).unwrap();
                }
            })
        };
        for _ in 0..10 {
            compact(&store).unwrap();
            store.maintain_body_log().unwrap();
        }
        writer.join().unwrap();
        store.maintain_body_log().unwrap();
        assert_garbage_is_exact(&store);
        let last = edited(&posts, "round 29");
        let stored = all_by_id(&store);
        assert_eq!(stored.len(), 40);
        for post in &last {
            assert_eq!(stored[&post.id].content_html, post.content_html, "{}", post.id);
        }
        compact(&store).unwrap();
        assert_eq!(all_by_id(&store), stored);
        assert_eq!(store.bodies.numbers().len(), 1);
    }

    #[test]
    fn maintenance_compacts_a_log_that_is_mostly_garbage_and_frees_the_old_file_one_pass_later() {
        let (_dir, store) = open();
        let posts: Vec<Post> = (0..30).map(|n| post("a", &format!("a{n}"), n)).collect();
        store.save_refresh(&member("a"), &posts, &state("a")).unwrap();
        assert!(!compact_if_wasteful(&store, 0).unwrap(), "no garbage, no compaction");
        store.save_refresh(&member("a"), &edited(&posts, "first edit"), &state("a")).unwrap();
        store.save_refresh(&member("a"), &edited(&posts, "second edit"), &state("a")).unwrap();
        let expected = all_by_id(&store);
        let before = store.bodies.size_on_disk();
        // A reader took a post's reference just before the compaction moved it.
        let taken = BodyRef::decode(&store.timeline.iter().next().unwrap().unwrap().1).unwrap();

        assert_garbage_is_exact(&store);
        assert!(compact_if_wasteful(&store, 0).unwrap(), "two thirds garbage");
        assert_eq!(store.body_garbage().unwrap(), 0);
        assert_eq!(all_by_id(&store), expected);
        assert!(store.bodies.read(&taken).is_ok(), "the old file reads until the next maintenance");
        store.maintain_body_log().unwrap();
        assert!(store.bodies.read(&taken).is_err());
        assert!(store.bodies.size_on_disk() < before / 2, "{} of {before}", store.bodies.size_on_disk());
        assert_eq!(all_by_id(&store), expected);
    }
}
