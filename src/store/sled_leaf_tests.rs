//! The vendored sled (`vendor/sled/PLANET.md`: each page's list of log positions made exact
//! when a store is opened, and the cache's index holding only the pages it holds): random
//! inserts and removals of small and large entries, through many splits and merges, against
//! a `BTreeMap`; then reopened (every page loaded from the snapshot, its list shrunk), written
//! again on those pages, and reopened once more. Then a cache far smaller than the tree, so
//! that every read evicts.

use std::collections::BTreeMap;

use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Operation {
    Insert { key: u16, value_bytes: usize },
    Remove { key: u16 },
}

fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![
        // Small (a timeline reference), around the 4 KB line of a 64-entry leaf, and large
        // (a bucket of a member's month).
        4 => (any::<u16>(), prop_oneof![Just(21usize), 40..90usize, 1_000..3_000usize])
            .prop_map(|(key, value_bytes)| Operation::Insert { key, value_bytes }),
        1 => any::<u16>().prop_map(|key| Operation::Remove { key }),
    ]
}

/// A key shaped like the store's (a time, then an id), spread over a small range so that
/// removals hit entries that exist.
fn key_bytes(key: u16) -> Vec<u8> {
    let key = key % 4_096;
    format!("{:08}-post-{key}", u32::from(key) * 7).into_bytes()
}

fn value_bytes(key: u16, length: usize) -> Vec<u8> {
    (0..length).map(|i| (usize::from(key) + i) as u8).collect()
}

fn contents(tree: &sled::Tree) -> Vec<(Vec<u8>, Vec<u8>)> {
    tree.iter().map(|item| item.map(|(key, value)| (key.to_vec(), value.to_vec())).unwrap()).collect()
}

/// Applies `operations` to the tree and to the model.
fn apply(tree: &sled::Tree, model: &mut BTreeMap<Vec<u8>, Vec<u8>>, operations: &[Operation]) {
    for operation in operations {
        match *operation {
            Operation::Insert { key, value_bytes: length } => {
                let value = value_bytes(key, length);
                tree.insert(key_bytes(key), value.clone()).unwrap();
                model.insert(key_bytes(key), value);
            }
            Operation::Remove { key } => {
                tree.remove(key_bytes(key)).unwrap();
                model.remove(&key_bytes(key));
            }
        }
    }
}

fn open_tree(path: &std::path::Path) -> (sled::Db, sled::Tree) {
    let db = super::tests::open_raw(path);
    let tree = db.open_tree("timeline").unwrap();
    (db, tree)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn a_tree_of_small_and_large_entries_holds_exactly_what_was_written_across_reopens(
        before in proptest::collection::vec(operation(), 1..2_000),
        after in proptest::collection::vec(operation(), 1..1_000),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let mut model = BTreeMap::new();
        for operations in [&before, &after, &Vec::new()] {
            let (db, tree) = open_tree(&path);
            prop_assert_eq!(contents(&tree), model.clone().into_iter().collect::<Vec<_>>());
            apply(&tree, &mut model, operations);
            let expected: Vec<_> = model.clone().into_iter().collect();
            prop_assert_eq!(contents(&tree), expected.clone());
            let newest_first: Vec<_> = tree.iter().rev().map(|item| item.unwrap().0.to_vec()).collect();
            prop_assert_eq!(newest_first, expected.iter().rev().map(|(key, _)| key.clone()).collect::<Vec<_>>());
            db.flush().unwrap();
        }
    }
}

#[test]
fn a_cache_far_smaller_than_the_tree_evicts_and_reads_back_every_entry_in_any_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let keys: Vec<u16> = (0..4_096).collect();
    for round in 0..2u16 {
        // 64 KB over sled's 256 shards: 256 bytes per shard, less than one page of these
        // entries, so almost every page read evicts another and is paged in again later.
        let db = sled::Config::new().path(&path).cache_capacity(64 << 10).open().unwrap();
        let tree = db.open_tree("timeline").unwrap();
        if round == 0 {
            for &key in &keys {
                tree.insert(key_bytes(key), value_bytes(key, 40 + usize::from(key % 200))).unwrap();
            }
            db.flush().unwrap();
        }
        // Three passes in different orders: ascending, a stride through the keys, descending.
        let strided = (0..keys.len()).map(|i| keys[(i * 1_597) % keys.len()]);
        for key in keys.iter().copied().chain(strided).chain(keys.iter().rev().copied()) {
            let expected = value_bytes(key, 40 + usize::from(key % 200));
            assert_eq!(tree.get(key_bytes(key)).unwrap().as_deref(), Some(expected.as_slice()), "key {key}");
        }
        assert_eq!(tree.iter().count(), keys.len());
    }
}
