//! Tests of the bucketed member indexes: a save rewrites only the buckets it touches, reads
//! cross bucket boundaries in order, and a schema-3 store (one value per member) is split
//! into buckets on open, also after a crash half-way.

use std::collections::BTreeMap;

use super::member_index::{member_of, MemberAliases, MemberPosts};
use super::tests::{member, open, open_raw, post, state, time};
use super::*;

/// `count` posts of member `a`, one every three days, so they fall in many buckets.
fn spread_posts(count: i64) -> Vec<Post> {
    (0..count).map(|i| post("a", &format!("a{i:04}"), i * 72)).collect()
}

fn buckets(tree: &sled::Tree) -> BTreeMap<Vec<u8>, Vec<u8>> {
    tree.iter().map(|item| item.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap()).collect()
}

fn member_ids(store: &Store, name: &str, after: Option<&Position>) -> Vec<String> {
    store.member_posts_newest_first(&member(name), after).map(|post| post.unwrap().id).collect()
}

#[test]
fn a_new_post_rewrites_only_the_buckets_it_falls_in_not_the_members_history() {
    let (_dir, store) = open();
    store.save_posts(&member("a"), &spread_posts(600)).unwrap();
    let posts_before = buckets(&store.member_posts);
    let aliases_before = buckets(&store.member_aliases);
    assert!(posts_before.len() > 50, "600 posts over five years fill many buckets");

    store.save_refresh(&member("a"), &[post("a", "fresh", 600 * 72)], &state("a")).unwrap();

    let posts_after = buckets(&store.member_posts);
    let changed: Vec<&Vec<u8>> =
        posts_after.iter().filter(|(key, value)| posts_before.get(*key) != Some(value)).map(|(_, v)| v).collect();
    assert_eq!(changed.len(), 1, "one post bucket is written");
    let total: usize = posts_after.values().map(Vec::len).sum();
    assert!(changed[0].len() * 20 < total, "what is rewritten is a small part of the member's index");
    let aliases_after = buckets(&store.member_aliases);
    let changed = aliases_after.iter().filter(|(key, value)| aliases_before.get(*key) != Some(value)).count();
    assert!((1..=2).contains(&changed), "the new post's two aliases touch at most two buckets, {changed} changed");
    assert_eq!(store.alias(&member("a"), "guid:guid-fresh").unwrap().as_deref(), Some("fresh"));
    assert_eq!(store.alias(&member("a"), "guid:guid-a0007").unwrap().as_deref(), Some("a0007"));
}

#[test]
fn a_members_posts_page_newest_first_across_buckets() {
    let (_dir, store) = open();
    store.save_posts(&member("a"), &spread_posts(100)).unwrap();
    store.save_posts(&member("a0"), &[post("a0", "other", 50)]).unwrap();
    let all = member_ids(&store, "a", None);
    let expected: Vec<String> = (0..100).rev().map(|i| format!("a{i:04}")).collect();
    assert_eq!(all, expected);
    // From any position, the rest is exactly what follows it: also from a bucket's edge.
    for cut in [1, 9, 10, 11, 50, 99] {
        let last = store.post(&all[cut - 1]).unwrap().unwrap();
        let after = Position { published: last.published, id: last.id };
        assert_eq!(member_ids(&store, "a", Some(&after)), all[cut..].to_vec(), "after {cut}");
    }
    assert_eq!(store.members_stored().unwrap(), vec!["a".to_string(), "a0".to_string()]);
    assert_eq!(store.post_times().count(), 101);
}

#[test]
fn a_corrected_date_moves_a_post_to_its_new_bucket_once() {
    let (_dir, store) = open();
    store.save_posts(&member("a"), &spread_posts(30)).unwrap();
    let mut moved = post("a", "a0003", 24 * 400);
    moved.title = "Dated again".into();
    store.save_refresh(&member("a"), &[moved], &state("a")).unwrap();
    let ids = member_ids(&store, "a", None);
    assert_eq!(ids.len(), 30);
    assert_eq!(ids[0], "a0003");
    assert_eq!(ids.iter().filter(|id| *id == "a0003").count(), 1);
}

/// Rewrites a store's member indexes as schema 3 had them: one value per member.
fn make_schema_3(path: &std::path::Path) {
    let db = open_raw(path);
    let posts_tree = db.open_tree("member_posts").unwrap();
    let mut posts: BTreeMap<String, MemberPosts> = BTreeMap::new();
    for (key, value) in buckets(&posts_tree) {
        let bucket: MemberPosts = decode(&value).unwrap();
        let whole = posts.entry(member_of(&key).unwrap().to_string()).or_default();
        bucket.entries().for_each(|(millis, id)| whole.insert_millis(*millis, id));
    }
    let aliases_tree = db.open_tree("member_aliases").unwrap();
    let mut aliases: BTreeMap<String, MemberAliases> = BTreeMap::new();
    for (_, value) in buckets(&aliases_tree) {
        let bucket: MemberAliases = decode(&value).unwrap();
        for (entry, id) in bucket.entries() {
            let (member_id, alias) = entry.split_once('\0').unwrap();
            aliases.entry(member_id.to_string()).or_default().insert(alias.to_string(), id);
        }
    }
    posts_tree.clear().unwrap();
    aliases_tree.clear().unwrap();
    for (member_id, whole) in posts {
        posts_tree.insert(member_id.as_bytes(), encode(&whole).unwrap()).unwrap();
    }
    for (member_id, whole) in aliases {
        aliases_tree.insert(member_id.as_bytes(), encode(&whole).unwrap()).unwrap();
    }
    db.insert("schema_version", &3u32.to_be_bytes()).unwrap();
    db.flush().unwrap();
}

