//! The combined feed as RSS 2.0: `atom:link rel="self"`, a non-permalink `guid` holding the
//! stable id, `dc:creator` for the member, RFC 822 dates, HTML in `description`.
//!
//! RSS never says whether a title is text or HTML, and many readers render it as HTML, so
//! titles, names and categories are HTML-escaped before XML-escaping (the RSS Advisory
//! Board's advice): `List<T>` reaches every reader as text, `<script>` as harmless text.

use std::collections::BTreeMap;

use rss::extension::atom::{AtomExtension, Link};
use rss::extension::dublincore::DublinCoreExtension;
use rss::{Category, Channel, Guid, Item, Source};

use super::FeedInput;
use crate::model::Post;
use crate::sanitize::escape_text;

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
        escape_text(if input.site.description.is_empty() { &input.site.title } else { &input.site.description });
    let channel = Channel {
        title: escape_text(&input.title()),
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
        .map(|feed| Source { url: feed.to_string(), title: Some(escape_text(input.member_name(post))) });
    Item {
        title: Some(escape_text(&post.title)),
        link: post.url.clone(),
        description: Some(post.content_html.as_str().to_string())
            .filter(|html| !html.is_empty())
            .or_else(|| Some(post.excerpt.clone())),
        guid: Some(Guid { value: input.entry_id(post), permalink: false }),
        pub_date: Some(post.published.to_rfc2822()),
        categories: post.tags.iter().map(|tag| Category { name: escape_text(tag), domain: None }).collect(),
        source,
        dublin_core_ext: Some(DublinCoreExtension {
            creators: vec![escape_text(input.member_name(post))],
            ..DublinCoreExtension::default()
        }),
        ..Item::default()
    }
}
