//! A group sees exactly what the river shows: no first fetch's backlog, no copies of an
//! article, nothing over a member's daily cap, nothing dated before the target was added,
//! and a post hidden before its delivery is dropped from the queue. Filters (members, tags,
//! a search) narrow it as the API's parameters do.

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};
use planet::store::{Action, ModerationEvent, Via};

use super::app::{member, member_with_feeds, spawn_app_pushing, TestApp, TestMember};
use super::push::{feed, later, target, WEBHOOK_SECRET};
use crate::robots::{Answer, RobotServer};

const PATHS: [&str; 4] = ["/all", "/ann-only", "/blazor", "/search"];

fn targets() -> String {
    let signed = "secret_env = \"HOOK_SECRET\"\nbatch_minutes = 0";
    [
        target("all", "webhook", signed),
        target("ann-only", "webhook", &format!("{signed}\nmembers = [\"ann\"]")),
        target("blazor", "webhook", &format!("{signed}\ntags = [\"Blazor\"]")),
        target("search", "webhook", &format!("{signed}\nq = \"依赖注入\"")),
    ]
    .concat()
}

/// The post ids each target received, all messages together.
fn pushed(robots: &RobotServer, path: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for request in robots.received(path) {
        for post in request.json()["posts"].as_array().unwrap() {
            ids.insert(post["id"].as_str().unwrap().to_string());
        }
    }
    ids
}

/// The combined JSON Feed's items published at or after `since`: what the river shows.
async fn river_since(app: &TestApp, since: DateTime<Utc>) -> BTreeSet<String> {
    let (_, feed) = app.feed_json("").await;
    let mut ids = BTreeSet::new();
    for item in feed["items"].as_array().unwrap() {
        let published: DateTime<Utc> = item["date_published"].as_str().unwrap().parse().unwrap();
        if published >= since {
            ids.insert(item["_planet"]["post_id"].as_str().unwrap().to_string());
        }
    }
    ids
}

fn undated(member: &str, count: usize) -> String {
    let items: String = (0..count)
        .map(|i| format!("<item><title>无日期 {i}</title><link>https://{member}.example.cn/u/{i}</link><guid>u{i}</guid><description>正文 {i}</description></item>"))
        .collect();
    format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>{member}</title>{items}</channel></rss>")
}

fn members(now: DateTime<Utc>, ann: &[(&str, &str, DateTime<Utc>, &[&str])], with_carol: bool) -> Vec<TestMember> {
    let old = ("old", "旧文章", now - TimeDelta::days(10), &[][..]);
    let mut ann_items = vec![old];
    ann_items.extend_from_slice(ann);
    let article = "同一篇文章：在 ASP.NET Core 里用依赖注入管理 HttpClient 的生命周期，避免端口耗尽。";
    let bob_a = feed("bob", &[old, ("same-a", article, now - TimeDelta::minutes(6), &[])]);
    let bob_b = feed("bob", &[("same-b", article, now - TimeDelta::minutes(5), &[])]);
    let mut list =
        vec![member("ann", "张三", feed("ann", &ann_items)), member_with_feeds("bob", "李四", vec![bob_a, bob_b])];
    if with_carol {
        list.push(member("carol", "王五", undated("carol", 5)));
    }
    list
}

