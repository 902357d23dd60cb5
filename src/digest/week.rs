//! ISO weeks in the site's time zone: Monday 00:00 to the next Monday 00:00 local time,
//! written `2026-W48`.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Week {
    pub year: i32,
    pub number: u32,
}

impl Week {
    /// Parses `2026-W48` (also `2026-w48`); the week must exist in that ISO year.
    pub fn parse(text: &str) -> Result<Week, String> {
        let malformed = || format!("'{text}' is not a week such as 2026-W48");
        let (year, number) = text.trim().split_once(['W', 'w']).ok_or_else(malformed)?;
        let year: i32 = year.strip_suffix('-').ok_or_else(malformed)?.parse().map_err(|_| malformed())?;
        if number.len() != 2 || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        let number: u32 = number.parse().map_err(|_| malformed())?;
        if !(1900..=9999).contains(&year) || NaiveDate::from_isoywd_opt(year, number, Weekday::Mon).is_none() {
            return Err(format!("{year} has no week {number}"));
        }
        Ok(Week { year, number })
    }

    /// The week a moment falls in, in `zone`.
    pub fn containing(time: DateTime<Utc>, zone: Tz) -> Week {
        let iso = time.with_timezone(&zone).date_naive().iso_week();
        Week { year: iso.year(), number: iso.week() }
    }

    /// The last week that has ended at `now`.
    pub fn last_complete(now: DateTime<Utc>, zone: Tz) -> Week {
        Week::containing(now, zone).previous()
    }

    fn monday(&self) -> NaiveDate {
        NaiveDate::from_isoywd_opt(self.year, self.number, Weekday::Mon).unwrap_or_default()
    }

    /// Monday 00:00 in `zone`.
    pub fn start(&self, zone: Tz) -> DateTime<Utc> {
        let midnight = self.monday().and_hms_opt(0, 0, 0).unwrap_or_default();
        zone.from_local_datetime(&midnight)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| midnight.and_utc())
    }

    /// The next Monday 00:00 in `zone` (exclusive end).
    pub fn end(&self, zone: Tz) -> DateTime<Utc> {
        self.next().start(zone)
    }

    pub fn previous(&self) -> Week {
        let date = self.monday() - chrono::TimeDelta::days(7);
        let iso = date.iso_week();
        Week { year: iso.year(), number: iso.week() }
    }

    pub fn next(&self) -> Week {
        let date = self.monday() + chrono::TimeDelta::days(7);
        let iso = date.iso_week();
        Week { year: iso.year(), number: iso.week() }
    }
}

impl std::fmt::Display for Week {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-W{:02}", self.year, self.number)
    }
}
