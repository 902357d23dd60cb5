//! The combined feed as RSS 2.0: `atom:link rel="self"`, a non-permalink `guid` holding the
//! stable id, `dc:creator` for the member, RFC 822 dates, HTML in `description`.
//!
//! RSS never says whether a title is text or HTML. Plain text (titles, categories, `source`,
//! `dc:creator`) is escaped once, and every escape outside the CDATA descriptions is a
//! hexadecimal character reference (`&#x3C;` for `<`, `&#x26;` for `&`), as the RSS Best
//! Practices Profile asks: `Span<T>` reaches feedparser, newsboat and rss2email as written.
//! Escaping twice (`&amp;lt;`) made them all show `&lt;` literally.
//!
//! One exception keeps XSS out of readers that render titles as HTML without cleaning them:
//! text that would be live markup there (a tag with attributes, `<script>`, `<svg>`, a
//! comment) is HTML-escaped first, so it shows as text everywhere. Generic text such as
//! `List<T>` or `<b>` carries no attribute or script and goes out once.

use std::collections::BTreeMap;

use rss::extension::atom::{AtomExtension, Link};
use rss::extension::dublincore::DublinCoreExtension;
use rss::{Category, Channel, Guid, Item, Source};

use super::FeedInput;
use crate::model::Post;

/// `atom:link rel="hub"` for each WebSub hub, as the WebSub recommendation asks of RSS.
fn hub_links(input: &FeedInput) -> Vec<Link> {
    input.hubs.iter().map(|hub| Link { href: hub.to_string(), rel: "hub".into(), ..Link::default() }).collect()
}

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
        text_out(if input.site.description.is_empty() { &input.site.title } else { &input.site.description });
    let channel = Channel {
        title: text_out(&input.title()),
        link: input.alternate_url().to_string(),
        description,
        language: Some(input.site.language.clone()),
        last_build_date: Some(input.updated().to_rfc2822()),
        generator: Some(format!("planet {}", env!("CARGO_PKG_VERSION"))),
        atom_ext: Some(AtomExtension { links: [self_link].into_iter().chain(hub_links(input)).collect() }),
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
        .map(|feed| Source { url: feed.to_string(), title: Some(text_out(input.member_name(post))) });
    Item {
        title: Some(text_out(&post.title)),
        link: post.url.clone(),
        description: Some(post.content_html.as_str().to_string())
            .filter(|html| !html.is_empty())
            .or_else(|| Some(post.excerpt.clone()))
            .map(|description| description + &also_on_html(input, post)),
        guid: Some(Guid { value: input.entry_id(post), permalink: false }),
        pub_date: Some(post.published.to_rfc2822()),
        categories: post.tags.iter().map(|tag| Category { name: text_out(tag), domain: None }).collect(),
        source,
        dublin_core_ext: Some(DublinCoreExtension {
            creators: vec![text_out(input.member_name(post))],
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

/// Plain text as it goes out (escaped once by the XML writer), unless a reader rendering it
/// as HTML would find live markup in it: then `markup_inert` first.
fn text_out(text: &str) -> String {
    if live_as_html(text) {
        markup_inert(text)
    } else {
        text.to_string()
    }
}

/// Elements that matter without any attribute: their content is script, style or raw text,
/// they switch to SVG or MathML, or they change the page around them.
const LIVE_ELEMENTS: &[&str] = &[
    "script",
    "style",
    "iframe",
    "frame",
    "frameset",
    "object",
    "embed",
    "applet",
    "svg",
    "math",
    "template",
    "noscript",
    "noembed",
    "noframes",
    "xmp",
    "plaintext",
    "textarea",
    "title",
    "listing",
    "base",
    "meta",
    "link",
    "form",
];

/// Whether an HTML parser would find more than harmless bare tags in `text`: a start tag
/// with attributes (or room for them), one of `LIVE_ELEMENTS`, a comment or a declaration.
/// Hand-written because it follows the HTML tokenizer's tag-open rules on a few bytes,
/// where a parser would build and discard a DOM for every title of every feed.
pub fn live_as_html(text: &str) -> bool {
    let mut rest = text;
    while let Some(at) = rest.find('<') {
        rest = &rest[at + 1..];
        if rest.starts_with(['!', '?']) {
            return true;
        }
        if !rest.starts_with(|c: char| c.is_ascii_alphabetic()) {
            continue;
        }
        let name_end = rest.find(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>').unwrap_or(rest.len());
        let name = rest[..name_end].to_ascii_lowercase();
        let after = &rest[name_end..];
        let bare = after.is_empty() || after.starts_with('>') || after.starts_with("/>");
        if LIVE_ELEMENTS.contains(&name.as_str()) || !bare {
            return true;
        }
    }
    false
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
