//! Giving freed memory back once the server is quiet. glibc keeps what requests freed: after
//! a crawler pages through a 1,000,000-post store, ~15 MB of the process is free memory that
//! glibc holds (BENCHMARKS.md section 14, eleventh session). `malloc_trim` returns it, but it
//! takes each arena's lock while it walks the heap, so a trim while requests run would add to
//! their latency. The serve loop therefore asks every `SETTLE_TICK`, and a trim runs only when
//! requests have come and gone since the last one and none has run for a whole tick.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How often the serve loop takes a settle step; also how long the server must have been
/// quiet before a trim.
pub const SETTLE_TICK: Duration = Duration::from_secs(1);

/// Requests begun and finished since start, counted by the HTTP layer.
#[derive(Default)]
pub struct Activity {
    begun: AtomicU64,
    finished: AtomicU64,
}

/// One request (or other work the server does for a client) from begin to drop.
pub struct Active<'a> {
    activity: &'a Activity,
}

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.activity.finished.fetch_add(1, Ordering::SeqCst);
    }
}

impl Activity {
    /// Counts work as running until the returned guard drops.
    pub fn begin(&self) -> Active<'_> {
        self.begun.fetch_add(1, Ordering::SeqCst);
        Active { activity: self }
    }

    /// Work running now.
    pub fn running(&self) -> u64 {
        let (finished, begun) = self.counts();
        begun.saturating_sub(finished)
    }

    /// Work finished so far, and whether any runs now.
    fn observe(&self) -> (u64, bool) {
        let (finished, begun) = self.counts();
        (finished, begun != finished)
    }

    /// (finished, begun). `finished` is read first: work that ends between the two reads
    /// shows as running, which only delays a trim by a tick.
    fn counts(&self) -> (u64, u64) {
        let finished = self.finished.load(Ordering::SeqCst);
        (finished, self.begun.load(Ordering::SeqCst))
    }
}

/// What the settle steps remember: the finished count at the last step and at the last trim.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Settling {
    finished_at_last_step: u64,
    finished_at_last_trim: u64,
}

impl Settling {
    /// Whether to trim now, given the work finished so far and whether any runs; and what to
    /// remember. A trim needs work since the last trim (otherwise there is nothing new to give
    /// back) and a quiet tick: nothing running now and nothing finished since the last step.
    pub fn step(self, finished: u64, running: bool) -> (bool, Settling) {
        let quiet = !running && finished == self.finished_at_last_step;
        let trim = quiet && finished != self.finished_at_last_trim;
        let finished_at_last_trim = if trim { finished } else { self.finished_at_last_trim };
        (trim, Settling { finished_at_last_step: finished, finished_at_last_trim })
    }
}

/// The service's part: what the steps remember, and whether the loop leaves them to a test.
#[derive(Default)]
pub struct Settler {
    settling: std::sync::Mutex<Settling>,
    by_hand: std::sync::atomic::AtomicBool,
}

impl super::Service {
    /// The settle loop's single step: gives freed memory back when the server has been quiet
    /// for a tick after serving something. Returns whether it trimmed.
    pub async fn settle_step(&self) -> bool {
        let (finished, running) = self.activity.observe();
        let trim = {
            let mut settling = self.settler.settling.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let (trim, next) = settling.step(finished, running);
            *settling = next;
            trim
        };
        if trim {
            let started = std::time::Instant::now();
            // The trim walks the heap: off the async workers, like every other walk.
            let _ = tokio::task::spawn_blocking(crate::memory::release_freed_memory).await;
            self.metrics.record_trim(started.elapsed());
        }
        trim
    }

    /// Leaves settle steps to the caller (a test stepping with its own requests in between).
    pub fn settle_by_hand(&self) {
        self.settler.by_hand.store(true, Ordering::Release);
    }

    pub fn settles_by_hand(&self) -> bool {
        self.settler.by_hand.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trim_waits_for_a_quiet_tick_after_work_and_comes_once() {
        let start = Settling::default();
        assert!(!start.step(0, false).0, "nothing was ever served");
        let (trim, after_work) = start.step(3, false);
        assert!(!trim, "work finished during the last tick");
        let (trim, after_trim) = after_work.step(3, false);
        assert!(trim, "a quiet tick after work");
        assert!(!after_trim.step(3, false).0, "nothing new since the trim");
    }

    #[test]
    fn no_trim_runs_while_work_runs_however_long_it_has_run() {
        let (_, running) = Settling::default().step(5, true);
        let (trim, still) = running.step(5, true);
        assert!(!trim);
        assert!(!still.step(5, true).0);
        let (trim, ended) = still.step(6, false);
        assert!(!trim, "the work ended during the last tick");
        assert!(ended.step(6, false).0);
    }

    #[test]
    fn the_activity_counts_work_as_running_until_its_guard_drops() {
        let activity = Activity::default();
        assert_eq!(activity.observe(), (0, false));
        let active = activity.begin();
        assert_eq!(activity.observe(), (0, true));
        drop(active);
        assert_eq!(activity.observe(), (1, false));
    }
}
