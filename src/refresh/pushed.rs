//! Content a WebSub hub pushed for a member feed, taken in exactly as a fetched body is
//! (parse, sanitize, merge, one transaction), and the rule that a feed pushed to is polled
//! only every `[websub] fallback_poll_hours`.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::Semaphore;
use url::Url;

use super::undated::UndatedClock;
use super::{Counts, FeedReport, Job, Outcome};
use crate::config::{Config, Member};
use crate::fetch;
use crate::model::FeedState;
use crate::store::Store;

/// What a hub pushed: the feed document and its media type.
pub struct Pushed {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
}

/// Takes in what the hub pushed for `member`'s feed `feed_url`, at `now` (`client`
/// is the Job's, unused: nothing is fetched).
pub async fn take_pushed(
    config: &Arc<Config>,
    store: &Store,
    client: &fetch::Client,
    member: &Member,
    feed_url: &Url,
    pushed: Pushed,
    now: DateTime<Utc>,
) -> anyhow::Result<FeedReport> {
    let Pushed { bytes, content_type } = pushed;
    let job = Job {
        parsers: Arc::new(Semaphore::new(1)),
        config: Arc::clone(config),
        member: member.clone(),
        feed_url: feed_url.clone(),
        store: store.clone(),
        client: client.clone(),
        now,
        force: false,
        pass_started: Instant::now(),
        undated: Arc::new(UndatedClock::default()),
    };
    let mut state = store.feed_state(&member.id, feed_url.as_str())?.unwrap_or_else(|| FeedState {
        member: Some(member.id.clone()),
        feed_url: feed_url.to_string(),
        current_url: feed_url.to_string(),
        ..FeedState::default()
    });
    let final_url = Url::parse(&state.current_url).unwrap_or_else(|_| feed_url.clone());
    // The previous state's links stay: the pushed document may not repeat them.
    let links = state.websub.clone();
    let link = links.as_ref().map(|l| format!("<{}>; rel=\"hub\", <{}>; rel=\"self\"", l.hub, l.topic));
    let body = fetch::Body {
        bytes,
        final_url,
        moved_to: None,
        content_type,
        content_location: None,
        link,
        validators: fetch::Validators::default(),
        status: 200,
    };
    let mut report = FeedReport {
        member: member.id.clone(),
        feed_url: feed_url.to_string(),
        outcome: Outcome::Refreshed,
        counts: Counts::default(),
        moved_to: None,
        warnings: Vec::new(),
        millis: 0,
    };
    let started = Instant::now();
    state.last_attempt = Some(now);
    report.outcome = job.take_body(&mut state, body, &mut report).await?;
    if report.outcome != Outcome::Refreshed {
        store.put_feed_state(&member.id, &state)?;
    }
    report.millis = started.elapsed().as_millis();
    Ok(report)
}

/// When a feed with a live subscription is next polled: `fallback` after its last success;
/// `None` when it has no live subscription (it is polled on the schedule).
pub(super) fn polled_after(
    store: &Store,
    state: &FeedState,
    member: &str,
    fallback: std::time::Duration,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<DateTime<Utc>>> {
    let live = store.websub_for_feed(member, &state.feed_url)?.is_some_and(|s| s.is_live(now));
    let fallback = TimeDelta::from_std(fallback)?;
    Ok(match (live, state.last_success) {
        (true, Some(last)) if last + fallback > now => Some(last + fallback),
        _ => None,
    })
}
