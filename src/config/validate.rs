//! The second stage of configuration: turns `raw` structs into a checked `Config`, locating
//! every error by line and key. Spans from the raw stage give the line; the key is named here.

use std::collections::HashSet;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use regex::Regex;
use toml::Spanned;
use url::Url;

use super::raw::{RawConfig, RawDigest, RawEvent, RawFetch, RawFilter, RawMember};
use super::{
    Config, ConfigError, DigestConfig, Event, FetchConfig, FutureDates, Mailbox, Member, MemberId, PostFilter,
    RiverConfig, Site, SmtpSecurity, StoreConfig,
};

const DEFAULT_SCHEDULE: &str = "0 */30 * * * *";

pub(super) struct Locator<'a> {
    text: &'a str,
    file: String,
}

impl Locator<'_> {
    fn line_of(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        self.text.as_bytes()[..offset].iter().filter(|b| **b == b'\n').count() + 1
    }

    fn error(&self, offset: usize, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            line: self.line_of(offset),
            key: key.to_string(),
            message: message.into(),
        }
    }

    pub(super) fn at<T>(&self, spanned: &Spanned<T>, key: &str, message: impl Into<String>) -> ConfigError {
        self.error(spanned.span().start, key, message)
    }

    /// Names the key a toml syntax or type error points at: the table header above the
    /// offending line plus the key written on that line.
    fn key_at(&self, offset: usize) -> String {
        let line_number = self.line_of(offset);
        let lines: Vec<&str> = self.text.lines().collect();
        let line = lines.get(line_number.saturating_sub(1)).copied().unwrap_or("");
        let own_key = line.split_once('=').map(|(key, _)| key.trim().trim_matches('"').to_string());
        let table = lines[..line_number.saturating_sub(1).min(lines.len())].iter().rev().find_map(|l| {
            let l = l.trim();
            l.starts_with('[').then(|| l.trim_matches(|c| c == '[' || c == ']').trim().to_string())
        });
        match (table, own_key) {
            (Some(table), Some(key)) => format!("{table}.{key}"),
            (None, Some(key)) => key,
            (Some(table), None) => table,
            (None, None) => "(document)".to_string(),
        }
    }
}

pub fn config(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let locator = Locator { text, file: path.display().to_string() };
    let raw: RawConfig = toml::from_str(text).map_err(|error| {
        let offset = error.span().map(|span| span.start).unwrap_or(0);
        locator.error(offset, &locator.key_at(offset), error.message().trim().to_string())
    })?;

    let site = site(&locator, &raw)?;
    let store = StoreConfig {
        path: raw.store.path.clone().unwrap_or_else(|| "data/planet.sled".to_string()).into(),
        cache_bytes: match &raw.store.cache_mb {
            Some(mb) if *mb.get_ref() == 0 => return Err(locator.at(mb, "store.cache_mb", "must be at least 1")),
            Some(mb) => mb.get_ref() * 1024 * 1024,
            // Posts live in the body log, so sled caches ~1 KB leaves of references: 16 MB holds
            // the hot ones, and the serving budget is 64 MB in all (issue 22).
            None => 16 * 1024 * 1024,
        },
    };
    let fetch = fetch(&locator, &raw.fetch, &site.url)?;
    let mut seen = HashSet::new();
    let mut members = Vec::with_capacity(raw.members.len());
    for raw_member in &raw.members {
        let member = member(&locator, raw_member)?;
        if !seen.insert(member.id.clone()) {
            return Err(locator.at(&raw_member.id, "members.id", format!("duplicate member id '{}'", member.id)));
        }
        members.push(member);
    }
    let digest = digest(&locator, raw.digest.as_ref().unwrap_or(&RawDigest::default()), &site)?;
    let events = raw.events.iter().map(|event| self::event(&locator, event, &site)).collect::<Result<Vec<_>, _>>()?;
    let river = RiverConfig {
        first_fetch_posts: match &raw.river.first_fetch_posts {
            Some(n) if *n.get_ref() > 200 => {
                return Err(locator.at(n, "river.first_fetch_posts", "must be at most 200 (a feed's entries per pass)"))
            }
            Some(n) => *n.get_ref(),
            None => 5,
        },
        max_per_member_per_day: match &raw.river.max_per_member_per_day {
            Some(n) if *n.get_ref() == 0 => {
                return Err(locator.at(n, "river.max_per_member_per_day", "must be at least 1"))
            }
            Some(n) if *n.get_ref() > 1000 => {
                return Err(locator.at(n, "river.max_per_member_per_day", "must be at most 1000"))
            }
            Some(n) => *n.get_ref(),
            None => 5,
        },
    };
    let notify = super::notify::targets(&locator, &raw.notify, &members)?;
    let websub = super::websub::websub(&locator, &raw.websub, &site.url)?;
    Ok(Config {
        source: path.to_path_buf(),
        site,
        store,
        fetch,
        members: super::Members::new(members),
        digest,
        events,
        river,
        notify,
        websub,
    })
}

