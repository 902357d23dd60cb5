//! The combined feed as RSS 2.0: `atom:link rel="self"`, a non-permalink `guid` holding the
//! stable id, `dc:creator` for the member, RFC 822 dates, HTML in `description`.
//!
//! RSS never says whether a title is text or HTML. Plain text (titles, categories, `source`,
//! `dc:creator`) is escaped once, and every escape outside the CDATA descriptions is a
//! hexadecimal character reference (`&#x3C;` for `<`, `&#x26;` for `&`), as the RSS Best
//! Practices Profile asks: readers that sniff a title for markup take `&#x3C;` for a
//! character, so `Span<T>` reaches feedparser, newsboat and rss2email as written. Escaping
//! twice (`&amp;lt;`) made them show `&lt;` literally.

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
        (if input.site.description.is_empty() { &input.site.title } else { &input.site.description }).to_string();
    let channel = Channel {
        title: input.title(),
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
    hexadecimal_references(&channel.to_string())
}

fn item(input: &FeedInput, post: &Post) -> Item {
    let member = input.member(post);
    let source = member
        .and_then(|m| m.feeds.first())
        .map(|feed| Source { url: feed.to_string(), title: Some(input.member_name(post).to_string()) });
    Item {
        title: Some(post.title.clone()),
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

/// The document with each predefined XML entity outside CDATA sections written as the
/// hexadecimal character reference for the same character. The XML is unchanged for every
/// parser; the rss crate has no option for it, hence this pass over its output.
pub fn hexadecimal_references(document: &str) -> String {
    const REFERENCES: [(&str, &str); 5] =
        [("&lt;", "&#x3C;"), ("&gt;", "&#x3E;"), ("&amp;", "&#x26;"), ("&quot;", "&#x22;"), ("&apos;", "&#x27;")];
    let mut out = String::with_capacity(document.len() + document.len() / 16);
    let mut rest = document;
    while !rest.is_empty() {
        if rest.starts_with("<![CDATA[") {
            let end = rest.find("]]>").map_or(rest.len(), |at| at + 3);
            out.push_str(&rest[..end]);
            rest = &rest[end..];
            continue;
        }
        let next = rest.find(['&', '<']).unwrap_or(rest.len());
        out.push_str(&rest[..next]);
        rest = &rest[next..];
        if rest.starts_with("<![CDATA[") {
            continue;
        } else if rest.starts_with('<') {
            out.push('<');
            rest = &rest[1..];
        } else if let Some((entity, reference)) = REFERENCES.iter().find(|(entity, _)| rest.starts_with(entity)) {
            out.push_str(reference);
            rest = &rest[entity.len()..];
        } else if !rest.is_empty() {
            out.push('&');
            rest = &rest[1..];
        }
    }
    out
}