#[tokio::test]
async fn a_target_gets_exactly_what_the_river_shows_through_its_filters() {
    let robots = RobotServer::start().await;
    for path in PATHS {
        robots.answer_always(path, Answer::status(204, &[], ""));
    }
    let variables: Vec<(&str, String)> = ["all", "ann-only", "blazor", "search"]
        .iter()
        .map(|name| {
            (
                match *name {
                    "all" => "ALL_URL",
                    "ann-only" => "ANN_ONLY_URL",
                    "blazor" => "BLAZOR_URL",
                    _ => "SEARCH_URL",
                },
                robots.url(&format!("/{name}")),
            )
        })
        .chain([("HOOK_SECRET", WEBHOOK_SECRET.to_string())])
        .collect();
    let now = Utc::now();
    let river = "[river]\nmax_per_member_per_day = 2\nfirst_fetch_posts = 2\n\n";
    let app = spawn_app_pushing(members(now, &[], false), &format!("{river}{}", targets()), &variables).await;
    let added = now - TimeDelta::hours(1);
    app.service.deliver_notifications(added).await;
    app.pass().await;

    let ann = [
        ("a1", "第一篇 Blazor 组件", now - TimeDelta::minutes(4), &["Blazor"][..]),
        ("a2", "第二篇 依赖注入", now - TimeDelta::minutes(3), &[][..]),
        ("a3", "第三篇 Blazor 与依赖注入", now - TimeDelta::minutes(2), &["blazor"][..]),
        ("a4", "第四篇 性能", now - TimeDelta::minutes(1), &[][..]),
    ];
    assert!(app.rewrite_config(&members(now, &ann, true)));
    app.pass().await;
    app.service.update_search_index().unwrap();
    let report = app.service.deliver_notifications(later(2)).await;
    assert!(report.failed.is_empty(), "{report:?}");

    let shown = river_since(&app, added).await;
    assert_eq!(pushed(&robots, "/all"), shown, "the river since the target was added");
    let zone = app.service.config().site.timezone;
    let day = |t: DateTime<Utc>| t.with_timezone(&zone).date_naive();
    if day(ann[0].2) == day(ann[3].2) {
        let titles: Vec<String> = robots
            .received("/all")
            .iter()
            .flat_map(|r| {
                r.json()["posts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["title"].as_str().unwrap().to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(titles.iter().filter(|t| t.starts_with("第")).count(), 2, "ann's daily cap of 2: {titles:?}");
    }
    assert_eq!(shown.iter().filter(|id| robots.received("/all")[0].text().contains(id.as_str())).count(), shown.len());
    let all_text: String = robots.received("/all").iter().map(|r| r.text()).collect();
    assert_eq!(all_text.matches("同一篇文章").count(), 1, "one entry per article: {all_text}");
    assert_eq!(all_text.matches("无日期").count(), 2, "the first fetch's backlog stays out");
    assert!(!all_text.contains("旧文章"), "dated before the target was added");

    let ann_only: String = robots.received("/ann-only").iter().map(|r| r.text()).collect();
    assert!(!ann_only.contains("李四") && !ann_only.contains("王五") && ann_only.contains("张三"));
    assert!(pushed(&robots, "/blazor").iter().all(|id| shown.contains(id)));
    let blazor: String = robots.received("/blazor").iter().map(|r| r.text()).collect();
    assert!(blazor.contains("第三篇") && !blazor.contains("第四篇") && !blazor.contains("同一篇"), "{blazor}");
    let search: String = robots.received("/search").iter().map(|r| r.text()).collect();
    assert!(search.contains("第三篇") && search.contains("同一篇文章") && !search.contains("第四篇"), "{search}");
}

#[tokio::test]
async fn a_post_hidden_before_its_delivery_is_dropped_from_the_queue() {
    let robots = RobotServer::start().await;
    robots.script("/all", vec![Answer::status(503, &[], "busy")]);
    robots.answer_always("/all", Answer::status(204, &[], ""));
    let variables = [("ALL_URL", robots.url("/all")), ("HOOK_SECRET", WEBHOOK_SECRET.to_string())];
    let now = Utc::now();
    let extra = target("all", "webhook", "secret_env = \"HOOK_SECRET\"");
    let app = spawn_app_pushing(members(now, &[], false), &extra, &variables).await;
    app.service.deliver_notifications(now - TimeDelta::hours(1)).await;
    app.pass().await;
    let first = app.service.deliver_notifications(later(2)).await;
    assert_eq!(first.failed.len(), 1, "the receiver was busy: {first:?}");
    let id = pushed_ids_in_first_attempt(&robots);
    for post_id in &id {
        let event = ModerationEvent {
            at: Utc::now(),
            action: Action::Hide,
            post_id: post_id.clone(),
            via: Via::Cli,
            reason: None,
        };
        assert!(app.service.store.moderate(&event).unwrap());
    }
    let second = app.service.deliver_notifications(later(100)).await;
    assert!(second.delivered.is_empty() && second.failed.is_empty(), "{second:?}");
    assert_eq!(robots.received("/all").len(), 1, "nothing hidden is sent");
    let (_, stats) = app.stats().await;
    assert_eq!(stats["notify"][0]["queued"], 0, "{stats}");
}

fn pushed_ids_in_first_attempt(robots: &RobotServer) -> Vec<String> {
    let first = &robots.received("/all")[0];
    first.json()["posts"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_string()).collect()
}
