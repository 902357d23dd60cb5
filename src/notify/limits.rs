//! How fast each platform may be sent to, how long to wait after a failure, and what a
//! platform's answer means. Pure: times are arguments.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use crate::config::NotifyKind;

/// Messages per window each platform documents: WeCom and DingTalk 20 a minute; Feishu 100
/// a minute and 5 a second; Slack about one a second; Discord 5 per 2 seconds per webhook;
/// Telegram 20 a minute in a group. A generic webhook: 10 a second, to be a good neighbour.
pub fn rate_limits(kind: NotifyKind) -> &'static [(usize, Duration)] {
    const MINUTE: Duration = Duration::from_secs(60);
    const SECOND: Duration = Duration::from_secs(1);
    const TWENTY_A_MINUTE: [(usize, Duration); 1] = [(20, MINUTE)];
    const FEISHU: [(usize, Duration); 2] = [(100, MINUTE), (5, SECOND)];
    const SLACK: [(usize, Duration); 1] = [(1, SECOND)];
    const DISCORD: [(usize, Duration); 1] = [(5, Duration::from_secs(2))];
    const WEBHOOK: [(usize, Duration); 1] = [(10, SECOND)];
    match kind {
        NotifyKind::WeCom | NotifyKind::DingTalk | NotifyKind::Telegram => &TWENTY_A_MINUTE,
        NotifyKind::Feishu => &FEISHU,
        NotifyKind::Slack => &SLACK,
        NotifyKind::Discord => &DISCORD,
        NotifyKind::Webhook => &WEBHOOK,
    }
}

/// The times of a target's recent messages, enough to keep within every window.
#[derive(Debug, Default, Clone)]
pub struct RateWindow {
    sent: VecDeque<DateTime<Utc>>,
}

impl RateWindow {
    /// `None` when a message may go at `now`; otherwise the earliest moment one may.
    pub fn next_allowed(&self, kind: NotifyKind, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut wait_until: Option<DateTime<Utc>> = None;
        for &(count, window) in rate_limits(kind) {
            let window = TimeDelta::from_std(window).unwrap_or(TimeDelta::MAX);
            let recent: Vec<&DateTime<Utc>> = self.sent.iter().filter(|at| now - **at < window).collect();
            if recent.len() >= count {
                // The oldest message inside the window leaves it first.
                let free_at = *recent[recent.len() - count] + window;
                wait_until = Some(wait_until.map_or(free_at, |w| w.max(free_at)));
            }
        }
        wait_until
    }

    pub fn record(&mut self, kind: NotifyKind, at: DateTime<Utc>) {
        self.sent.push_back(at);
        let longest = rate_limits(kind).iter().map(|&(_, w)| w).max().unwrap_or_default();
        let longest = TimeDelta::from_std(longest).unwrap_or(TimeDelta::MAX);
        while self.sent.front().is_some_and(|first| at - *first >= longest) {
            self.sent.pop_front();
        }
    }
}

/// Failures in a row after which a target is reported failing.
pub const FAILING_AFTER: u32 = 3;
/// Attempts (not counting rate limits) after which a batch is given up and recorded rejected.
pub const MAX_ATTEMPTS: u32 = 10;
/// The slowest retry of a failing target.
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// The wait after the `failures`-th failure in a row: 30 s doubling to an hour, never less
/// than what the platform asked for.
pub fn backoff(failures: u32, asked: Option<Duration>) -> Duration {
    let doubled = Duration::from_secs(30).saturating_mul(1u32 << failures.saturating_sub(1).min(10));
    doubled.min(MAX_BACKOFF).max(asked.unwrap_or_default().min(MAX_BACKOFF))
}

/// What the platform's answer means for the batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Accepted,
    /// Too fast: wait (as long as the platform said, when it did) and send the same again.
    RateLimited(Option<Duration>),
    /// Refused or broken: counted against the batch, retried with backoff.
    Failed(String),
}

