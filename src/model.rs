//! The shapes shared by the config, the pipeline, the store and the outputs: a member's
//! `MemberId`, a normalized `Post`, a member feed's `FeedState`, and the `Warning`s that
//! explain what happened to a feed. Imports nothing of planet's but `sanitize::SafeHtml`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::sanitize::SafeHtml;

/// A member's stable slug: lowercase ASCII letters, digits, `-` and `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct MemberId(String);

impl MemberId {
    /// Checks the slug rules; the error says which rule was broken.
    pub fn parse(text: &str) -> Result<MemberId, String> {
        if text.is_empty() || text.len() > 64 {
            return Err("must be 1 to 64 characters".into());
        }
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
        if !text.chars().all(allowed) {
            return Err("may hold only a-z, 0-9, '-' and '_'".into());
        }
        Ok(MemberId(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for MemberId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One normalized, sanitized post, as stored and published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Post {
    /// Stable id: see `identity`.
    pub id: String,
    pub member: MemberId,
    /// The member's feed (as configured) this post came from.
    pub feed_url: String,
    /// The feed's own GUID/id for the item, when it has one.
    pub guid: Option<String>,
    pub url: Option<String>,
    /// Plain text: entities decoded, markup stripped, whitespace collapsed.
    pub title: String,
    /// Plain text, like the title.
    pub author: Option<String>,
    pub published: DateTime<Utc>,
    pub updated: Option<DateTime<Utc>>,
    pub first_seen: DateTime<Utc>,
    pub date_source: DateSource,
    pub tags: Vec<String>,
    /// Plain text, about 200 characters.
    pub excerpt: String,
    pub content_html: SafeHtml,
    /// Hash of what a reader sees (title, link, content); a change means an edit.
    pub content_hash: String,
    /// Stored from a feed's first fetch past `[river] first_fetch_posts` undated or
    /// same-dated posts: shown on the member's page, in search and the API, never in the
    /// combined feeds, the home page or the digest (a new member does not flood them).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub backlog: bool,
    /// Set on a copy of an article the same member published elsewhere (another of their
    /// feeds): the id of the canonical post. A copy is not an entry of any list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<String>,
    /// On a canonical post: where else its member published the same article.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_on: Vec<AlsoOn>,
    /// Posts of other members that are the same article (a repost): flagged, not merged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_by: Vec<AlsoBy>,
}

/// Another place the same member published an article.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlsoOn {
    /// The copy's post id.
    pub id: String,
    pub url: Option<String>,
    /// A reader's name for the site, from the URL's host ("博客园", "CSDN", "blog.example.cn").
    pub platform: String,
}

/// A copy of a post's article as a page, the digest or a feed shows it: a link and the name
/// to show (the platform, else the URL).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CopyLink {
    pub url: String,
    pub platform: String,
}

impl Post {
    /// The copies in `also_on` that have a link, in order.
    pub fn copy_links(&self) -> Vec<CopyLink> {
        self.also_on
            .iter()
            .filter_map(|copy| {
                let url = copy.url.clone()?;
                let platform = if copy.platform.is_empty() { url.clone() } else { copy.platform.clone() };
                Some(CopyLink { url, platform })
            })
            .collect()
    }
}

/// Another member's post of the same article.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlsoBy {
    pub member: MemberId,
    pub id: String,
    pub url: Option<String>,
}

/// Where `published` came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DateSource {
    /// The feed's own date.
    Feed,
    /// The feed gave no usable date: the time the post was first seen.
    FirstSeen,
    /// The feed's date was in the future: clamped to the time the post was first seen.
    Clamped,
}

/// Something a member should know about their feed; never fatal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// A stable short code, for programs: `repaired_xml`, `no_date`, `future_date`, ...
    pub code: String,
    pub message: String,
}

#[cfg(test)]
impl Post {
    /// A post with nothing but a member, an id (also its title) and a time, for unit tests.
    pub fn for_tests(member: &str, id: &str, published: chrono::DateTime<Utc>) -> Post {
        Post {
            id: id.into(),
            member: MemberId::parse(member).unwrap(),
            feed_url: format!("https://{member}.example.cn/feed"),
            guid: None,
            url: None,
            title: id.into(),
            author: None,
            published,
            updated: None,
            first_seen: published,
            date_source: DateSource::Feed,
            tags: vec![],
            excerpt: String::new(),
            content_html: crate::sanitize::html("", None),
            content_hash: "h".into(),
            backlog: false,
            duplicate_of: None,
            also_on: Vec::new(),
            also_by: Vec::new(),
        }
    }
}

/// Posts and bytes: a member's budget for a day (`refresh::budget`), or its use of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DailyUse {
    pub posts: usize,
    pub bytes: u64,
}

impl Warning {
    pub fn new(code: &str, message: impl Into<String>) -> Warning {
        Warning { code: code.to_string(), message: message.into() }
    }
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl FeedState {
    /// A fetch answered (200 or 304): failures and backoff are cleared.
    pub fn record_success(&mut self, status: u16, at: chrono::DateTime<Utc>) {
        self.last_success = Some(at);
        self.last_status = Some(status);
        self.last_error = None;
        self.consecutive_failures = 0;
        self.next_due = None;
        self.gone = false;
    }
}

/// The fetch health of one member feed, kept across passes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FeedState {
    pub member: Option<MemberId>,
    /// The feed URL as written in feeds.toml.
    pub feed_url: String,
    /// Where the feed lives now: differs from `feed_url` after a permanent redirect.
    pub current_url: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    /// Human-readable reason of the last failure; cleared on success.
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
    pub next_due: Option<DateTime<Utc>>,
    /// Set when a 301/308 moved the feed: the admin should update feeds.toml.
    pub moved_to: Option<String>,
    /// Set on 410 Gone: the feed is no longer fetched.
    pub gone: bool,
    pub last_status: Option<u16>,
    /// Warnings from the last successful parse, for `planet check`-like diagnosis.
    pub warnings: Vec<Warning>,
    pub feed_title: Option<String>,
    pub posts_in_feed: usize,
    /// The WebSub hub and topic the feed advertised when last read (`None`: no hub).
    #[serde(default)]
    pub websub: Option<crate::websub::Links>,
}
