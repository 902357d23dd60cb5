//! How long a failing feed waits before the next try: exponential from ten minutes, capped,
//! with ±25% jitter so feeds that failed together do not retry together. A server's
//! Retry-After is a floor (within the cap).

use std::hash::{BuildHasher, Hash, Hasher};
use std::time::Duration;

use chrono::TimeDelta;
use url::Url;

const FIRST_DELAY_SECONDS: u64 = 600;

pub fn delay(consecutive_failures: u32, retry_after: Option<Duration>, cap: Duration, feed: &Url) -> TimeDelta {
    let exponent = consecutive_failures.saturating_sub(1).min(20);
    let base = Duration::from_secs(FIRST_DELAY_SECONDS.saturating_mul(1 << exponent)).min(cap);
    let jittered = base.mul_f64(0.75 + 0.5 * unit_random(feed, consecutive_failures));
    let delay = jittered.max(retry_after.unwrap_or_default()).min(cap);
    TimeDelta::from_std(delay).unwrap_or(TimeDelta::hours(24))
}

/// A number in [0, 1) from std's randomly keyed hasher: enough for jitter, no extra crate.
fn unit_random(feed: &Url, attempt: u32) -> f64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    feed.as_str().hash(&mut hasher);
    attempt.hash(&mut hasher);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_up_to_the_cap() {
        let url = Url::parse("https://x.cn/feed").unwrap();
        let cap = Duration::from_secs(24 * 3600);
        let first = delay(1, None, cap, &url).num_seconds();
        assert!((450..=750).contains(&first), "{first}");
        let fourth = delay(4, None, cap, &url).num_seconds();
        assert!((3600..=6000).contains(&fourth), "{fourth}");
        assert!(delay(30, None, cap, &url).num_seconds() <= 24 * 3600);
    }

    #[test]
    fn retry_after_is_honoured_within_the_cap() {
        let url = Url::parse("https://x.cn/feed").unwrap();
        let cap = Duration::from_secs(24 * 3600);
        assert_eq!(delay(1, Some(Duration::from_secs(7200)), cap, &url).num_seconds(), 7200);
        assert_eq!(delay(1, Some(Duration::from_secs(999_999)), cap, &url).num_seconds(), 24 * 3600);
    }
}
