//! Hostile connections: a client that never finishes its headers, one that idles after a
//! response, and more connections than the server takes. Run on the real router under the
//! real accept loop, with small limits so the tests are quick (the server's own are
//! `HEADER_READ_TIMEOUT` and `MAX_CONNECTIONS`).

use std::time::Duration;

use planet::http::listen;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::app::{member, spawn_app};
use crate::helpers::rss;

const TEST_HEADER_TIMEOUT: Duration = Duration::from_millis(300);
const TEST_MAX_CONNECTIONS: usize = 4;
/// How long a test waits for the server before it calls the server stuck.
const GUARD: Duration = Duration::from_secs(10);

/// The app's router under an accept loop with the test limits; its address.
async fn limited_server() -> (super::app::TestApp, std::net::SocketAddr) {
    let app = spawn_app(vec![member("alice", "Alice", rss("alice", 1))], None).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = planet::http::router(std::sync::Arc::clone(&app.service));
    tokio::spawn(listen::serve_with_limits(
        listener,
        router,
        std::future::pending(),
        TEST_MAX_CONNECTIONS,
        TEST_HEADER_TIMEOUT,
    ));
    (app, address)
}

/// Reads until the server closes the connection; what it sent.
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    tokio::time::timeout(GUARD, stream.read_to_end(&mut received))
        .await
        .expect("the server closed the connection")
        .unwrap_or_default();
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test]
async fn a_connection_that_never_finishes_its_headers_is_closed() {
    let (_app, address) = limited_server().await;
    let mut slow = TcpStream::connect(address).await.unwrap();
    slow.write_all(b"GET /feed.atom HTTP/1.1\r\nHost: planet\r\nX-Slow: ").await.unwrap();
    let answer = read_to_close(&mut slow).await;
    assert!(!answer.contains("200 OK"), "{answer}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_its_response() {
    let (_app, address) = limited_server().await;
    let mut idle = TcpStream::connect(address).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: planet\r\n\r\n").await.unwrap();
    let answer = read_to_close(&mut idle).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "served first, then closed when idle: {answer}");
}

#[tokio::test]
async fn connections_past_the_cap_are_shed_with_a_503_at_once() {
    let (_app, address) = limited_server().await;
    let mut holders = Vec::new();
    for _ in 0..TEST_MAX_CONNECTIONS {
        let mut holder = TcpStream::connect(address).await.unwrap();
        holder.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        holders.push(holder);
    }
    // The accept loop takes connections in order: once a request on a fresh connection is
    // answered, the holders have their slots.
    let mut shed = Vec::new();
    for _ in 0..3 {
        let mut extra = TcpStream::connect(address).await.unwrap();
        let _ = extra.write_all(b"GET /healthz HTTP/1.1\r\nHost: planet\r\n\r\n").await;
        shed.push(read_to_close(&mut extra).await);
    }
    assert!(shed.iter().all(|answer| answer.starts_with("HTTP/1.1 503")), "{shed:?}");
    assert!(shed[0].contains("Retry-After: 1"), "{}", shed[0]);
    for holder in &mut holders {
        read_to_close(holder).await;
    }
}
