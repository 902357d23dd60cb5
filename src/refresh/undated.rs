//! Dates for posts whose feed gives none: the moment their own feed was fetched, one whole
//! second apart, and never a second another undated post of the same pass already has.
//! Outputs write dates to the second (RSS cannot say less), so instants that differ by a
//! fraction would still show readers two entries with one date and leave their order to
//! chance. Ties that come from the sources' own dates are kept: they are what the feed says.

use std::collections::BTreeSet;
use std::sync::Mutex;

use chrono::{DateTime, Duration, DurationRound, Utc};

/// The seconds handed out to undated posts during one pass, shared by its feeds.
#[derive(Debug, Default)]
pub struct UndatedClock {
    taken: Mutex<BTreeSet<i64>>,
}

impl UndatedClock {
    /// `count` distinct whole-second instants at or before `fetched_at`, newest first (the
    /// order feeds list their entries in), skipping seconds other feeds took this pass.
    pub fn take(&self, fetched_at: DateTime<Utc>, count: usize) -> Vec<DateTime<Utc>> {
        let start = fetched_at.duration_trunc(Duration::seconds(1)).unwrap_or(fetched_at);
        let mut taken = self.taken.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut instants = Vec::with_capacity(count);
        let mut second = start.timestamp();
        while instants.len() < count {
            if taken.insert(second) {
                instants.push(DateTime::from_timestamp(second, 0).unwrap_or(start));
            }
            second -= 1;
        }
        instants
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn instants_are_whole_seconds_newest_first_at_or_before_the_fetch() {
        let clock = UndatedClock::default();
        let instants = clock.take(at("2026-12-01T10:00:05.700Z"), 3);
        assert_eq!(instants, [at("2026-12-01T10:00:05Z"), at("2026-12-01T10:00:04Z"), at("2026-12-01T10:00:03Z")]);
    }

    #[test]
    fn feeds_fetched_in_the_same_second_never_share_an_instant() {
        let clock = UndatedClock::default();
        let first = clock.take(at("2026-12-01T10:00:05.100Z"), 2);
        let second = clock.take(at("2026-12-01T10:00:05.900Z"), 2);
        let later = clock.take(at("2026-12-01T10:00:09Z"), 1);
        assert_eq!(second, [at("2026-12-01T10:00:03Z"), at("2026-12-01T10:00:02Z")]);
        assert_eq!(later, [at("2026-12-01T10:00:09Z")]);
        let mut all: Vec<_> = first.iter().chain(&second).chain(&later).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 5);
    }
}
