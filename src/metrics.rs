//! Counters for `/metrics`, written in the Prometheus text format by hand: a handful of
//! counters and one histogram do not justify a metrics framework.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use crate::refresh::{Outcome, PassReport};

/// Upper bounds (seconds) of the fetch duration histogram.
const DURATION_BUCKETS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// Values that are read, not counted: taken from the store and the render cache per request.
pub struct Gauges {
    pub posts_stored: usize,
    /// Posts found unreadable since start (a damaged body log) and not written again.
    pub posts_damaged: usize,
    pub render_cache_entries: usize,
    pub render_cache_bytes: usize,
    pub store_bytes: u64,
    pub search_index_bytes: u64,
    pub search_ready: bool,
    /// Requests being served now, monitoring polls left out (`service::settle`).
    pub requests_in_flight: u64,
}

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    fetches: BTreeMap<&'static str, u64>,
    duration_buckets: Vec<u64>,
    duration_sum: f64,
    duration_count: u64,
    passes: u64,
    /// Route → status → count; looked up by `&str`, so counting allocates nothing.
    requests: BTreeMap<String, BTreeMap<u16, u64>>,
    renders: BTreeMap<String, u64>,
    compressions: BTreeMap<&'static str, u64>,
    refused_reads: u64,
    trims: u64,
    trim_seconds: f64,
    /// Push messages by (target, result).
    notify: BTreeMap<(String, &'static str), u64>,
    /// Push failures in a row per target (a success resets it).
    notify_failures: BTreeMap<String, u32>,
}

fn result_label(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Refreshed => "refreshed",
        Outcome::NotModified => "not_modified",
        Outcome::Skipped { .. } => "skipped",
        Outcome::Gone => "gone",
        Outcome::RetryLater { .. } => "retry_later",
        Outcome::Failed { .. } => "failed",
    }
}

impl Metrics {
    pub fn record_pass(&self, report: &PassReport) {
        let Ok(mut inner) = self.inner.lock() else { return };
        inner.passes += 1;
        if inner.duration_buckets.is_empty() {
            inner.duration_buckets = vec![0; DURATION_BUCKETS.len()];
        }
        for feed in &report.feeds {
            *inner.fetches.entry(result_label(&feed.outcome)).or_default() += 1;
            if matches!(feed.outcome, Outcome::Skipped { .. } | Outcome::Gone) {
                continue;
            }
            let seconds = feed.millis as f64 / 1000.0;
            inner.duration_sum += seconds;
            inner.duration_count += 1;
            for (bucket, bound) in DURATION_BUCKETS.iter().enumerate() {
                if seconds <= *bound {
                    inner.duration_buckets[bucket] += 1;
                }
            }
        }
    }

    /// A cached output (feed, OPML) was rendered: should happen once per store change.
    pub fn record_render(&self, what: &str) {
        if let Ok(mut inner) = self.inner.lock() {
            *inner.renders.entry(what.to_string()).or_default() += 1;
        }
    }