const DEFAULT_DIGEST_SCHEDULE: &str = "0 0 9 * * MON";

fn digest(locator: &Locator, raw: &RawDigest, site: &Site) -> Result<DigestConfig, ConfigError> {
    let schedule_text = raw
        .schedule
        .as_ref()
        .map(|s| s.get_ref().trim().to_string())
        .unwrap_or_else(|| DEFAULT_DIGEST_SCHEDULE.to_string());
    let schedule = schedule(&schedule_text).map_err(|message| match &raw.schedule {
        Some(spanned) => locator.at(spanned, "digest.schedule", message),
        None => locator.error(0, "digest.schedule", message),
    })?;
    let mailbox = |value: &Spanned<String>, key: &str| {
        Mailbox::parse(value.get_ref()).map_err(|message| locator.at(value, key, message))
    };
    let from = raw.from.as_ref().map(|f| mailbox(f, "digest.from")).transpose()?;
    let reply_to = raw.reply_to.as_ref().map(|r| mailbox(r, "digest.reply_to")).transpose()?;
    let recipients = raw.recipients.iter().map(|r| mailbox(r, "digest.recipients")).collect::<Result<Vec<_>, _>>()?;
    if from.is_none() && !recipients.is_empty() {
        let first = &raw.recipients[0];
        return Err(locator.at(first, "digest.from", "recipients are listed but `from` is missing"));
    }
    let smtp_security = match &raw.smtp_security {
        None => SmtpSecurity::StartTls,
        Some(value) => match value.get_ref().to_ascii_lowercase().as_str() {
            "starttls" => SmtpSecurity::StartTls,
            "tls" => SmtpSecurity::Tls,
            "none" => SmtpSecurity::None,
            other => {
                return Err(locator.at(
                    value,
                    "digest.smtp_security",
                    format!("'{other}' is not one of starttls, tls, none"),
                ))
            }
        },
    };
    let default_port = match smtp_security {
        SmtpSecurity::StartTls => 587,
        SmtpSecurity::Tls => 465,
        SmtpSecurity::None => 25,
    };
    Ok(DigestConfig {
        title: raw.title.clone().map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).unwrap_or_else(|| {
            crate::texts::fill(crate::texts::for_site(site).default_digest_title, &[("site", &site.title)])
        }),
        schedule,
        schedule_text,
        from,
        reply_to,
        recipients,
        smtp_host: raw.smtp_host.clone().unwrap_or_else(|| "localhost".to_string()),
        smtp_port: raw.smtp_port.as_ref().map(|p| *p.get_ref()).unwrap_or(default_port),
        smtp_security,
        send_empty: raw.send_empty.unwrap_or(false),
    })
}

fn event(locator: &Locator, raw: &RawEvent, site: &Site) -> Result<Event, ConfigError> {
    let title = raw.title.get_ref().trim().to_string();
    if title.is_empty() {
        return Err(locator.at(&raw.title, "events.title", "must not be empty"));
    }
    let starts = crate::dates::parse(raw.date.get_ref(), site.timezone).ok_or_else(|| {
        locator.at(
            &raw.date,
            "events.date",
            format!("'{}' is not a date such as 2026-12-05 14:00 or 2026-12-05T14:00:00+08:00", raw.date.get_ref()),
        )
    })?;
    Ok(Event {
        title,
        starts,
        place: raw.place.clone().map(|p| p.trim().to_string()).filter(|p| !p.is_empty()),
        link: raw.link.as_ref().map(|l| http_url(locator, l, "events.link")).transpose()?,
    })
}

