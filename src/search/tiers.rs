//! Searching the newest posts first. A word common across 1,000,000 posts is a phrase of
//! bigrams checked position by position in every post that has it (290 ms at p50 for two
//! common words, BENCHMARKS.md section 14); but the results are ranked newest-first or with a
//! recency boost, and a page holds at most `MAX_RESULTS`. So a query runs over the newest
//! `FIRST_TIER_POSTS` posts first, then over the rest of the newest `TIER_GROWTH` times as
//! many, and so on, and stops at the first tier that completes the page: what it costs follows the page, not
//! the store. Newest-first this is exact. With relevance, a post of a newer tier ranks before
//! every post of an older one (within a tier, relevance times recency decides), which is how
//! a community planet's search should read; a store under `FIRST_TIER_POSTS` posts has one
//! tier and is ranked as before.

use std::ops::Bound;

use tantivy::collector::{Collector, Count};
use tantivy::query::{BooleanQuery, Occur, Query, RangeQuery};
use tantivy::{Searcher, Term};

/// Posts in the newest tier (a few in unit tests, so that they cross tiers).
pub const FIRST_TIER_POSTS: usize = if cfg!(test) { 40 } else { 30_000 };
/// Each further tier ends where the newest `TIER_GROWTH` times as many posts as the last did.
const TIER_GROWTH: usize = 8;

/// The published times that split the index into tiers, newest first, for one searcher
/// generation (a commit makes a new one).
#[derive(Default)]
pub struct TierCache(crate::per_version::PerVersion<u64, Vec<i64>>);

impl TierCache {
    /// The tiers' lower bounds, newest first: tier 0 is `[bounds[0], ∞)`, tier i is
    /// `[bounds[i], bounds[i-1])`, the last is everything older. Empty for a small index.
    /// Reads each document's time once per commit (8 bytes a post while it runs).
    pub fn bounds(&self, searcher: &Searcher) -> anyhow::Result<Vec<i64>> {
        self.0.get_or_try(searcher.generation().generation_id(), || {
            let mut times = Vec::with_capacity(searcher.num_docs() as usize);
            for segment in searcher.segment_readers() {
                let column = segment.fast_fields().i64("published")?;
                let alive = segment.alive_bitset();
                for doc in 0..segment.max_doc() {
                    if alive.is_none_or(|bits| bits.is_alive(doc)) {
                        times.extend(column.first(doc));
                    }
                }
            }
            Ok(tier_bounds(&mut times))
        })
    }
}

/// The times at which the newest `FIRST_TIER_POSTS`, then `TIER_GROWTH` times as many, and so
/// on begin (newest first); `times` is reordered.
fn tier_bounds(times: &mut [i64]) -> Vec<i64> {
    let mut bounds = Vec::new();
    let mut size = FIRST_TIER_POSTS;
    while size < times.len() {
        let (_, nth, _) = times.select_nth_unstable_by(size - 1, |a, b| b.cmp(a));
        bounds.push(*nth);
        size = size.saturating_mul(TIER_GROWTH);
    }
    bounds.dedup();
    bounds
}

/// `query` limited to tier `tier` of `bounds` (the whole index when there are no bounds).
fn in_tier(query: &BooleanQuery, published: tantivy::schema::Field, bounds: &[i64], tier: usize) -> BooleanQuery {
    let at = |millis: i64| Term::from_field_i64(published, millis);
    let lower = bounds.get(tier).map_or(Bound::Unbounded, |m| Bound::Included(at(*m)));
    let upper = tier.checked_sub(1).and_then(|i| bounds.get(i)).map_or(Bound::Unbounded, |m| Bound::Excluded(at(*m)));
    BooleanQuery::new(vec![
        (Occur::Must, Box::new(query.clone()) as Box<dyn Query>),
        (Occur::Must, Box::new(RangeQuery::new(lower, upper))),
    ])
}

/// Runs `collector(want)` over the tiers newest first, where `want` is what the page still
/// needs, until the posts matched reach `need`; each tier's results in order, concatenated.
pub fn collect_by_tier<C, T>(
    searcher: &Searcher,
    query: &BooleanQuery,
    published: tantivy::schema::Field,
    bounds: &[i64],
    need: usize,
    collector: impl Fn(usize) -> C,
) -> anyhow::Result<Vec<T>>
where
    C: Collector<Fruit = Vec<T>>,
{
    if bounds.is_empty() {
        return Ok(searcher.search(query, &collector(need))?);
    }
    let mut found = Vec::new();
    let mut matched = 0;
    for tier in 0..=bounds.len() {
        let want = need - matched;
        let (top, count) = searcher.search(&in_tier(query, published, bounds, tier), &(collector(want), Count))?;
        found.extend(top);
        matched += count;
        if matched >= need {
            break;
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_hold_the_newest_posts_first_and_grow_eightfold() {
        let first = FIRST_TIER_POSTS as i64;
        let mut times: Vec<i64> = (0..10 * first).rev().collect();
        // The newest 40 are 360..=399; the newest 320 begin at 80.
        assert_eq!(tier_bounds(&mut times), vec![9 * first, 2 * first]);
        let mut small: Vec<i64> = (0..FIRST_TIER_POSTS as i64).collect();
        assert!(tier_bounds(&mut small).is_empty(), "one tier while the index is small");
        let mut one_instant = vec![7; 3 * FIRST_TIER_POSTS];
        assert_eq!(tier_bounds(&mut one_instant), vec![7], "equal times make one bound, not empty tiers");
    }
}
