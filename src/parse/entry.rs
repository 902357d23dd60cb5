//! Normalizes one feed-rs entry into a `Post`: plain-text title and author, absolute http(s)
//! link, sanitized content with relative URLs resolved, an excerpt, tags, a date under the
//! future-date policy, a stable id, and the member's filters applied.

use std::collections::HashSet;

use chrono::Duration;
use feed_rs::model::{Entry, FeedType, Text};
use url::Url;

use super::bases::EntryBases;
use super::limits::{self, MAX_AUTHOR_CHARS as MAX_AUTHOR, MAX_LINE_SOURCE_BYTES as MAX_LINE};
use super::Context;
use crate::config::FutureDates;
use crate::decode;
use crate::model::{DateSource, Post, Warning};
use crate::sanitize::{self, SafeHtml};
use crate::text::{clean_line, collapse_whitespace, excerpt, strip_xml_forbidden};
use crate::{hashing, identity};

const EXCERPT_CHARACTERS: usize = 200;

/// A feed clock a little ahead of ours is not "the future".
const FUTURE_GRACE_MINUTES: i64 = 10;

pub struct Input<'a> {
    /// The entry's place in the document (0 first): undated entries keep that order.
    pub position: usize,
    pub entry: &'a Entry,
    pub feed_type: &'a FeedType,
    pub bases: EntryBases,
    pub feed_author: Option<&'a str>,
}

pub enum Outcome {
    Post(Box<Post>),
    Filtered,
    Skipped,
}

pub fn normalize(
    input: Input,
    context: &Context,
    used_ids: &mut HashSet<String>,
    warnings: &mut Vec<Warning>,
) -> Outcome {
    let entry = input.entry;
    let link = entry_link(entry, context.base);
    let content_base = input
        .bases
        .content
        .as_ref()
        .or(entry.content.as_ref().and_then(|c| c.src.as_ref()).and_then(|l| Url::parse(&l.href).ok()).as_ref())
        .or(context.base)
        .cloned();
    let summary_base = input.bases.summary.as_ref().or(context.base).cloned();
    let (content_html, cut, flattened) =
        content(entry, input.feed_type, link.as_deref(), content_base.as_ref(), summary_base.as_ref());
    if flattened {
        warnings.push(Warning::new(
            "deep_nesting",
            format!(
                "a post's HTML nests elements more than {} deep; the deeper tags were dropped, their text kept",
                sanitize::MAX_NESTING_DEPTH
            ),
        ));
    }
    warn_if_double_encoded(entry, warnings);
    let content_html = match cut {
        false => content_html,
        true => {
            warnings.push(Warning::new(
                "truncated_body",
                format!(
                    "a post's body is larger than {} KiB; the planet shows its start and links to the original",
                    limits::MAX_BODY_BYTES / 1024
                ),
            ));
            content_html.followed_by(read_on_note(link.as_deref()))
        }
    };
    // When the summary is also the content (no separate body), its text comes from the
    // sanitized HTML without a second HTML parse.
    let has_body = entry.content.as_ref().and_then(|c| c.body.as_ref()).is_some_and(|b| !b.trim().is_empty());
    let summary_text =
        entry.summary.as_ref().filter(|_| has_body).map(|s| text_start_of(s, input.feed_type, EXCERPT_CHARACTERS));
    let title = title(entry, input.feed_type, &content_html, link.as_deref());
    let excerpt_source = match &summary_text {
        Some(summary) if !summary.trim().is_empty() => summary.clone(),
        _ => sanitize::text_of(&content_html),
    };
    let tags = tags(entry);
    if !context.member.accepts(&title, &tags) {
        return Outcome::Filtered;
    }
    let guid = Some(clean_line(&entry.id)).filter(|g| !g.is_empty());
    let Some((published, date_source)) = date(entry, input.position, context, &title, warnings) else {
        return Outcome::Skipped;
    };
    let updated = updated_date(entry, context, &title, warnings);
    let content_hash = hashing::digest(&[&title, link.as_deref().unwrap_or(""), content_html.as_str()]);
    let link_key = link.as_deref().and_then(identity::normalize_link);
    let member = context.member.id.as_str();
    let mut id = identity::post_id(member, guid.as_deref(), link_key.as_deref(), &content_hash);
    if used_ids.contains(&id) {
        // Two items sharing one GUID in one document are still two posts.
        let second_key = link_key.clone().unwrap_or_else(|| content_hash.clone());
        id = hashing::digest(&[
            member,
            "duplicate",
            guid.as_deref().unwrap_or(""),
            &second_key,
            &used_ids.len().to_string(),
        ]);
        warnings.push(Warning::new(
            "duplicate_guid",
            format!("two entries share the id {:?}; both are kept", guid.as_deref().unwrap_or("")),
        ));
    }
    used_ids.insert(id.clone());
    let author = entry.authors.first().and_then(|a| a.name.as_deref()).or(input.feed_author);
    let author = author
        .map(|a| {
            limits::at_most_chars(clean_line(&sanitize::plain_text_of_title(limits::head(a, MAX_LINE))), MAX_AUTHOR)
        })
        .filter(|a| !a.is_empty());
    let excerpt_text =
        excerpt(without_leading_title(&strip_xml_forbidden(&excerpt_source), &title), EXCERPT_CHARACTERS);
    Outcome::Post(Box::new(Post {
        id,
        member: context.member.id.clone(),
        feed_url: context.feed_url.to_string(),
        guid,
        url: link,
        title,
        author,
        published,
        updated,
        first_seen: context.now,
        date_source,
        tags,
        excerpt: excerpt_text,
        content_html,
        content_hash,
        backlog: false,
        duplicate_of: None,
        also_on: Vec::new(),
        also_by: Vec::new(),
    }))
}

