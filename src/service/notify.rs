//! Push delivery's single step (`deliver_notifications`): for each ready target, take the
//! outbox's new river posts into a batch when its window is open (the cursor and the batch
//! in one transaction), then send its open batch within the platform's rate limit. The
//! target's acceptance is recorded in the ledger before the batch is removed, so a crash
//! repeats at most the one message whose acceptance was not yet recorded. Targets are served
//! side by side: one that hangs or fails waits alone.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use super::{Service, Variables};
use crate::config::{Config, NotifyKind, NotifySecrets, NotifyTarget};
use crate::model::Post;
use crate::notify::limits::{self, Answer, RateWindow};
use crate::notify::{request, select};
use crate::store::{ledger_name, Batch, Delivery, DeliveryStatus, Store, TargetState};

/// What delivery keeps in memory: recent messages per target (for the rate limits) and where
/// the variables come from.
pub struct Notifier {
    variables: Variables,
    windows: Mutex<HashMap<String, RateWindow>>,
    /// One step at a time: the loop and a command or test never send one batch twice.
    stepping: tokio::sync::Mutex<()>,
    by_hand: std::sync::atomic::AtomicBool,
    /// Bumped by every recorded answer: `/api/v1/stats` shows the targets' status by it.
    version: std::sync::atomic::AtomicU64,
}

impl Notifier {
    pub fn new(variables: Variables) -> Notifier {
        Notifier {
            variables,
            windows: Mutex::default(),
            stepping: Default::default(),
            by_hand: Default::default(),
            version: Default::default(),
        }
    }
}

/// What one step did for each target.
#[derive(Debug, Default, Clone, Serialize)]
pub struct NotifyReport {
    /// (target, posts) of each message the targets accepted.
    pub delivered: Vec<(String, usize)>,
    /// (target, why) of each attempt that failed or was told to wait.
    pub failed: Vec<(String, String)>,
    /// Targets skipped: their variables are missing or wrong.
    pub skipped: Vec<(String, String)>,
}

/// A target's health and queue, for `/api/v1/stats`, `/metrics` and `planet notify status`.
#[derive(Debug, Clone, Serialize)]
pub struct TargetStatus {
    pub name: String,
    pub kind: &'static str,
    /// `ready`, `failing` (3 failures in a row or more), or why it is skipped.
    pub status: String,
    /// Posts waiting in an open batch or the outbox (counted up to 1,000).
    pub queued: usize,
    pub delivered_batches: u64,
    pub delivered_posts: u64,
    pub last_success: Option<DateTime<Utc>>,
    pub last_error: Option<LastError>,
    pub next_attempt: Option<DateTime<Utc>>,
    /// When planet first saw the target: posts published before are not pushed to it.
    pub added_at: Option<DateTime<Utc>>,
}

/// The last failure of a target: when, and what the platform or the connection said.
#[derive(Debug, Clone, Serialize)]
pub struct LastError {
    pub at: DateTime<Utc>,
    pub message: String,
}

/// An open batch ready to go, with what it needs to be written.
pub(super) struct Due {
    pub(super) batch: Batch,
    pub(super) posts: Vec<Post>,
}

impl Service {
    /// The delivery loop's single step at `now`. Tests and `planet notify` call it directly.
    pub async fn deliver_notifications(self: &Arc<Self>, now: DateTime<Utc>) -> NotifyReport {
        let _one_step = self.notifier.stepping.lock().await;
        let config = self.config();
        let mut report = NotifyReport::default();
        let mut ready = Vec::new();
        for target in &config.notify {
            match target.secrets(|name| self.notifier.variables.get(name)) {
                Ok(secrets) => ready.push((target.clone(), secrets)),
                Err(why) => report.skipped.push((target.name.clone(), why)),
            }
        }
        let sends = ready.into_iter().map(|(target, secrets)| {
            let service = Arc::clone(self);
            let config = Arc::clone(&config);
            async move { service.step_target(&config, &target, &secrets, now).await.map(|o| (target.name.clone(), o)) }
        });
        for outcome in futures_util::future::join_all(sends).await {
            match outcome {
                Ok((name, Some(Ok(posts)))) => report.delivered.push((name, posts)),
                Ok((name, Some(Err(why)))) => report.failed.push((name, why)),
                Ok((_, None)) => {}
                Err(error) => tracing::error!("push delivery step failed: {error:#}"),
            }
        }
        let store = self.store.clone();
        let names: Vec<String> = config.notify.iter().map(|t| t.name.clone()).collect();
        let pruned = tokio::task::spawn_blocking(move || prune_outbox(&store, &names, now)).await;
        if let Ok(Err(error)) = pruned {
            tracing::warn!("the push outbox could not be pruned: {error:#}");
        }
        report
    }

