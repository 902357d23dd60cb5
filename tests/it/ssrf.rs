//! The SSRF guard, through real fetch passes and the real server: a member's feed (or a
//! redirect it answers with) that leads to a loopback, private or otherwise non-public
//! address is refused before anything is sent there, and what the public sees of a failure
//! is its class, never what an internal port answered. Only loopback is ever connected to:
//! the other non-public ranges are refused before a connection (unit tests in
//! `src/fetch/guard.rs` cover every range and spelling).

use planet::fetch::{self, FetchError, Validators};
use planet::refresh::Outcome;
use tokio::io::AsyncWriteExt;

use crate::helpers::{members, rss, FixtureServer, Route, TestPlanet};
use crate::server::app::{member, spawn_app_guarded};

fn failure_of(report: &planet::refresh::PassReport) -> String {
    match &report.feeds[0].outcome {
        Outcome::Failed { error } => error.clone(),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn every_spelling_of_a_loopback_address_is_refused_before_a_request_is_sent() {
    let server = FixtureServer::start().await;
    server.route("/feed", Route::feed(rss("internal", 2)));
    let port = server.address.port();
    let planet = TestPlanet::guarded("", "");
    let client = fetch::Client::new(&planet.config.fetch).unwrap();
    for spelling in [
        format!("http://127.0.0.1:{port}/feed"),
        format!("http://2130706433:{port}/feed"),
        format!("http://0177.0.0.1:{port}/feed"),
        format!("http://0x7f.0.0.1:{port}/feed"),
        format!("http://127.1:{port}/feed"),
        format!("http://[::ffff:127.0.0.1]:{port}/feed"),
        format!("http://localhost:{port}/feed"),
    ] {
        let url = url::Url::parse(&spelling).unwrap();
        let error = fetch::get(&client, &url, &Validators::default(), false).await.unwrap_err();
        assert!(matches!(error, FetchError::Refused(_)), "{spelling}: {error:?}");
        assert!(error.to_string().contains("loopback"), "{spelling}: {error}");
    }
    assert_eq!(server.request_count("/feed"), 0, "nothing reached the internal server");
    // The same feed, for a member the operator allows private addresses.
    let url = url::Url::parse(&format!("http://127.0.0.1:{port}/feed")).unwrap();
    assert!(fetch::get(&client, &url, &Validators::default(), true).await.is_ok());
}

#[tokio::test]
async fn a_redirect_to_an_internal_address_is_refused_and_never_requested_nor_remembered() {
    // The member's host (127.0.0.2, allowed one by one as a public host would be) redirects
    // to the internal service on 127.0.0.1, which the guard must refuse.
    let internal = FixtureServer::start().await;
    internal.route("/secret", Route::feed(rss("secret", 3)));
    let member_host = FixtureServer::start_on("127.0.0.2").await;
    let secret = internal.url("/secret");
    member_host.route("/temporary", Route::Redirect { status: 302, location: secret.clone() });
    member_host.route("/permanent", Route::Redirect { status: 301, location: secret.clone() });
    let feeds = [("temporary", member_host.url("/temporary")), ("permanent", member_host.url("/permanent"))];
    let planet = TestPlanet::guarded(&members(&feeds), "allow_addresses = [\"127.0.0.2\"]\n");
    let report = planet.pass().await;
    for feed in &report.feeds {
        let Outcome::Failed { error } = &feed.outcome else { panic!("{:?}", feed.outcome) };
        assert!(error.starts_with("refused") && error.contains("loopback"), "{error}");
        assert!(!error.contains("127.0.0.1") && !error.contains("/secret"), "no redirect target in public: {error}");
    }
    assert_eq!(internal.request_count("/secret"), 0);
    assert_eq!(planet.store.post_count(), 0, "nothing internal was stored");
    let moved = planet.state("permanent");
    assert_eq!(moved.current_url, member_host.url("/permanent"), "a 301 to an internal address is not remembered");
    assert_eq!(moved.moved_to, None);
    assert_eq!(planet.state("temporary").consecutive_failures, 1, "recorded as the feed's failure, with backoff");
}

#[tokio::test]
async fn what_an_internal_port_answered_never_reaches_the_public_error() {
    // An SMTP-like service: it greets, then closes. reqwest's message says "invalid HTTP
    // version parsed", which tells a port scanner what listens there.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let _ = stream.write_all(b"220 mail.internal ESMTP Postfix\r\n").await;
        }
    });
    let planet = TestPlanet::new(&members(&[("alice", format!("http://{address}/feed"))]), "");
    let error = failure_of(&planet.pass().await);
    assert_eq!(error, "the server did not answer with a usable HTTP response");
    assert_eq!(planet.state("alice").last_error.as_deref(), Some(error.as_str()));
}

#[tokio::test]
async fn a_feed_on_loopback_is_refused_by_the_real_server_and_its_pages_say_only_the_class() {
    let app = spawn_app_guarded(vec![member("alice", "Alice", rss("alice", 2))]).await;
    let report = app.pass().await;
    assert!(matches!(report.feeds[0].outcome, Outcome::Failed { .. }), "{:?}", report.feeds[0].outcome);
    assert_eq!(app.fixtures.request_count("/alice.xml"), 0);
    let (status, feed) = app.feed_atom("").await;
    assert_eq!(status, 200);
    assert!(!feed.contains("<entry>"), "nothing was fetched, nothing is published");
    let (_, api) = app.member("alice").await;
    let error = api["feeds"][0]["last_error"].as_str().unwrap_or_default().to_string();
    assert!(error.contains("refused") && error.contains("loopback"), "{api}");
    assert!(!error.contains(&app.fixtures.address.to_string()), "{error}");
    let (_, page) = app.member_page("alice").await;
    assert!(page.contains("loopback"), "the member page explains the refusal");
}
