//! Configuration: `feeds.toml` read in two stages, raw serde structs (`raw`) then this
//! validated `Config` of checked types. Every error names the file, the line and the key.
//! Secrets never live here: they come from the environment where they are used.

mod notify;
mod raw;
mod validate;
mod websub;

pub use notify::{NotifyKind, NotifySecrets, NotifyTarget};
pub use websub::WebSubConfig;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use regex::Regex;
use url::Url;

pub use crate::model::MemberId;
pub use validate::parse_duration;

/// The configuration `planet check` uses when there is no feeds.toml: every default, but any
/// address may be fetched (it runs on the member's own machine, where `localhost` is their
/// blog's preview; with a feeds.toml it follows that file's `[fetch]`, as the server does).
pub const CHECK_DEFAULTS: &str =
    "[site]\ntitle = \"planet check\"\nurl = \"http://localhost/\"\n[fetch]\nallow_private = true\n";

#[derive(Debug, Clone)]
pub struct Config {
    /// The file this was read from, for messages and reloads.
    pub source: PathBuf,
    pub site: Site,
    pub store: StoreConfig,
    pub fetch: FetchConfig,
    pub members: Members,
    pub digest: DigestConfig,
    pub events: Vec<Event>,
    pub river: RiverConfig,
    /// `[[notify]]`: where new posts are pushed.
    pub notify: Vec<NotifyTarget>,
    /// `[websub]`: hubs planet publishes to, and subscribing to members' hubs.
    pub websub: WebSubConfig,
}

/// `[river]`: what keeps one member from flooding the combined outputs.
#[derive(Debug, Clone)]
pub struct RiverConfig {
    /// On a feed's first fetch, how many undated or same-dated posts count as new; the rest
    /// are backlog (on the member's page, in search and the API, not in the river).
    pub first_fetch_posts: usize,
    /// The most posts of one member on one day (site time zone) that the combined feeds, the
    /// home page and the digest show; member feeds, member pages and the API are not capped.
    pub max_per_member_per_day: usize,
}

impl Config {
    /// Whether `post` is filed under `tag` (lowercase): one of its own categories, or one
    /// of its member's `tags` in feeds.toml (a member tagged `dotnet` files every post there).
    pub fn files_under_tag(&self, post: &crate::model::Post, tag: &str) -> bool {
        let matches = |candidate: &String| candidate.to_lowercase() == tag;
        post.tags.iter().any(matches)
            || self.members.get(post.member.as_str()).is_some_and(|m| m.tags.iter().any(matches))
    }

    /// The display name of a member, or the id of one no longer configured.
    pub fn member_name(&self, id: &MemberId) -> String {
        self.members.get(id.as_str()).map_or_else(|| id.to_string(), |m| m.name.clone())
    }

    /// The members whose feeds.toml entry has `tag` (lowercase): all their posts are filed
    /// under it.
    pub fn members_tagged(&self, tag: &str) -> Vec<MemberId> {
        self.members.iter().filter(|m| m.tags.iter().any(|t| t.to_lowercase() == tag)).map(|m| m.id.clone()).collect()
    }

    /// Whether posts stored under `member` may be shown. A member removed from feeds.toml
    /// disappears from every output (feeds, API, site, digest) while their posts stay in
    /// the store: every output asks this one question.
    pub fn shows_member(&self, member: &str) -> bool {
        self.members.get(member).is_some()
    }
}

/// How the weekly digest is mailed. Without a `[digest]` table it still appears on the web,
/// and nothing is mailed (`from` is `None`).
#[derive(Debug, Clone)]
pub struct DigestConfig {
    pub title: String,
    pub schedule: cron::Schedule,
    pub schedule_text: String,
    pub from: Option<Mailbox>,
    pub reply_to: Option<Mailbox>,
    pub recipients: Vec<Mailbox>,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_security: SmtpSecurity,
    pub send_empty: bool,
}

/// An email address with an optional display name, checked for shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub name: Option<String>,
    pub address: String,
}

impl std::fmt::Display for Mailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name} <{}>", self.address),
            None => f.write_str(&self.address),
        }
    }
}

