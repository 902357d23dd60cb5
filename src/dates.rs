//! Date parsing for feeds as they are written, not as the RFCs say: RFC 3339 and RFC 2822/1123
//! with their common deviations, plus naive local times. `CST` and times without an offset
//! mean the site's time zone (Chinese sites mean +08:00 by `CST`, not US Central). Never panics.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// Parses one date string; `zone` is the site's time zone for naive times and `CST`.
pub fn parse(text: &str, zone: Tz) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if text.is_empty() || text.len() > 100 {
        return None;
    }
    rfc3339(text).or_else(|| rfc2822(text, zone)).or_else(|| naive(text, zone))
}

fn rfc3339(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(date) = DateTime::parse_from_rfc3339(text) {
        return Some(date.with_timezone(&Utc));
    }
    // `2026-11-26 10:00:00+08:00`, `2026-11-26t10:00:00z`, `+0800` offsets.
    let normalized = text.replacen(' ', "T", 1).to_ascii_uppercase();
    for format in ["%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M%:z", "%Y-%m-%dT%H:%M%z"] {
        if let Ok(date) = DateTime::parse_from_str(&normalized.replace('Z', "+00:00"), format) {
            return Some(date.with_timezone(&Utc));
        }
    }
    None
}

const MONTHS: &[&str] = &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/// `[Weekday,] D Mon YYYY HH:MM[:SS] [zone]` with loose spacing, full month and day names,
/// two-digit years and named or numeric zones.
fn rfc2822(text: &str, zone: Tz) -> Option<DateTime<Utc>> {
    let cleaned = text.replace(',', " ");
    let mut parts: Vec<&str> = cleaned.split_whitespace().collect();
    if parts.first().is_some_and(|p| p.chars().all(|c| c.is_ascii_alphabetic()) && month(p).is_none()) {
        parts.remove(0);
    }
    if parts.len() < 4 {
        return None;
    }
    // Both `26 Nov 2026` and `Nov 26 2026` occur.
    let (day, month_number) =
        match (parts[0].parse::<u32>().ok(), month(parts[1]), month(parts[0]), parts[1].parse::<u32>().ok()) {
            (Some(day), Some(m), _, _) => (day, m),
            (_, _, Some(m), Some(day)) => (day, m),
            _ => return None,
        };
    let mut year: i32 = parts[2].parse().ok()?;
    if year < 100 {
        year += if year < 70 { 2000 } else { 1900 };
    }
    let time = parse_time(parts[3])?;
    let date = NaiveDate::from_ymd_opt(year, month_number, day)?.and_time(time);
    let offset = match parts.get(4) {
        Some(zone_text) => zone_offset(zone_text, zone, date)?,
        None => return local(date, zone),
    };
    offset.from_local_datetime(&date).single().map(|d| d.with_timezone(&Utc))
}

fn month(text: &str) -> Option<u32> {
    let lowered = text.to_ascii_lowercase();
    let prefix = lowered.get(..3)?;
    MONTHS.iter().position(|m| *m == prefix).map(|i| i as u32 + 1)
}

fn parse_time(text: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(text, "%H:%M:%S%.f").or_else(|_| NaiveTime::parse_from_str(text, "%H:%M")).ok()
}

fn zone_offset(text: &str, zone: Tz, local_date: NaiveDateTime) -> Option<FixedOffset> {
    let hours = |h: i32| FixedOffset::east_opt(h * 3600);
    let site_offset = || zone.offset_from_local_datetime(&local_date).single().map(|o| o.fix());
    match text.to_ascii_uppercase().as_str() {
        "GMT" | "UT" | "UTC" | "Z" => hours(0),
        // Chinese Standard Time as Chinese sites write it, and "Beijing time".
        "CST" | "BJT" | "CCT" | "BEIJING" => site_offset(),
        "EST" => hours(-5),
        "EDT" => hours(-4),
        "CDT" => hours(-5),
        "MST" => hours(-7),
        "MDT" => hours(-6),
        "PST" => hours(-8),
        "PDT" => hours(-7),
        "JST" | "KST" => hours(9),
        "HKT" | "SGT" | "AWST" => hours(8),
        "CET" => hours(1),
        "CEST" => hours(2),
        "BST" => hours(1),
        numeric => {
            let (sign, digits) = match numeric.as_bytes().first()? {
                b'+' => (1, &numeric[1..]),
                b'-' => (-1, &numeric[1..]),
                _ => return site_offset(),
            };
            let digits = digits.replace(':', "");
            if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let minutes = digits[..2].parse::<i32>().ok()? * 60 + digits[2..].parse::<i32>().ok()?;
            FixedOffset::east_opt(sign * minutes * 60)
        }
    }
}

fn local(date: NaiveDateTime, zone: Tz) -> Option<DateTime<Utc>> {
    zone.from_local_datetime(&date).earliest().map(|d| d.with_timezone(&Utc))
}

/// Times without an offset: ISO-like, slashed, and Chinese (`2026年11月26日 10:00`).
fn naive(text: &str, zone: Tz) -> Option<DateTime<Utc>> {
    let normalized = text.replace(['年', '月', '/', '.'], "-").replace(['日', 'T'], " ");
    let normalized = normalized.split_whitespace().collect::<Vec<_>>().join(" ");
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M"] {
        if let Ok(date) = NaiveDateTime::parse_from_str(&normalized, format) {
            return local(date, zone);
        }
    }
    NaiveDate::parse_from_str(&normalized, "%Y-%m-%d").ok().and_then(|d| local(d.and_time(NaiveTime::MIN), zone))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> Option<String> {
        parse(text, chrono_tz::Asia::Shanghai).map(|d| d.to_rfc3339())
    }

    #[test]
    fn chinese_cst_means_plus_eight_hours() {
        assert_eq!(utc("Thu, 26 Nov 2026 10:00:00 CST").unwrap(), "2026-11-26T02:00:00+00:00");
    }

    #[test]
    fn naive_times_are_in_the_site_time_zone() {
        assert_eq!(utc("2026-11-26 10:00:00").unwrap(), "2026-11-26T02:00:00+00:00");
        assert_eq!(utc("2026年11月26日 10:00").unwrap(), "2026-11-26T02:00:00+00:00");
        assert_eq!(utc("2026/11/26").unwrap(), "2026-11-25T16:00:00+00:00");
    }

    #[test]
    fn standard_and_deviant_rfc_dates_parse() {
        assert_eq!(utc("2026-11-26T10:00:00Z").unwrap(), "2026-11-26T10:00:00+00:00");
        assert_eq!(utc("2026-11-26T10:00:00.123+08:00").unwrap(), "2026-11-26T02:00:00.123+00:00");
        assert_eq!(utc("Thu, 26 Nov 2026 10:00:00 GMT").unwrap(), "2026-11-26T10:00:00+00:00");
        assert_eq!(utc("Thursday, 26 November 2026 10:00 +0800").unwrap(), "2026-11-26T02:00:00+00:00");
        assert_eq!(utc("26 Nov 26 10:00:00 -0500").unwrap(), "2026-11-26T15:00:00+00:00");
        assert_eq!(utc("Nov 26 2026 10:00:00 UT").unwrap(), "2026-11-26T10:00:00+00:00");
    }

    #[test]
    fn nonsense_is_not_a_date() {
        assert_eq!(utc("yesterday"), None);
        assert_eq!(utc("Thu, 99 Nov 2026 10:00:00 GMT"), None);
        assert_eq!(utc(""), None);
    }
}
