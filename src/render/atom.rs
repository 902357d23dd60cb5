//! The combined feed as Atom (RFC 4287): feed id, self and alternate links, each entry with a
//! stable id, the member as author, an `atom:source` naming the member's blog, and HTML
//! content from `SafeHtml`.

use atom_syndication::{Category, Content, Entry, Feed, FixedDateTime, Generator, Link, Person, Source, Text};
use chrono::{DateTime, Utc};

use super::FeedInput;
use crate::model::Post;

fn fixed(time: DateTime<Utc>) -> FixedDateTime {
    time.fixed_offset()
}

fn link(href: &str, rel: &str, media_type: Option<&str>) -> Link {
    Link { href: href.to_string(), rel: rel.to_string(), mime_type: media_type.map(str::to_string), ..Link::default() }
}

pub fn atom(input: &FeedInput) -> String {
    let feed = Feed {
        title: Text::plain(input.title()),
        id: input.feed_id(),
        updated: fixed(input.updated()),
        links: [
            link(input.self_url.as_str(), "self", Some("application/atom+xml")),
            link(input.alternate_url().as_str(), "alternate", Some("text/html")),
        ]
        .into_iter()
        .chain(input.hubs.iter().map(|hub| link(hub.as_str(), "hub", None)))
        .collect(),
        subtitle: Some(input.site.description.clone()).filter(|d| !d.is_empty()).map(Text::plain),
        generator: Some(Generator {
            value: "planet".into(),
            uri: None,
            version: Some(env!("CARGO_PKG_VERSION").into()),
        }),
        entries: input.posts.iter().map(|post| entry(input, post)).collect(),
        // The interface language; posts in another language are still labelled by it, as
        // no member feed says reliably what language a post is in.
        lang: Some(input.site.language.clone()).filter(|l| !l.is_empty()),
        ..Feed::default()
    };
    feed.to_string()
}

/// The post's own link, and one `related` link per place the member also published it.
fn entry_links(post: &Post) -> Vec<Link> {
    let own = post.url.iter().map(|url| link(url, "alternate", Some("text/html")));
    let copies = post.also_on.iter().filter_map(|copy| {
        let title = Some(copy.platform.clone()).filter(|p| !p.is_empty());
        copy.url.as_ref().map(|url| Link { title, ..link(url, "related", Some("text/html")) })
    });
    own.chain(copies).collect()
}

fn entry(input: &FeedInput, post: &Post) -> Entry {
    let member = input.member(post);
    let author = Person {
        name: input.member_name(post).to_string(),
        uri: member.and_then(|m| m.site.as_ref()).map(|u| u.to_string()),
        email: None,
        ..Person::default()
    };
    let source_link = member.and_then(|m| m.site.as_ref()).map(|u| u.to_string());
    let source = Source {
        title: Text::plain(input.member_name(post)),
        id: post.feed_url.clone(),
        updated: fixed(post.updated.unwrap_or(post.published).max(post.published)),
        links: source_link.map(|href| vec![link(&href, "alternate", Some("text/html"))]).unwrap_or_default(),
        ..Source::default()
    };
    let content = Content {
        value: Some(post.content_html.as_str().to_string()),
        content_type: Some("html".into()),
        ..Content::default()
    };
    Entry {
        title: Text::plain(post.title.clone()),
        id: input.entry_id(post),
        updated: fixed(post.updated.unwrap_or(post.published).max(post.published)),
        published: Some(fixed(post.published)),
        authors: vec![author],
        links: entry_links(post),
        categories: post.tags.iter().map(|tag| Category { term: tag.clone(), ..Category::default() }).collect(),
        summary: Some(post.excerpt.clone()).filter(|e| !e.is_empty()).map(Text::plain),
        content: Some(content).filter(|_| !post.content_html.is_empty()),
        source: Some(source),
        ..Entry::default()
    }
}
