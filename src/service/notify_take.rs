//! Taking a target's next batch from the push outbox: the settled entries after its cursor,
//! each post read and judged as the river judges it (`notify::select`), and the cursor with
//! the batch written in one transaction. A target with a search (`q`) waits until the index
//! has taken the posts in, so it matches them as `?q=` would.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use super::notify::Due;
use super::Service;
use crate::config::{Config, MemberId, NotifyTarget};
use crate::model::Post;
use crate::notify::select::{self, Facts, MAX_BATCH_POSTS, SETTLE};
use crate::search::{Ranking, Request};
use crate::store::{Batch, Store, TargetState};

/// Reads up to `MAX_BATCH_POSTS` outbox entries after the target's cursor and makes a batch
/// of those it gets; the cursor moves past every entry read. Blocking.
pub(super) fn take_batch(
    service: &Service,
    config: &Config,
    target: &NotifyTarget,
    mut state: TargetState,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Due>> {
    let store = &service.store;
    let mut read = Vec::new();
    for queued in store.notify_outbox_after(state.cursor, MAX_BATCH_POSTS)? {
        if queued.at > now - SETTLE {
            break;
        }
        if target.q.is_some() && (store.is_search_pending(&queued.id) || !service.search.is_ready()) {
            break;
        }
        read.push(queued);
    }
    let Some(last) = read.last() else { return Ok(None) };
    state.cursor = last.sequence;
    let mut candidates: Vec<Post> = Vec::new();
    for queued in &read {
        let Some(post) = store.post(&queued.id)? else { continue };
        let facts = Facts {
            hidden: store.is_hidden(&post.id),
            over_daily_cap: over_daily_cap(store, config, &post)?,
            matches_query: None,
        };
        match select::left_out(config, target, state.added_at, now, &post, &facts) {
            None => candidates.push(post),
            Some(why) => tracing::debug!(target = %target.name, post = %post.id, ?why, "not pushed"),
        }
    }
    if let Some(q) = &target.q {
        let matched = matching(service, config, q, &candidates, now)?;
        candidates.retain(|post| matched.contains(&post.id));
    }
    if candidates.is_empty() {
        store.take_notify_batch(&target.name, &state, None)?;
        return Ok(None);
    }
    let batch = Batch {
        sequence: store.next_batch_sequence()?,
        post_ids: candidates.iter().map(|post| post.id.clone()).collect(),
        formed_at: now,
        attempts: 0,
    };
    store.take_notify_batch(&target.name, &state, Some(&batch))?;
    Ok(Some(Due { batch, posts: candidates }))
}

/// Whether the river leaves `post` out by its member's daily cap: the river keeps each
/// member-day's newest posts, so `post` is out when as many newer ones of its day are shown.
fn over_daily_cap(store: &Store, config: &Config, post: &Post) -> anyhow::Result<bool> {
    let limit = config.river.max_per_member_per_day;
    let zone = config.site.timezone;
    let day = post.published.with_timezone(&zone).date_naive();
    let start = |date: chrono::NaiveDate| {
        zone.from_local_datetime(&date.and_time(chrono::NaiveTime::MIN)).earliest().map(|t| t.timestamp_millis())
    };
    let (Some(from), Some(until)) = (start(day), start(day + TimeDelta::days(1))) else { return Ok(false) };
    let mine = (post.published.timestamp_millis(), post.id.as_str());
    let mut newer = 0;
    for entry in store.river_entries_newest_first(&post.member, from, until) {
        let (millis, id) = entry?;
        if (millis, id.as_str()) <= mine {
            break;
        }
        if !store.is_hidden(&id) {
            newer += 1;
            if newer >= limit {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// The ids among `posts` that the search `q` finds, as `?q=` would.
fn matching(
    service: &Service,
    config: &Config,
    q: &str,
    posts: &[Post],
    now: DateTime<Utc>,
) -> anyhow::Result<std::collections::HashSet<String>> {
    let (Some(first), Some(last)) = (posts.iter().map(|p| p.published).min(), posts.iter().map(|p| p.published).max())
    else {
        return Ok(Default::default());
    };
    let query = crate::search::query::parse(q);
    let visible: Vec<MemberId> = config.members.iter().map(|m| m.id.clone()).collect();
    let request = Request {
        query: &query,
        visible: &visible,
        member: None,
        tags: Vec::new(),
        since: Some(first - TimeDelta::seconds(1)),
        until: Some(last + TimeDelta::seconds(1)),
        ranking: Ranking::Newest { before: None },
        limit: 1000,
        now,
        hidden: &[],
    };
    Ok(service.search.search(&request)?.into_iter().map(|hit| hit.id).collect())
}
