//! The state that the server, the loops and the commands share, and its single steps: a
//! fetch pass, a reload, the due digest. Below both `http` and `serve`: `http` handles
//! requests against a `Service`, `serve` runs the loops that call its steps. Tests call the
//! steps directly instead of waiting for the loops.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use chrono::{DateTime, TimeDelta, Utc};

use crate::config::{self, Config};
use crate::digest::send::{self as digest_send, SendOptions, SendReport};
use crate::fetch;
use crate::mail::{Mailer, StubMailbox};
use crate::metrics::Metrics;
use crate::refresh::{self, PassOptions, PassReport};
use crate::store::Store;

mod confirmations;
mod derived;
mod notify;
mod notify_take;
mod secrets;
mod settle;
mod websub;

pub use notify::{target_statuses, NotifyReport, TargetStatus};
pub use secrets::{has_variety, Secrets, Variables, MIN_ADMIN_TOKEN_CHARS};
pub use settle::{Active, Activity, SETTLE_TICK};
pub use websub::{Refusal as WebSubRefusal, Taken as WebSubTaken, PUSHES_PER_MINUTE as WEBSUB_PUSHES_PER_MINUTE};

use confirmations::ConfirmationQueue;

/// Everything the server and the loops share. Cheap to share as `Arc<Service>`.
pub struct Service {
    config: RwLock<Arc<Config>>,
    config_version: AtomicU64,
    config_modified: Mutex<Option<SystemTime>>,
    client: RwLock<fetch::Client>,
    pass_lock: Arc<tokio::sync::Mutex<()>>,
    pub store: Store,
    /// The full-text index, derived from the store (see `search`).
    pub search: crate::search::SearchIndex,
    /// Permits for work that reads the store or the index off the async workers; see
    /// `ReadPermits`.
    pub reads: ReadPermits,
    pub metrics: Metrics,
    /// Requests begun and finished (`settle`: freed memory goes back once they stop).
    pub activity: Activity,
    settler: settle::Settler,
    /// From `PLANET_ADMIN_TOKEN`; `None` disables the admin endpoint.
    pub admin_token: Option<String>,
    digest_secret: Option<Vec<u8>>,
    mailer: RwLock<Option<Arc<Mailer>>>,
    send_lock: tokio::sync::Mutex<()>,
    confirmations: ConfirmationQueue,
    /// Set at shutdown: a pass in progress ends within moments instead of at its feeds' pace.
    stop_passes: tokio::sync::watch::Sender<bool>,
    /// Push delivery's memory: each target's recent messages (rate limits), its variables.
    notifier: notify::Notifier,
    websub: websub::WebSubMemory,
    /// `stores_unshown_members`'s answer and the (stored members, config) versions it is for.
    unshown_members: crate::per_version::PerVersion<(u64, u64), bool>,
}

/// Reads of the store or the index that may run at once: each holds a blocking thread. Past
/// it, an uncached request is refused (503) instead of queueing behind the others.
pub const READ_PERMITS: usize = 4;

/// A fixed number of permits for blocking reads. Handlers `try_take` one and are told no at
/// once when none is free; tests take them all to see what a saturated server does.
pub struct ReadPermits(Arc<tokio::sync::Semaphore>);

impl ReadPermits {
    fn new(permits: usize) -> ReadPermits {
        ReadPermits(Arc::new(tokio::sync::Semaphore::new(permits)))
    }

    /// A permit if one is free now.
    pub fn try_take(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        Arc::clone(&self.0).try_acquire_owned().ok()
    }

    /// Every free permit (a test holding them sees the server saturated).
    pub fn take_all(&self) -> Vec<tokio::sync::OwnedSemaphorePermit> {
        std::iter::from_fn(|| self.try_take()).collect()
    }
}

impl Service {
    pub fn new(config: Config, store: Store, secrets: Secrets) -> anyhow::Result<Arc<Service>> {
        let client = fetch::Client::new(&config.fetch)?;
        let mailer = Mailer::from_config(&config.digest)?.map(Arc::new);
        let modified = modified_time(&config.source);
        let search =
            crate::search::SearchIndex::open(&crate::search::path_for_store(&config.store.path), &store.identity()?)?;
        if store.post_count() == 0 {
            // Nothing to group: a new store starts under the current rules.
            store.set_grouping_version(refresh::dedupe::GROUPING_VERSION)?;
        }
        Ok(Arc::new(Service {
            search,
            reads: ReadPermits::new(READ_PERMITS),
            config: RwLock::new(Arc::new(config)),
            config_version: AtomicU64::new(0),
            config_modified: Mutex::new(modified),
            client: RwLock::new(client),
            pass_lock: Arc::new(tokio::sync::Mutex::new(())),
            store,
            metrics: Metrics::default(),
            activity: Activity::default(),
            settler: settle::Settler::default(),
            admin_token: secrets.admin_token.filter(|t| !t.is_empty()),
            digest_secret: secrets.digest_secret.filter(|s| !s.is_empty()).map(String::into_bytes),
            mailer: RwLock::new(mailer),
            send_lock: tokio::sync::Mutex::new(()),
            confirmations: ConfirmationQueue::default(),
            unshown_members: Default::default(),
            stop_passes: tokio::sync::watch::Sender::new(false),
            notifier: notify::Notifier::new(secrets.variables),
            websub: websub::WebSubMemory::default(),
        }))
    }