    /// Changes whenever a target's status may have changed.
    pub fn notify_version(&self) -> u64 {
        self.notifier.version.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Stops the loop in `serve` from stepping (tests step by hand, with their own clock).
    pub fn deliver_notifications_by_hand(&self) {
        self.notifier.by_hand.store(true, std::sync::atomic::Ordering::Release);
    }

    pub fn notifications_by_hand(&self) -> bool {
        self.notifier.by_hand.load(std::sync::atomic::Ordering::Acquire)
    }

    /// One target: its due batch, sent if the rate limit allows. `None`: nothing was sent.
    async fn step_target(
        self: &Arc<Self>,
        config: &Arc<Config>,
        target: &NotifyTarget,
        secrets: &NotifySecrets,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<Result<usize, String>>> {
        let (service, config_for_take, target_for_take) = (Arc::clone(self), Arc::clone(config), target.clone());
        let due =
            tokio::task::spawn_blocking(move || service.take_due(&config_for_take, &target_for_take, now)).await??;
        let Some(Due { batch, posts }) = due else { return Ok(None) };
        if let Some(wait_until) = self.rate_window(&target.name, |w| w.next_allowed(target.kind, now)) {
            tracing::debug!(target = %target.name, %wait_until, "push waits for the platform's rate limit");
            return Ok(None);
        }
        let outgoing = self.outgoing(config, target, secrets, &batch, &posts, now);
        let answer = match outgoing {
            Ok(outgoing) => {
                self.rate_window(&target.name, |w| w.record(target.kind, now));
                let client = self.fetch_client();
                match crate::fetch::post_json(&client, &outgoing.url, &outgoing.headers, outgoing.body).await {
                    Ok(answered) => {
                        limits::read_answer(target.kind, answered.status, answered.retry_after, &answered.body)
                    }
                    Err(error) => Answer::Failed(error.to_string()),
                }
            }
            Err(why) => Answer::Failed(why),
        };
        // What a platform or a connection error says may quote the request (a hook's token):
        // it is shown in /api/v1/stats, so the target's secrets are cut out first.
        let answer = match answer {
            Answer::Failed(why) => Answer::Failed(redacted(&why, secrets)),
            other => other,
        };
        self.metrics.record_notify(&target.name, &answer);
        let (service, name, count) = (Arc::clone(self), target.name.clone(), posts.len());
        let answer_for_record = answer.clone();
        tokio::task::spawn_blocking(move || service.record_answer(&name, batch, count, &answer_for_record, now))
            .await??;
        Ok(Some(match answer {
            Answer::Accepted => Ok(count),
            Answer::RateLimited(wait) => Err(format!("rate limited (wait {:?})", wait.unwrap_or_default())),
            Answer::Failed(why) => Err(why),
        }))
    }

    fn rate_window<T>(&self, target: &str, use_window: impl FnOnce(&mut RateWindow) -> T) -> T {
        let mut windows = self.notifier.windows.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        use_window(windows.entry(target.to_string()).or_default())
    }

    fn outgoing(
        &self,
        config: &Config,
        target: &NotifyTarget,
        secrets: &NotifySecrets,
        batch: &Batch,
        posts: &[Post],
        now: DateTime<Utc>,
    ) -> Result<request::Outgoing, String> {
        let notified: Vec<_> = posts.iter().map(|post| select::notified(config, post)).collect();
        let api_posts: Vec<serde_json::Value> = match target.kind {
            NotifyKind::Webhook => posts
                .iter()
                .map(|p| serde_json::to_value(crate::render::api_post::post_dto(p.clone(), &config.members)))
                .collect::<Result<_, _>>()
                .map_err(|e| e.to_string())?,
            _ => Vec::new(),
        };
        let id = batch.id(&target.name);
        let heading = select::heading(config, posts.len());
        let content = request::Batch {
            id: &id,
            heading: &heading,
            posts: &notified,
            api_posts: &api_posts,
            more_url: config.site.url.as_str(),
        };
        request::build(target.kind, secrets, &content, now)
    }

    /// The target's open batch, its posts read again (a post hidden or found to be a copy
    /// since is dropped; a batch left with none is recorded as withdrawn); or, with none open
    /// and the window open, a new batch from the outbox. Blocking.
    fn take_due(&self, config: &Config, target: &NotifyTarget, now: DateTime<Utc>) -> anyhow::Result<Option<Due>> {
        let store = &self.store;
        let state = match store.notify_target_state(&target.name)? {
            Some(state) => state,
            None => {
                // A new target starts after everything queued so far: adding one replays nothing.
                let state = TargetState::new(now, store.notify_outbox_head()?);
                store.put_notify_target_state(&target.name, &state)?;
                self.notifier.version.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                let added_at = now.to_rfc3339();
                tracing::info!(target = %target.name, %added_at, "push target registered: posts published from now on go to it");
                state
            }
        };
        if state.next_attempt.is_some_and(|at| at > now) {
            return Ok(None);
        }
        if let Some(batch) = store.open_notify_batches(&target.name)?.into_iter().next() {
            let mut posts = Vec::new();
            for id in &batch.post_ids {
                if let Some(post) = store.post(id)? {
                    if crate::store::in_river(&post)
                        && !store.is_hidden(id)
                        && config.shows_member(post.member.as_str())
                    {
                        posts.push(post);
                    }
                }
            }
            if posts.is_empty() {
                let withdrawn = Delivery {
                    status: DeliveryStatus::Rejected,
                    at: now,
                    detail: Some("withdrawn: every post was hidden or removed".into()),
                };
                store.record_delivery(&ledger_name(&target.name), &batch.id(&target.name), &withdrawn)?;
                store.remove_notify_batch(&target.name, batch.sequence)?;
                return Ok(None);
            }
            return Ok(Some(Due { batch, posts }));
        }
        let window = TimeDelta::from_std(target.batch)?;
        let window_open = state.last_sent_at.is_none_or(|sent| sent + window <= now);
        if !window_open {
            return Ok(None);
        }
        super::notify_take::take_batch(self, config, target, state, now)
    }

    /// Writes what the target answered: accepted (ledger, then the batch removed), told to
    /// wait, or failed (backoff; a batch that failed `MAX_ATTEMPTS` times is recorded rejected).
    fn record_answer(
        &self,
        target: &str,
        mut batch: Batch,
        posts: usize,
        answer: &Answer,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let store = &self.store;
        let mut state = store.notify_target_state(target)?.unwrap_or_else(|| TargetState::new(now, 0));
        let ledger = ledger_name(target);
        let id = batch.id(target);
        match answer {
            Answer::Accepted => {
                store.record_delivery(
                    &ledger,
                    &id,
                    &Delivery { status: DeliveryStatus::Sent, at: now, detail: None },
                )?;
                store.remove_notify_batch(target, batch.sequence)?;
                state.last_sent_at = Some(now);
                state.last_success = Some(now);
                state.failures = 0;
                state.next_attempt = None;
                state.delivered_batches += 1;
                state.delivered_posts += posts as u64;
                tracing::info!(target, posts, batch = %id, "push delivered");
            }
            Answer::RateLimited(asked) => {
                let wait = asked.unwrap_or(limits::backoff(1, None));
                state.next_attempt = Some(now + TimeDelta::from_std(wait.min(limits::MAX_BACKOFF))?);
                state.last_error = Some((now, "rate limited by the platform".into()));
                tracing::warn!(target, ?wait, "push rate limited by the platform");
            }
            Answer::Failed(why) => {
                state.failures += 1;
                batch.attempts += 1;
                state.last_error = Some((now, why.clone()));
                state.next_attempt = Some(now + TimeDelta::from_std(limits::backoff(state.failures, None))?);
                if batch.attempts >= limits::MAX_ATTEMPTS {
                    let rejected = Delivery { status: DeliveryStatus::Rejected, at: now, detail: Some(why.clone()) };
                    store.record_delivery(&ledger, &id, &rejected)?;
                    store.remove_notify_batch(target, batch.sequence)?;
                    tracing::error!(target, batch = %id, "push batch given up after {} attempts: {why}", batch.attempts);
                } else {
                    store.put_notify_batch(target, &batch)?;
                }
                let failing = state.failures >= limits::FAILING_AFTER;
                tracing::warn!(target, failures = state.failures, failing, "push failed: {why}");
            }
        }
        store.put_notify_target_state(target, &state)?;
        self.notifier.version.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        Ok(())
    }

    /// Every configured target's status (reads the store: blocking).
    pub fn notify_status(&self) -> anyhow::Result<Vec<TargetStatus>> {
        target_statuses(&self.config(), &self.store, &self.notifier.variables)
    }
}

/// Every target of `config` with its state in `store` (`planet notify status` reads a
/// store no server holds open; the server answers the same in `/api/v1/stats`).
pub fn target_statuses(config: &Config, store: &Store, variables: &Variables) -> anyhow::Result<Vec<TargetStatus>> {
    let mut statuses = Vec::new();
    for target in &config.notify {
        let state = store.notify_target_state(&target.name)?;
        let status = match (target.secrets(|name| variables.get(name)), &state) {
            (Err(why), _) => format!("skipped: {why}"),
            (Ok(_), Some(state)) if state.failures >= limits::FAILING_AFTER => "failing".to_string(),
            (Ok(_), _) => "ready".to_string(),
        };
        let open: usize = store.open_notify_batches(&target.name)?.iter().map(|b| b.post_ids.len()).sum();
        let waiting = match &state {
            Some(state) => store.notify_outbox_after(state.cursor, 1000)?.len(),
            None => 0,
        };
        statuses.push(TargetStatus {
            name: target.name.clone(),
            kind: target.kind.name(),
            status,
            queued: open + waiting,
            delivered_batches: state.as_ref().map_or(0, |s| s.delivered_batches),
            delivered_posts: state.as_ref().map_or(0, |s| s.delivered_posts),
            last_success: state.as_ref().and_then(|s| s.last_success),
            last_error: state
                .as_ref()
                .and_then(|s| s.last_error.clone())
                .map(|(at, message)| LastError { at, message }),
            next_attempt: state.as_ref().and_then(|s| s.next_attempt),
            added_at: state.as_ref().map(|s| s.added_at),
        });
    }
    Ok(statuses)
}

/// `text` without the target's secret parts: its signing secret, its URL's query values
/// and its path segments long enough to be tokens (Slack's, Discord's, Telegram's bot).
fn redacted(text: &str, secrets: &NotifySecrets) -> String {
    let mut secret_parts: Vec<String> = secrets.url.query_pairs().map(|(_, v)| v.into_owned()).collect();
    secret_parts
        .extend(secrets.url.path_segments().into_iter().flatten().filter(|s| s.len() >= 16).map(str::to_string));
    secret_parts.extend(secrets.secret.clone());
    secret_parts.retain(|part| part.len() >= 6);
    secret_parts.sort_by_key(|part| std::cmp::Reverse(part.len()));
    let mut text = text.to_string();
    for part in secret_parts {
        text = text.replace(&part, "[redacted]");
    }
    text
}

/// Outbox entries every configured target has read go, and entries too old to be news.
fn prune_outbox(store: &Store, targets: &[String], now: DateTime<Utc>) -> anyhow::Result<usize> {
    let mut read_by_all = u64::MAX;
    for name in targets {
        read_by_all = read_by_all.min(store.notify_target_state(name)?.map_or(0, |s| s.cursor));
    }
    store.prune_notify_outbox(read_by_all, now - select::MAX_AGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_platforms_answer_quoting_the_hooks_token_is_shown_without_it() {
        let secrets = NotifySecrets {
            url: url::Url::parse("https://discord.com/api/webhooks/123/AbCdEfGhIjKlMnOpQrSt?key=wecom-key-123")
                .unwrap(),
            secret: Some("SECsigning".into()),
        };
        let answer = "HTTP 401: bad token AbCdEfGhIjKlMnOpQrSt for key=wecom-key-123 (secret SECsigning)";
        let shown = redacted(answer, &secrets);
        assert_eq!(shown, "HTTP 401: bad token [redacted] for key=[redacted] (secret [redacted])");
    }
}