/// One warning per feed when an entry's title or body is UTF-8 encoded twice (pages captured
/// through a Latin-1 step): the text is repaired, but the member's feed should be fixed.
fn warn_if_double_encoded(entry: &Entry, warnings: &mut Vec<Warning>) {
    if warnings.iter().any(|w| w.code == "double_encoded") {
        return;
    }
    let texts = [
        entry.title.as_ref().map(|t| t.content.as_str()),
        entry.summary.as_ref().map(|s| s.content.as_str()),
        entry.content.as_ref().and_then(|c| c.body.as_deref()),
    ];
    if texts.into_iter().flatten().any(|text| decode::is_double_encoded(limits::head(text, 4096))) {
        warnings.push(Warning::new(
            "double_encoded",
            "the feed's text is UTF-8 encoded twice (read as Latin-1 and encoded again); planet repairs it, but the feed should be fixed",
        ));
    }
}

/// The text after a leading copy of the title (blog engines, cnblogs among them, start the
/// body with the title as a heading; the site would show it twice). Whitespace inside either
/// is not compared; the copy must end where a word does (a block's end reads as a space), so
/// `中间件是…` keeps its first word. Text that is only the title is kept as it is.
fn without_leading_title<'t>(text: &'t str, title: &str) -> &'t str {
    let mut wanted = title.chars().filter(|c| !c.is_whitespace()).peekable();
    if wanted.peek().is_none() {
        return text;
    }
    for (at, c) in text.char_indices() {
        if c.is_whitespace() {
            continue;
        }
        if wanted.next() != Some(c) {
            return text;
        }
        if wanted.peek().is_none() {
            let after = &text[at + c.len_utf8()..];
            if after.starts_with(char::is_alphanumeric) {
                return text;
            }
            let rest = after.trim_start_matches(|c: char| c.is_whitespace() || "-:|·—：".contains(c));
            return if rest.is_empty() { text } else { rest };
        }
    }
    text
}