    /// Delivers the digest and confirmations into `stub` instead of the configured SMTP
    /// server (tests); reloading feeds.toml goes back to the configured server.
    pub fn use_stub_mailbox(&self, stub: Arc<StubMailbox>) -> anyhow::Result<()> {
        let mailer = Mailer::stub(&self.config().digest, stub)?.map(Arc::new);
        if let Ok(mut slot) = self.mailer.write() {
            *slot = mailer;
        }
        Ok(())
    }

    pub fn mailer(&self) -> Option<Arc<Mailer>> {
        self.mailer.read().ok().and_then(|m| m.clone())
    }

    pub fn digest_secret(&self) -> Option<&[u8]> {
        self.digest_secret.as_deref()
    }

    /// Readers can subscribe only when mail is configured and links can be signed.
    pub fn subscriptions_enabled(&self) -> bool {
        self.digest_secret.is_some() && self.mailer().is_some()
    }

    /// Sends the digest that is due, if any (the digest loop's single step).
    pub async fn send_due_digest(&self, now: DateTime<Utc>) -> anyhow::Result<Option<SendReport>> {
        let Some(mailer) = self.mailer() else { return Ok(None) };
        let _sending = self.send_lock.lock().await;
        let config = self.config();
        let Some(week) = digest_send::due_week(&config, &self.store, now)? else { return Ok(None) };
        let report = digest_send::send_week(
            &config,
            &self.store,
            &mailer,
            self.digest_secret(),
            week,
            &SendOptions::default(),
            now,
        )
        .await?;
        Ok(Some(report))
    }

    pub fn config(&self) -> Arc<Config> {
        self.config.read().map(|c| Arc::clone(&c)).unwrap_or_else(|poisoned| Arc::clone(&poisoned.into_inner()))
    }

    /// Whether the store holds posts of a member feeds.toml no longer lists (whose posts
    /// every listing must step over). Worked out again only when the stored members or the
    /// config changed, not per request: at 10,000 members that is 10,000 lookups.
    pub fn stores_unshown_members(&self) -> bool {
        // Versions first: a reload between them leaves a stale key, which the next call redoes.
        let versions = (self.store.stored_members_version(), self.config_version.load(Ordering::Acquire));
        self.unshown_members.get_or(versions, || {
            let config = self.config();
            self.store.any_stored_member(|member| !config.shows_member(member))
        })
    }

    /// Changes whenever what the outputs show may change: a store write, a config reload, or
    /// a commit to the search index (which follows the store a moment later).
    pub fn version(&self) -> (u64, u64) {
        (self.store.generation(), self.config_version.load(Ordering::Acquire) + self.search.generation())
    }

    /// Runs one pass now unless one is running (passes never overlap); `None` if one was.
    pub async fn try_run_pass(
        self: &Arc<Self>,
        now: DateTime<Utc>,
        options: &PassOptions,
    ) -> anyhow::Result<Option<PassReport>> {
        let Ok(_running) = self.pass_lock.try_lock() else { return Ok(None) };
        self.pass_while_locked(now, options).await.map(Some)
    }

    /// Starts a pass in the background unless one is running; says whether it started.
    pub fn start_pass(self: &Arc<Self>, options: PassOptions) -> bool {
        let Ok(running) = Arc::clone(&self.pass_lock).try_lock_owned() else { return false };
        let service = Arc::clone(self);
        tokio::spawn(async move {
            let _running = running;
            if let Err(error) = service.pass_while_locked(Utc::now(), &options).await {
                tracing::error!("fetch pass failed: {error:#}");
            }
        });
        true
    }

