//! Parses a fetched body and merges its posts with what is stored: a post is matched to a
//! stored one by id, then GUID alias, then normalized-link alias, so an edit (or a changed
//! GUID, or a changed URL) updates the stored post in place. Its first-seen time and any
//! date derived from it are kept, so undated and clamped posts do not creep forward.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use url::Url;

use super::budget;
use super::undated::UndatedClock;
use crate::config::{Config, Member};
use crate::fetch::Body;
use crate::model::{DateSource, FeedState, Post};
use crate::parse::{self, ParseError};
use crate::store::{post_aliases, PostSummary, Store};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub filtered: usize,
}

impl Counts {
    pub fn plus(&self, other: &Counts) -> Counts {
        Counts {
            new: self.new + other.new,
            updated: self.updated + other.updated,
            unchanged: self.unchanged + other.unchanged,
            filtered: self.filtered + other.filtered,
        }
    }
}

/// A fetched body, when its fetch ended, and the pass's clock for posts without dates.
pub struct FetchedBody<'a> {
    pub body: &'a Body,
    pub at: DateTime<Utc>,
    pub clock: &'a UndatedClock,
}

/// Parses `body` and saves the changes with the feed's new state in one transaction. The
/// outer error is the store's; the inner one is the feed's (recorded as a failure).
pub fn parse_and_save(
    config: &Config,
    member: &Member,
    store: &Store,
    now: DateTime<Utc>,
    fetched: FetchedBody<'_>,
    state: &mut FeedState,
) -> anyhow::Result<Result<Counts, ParseError>> {
    let body = fetched.body;
    let base = document_base(&body.final_url, body.content_location.as_deref());
    let context = parse::Context {
        member,
        feed_url: &state.feed_url,
        base: Some(&base),
        timezone: config.site.timezone,
        future_dates: config.fetch.future_dates,
        now,
    };
    let parsed = match parse::feed(&body.bytes, body.content_type.as_deref(), &context) {
        Ok(parsed) => parsed,
        Err(error) => return Ok(Err(error)),
    };
    // A feed never fetched before (a new member, a new feed URL) may list dozens of old
    // posts without dates, or all stamped with the build time.
    let first_fetch = state.last_success.is_none().then_some(config.river.first_fetch_posts);
    // From reading what is stored to grouping what was written, this member's posts are ours.
    let held = super::member_lock::lock(&member.id);
    let Merged { to_write, mut counts, known } = merge(store, member, parsed.posts, now, first_fetch)?;
    // What the member may still add today; the rest waits for tomorrow's fetches. A feed's
    // first fetch (a new member's history, at most 200 entries) is counted but not cut.
    let day = now.with_timezone(&config.site.timezone).date_naive();
    let limit = match first_fetch {
        Some(_) => budget::Use { posts: usize::MAX, bytes: u64::MAX },
        None => budget::Use { posts: config.fetch.member_posts_per_day, bytes: config.fetch.member_bytes_per_day },
    };
    let used = store.budget_use(&member.id, day)?;
    let (mut to_write, left_out, used) = budget::admit(to_write, |post| !known.contains(&post.id), used, limit);
    // New posts without a date are dated from this fetch, one second apart in the feed's
    // order, never in a second another feed's undated post has (`undated.rs`). Only those
    // admitted: posts left out by the budget must not take seconds from other feeds.
    let mut undated: Vec<&mut Post> = to_write
        .iter_mut()
        .filter(|post| post.date_source == DateSource::FirstSeen && !known.contains(&post.id))
        .collect();
    let instants = fetched.clock.take(fetched.at, undated.len());
    for (post, instant) in undated.iter_mut().zip(instants) {
        post.published = instant;
    }
    let new_admitted = to_write.iter().filter(|post| !known.contains(&post.id)).count();
    counts.updated = to_write.len() - new_admitted;
    counts.new = new_admitted;
    counts.filtered = parsed.filtered_out;
    // A feed some of whose posts were left out is read whole again next time, not answered 304.
    let complete = left_out == 0;
    state.etag = body.validators.etag.clone().filter(|_| complete);
    state.last_modified = body.validators.last_modified.clone().filter(|_| complete);
    state.record_success(body.status, now);
    state.warnings = parsed.warnings;
    if left_out > 0 {
        tracing::warn!(member = %member.id, posts = left_out, "posts left out: the member's daily budget is spent");
        state.warnings.push(budget::warning(left_out, limit));
    }
    state.feed_title = Some(parsed.title).filter(|t| !t.is_empty());
    let document_links = (parsed.hub.as_deref(), parsed.self_link.as_deref());
    state.websub = crate::websub::discover(body.link.as_deref(), document_links, &body.final_url);
    state.posts_in_feed = to_write.len() + counts.unchanged;
    store.save_refresh(&member.id, &to_write, state)?;
    store.set_budget_use(&member.id, day, used)?;
    // The same article from another of the member's feeds becomes one entry.
    super::dedupe::after_save(member, store, &to_write, held)?;
    Ok(Ok(counts))
}

