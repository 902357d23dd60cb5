//! Shared by the bench binaries: process CPU time and memory from /proc, and percentiles.

#![allow(dead_code)]

use std::time::Duration;

/// User + system CPU time of this process so far.
pub fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks: u64 = fields.get(11).and_then(|u| u.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|s| s.parse().ok()).unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn status_kb(field: &str) -> u64 {
    status_kb_of("self", field)
}

fn status_kb_of(process: &str, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{process}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Peak resident memory (VmHWM) in MB.
pub fn peak_rss_mb() -> f64 {
    status_kb("VmHWM:") as f64 / 1024.0
}

/// Current resident memory (VmRSS) in MB.
pub fn rss_mb() -> f64 {
    status_kb("VmRSS:") as f64 / 1024.0
}

/// Current resident memory (VmRSS) of another process in MB.
pub fn rss_mb_of(pid: u32) -> f64 {
    status_kb_of(&pid.to_string(), "VmRSS:") as f64 / 1024.0
}

/// Resets the peak to the current resident size (Linux: write 5 to clear_refs).
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Whether this is `cargo test` running the bench binary (cargo bench passes `--bench`):
/// then a bench does a small, quick run in debug mode, so that it keeps working, and says
/// that its figures are not measurements.
pub fn smoke_run() -> bool {
    let smoke = !std::env::args().any(|a| a == "--bench");
    if smoke {
        println!("smoke run (cargo test, not cargo bench): the harness runs; these figures are not measurements");
    }
    smoke
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// (anonymous, file-backed) resident MB of another process.
pub fn rss_split_mb_of(pid: u32) -> (f64, f64) {
    let process = pid.to_string();
    (status_kb_of(&process, "RssAnon:") as f64 / 1024.0, status_kb_of(&process, "RssFile:") as f64 / 1024.0)
}
