//! The cache of rendered bodies, keyed by route and query, bounded in entries and in bytes
//! (keys counted). Keys include query strings (pages, cursors, members, tags, searches),
//! which a crawler can vary without end; without a byte bound, 2,000 cached pages of 100
//! posts could hold hundreds of megabytes on a server meant to run in 40. The outputs every
//! reader shares have their own budget (`Class`), so the hot routes (`/feed.atom`, `/`, the
//! digest) are never rendered again because a crawler filled the cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::Rendered;

/// (store generation, config version) a body was rendered at.
pub type Version = (u64, u64);

/// Which budget a body is kept under. The outputs every reader shares (the combined feeds,
/// the home page, the latest digest and its feed, OPML, stats) are a handful of keys that
/// only a new version replaces; everything keyed by what a client chose (cursors, members,
/// tags, searches, weeks) competes in its own budget, so query traffic never evicts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Shared,
    Query,
}

pub struct RenderCache {
    max_entries: usize,
    max_bytes: usize,
    inner: Mutex<Classes>,
}

#[derive(Default)]
struct Classes {
    shared: Entries,
    query: Entries,
}

#[derive(Default)]
struct Entries {
    map: HashMap<String, (Version, Arc<Rendered>)>,
    /// Bodies and their variants, and the keys: a key can be as long as a request line.
    bytes: usize,
}

/// What an entry costs: its body with its variants, and its key.
fn cost(key: &str, rendered: &Rendered) -> usize {
    rendered.cost() + key.len()
}

impl Entries {
    fn retain(&mut self, keep: impl Fn(&str, Version) -> bool) {
        self.map.retain(|key, (version, _)| keep(key, *version));
        self.bytes = self.map.iter().map(|(key, (_, rendered))| cost(key, rendered)).sum();
    }

    fn remove(&mut self, key: &str) {
        if let Some((_, old)) = self.map.remove(key) {
            self.bytes -= cost(key, &old);
        }
    }

    /// Makes room for `needed` bytes within (`max_entries`, `max_bytes`): outdated bodies go
    /// first, then everything.
    fn make_room(&mut self, needed: usize, version: Version, max_entries: usize, max_bytes: usize) {
        let full = |entries: &Entries| entries.map.len() >= max_entries || entries.bytes + needed > max_bytes;
        if full(self) {
            self.retain(|_, cached| cached == version);
        }
        if full(self) {
            self.retain(|_, _| false);
        }
    }
}

impl RenderCache {
    /// A cache of `max_bytes` for shared outputs and half that for query-keyed ones.
    pub fn new(max_entries: usize, max_bytes: usize) -> RenderCache {
        RenderCache { max_entries, max_bytes, inner: Mutex::default() }
    }

    fn budget(&self, class: Class) -> usize {
        match class {
            Class::Shared => self.max_bytes,
            Class::Query => self.max_bytes / 2,
        }
    }

    /// The body cached for `key` at `version`, if any.
    pub fn get(&self, key: &str, version: Version) -> Option<Arc<Rendered>> {
        let classes = self.inner.lock().ok()?;
        let found = classes.shared.map.get(key).or_else(|| classes.query.map.get(key));
        found.filter(|(cached, _)| *cached == version).map(|(_, rendered)| Arc::clone(rendered))
    }

    /// The body cached for `key` at whatever version: served while a newer one is rendered.
    pub fn get_any_version(&self, key: &str) -> Option<Arc<Rendered>> {
        let classes = self.inner.lock().ok()?;
        let found = classes.shared.map.get(key).or_else(|| classes.query.map.get(key));
        found.map(|(_, rendered)| Arc::clone(rendered))
    }