fn site(locator: &Locator, raw: &RawConfig) -> Result<Site, ConfigError> {
    let title = raw.site.title.get_ref().trim().to_string();
    if title.is_empty() {
        return Err(locator.at(&raw.site.title, "site.title", "must not be empty"));
    }
    let url = http_url(locator, &raw.site.url, "site.url")?;
    let language = match &raw.site.language {
        Some(language) if language.get_ref().trim().is_empty() => {
            return Err(locator.at(language, "site.language", "must not be empty (for example zh-CN or en)"))
        }
        Some(language) => language.get_ref().trim().to_string(),
        None => "zh-CN".to_string(),
    };
    let timezone = match &raw.site.timezone {
        Some(zone) => chrono_tz::Tz::from_str(zone.get_ref()).map_err(|_| {
            locator.at(
                zone,
                "site.timezone",
                format!("unknown time zone '{}' (use an IANA name such as Asia/Shanghai)", zone.get_ref()),
            )
        })?,
        None => chrono_tz::Asia::Shanghai,
    };
    let feed_size = match &raw.site.feed_size {
        Some(size) if !(1..=500).contains(size.get_ref()) => {
            return Err(locator.at(size, "site.feed_size", "must be between 1 and 500"))
        }
        Some(size) => *size.get_ref(),
        None => 50,
    };
    let about = raw.site.about.clone().unwrap_or_default().trim().to_string();
    Ok(Site { title, url, description: raw.site.description.trim().to_string(), language, timezone, feed_size, about })
}

fn fetch(locator: &Locator, raw: &RawFetch, site_url: &Url) -> Result<FetchConfig, ConfigError> {
    let schedule_text = raw.schedule.as_ref().map(|s| s.get_ref().trim().to_string());
    let schedule_text = schedule_text.unwrap_or_else(|| DEFAULT_SCHEDULE.to_string());
    let schedule = schedule(&schedule_text).map_err(|message| match &raw.schedule {
        Some(spanned) => locator.at(spanned, "fetch.schedule", message),
        None => locator.error(0, "fetch.schedule", message),
    })?;
    let positive = |value: &Option<Spanned<usize>>, key: &str, default: usize| match value {
        Some(v) if *v.get_ref() == 0 => Err(locator.at(v, key, "must be at least 1")),
        Some(v) => Ok(*v.get_ref()),
        None => Ok(default),
    };
    let duration = |value: &Option<Spanned<String>>, key: &str, default: Duration| match value {
        Some(v) => parse_duration(v.get_ref()).map_err(|message| locator.at(v, key, message)),
        None => Ok(default),
    };
    let future_dates = match &raw.future_dates {
        None => FutureDates::Clamp,
        Some(v) => match v.get_ref().as_str() {
            "clamp" => FutureDates::Clamp,
            "keep" => FutureDates::Keep,
            "drop" => FutureDates::Drop,
            other => {
                return Err(locator.at(v, "fetch.future_dates", format!("'{other}' is not one of clamp, keep, drop")))
            }
        },
    };
    let max_body_bytes = match &raw.max_body_bytes {
        Some(v) if *v.get_ref() < 1024 => return Err(locator.at(v, "fetch.max_body_bytes", "must be at least 1024")),
        Some(v) => *v.get_ref(),
        None => 10 * 1024 * 1024,
    };
    let max_redirects = match &raw.max_redirects {
        Some(v) if *v.get_ref() > 20 => return Err(locator.at(v, "fetch.max_redirects", "must be at most 20")),
        Some(v) => *v.get_ref(),
        None => 5,
    };
    Ok(FetchConfig {
        schedule,
        schedule_text,
        concurrency: positive(&raw.concurrency, "fetch.concurrency", 16)?,
        per_host_concurrency: positive(&raw.per_host_concurrency, "fetch.per_host_concurrency", 2)?,
        member_posts_per_day: positive(&raw.member_posts_per_day, "fetch.member_posts_per_day", 100)?,
        member_bytes_per_day: positive(&raw.member_mb_per_day, "fetch.member_mb_per_day", 32)? as u64 * 1024 * 1024,
        connect_timeout: duration(&raw.connect_timeout, "fetch.connect_timeout", Duration::from_secs(10))?,
        read_timeout: duration(&raw.read_timeout, "fetch.read_timeout", Duration::from_secs(30))?,
        timeout: duration(&raw.timeout, "fetch.timeout", Duration::from_secs(60))?,
        max_body_bytes,
        max_redirects,
        max_backoff: duration(&raw.max_backoff, "fetch.max_backoff", Duration::from_secs(24 * 3600))?,
        user_agent: raw
            .user_agent
            .clone()
            .unwrap_or_else(|| format!("planet/{} (+{})", env!("CARGO_PKG_VERSION"), site_url.as_str())),
        future_dates,
        allow_private: raw.allow_private.unwrap_or(false),
        allow_addresses: raw
            .allow_addresses
            .iter()
            .flatten()
            .map(|address| {
                address.get_ref().trim().parse().map_err(|_| {
                    locator.at(
                        address,
                        "fetch.allow_addresses",
                        format!("'{}' is not an IP address", address.get_ref()),
                    )
                })
            })
            .collect::<Result<_, _>>()?,
    })
}

