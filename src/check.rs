//! `planet check`: runs fetch, decode, parse, normalize and sanitize on feeds given by URL or
//! file, without touching the store, and reports what would be stored and every warning. It
//! is how a member learns why a post does not show up, so failures are explained, and an
//! input that makes the pipeline panic is reported as such instead of ending the run.

use std::panic::AssertUnwindSafe;

use chrono::{DateTime, Utc};
use serde::Serialize;
use url::Url;

use crate::config::{Config, Member, MemberId};
use crate::fetch::{self, Fetched, Validators};
use crate::model::{DateSource, Warning};
use crate::parse;
use crate::refresh::document_base;

#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub input: String,
    pub ok: bool,
    pub error: Option<String>,
    /// True when the pipeline panicked on this input: always a bug in planet.
    pub panicked: bool,
    pub http: Option<HttpInfo>,
    pub encoding: Option<String>,
    pub feed_title: Option<String>,
    pub feed_link: Option<String>,
    pub posts: Vec<CheckedPost>,
    pub filtered_out: usize,
    pub warnings: Vec<Warning>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HttpInfo {
    pub status: u16,
    pub final_url: String,
    pub moved_to: Option<String>,
    pub content_type: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckedPost {
    pub id: String,
    pub title: String,
    pub url: Option<String>,
    pub author: Option<String>,
    pub published: DateTime<Utc>,
    pub date_source: DateSource,
    pub tags: Vec<String>,
    pub excerpt: String,
    pub content_html: String,
}

impl CheckReport {
    fn failed(input: &str, error: String) -> CheckReport {
        CheckReport {
            input: input.to_string(),
            ok: false,
            error: Some(error),
            panicked: false,
            http: None,
            encoding: None,
            feed_title: None,
            feed_link: None,
            posts: Vec::new(),
            filtered_out: 0,
            warnings: Vec::new(),
        }
    }
}

/// The member a checked feed is normalized as: the configured one whose feed this is, so its
/// filters apply, else an anonymous member without filters.
fn member_for(config: &Config, input: &str) -> Member {
    let configured = config.members.iter().find(|m| m.feeds.iter().any(|f| f.as_str() == input));
    configured.cloned().unwrap_or_else(|| Member::anonymous(MemberId::parse("check").expect("a valid slug")))
}

/// Checks one input: an http(s) URL is fetched, anything else is read as a file.
pub async fn one(
    config: &Config,
    client: &fetch::Client,
    input: &str,
    base_url: Option<&Url>,
    now: DateTime<Utc>,
) -> CheckReport {
    let member = member_for(config, input);
    match Url::parse(input).ok().filter(|u| matches!(u.scheme(), "http" | "https")) {
        Some(url) => match fetch::get(client, &url, &Validators::default(), member.allow_private).await {
            Ok(Fetched::Body(body)) => {
                let base = base_url
                    .cloned()
                    .unwrap_or_else(|| document_base(&body.final_url, body.content_location.as_deref()));
                let mut report =
                    bytes(config, &member, input, &body.bytes, body.content_type.as_deref(), Some(&base), now);
                report.http = Some(HttpInfo {
                    status: body.status,
                    final_url: body.final_url.to_string(),
                    moved_to: body.moved_to.map(|u| u.to_string()),
                    content_type: body.content_type.clone(),
                });
                report
            }
            Ok(Fetched::NotModified { .. }) => {
                CheckReport::failed(input, "HTTP 304 to an unconditional request".into())
            }
            Ok(Fetched::Gone { .. }) => CheckReport::failed(input, "HTTP 410 Gone: the feed was removed".into()),
            Ok(Fetched::RetryLater { status, retry_after, .. }) => CheckReport::failed(
                input,
                format!(
                    "HTTP {status}: retry later{}",
                    retry_after.map(|d| format!(" (after {}s)", d.as_secs())).unwrap_or_default()
                ),
            ),
            Err(error) => CheckReport::failed(input, format!("fetch failed: {}", error.detail())),
        },
        None => match std::fs::read(input) {
            Ok(file) => bytes(config, &member, input, &file, None, base_url, now),
            Err(error) => CheckReport::failed(input, format!("cannot read the file: {error}")),
        },
    }
}

/// Runs the pure pipeline on bytes, catching a panic so one input cannot end a batch.
pub fn bytes(
    config: &Config,
    member: &Member,
    input: &str,
    body: &[u8],
    content_type: Option<&str>,
    base: Option<&Url>,
    now: DateTime<Utc>,
) -> CheckReport {
    let context = parse::Context {
        member,
        feed_url: input,
        base,
        timezone: config.site.timezone,
        future_dates: config.fetch.future_dates,
        now,
    };
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| parse::feed(body, content_type, &context)));
    let parsed = match result {
        Ok(Ok(parsed)) => parsed,
        Ok(Err(error)) => return CheckReport::failed(input, error.to_string()),
        Err(_) => {
            let mut report = CheckReport::failed(
                input,
                "planet panicked on this input (a bug: please report it with the file)".into(),
            );
            report.panicked = true;
            return report;
        }
    };
    let mut warnings = parsed.warnings;
    // What the store would take of this feed today if every post in it were new.
    let limit = crate::refresh::budget::Use {
        posts: config.fetch.member_posts_per_day,
        bytes: config.fetch.member_bytes_per_day,
    };
    let (_, left_out, _) =
        crate::refresh::budget::admit(parsed.posts.clone(), |_| true, crate::refresh::budget::Use::default(), limit);
    if left_out > 0 {
        warnings.push(crate::refresh::budget::warning(left_out, limit));
    }
    if base.is_none() {
        warnings.push(Warning::new("no_base", "no base URL (use --base-url): relative links are left as they are"));
    }
    CheckReport {
        input: input.to_string(),
        ok: true,
        error: None,
        panicked: false,
        http: None,
        encoding: Some(parsed.encoding.to_string()),
        feed_title: Some(parsed.title),
        feed_link: parsed.link,
        posts: parsed
            .posts
            .into_iter()
            .map(|post| CheckedPost {
                id: post.id,
                title: post.title,
                url: post.url,
                author: post.author,
                published: post.published,
                date_source: post.date_source,
                tags: post.tags,
                excerpt: post.excerpt,
                content_html: post.content_html.as_str().to_string(),
            })
            .collect(),
        filtered_out: parsed.filtered_out,
        warnings,
    }
}
