//! Clients that vary what they ask for to fill the render cache: long or repeated query
//! parameters are refused before anything is cached, and search and tag traffic competes only
//! with itself, never with the combined feeds every reader shares.

use super::app::{member, spawn_app, TestApp};
use crate::helpers::rss;

async fn status_and_body(app: &TestApp, path: &str, client: &str) -> (u16, String) {
    let response = app.get_with(path, &[("X-Real-IP", client)]).await;
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn long_and_repeated_query_parameters_get_a_400_with_a_json_error() {
    let app = spawn_app(vec![member("alice", "Alice", rss("alice", 3))], None).await;
    app.pass().await;
    let long_tag = format!("/api/v1/posts?tag={}", "t".repeat(60_000));
    let repeated = format!("/api/v1/posts?{}", vec!["limit=1"; 200].join("&"));
    for path in [
        long_tag.as_str(),
        repeated.as_str(),
        "/feed.atom?tag=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "/?before=1&before=2",
    ] {
        let (status, body) = status_and_body(&app, path, "203.0.113.1").await;
        assert_eq!(status, 400, "{path}: {body}");
        let error: serde_json::Value = serde_json::from_str(&body).expect("a JSON error body");
        assert!(error["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    }
    let (_, metrics) = app.metrics().await;
    assert!(metrics.contains("planet_render_cache_entries 0\n"), "nothing was cached: {metrics}");
    // A tag of fifty characters (the longest a stored tag is) is still a tag.
    let (status, _) = status_and_body(&app, &format!("/feed.atom?tag={}", "t".repeat(50)), "203.0.113.1").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn thousands_of_search_and_tag_feeds_never_evict_the_combined_feed() {
    let app = spawn_app(vec![member("alice", "Alice", rss("alice", 3))], None).await;
    app.pass().await;
    let (status, _) = app.feed_atom("").await;
    assert_eq!(status, 200);
    // More distinct query-keyed feeds than the cache holds entries, from many clients (each
    // stays under its search limit).
    for n in 0..2_100 {
        let client = format!("198.51.{}.{}", n / 50 / 250, n / 50 % 250);
        let path = if n % 2 == 0 { format!("/feed.atom?q=word{n}") } else { format!("/feed.atom?tag=tag{n}") };
        let (status, body) = status_and_body(&app, &path, &client).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    let (status, _) = app.feed_atom("").await;
    assert_eq!(status, 200);
    let (_, metrics) = app.metrics().await;
    // Every feed render is counted under one label: the 2,100 query feeds and /feed.atom once.
    assert!(metrics.contains("planet_renders_total{output=\"feed.atom\"} 2101\n"), "{metrics}");
}

#[tokio::test]
async fn tag_feeds_count_against_the_per_client_search_limit() {
    let app = spawn_app(vec![member("alice", "Alice", rss("alice", 3))], None).await;
    app.pass().await;
    let mut statuses = Vec::new();
    for n in 0..61 {
        statuses.push(status_and_body(&app, &format!("/feed.atom?tag=t{n}"), "203.0.113.9").await.0);
    }
    assert!(statuses[..60].iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(statuses[60], 429);
    let (status, _) = status_and_body(&app, "/feed.atom?tag=t0", "203.0.113.10").await;
    assert_eq!(status, 200, "another client is not limited");
}