/// Accepts the `cron` crate's 6 or 7 fields, or classic 5-field cron (seconds added). Numeric
/// days of the week are refused: the crate counts 1 as Sunday where classic cron counts 1 as
/// Monday, so only names (MON-SUN) mean the same to everyone.
fn schedule(text: &str) -> Result<cron::Schedule, String> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    let full = match fields.len() {
        5 => format!("0 {text}"),
        6 | 7 => text.to_string(),
        n => {
            return Err(format!(
                "'{text}' has {n} fields; write 5 (minute hour day month weekday) or 6 (with seconds first)"
            ))
        }
    };
    let weekday = full.split_whitespace().nth(5).unwrap_or("*");
    if weekday.chars().any(|c| c.is_ascii_digit()) {
        return Err(format!("weekday '{weekday}' is a number; write day names such as MON or MON-FRI"));
    }
    cron::Schedule::from_str(&full).map_err(|error| format!("'{text}' is not a valid cron expression: {error}"))
}

/// Parses durations written as `500ms`, `10s`, `5m`, `24h` or `1d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| format!("'{text}' is not a duration such as 500ms, 10s, 5m, 24h"))?;
    let millis = match unit.trim() {
        "ms" => number,
        "s" => number * 1000,
        "m" => number * 60_000,
        "h" => number * 3_600_000,
        "d" => number * 86_400_000,
        _ => return Err(format!("'{text}' needs a unit: ms, s, m, h or d")),
    };
    if millis == 0 {
        return Err("must be longer than zero".to_string());
    }
    Ok(Duration::from_millis(millis))
}

fn http_url(locator: &Locator, value: &Spanned<String>, key: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value.get_ref().trim())
        .map_err(|error| locator.at(value, key, format!("'{}' is not a URL: {error}", value.get_ref())))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(locator.at(value, key, format!("'{}' must be an http or https URL", value.get_ref())));
    }
    Ok(url)
}

fn member(locator: &Locator, raw: &RawMember) -> Result<Member, ConfigError> {
    let id = MemberId::parse(raw.id.get_ref())
        .map_err(|message| locator.at(&raw.id, "members.id", format!("'{}' {message}", raw.id.get_ref())))?;
    let name = raw.name.get_ref().trim().to_string();
    if name.is_empty() {
        return Err(locator.at(&raw.name, "members.name", "must not be empty"));
    }
    let mut feeds = Vec::new();
    if let Some(feed) = &raw.feed {
        feeds.push(http_url(locator, feed, "members.feed")?);
    }
    for feed in raw.feeds.iter().flatten() {
        feeds.push(http_url(locator, feed, "members.feeds")?);
    }
    if feeds.is_empty() {
        return Err(locator.at(&raw.id, "members.feed", format!("member '{id}' needs `feed` or `feeds`")));
    }
    let optional_url =
        |value: &Option<Spanned<String>>, key: &str| value.as_ref().map(|v| http_url(locator, v, key)).transpose();
    Ok(Member {
        id,
        name,
        site: optional_url(&raw.site, "members.site")?,
        feeds,
        avatar: optional_url(&raw.avatar, "members.avatar")?,
        tags: raw.tags.iter().map(|tag| tag.trim().to_string()).filter(|tag| !tag.is_empty()).collect(),
        include: raw.include.as_ref().map(|f| filter(locator, f, "members.include.titles")).transpose()?,
        exclude: raw.exclude.as_ref().map(|f| filter(locator, f, "members.exclude.titles")).transpose()?,
        allow_private: raw.allow_private,
    })
}

fn filter(locator: &Locator, raw: &RawFilter, key: &str) -> Result<PostFilter, ConfigError> {
    let titles = raw
        .titles
        .iter()
        .map(|pattern| {
            Regex::new(pattern.get_ref()).map_err(|error| {
                locator.at(pattern, key, format!("'{}' is not a valid pattern: {error}", pattern.get_ref()))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PostFilter { categories: raw.categories.clone(), titles })
}
