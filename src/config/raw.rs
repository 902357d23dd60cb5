//! The first stage of configuration: serde structs that mirror `feeds.toml` exactly.
//! Unknown keys are rejected here; values that need checking carry their byte span so the
//! second stage (`config::validate`) can name the line of a bad value.

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub site: RawSite,
    #[serde(default)]
    pub store: RawStore,
    #[serde(default)]
    pub fetch: RawFetch,
    #[serde(default)]
    pub members: Vec<RawMember>,
    pub digest: Option<RawDigest>,
    #[serde(default)]
    pub events: Vec<RawEvent>,
    #[serde(default)]
    pub river: RawRiver,
    #[serde(default)]
    pub notify: Vec<RawNotify>,
    #[serde(default)]
    pub websub: super::websub::RawWebSub,
}

/// `[[notify]]`: a group robot or webhook that new posts are pushed to. Its URL and secret
/// are named here, and read from the environment (feeds.toml is public).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotify {
    pub name: Spanned<String>,
    pub kind: Spanned<String>,
    pub url_env: Spanned<String>,
    pub secret_env: Option<Spanned<String>>,
    #[serde(default)]
    pub members: Vec<Spanned<String>>,
    #[serde(default)]
    pub tags: Vec<Spanned<String>>,
    pub q: Option<Spanned<String>>,
    pub batch_minutes: Option<Spanned<u32>>,
}

/// `[river]`: what keeps one member from flooding the combined outputs.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRiver {
    pub first_fetch_posts: Option<Spanned<usize>>,
    pub max_per_member_per_day: Option<Spanned<usize>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDigest {
    pub title: Option<String>,
    pub schedule: Option<Spanned<String>>,
    pub from: Option<Spanned<String>>,
    pub reply_to: Option<Spanned<String>>,
    #[serde(default)]
    pub recipients: Vec<Spanned<String>>,
    pub smtp_host: Option<String>,
    pub smtp_port: Option<Spanned<u16>>,
    pub smtp_security: Option<Spanned<String>>,
    pub send_empty: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEvent {
    pub title: Spanned<String>,
    pub date: Spanned<String>,
    pub place: Option<String>,
    pub link: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSite {
    pub title: Spanned<String>,
    pub url: Spanned<String>,
    #[serde(default)]
    pub description: String,
    pub language: Option<Spanned<String>>,
    pub timezone: Option<Spanned<String>>,
    pub feed_size: Option<Spanned<usize>>,
    pub about: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    pub path: Option<String>,
    pub cache_mb: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFetch {
    pub schedule: Option<Spanned<String>>,
    pub concurrency: Option<Spanned<usize>>,
    pub per_host_concurrency: Option<Spanned<usize>>,
    pub connect_timeout: Option<Spanned<String>>,
    pub read_timeout: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub max_body_bytes: Option<Spanned<u64>>,
    pub max_redirects: Option<Spanned<usize>>,
    pub max_backoff: Option<Spanned<String>>,
    pub user_agent: Option<String>,
    pub future_dates: Option<Spanned<String>>,
    pub allow_private: Option<bool>,
    pub allow_addresses: Option<Vec<Spanned<String>>>,
    pub member_posts_per_day: Option<Spanned<usize>>,
    pub member_mb_per_day: Option<Spanned<usize>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMember {
    pub id: Spanned<String>,
    pub name: Spanned<String>,
    pub site: Option<Spanned<String>>,
    pub feed: Option<Spanned<String>>,
    pub feeds: Option<Vec<Spanned<String>>>,
    pub avatar: Option<Spanned<String>>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub include: Option<RawFilter>,
    pub exclude: Option<RawFilter>,
    #[serde(default)]
    pub allow_private: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFilter {
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub titles: Vec<Spanned<String>>,
}
