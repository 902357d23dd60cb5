//! Fetch passes against a loopback server that misbehaves: each hostile case must end in the
//! right recorded state, and never stop the other members.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use planet::refresh::Outcome;

use crate::helpers::{members, rss, FixtureServer, Route, TestPlanet};

async fn one_member(route: Route, fetch_settings: &str) -> (FixtureServer, TestPlanet) {
    let server = FixtureServer::start().await;
    server.route("/feed", route);
    let planet = TestPlanet::new(&members(&[("alice", server.url("/feed"))]), fetch_settings);
    (server, planet)
}

fn failure_of(report: &planet::refresh::PassReport) -> String {
    match &report.feeds[0].outcome {
        Outcome::Failed { error } => error.clone(),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn a_drip_fed_body_hits_the_total_timeout_and_is_recorded() {
    let (_server, planet) = one_member(Route::Drip { interval: Duration::from_millis(100) }, "").await;
    let report = planet.pass().await;
    assert!(failure_of(&report).contains("timed out"), "{report:?}");
    let state = planet.state("alice");
    assert_eq!(state.consecutive_failures, 1);
    assert!(state.last_error.unwrap().contains("timed out"));
    assert!(state.next_due.is_some());
}

#[tokio::test]
async fn an_endless_body_stops_at_the_size_cap() {
    let (_server, planet) = one_member(Route::Endless, "max_body_bytes = 100000").await;
    let error = failure_of(&planet.pass().await);
    assert!(error.contains("larger than the limit of 100000 bytes"), "{error}");
}

#[tokio::test]
async fn a_gzip_bomb_is_stopped_by_counting_decompressed_bytes() {
    let bomb = Route::gzip_bomb(20_000_000);
    let Route::GzipBomb { body } = &bomb else { unreachable!() };
    assert!(body.len() < 100_000, "the bomb weighs {} bytes", body.len());
    let (_server, planet) = one_member(bomb, "max_body_bytes = 1000000").await;
    let error = failure_of(&planet.pass().await);
    assert!(error.contains("larger than the limit of 1000000 bytes"), "{error}");
}

#[tokio::test]
async fn a_redirect_loop_is_reported_as_such() {
    let server = FixtureServer::start().await;
    server.route("/a", Route::Redirect { status: 302, location: "/b".into() });
    server.route("/b", Route::Redirect { status: 302, location: "/a".into() });
    let planet = TestPlanet::new(&members(&[("alice", server.url("/a"))]), "");
    let error = failure_of(&planet.pass().await);
    assert!(error.contains("redirect loop"), "{error}");
}

#[tokio::test]
async fn a_permanent_redirect_chain_moves_the_feed_and_later_passes_use_the_new_url() {
    let server = FixtureServer::start().await;
    server.route("/old", Route::Redirect { status: 301, location: "/older-still".into() });
    server.route("/older-still", Route::Redirect { status: 308, location: "/new".into() });
    server.route("/new", Route::feed(rss("alice", 2)));
    let planet = TestPlanet::new(&members(&[("alice", server.url("/old"))]), "");
    let report = planet.pass().await;
    assert_eq!(report.feeds[0].outcome, Outcome::Refreshed);
    assert_eq!(report.feeds[0].moved_to.as_deref(), Some(server.url("/new").as_str()));
    let state = planet.state("alice");
    assert_eq!(state.current_url, server.url("/new"));
    assert_eq!(state.moved_to.as_deref(), Some(server.url("/new").as_str()));

    planet.pass().await;
    assert_eq!(server.request_count("/old"), 1, "the old URL is not asked again");
    assert_eq!(server.request_count("/new"), 2);
}

#[tokio::test]
async fn a_temporary_redirect_is_followed_but_not_remembered() {
    let server = FixtureServer::start().await;
    server.route("/feed", Route::Redirect { status: 302, location: "/today".into() });
    server.route("/today", Route::feed(rss("alice", 1)));
    let planet = TestPlanet::new(&members(&[("alice", server.url("/feed"))]), "");
    assert_eq!(planet.pass().await.feeds[0].outcome, Outcome::Refreshed);
    let state = planet.state("alice");
    assert_eq!(state.current_url, server.url("/feed"));
    assert_eq!(state.moved_to, None);
}

#[tokio::test]
async fn a_410_gone_feed_is_no_longer_fetched() {
    let (server, planet) = one_member(Route::Status { status: 410, headers: vec![] }, "").await;
    assert_eq!(planet.pass().await.feeds[0].outcome, Outcome::Gone);
    assert!(planet.state("alice").gone);
    let later = Utc::now() + TimeDelta::days(30);
    assert_eq!(planet.pass_at(later).await.feeds[0].outcome, Outcome::Gone);
    assert_eq!(server.request_count("/feed"), 1);
}

#[tokio::test]
async fn a_429_with_retry_after_is_honoured() {
    let headers = vec![("Retry-After".to_string(), "3600".to_string())];
    let (server, planet) = one_member(Route::Status { status: 429, headers }, "").await;
    let now = Utc::now();
    let report = planet.pass_at(now).await;
    assert!(matches!(report.feeds[0].outcome, Outcome::RetryLater { status: 429, .. }), "{report:?}");
    let state = planet.state("alice");
    assert_eq!(state.next_due, Some(now + TimeDelta::seconds(3600)));
    assert!(matches!(planet.pass_at(now + TimeDelta::minutes(30)).await.feeds[0].outcome, Outcome::Skipped { .. }));
    assert_eq!(server.request_count("/feed"), 1);
}

#[tokio::test]
async fn an_etag_makes_the_second_fetch_a_304_without_parsing() {
    let (server, planet) = one_member(Route::feed_with_etag(rss("alice", 3), "\"v1\""), "").await;
    let first = planet.pass().await;
    assert_eq!(first.feeds[0].counts.new, 3);
    let second = planet.pass().await;
    assert_eq!(second.feeds[0].outcome, Outcome::NotModified);
    assert_eq!(server.if_none_match_sent("/feed"), vec![None, Some("\"v1\"".to_string())]);
    assert_eq!(server.statuses("/feed"), vec![200, 304]);
    assert_eq!(planet.state("alice").last_status, Some(304));
}

#[tokio::test]
async fn an_html_page_instead_of_a_feed_is_explained() {
    let page = r#"<!doctype html><html><head><link rel="alternate" type="application/atom+xml" href="/atom.xml"></head></html>"#;
    let route = Route::Feed { body: page.into(), content_type: "text/html".into(), etag: None };
    let (_server, planet) = one_member(route, "").await;
    let error = failure_of(&planet.pass().await);
    // Publicly the class only (the page's content stays private); `planet check` names the
    // feeds the page advertises.
    assert!(error.contains("HTML page") && error.contains("planet check"), "{error}");
    assert!(!error.contains("/atom.xml"), "{error}");
    let report = planet::check::bytes(
        &planet.config,
        &planet.config.members[0],
        "page",
        page.as_bytes(),
        Some("text/html"),
        None,
        Utc::now(),
    );
    assert!(report.error.unwrap_or_default().contains("/atom.xml"));
}

#[tokio::test]
async fn a_gzip_file_served_without_content_encoding_is_explained() {
    // node-feedparser's gzipped feed, served as a plain body: the server forgot the header.
    let body = std::fs::read(crate::corpus::corpus().join("node-feedparser/test/feeds/invalid-characters-gzipped.xml"))
        .unwrap();
    let (_server, planet) = one_member(Route::feed(body), "").await;
    let error = failure_of(&planet.pass().await);
    assert!(error.contains("gzip-compressed") && error.contains("Content-Encoding"), "{error}");
}

#[tokio::test]
async fn gbk_without_a_declaration_is_stored_as_the_right_text() {
    let document = "<rss version=\"2.0\"><channel><title>长沙社区</title><item><title>依赖注入的生命周期详解</title><guid>1</guid>\
                    <description>服务的生命周期有三种：瞬时、作用域和单例。</description></item></channel></rss>";
    let (bytes, _, _) = encoding_rs::GBK.encode(document);
    let route = Route::Feed { body: bytes.into_owned(), content_type: "application/rss+xml".into(), etag: None };
    let (_server, planet) = one_member(route, "").await;
    planet.pass().await;
    let posts = planet.store.recent_posts(10).unwrap();
    assert_eq!(posts[0].title, "依赖注入的生命周期详解");
    assert!(posts[0].excerpt.starts_with("服务的生命周期有三种"));
}

#[tokio::test]
async fn a_declaration_that_lies_is_overruled_by_the_bytes() {
    let body = "<rss version=\"2.0\"><channel><title>t</title><item><title>异步编程与任务并行库的最佳实践</title><guid>1</guid></item></channel></rss>";
    let (encoded, _, _) = encoding_rs::GBK.encode(body);
    let mut bytes = b"<?xml version=\"1.0\" encoding=\"utf-8\"?>".to_vec();
    bytes.extend_from_slice(&encoded);
    let route = Route::Feed { body: bytes, content_type: "application/rss+xml; charset=utf-8".into(), etag: None };
    let (_server, planet) = one_member(route, "").await;
    planet.pass().await;
    assert_eq!(planet.store.recent_posts(1).unwrap()[0].title, "异步编程与任务并行库的最佳实践");
}

#[tokio::test]
async fn a_hanging_feed_does_not_stop_the_others() {
    let server = FixtureServer::start().await;
    server.route("/slow", Route::Drip { interval: Duration::from_millis(200) });
    server.route("/broken", Route::Status { status: 500, headers: vec![] });
    let mut feeds = vec![("slow", server.url("/slow")), ("broken", server.url("/broken"))];
    for i in 0..5 {
        let path = format!("/ok{i}");
        server.route(&path, Route::feed(rss(&format!("ok{i}"), 2)));
        feeds.push((["a", "b", "c", "d", "e"][i], server.url(&path)));
    }
    let planet = TestPlanet::new(&members(&feeds), "concurrency = 2\nper_host_concurrency = 2");
    let report = planet.pass().await;
    assert_eq!(report.count(|o| *o == Outcome::Refreshed), 5);
    assert_eq!(planet.store.post_count(), 10);
    assert!(planet.state("broken").last_error.unwrap().contains("HTTP 500"));
    assert!(planet.state("slow").last_error.unwrap().contains("timed out"));
}

#[tokio::test]
async fn failures_back_off_and_a_success_resets_the_count() {
    let (server, planet) = one_member(Route::Status { status: 500, headers: vec![] }, "").await;
    let now = Utc::now();
    planet.pass_at(now).await;
    assert!(matches!(planet.pass_at(now + TimeDelta::minutes(1)).await.feeds[0].outcome, Outcome::Skipped { .. }));
    planet.pass_at(now + TimeDelta::hours(1)).await;
    let state = planet.state("alice");
    assert_eq!(state.consecutive_failures, 2);
    let second_delay = state.next_due.unwrap() - (now + TimeDelta::hours(1));
    assert!(second_delay >= TimeDelta::minutes(15), "{second_delay}");

    server.route("/feed", Route::feed(rss("alice", 1)));
    planet.pass_at(now + TimeDelta::days(2)).await;
    let state = planet.state("alice");
    assert_eq!((state.consecutive_failures, state.last_error, state.next_due), (0, None, None));
    assert_eq!(state.last_success, Some(now + TimeDelta::days(2)));
}

#[tokio::test]
async fn last_modified_is_sent_back_verbatim_and_a_304_follows() {
    let stamp = "Wed, 25 Nov 2026 08:00:00 GMT";
    let route = Route::Dated { body: rss("alice", 1).into(), last_modified: stamp.into() };
    let (server, planet) = one_member(route, "").await;
    planet.pass().await;
    assert_eq!(planet.pass().await.feeds[0].outcome, Outcome::NotModified);
    let sent = server.modified_since_and_agent("/feed");
    assert_eq!(sent[0].0, None);
    assert_eq!(sent[1].0.as_deref(), Some(stamp));
    let agent = sent[0].1.clone().unwrap();
    assert!(agent.starts_with("planet/") && agent.contains("(+http://127.0.0.1/)"), "{agent}");
}

#[tokio::test]
async fn a_503_with_an_http_date_retry_after_waits_until_then() {
    let later = Utc::now() + TimeDelta::hours(2);
    let headers = vec![("Retry-After".to_string(), later.format("%a, %d %b %Y %H:%M:%S GMT").to_string())];
    let (_server, planet) = one_member(Route::Status { status: 503, headers }, "").await;
    let now = Utc::now();
    let report = planet.pass_at(now).await;
    assert!(matches!(report.feeds[0].outcome, Outcome::RetryLater { status: 503, .. }), "{report:?}");
    let wait = planet.state("alice").next_due.unwrap() - now;
    assert!(wait > TimeDelta::minutes(110) && wait <= TimeDelta::minutes(121), "{wait}");
}

#[tokio::test]
async fn a_stop_ends_a_pass_that_waits_on_a_slow_feed_at_once() {
    // A feed that drips a byte a second, with timeouts of five minutes: without a stop the
    // pass would wait for it (at shutdown, SIGTERM would wait too).
    let server = FixtureServer::start().await;
    server.route("/slow", Route::Drip { interval: Duration::from_secs(1) });
    server.route("/fast", Route::feed(rss("fast", 2)));
    let directory = tempfile::tempdir().unwrap();
    let text = format!(
        "[site]\ntitle = \"t\"\nurl = \"http://127.0.0.1/\"\n[store]\npath = \"{}\"\n[fetch]\nallow_private = true\ntimeout = \"5m\"\nread_timeout = \"5m\"\n\n{}",
        directory.path().join("store").display(),
        members(&[("fast", server.url("/fast")), ("slow", server.url("/slow"))])
    );
    let config = planet::config::parse(&text, std::path::Path::new("t.toml")).unwrap();
    let store = planet::store::Store::open(&config.store.path, 1 << 20).unwrap();
    let client = planet::fetch::Client::new(&config.fetch).unwrap();
    let (stop, stop_receiver) = tokio::sync::watch::channel(false);
    let options = planet::refresh::PassOptions { stop: Some(stop_receiver), ..Default::default() };
    let pass = tokio::spawn(async move {
        let report = planet::refresh::run_pass(&config, &store, &client, Utc::now(), &options).await.unwrap();
        (report, store)
    });
    server.requested("/slow").await;
    stop.send_replace(true);
    let (report, store) = tokio::time::timeout(Duration::from_secs(10), pass)
        .await
        .expect("the stopped pass returned at once, not after the slow feed")
        .unwrap();
    assert!(report.feeds.iter().all(|feed| feed.member.as_str() != "slow"), "the slow feed was dropped");
    let fast_saved = store.post_count();
    assert!(fast_saved == 0 || fast_saved == 2, "a feed is saved whole or not at all: {fast_saved}");
}