    /// Caches `rendered` for `key` at `version` under `class`'s budget, making room there
    /// first. A body too large for a quarter of that budget is served but not kept.
    pub fn insert(&self, key: &str, class: Class, version: Version, rendered: Arc<Rendered>) {
        let cost = cost(key, &rendered);
        let budget = self.budget(class);
        if cost > budget / 4 {
            return;
        }
        let Ok(mut classes) = self.inner.lock() else { return };
        // A key changes class at most when the latest digest's week becomes an older one.
        classes.shared.remove(key);
        classes.query.remove(key);
        let entries = match class {
            Class::Shared => &mut classes.shared,
            Class::Query => &mut classes.query,
        };
        entries.make_room(cost, version, self.max_entries, budget);
        entries.bytes += cost;
        entries.map.insert(key.to_string(), (version, rendered));
    }

    /// (entries, bytes) held now, both budgets together.
    pub fn usage(&self) -> (usize, usize) {
        let Ok(classes) = self.inner.lock() else { return (0, 0) };
        (classes.shared.map.len() + classes.query.map.len(), classes.shared.bytes + classes.query.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(bytes: usize) -> Arc<Rendered> {
        Arc::new(Rendered::new("x".repeat(bytes), "text/plain", None))
    }

    #[test]
    fn many_distinct_query_pages_stay_within_the_byte_budget_and_keep_the_fixed_routes() {
        let cache = RenderCache::new(1000, 100_000);
        cache.insert("feed:/feed.atom", Class::Shared, (1, 1), body(10_000));
        for page in 0..200 {
            cache.insert(&format!("api:/api/v1/posts?cursor={page}"), Class::Query, (1, 1), body(5_000));
            let (_, bytes) = cache.usage();
            assert!(bytes <= 100_000, "{bytes} bytes after page {page}");
        }
        assert!(cache.get("feed:/feed.atom", (1, 1)).is_some(), "the fixed route survives");
        assert!(cache.get("api:/api/v1/posts?cursor=199", (1, 1)).is_some(), "the newest page is kept");
    }

    #[test]
    fn outdated_bodies_are_dropped_before_current_ones() {
        let cache = RenderCache::new(3, 1_000_000);
        cache.insert("page:/a?x", Class::Query, (1, 1), body(10));
        cache.insert("page:/b?x", Class::Query, (2, 1), body(10));
        cache.insert("page:/c?x", Class::Query, (2, 1), body(10));
        cache.insert("page:/d?x", Class::Query, (2, 1), body(10));
        assert!(cache.get("page:/b?x", (2, 1)).is_some());
        assert_eq!(cache.usage().0, 3);
    }

    #[test]
    fn a_body_is_not_returned_for_another_version_and_a_huge_one_is_not_kept() {
        let cache = RenderCache::new(10, 4_000);
        cache.insert("feed:/feed.atom", Class::Shared, (1, 1), body(100));
        assert!(cache.get("feed:/feed.atom", (2, 1)).is_none());
        cache.insert("feed:/feed.json", Class::Shared, (1, 1), body(1_000));
        assert!(cache.get("feed:/feed.json", (1, 1)).is_none());
        // Replacing an entry does not count its old body twice.
        cache.insert("feed:/feed.atom", Class::Shared, (1, 1), body(100));
        assert_eq!(cache.usage(), (1, body(100).cost() + "feed:/feed.atom".len()));
    }

    #[test]
    fn long_keys_count_against_the_budget() {
        let cache = RenderCache::new(10_000, 200_000);
        for n in 0..2_000 {
            cache.insert(&format!("api:/api/v1/posts?tag={n}{}", "t".repeat(60_000)), Class::Query, (1, 1), body(10));
            assert!(cache.usage().1 <= 100_000, "{:?} after {n}", cache.usage());
        }
    }

    #[test]
    fn query_traffic_never_evicts_the_shared_outputs() {
        let cache = RenderCache::new(50, 100_000);
        cache.insert("feed:/feed.atom", Class::Shared, (1, 1), body(5_000));
        cache.insert("page:/", Class::Shared, (1, 1), body(5_000));
        for n in 0..500 {
            cache.insert(&format!("/feed.atom:Search({n})"), Class::Query, (1, 1), body(4_000));
        }
        assert!(cache.get("feed:/feed.atom", (1, 1)).is_some());
        assert!(cache.get("page:/", (1, 1)).is_some());
    }
}
