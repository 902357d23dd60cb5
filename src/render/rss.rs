//! The combined feed as RSS 2.0: `atom:link rel="self"`, a non-permalink `guid` holding the
//! stable id, `dc:creator` for the member, RFC 822 dates, HTML in `description`.
//!
//! RSS never says whether a title is text or HTML, and many readers render it as HTML, so a
//! title's text that could be read as markup (`<` before a letter, `/`, `!` or `?`; `&`
//! starting an entity) is HTML-escaped before XML-escaping (the RSS Advisory Board's advice):
//! `List<T>` reaches every reader as text, `<script>` as harmless text. Everything else in a
//! title, and categories, `source` and `dc:creator` (plain text everywhere), is escaped once:
//! escaping quotes or a bare `&` twice made readers show `&amp;` and `&#39;` literally.

use std::collections::BTreeMap;

use rss::extension::atom::{AtomExtension, Link};
use rss::extension::dublincore::DublinCoreExtension;
use rss::{Category, Channel, Guid, Item, Source};

use super::FeedInput;
use crate::model::Post;

pub fn rss(input: &FeedInput) -> String {
    let mut namespaces = BTreeMap::new();
    namespaces.insert("atom".to_string(), "http://www.w3.org/2005/Atom".to_string());
    namespaces.insert("dc".to_string(), "http://purl.org/dc/elements/1.1/".to_string());
    let self_link = Link {
        href: input.self_url.to_string(),
        rel: "self".into(),
        mime_type: Some("application/rss+xml".into()),
        ..Link::default()
    };
    let description =
        markup_inert(if input.site.description.is_empty() { &input.site.title } else { &input.site.description });
    let channel = Channel {
        title: markup_inert(&input.title()),
        link: input.alternate_url().to_string(),
        description,
        language: Some(input.site.language.clone()),
        last_build_date: Some(input.updated().to_rfc2822()),
        generator: Some(format!("planet {}", env!("CARGO_PKG_VERSION"))),
        atom_ext: Some(AtomExtension { links: vec![self_link] }),
        items: input.posts.iter().map(|post| item(input, post)).collect(),
        namespaces,
        ..Channel::default()
    };
    channel.to_string()
}

fn item(input: &FeedInput, post: &Post) -> Item {
    let member = input.member(post);
    let source = member
        .and_then(|m| m.feeds.first())
        .map(|feed| Source { url: feed.to_string(), title: Some(input.member_name(post).to_string()) });
    Item {
        title: Some(markup_inert(&post.title)),
        link: post.url.clone(),
        description: Some(post.content_html.as_str().to_string())
            .filter(|html| !html.is_empty())
            .or_else(|| Some(post.excerpt.clone()))
            .map(|description| description + &also_on_html(input, post)),
        guid: Some(Guid { value: input.entry_id(post), permalink: false }),
        pub_date: Some(post.published.to_rfc2822()),
        categories: post.tags.iter().map(|tag| Category { name: tag.clone(), domain: None }).collect(),
        source,
        dublin_core_ext: Some(DublinCoreExtension {
            creators: vec![input.member_name(post).to_string()],
            ..DublinCoreExtension::default()
        }),
        ..Item::default()
    }
}

/// RSS has one link per item: the other places the member published the article follow the
/// description as a line of links (made through the sanitizer, like every HTML we publish).
fn also_on_html(input: &FeedInput, post: &Post) -> String {
    let links: Vec<String> = post
        .copy_links()
        .iter()
        .map(|copy| format!("<a href=\"{}\">{}</a>", escape_html(&copy.url), escape_html(&copy.platform)))
        .collect();
    if links.is_empty() {
        return String::new();
    }
    let label = crate::texts::for_site(input.site).also_on;
    let html = format!("<p>{label} {}</p>", links.join(" · "));
    crate::sanitize::html(&html, None).as_str().to_string()
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Plain text that a reader rendering it as HTML still shows as written: a `<` that could
/// open a tag, comment or declaration, and a `&` that starts a character reference, are
/// HTML-escaped; nothing else is (the XML writer escapes once more, as for any text).
pub fn markup_inert(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (at, c) in text.char_indices() {
        let rest = &text[at + c.len_utf8()..];
        match c {
            '<' if rest.starts_with(|n: char| n.is_ascii_alphabetic() || matches!(n, '/' | '!' | '?')) => {
                out.push_str("&lt;")
            }
            '&' if starts_reference(rest) => out.push_str("&amp;"),
            _ => out.push(c),
        }
    }
    out
}

/// Whether text after a `&` reads as a character reference: `name;`, `#123;` or `#x1F;`.
fn starts_reference(rest: &str) -> bool {
    let Some(end) = rest.find(';') else { return false };
    let body = &rest[..end];
    match body.strip_prefix('#') {
        Some(number) => match number.strip_prefix(['x', 'X']) {
            Some(hex) => !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()),
            None => !number.is_empty() && number.chars().all(|c| c.is_ascii_digit()),
        },
        None => body.starts_with(|c: char| c.is_ascii_alphabetic()) && body.chars().all(|c| c.is_ascii_alphanumeric()),
    }
}