/// What `merge` decided: the posts to write, and the ids of those that update a stored post.
struct Merged {
    to_write: Vec<Post>,
    counts: Counts,
    /// Known from the lookup that matched them: asking the store again cost a read per post,
    /// and every read waits while another member's save holds sled's transaction lock.
    known: HashSet<String>,
}

/// Decides for each fresh post whether it is new, an update of a stored post, or unchanged.
fn merge(
    store: &Store,
    member: &Member,
    fresh: Vec<Post>,
    now: DateTime<Utc>,
    first_fetch: Option<usize>,
) -> anyhow::Result<Merged> {
    let mut counts = Counts::default();
    let mut known = HashSet::new();
    let mut flood = FloodGuard::new(&fresh, first_fetch);
    let mut used: HashSet<String> = HashSet::new();
    let mut to_write = Vec::new();
    // A member with nothing stored (a new member's first fetch) has nothing to match: no
    // lookups by id and alias, each of which waits while another member's save holds sled's
    // transaction lock. Ids include the member, so no other member's post can match either.
    let nothing_stored = !store.holds_posts_of(&member.id);
    for mut post in fresh {
        let existing = if nothing_stored { None } else { stored_match(store, member, &post, &used)? };
        match existing {
            Some(existing) => {
                carry_over(&mut post, &existing);
                known.insert(post.id.clone());
                if changed(&post, &existing) {
                    counts.updated += 1;
                    to_write.push(post.clone());
                } else {
                    counts.unchanged += 1;
                }
            }
            None => {
                post.first_seen = now;
                post.backlog = flood.is_backlog(&post);
                counts.new += 1;
                to_write.push(post.clone());
            }
        }
        used.insert(post.id);
    }
    Ok(Merged { to_write, counts, known })
}

/// The stored post this fresh one is: its own id first (same GUID, or same link when there
/// is no GUID), then a post found by GUID alias, then by normalized link alias. The id comes
/// first because an alias can be shared (two items with one GUID); an id cannot.
fn stored_match(
    store: &Store,
    member: &Member,
    post: &Post,
    used: &HashSet<String>,
) -> anyhow::Result<Option<PostSummary>> {
    let mut candidates: Vec<String> = vec![post.id.clone()];
    for alias in post_aliases(post) {
        if let Some(id) = store.alias(&member.id, &alias)? {
            candidates.push(id);
        }
    }
    for id in candidates {
        if used.contains(&id) {
            continue;
        }
        if let Some(summary) = store.post_summary(&id)? {
            return Ok(Some(summary));
        }
    }
    Ok(None)
}

/// On a feed's first fetch, lets the first `limit` undated or same-dated new posts (in the
/// feed's order) through to the river and marks the rest as backlog. Same-dated means more
/// than `limit` posts stamped with one instant (a generator's build time); a few posts of
/// one date-only day are not a flood. Dated posts keep their dates and are never backlog: an
/// old date already keeps a post off the top.
struct FloodGuard {
    limit: Option<usize>,
    shared_instants: HashSet<DateTime<Utc>>,
    let_through: usize,
}

impl FloodGuard {
    fn new(fresh: &[Post], limit: Option<usize>) -> FloodGuard {
        let mut counts: std::collections::HashMap<DateTime<Utc>, usize> = std::collections::HashMap::new();
        for post in fresh.iter().filter(|p| p.date_source == DateSource::Feed) {
            *counts.entry(post.published).or_default() += 1;
        }
        let crowded = |count: &usize| limit.is_some_and(|limit| *count > limit);
        let shared_instants = counts.into_iter().filter(|(_, count)| crowded(count)).map(|(at, _)| at).collect();
        FloodGuard { limit, shared_instants, let_through: 0 }
    }

    fn is_backlog(&mut self, post: &Post) -> bool {
        let Some(limit) = self.limit else { return false };
        let undated = post.date_source != DateSource::Feed || self.shared_instants.contains(&post.published);
        if !undated {
            return false;
        }
        self.let_through += 1;
        self.let_through > limit
    }
}

fn carry_over(post: &mut Post, existing: &PostSummary) {
    post.id = existing.id.clone();
    post.first_seen = existing.first_seen;
    post.backlog = existing.backlog;
    post.duplicate_of = existing.duplicate_of.clone();
    post.also_on = existing.also_on.clone();
    post.also_by = existing.also_by.clone();
    match post.date_source {
        DateSource::Feed => {}
        DateSource::FirstSeen => post.published = existing.published,
        DateSource::Clamped => post.published = existing.first_seen,
    }
}

fn changed(post: &Post, existing: &PostSummary) -> bool {
    post.content_hash != existing.content_hash
        || post.published != existing.published
        || post.tags != existing.tags
        || post.author != existing.author
        || post.updated != existing.updated
        || post.date_source != existing.date_source
}

/// The base of a document: its Content-Location (resolved) or the URL it came from.
pub fn document_base(final_url: &Url, content_location: Option<&str>) -> Url {
    content_location.and_then(|location| final_url.join(location).ok()).unwrap_or_else(|| final_url.clone())
}