impl Mailbox {
    /// `name <address>` or a bare address; the address must look like local@domain.
    pub fn parse(text: &str) -> Result<Mailbox, String> {
        let text = text.trim();
        let (name, address) = match (text.rfind('<'), text.ends_with('>')) {
            (Some(open), true) => (
                Some(text[..open].trim().trim_matches('"').to_string()).filter(|n| !n.is_empty()),
                &text[open + 1..text.len() - 1],
            ),
            _ => (None, text),
        };
        let address = address.trim();
        if !is_email_address(address) {
            return Err(format!("'{address}' is not an email address"));
        }
        Ok(Mailbox { name, address: address.to_ascii_lowercase() })
    }
}

/// A mailbox planet will mail: RFC 5322 syntax (the `email_address` crate), no display name
/// or `[ip]` literal, a domain of at least two labels whose last is not a number (so not
/// `x@127.0.0.1`), nothing a URL would add (`a@b.cn/x?y#z`), and a plain local part: no
/// quotes, backslashes or comments, which RFC 5322 allows but no one subscribes with, and
/// which spell one inbox in endless ways (`"\\target"@example.cn` is `target@example.cn`).
pub fn is_email_address(address: &str) -> bool {
    let local = address.rsplit_once('@').map_or("", |(local, _)| local);
    if local.contains(['"', '\\', '(', ')', ' ']) {
        return false;
    }
    let options =
        email_address::Options::default().with_minimum_sub_domains(2).without_domain_literal().without_display_text();
    let Ok(parsed) = email_address::EmailAddress::parse_with_options(address, options) else { return false };
    let domain = parsed.domain();
    let top = domain.rsplit('.').next().unwrap_or("");
    address.len() <= 254
        && !top.is_empty()
        && !top.chars().all(|c| c.is_ascii_digit())
        && domain.chars().all(|c| c.is_alphanumeric() || c == '.' || c == '-')
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on the same machine.
    None,
}

/// A community meetup listed in the digest.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Event {
    pub title: String,
    pub starts: chrono::DateTime<chrono::Utc>,
    pub place: Option<String>,
    pub link: Option<Url>,
}

#[derive(Debug, Clone)]
pub struct Site {
    pub title: String,
    pub url: Url,
    pub description: String,
    pub language: String,
    pub timezone: Tz,
    /// Posts in each published feed.
    pub feed_size: usize,
    /// Extra text for the /about page (plain text, paragraphs separated by blank lines).
    pub about: String,
}

impl Site {
    /// Whether the interface text is English (`language = "en..."`); otherwise Chinese.
    pub fn english(&self) -> bool {
        self.language.to_ascii_lowercase().starts_with("en")
    }
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub path: PathBuf,
    pub cache_bytes: u64,
}

/// What to do with a post dated after the moment it was fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FutureDates {
    /// Date it at the time it was first seen, so it cannot sit on top of every feed.
    Clamp,
    /// Trust the feed.
    Keep,
    /// Leave it out until its date has come.
    Drop,
}

#[derive(Debug, Clone)]
pub struct FetchConfig {
    pub schedule: cron::Schedule,
    pub schedule_text: String,
    pub concurrency: usize,
    pub per_host_concurrency: usize,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub timeout: Duration,
    pub max_body_bytes: u64,
    pub max_redirects: usize,
    pub max_backoff: Duration,
    pub user_agent: String,
    pub future_dates: FutureDates,
    /// Fetch from private, loopback and other non-public addresses (the SSRF guard off).
    pub allow_private: bool,
    /// Non-public addresses fetched from all the same, one by one.
    pub allow_addresses: Vec<std::net::IpAddr>,
    /// What the store takes of one member in a day (site time zone): new posts, and bytes of
    /// posts written (new or changed). Far above any real blog; a flood stops here.
    pub member_posts_per_day: usize,
    pub member_bytes_per_day: u64,
}

/// The configured members in feeds.toml's order, with an index by id: every output asks
/// about a post's member, and a scan of the list per post is quadratic at 10,000 members.
#[derive(Debug, Clone, Default)]
pub struct Members {
    list: Vec<Member>,
    position_by_id: std::collections::HashMap<String, usize>,
}

