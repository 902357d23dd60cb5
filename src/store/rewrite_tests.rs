//! Tests of `rewrite`: a rewritten store holds exactly what it held in smaller files, and a
//! rewrite cut short at any step leaves one complete store for the next open.

use std::path::Path;

use super::tests::{member, post, state};
use super::*;

/// A closed store at `path` with 120 posts of two members, each saved ten times over with a
/// new title (the replaced values are sled's garbage); what it reads back.
fn store_with_garbage(path: &Path) -> Snapshot {
    let store = Store::open(path, 1 << 20).unwrap();
    for round in 0..10 {
        for name in ["ann", "bob"] {
            let mut posts: Vec<Post> = (0..60).map(|i| post(name, &format!("{name}{i:03}"), i * 30)).collect();
            for post in &mut posts {
                post.title = format!("{} (edit {round})", post.title);
            }
            store.save_refresh(&member(name), &posts, &state(name)).unwrap();
        }
    }
    store.flush().unwrap();
    snapshot(&store)
}

#[derive(Debug, PartialEq)]
struct Snapshot {
    identity: String,
    count: usize,
    titles: Vec<String>,
    ann_newest: Vec<String>,
    alias: Option<String>,
    feed_state: Option<FeedState>,
}

fn snapshot(store: &Store) -> Snapshot {
    Snapshot {
        identity: store.identity().unwrap(),
        count: store.post_count(),
        titles: store.posts_newest_first(None).map(|p| p.unwrap().title).collect(),
        ann_newest: store.member_posts(&member("ann"), 5).unwrap().into_iter().map(|p| p.id).collect(),
        alias: store.alias(&member("bob"), "guid:guid-bob007").unwrap(),
        feed_state: store.feed_state(&member("ann"), "https://ann.example/feed").unwrap(),
    }
}

fn reopened(path: &Path) -> Snapshot {
    snapshot(&Store::open(path, 1 << 20).unwrap())
}

#[test]
fn a_rewritten_store_reads_exactly_as_before_from_smaller_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let before = store_with_garbage(&path);
    assert_eq!(before.count, 120);
    assert_eq!(before.alias.as_deref(), Some("bob007"));
    let rewritten = rewrite_sled_files(&path, 1 << 20).unwrap();
    assert!(rewritten.bytes_after < rewritten.bytes_before, "{rewritten:?}");
    assert_eq!(reopened(&path), before);
    let names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names, vec!["store".to_string()], "nothing is left beside the store");
    // And it takes new posts as before.
    let store = Store::open(&path, 1 << 20).unwrap();
    store.save_posts(&member("cat"), &[post("cat", "cat001", 5)]).unwrap();
    assert_eq!(store.post_count(), 121);
}

/// A tree's name and its keys and values.
type RawTree = (Vec<u8>, Vec<(Vec<u8>, Vec<u8>)>);

/// Every tree's keys and values, read with sled itself: what a rewrite must keep exactly.
fn raw_trees(path: &Path) -> Vec<RawTree> {
    let db = sled::open(path).unwrap();
    let mut names = db.tree_names();
    names.sort();
    let trees = names.into_iter().map(|name| {
        let entries = db.open_tree(&name).unwrap().iter().map(|e| e.unwrap()).map(|(k, v)| (k.to_vec(), v.to_vec()));
        (name.to_vec(), entries.collect())
    });
    trees.collect()
}

#[test]
fn a_rewrite_that_opens_the_stores_again_every_few_hundred_bytes_copies_every_key_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let before = store_with_garbage(&path);
    let raw_before = raw_trees(&path);
    assert!(raw_before.iter().filter(|(_, entries)| entries.len() > 10).count() >= 5, "several trees with keys");
    // 300 bytes: the copy stops and resumes inside most trees, and between keys of one batch.
    super::rewrite::rewrite_opening_per(&path, 1 << 20, 300).unwrap();
    assert_eq!(raw_trees(&path), raw_before);
    assert_eq!(reopened(&path), before);
}

/// Copies a closed store directory (sled's files and planet's), as a rewrite's copy would be.
fn copy_directory(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        match entry.file_type().unwrap().is_dir() {
            true => copy_directory(&entry.path(), &to.join(entry.file_name())),
            false => drop(std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap()),
        }
    }
}

#[test]
fn a_rewrite_cut_short_between_its_two_renames_is_finished_on_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let before = store_with_garbage(&path);
    // The complete, marked copy exists and the store has been moved aside: the crash came
    // before the copy was renamed into place.
    copy_directory(&path, &dir.path().join("store.rewritten"));
    std::fs::File::create(dir.path().join("store.rewritten").join("rewrite-complete")).unwrap();
    std::fs::rename(&path, dir.path().join("store.replaced")).unwrap();
    assert_eq!(reopened(&path), before);
    assert!(!dir.path().join("store.replaced").exists() && !dir.path().join("store.rewritten").exists());
    assert!(!path.join("rewrite-complete").exists());
}

#[test]
fn a_copy_left_beside_an_intact_store_is_discarded_and_the_store_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let before = store_with_garbage(&path);
    // A crash before the first rename: the store may have been written since, so its copy,
    // marked or not, is stale.
    std::fs::create_dir(dir.path().join("store.rewritten")).unwrap();
    std::fs::write(dir.path().join("store.rewritten").join("db"), b"half a copy").unwrap();
    std::fs::File::create(dir.path().join("store.rewritten").join("rewrite-complete")).unwrap();
    assert_eq!(reopened(&path), before);
    assert!(!dir.path().join("store.rewritten").exists());
}

#[test]
fn a_store_moved_aside_without_a_complete_copy_is_moved_back_not_replaced_by_an_empty_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let before = store_with_garbage(&path);
    std::fs::rename(&path, dir.path().join("store.replaced")).unwrap();
    std::fs::create_dir(dir.path().join("store.rewritten")).unwrap();
    assert_eq!(reopened(&path), before);
}

#[test]
fn a_store_in_use_is_not_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    store_with_garbage(&path);
    let _open = Store::open(&path, 1 << 20).unwrap();
    let error = rewrite_sled_files(&path, 1 << 20).unwrap_err();
    assert!(format!("{error:#}").contains("in use") || format!("{error:#}").contains("lock"), "{error:#}");
    assert!(!dir.path().join("store.rewritten").exists());
}
