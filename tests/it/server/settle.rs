//! Freed memory goes back to the system once the server is quiet (`service::settle`): after
//! requests have ended, on the first tick in which none ran; never while one runs, however
//! long it takes; once per quiet spell; and monitoring polls keep nobody waiting for it.

use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

use super::app::{member, spawn_app, TestApp};
use crate::helpers::rss;

async fn trims(app: &TestApp) -> u64 {
    let (_, text) = app.metrics().await;
    let line = text.lines().find_map(|l| l.strip_prefix("planet_memory_trims_total ")).expect("the trim counter");
    line.trim().parse().unwrap()
}

#[tokio::test]
async fn freed_memory_goes_back_on_the_first_quiet_tick_after_requests_and_only_once() {
    let app = spawn_app(vec![member("alice", "Alice", rss("alice", 20))], None).await;
    app.service.settle_by_hand();
    app.pass().await;
    assert!(!app.service.settle_step().await, "no request served yet");
    let (status, _) = app.text("/api/v1/posts?limit=10").await;
    assert_eq!(status, 200);
    assert!(!app.service.settle_step().await, "a request ended during this tick");
    assert!(app.service.settle_step().await, "the first quiet tick after it");
    assert!(!app.service.settle_step().await, "nothing served since the trim");
    assert_eq!(trims(&app).await, 1);
    assert!(!app.service.settle_step().await, "a metrics poll is not a request to settle after");
    assert_eq!(app.text("/healthz").await.0, 200);
    assert!(!app.service.settle_step().await, "nor is a health check");
    assert_eq!(trims(&app).await, 1);
}

/// Polls `/metrics` (itself not counted) until `running` requests are in flight.
async fn wait_for_in_flight(app: &TestApp, running: u64) {
    let wanted = format!("planet_requests_in_flight {running}\n");
    for _ in 0..10_000 {
        if app.metrics().await.1.contains(&wanted) {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("never {running} requests in flight");
}

#[tokio::test]
async fn no_trim_runs_while_a_request_is_in_flight_however_long_it_takes() {
    let app = spawn_app(vec![member("alice", "Alice", rss("alice", 3))], None).await;
    app.service.settle_by_hand();
    assert_eq!(app.text("/").await.0, 200);
    // A form whose body never finishes arriving: the request runs until the client goes.
    let mut slow = TcpStream::connect(app.address.trim_start_matches("http://")).await.unwrap();
    slow.write_all(
        b"POST /subscribe HTTP/1.1\r\nHost: planet\r\nContent-Type: application/x-www-form-urlencoded\r\n\
          Content-Length: 100\r\n\r\nemail=",
    )
    .await
    .unwrap();
    wait_for_in_flight(&app, 1).await;
    for _ in 0..5 {
        assert!(!app.service.settle_step().await, "a request is still running");
    }
    assert_eq!(trims(&app).await, 0);
    drop(slow);
    // The server sees the client gone and ends the request; the first quiet tick then trims.
    wait_for_in_flight(&app, 0).await;
    assert!(!app.service.settle_step().await, "the request ended during this tick");
    assert!(app.service.settle_step().await, "the first quiet tick after it");
    assert_eq!(trims(&app).await, 1);
}