    async fn pass_while_locked(
        self: &Arc<Self>,
        now: DateTime<Utc>,
        options: &PassOptions,
    ) -> anyhow::Result<PassReport> {
        let mut options = options.clone();
        options.stop = options.stop.or_else(|| Some(self.stop_passes.subscribe()));
        let options = &options;
        let config = self.config();
        let client = self.client.read().map(|c| c.clone()).unwrap_or_else(|p| p.into_inner().clone());
        let report = refresh::run_pass(&config, &self.store, &client, now, options).await;
        if report.is_ok() {
            // The same pass brings the search index up to date with what it wrote.
            self.update_search_index_in_background().await;
            self.maintain_body_log_in_background().await;
        }
        // After the index update: its writer's arena (tantivy's 15 MB) is freed by then.
        crate::memory::release_freed_memory();
        let report = report?;
        self.store.set_last_pass(now)?;
        // Hubs learn of what changed; members' hubs are subscribed to (or renewed at).
        self.ping_hubs(&report, now).await;
        if let Err(error) = self.maintain_subscriptions(now).await {
            tracing::error!("WebSub subscriptions not maintained: {error:#}");
        }
        self.metrics.record_pass(&report);
        let totals = report.totals();
        let failed =
            report.count(|o| matches!(o, refresh::Outcome::Failed { .. } | refresh::Outcome::RetryLater { .. }));
        tracing::info!(
            feeds = report.feeds.len(),
            new = totals.new,
            updated = totals.updated,
            unchanged = totals.unchanged,
            failed,
            "fetch pass finished"
        );
        Ok(report)
    }

    /// The fetch client as configured now (feeds and push share its SSRF guard).
    pub fn fetch_client(&self) -> fetch::Client {
        self.client.read().map(|c| c.clone()).unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Ends a pass in progress now, and every later one at once (shutdown).
    pub fn stop_passes(&self) {
        self.stop_passes.send_replace(true);
    }

    /// Waits for a running pass to finish (used at shutdown).
    pub async fn wait_for_pass(&self) {
        let _ = self.pass_lock.lock().await;
    }

    /// Whether the last pass is older than the schedule's interval (or there was none).
    pub fn pass_is_due(&self, now: DateTime<Utc>) -> anyhow::Result<bool> {
        let Some(last) = self.store.last_pass()? else { return Ok(true) };
        Ok(now - last >= schedule_interval(&self.config().fetch.schedule, now))
    }

    /// The next scheduled pass after `after`, with up to 10% of the interval (max 2 minutes)
    /// of jitter so that many planets on one schedule do not hit the same hosts together.
    pub fn next_pass_after(&self, after: DateTime<Utc>) -> DateTime<Utc> {
        let config = self.config();
        let zone = config.site.timezone;
        let next = config.fetch.schedule.after(&after.with_timezone(&zone)).next().map(|t| t.with_timezone(&Utc));
        let next = next.unwrap_or(after + TimeDelta::hours(1));
        let interval = schedule_interval(&config.fetch.schedule, after);
        let jitter_cap = (interval.num_milliseconds() / 10).clamp(0, 120_000) as u64;
        next + TimeDelta::milliseconds(random_below(jitter_cap) as i64)
    }

    /// Re-reads the configuration file. An invalid file is logged and the old config stays.
    /// Returns whether a new config was installed.
    pub fn reload(&self) -> bool {
        let path = self.config().source.clone();
        match config::load(&path) {
            Ok(new_config) => {
                if new_config.store.path != self.config().store.path {
                    tracing::warn!("the [store] path changed; it takes effect at the next restart");
                }
                match fetch::Client::new(&new_config.fetch) {
                    Ok(client) => {
                        if let Ok(mut slot) = self.client.write() {
                            *slot = client;
                        }
                    }
                    Err(error) => tracing::warn!("keeping the old fetch settings: {error:#}"),
                }
                match Mailer::from_config(&new_config.digest) {
                    Ok(mailer) => {
                        if let Ok(mut slot) = self.mailer.write() {
                            *slot = mailer.map(Arc::new);
                        }
                    }
                    Err(error) => tracing::warn!("keeping the old mail settings: {error:#}"),
                }
                let members = new_config.members.len();
                if let Ok(mut slot) = self.config.write() {
                    *slot = Arc::new(new_config);
                }
                self.config_version.fetch_add(1, Ordering::AcqRel);
                tracing::info!(members, "configuration reloaded from {}", path.display());
                true
            }
            Err(error) => {
                tracing::error!("configuration not reloaded, the old one stays: {error:#}");
                false
            }
        }
    }

    /// Reloads when the file's modification time changed since the last look.
    pub fn reload_if_modified(&self) -> bool {
        let path = self.config().source.clone();
        let modified = modified_time(&path);
        let changed = {
            let Ok(mut last) = self.config_modified.lock() else { return false };
            let changed = modified.is_some() && modified != *last;
            *last = modified;
            changed
        };
        changed && self.reload()
    }
}

fn modified_time(path: &PathBuf) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The gap between the next two scheduled times: what "older than the schedule" means.
fn schedule_interval(schedule: &cron::Schedule, now: DateTime<Utc>) -> TimeDelta {
    let mut upcoming = schedule.after(&now);
    match (upcoming.next(), upcoming.next()) {
        (Some(first), Some(second)) => second - first,
        _ => TimeDelta::hours(1),
    }
}

fn random_below(limit: u64) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    if limit == 0 {
        return 0;
    }
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(limit);
    hasher.finish() % limit
}
