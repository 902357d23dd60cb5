//! The HTML site, rendered from minijinja templates with auto-escaping: every value is text
//! and escaped; no post HTML is embedded (pages show excerpts), so nothing here needs to be
//! marked safe. Interface text is Chinese, or English when `language` starts with `en`.

use std::sync::OnceLock;

use chrono::{DateTime, Datelike, Utc};
use minijinja::{context, Environment};
use serde::Serialize;

use crate::config::{Member, Site};
use crate::model::{FeedState, Post};

pub(crate) fn environment() -> &'static Environment<'static> {
    static ENVIRONMENT: OnceLock<Environment<'static>> = OnceLock::new();
    ENVIRONMENT.get_or_init(|| {
        let mut environment = Environment::new();
        environment.set_formatter(escape_without_slashes);
        for (name, source) in [
            ("base.html", include_str!("templates/base.html")),
            ("posts.html", include_str!("templates/posts.html")),
            ("index.html", include_str!("templates/index.html")),
            ("member.html", include_str!("templates/member.html")),
            ("about.html", include_str!("templates/about.html")),
            ("digest.html", include_str!("templates/digest.html")),
            ("subscribe_form.html", include_str!("templates/subscribe_form.html")),
            ("message.html", include_str!("templates/message.html")),
            ("email.html", include_str!("templates/email.html")),
            ("email.txt", include_str!("templates/email.txt")),
        ] {
            environment.add_template(name, source).expect("templates are valid");
        }
        environment
    })
}

/// minijinja's HTML escaping also writes `/` as `&#x2f;`, which is valid but turns every URL
/// into noise for people reading the source of a page or a mail. Escaping `& < > " '` is what
/// HTML needs in text and in quoted attributes; other modes (the `.txt` mail) stay unescaped.
fn escape_without_slashes(
    out: &mut minijinja::Output,
    state: &minijinja::State,
    value: &minijinja::Value,
) -> Result<(), minijinja::Error> {
    if matches!(state.auto_escape(), minijinja::AutoEscape::Html)
        && !value.is_safe()
        && !value.is_none()
        && !value.is_undefined()
    {
        let text = value.to_string();
        return out
            .write_str(&crate::sanitize::escape_text(&text))
            .map_err(|_| minijinja::Error::new(minijinja::ErrorKind::WriteFailure, "write failed"));
    }
    minijinja::escape_formatter(out, state, value)
}

/// The site's icon, served at `/favicon.svg` (and `/favicon.ico`, which browsers ask for).
pub const FAVICON: &str = include_str!("templates/favicon.svg");

/// The stylesheet, served at `/static/site.css`.
pub const STYLESHEET: &str = include_str!("templates/site.css");

#[derive(Serialize)]
pub(crate) struct Texts {
    home: &'static str,
    about: &'static str,
    subscribe: &'static str,
    members: &'static str,
    failing: &'static str,
    no_posts: &'static str,
    older: &'static str,
    footer: &'static str,
    feed_status: &'static str,
    feed: &'static str,
    state: &'static str,
    posts: &'static str,
    join_title: &'static str,
    join_text: &'static str,
    check_text: &'static str,
    member_count: &'static str,
    events: &'static str,
    previous_week: &'static str,
    next_week: &'static str,
    subscribe_digest: &'static str,
    email: &'static str,
    subscribe_button: &'static str,
    read_online: &'static str,
    unsubscribe: &'static str,
    digest_link: &'static str,
}

const CHINESE: Texts = Texts {
    home: "首页",
    about: "关于",
    subscribe: "订阅",
    members: "成员",
    failing: "抓取失败",
    no_posts: "还没有文章。",
    older: "更早的文章",
    footer: "长沙.NET技术社区 · 由 planet 聚合成员博客",
    feed_status: "订阅源状态",
    feed: "订阅源",
    state: "状态",
    posts: "文章",
    join_title: "如何加入",
    join_text: "在仓库的 feeds.toml 末尾添加你的博客，然后提交 Pull Request：",
    check_text: "提交前可以先检查你的订阅源，看看 planet 会读到什么：",
    member_count: "现有成员：",
    events: "近期活动",
    previous_week: "上一周",
    next_week: "下一周",
    subscribe_digest: "订阅周报",
    email: "电子邮箱",
    subscribe_button: "订阅",
    read_online: "在网页上阅读",
    unsubscribe: "退订",
    digest_link: "社区周报",
};

