//! The import's fold against saves that file at once, an import cut short, and a refused line.

use super::super::tests::{member, open, post, time};
use super::*;

type RawTree = Vec<(Vec<u8>, Vec<u8>)>;

fn raw(tree: &sled::Tree) -> RawTree {
    tree.iter().map(|item| item.map(|(key, value)| (key.to_vec(), value.to_vec())).unwrap()).collect()
}

/// Posts of three members; some share a title (one bucket, several entries), one is saved
/// again later at a corrected time, and one title is used past `MATCHES_READ` times.
fn batches() -> Vec<(MemberId, Vec<Post>)> {
    let titled = |m: &str, id: &str, hours: i64, title: &str| Post { title: title.into(), ..post(m, id, hours) };
    let mut batches = Vec::new();
    for (round, m) in ["a", "b", "c", "a", "b"].iter().enumerate() {
        let posts = (0..40)
            .map(|i| {
                let id = format!("{m}{round}-{i}");
                match i % 4 {
                    0 => titled(m, &id, i, "周报"),
                    1 => titled(m, &id, i, "Hello, World"),
                    _ => post(m, &id, round as i64 * 100 + i),
                }
            })
            .collect();
        batches.push((member(m), posts));
    }
    let moved = Post { published: time(5_000), ..post("a", "a0-2", 0) };
    batches.push((member("a"), vec![moved]));
    let flood = (0..(super::super::title_index::MATCHES_READ as i64 + 30))
        .map(|i| Post { title: "周报".into(), ..post("c", &format!("flood{i}"), 200 + i) })
        .collect();
    batches.push((member("c"), flood));
    batches
}

#[test]
fn a_fold_of_a_few_hundred_bytes_per_pass_files_exactly_what_saves_that_file_at_once_do() {
    let (_now_dir, filed_now) = open();
    for (member, posts) in batches() {
        filed_now.save_posts(&member, &posts).unwrap();
    }
    let (_fold_dir, folded) = open();
    let mut spill = folded.begin_deferred_filing().unwrap();
    for (member, posts) in batches() {
        folded.save_posts_deferring(&member, &posts, &mut spill).unwrap();
    }
    assert!(raw(&folded.title_index).is_empty(), "nothing is filed before the fold");
    assert!(raw(&folded.member_aliases).is_empty());
    let spill_path = spill.path.clone();
    assert!(spill.bytes > 10 * 300, "the fold below takes more than ten passes");
    fold(&folded, spill, 300).unwrap();

    assert_eq!(raw(&folded.member_aliases), raw(&filed_now.member_aliases));
    assert_eq!(raw(&folded.title_index), raw(&filed_now.title_index));
    assert_eq!(folded.alias(&member("a"), "guid:guid-a0-2").unwrap().as_deref(), Some("a0-2"));
    assert!(!spill_path.exists(), "the spill is removed");
    assert!(folded.db.get(FOLD_PENDING_KEY).unwrap().is_none(), "no fold is owed");
}

#[test]
fn an_import_cut_short_before_its_fold_files_every_post_on_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    {
        let store = Store::open(&path, 1024 * 1024).unwrap();
        store.save_posts(&member("a"), &[post("a", "before", 1)]).unwrap();
        let mut spill = store.begin_deferred_filing().unwrap();
        store.save_posts_deferring(&member("b"), &[post("b", "b1", 2), post("b", "b2", 3)], &mut spill).unwrap();
        // The process dies here: the spill is never folded (nor even flushed).
        std::mem::forget(spill);
        store.flush().unwrap();
        assert_eq!(store.alias(&member("b"), "guid:guid-b1").unwrap(), None);
    }
    let store = Store::open(&path, 1024 * 1024).unwrap();
    assert_eq!(store.alias(&member("b"), "guid:guid-b1").unwrap().as_deref(), Some("b1"));
    assert_eq!(store.alias(&member("b"), "link:b.example/b2").unwrap().as_deref(), Some("b2"));
    assert_eq!(store.alias(&member("a"), "guid:guid-before").unwrap().as_deref(), Some("before"));
    let titled = store.posts_titled(&crate::dedupe::title_key("Post b2"), time(0), time(10)).unwrap();
    assert_eq!(titled.iter().map(|entry| entry.id.as_str()).collect::<Vec<_>>(), ["b2"]);
    assert!(store.db.get(FOLD_PENDING_KEY).unwrap().is_none());
    assert!(!path.join(SPILL_FILE).exists());
}

#[test]
fn an_import_refused_at_a_line_keeps_and_files_every_post_before_it() {
    let (_dir, store) = open();
    let line = |p: &Post| {
        let mut value = serde_json::to_value(p).unwrap();
        value["kind"] = "post".into();
        value.to_string()
    };
    let input = format!(
        "{}\n{}\nnot json\n{}\n",
        line(&post("a", "a1", 1)),
        line(&post("a", "a2", 2)),
        line(&post("a", "a3", 3))
    );
    let error = super::super::import(&store, input.as_bytes()).unwrap_err();
    assert!(format!("{error:#}").contains("line 3"), "{error:#}");
    assert!(store.post("a2").unwrap().is_some());
    assert!(store.post("a3").unwrap().is_none(), "nothing after the refused line");
    assert_eq!(store.alias(&member("a"), "guid:guid-a2").unwrap().as_deref(), Some("a2"));
    assert!(store.db.get(FOLD_PENDING_KEY).unwrap().is_none());
}
