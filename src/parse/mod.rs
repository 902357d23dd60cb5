//! From a feed's bytes to normalized, sanitized posts: decode, parse with feed-rs (repairing
//! ill-formed XML when the strict parse fails), then normalize each entry (`entry`). Pure:
//! no I/O, and the clock is the `now` in the context.

mod bases;
mod entry;
mod legacy;
pub mod limits;
mod media;
mod repair;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use url::Url;

use crate::config::{FutureDates, Member};
use crate::dates;
use crate::decode;
use crate::model::{Post, Warning};
use crate::sanitize;
use crate::text::clean_line;

/// What the pipeline needs to know about where a document came from.
pub struct Context<'a> {
    pub member: &'a Member,
    /// The feed URL as configured, recorded on each post.
    pub feed_url: &'a str,
    /// The document base: the final URL after redirects (or Content-Location).
    pub base: Option<&'a Url>,
    pub timezone: Tz,
    pub future_dates: FutureDates,
    pub now: DateTime<Utc>,
}

#[derive(Debug)]
pub struct ParsedFeed {
    pub title: String,
    pub link: Option<String>,
    pub encoding: &'static str,
    pub posts: Vec<Post>,
    pub warnings: Vec<Warning>,
    /// Entries left out by the member's include/exclude filters.
    pub filtered_out: usize,
    /// The document's WebSub links (`rel="hub"`, `rel="self"`), as written.
    pub hub: Option<String>,
    pub self_link: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("not a feed: {0}")]
    NotAFeed(String),
    /// An HTML page where the feed should be, and the feeds it advertises.
    #[error("not a feed: this is an HTML page; {}", advertised_text(.0))]
    HtmlPage(Vec<String>),
    #[error("the feed cannot be parsed: {0}")]
    Unparsable(String),
}

fn advertised_text(advertised: &[String]) -> String {
    match advertised {
        [] => "it advertises no feed".to_string(),
        feeds => format!("it advertises these feeds: {}", feeds.join(", ")),
    }
}

impl ParseError {
    /// What may be shown publicly (member pages, the API): the class of the problem, nothing
    /// read from the body. `Display` has the rest, for the log and `planet check`.
    pub fn public(&self) -> String {
        match self {
            ParseError::NotAFeed(reason) => format!("not a feed: {reason}"),
            ParseError::HtmlPage(advertised) if advertised.is_empty() => {
                "not a feed: this is an HTML page, and it advertises no feed".to_string()
            }
            ParseError::HtmlPage(_) => {
                "not a feed: this is an HTML page; `planet check` on it lists the feeds it advertises".to_string()
            }
            ParseError::Unparsable(_) => {
                "the feed cannot be parsed: it is not well-formed XML or JSON, and repair could not recover it (`planet check` says where)"
                    .to_string()
            }
        }
    }
}

/// A compressed file served as the body: a server that gzips a feed twice, or serves a
/// `.gz` file without `Content-Encoding`. Said plainly, so the member knows what to fix,
/// instead of a charset guess and an XML error about binary bytes.
fn compressed_instead_of_feed(bytes: &[u8]) -> Option<String> {
    let what = if bytes.starts_with(&[0x1f, 0x8b]) {
        "gzip"
    } else if bytes.starts_with(b"PK\x03\x04") {
        "zip"
    } else {
        return None;
    };
    Some(format!(
        "the body is {what}-compressed data, not a feed: the server sent a compressed file without \
         saying so in Content-Encoding (or compressed it twice)"
    ))
}

