//! One fetch pass over every member feed (`run_pass`, the single step that `planet fetch`, the
//! scheduler and tests call). Concurrency is bounded globally and per host; a feed's failure is
//! recorded on that feed, with exponential backoff, and never stops the others.

mod backoff;
pub mod budget;
pub mod dedupe;
mod member_lock;
mod merge;
mod pushed;
mod undated;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;
use url::Url;

use crate::config::{Config, Member, MemberId};
use crate::fetch::{self, Fetched, Validators};
use crate::model::{FeedState, Warning};
use crate::store::Store;
use undated::UndatedClock;

pub use merge::{document_base, Counts};
pub use pushed::{take_pushed, Pushed};

#[derive(Debug, Clone, Default)]
pub struct PassOptions {
    /// Fetch even feeds that are backing off or gone.
    pub force: bool,
    /// Only this member's feeds.
    pub member: Option<MemberId>,
    /// Becomes true when the pass should end now (shutdown): fetches in flight are dropped;
    /// what was saved is whole, since each feed's save is one transaction.
    pub stop: Option<tokio::sync::watch::Receiver<bool>>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "result", content = "detail")]
pub enum Outcome {
    Refreshed,
    NotModified,
    /// Not due yet: backing off after failures or honouring Retry-After.
    Skipped {
        until: DateTime<Utc>,
    },
    Gone,
    RetryLater {
        status: u16,
        until: DateTime<Utc>,
    },
    Failed {
        error: String,
    },
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct FeedReport {
    pub member: MemberId,
    pub feed_url: String,
    pub outcome: Outcome,
    pub counts: Counts,
    pub moved_to: Option<String>,
    pub warnings: Vec<Warning>,
    pub millis: u128,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PassReport {
    pub feeds: Vec<FeedReport>,
}

impl PassReport {
    pub fn totals(&self) -> Counts {
        self.feeds.iter().fold(Counts::default(), |total, feed| total.plus(&feed.counts))
    }

    pub fn count(&self, matches: impl Fn(&Outcome) -> bool) -> usize {
        self.feeds.iter().filter(|feed| matches(&feed.outcome)).count()
    }
}

/// Fetches every due member feed once, saves what changed, and flushes the store.
pub async fn run_pass(
    config: &Config,
    store: &Store,
    client: &fetch::Client,
    now: DateTime<Utc>,
    options: &PassOptions,
) -> anyhow::Result<PassReport> {
    let shared_config = Arc::new(config.clone());
    let global = Arc::new(Semaphore::new(config.fetch.concurrency));
    // Parsing is CPU work: more parsers than cores only adds threads (and their malloc arenas).
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let parsers = Arc::new(Semaphore::new(cores));
    let mut per_host: HashMap<String, Arc<Semaphore>> = HashMap::new();
    let (pass_started, undated) = (Instant::now(), Arc::new(UndatedClock::default()));
    let mut tasks = tokio::task::JoinSet::new();
    let members = config.members.iter().filter(|m| options.member.as_ref().is_none_or(|only| *only == m.id));
    for member in members {
        for feed_url in &member.feeds {
            let host = feed_url.host_str().unwrap_or("").to_string();
            let host_limit =
                per_host.entry(host).or_insert_with(|| Arc::new(Semaphore::new(config.fetch.per_host_concurrency)));
            let job = Job {
                parsers: Arc::clone(&parsers),
                config: Arc::clone(&shared_config),
                member: member.clone(),
                feed_url: feed_url.clone(),
                store: store.clone(),
                client: client.clone(),
                now,
                force: options.force,
                pass_started,
                undated: Arc::clone(&undated),
            };
            let (global, host_limit) = (Arc::clone(&global), Arc::clone(host_limit));
            tasks.spawn(async move {
                // The host permit first, so a busy host does not hold global slots idle.
                let _host = host_limit.acquire_owned().await;
                let _global = global.acquire_owned().await;
                // Boxed: a task's memory is its future's largest state, ~6 KB for a refresh
                // (fetch, parse, save) against ~0.5 KB for a job waiting for its permits, and
                // every feed's task waits from the start: 58 MB at 10,000 feeds unboxed.
                Box::pin(job.run()).await
            });
        }
    }
    let mut report = PassReport::default();
    let mut stop = options.stop.clone();
    loop {
        let joined = tokio::select! {
            joined = tasks.join_next() => joined,
            _ = stopped(&mut stop) => {
                tracing::info!(unfinished = tasks.len(), "the pass was stopped; unfinished feeds are fetched next time");
                tasks.abort_all();
                while tasks.join_next().await.is_some() {}
                break;
            }
        };
        match joined {
            Some(Ok(feed_report)) => report.feeds.push(feed_report),
            Some(Err(error)) => tracing::error!(%error, "a feed refresh task failed"),
            None => break,
        }
    }
    report.feeds.sort_by(|a, b| (&a.member, &a.feed_url).cmp(&(&b.member, &b.feed_url)));
    store.flush()?;
    Ok(report)
}

/// Resolves when `stop` holds true; never without one.
async fn stopped(stop: &mut Option<tokio::sync::watch::Receiver<bool>>) {
    match stop {
        Some(stop) => {
            if stop.wait_for(|stopped| *stopped).await.is_err() {
                // The sender is gone: nobody can stop this pass any more.
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending().await,
    }
}

struct Job {
    parsers: Arc<Semaphore>,
    config: Arc<Config>,
    member: Member,
    feed_url: Url,
    store: Store,
    client: fetch::Client,
    now: DateTime<Utc>,
    force: bool,
    /// When the pass began (at `now`): a feed's fetch ended `now` plus the time since.
    pass_started: Instant,
    undated: Arc<UndatedClock>,
}

/// The time since `started`, as a date offset.
fn since(started: Instant) -> chrono::Duration {
    chrono::Duration::from_std(started.elapsed()).unwrap_or_default()
}

impl Job {
    async fn run(self) -> FeedReport {
        let started = Instant::now();
        let mut report = FeedReport {
            member: self.member.id.clone(),
            feed_url: self.feed_url.to_string(),
            outcome: Outcome::Refreshed,
            counts: Counts::default(),
            moved_to: None,
            warnings: Vec::new(),
            millis: 0,
        };
        report.outcome = match self.refresh(&mut report).await {
            Ok(outcome) => outcome,
            Err(error) => {
                // Only the store can fail here; the feed's own failures (a crash while parsing
                // it included) are outcomes, recorded on the feed with backoff.
                tracing::error!(member = %self.member.id, feed = %self.feed_url, "{error:#}");
                Outcome::Failed { error: format!("{error:#}") }
            }
        };
        report.millis = started.elapsed().as_millis();
        if let Outcome::Failed { error } = &report.outcome {
            tracing::warn!(member = %self.member.id, feed = %self.feed_url, %error, "feed refresh failed");
        }
        report
    }

    async fn refresh(&self, report: &mut FeedReport) -> anyhow::Result<Outcome> {
        let mut state = self.store.feed_state(&self.member.id, self.feed_url.as_str())?.unwrap_or_else(|| FeedState {
            member: Some(self.member.id.clone()),
            feed_url: self.feed_url.to_string(),
            current_url: self.feed_url.to_string(),
            ..FeedState::default()
        });
        report.moved_to = state.moved_to.clone();
        if state.gone && !self.force {
            return Ok(Outcome::Gone);
        }
        if let Some(until) = state.next_due.filter(|due| *due > self.now && !self.force) {
            return Ok(Outcome::Skipped { until });
        }
        // A hub pushes this feed's updates: polling is the fallback, less often.
        let fallback = self.config.websub.fallback_poll;
        if let Some(until) = pushed::polled_after(&self.store, &state, self.member.id.as_str(), fallback, self.now)? {
            if !self.force {
                return Ok(Outcome::Skipped { until });
            }
        }
        let url = Url::parse(&state.current_url).unwrap_or_else(|_| self.feed_url.clone());
        // While the store holds damaged posts (a damaged body log, found by readers), feeds are
        // fetched whole: a 304 would never let a refresh meet, and rewrite, what was lost.
        let validators = match self.store.damaged_posts() {
            0 => Validators { etag: state.etag.clone(), last_modified: state.last_modified.clone() },
            _ => Validators::default(),
        };
        state.last_attempt = Some(self.now);
        let fetched = fetch::get(&self.client, &url, &validators, self.member.allow_private).await;
        let outcome = match fetched {
            Ok(Fetched::Body(body)) => {
                record_move(&mut state, body.moved_to.as_ref());
                self.take_body(&mut state, body, report).await?
            }
            Ok(Fetched::NotModified { moved_to, .. }) => {
                record_move(&mut state, moved_to.as_ref());
                state.record_success(304, self.now);
                Outcome::NotModified
            }
            Ok(Fetched::Gone { .. }) => {
                state.gone = true;
                state.last_status = Some(410);
                state.last_error =
                    Some("410 Gone: the server says this feed was removed for good; it is no longer fetched".into());
                Outcome::Gone
            }
            Ok(Fetched::RetryLater { status, retry_after, .. }) => {
                state.last_status = Some(status);
                match self.failed(&mut state, format!("HTTP {status}: the server asks to retry later"), retry_after) {
                    Outcome::Failed { .. } => Outcome::RetryLater { status, until: state.next_due.unwrap_or(self.now) },
                    other => other,
                }
            }
            Err(error) => {
                if let fetch::FetchError::Status { status, .. } = &error {
                    state.last_status = Some(*status);
                }
                tracing::warn!(member = %self.member.id, feed = %self.feed_url, "fetch failed: {}", error.detail());
                // Stored and shown publicly: the class of failure only (`Display`).
                self.failed(&mut state, error.to_string(), None)
            }
        };
        report.moved_to = state.moved_to.clone();
        if outcome != Outcome::Refreshed {
            self.store.put_feed_state(&self.member.id, &state)?;
        }
        Ok(outcome)
    }

    /// Parses and saves a body, fetched or pushed by a WebSub hub; a parse failure or a crash
    /// is the feed's failure.
    async fn take_body(
        &self,
        state: &mut FeedState,
        body: fetch::Body,
        report: &mut FeedReport,
    ) -> anyhow::Result<Outcome> {
        // Parsing and sanitizing are CPU work: keep them off the fetching threads.
        let _parser = self.parsers.acquire().await?;
        let (config, member, store, now) =
            (Arc::clone(&self.config), self.member.clone(), self.store.clone(), self.now);
        let (clock, at) = (Arc::clone(&self.undated), self.now + since(self.pass_started));
        let parsed = off_thread(state, move |state| {
            let fetched = merge::FetchedBody { body: &body, at, clock: &clock };
            merge::parse_and_save(&config, &member, &store, now, fetched, state)
        })
        .await;
        Ok(match parsed {
            Ok(result) => match result? {
                Ok(counts) => {
                    report.counts = counts;
                    report.warnings = state.warnings.clone();
                    Outcome::Refreshed
                }
                Err(parse_error) => {
                    tracing::warn!(member = %self.member.id, feed = %self.feed_url, "not parsed: {parse_error}");
                    self.failed(state, parse_error.public(), None)
                }
            },
            Err(crashed) => {
                tracing::error!(member = %self.member.id, feed = %self.feed_url, "parsing crashed: {crashed}");
                let error = "planet failed on this feed's content (an internal error, logged for the admin)";
                self.failed(state, error.to_string(), None)
            }
        })
    }

    fn failed(&self, state: &mut FeedState, error: String, retry_after: Option<std::time::Duration>) -> Outcome {
        state.consecutive_failures += 1;
        let delay =
            backoff::delay(state.consecutive_failures, retry_after, self.config.fetch.max_backoff, &self.feed_url);
        state.next_due = Some(self.now + delay);
        state.last_error = Some(error.clone());
        Outcome::Failed { error }
    }
}

/// Runs `work` on `state` on a blocking thread (parsing and sanitizing are CPU work). When
/// it panics, `state` is as it was before and the panic's message comes back as `Err`, so
/// the caller records the crash as that feed's failure instead of losing its backoff state.
async fn off_thread<T: Send + 'static>(
    state: &mut FeedState,
    work: impl FnOnce(&mut FeedState) -> T + Send + 'static,
) -> Result<T, String> {
    let mut moved = state.clone();
    let joined = tokio::task::spawn_blocking(move || {
        let result = work(&mut moved);
        (result, moved)
    })
    .await;
    match joined {
        Ok((result, after)) => {
            *state = after;
            Ok(result)
        }
        Err(error) if error.is_panic() => {
            let payload = error.into_panic();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_string());
            Err(message)
        }
        Err(error) => Err(error.to_string()),
    }
}

/// A permanent move is only remembered once the new address answered successfully.
fn record_move(state: &mut FeedState, moved_to: Option<&Url>) {
    if let Some(target) = moved_to {
        state.current_url = target.to_string();
        state.moved_to = Some(target.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_while_parsing_leaves_the_feed_state_as_it_was_and_says_why() {
        let mut state =
            FeedState { consecutive_failures: 2, feed_url: "https://a.example/feed".into(), ..FeedState::default() };
        let crashed = off_thread(&mut state, |state: &mut FeedState| {
            state.consecutive_failures = 0;
            panic!("index out of bounds in some parser");
        })
        .await;
        assert_eq!(crashed.unwrap_err(), "index out of bounds in some parser");
        assert_eq!(state.consecutive_failures, 2, "the state from before the crash, backoff included");
        let finished = off_thread(&mut state, |state: &mut FeedState| {
            state.consecutive_failures = 0;
            7
        })
        .await;
        assert_eq!((finished, state.consecutive_failures), (Ok(7), 0), "the work's changes are kept");
    }
}
