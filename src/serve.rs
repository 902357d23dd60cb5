//! `planet serve`: one process that serves HTTP and runs fetch passes on the cron schedule.
//! `run` wires the HTTP server, the scheduler loop, the digest loop and the reload loop
//! together around a `Service` and shuts them down in order.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::refresh::PassOptions;
use crate::service::Service;

/// Serves HTTP on `listener` and runs the scheduler and the reload watcher until `shutdown`
/// resolves; then stops accepting, lets in-flight requests and the current pass finish,
/// flushes the store and returns.
pub async fn run(
    service: Arc<Service>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stop_sender, stop) = watch::channel(false);
    // The digest waits for the start-up pass, so a digest caught up at start sees the posts.
    let (started_sender, started) = watch::channel(false);
    let scheduler = tokio::spawn(schedule_loop(Arc::clone(&service), stop.clone(), started_sender));
    let reloader = tokio::spawn(reload_loop(Arc::clone(&service), stop.clone()));
    let digester = tokio::spawn(digest_loop(Arc::clone(&service), stop.clone(), started));
    let confirmer = tokio::spawn(confirmation_loop(Arc::clone(&service), stop.clone()));
    // Reads each target's state and queue: on a blocking thread, like every store read.
    let reporting = Arc::clone(&service);
    tokio::task::spawn_blocking(move || report_notify_targets(&reporting));
    let notifier = tokio::spawn(notify_loop(Arc::clone(&service), stop.clone()));
    let settler = tokio::spawn(settle_loop(Arc::clone(&service), stop.clone()));
    // A missing or outdated search index is rebuilt while the server already answers (`q`
    // gets 503 until it is ready); then the outbox left by a crash or an import is taken in.
    let indexer = tokio::spawn({
        let service = Arc::clone(&service);
        async move {
            // A store from before the grouping of copies (or just imported) is grouped first,
            // so that the index takes in the grouped posts.
            let regrouping = Arc::clone(&service);
            match tokio::task::spawn_blocking(move || regrouping.regroup_if_needed()).await {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => tracing::error!("grouping copies of articles failed: {error:#}"),
                Err(error) => tracing::error!("grouping copies of articles panicked: {error}"),
            }
            service.update_search_index_in_background().await
        }
    });
    let address = listener.local_addr()?;
    tracing::info!(%address, "serving");
    let stopping_service = Arc::clone(&service);
    let stopping = async move {
        shutdown.await;
        tracing::info!("shutting down: finishing requests; a fetch pass in progress stops now");
        stopping_service.stop_passes();
        let _ = stop_sender.send(true);
    };
    crate::http::serve(Arc::clone(&service), listener, stopping).await?;
    let _ = scheduler.await;
    let _ = reloader.await;
    let _ = digester.await;
    let _ = confirmer.await;
    let _ = notifier.await;
    let _ = settler.await;
    let _ = indexer.await;
    service.wait_for_pass().await;
    service.store.flush()?;
    tracing::info!("stopped");
    Ok(())
}

async fn schedule_loop(service: Arc<Service>, mut stop: watch::Receiver<bool>, started: watch::Sender<bool>) {
    match service.pass_is_due(Utc::now()) {
        Ok(true) => run_scheduled_pass(&service).await,
        Ok(false) => {}
        Err(error) => tracing::error!("cannot read the last pass time: {error:#}"),
    }
    let _ = started.send(true);
    loop {
        let now = Utc::now();
        let wait = (service.next_pass_after(now) - now).to_std().unwrap_or(Duration::ZERO);
        tokio::select! {
            _ = tokio::time::sleep(wait) => run_scheduled_pass(&service).await,
            _ = stop.changed() => return,
        }
    }
}

async fn run_scheduled_pass(service: &Arc<Service>) {
    match service.try_run_pass(Utc::now(), &PassOptions::default()).await {
        Ok(Some(_)) => {}
        Ok(None) => tracing::info!("a pass is still running; this scheduled one is skipped"),
        Err(error) => tracing::error!("fetch pass failed: {error:#}"),
    }
}