impl Members {
    /// The list, whose ids the caller has checked to be unique (the first of a repeated id
    /// would win).
    pub fn new(list: Vec<Member>) -> Members {
        let mut position_by_id = std::collections::HashMap::with_capacity(list.len());
        for (position, member) in list.iter().enumerate() {
            position_by_id.entry(member.id.to_string()).or_insert(position);
        }
        Members { list, position_by_id }
    }

    /// The member with this id, if configured.
    pub fn get(&self, id: &str) -> Option<&Member> {
        self.position_by_id.get(id).map(|&position| &self.list[position])
    }
}

impl<'a> IntoIterator for &'a Members {
    type Item = &'a Member;
    type IntoIter = std::slice::Iter<'a, Member>;
    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}

impl std::ops::Deref for Members {
    type Target = [Member];
    fn deref(&self) -> &[Member] {
        &self.list
    }
}

#[derive(Debug, Clone)]
pub struct Member {
    pub id: MemberId,
    pub name: String,
    pub site: Option<Url>,
    pub feeds: Vec<Url>,
    pub avatar: Option<Url>,
    pub tags: Vec<String>,
    pub include: Option<PostFilter>,
    pub exclude: Option<PostFilter>,
    /// This member's feeds may be on private addresses (a blog inside the company network).
    pub allow_private: bool,
}

/// A member filter: a post matches when one of its categories is listed (compared without
/// case) or its title matches one of the patterns.
#[derive(Debug, Clone)]
pub struct PostFilter {
    pub categories: Vec<String>,
    pub titles: Vec<Regex>,
}

impl PostFilter {
    pub fn matches(&self, title: &str, categories: &[String]) -> bool {
        let category_hit = categories
            .iter()
            .any(|category| self.categories.iter().any(|wanted| wanted.to_lowercase() == category.to_lowercase()));
        category_hit || self.titles.iter().any(|pattern| pattern.is_match(title))
    }
}

impl Member {
    /// A member without site, feeds or filters: what `planet check` normalizes a feed as when
    /// the feed belongs to no configured member.
    pub fn anonymous(id: MemberId) -> Member {
        Member {
            name: id.to_string(),
            id,
            site: None,
            feeds: Vec::new(),
            avatar: None,
            tags: Vec::new(),
            include: None,
            exclude: None,
            allow_private: false,
        }
    }

    /// Whether a post with this title and these categories is shared on the planet.
    pub fn accepts(&self, title: &str, categories: &[String]) -> bool {
        let included = self.include.as_ref().is_none_or(|filter| filter.matches(title, categories));
        let excluded = self.exclude.as_ref().is_some_and(|filter| filter.matches(title, categories));
        included && !excluded
    }
}

/// A configuration error located in its file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {key}: {message}")]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub key: String,
    pub message: String,
}

/// Reads and validates a configuration file.
pub fn load(path: &Path) -> anyhow::Result<Config> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| anyhow::anyhow!("cannot read config {}: {error}", path.display()))?;
    Ok(parse(&text, path)?)
}

/// Validates configuration text; `path` is used in messages and kept in `Config::source`.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    validate::config(text, path)
}

#[cfg(test)]
mod tests {
    use super::is_email_address;

    #[test]
    fn only_mailboxes_with_a_real_domain_are_addresses() {
        for good in ["reader@mail.example.cn", "zhang.san+planet@qq.com", "a_b-c@sub.domain.org"] {
            assert!(is_email_address(good), "{good}");
        }
        for bad in [
            "a@b.cn/x?y#z",
            "x@127.0.0.1",
            "x@[127.0.0.1]",
            "x@localhost",
            "Name <x@y.cn>",
            "x@y.cn\r\nBcc: victim@z.cn",
            "not an address",
            "@y.cn",
            "x@.cn",
            "\"\\target\"@example.cn",
            "\"target\"@example.cn",
            "target(comment)@example.cn",
        ] {
            assert!(!is_email_address(bad), "{bad}");
        }
    }
}