    /// A request that would read the store was refused: every read permit was taken.
    pub fn record_refused_read(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.refused_reads += 1;
        }
    }

    /// Freed memory was given back to the system (`service::settle`), taking `took`.
    pub fn record_trim(&self, took: std::time::Duration) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.trims += 1;
            inner.trim_seconds += took.as_secs_f64();
        }
    }

    /// What a push target answered to one message.
    pub fn record_notify(&self, target: &str, answer: &crate::notify::limits::Answer) {
        use crate::notify::limits::Answer;
        let Ok(mut inner) = self.inner.lock() else { return };
        let result = match answer {
            Answer::Accepted => "delivered",
            Answer::RateLimited(_) => "rate_limited",
            Answer::Failed(_) => "failed",
        };
        *inner.notify.entry((target.to_string(), result)).or_default() += 1;
        let failures = inner.notify_failures.entry(target.to_string()).or_default();
        match answer {
            Answer::Accepted => *failures = 0,
            Answer::Failed(_) => *failures += 1,
            Answer::RateLimited(_) => {}
        }
    }

    /// A compressed variant of a rendered body was built: once per render and encoding.
    pub fn record_compression(&self, encoding: &'static str) {
        if let Ok(mut inner) = self.inner.lock() {
            *inner.compressions.entry(encoding).or_default() += 1;
        }
    }

    pub fn record_request(&self, route: &str, status: u16) {
        if let Ok(mut inner) = self.inner.lock() {
            match inner.requests.get_mut(route) {
                Some(statuses) => *statuses.entry(status).or_default() += 1,
                None => {
                    inner.requests.insert(route.to_string(), BTreeMap::from([(status, 1)]));
                }
            }
        }
    }

    /// The Prometheus text exposition, with the gauges read at the moment of the request.
    pub fn render(&self, gauges: &Gauges) -> String {
        let Gauges {
            posts_stored,
            posts_damaged,
            render_cache_entries,
            render_cache_bytes,
            store_bytes,
            search_index_bytes,
            search_ready,
            requests_in_flight,
        } = gauges;
        let Ok(inner) = self.inner.lock() else { return String::new() };
        let mut out = String::new();
        let _ =
            writeln!(out, "# HELP planet_fetches_total Feed fetches by result.\n# TYPE planet_fetches_total counter");
        for (result, count) in &inner.fetches {
            let _ = writeln!(out, "planet_fetches_total{{result=\"{result}\"}} {count}");
        }
        let _ = writeln!(out, "# HELP planet_fetch_duration_seconds Time to fetch, parse and store one feed.\n# TYPE planet_fetch_duration_seconds histogram");
        for (index, bound) in DURATION_BUCKETS.iter().enumerate() {
            let count = inner.duration_buckets.get(index).copied().unwrap_or(0);
            let _ = writeln!(out, "planet_fetch_duration_seconds_bucket{{le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(out, "planet_fetch_duration_seconds_bucket{{le=\"+Inf\"}} {}", inner.duration_count);
        let _ = writeln!(out, "planet_fetch_duration_seconds_sum {}", inner.duration_sum);
        let _ = writeln!(out, "planet_fetch_duration_seconds_count {}", inner.duration_count);
        let _ = writeln!(out, "# HELP planet_passes_total Fetch passes completed.\n# TYPE planet_passes_total counter");
        let _ = writeln!(out, "planet_passes_total {}", inner.passes);
        let _ = writeln!(out, "# HELP planet_posts_stored Posts in the store.\n# TYPE planet_posts_stored gauge");
        let _ = writeln!(out, "planet_posts_stored {posts_stored}");
        let _ = writeln!(out, "# HELP planet_posts_damaged Stored posts found unreadable and left out of every output.\n# TYPE planet_posts_damaged gauge");
        let _ = writeln!(out, "planet_posts_damaged {posts_damaged}");
        let _ = writeln!(out, "# HELP planet_http_requests_total HTTP requests by route and status.\n# TYPE planet_http_requests_total counter");
        for (route, statuses) in &inner.requests {
            let route = route.replace('\\', "\\\\").replace('"', "\\\"");
            for (status, count) in statuses {
                let _ = writeln!(out, "planet_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {count}");
            }
        }
        let _ = writeln!(out, "# HELP planet_renders_total Cached outputs rendered (once per change).\n# TYPE planet_renders_total counter");
        for (what, count) in &inner.renders {
            let _ = writeln!(out, "planet_renders_total{{output=\"{what}\"}} {count}");
        }
        let _ = writeln!(out, "# HELP planet_compressions_total Compressed variants of rendered bodies built (once per render and encoding).\n# TYPE planet_compressions_total counter");
        for (encoding, count) in &inner.compressions {
            let _ = writeln!(out, "planet_compressions_total{{encoding=\"{encoding}\"}} {count}");
        }
        let _ = writeln!(
            out,
            "# HELP planet_render_cache_entries Rendered bodies cached.\n# TYPE planet_render_cache_entries gauge"
        );
        let _ = writeln!(out, "planet_render_cache_entries {render_cache_entries}");
        let _ = writeln!(out, "# HELP planet_render_cache_bytes What the cached bodies cost, with room for their compressed variants.\n# TYPE planet_render_cache_bytes gauge");
        let _ = writeln!(out, "planet_render_cache_bytes {render_cache_bytes}");
        let _ = writeln!(
            out,
            "# HELP planet_store_bytes Bytes the store's files take on disk.\n# TYPE planet_store_bytes gauge"
        );
        let _ = writeln!(out, "planet_store_bytes {store_bytes}");
        let _ = writeln!(out, "# HELP planet_search_index_bytes Bytes the search index's files take on disk.\n# TYPE planet_search_index_bytes gauge");
        let _ = writeln!(out, "planet_search_index_bytes {search_index_bytes}");
        let _ = writeln!(out, "# HELP planet_search_ready 1 when the search index holds every post, 0 while it is built.\n# TYPE planet_search_ready gauge");
        let _ = writeln!(out, "planet_search_ready {}", u8::from(*search_ready));
        let _ = writeln!(out, "# HELP planet_refused_reads_total Requests answered 503 because every read permit was taken.\n# TYPE planet_refused_reads_total counter");
        let _ = writeln!(out, "planet_refused_reads_total {}", inner.refused_reads);
        let _ = writeln!(out, "# HELP planet_requests_in_flight Requests being served now (monitoring polls left out).\n# TYPE planet_requests_in_flight gauge");
        let _ = writeln!(out, "planet_requests_in_flight {requests_in_flight}");
        let _ = writeln!(out, "# HELP planet_memory_trims_total Times freed memory was given back to the system once requests stopped.\n# TYPE planet_memory_trims_total counter");
        let _ = writeln!(out, "planet_memory_trims_total {}", inner.trims);
        let _ = writeln!(out, "# HELP planet_memory_trim_seconds_total Time those trims took.\n# TYPE planet_memory_trim_seconds_total counter");
        let _ = writeln!(out, "planet_memory_trim_seconds_total {}", inner.trim_seconds);
        let _ = writeln!(out, "# HELP planet_notify_messages_total Push messages by target and result.\n# TYPE planet_notify_messages_total counter");
        for ((target, result), count) in &inner.notify {
            let _ = writeln!(out, "planet_notify_messages_total{{target=\"{target}\",result=\"{result}\"}} {count}");
        }
        let _ = writeln!(out, "# HELP planet_notify_failing 1 while a push target has failed {} times in a row or more.\n# TYPE planet_notify_failing gauge", crate::notify::limits::FAILING_AFTER);
        for (target, failures) in &inner.notify_failures {
            let failing = u8::from(*failures >= crate::notify::limits::FAILING_AFTER);
            let _ = writeln!(out, "planet_notify_failing{{target=\"{target}\"}} {failing}");
        }
        out
    }
}