const ENGLISH: Texts = Texts {
    home: "Home",
    about: "About",
    subscribe: "Subscribe",
    members: "Members",
    failing: "failing",
    no_posts: "No posts yet.",
    older: "Older posts",
    footer: "Changsha .NET community · members' blogs gathered by planet",
    feed_status: "Feed status",
    feed: "Feed",
    state: "State",
    posts: "Posts",
    join_title: "How to join",
    join_text: "Add your blog at the end of feeds.toml in the repository and open a pull request:",
    check_text: "Before you do, check what planet reads from your feed:",
    member_count: "Members so far:",
    events: "Upcoming meetups",
    previous_week: "Previous week",
    next_week: "Next week",
    subscribe_digest: "Weekly digest by email",
    email: "Email address",
    subscribe_button: "Subscribe",
    read_online: "Read it on the web",
    unsubscribe: "Unsubscribe",
    digest_link: "Weekly digest",
};

pub(crate) fn texts(site: &Site) -> &'static Texts {
    if site.english() {
        &ENGLISH
    } else {
        &CHINESE
    }
}

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
}

const WEEKDAYS_ZH: [&str; 7] = ["星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"];

/// Posts grouped by day in the site's time zone, newest first.
fn days(site: &Site, members: &[Member], posts: &[Post]) -> Vec<Day> {
    let base = base_path(site);
    let mut days: Vec<Day> = Vec::new();
    for post in posts {
        let local = post.published.with_timezone(&site.timezone);
        let iso = local.format("%Y-%m-%d").to_string();
        if days.last().is_none_or(|day| day.iso != iso) {
            let label = if site.english() {
                local.format("%A, %-d %B %Y").to_string()
            } else {
                format!(
                    "{}年{}月{}日 {}",
                    local.year(),
                    local.month(),
                    local.day(),
                    WEEKDAYS_ZH[local.weekday().num_days_from_monday() as usize]
                )
            };
            days.push(Day { iso: iso.clone(), label, posts: Vec::new() });
        }
        let member = members.iter().find(|m| m.id == post.member);
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
        };
        if let Some(day) = days.last_mut() {
            day.posts.push(view);
        }
    }
    days
}

#[derive(Serialize)]
struct MemberSummary {
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

pub(crate) fn render(template: &str, values: minijinja::Value) -> String {
    environment().get_template(template).and_then(|t| t.render(values)).unwrap_or_else(|error| {
        format!(
            "<!doctype html><title>error</title><p>template error: {}",
            crate::sanitize::escape_text(&error.to_string())
        )
    })
}

pub fn index(site: &Site, members: &[MemberHealth], posts: &[Post], older: Option<String>, subscribe: bool) -> String {
    let all_members: Vec<Member> = members.iter().map(|m| m.member.clone()).collect();
    let summaries: Vec<MemberSummary> = members
        .iter()
        .map(|health| MemberSummary {
            id: health.member.id.to_string(),
            name: health.member.name.clone(),
            failing: health.failing(),
            health_note: health.states.iter().flatten().find_map(|s| s.last_error.clone()).unwrap_or_default(),
        })
        .collect();
    render(
        "index.html",
        context! {
            site => site_values(site),
            t => texts(site),
            base_path => base_path(site),
            feeds => feed_links(site, ""),
            days => days(site, &all_members, posts),
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
    let english = site.english();
    let at = |t: &DateTime<Utc>| t.with_timezone(&site.timezone).format("%Y-%m-%d %H:%M").to_string();
    let Some(state) = state else {
        let summary = if english { "not fetched yet" } else { "尚未抓取" };
        return FeedStatusView { url: url.to_string(), class: "ok", summary: summary.into(), details: vec![] };
    };
    let mut details = Vec::new();
    if let Some(moved) = &state.moved_to {
        details.push(if english {
            format!("moved permanently to {moved}: update feeds.toml")
        } else {
            format!("已永久迁移到 {moved}，请更新 feeds.toml")
        });
    }
    for warning in &state.warnings {
        details.push(format!("⚠ {}", warning.message));
    }
    if let Some(success) = &state.last_success {
        details.push(if english {
            format!("last success: {}", at(success))
        } else {
            format!("上次成功：{}", at(success))
        });
    }
    let (class, summary) = if state.gone {
        (
            "failing",
            if english {
                "gone (HTTP 410): no longer fetched".to_string()
            } else {
                "订阅源已删除（HTTP 410），不再抓取".to_string()
            },
        )
    } else if state.consecutive_failures > 0 {
        let error = state.last_error.clone().unwrap_or_default();
        if let Some(due) = &state.next_due {
            details.push(if english {
                format!("next try: {}", at(due))
            } else {
                format!("下次重试：{}", at(due))
            });
        }
        let summary = if english {
            format!("failing ({} in a row): {error}", state.consecutive_failures)
        } else {
            format!("抓取失败（连续 {} 次）：{error}", state.consecutive_failures)
        };
        ("failing", summary)
    } else {
        let count = state.posts_in_feed;
        (
            "ok",
            if english {
                format!("OK · {count} posts in the feed")
            } else {
                format!("正常 · 订阅源中有 {count} 篇文章")
            },
        )
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
            days => days(site, std::slice::from_ref(member), posts),
            older => older,
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
