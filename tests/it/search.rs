//! Full-text search through the real server: the search-quality table in
//! `tests/data/search` run through one `check`, snippets, paging, the page and the feed of a
//! search, the index following the store, a lost index rebuilt, and a saturated server that
//! refuses uncached reads at once while it keeps serving cached feeds.

use std::sync::Arc;

use serde::Deserialize;

use crate::server::app::{member, spawn_app, TestApp, TestMember};

#[derive(Deserialize)]
struct FixturePost {
    id: String,
    member: String,
    title: String,
    body: String,
    tags: Vec<String>,
    day: u32,
}

#[derive(Deserialize)]
struct FixtureQuery {
    query: String,
    expected: Vec<String>,
    mode: String,
    why: String,
}

fn fixture_posts() -> Vec<FixturePost> {
    serde_json::from_str(include_str!("../data/search/posts.json")).unwrap()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// One member's fixture posts as an RSS feed (the guid is the fixture id).
fn feed_of(member_id: &str, posts: &[FixturePost]) -> String {
    let items: String = posts
        .iter()
        .filter(|p| p.member == member_id)
        .map(|p| {
            let tags: String = p.tags.iter().map(|t| format!("<category>{}</category>", escape(t))).collect();
            format!(
                "<item><title>{}</title><link>https://{member_id}.example.cn/{id}.html</link><guid>{id}</guid>\
                 <pubDate>{:02} Oct 2026 08:00:00 +0800</pubDate>{tags}<description>{}</description></item>",
                escape(&p.title),
                p.day,
                escape(&format!("<p>{}</p>", escape(&p.body))),
                id = p.id,
            )
        })
        .collect();
    format!("<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>{member_id}</title><link>https://{member_id}.example.cn/</link>{items}</channel></rss>")
}

const MEMBERS: [(&str, &str); 3] = [("zhang", "张三"), ("wang", "王五"), ("lee", "Lee")];

fn fixture_members() -> Vec<TestMember> {
    let posts = fixture_posts();
    MEMBERS.iter().map(|(id, name)| member(id, name, feed_of(id, &posts))).collect()
}

async fn fixture_app() -> TestApp {
    let app = spawn_app(fixture_members(), None).await;
    app.pass().await;
    app
}

/// The fixture ids of a search's results, in order (the guid is the fixture id).
async fn found(app: &TestApp, query: &str, extra: &str) -> Vec<String> {
    let (status, page) = app.search(query, extra).await;
    assert_eq!(status, 200, "{query}: {page}");
    let posts = page["posts"].as_array().unwrap();
    posts
        .iter()
        .map(|p| p["url"].as_str().unwrap().rsplit('/').next().unwrap().trim_end_matches(".html").into())
        .collect()
}

/// Whether the search for `query` returns `expected` first: in that order (`order`), or in
/// any order (`set`).
async fn check(app: &TestApp, query: &FixtureQuery) -> Option<String> {
    let results = found(app, &query.query, "&limit=10").await;
    let first: Vec<String> = results.iter().take(query.expected.len()).cloned().collect();
    let matches = match query.mode.as_str() {
        "order" => first == query.expected,
        _ => {
            let (mut a, mut b) = (first.clone(), query.expected.clone());
            a.sort();
            b.sort();
            a == b
        }
    };
    let nothing_expected_and_nothing_found = query.expected.is_empty() && results.is_empty();
    (!(matches && (!query.expected.is_empty() || nothing_expected_and_nothing_found)))
        .then(|| format!("{:?} ({}): expected {:?} first, got {results:?}", query.query, query.why, query.expected))
}

#[tokio::test]
async fn every_query_in_the_search_fixture_finds_what_a_reader_expects_first() {
    let app = fixture_app().await;
    let queries: Vec<FixtureQuery> = serde_json::from_str(include_str!("../data/search/queries.json")).unwrap();
    assert!(queries.len() >= 20 && fixture_posts().len() >= 30);
    let mut failures = Vec::new();
    for query in &queries {
        failures.extend(check(&app, query).await);
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test]
async fn search_results_carry_a_plain_text_snippet_with_the_matches_marked() {
    let app = fixture_app().await;
    let (_, page) = app.search("缓存雪崩", "").await;
    let snippet = &page["posts"][0]["snippet"];
    let text: Vec<char> = snippet["text"].as_str().unwrap().chars().collect();
    let spans = snippet["highlights"].as_array().unwrap();
    assert_eq!(spans.len(), 1, "{snippet}");
    let [start, end] = [0, 1].map(|i| spans[0][i].as_u64().unwrap() as usize);
    assert_eq!(text[start..end].iter().collect::<String>(), "缓存雪崩");
    let (_, plain) = app.posts("?limit=1").await;
    assert!(plain["posts"][0].get("snippet").is_none(), "only searches have snippets");
}

#[tokio::test]
async fn a_search_pages_by_cursor_in_both_orders_without_repeating_a_post() {
    let app = fixture_app().await;
    for sort in ["&sort=relevance", "&sort=date"] {
        let (mut seen, mut cursor) = (Vec::new(), String::new());
        loop {
            let (status, page) = app.search("Blazor", &format!("&limit=1{sort}{cursor}")).await;
            assert_eq!(status, 200, "{page}");
            seen.extend(page["posts"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_string()));
            match page["next_cursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => break,
            }
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!((seen.len(), unique.len()), (3, 3), "{sort}: {seen:?}");
    }
    let dates = found(&app, "Blazor", "&sort=date").await;
    assert_eq!(dates, ["p34", "p05", "p04"], "newest first");
}

#[tokio::test]
async fn bad_searches_get_a_400_that_names_the_parameter() {
    let app = fixture_app().await;
    let (_, relevance_page) = app.search("Blazor", "&limit=1").await;
    let offset_cursor = relevance_page["next_cursor"].as_str().unwrap().to_string();
    for (query, parameter) in [
        ("?q=%22%22+***", "q"),
        ("?sort=relevance", "sort"),
        ("?q=Blazor&sort=oldest", "sort"),
        (&format!("?q=Blazor&sort=date&cursor={offset_cursor}") as &str, "cursor"),
        (&format!("?q={}", "长".repeat(201)), "q"),
    ] {
        let (status, body) = app.posts(query).await;
        assert_eq!((status, body["error"]["parameter"].as_str()), (400, Some(parameter)), "{query}: {body}");
    }
}

#[tokio::test]
async fn the_search_page_and_the_search_feeds_show_what_the_api_finds() {
    let app = fixture_app().await;
    let (status, page) = app.search_page("依赖注入").await;
    assert_eq!(status, 200);
    assert!(page.contains("<mark>依赖注入</mark>"), "{page}");
    assert!(page.contains("依赖注入入门") && page.contains("随笔：周末读书"));
    assert!(page.contains("feed.atom?q=%E4%BE%9D%E8%B5%96%E6%B3%A8%E5%85%A5"), "a link to subscribe to the search");
    let (_, home) = app.index("").await;
    assert!(home.contains("action=\"/search\""), "every page has the search box");
    let (status, atom) = app.feed_atom("?q=Blazor").await;
    assert_eq!(status, 200);
    assert_eq!(atom.matches("<entry>").count(), 3, "{atom}");
    let (_, json) = app.feed_json("?q=Blazor").await;
    assert_eq!(json["items"].as_array().unwrap().len(), 3);
    let (status, empty) = app.search_page("").await;
    assert_eq!(status, 200, "an empty search is the search form");
    assert!(!empty.contains("<article"));
}

#[tokio::test]
async fn a_tag_from_feeds_toml_or_a_post_category_filters_through_the_index() {
    let mut members = fixture_members();
    members[2].tags = vec!["dotnet"];
    let app = spawn_app(members, None).await;
    app.pass().await;
    let (_, tagged) = app.posts("?tag=dotnet&limit=100").await;
    assert_eq!(tagged["posts"].as_array().unwrap().len(), 9, "every post of the member tagged dotnet");
    let (_, category) = app.posts("?tag=%E5%89%8D%E7%AB%AF").await;
    assert_eq!(category["posts"].as_array().unwrap().len(), 3, "前端");
    let (_, until) = app.posts("?tag=dotnet&until=2026-10-10").await;
    let dates: Vec<&str> =
        until["posts"].as_array().unwrap().iter().map(|p| p["published"].as_str().unwrap()).collect();
    assert!(!dates.is_empty() && dates.iter().all(|d| *d <= "2026-10-10T00:00:00Z"), "{dates:?}");
}

#[tokio::test]
async fn the_index_follows_the_store_through_new_edited_and_removed_posts_and_members() {
    let app = fixture_app().await;
    assert!(found(&app, "Orleans", "").await == ["p28"]);
    // An edit and a new post, in the next pass.
    let mut posts = fixture_posts();
    posts.iter_mut().find(|p| p.id == "p28").unwrap().body = "改成讲 Akka.NET 的 Actor 模型。".into();
    posts.push(FixturePost {
        id: "p99".into(),
        member: "zhang".into(),
        title: "新文章：量子计算".into(),
        body: "量子比特".into(),
        tags: vec![],
        day: 28,
    });
    let members: Vec<TestMember> = MEMBERS.iter().map(|(id, name)| member(id, name, feed_of(id, &posts))).collect();
    app.rewrite_config(&members);
    app.pass().await;
    assert_eq!(found(&app, "量子比特", "").await, ["p99"], "a new post is found after the pass");
    assert_eq!(found(&app, "Akka.NET", "").await, ["p28"], "an edit is found by its new words");
    assert!(found(&app, "运行时负责激活", "").await.is_empty(), "and no longer by its old ones");
    // A member removed from feeds.toml disappears from search at once, and comes back.
    let without_zhang: Vec<TestMember> = members.into_iter().filter(|m| m.id != "zhang").collect();
    app.rewrite_config(&without_zhang);
    assert!(found(&app, "量子比特", "").await.is_empty());
    // The newest-first lists step over the removed member's posts through the index.
    let others = posts.iter().filter(|p| p.member != "zhang").count();
    let (_, page) = app.posts("?limit=100").await;
    let members: Vec<&str> =
        page["posts"].as_array().unwrap().iter().map(|p| p["member"]["id"].as_str().unwrap()).collect();
    assert_eq!((members.len(), members.contains(&"zhang")), (others, false));
    let (_, home) = app.index("").await;
    assert!(!home.contains("张三") && home.contains("王五"));
    let (_, feed) = app.feed_atom("?q=Orleans").await;
    assert!(!feed.contains("<entry>"));
    let with_zhang: Vec<TestMember> = MEMBERS.iter().map(|(id, name)| member(id, name, feed_of(id, &posts))).collect();
    app.rewrite_config(&with_zhang);
    assert_eq!(found(&app, "量子比特", "").await, ["p99"]);
}

#[tokio::test]
async fn a_deleted_index_is_rebuilt_and_searches_wait_for_it_with_503() {
    let app = fixture_app().await;
    let config_path = app.config_path.clone();
    let (result, directory) = app.shutdown().await;
    result.unwrap();
    let config = planet::config::load(&config_path).unwrap();
    std::fs::remove_dir_all(planet::search::path_for_store(&config.store.path)).unwrap();
    let store = planet::store::Store::open(&config.store.path, config.store.cache_bytes).unwrap();
    let service = planet::service::Service::new(config, store, Default::default()).unwrap();
    assert!(!service.search.is_ready());
    // The HTTP server alone, without `serve::run`'s background rebuild: the test runs it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(planet::http::serve(Arc::clone(&service), listener, std::future::pending()));
    let response = reqwest::get(format!("{address}/api/v1/posts?q=Orleans")).await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    let response = reqwest::get(format!("{address}/api/v1/posts?limit=1")).await.unwrap();
    assert_eq!(response.status(), 200, "what the index does not answer is served meanwhile");
    assert_eq!(service.update_search_index().unwrap(), 36);
    let page: serde_json::Value =
        reqwest::get(format!("{address}/api/v1/posts?q=Orleans")).await.unwrap().json().await.unwrap();
    assert_eq!(page["posts"].as_array().unwrap().len(), 1);
    drop(directory);
}

#[tokio::test]
async fn a_saturated_server_refuses_uncached_reads_at_once_and_still_serves_cached_feeds() {
    let app = fixture_app().await;
    let (status, _) = app.feed_atom("").await;
    assert_eq!(status, 200);
    let held = app.service.reads.take_all();
    assert_eq!(held.len(), planet::service::READ_PERMITS);
    for path in ["/api/v1/posts?q=Orleans", "/api/v1/posts?until=2026-10-03", "/members/zhang", "/api/v1/posts/abc"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 503, "{path}");
        assert_eq!(response.headers()["retry-after"], "1", "{path}");
    }
    let (status, _) = app.feed_atom("").await;
    assert_eq!(status, 200, "a cached feed does not need a permit");
    // A reload makes every cached body outdated; with no permit to render it again, the
    // feed's previous body is served rather than a 503.
    assert!(app.rewrite_config(&fixture_members()));
    let (status, body) = app.feed_atom("").await;
    assert_eq!(status, 200, "the previous body while none can be rendered: {body}");
    let (_, metrics) = app.metrics().await;
    assert!(metrics.contains("planet_refused_reads_total 5"), "four 503s and the feed's refused render: {metrics}");
    drop(held);
    assert_eq!(app.get("/api/v1/posts?q=Orleans").await.status(), 200);
}

#[tokio::test]
async fn searches_past_a_clients_share_get_429_with_retry_after() {
    let app = fixture_app().await;
    let mut statuses = Vec::new();
    for i in 0..61 {
        statuses.push(app.search(&format!("word{i}"), "").await.0);
    }
    assert!(statuses[..60].iter().all(|s| *s == 200), "{statuses:?}");
    let response = app.get("/api/v1/posts?q=Blazor").await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "60");
    assert_eq!(app.get("/api/v1/posts?limit=1").await.status(), 200, "only searches count");
}

#[tokio::test]
async fn stats_and_metrics_report_disk_use_of_the_store_and_the_index() {
    let app = fixture_app().await;
    let (_, stats) = app.stats().await;
    assert_eq!(stats["posts"], 36);
    assert!(stats["store_bytes"].as_u64().unwrap() > 0 && stats["search_index_bytes"].as_u64().unwrap() > 0);
    let (_, metrics) = app.metrics().await;
    assert!(metrics.contains("planet_search_ready 1"), "{metrics}");
    assert!(metrics.lines().any(|l| l.starts_with("planet_search_index_bytes ") && !l.ends_with(" 0")));
}

#[tokio::test]
async fn many_readers_asking_at_once_for_a_feed_not_yet_rendered_all_get_it() {
    let app = fixture_app().await;
    let requests = (0..64).map(|_| app.get("/feed.json"));
    let statuses: Vec<u16> =
        futures_util::future::join_all(requests).await.iter().map(|r| r.status().as_u16()).collect();
    assert!(statuses.iter().all(|s| *s == 200), "one renders, the others wait for it: {statuses:?}");
    let (_, metrics) = app.metrics().await;
    assert!(metrics.contains("planet_renders_total{output=\"feed.json\"} 1\n"), "{metrics}");
}
