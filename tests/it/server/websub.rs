//! WebSub both ways against a real hub on loopback (flask-websub from PyPI, run by
//! `scripts/websub_hub.py`): planet's feeds advertise and ping their hub, whose subscribers
//! get the new content; planet subscribes to a member's hub, verifies only what it asked
//! for, takes signed content in like a fetch, and pushes it on to a group robot.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};

use chrono::{TimeDelta, Utc};

use super::app::{member, spawn_app_at_own_url, TestApp};
use super::push::{feed, later, target};
use crate::helpers::Route;
use crate::robots::{Answer, RobotServer};

/// The hub process, killed when dropped; then its storage directory is removed.
pub struct Hub {
    child: Child,
    pub url: String,
    _storage: tempfile::TempDir,
}

impl Hub {
    pub fn start(algorithm: &str) -> Hub {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/websub_hub.py");
        let storage = tempfile::tempdir().unwrap();
        let mut child = Command::new("python3")
            .args([script, algorithm])
            .arg(storage.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs the hub");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().strip_prefix("listening ").unwrap_or_else(|| panic!("the hub said {line:?}"));
        Hub { child, url: format!("http://127.0.0.1:{port}/hub"), _storage: storage }
    }

    /// A form POST to the hub, as a publisher or subscriber makes it; the hub runs its tasks
    /// (verification, distribution) before it answers.
    pub async fn post(&self, fields: &[(&str, &str)]) -> u16 {
        reqwest::Client::new().post(&self.url).form(fields).send().await.unwrap().status().as_u16()
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `python3 -c` HMAC of `body` with `key`, hex: the hub's signature computed independently.
fn python_hmac_hex(algorithm: &str, key: &str, body: &[u8]) -> String {
    let path = std::env::temp_dir().join(format!("websub-body-{}-{algorithm}", std::process::id()));
    std::fs::write(&path, body).unwrap();
    let script = "import sys, hmac, hashlib\nprint(hmac.new(sys.argv[2].encode(), open(sys.argv[3], 'rb').read(), getattr(hashlib, sys.argv[1])).hexdigest())";
    let out = Command::new("python3").args(["-c", script, algorithm, key, path.to_str().unwrap()]).output().unwrap();
    let _ = std::fs::remove_file(&path);
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planet_feeds_advertise_their_hub_and_a_pass_that_changes_them_reaches_the_hubs_subscribers() {
    let hub = Hub::start("sha512");
    let reader = RobotServer::start().await;
    reader.echo_challenges("/reader");
    reader.answer_always("/reader", Answer::status(204, &[], ""));
    let now = Utc::now();
    let extra = format!("[websub]\nhubs = [\"{}\"]\n", hub.url);
    let old = feed("ann", &[("old", "旧文章", now - TimeDelta::days(10), &[])]);
    let app = spawn_app_at_own_url(vec![member("ann", "张三", old)], &extra, &[]).await;
    app.pass().await;

    for (path, advertised) in [
        ("/feed.atom", format!("<link href=\"{}\" rel=\"hub\"/>", hub.url)),
        ("/feed.rss", format!("<atom:link href=\"{}\" rel=\"hub\"/>", hub.url)),
        ("/feed.json", format!("\"url\": \"{}\"", hub.url)),
        ("/digest.atom", format!("<link href=\"{}\" rel=\"hub\"/>", hub.url)),
    ] {
        let response = app.get(path).await;
        let link = response.headers().get("link").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        assert!(
            link.contains(&format!("<{}>; rel=\"hub\"", hub.url)) && link.contains("rel=\"self\""),
            "{path}: {link}"
        );
        let body = response.text().await.unwrap();
        assert!(body.contains(&advertised), "{path} advertises its hub: {body}");
    }

    // A reader subscribes to the combined Atom feed at planet's hub.
    let topic = format!("{}/feed.atom", app.address);
    let callback = reader.url("/reader");
    let fields = [
        ("hub.mode", "subscribe"),
        ("hub.topic", topic.as_str()),
        ("hub.callback", callback.as_str()),
        ("hub.secret", "reader-secret"),
    ];
    assert_eq!(hub.post(&fields).await, 202);
    assert_eq!(reader.received("/reader").len(), 1, "the hub verified the reader's intent");

    app.fixtures.route(
        "/ann.xml",
        Route::feed(feed("ann", &[("new", "依赖注入新篇", Utc::now() - TimeDelta::minutes(1), &[])])),
    );
    app.pass().await;
    let pushed: Vec<_> = reader.received("/reader").into_iter().filter(|r| !r.body.is_empty()).collect();
    assert_eq!(pushed.len(), 1, "the hub pushed the changed feed once");
    assert!(pushed[0].text().contains("依赖注入新篇"), "{}", pushed[0].text());
    let signature = pushed[0].header("x-hub-signature").unwrap();
    assert_eq!(signature, format!("sha512={}", python_hmac_hex("sha512", "reader-secret", &pushed[0].body)));
}

/// A planet subscribed through `hub` to member ann's feed, which advertises the hub in its
/// `Link` header, with a WeCom robot as its push target.
async fn subscribed_app(hub: &Hub, robots: &RobotServer) -> (TestApp, String) {
    let now = Utc::now();
    let extra = format!("[websub]\nsubscribe = true\n\n{}", target("wecom", "wecom", "batch_minutes = 0"));
    let old = feed("ann", &[("old", "旧文章", now - TimeDelta::days(10), &[])]);
    let app =
        spawn_app_at_own_url(vec![member("ann", "张三", old.clone())], &extra, &[("WECOM_URL", robots.url("/wecom"))])
            .await;
    let feed_url = app.fixtures.url("/ann.xml");
    serve_with_hub(&app, hub, &old);
    app.service.deliver_notifications(now - TimeDelta::hours(1)).await;
    app.pass().await;
    (app, feed_url)
}

/// Serves ann's feed with WebSub's discovery headers.
fn serve_with_hub(app: &TestApp, hub: &Hub, document: &str) {
    let feed_url = app.fixtures.url("/ann.xml");
    let link = format!("<{}>; rel=\"hub\", <{feed_url}>; rel=\"self\"", hub.url);
    let headers = vec![("Content-Type".to_string(), "application/rss+xml".to_string()), ("Link".to_string(), link)];
    app.fixtures.route("/ann.xml", Route::Full { status: 200, headers, body: document.as_bytes().to_vec() });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_members_hub_is_subscribed_to_and_what_it_pushes_is_taken_in_and_reaches_the_group() {
    let hub = Hub::start("sha256");
    let robots = RobotServer::start().await;
    robots.answer_always("/wecom", Answer::ok(r#"{"errcode":0,"errmsg":"ok"}"#));
    let (app, feed_url) = subscribed_app(&hub, &robots).await;
    let subscription = app.service.store.websub_for_feed("ann", &feed_url).unwrap().expect("planet subscribed");
    assert!(subscription.is_live(Utc::now()), "the hub verified planet's intent: {subscription:?}");
    assert!(subscription.lease_until.unwrap() > Utc::now() + TimeDelta::days(9));

    // The member publishes; the hub fetches the feed and pushes it to planet's callback.
    let now = Utc::now();
    let document = feed(
        "ann",
        &[
            ("old", "旧文章", now - TimeDelta::days(10), &[]),
            ("new", "推送来的新文章", now - TimeDelta::minutes(1), &[]),
        ],
    );
    serve_with_hub(&app, &hub, &document);
    assert_eq!(hub.post(&[("hub.mode", "publish"), ("hub.topic", feed_url.as_str())]).await, 202);
    let (_, posts) = app.posts("?member=ann").await;
    assert!(posts.to_string().contains("推送来的新文章"), "taken in without a fetch: {posts}");
    assert_eq!(app.fixtures.request_count("/ann.xml"), 2, "the hub fetched the feed; planet did not");
    let report = app.service.deliver_notifications(later(2)).await;
    assert_eq!(report.delivered, vec![("wecom".to_string(), 1)], "{report:?}");
    assert!(robots.received("/wecom")[0].text().contains("推送来的新文章"));

    // Polling goes on, less often: the next pass leaves the pushed feed alone.
    let pass = app.pass().await;
    assert!(matches!(pass.feeds[0].outcome, planet::refresh::Outcome::Skipped { .. }), "{:?}", pass.feeds[0].outcome);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callback_answers_only_what_planet_asked_for_and_only_signed_content_within_limits() {
    let hub = Hub::start("sha1");
    let robots = RobotServer::start().await;
    let (app, feed_url) = subscribed_app(&hub, &robots).await;
    let subscription = app.service.store.websub_for_feed("ann", &feed_url).unwrap().unwrap();
    let callback = format!("{}/websub/{}", app.address, subscription.token);
    let client = reqwest::Client::new();
    let verify = |topic: &str, token: &str| {
        let url = format!("{}/websub/{token}", app.address);
        let query =
            [("hub.mode", "subscribe"), ("hub.topic", topic), ("hub.challenge", "c-123"), ("hub.lease_seconds", "600")];
        client.get(url).query(&query).send()
    };
    assert_eq!(
        verify("https://elsewhere.example/feed", &subscription.token).await.unwrap().status(),
        404,
        "a topic planet did not ask for"
    );
    assert_eq!(verify(&feed_url, "0123456789abcdef").await.unwrap().status(), 404, "a callback planet never gave out");
    let unsubscribe = client
        .get(&callback)
        .query(&[("hub.mode", "unsubscribe"), ("hub.topic", feed_url.as_str()), ("hub.challenge", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(unsubscribe.status(), 404, "planet never asks to unsubscribe");

    let document = feed("ann", &[("forged", "伪造的文章", Utc::now(), &[])]).into_bytes();
    let sign = |secret: &str| format!("sha256={}", python_hmac_hex("sha256", secret, &document));
    let post = |signature: Option<String>, url: &str, body: Vec<u8>| {
        let mut request = client.post(url).header("content-type", "application/rss+xml").body(body);
        if let Some(signature) = signature {
            request = request.header("x-hub-signature", signature);
        }
        request.send()
    };
    assert_eq!(post(Some(sign("not-the-secret")), &callback, document.clone()).await.unwrap().status(), 403);
    assert_eq!(post(None, &callback, document.clone()).await.unwrap().status(), 403);
    let (_, posts) = app.posts("?member=ann").await;
    assert!(!posts.to_string().contains("伪造的文章"), "forged content is not taken: {posts}");
    let unknown = format!("{}/websub/{}", app.address, "f".repeat(48));
    assert_eq!(
        post(Some(sign(&subscription.secret)), &unknown, document.clone()).await.unwrap().status(),
        410,
        "the hub should stop"
    );
    // Over the cap: planet answers 413 and closes without reading the rest, so a client still
    // writing may see its connection cut before it reads the answer; either way nothing is taken.
    let too_big = vec![b' '; 11 << 20];
    match post(Some(sign(&subscription.secret)), &callback, too_big).await {
        Ok(answer) => assert_eq!(answer.status(), 413),
        Err(cut) => assert!(cut.is_request(), "{cut}"),
    }

    let mut statuses = Vec::new();
    for _ in 0..(planet::service::WEBSUB_PUSHES_PER_MINUTE + 1) {
        statuses
            .push(post(Some(sign(&subscription.secret)), &callback, document.clone()).await.unwrap().status().as_u16());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 202).count(),
        planet::service::WEBSUB_PUSHES_PER_MINUTE,
        "{statuses:?}"
    );
    assert_eq!(statuses.last(), Some(&429));
    let (_, posts) = app.posts("?member=ann").await;
    assert!(posts.to_string().contains("伪造的文章"), "signed with the subscription's secret, it is taken: {posts}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_push_without_a_body_fetches_the_feed() {
    let hub = Hub::start("sha256");
    let robots = RobotServer::start().await;
    let (app, feed_url) = subscribed_app(&hub, &robots).await;
    let subscription = app.service.store.websub_for_feed("ann", &feed_url).unwrap().unwrap();
    let fetched = app.fixtures.request_count("/ann.xml");
    let signature = format!("sha256={}", python_hmac_hex("sha256", &subscription.secret, b""));
    let callback = format!("{}/websub/{}", app.address, subscription.token);
    let answer = reqwest::Client::new().post(callback).header("x-hub-signature", signature).send().await.unwrap();
    assert_eq!(answer.status(), 202);
    app.service.wait_for_pass().await;
    assert_eq!(
        app.fixtures.request_count("/ann.xml"),
        fetched + 1,
        "the ping fetched the feed, past its fallback wait"
    );
}