#[test]
fn a_schema_3_store_is_split_into_buckets_on_open_and_keeps_order_and_aliases() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    {
        let store = Store::open(&path, 1024 * 1024).unwrap();
        store.save_posts(&member("a"), &spread_posts(80)).unwrap();
        store.save_posts(&member("a0"), &[post("a0", "x1", 3)]).unwrap();
    }
    make_schema_3(&path);
    {
        let db = open_raw(&path);
        assert_eq!(db.open_tree("member_posts").unwrap().len(), 2, "the old layout: one value per member");
    }
    let store = Store::open(&path, 1024 * 1024).unwrap();
    assert!(store.member_posts.len() > 5, "split into buckets (80 posts over 240 days)");
    assert!(store.member_posts.iter().keys().all(|key| member_of(&key.unwrap()).is_some()));
    let expected: Vec<String> = (0..80).rev().map(|i| format!("a{i:04}")).collect();
    assert_eq!(member_ids(&store, "a", None), expected);
    assert_eq!(member_ids(&store, "a0", None), vec!["x1"]);
    assert_eq!(store.alias(&member("a"), "link:a.example/a0042").unwrap().as_deref(), Some("a0042"));
    assert_eq!(store.alias(&member("a0"), "guid:guid-x1").unwrap().as_deref(), Some("x1"));
    assert_eq!(store.db.get("schema_version").unwrap().unwrap().as_ref(), SCHEMA_VERSION.to_be_bytes());
}

#[test]
fn a_split_cut_short_by_a_crash_is_finished_on_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    {
        let store = Store::open(&path, 1024 * 1024).unwrap();
        store.save_posts(&member("a"), &spread_posts(40)).unwrap();
    }
    make_schema_3(&path);
    {
        // What a crash after some buckets were written leaves: those buckets beside the old
        // value, which is still there, and the version still 3.
        let db = open_raw(&path);
        let tree = db.open_tree("member_posts").unwrap();
        let mut partial = MemberPosts::default();
        partial.insert(time(0), "a0000");
        tree.insert(member_index::posts_key(&member("a"), time(0).timestamp_millis()), encode(&partial).unwrap())
            .unwrap();
        db.flush().unwrap();
    }
    let store = Store::open(&path, 1024 * 1024).unwrap();
    let expected: Vec<String> = (0..40).rev().map(|i| format!("a{i:04}")).collect();
    assert_eq!(member_ids(&store, "a", None), expected);
    assert_eq!(store.alias(&member("a"), "guid:guid-a0000").unwrap().as_deref(), Some("a0000"));
}

#[test]
fn the_stored_members_are_known_in_memory_from_open_and_after_each_save() {
    let (dir, store) = open();
    store.save_posts(&member("a"), &spread_posts(3)).unwrap();
    let version = store.stored_members_version();
    assert!(store.any_stored_member(|m| m == "a"));
    assert!(!store.any_stored_member(|m| m == "b"));
    assert!(store.holds_posts_of(&member("a")) && !store.holds_posts_of(&member("b")));
    store.save_posts(&member("a"), &[post("a", "again", 10)]).unwrap();
    assert_eq!(store.stored_members_version(), version, "a member already known changes nothing");
    store.save_posts(&member("b"), &[post("b", "b1", 10)]).unwrap();
    assert!(store.stored_members_version() > version);
    assert!(store.any_stored_member(|m| m == "b"));
    let path = dir.path().join("store");
    drop(store);
    let reopened = Store::open(&path, 1 << 20).unwrap();
    assert!(reopened.any_stored_member(|m| m == "a") && reopened.any_stored_member(|m| m == "b"));
    assert!(reopened.holds_posts_of(&member("b")), "a refresh of b after a restart looks its posts up");
}

#[test]
fn a_members_window_takes_the_posts_just_saved_from_memory_and_the_rest_from_the_store() {
    let (_dir, store) = open();
    let posts = spread_posts(40);
    store.save_posts(&member("a"), &posts).unwrap();
    // Stand-ins for the two newest posts, told apart from the stored ones by their titles.
    let mut saved = vec![posts[39].clone(), posts[38].clone()];
    for post in &mut saved {
        post.title = format!("in memory {}", post.id);
    }
    let window = store.member_posts_with_saved(&member("a"), 5, &saved).unwrap();
    let titles: Vec<&str> = window.iter().map(|post| post.title.as_str()).collect();
    let expected: Vec<String> =
        store.member_posts(&member("a"), 5).unwrap().into_iter().map(|post| post.title).collect();
    assert_eq!(titles[..2], ["in memory a0039", "in memory a0038"], "newest first, from memory");
    assert_eq!(titles[2..], expected[2..].iter().map(String::as_str).collect::<Vec<_>>(), "the rest as stored");
    assert_eq!(window.len(), 5, "the limit holds");
}
