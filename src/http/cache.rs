//! The cache of rendered bodies, keyed by route and query, bounded in entries and in bytes.
//! Keys include query strings (pages, cursors, members, limits), which a crawler can vary
//! without end; without a byte bound, 2,000 cached pages of 100 posts could hold hundreds of
//! megabytes on a server meant to run in 40. When full, query-keyed and outdated bodies go
//! first, so the hot fixed routes (`/feed.atom`, `/`) are not rendered again for a crawler.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::Rendered;

/// (store generation, config version) a body was rendered at.
pub type Version = (u64, u64);

pub struct RenderCache {
    max_entries: usize,
    max_bytes: usize,
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    map: HashMap<String, (Version, Arc<Rendered>)>,
    bytes: usize,
}

impl Entries {
    fn retain(&mut self, keep: impl Fn(&str, Version) -> bool) {
        self.map.retain(|key, (version, _)| keep(key, *version));
        self.bytes = self.map.values().map(|(_, rendered)| rendered.cost()).sum();
    }
}

impl RenderCache {
    pub fn new(max_entries: usize, max_bytes: usize) -> RenderCache {
        RenderCache { max_entries, max_bytes, inner: Mutex::default() }
    }

    /// The body cached for `key` at `version`, if any.
    pub fn get(&self, key: &str, version: Version) -> Option<Arc<Rendered>> {
        let entries = self.inner.lock().ok()?;
        entries.map.get(key).filter(|(cached, _)| *cached == version).map(|(_, rendered)| Arc::clone(rendered))
    }

    /// The body cached for `key` at whatever version: served while a newer one is rendered.
    pub fn get_any_version(&self, key: &str) -> Option<Arc<Rendered>> {
        let entries = self.inner.lock().ok()?;
        entries.map.get(key).map(|(_, rendered)| Arc::clone(rendered))
    }

    /// Caches `rendered` for `key` at `version`, making room first. A body too large for a
    /// quarter of the budget is served but not kept.
    pub fn insert(&self, key: &str, version: Version, rendered: Arc<Rendered>) {
        let cost = rendered.cost();
        if cost > self.max_bytes / 4 {
            return;
        }
        let Ok(mut entries) = self.inner.lock() else { return };
        if let Some((_, old)) = entries.map.remove(key) {
            entries.bytes -= old.cost();
        }
        let full = |entries: &Entries| entries.map.len() >= self.max_entries || entries.bytes + cost > self.max_bytes;
        if full(&entries) {
            entries.retain(|_, cached| cached == version);
        }
        if full(&entries) {
            entries.retain(|key, _| !key.contains('?'));
        }
        if full(&entries) {
            entries.retain(|_, _| false);
        }
        entries.bytes += cost;
        entries.map.insert(key.to_string(), (version, rendered));
    }

    /// (entries, bytes) held now.
    pub fn usage(&self) -> (usize, usize) {
        self.inner.lock().map(|entries| (entries.map.len(), entries.bytes)).unwrap_or_default()
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
        cache.insert("feed:/feed.atom", (1, 1), body(10_000));
        for page in 0..200 {
            cache.insert(&format!("api:/api/v1/posts?cursor={page}"), (1, 1), body(5_000));
            let (_, bytes) = cache.usage();
            assert!(bytes <= 100_000, "{bytes} bytes after page {page}");
        }
        assert!(cache.get("feed:/feed.atom", (1, 1)).is_some(), "the fixed route survives");
        assert!(cache.get("api:/api/v1/posts?cursor=199", (1, 1)).is_some(), "the newest page is kept");
    }

    #[test]
    fn outdated_bodies_are_dropped_before_current_ones() {
        let cache = RenderCache::new(3, 1_000_000);
        cache.insert("page:/a?x", (1, 1), body(10));
        cache.insert("page:/b?x", (2, 1), body(10));
        cache.insert("page:/c?x", (2, 1), body(10));
        cache.insert("page:/d?x", (2, 1), body(10));
        assert!(cache.get("page:/b?x", (2, 1)).is_some());
        assert_eq!(cache.usage().0, 3);
    }

    #[test]
    fn a_body_is_not_returned_for_another_version_and_a_huge_one_is_not_kept() {
        let cache = RenderCache::new(10, 4_000);
        cache.insert("feed:/feed.atom", (1, 1), body(100));
        assert!(cache.get("feed:/feed.atom", (2, 1)).is_none());
        cache.insert("feed:/feed.json", (1, 1), body(1_000));
        assert!(cache.get("feed:/feed.json", (1, 1)).is_none());
        // Replacing an entry does not count its old body twice.
        cache.insert("feed:/feed.atom", (1, 1), body(100));
        assert_eq!(cache.usage(), (1, body(100).cost()));
    }
}
