//! The digest as a page on the site, as an email (HTML made for mail clients: tables and
//! inline styles, no stylesheet, no script; and plain text), as an Atom feed of weeks, and
//! the small message pages of the subscription flow. Pure: values in, text out.

use atom_syndication::{Content, Entry, Feed, Link, Person, Text};
use chrono::{DateTime, Utc};
use minijinja::context;

use super::site::{base_path, feed_links, site_values};
use super::template::{render, texts};
use crate::config::Site;
use crate::digest::Digest;

pub fn page(site: &Site, digest: &Digest, previous: &str, next: Option<&str>, subscribe: bool) -> String {
    render(
        "digest.html",
        context! {
            site => site_values(site),
            t => texts(site),
            base_path => base_path(site),
            feeds => feed_links(site, ""),
            digest => digest,
            previous => previous,
            next => next,
            subscribe => subscribe,
        },
    )
}

pub fn email_html(site: &Site, digest: &Digest, unsubscribe_url: Option<&str>) -> String {
    render(
        "email.html",
        context! { language => site.language.clone(), t => texts(site), digest => digest, unsubscribe_url => unsubscribe_url },
    )
}

pub fn email_text(site: &Site, digest: &Digest, unsubscribe_url: Option<&str>) -> String {
    render("email.txt", context! { t => texts(site), digest => digest, unsubscribe_url => unsubscribe_url })
}

/// A week as a feed entry's HTML: the email's content without its layout tables and inline
/// styles, which feed validators flag and readers restyle anyway.
fn feed_entry_html(site: &Site, digest: &Digest) -> String {
    render("digest_entry.html", context! { t => texts(site), digest => digest })
}

/// One entry per week, newest first; each entry's content is the week in plain HTML, and its
/// author the community (readers show an entry's own author, not the feed's). `latest_end`
/// is when the last finished week ended: the feed's date when it lists no week.
pub fn atom(site: &Site, digests: &[Digest], latest_end: DateTime<Utc>, hubs: &[url::Url]) -> String {
    let link = |href: String, rel: &str, media_type: &str| Link {
        href,
        rel: rel.into(),
        mime_type: Some(media_type.into()),
        ..Link::default()
    };
    let self_url = site.url.join("digest.atom").map(|u| u.to_string()).unwrap_or_default();
    let page_url = site.url.join("digest").map(|u| u.to_string()).unwrap_or_default();
    let host = site.url.host_str().unwrap_or("planet").to_string();
    let community = Person { name: site.title.clone(), uri: Some(site.url.to_string()), ..Person::default() };
    let title = digests
        .first()
        .map(|d| d.title.clone())
        .unwrap_or_else(|| crate::texts::fill(texts(site).default_digest_title, &[("site", &site.title)]));
    let feed = Feed {
        title: Text::plain(title.clone()),
        id: format!("tag:{host},2026:digest"),
        updated: digests.first().map(|d| d.ends).unwrap_or(latest_end).fixed_offset(),
        authors: vec![community.clone()],
        links: [link(self_url, "self", "application/atom+xml"), link(page_url, "alternate", "text/html")]
            .into_iter()
            .chain(hubs.iter().map(|hub| Link { href: hub.to_string(), rel: "hub".into(), ..Link::default() }))
            .collect(),
        entries: digests
            .iter()
            .map(|digest| Entry {
                title: Text::plain(digest.subject.clone()),
                id: format!("tag:{host},2026:digest:{}", digest.week),
                updated: digest.ends.fixed_offset(),
                published: Some(digest.ends.fixed_offset()),
                links: vec![link(digest.url.clone(), "alternate", "text/html")],
                authors: vec![community.clone()],
                summary: Some(Text::plain(digest.headline.clone())),
                content: Some(Content {
                    value: Some(feed_entry_html(site, digest)),
                    content_type: Some("html".into()),
                    ..Content::default()
                }),
                ..Entry::default()
            })
            .collect(),
        lang: Some(site.language.clone()).filter(|l| !l.is_empty()),
        ..Feed::default()
    };
    feed.to_string()
}

/// A short page for the subscription flow, optionally with a one-button form.
pub fn message(site: &Site, heading: &str, message: &str, form: Option<(&str, &str, &str)>) -> String {
    let (form_action, token, button) = form.unwrap_or(("", "", ""));
    render(
        "message.html",
        context! {
            site => site_values(site),
            t => texts(site),
            base_path => base_path(site),
            feeds => feed_links(site, ""),
            heading => heading,
            message => message,
            form_action => (!form_action.is_empty()).then_some(form_action),
            token => token,
            button => button,
        },
    )
}