/// Sends the due digest: at start (catching up on a week missed while down), then at each
/// scheduled time; after a temporary failure, again after 1, 2, 4 ... up to 60 minutes.
async fn digest_loop(service: Arc<Service>, mut stop: watch::Receiver<bool>, mut started: watch::Receiver<bool>) {
    tokio::select! {
        _ = started.wait_for(|done| *done) => {}
        _ = stop.changed() => return,
    }
    let mut retry_minutes = 0i64;
    loop {
        let now = Utc::now();
        match service.send_due_digest(now).await {
            Ok(Some(report)) if !report.completed => retry_minutes = (retry_minutes * 2).clamp(1, 60),
            Ok(_) => retry_minutes = 0,
            Err(error) => {
                tracing::error!("digest send failed: {error:#}");
                retry_minutes = (retry_minutes * 2).clamp(1, 60);
            }
        }
        let config = service.config();
        let zone = config.site.timezone;
        let scheduled = config.digest.schedule.after(&now.with_timezone(&zone)).next().map(|t| t.with_timezone(&Utc));
        let next = match retry_minutes {
            0 => scheduled.unwrap_or(now + TimeDelta::hours(1)),
            minutes => now + TimeDelta::minutes(minutes),
        };
        let wait = (next - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Mails subscription confirmations as they are queued; at shutdown, the queue is drained.
async fn confirmation_loop(service: Arc<Service>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = service.confirmation_queued() => { service.send_queued_confirmations().await; }
            _ = stop.changed() => {
                service.send_queued_confirmations().await;
                return;
            }
        }
    }
}

/// How often the push loop looks at the outbox: a post reaches a group within about this,
/// plus `notify::select::SETTLE`, after the pass that found it.
const NOTIFY_TICK: Duration = Duration::from_millis(500);

/// Push delivery: a step every `NOTIFY_TICK` (cheap when nothing waits: a few reads per
/// target, and a look at the outbox's first entry).
async fn notify_loop(service: Arc<Service>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(NOTIFY_TICK) => {}
            _ = stop.changed() => return,
        }
        // Without targets the step only clears the outbox the passes keep filling.
        if !service.notifications_by_hand() {
            let report = service.deliver_notifications(Utc::now()).await;
            for (target, posts) in report.delivered {
                tracing::debug!(%target, posts, "push step delivered");
            }
        }
    }
}

/// Gives freed memory back once requests stop (`service::settle`): a step every tick.
async fn settle_loop(service: Arc<Service>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(crate::service::SETTLE_TICK) => {}
            _ = stop.changed() => return,
        }
        if !service.settles_by_hand() {
            service.settle_step().await;
        }
    }
}

/// Says at start which push targets are ready and which are skipped (a variable missing):
/// the rest go on without them.
fn report_notify_targets(service: &Service) {
    match service.notify_status() {
        Ok(statuses) => {
            for status in statuses {
                if status.status.starts_with("skipped") {
                    tracing::warn!(target = %status.name, "push target {}", status.status);
                } else {
                    tracing::info!(target = %status.name, kind = status.kind, "push target ready");
                }
            }
        }
        Err(error) => tracing::error!("cannot read the push targets' state: {error:#}"),
    }
}

/// Reloads on SIGHUP and when feeds.toml changes on disk (checked every two seconds).
async fn reload_loop(service: Arc<Service>, mut stop: watch::Receiver<bool>) {
    #[cfg(unix)]
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    loop {
        #[cfg(unix)]
        let signal = async {
            match hangup.as_mut() {
                Some(signal) => signal.recv().await,
                None => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let signal = std::future::pending::<Option<()>>();
        tokio::select! {
            _ = signal => { service.reload(); }
            _ = tokio::time::sleep(Duration::from_secs(2)) => { service.reload_if_modified(); }
            _ = stop.changed() => return,
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
}