/// The entry's web page: an alternate (or unlabelled) link, made absolute, http(s) only:
/// a `javascript:` link would be an XSS hole in every output that links the title.
fn entry_link(entry: &Entry, base: Option<&Url>) -> Option<String> {
    let candidates = entry.links.iter().filter(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"));
    candidates.chain(entry.links.iter()).find_map(|link| {
        let href = strip_xml_forbidden(link.href.trim());
        let url =
            Url::parse(&href).or_else(|_| base.ok_or(url::ParseError::RelativeUrlWithoutBase)?.join(&href)).ok()?;
        matches!(url.scheme(), "http" | "https").then(|| url.to_string())
    })
}

/// The text of a text construct: literal for Atom `type="text"` and JSON Feed (whose titles
/// are text by spec), otherwise (HTML, and RSS where the type is never said) markup stripped
/// and entities decoded.
fn text_of(text: &Text, feed_type: &FeedType) -> String {
    text_start_of(text, feed_type, usize::MAX)
}

/// `text_of`, of which only the first `at_least` characters will be read.
fn text_start_of(text: &Text, feed_type: &FeedType, at_least: usize) -> String {
    let literal = matches!(feed_type, FeedType::JSON)
        || (matches!(feed_type, FeedType::Atom) && text.content_type.essence().to_string() == "text/plain");
    // A title's source past MAX_LINE could only be cut; a summary's past a body's size too.
    let source_limit = if at_least == usize::MAX { MAX_LINE } else { limits::MAX_BODY_BYTES };
    let content = limits::head(&text.content, source_limit);
    // Text read as HTML is repaired by the sanitizer's plain text, on what it reads (a
    // summary's first 2 KiB, often); literal text is repaired here.
    match (literal, at_least) {
        (true, _) => decode::repair_mangled(content).into_owned(),
        (false, usize::MAX) => sanitize::plain_text_of_title(content),
        (false, at_least) => sanitize::plain_text_start_of_title(content, at_least),
    }
}

fn title(entry: &Entry, feed_type: &FeedType, content: &SafeHtml, link: Option<&str>) -> String {
    let title = entry.title.as_ref().map(|t| clean_line(&text_of(t, feed_type))).unwrap_or_default();
    if !title.is_empty() {
        return limits::at_most_chars(title, limits::MAX_TITLE_CHARS);
    }
    let from_content = excerpt(&sanitize::text_of(content), 60);
    if !from_content.is_empty() {
        return clean_line(&from_content);
    }
    link.map(str::to_string).unwrap_or_else(|| "(untitled)".to_string())
}

/// The end of a body that was cut: a link to the whole post.
fn read_on_note(link: Option<&str>) -> SafeHtml {
    let note = match link {
        Some(link) => {
            format!("<p>… <a href=\"{}\">阅读全文 · Read the whole post</a></p>", sanitize::escape_text(link))
        }
        None => "<p>…</p>".to_string(),
    };
    sanitize::html(&note, None)
}

/// The sanitized body (the content, else the summary, else Media RSS), whether it was cut at
/// `MAX_BODY_BYTES`, and whether nesting past the sanitizer's depth was flattened.
fn content(
    entry: &Entry,
    feed_type: &FeedType,
    link: Option<&str>,
    content_base: Option<&Url>,
    summary_base: Option<&Url>,
) -> (SafeHtml, bool, bool) {
    let body =
        entry.content.as_ref().and_then(|c| c.body.as_ref().map(|body| (body, c.content_type.essence().to_string())));
    let (raw, kind, base) = match body {
        Some((body, kind)) if !body.trim().is_empty() => (body.as_str(), kind, content_base),
        _ => match entry.summary.as_ref().filter(|s| !s.content.trim().is_empty()) {
            Some(summary) => (summary.content.as_str(), summary.content_type.essence().to_string(), summary_base),
            None => return (super::media::body(entry, link, content_base), false, false),
        },
    };
    let kept = limits::head(raw, limits::MAX_BODY_BYTES);
    let cut = kept.len() < raw.len();
    let kept = strip_xml_forbidden(kept);
    // An RSS description is HTML in practice, whatever feed-rs calls it (it calls RSS 1.0's
    // text/plain, and its entities then reached excerpts as `&apos;`); only Atom and JSON
    // Feed say when a body is text.
    let rss = matches!(feed_type, FeedType::RSS0 | FeedType::RSS1 | FeedType::RSS2);
    let (html, flattened) = if kind == "text/plain" && !rss {
        (sanitize::text_as_html(&kept), false)
    } else {
        sanitize::html_flattening(&kept, base)
    };
    (html, cut, flattened)
}

fn tags(entry: &Entry) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    for category in &entry.categories {
        if tags.len() == limits::MAX_TAGS {
            break;
        }
        let label = limits::head(category.label.as_deref().unwrap_or(&category.term), MAX_LINE);
        let tag = clean_line(&collapse_whitespace(&sanitize::plain_text_of_title(label)));
        let tag = limits::at_most_chars(tag, limits::MAX_TAG_CHARS);
        if !tag.is_empty() && !tags.iter().any(|t| t.to_lowercase() == tag.to_lowercase()) {
            tags.push(tag);
        }
    }
    tags
}