/// Reads a platform's HTTP answer: the status, a `Retry-After` header, and the body where
/// the platform puts its verdict (WeCom and DingTalk `errcode`, Feishu `code`, Telegram
/// `ok`, each answered with HTTP 200 even when they refuse).
pub fn read_answer(kind: NotifyKind, status: u16, retry_after: Option<Duration>, body: &[u8]) -> Answer {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let seconds =
        |value: Option<&Value>| value.and_then(Value::as_f64).map(|s| Duration::from_secs_f64(s.clamp(0.0, 86_400.0)));
    let brief = || String::from_utf8_lossy(&body[..body.len().min(200)]).trim().to_string();
    if status == 429 {
        let asked = match kind {
            NotifyKind::Discord => seconds(json.as_ref().and_then(|j| j.get("retry_after"))),
            NotifyKind::Telegram => seconds(json.as_ref().and_then(|j| j.pointer("/parameters/retry_after"))),
            _ => None,
        };
        return Answer::RateLimited(asked.or(retry_after));
    }
    if !(200..300).contains(&status) {
        return Answer::Failed(format!("HTTP {status}: {}", brief()));
    }
    let code = |field: &str| json.as_ref().and_then(|j| j.get(field)).and_then(Value::as_i64);
    let message =
        |field: &str| json.as_ref().and_then(|j| j.get(field)).and_then(Value::as_str).unwrap_or("").to_string();
    match kind {
        // WeCom 45009 and DingTalk 130101 / 410100: sent too fast.
        NotifyKind::WeCom | NotifyKind::DingTalk => match code("errcode") {
            Some(0) => Answer::Accepted,
            Some(45009 | 130101 | 410100) => Answer::RateLimited(Some(Duration::from_secs(60))),
            Some(other) => Answer::Failed(format!("errcode {other}: {}", message("errmsg"))),
            None => Answer::Failed(format!("no errcode in the answer: {}", brief())),
        },
        // Feishu 11232 and 9499: frequency limited.
        NotifyKind::Feishu => match code("code").or_else(|| code("StatusCode")) {
            Some(0) => Answer::Accepted,
            Some(11232 | 9499) => Answer::RateLimited(Some(Duration::from_secs(60))),
            Some(other) => Answer::Failed(format!("code {other}: {}", message("msg"))),
            None => Answer::Failed(format!("no code in the answer: {}", brief())),
        },
        NotifyKind::Telegram => match json.as_ref().and_then(|j| j.get("ok")).and_then(Value::as_bool) {
            Some(true) => Answer::Accepted,
            _ => Answer::Failed(format!("not ok: {}", message("description"))),
        },
        NotifyKind::Slack | NotifyKind::Discord | NotifyKind::Webhook => Answer::Accepted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn a_wecom_target_sends_twenty_in_a_minute_then_waits_for_the_first_to_leave_the_window() {
        let mut window = RateWindow::default();
        for i in 0..20 {
            assert_eq!(window.next_allowed(NotifyKind::WeCom, at(i)), None);
            window.record(NotifyKind::WeCom, at(i));
        }
        assert_eq!(window.next_allowed(NotifyKind::WeCom, at(20)), Some(at(60)));
        assert_eq!(window.next_allowed(NotifyKind::WeCom, at(60)), None);
    }

    #[test]
    fn feishu_keeps_within_five_a_second_and_a_hundred_a_minute() {
        let mut window = RateWindow::default();
        for i in 0..5 {
            window.record(NotifyKind::Feishu, at(0) + TimeDelta::milliseconds(i * 10));
        }
        assert_eq!(window.next_allowed(NotifyKind::Feishu, at(0) + TimeDelta::milliseconds(100)), Some(at(1)));
    }

    #[test]
    fn answers_are_read_as_each_platform_writes_them() {
        let read = |kind, status, body: &str| read_answer(kind, status, None, body.as_bytes());
        assert_eq!(read(NotifyKind::WeCom, 200, r#"{"errcode":0,"errmsg":"ok"}"#), Answer::Accepted);
        assert_eq!(
            read(NotifyKind::WeCom, 200, r#"{"errcode":45009,"errmsg":"api freq out of limit"}"#),
            Answer::RateLimited(Some(Duration::from_secs(60)))
        );
        assert!(
            matches!(read(NotifyKind::DingTalk, 200, r#"{"errcode":310000,"errmsg":"sign not match"}"#), Answer::Failed(m) if m.contains("310000"))
        );
        assert!(
            matches!(read(NotifyKind::Feishu, 200, r#"{"code":19021,"msg":"sign match fail"}"#), Answer::Failed(m) if m.contains("19021"))
        );
        assert_eq!(
            read(
                NotifyKind::Discord,
                429,
                r#"{"message":"You are being rate limited.","retry_after":1.5,"global":false}"#
            ),
            Answer::RateLimited(Some(Duration::from_millis(1500)))
        );
        assert_eq!(
            read(NotifyKind::Telegram, 429, r#"{"ok":false,"error_code":429,"parameters":{"retry_after":7}}"#),
            Answer::RateLimited(Some(Duration::from_secs(7)))
        );
        assert!(matches!(read(NotifyKind::Slack, 404, "no_service"), Answer::Failed(m) if m.contains("no_service")));
        assert_eq!(read(NotifyKind::Webhook, 204, ""), Answer::Accepted);
    }

    #[test]
    fn backoff_doubles_from_thirty_seconds_to_an_hour_and_honours_what_was_asked() {
        assert_eq!(backoff(1, None), Duration::from_secs(30));
        assert_eq!(backoff(3, None), Duration::from_secs(120));
        assert_eq!(backoff(30, None), MAX_BACKOFF);
        assert_eq!(backoff(1, Some(Duration::from_secs(90))), Duration::from_secs(90));
    }
}
