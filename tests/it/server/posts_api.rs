//! The JSON API: pagination by cursor across inserts, every filter, single resources,
//! stats, CORS, and 400/404 errors with JSON bodies.

use super::app::{member, spawn_app, TestApp};
use crate::helpers::{rss, Route};

fn dated_item(guid: &str, title: &str, date: &str, tags: &[&str]) -> String {
    let categories: String = tags.iter().map(|t| format!("<category>{t}</category>")).collect();
    format!("<item><title>{title}</title><link>https://a.example.cn/{guid}</link><guid>{guid}</guid><pubDate>{date}</pubDate>{categories}<description>{title} 的正文</description></item>")
}

fn channel(items: &[String]) -> String {
    format!("<rss version=\"2.0\"><channel><title>c</title>{}</channel></rss>", items.concat())
}

async fn titles(app: &TestApp, query: &str) -> Vec<String> {
    let (status, body) = app.posts(query).await;
    assert_eq!(status, 200, "{query}: {body}");
    body["posts"].as_array().unwrap().iter().map(|p| p["title"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn cursor_pagination_stays_correct_while_new_posts_arrive() {
    let items: Vec<String> = (1..=5)
        .map(|i| dated_item(&format!("p{i}"), &format!("post {i}"), &format!("Mon, 0{i} Nov 2026 10:00:00 GMT"), &[]))
        .collect();
    let app = spawn_app(vec![member("alice", "Alice", channel(&items))], None).await;
    app.pass().await;
    let (_, first) = app.posts("?limit=2").await;
    let first_titles: Vec<&str> =
        first["posts"].as_array().unwrap().iter().map(|p| p["title"].as_str().unwrap()).collect();
    assert_eq!(first_titles, vec!["post 5", "post 4"]);
    let cursor = first["next_cursor"].as_str().unwrap().to_string();

    let mut more = items.clone();
    more.push(dated_item("p9", "post 9 (new)", "Mon, 09 Nov 2026 10:00:00 GMT", &[]));
    app.fixtures.route("/alice.xml", Route::feed(channel(&more)));
    app.pass().await;

    assert_eq!(titles(&app, &format!("?limit=2&cursor={cursor}")).await, vec!["post 3", "post 2"]);
    let (_, second) = app.posts(&format!("?limit=2&cursor={cursor}")).await;
    let last = second["next_cursor"].as_str().unwrap();
    let (_, third) = app.posts(&format!("?limit=2&cursor={last}")).await;
    assert_eq!(third["posts"].as_array().unwrap().len(), 1);
    assert!(third["next_cursor"].is_null());
    assert_eq!(titles(&app, "?limit=1").await, vec!["post 9 (new)"]);
}

#[tokio::test]
async fn every_filter_narrows_the_posts() {
    let alice = channel(&[
        dated_item("a1", "依赖注入详解", "Mon, 02 Nov 2026 10:00:00 +0800", &["aspnetcore"]),
        dated_item("a2", "Minimal API 入门", "Tue, 10 Nov 2026 10:00:00 +0800", &["AspNetCore", "web"]),
        dated_item("a3", "EF Core 性能", "Fri, 20 Nov 2026 10:00:00 +0800", &["efcore"]),
    ]);
    let bob = channel(&[dated_item("b1", "Blazor 组件", "Wed, 11 Nov 2026 10:00:00 +0800", &["blazor"])]);
    let app = spawn_app(vec![member("alice", "Alice", alice), member("bob", "Bob", bob)], None).await;
    app.pass().await;
    assert_eq!(titles(&app, "?member=bob").await, vec!["Blazor 组件"]);
    assert_eq!(titles(&app, "?tag=aspnetcore").await, vec!["Minimal API 入门", "依赖注入详解"]);
    assert_eq!(titles(&app, "?since=2026-11-10&until=2026-11-15").await, vec!["Blazor 组件", "Minimal API 入门"]);
    assert_eq!(titles(&app, "?q=注入").await, vec!["依赖注入详解"]);
    assert_eq!(titles(&app, "?q=ef%20core").await, vec!["EF Core 性能"]);
    assert_eq!(titles(&app, "?member=alice&tag=efcore").await, vec!["EF Core 性能"]);
    let (_, page) = app.posts("?limit=100000").await;
    assert_eq!(page["posts"].as_array().unwrap().len(), 4, "limits are capped, not refused");
}

#[tokio::test]
async fn a_post_a_member_and_the_stats_are_resources() {
    let app = spawn_app(vec![member("alice", "Alice", rss("alice", 3))], None).await;
    app.pass().await;
    let (_, page) = app.posts("").await;
    let first = &page["posts"][0];
    let (status, post) = app.post(first["id"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(post["member"]["name"], "Alice");
    assert_eq!(post["content_html"], first["content_html"]);
    for field in ["id", "title", "url", "member", "published", "updated", "tags", "excerpt", "content_html"] {
        assert!(post.get(field).is_some(), "{field}");
    }
    let (status, alice) = app.member("alice").await;
    assert_eq!(status, 200);
    assert_eq!(alice["health"], "ok");
    assert_eq!(alice["feeds"][0]["consecutive_failures"], 0);
    assert!(alice["feeds"][0]["last_success"].is_string());
    let (_, members) = app.members().await;
    assert_eq!(members["members"].as_array().unwrap().len(), 1);
    let (_, stats) = app.stats().await;
    let total: u64 =
        stats["posts_per_member_per_month"].as_array().unwrap().iter().map(|m| m["posts"].as_u64().unwrap()).sum();
    assert_eq!(total, 3);
    assert_eq!(stats["posts_per_member_per_month"][0]["member"], "alice");
}

#[tokio::test]
async fn bad_parameters_are_400_and_unknown_ids_are_404_with_json_bodies() {
    let app = spawn_app(vec![member("alice", "Alice", rss("alice", 1))], None).await;
    for (query, parameter) in [
        ("?limit=abc", "limit"),
        ("?limit=0", "limit"),
        ("?cursor=zz", "cursor"),
        ("?since=yesterday", "since"),
        ("?since=2026-11-20&until=2026-11-01", "since"),
        ("?member=nobody", "member"),
        ("?colour=red", "query"),
    ] {
        let (status, body) = app.posts(query).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(body["error"]["code"], "bad_request", "{query}");
        assert_eq!(body["error"]["parameter"], parameter, "{query}");
        assert!(body["error"]["message"].as_str().unwrap().len() > 5);
    }
    assert_eq!(app.post("0123456789abcdef").await.0, 404);
    assert_eq!(app.post("not-an-id").await.0, 404);
    let (status, body) = app.member("nobody").await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")));
}

#[tokio::test]
async fn the_api_allows_get_from_any_origin() {
    let app = spawn_app(vec![member("alice", "Alice", rss("alice", 1))], None).await;
    let response = app.get_with("/api/v1/posts", &[("origin", "https://dotnet.example.org")]).await;
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn a_members_tags_from_feeds_toml_file_all_their_posts_under_those_tags() {
    let mut dotnet = member("alice", "Alice", rss("alice", 3));
    dotnet.tags = vec!["dotnet", "Blazor"];
    let app = spawn_app(vec![dotnet, member("bob", "Bob", rss("bob", 2))], None).await;
    app.pass().await;
    for query in ["?tag=dotnet", "?tag=blazor", "?tag=DotNet"] {
        let (status, page) = app.posts(query).await;
        assert_eq!(status, 200, "{page}");
        let members: Vec<&str> =
            page["posts"].as_array().unwrap().iter().map(|p| p["member"]["id"].as_str().unwrap()).collect();
        assert_eq!(members, vec!["alice"; 3], "{query}: the tagged member's posts, and only theirs");
    }
    let (status, atom) = app.feed_atom("?tag=dotnet").await;
    assert_eq!(status, 200);
    assert_eq!(atom.matches("<entry>").count(), 3, "{atom}");
    assert!(!atom.contains("bob post"));
}

/// A feed of `count` posts of about 200 KiB of text each.
fn heavy_feed(count: usize) -> String {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let items: String = (0..count)
        .map(|i| {
            let words: String = (0..20_000)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    format!("{:x} ", seed & 0xffff_ffff)
                })
                .collect();
            format!(
                "<item><title>heavy {i} 重文</title><guid>heavy-{i}</guid><link>https://heavy.example.cn/{i}</link>\
                 <pubDate>Mon, 02 Nov 2026 {:02}:00:00 +0800</pubDate><description>{words}</description></item>",
                i % 24
            )
        })
        .collect();
    format!("<rss version=\"2.0\"><channel><title>heavy</title>{items}</channel></rss>")
}

#[tokio::test]
async fn a_page_of_large_posts_stops_at_two_mebibytes_and_its_cursor_gives_the_rest() {
    let app = spawn_app(vec![member("heavy", "Heavy", heavy_feed(20))], None).await;
    app.pass().await;
    for query in ["?limit=100", "?limit=100&q=%E9%87%8D%E6%96%87"] {
        let mut seen = std::collections::BTreeSet::new();
        let mut next = query.to_string();
        let mut pages = 0;
        loop {
            let response = app.get(&format!("/api/v1/posts{next}")).await;
            let body = response.text().await.unwrap();
            assert!(body.len() <= 2 * 1024 * 1024 + 64 * 1024, "{} bytes in one page", body.len());
            let page: serde_json::Value = serde_json::from_str(&body).unwrap();
            for post in page["posts"].as_array().unwrap() {
                assert!(seen.insert(post["id"].as_str().unwrap().to_string()), "a post on two pages");
            }
            pages += 1;
            match page["next_cursor"].as_str() {
                Some(cursor) => next = format!("{query}&cursor={cursor}"),
                None => break,
            }
        }
        assert_eq!(seen.len(), 20, "{query}: every post, over {pages} pages");
        assert!(pages >= 2, "{query}: 4 MB of posts cannot fit in one page");
    }
}

#[tokio::test]
async fn a_page_that_would_step_over_a_thousand_unlisted_posts_ends_early_and_its_cursor_goes_on() {
    // 1,200 posts in six feeds (200 entries a pass each); the newest 1,100 taken down.
    let feeds: Vec<String> = (0..6)
        .map(|feed| {
            let items: String = (0..200)
                .map(|i| {
                    let n = feed * 200 + i;
                    format!(
                        "<item><title>many {n}</title><guid>many-{n}</guid><link>https://many.example.cn/{n}</link>\
                         <pubDate>{}</pubDate></item>",
                        (chrono::DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z").unwrap()
                            + chrono::TimeDelta::minutes(n as i64))
                        .to_rfc2822()
                    )
                })
                .collect();
            format!("<rss version=\"2.0\"><channel><title>many {feed}</title>{items}</channel></rss>")
        })
        .collect();
    let app = spawn_app(vec![super::app::member_with_feeds("many", "Many", feeds)], None).await;
    app.pass().await;
    let store = &app.service.store;
    let newest: Vec<String> = store
        .member_posts(&planet::config::MemberId::parse("many").unwrap(), 1_100)
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    for id in &newest {
        let event = planet::store::ModerationEvent {
            at: chrono::Utc::now(),
            action: planet::store::Action::Hide,
            post_id: id.clone(),
            via: planet::store::Via::Cli,
            reason: None,
        };
        assert!(store.moderate(&event).unwrap());
    }
    let (status, first) = app.posts("?member=many&limit=10").await;
    assert_eq!(status, 200);
    assert!(first["posts"].as_array().unwrap().is_empty(), "a thousand stepped over, none listed yet");
    let mut cursor = first["next_cursor"].as_str().expect("the page says where to go on").to_string();
    let mut listed = 0;
    for _ in 0..20 {
        let (_, page) = app.posts(&format!("?member=many&limit=10&cursor={cursor}")).await;
        listed += page["posts"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
    }
    assert_eq!(listed, 100, "every listed post is reached through the cursors");
    let (_, page) = app.member_page("many").await;
    assert!(page.contains("?before="), "the member page links on too");
}
