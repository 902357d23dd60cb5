//! The HTML site, rendered from minijinja templates with auto-escaping: every value is text
//! and escaped; no post HTML is embedded (pages show excerpts), so nothing here needs to be
//! marked safe. Interface text is Chinese, or English when `language` starts with `en`.

use chrono::{DateTime, Datelike, Utc};
use minijinja::context;
use serde::Serialize;

use crate::config::{Member, Members, Site};
use crate::model::{FeedState, Post};
use crate::texts::fill;

use super::template::{render, texts};

/// The site's icon, served at `/favicon.svg` (and `/favicon.ico`, which browsers ask for).
pub const FAVICON: &str = include_str!("templates/favicon.svg");

/// The stylesheet, served at `/static/site.css`.
pub const STYLESHEET: &str = include_str!("templates/site.css");

/// A subscription link, in `<head>` and in the sidebar.
#[derive(Serialize, Clone)]
pub struct FeedLink {
    pub href: String,
    pub media_type: &'static str,
    pub title: String,
    pub label: &'static str,
}

/// The site's own links: its URL's path, so a planet served under `/planet/` links right.
pub fn base_path(site: &Site) -> String {
    let path = site.url.path();
    if path.ends_with('/') {
        path.to_string()
    } else {
        format!("{path}/")
    }
}

pub fn feed_links(site: &Site, query: &str) -> Vec<FeedLink> {
    let base = base_path(site);
    let with = |path: &str| format!("{base}{path}{query}");
    vec![
        FeedLink {
            href: with("feed.atom"),
            media_type: "application/atom+xml",
            title: format!("{} (Atom)", site.title),
            label: "Atom",
        },
        FeedLink {
            href: with("feed.rss"),
            media_type: "application/rss+xml",
            title: format!("{} (RSS)", site.title),
            label: "RSS",
        },
        FeedLink {
            href: with("feed.json"),
            media_type: "application/feed+json",
            title: format!("{} (JSON Feed)", site.title),
            label: "JSON Feed",
        },
        FeedLink {
            href: format!("{base}opml.xml"),
            media_type: "text/x-opml",
            title: format!("{} (OPML)", site.title),
            label: "OPML",
        },
    ]
}

#[derive(Serialize)]
struct Day {
    iso: String,
    label: String,
    posts: Vec<PostView>,
}

#[derive(Serialize)]
struct PostView {
    title: String,
    url: String,
    member_id: String,
    member_name: String,
    avatar: Option<String>,
    published_iso: String,
    time: String,
    excerpt: String,
    /// "还有 N 篇" under the last post of a member's day the river capped; empty otherwise.
    held_back: String,
    /// The same article elsewhere: "也发布于 CSDN · 掘金".
    also_on: Vec<crate::model::CopyLink>,
}

/// Posts grouped by day in the site's time zone, newest first.
fn days(site: &Site, members: &Members, posts: &[Post], held_back: &[usize]) -> Vec<Day> {
    let base = base_path(site);
    let mut days: Vec<Day> = Vec::new();
    for (index, post) in posts.iter().enumerate() {
        let local = post.published.with_timezone(&site.timezone);
        let iso = local.format("%Y-%m-%d").to_string();
        if days.last().is_none_or(|day| day.iso != iso) {
            let t = texts(site);
            let weekday = t.weekdays[local.weekday().num_days_from_monday() as usize];
            let label = fill(&local.format(t.day_label).to_string(), &[("weekday", &weekday)]);
            days.push(Day { iso: iso.clone(), label, posts: Vec::new() });
        }
        let member = members.get(post.member.as_str());
        let member_page = format!("{base}members/{}", post.member);
        let view = PostView {
            title: post.title.clone(),
            url: post.url.clone().unwrap_or(member_page),
            member_id: post.member.to_string(),
            member_name: member.map_or_else(|| post.member.to_string(), |m| m.name.clone()),
            avatar: member.and_then(|m| m.avatar.as_ref()).map(|u| u.to_string()),
            published_iso: post.published.to_rfc3339(),
            time: local.format("%H:%M").to_string(),
            excerpt: post.excerpt.clone(),
            held_back: match held_back.get(index) {
                Some(&count) if count > 0 => fill(texts(site).river_more, &[("count", &count)]),
                _ => String::new(),
            },
            also_on: post.copy_links(),
        };
        if let Some(day) = days.last_mut() {
            day.posts.push(view);
        }
    }
    days
}

/// A member's line in the home page's list: rendered the same on every page of the river,
/// so worked out once per change of the store or config (`http::pages`), not per page.
#[derive(Serialize)]
pub struct MemberSummary {
    id: String,
    name: String,
    failing: bool,
    health_note: String,
}

/// A member with the fetch states of its feeds, for the sidebar and the member page.
pub struct MemberHealth<'a> {
    pub member: &'a Member,
    pub states: Vec<Option<FeedState>>,
}

impl MemberHealth<'_> {
    fn failing(&self) -> bool {
        self.states.iter().flatten().any(|s| s.consecutive_failures > 0 || s.gone)
    }
}

impl MemberSummary {
    pub fn of(health: &MemberHealth) -> MemberSummary {
        MemberSummary {
            id: health.member.id.to_string(),
            name: health.member.name.clone(),
            failing: health.failing(),
            health_note: health.states.iter().flatten().find_map(|s| s.last_error.clone()).unwrap_or_default(),
        }
    }
}