pub fn feed(bytes: &[u8], content_type: Option<&str>, context: &Context) -> Result<ParsedFeed, ParseError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ParseError::NotAFeed("the document is empty".to_string()));
    }
    if let Some(reason) = compressed_instead_of_feed(bytes) {
        return Err(ParseError::NotAFeed(reason));
    }
    let decoded = decode::to_utf8_from(bytes, content_type, context.base.and_then(Url::host_str));
    let mut warnings: Vec<Warning> = decoded.warnings.iter().map(|w| Warning::new("charset", w.clone())).collect();
    if let Some(advertised) = html_page_instead_of_feed(&decoded.text) {
        return Err(ParseError::HtmlPage(advertised));
    }
    let text = match legacy::modernize(&decoded.text) {
        Some((modern, note)) => {
            warnings.push(Warning::new("legacy_format", note));
            modern
        }
        None => decoded.text,
    };
    let unparsed_dates = Arc::new(Mutex::new(Vec::new()));
    let (parsed, text) = match feed_rs_parse(&text, context, &unparsed_dates) {
        Ok(parsed) => (parsed, text),
        Err(first_error) => {
            let (repaired, repairs) = repair::xml(&text);
            match feed_rs_parse(&repaired, context, &unparsed_dates) {
                Ok(parsed) => {
                    let what = if repairs.is_empty() { "recovered".to_string() } else { repairs.join("; ") };
                    warnings.push(Warning::new("repaired_xml", format!("ill-formed XML ({first_error}); {what}")));
                    (parsed, repaired)
                }
                Err(_) => return Err(ParseError::Unparsable(first_error)),
            }
        }
    };
    let entry_bases = bases::per_entry(&text, context.base, parsed.entries.len());
    let mut posts = Vec::with_capacity(parsed.entries.len());
    let mut used_ids = HashSet::new();
    let mut filtered_out = 0;
    let feed_author = parsed.authors.first().and_then(|a| a.name.clone());
    let taken = limits::newest_entries(&parsed.entries);
    if taken.len() < parsed.entries.len() {
        warnings.push(Warning::new(
            "too_many_entries",
            format!(
                "the feed has {} entries; the newest {} are read (planet takes at most {} per feed)",
                parsed.entries.len(),
                taken.len(),
                limits::MAX_ENTRIES_PER_FEED
            ),
        ));
    }
    let mut html_budget = limits::MAX_FEED_HTML_BYTES;
    let mut over_budget = 0;
    for index in taken {
        let raw_entry = &parsed.entries[index];
        let cost = limits::html_bytes(raw_entry);
        if cost > html_budget {
            over_budget += 1;
            continue;
        }
        html_budget -= cost;
        let bases = entry_bases.get(index).cloned().unwrap_or_default();
        let input = entry::Input {
            position: index,
            entry: raw_entry,
            feed_type: &parsed.feed_type,
            bases,
            feed_author: feed_author.as_deref(),
        };
        match entry::normalize(input, context, &mut used_ids, &mut warnings) {
            entry::Outcome::Post(post) => posts.push(*post),
            entry::Outcome::Filtered => filtered_out += 1,
            entry::Outcome::Skipped => {}
        }
    }
    if over_budget > 0 {
        warnings.push(Warning::new(
            "work_budget",
            format!(
                "{over_budget} entries were left for later: one pass reads at most {} MiB of a feed's HTML",
                limits::MAX_FEED_HTML_BYTES >> 20
            ),
        ));
    }
    let unparsed_dates = unparsed_dates.lock().map(|d| d.clone()).unwrap_or_default();
    if !unparsed_dates.is_empty() {
        let examples: Vec<&str> = unparsed_dates.iter().take(3).map(String::as_str).collect();
        warnings.push(Warning::new(
            "bad_date",
            format!("{} dates were not understood, e.g. {:?}", unparsed_dates.len(), examples),
        ));
    }
    if parsed.entries.is_empty() {
        warnings.push(Warning::new("no_entries", "the feed has no entries"));
    }
    Ok(ParsedFeed {
        title: parsed.title.map(|t| clean_line(&sanitize::plain_text_of_title(&t.content))).unwrap_or_default(),
        link: parsed.links.iter().find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate")).map(|l| l.href.clone()),
        hub: parsed.links.iter().find(|l| l.rel.as_deref() == Some("hub")).map(|l| l.href.clone()),
        self_link: parsed.links.iter().find(|l| l.rel.as_deref() == Some("self")).map(|l| l.href.clone()),
        encoding: decoded.encoding,
        posts,
        warnings,
        filtered_out,
    })
}

fn feed_rs_parse(
    text: &str,
    context: &Context,
    unparsed_dates: &Arc<Mutex<Vec<String>>>,
) -> Result<feed_rs::model::Feed, String> {
    let zone = context.timezone;
    let failures = Arc::clone(unparsed_dates);
    feed_rs::parser::Builder::new()
        .sanitize_content(false)
        .base_uri(context.base.map(Url::as_str))
        // An empty id marks an entry without a GUID, so we choose the fallback ourselves.
        .id_generator(|_, _, _| String::new())
        .timestamp_parser(move |text| {
            let parsed = dates::parse(text, zone);
            if parsed.is_none() && !text.trim().is_empty() {
                if let Ok(mut failures) = failures.lock() {
                    failures.push(text.chars().take(60).collect());
                }
            }
            parsed
        })
        .build()
        .parse(text.as_bytes())
        .map_err(|error| error.to_string())
}

/// An HTML page served where a feed was expected is the commonest member mistake: the feeds
/// the page advertises, if it is one.
fn html_page_instead_of_feed(text: &str) -> Option<Vec<String>> {
    let head: String = text.chars().take(4096).collect::<String>().to_ascii_lowercase();
    let html_at = head.find("<html")?;
    let feed_at = ["<rss", "<feed", "<rdf:rdf", "<channel"].iter().filter_map(|root| head.find(root)).min();
    if feed_at.is_some_and(|feed_at| feed_at < html_at) {
        return None;
    }
    Some(advertised_feeds(text))
}

fn advertised_feeds(text: &str) -> Vec<String> {
    let lowered = text.to_ascii_lowercase();
    let mut found = Vec::new();
    for (start, _) in lowered.match_indices("<link") {
        let Some(length) = lowered[start..].find('>') else { break };
        let tag = &text[start..start + length];
        let tag_lower = &lowered[start..start + length];
        let is_feed = tag_lower.contains("alternate")
            && (tag_lower.contains("rss+xml") || tag_lower.contains("atom+xml") || tag_lower.contains("feed+json"));
        if let (true, Some(href_at)) = (is_feed, tag_lower.find("href=")) {
            let value = &tag[href_at + 5..];
            let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'');
            let href: String = match quote {
                Some(q) => value[1..].chars().take_while(|c| *c != q).collect(),
                None => value.chars().take_while(|c| !c.is_whitespace() && *c != '/').collect(),
            };
            found.push(href);
        }
    }
    found
}

#[cfg(test)]
mod tests;
