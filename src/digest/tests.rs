//! Digest composition and week boundaries in Asia/Shanghai.

use chrono::{DateTime, Utc};

use super::*;
use crate::config::{self, MemberId};
use crate::model::DateSource;
use crate::sanitize;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

fn post(member: &str, id: &str, title: &str, published: &str) -> Post {
    Post {
        id: id.into(),
        member: MemberId::parse(member).unwrap(),
        feed_url: "https://x.cn/feed".into(),
        guid: None,
        url: Some(format!("https://{member}.example.cn/{id}")),
        title: title.into(),
        author: None,
        published: at(published),
        updated: None,
        first_seen: at(published),
        date_source: DateSource::Feed,
        tags: vec![],
        excerpt: format!("{title} 摘要"),
        content_html: sanitize::html("<p>x</p>", None),
        content_hash: "h".into(),
        backlog: false,
        duplicate_of: None,
        also_on: Vec::new(),
        also_by: Vec::new(),
    }
}

fn config() -> config::Config {
    let text = "[site]\ntitle = \"长沙.NET技术社区 Planet\"\nurl = \"https://planet.example.cn/\"\n\
                [digest]\ntitle = \"长沙.NET社区周报\"\n\
                [[members]]\nid = \"alice\"\nname = \"Alice\"\nfeed = \"https://alice.example.cn/feed\"\n\
                [[members]]\nid = \"bob\"\nname = \"Bob\"\nfeed = \"https://bob.example.cn/feed\"\n\
                [[events]]\ntitle = \"十二月线下活动\"\ndate = \"2026-12-05 14:00\"\nplace = \"长沙\"\nlink = \"https://meetup.example.cn/12\"\n\
                [[events]]\ntitle = \"Too far away\"\ndate = \"2027-03-01\"\n";
    config::parse(text, std::path::Path::new("t.toml")).unwrap()
}

#[test]
fn weeks_parse_print_and_reject_nonsense() {
    assert_eq!(Week::parse("2026-W48").unwrap(), Week { year: 2026, number: 48 });
    assert_eq!(Week::parse("2026-W48").unwrap().to_string(), "2026-W48");
    assert!(Week::parse("2026-W54").is_err());
    assert!(Week::parse("2026W48").is_err());
    assert!(Week::parse("2026-W4").is_err());
    assert!(Week::parse("banana").is_err());
    assert_eq!(Week::parse("2026-W01").unwrap().previous().to_string(), "2025-W52");
}

#[test]
fn a_sunday_2330_post_in_shanghai_is_in_that_week_and_monday_0010_in_the_next() {
    let zone = chrono_tz::Asia::Shanghai;
    // Sunday 29 November 2026, 23:30 +08:00 = 15:30 UTC: week 48.
    assert_eq!(Week::containing(at("2026-11-29T15:30:00Z"), zone).to_string(), "2026-W48");
    // Monday 30 November 2026, 00:10 +08:00 = Sunday 16:10 UTC: week 49.
    assert_eq!(Week::containing(at("2026-11-29T16:10:00Z"), zone).to_string(), "2026-W49");
    let week = Week::parse("2026-W48").unwrap();
    assert_eq!(week.start(zone), at("2026-11-22T16:00:00Z"));
    assert_eq!(week.end(zone), at("2026-11-29T16:00:00Z"));
}

#[test]
fn compose_groups_by_member_with_most_posts_first_and_lists_upcoming_events() {
    let config = config();
    let posts = vec![
        post("alice", "a1", "Alice 一", "2026-11-24T02:00:00Z"),
        post("bob", "b1", "Bob 一", "2026-11-25T02:00:00Z"),
        post("bob", "b2", "Bob 二 (Sunday 23:30 local)", "2026-11-29T15:30:00Z"),
        post("alice", "a0", "Next week (Monday 00:10 local)", "2026-11-29T16:10:00Z"),
        post("alice", "old", "Last week", "2026-11-20T02:00:00Z"),
    ];
    let week = Week::parse("2026-W48").unwrap();
    let digest = compose(&config.site, &config.digest, &config.river, &config.members, &posts, &config.events, week);
    assert_eq!(digest.headline, "本周 2 位成员发表了 3 篇文章");
    assert_eq!(digest.subject, "长沙.NET社区周报 · 2026 第 48 周 · 3 篇");
    let names: Vec<&str> = digest.groups.iter().map(|g| g.member_name.as_str()).collect();
    assert_eq!(names, vec!["Bob", "Alice"]);
    assert_eq!(digest.groups[0].posts[0].title, "Bob 二 (Sunday 23:30 local)");
    assert_eq!(digest.groups[0].posts[0].when, "11月29日 23:30");
    assert_eq!(digest.url, "https://planet.example.cn/digest/2026-W48");
    assert_eq!(digest.events.len(), 1);
    assert_eq!(digest.events[0].title, "十二月线下活动");
    assert_eq!(digest.events[0].when, "2026年12月5日 14:00");
}

#[test]
fn an_empty_week_says_so() {
    let config = config();
    let digest = compose(
        &config.site,
        &config.digest,
        &config.river,
        &config.members,
        &[],
        &[],
        Week::parse("2026-W10").unwrap(),
    );
    assert_eq!(digest.post_count, 0);
    assert_eq!(digest.headline, "本周没有成员发表文章。");
}

/// Compares `actual` with the file in src/digest/snapshots/; `UPDATE_SNAPSHOTS=1` rewrites it.
fn assert_snapshot(name: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/digest/snapshots").join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing snapshot {}; run with UPDATE_SNAPSHOTS=1", path.display()));
    assert_eq!(actual, expected, "snapshot {name} differs; if the change is intended, run with UPDATE_SNAPSHOTS=1");
}

#[test]
fn the_composed_digest_and_its_text_mail_match_their_snapshots() {
    let config = config();
    let posts = vec![
        post("alice", "a1", "依赖注入详解", "2026-11-24T02:00:00Z"),
        post("bob", "b1", "Minimal API 入门", "2026-11-25T02:00:00Z"),
        post("bob", "b2", "EF Core 性能调优", "2026-11-29T15:30:00Z"),
    ];
    // Bob published the article on CSDN too: the digest links that copy.
    let mut posts = posts;
    posts[2].also_on = vec![crate::model::AlsoOn {
        id: "b2-csdn".into(),
        url: Some("https://blog.csdn.net/bob/article/details/1".into()),
        platform: "CSDN".into(),
    }];
    let week = Week::parse("2026-W48").unwrap();
    let digest = compose(&config.site, &config.digest, &config.river, &config.members, &posts, &config.events, week);
    assert_snapshot("2026-W48.json", &format!("{}\n", serde_json::to_string_pretty(&digest).unwrap()));
    let text =
        crate::render::digest::email_text(&config.site, &digest, Some("https://planet.example.cn/unsubscribe?token=t"));
    assert_snapshot("2026-W48.txt", &text);
}