/// The home page: the river's `posts` with, per post, how many of its member's day the cap
/// held back (see `http::river`).
pub fn index(
    site: &Site,
    all_members: &Members,
    summaries: &[MemberSummary],
    posts: &[Post],
    held_back: &[usize],
    older: Option<String>,
    subscribe: bool,
) -> String {
    render(
        "index.html",
        context! {
            site => site_values(site),
            t => texts(site),
            base_path => base_path(site),
            feeds => feed_links(site, ""),
            days => days(site, all_members, posts, held_back),
            members => summaries,
            older => older,
            subscribe => subscribe,
        },
    )
}

#[derive(Serialize)]
struct FeedStatusView {
    url: String,
    class: &'static str,
    summary: String,
    details: Vec<String>,
}

fn status_view(site: &Site, url: &str, state: Option<&FeedState>) -> FeedStatusView {
    let t = texts(site);
    let at = |time: &DateTime<Utc>| time.with_timezone(&site.timezone).format("%Y-%m-%d %H:%M").to_string();
    let Some(state) = state else {
        return FeedStatusView {
            url: url.to_string(),
            class: "ok",
            summary: t.not_fetched_yet.into(),
            details: vec![],
        };
    };
    let mut details = Vec::new();
    if let Some(moved) = &state.moved_to {
        details.push(fill(t.moved_to, &[("url", moved)]));
    }
    for warning in &state.warnings {
        details.push(format!("⚠ {}", warning.message));
    }
    if let Some(success) = &state.last_success {
        details.push(fill(t.last_success, &[("time", &at(success))]));
    }
    let (class, summary) = if state.gone {
        ("failing", t.gone.to_string())
    } else if state.consecutive_failures > 0 {
        if let Some(due) = &state.next_due {
            details.push(fill(t.next_try, &[("time", &at(due))]));
        }
        let error = state.last_error.clone().unwrap_or_default();
        ("failing", fill(t.failing_in_a_row, &[("count", &state.consecutive_failures), ("error", &error)]))
    } else {
        ("ok", fill(t.feed_ok, &[("count", &state.posts_in_feed)]))
    };
    FeedStatusView { url: url.to_string(), class, summary, details }
}

pub fn member_page(site: &Site, health: &MemberHealth, posts: &[Post], older: Option<String>) -> String {
    let member = health.member;
    let feeds: Vec<FeedStatusView> = member
        .feeds
        .iter()
        .zip(&health.states)
        .map(|(url, state)| status_view(site, url.as_str(), state.as_ref()))
        .collect();
    let query = format!("?member={}", member.id);
    render(
        "member.html",
        context! {
            site => site_values(site),
            t => texts(site),
            base_path => base_path(site),
            feeds => feed_links(site, &query),
            member => context! {
                id => member.id.to_string(),
                name => member.name.clone(),
                site => member.site.as_ref().map(|u| u.to_string()),
                avatar => member.avatar.as_ref().map(|u| u.to_string()),
                feeds => feeds,
            },
            days => days(site, &Members::new(vec![member.clone()]), posts, &[]),
            older => older,
        },
    )
}

#[derive(Serialize)]
struct SearchHitView {
    title: String,
    url: String,
    member_id: String,
    member_name: String,
    published_iso: String,
    date: String,
    /// (text, highlighted) runs: the template marks the highlighted ones.
    snippet: Vec<(String, bool)>,
}

/// `/search`: a box with the query, the hits with their snippets, a link to the next page
/// and links to subscribe to the search as a feed.
pub fn search_page(
    site: &Site,
    members: &Members,
    query: &str,
    hits: &[(Post, crate::search::snippet::Snippet)],
    page: usize,
    more: bool,
) -> String {
    let t = texts(site);
    let base = base_path(site);
    let encoded: String = url::form_urlencoded::byte_serialize(query.as_bytes()).collect();
    let views: Vec<SearchHitView> = hits
        .iter()
        .map(|(post, snippet)| {
            let member = members.get(post.member.as_str());
            let snippet = if snippet.text.is_empty() { vec![(post.excerpt.clone(), false)] } else { snippet.parts() };
            SearchHitView {
                title: post.title.clone(),
                url: post.url.clone().unwrap_or_else(|| format!("{base}members/{}", post.member)),
                member_id: post.member.to_string(),
                member_name: member.map_or_else(|| post.member.to_string(), |m| m.name.clone()),
                published_iso: post.published.to_rfc3339(),
                date: post.published.with_timezone(&site.timezone).format("%Y-%m-%d").to_string(),
                snippet,
            }
        })
        .collect();
    let feeds = if query.is_empty() { feed_links(site, "") } else { feed_links(site, &format!("?q={encoded}")) };
    render(
        "search.html",
        context! {
            site => site_values(site),
            t => t,
            base_path => base.clone(),
            feeds => feeds,
            query => query,
            heading => if query.is_empty() { t.search.to_string() } else { fill(t.search_results, &[("query", &query)]) },
            hits => views,
            searched => !query.is_empty(),
            more => more.then(|| format!("{base}search?q={encoded}&page={}", page + 1)),
        },
    )
}

pub fn about(site: &Site, member_count: usize) -> String {
    let paragraphs: Vec<String> =
        site.about.split("\n\n").map(str::trim).filter(|p| !p.is_empty()).map(str::to_string).collect();
    render(
        "about.html",
        context! {
            site => site_values(site),
            t => texts(site),
            base_path => base_path(site),
            feeds => feed_links(site, ""),
            about => paragraphs,
            member_count => member_count,
        },
    )
}

pub(crate) fn site_values(site: &Site) -> minijinja::Value {
    context! { title => site.title.clone(), description => site.description.clone(), language => site.language.clone() }
}