/// The entry's `updated` date. Unless the policy keeps future dates, one in the future is
/// dropped (outputs then use the published date), whatever the published date was: a
/// future `updated` would put that future into every feed's own `updated`. Dropped rather
/// than set to now, so that the next pass sees the same post and not an edit.
fn updated_date(
    entry: &Entry,
    context: &Context,
    title: &str,
    warnings: &mut Vec<Warning>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let updated = entry.updated?;
    if updated <= context.now + Duration::minutes(FUTURE_GRACE_MINUTES) || context.future_dates == FutureDates::Keep {
        return Some(updated);
    }
    warnings.push(Warning::new(
        "future_updated",
        format!("'{title}' says it was updated {updated}, in the future; that date is not used"),
    ));
    None
}

/// The instant an undated entry is dated at: when it was first seen, a second earlier for each
/// entry above it in the document (feeds list newest first, so the feed's order is kept), and
/// a fraction of a second fixed per feed, so that undated posts of different feeds fetched in
/// one pass do not share an instant (readers see duplicate dates, and the river's order
/// among them would be arbitrary).
fn undated_instant(context: &Context, position: usize) -> chrono::DateTime<chrono::Utc> {
    let feed_hash = hashing::digest(&[context.member.id.as_str(), context.feed_url]);
    let micros = u64::from_str_radix(&feed_hash[..8], 16).unwrap_or_default() % 1_000_000;
    context.now - Duration::seconds(position as i64) - Duration::microseconds(micros as i64)
}

/// The published date under the future-date policy; `None` means leave the entry out now.
fn date(
    entry: &Entry,
    position: usize,
    context: &Context,
    title: &str,
    warnings: &mut Vec<Warning>,
) -> Option<(chrono::DateTime<chrono::Utc>, DateSource)> {
    let Some(date) = entry.published.or(entry.updated) else {
        warnings
            .push(Warning::new("no_date", format!("'{title}' has no usable date; the time it was first seen is used")));
        return Some((undated_instant(context, position), DateSource::FirstSeen));
    };
    if date <= context.now + Duration::minutes(FUTURE_GRACE_MINUTES) {
        return Some((date, DateSource::Feed));
    }
    match context.future_dates {
        FutureDates::Keep => Some((date, DateSource::Feed)),
        FutureDates::Clamp => {
            warnings.push(Warning::new(
                "future_date",
                format!("'{title}' is dated {date}, in the future; dated when first seen instead"),
            ));
            Some((context.now, DateSource::Clamped))
        }
        FutureDates::Drop => {
            warnings.push(Warning::new(
                "future_date",
                format!("'{title}' is dated {date}, in the future; left out until then"),
            ));
            None
        }
    }
}
