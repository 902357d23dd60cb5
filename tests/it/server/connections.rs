//! Hostile connections: a client that never finishes its headers, one that idles after a
//! response, one that speaks HTTP/2 without TLS, more connections than the server takes, and
//! one client holding more than its share. Run on the real router under the real accept loop,
//! with small limits so the tests are quick (the server's own are `listen::Limits::default()`).

use std::time::Duration;

use planet::http::listen;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::app::{member, spawn_app};
use crate::helpers::rss;

const TEST_HEADER_TIMEOUT: Duration = Duration::from_millis(300);
const TEST_MAX_CONNECTIONS: usize = 4;
const TEST_MAX_PER_CLIENT: usize = 2;
/// How long a test waits for the server before it calls the server stuck.
const GUARD: Duration = Duration::from_secs(10);

/// The app's router under an accept loop with the test limits; its address.
async fn limited_server() -> (super::app::TestApp, std::net::SocketAddr) {
    server_with(listen::Limits {
        max_connections: TEST_MAX_CONNECTIONS,
        max_per_client: TEST_MAX_CONNECTIONS,
        header_read_timeout: TEST_HEADER_TIMEOUT,
    })
    .await
}

/// The app's router under an accept loop with `limits`; its address.
async fn server_with(limits: listen::Limits) -> (super::app::TestApp, std::net::SocketAddr) {
    let app = spawn_app(vec![member("alice", "Alice", rss("alice", 1))], None).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = planet::http::router(std::sync::Arc::clone(&app.service));
    tokio::spawn(listen::serve_with_limits(listener, router, std::future::pending(), limits));
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

/// The HTTP/2 connection preface and an empty SETTINGS frame, as `curl --http2-prior-knowledge`
/// opens with.
const H2_PREFACE_AND_SETTINGS: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

#[tokio::test]
async fn http2_without_tls_is_refused_and_its_connection_closed_at_once() {
    // Long header timeout: the close must come from the refusal, not from idling.
    let (_app, address) = server_with(listen::Limits {
        max_connections: TEST_MAX_CONNECTIONS,
        max_per_client: TEST_MAX_CONNECTIONS,
        header_read_timeout: GUARD * 2,
    })
    .await;
    let mut h2 = TcpStream::connect(address).await.unwrap();
    h2.write_all(H2_PREFACE_AND_SETTINGS).await.unwrap();
    let answer = read_to_close(&mut h2).await;
    assert!(answer.starts_with("HTTP/1.1 505"), "{answer}");
}

#[tokio::test]
async fn idle_http2_connections_cannot_hold_every_slot() {
    let (_app, address) = server_with(listen::Limits {
        max_connections: TEST_MAX_CONNECTIONS,
        max_per_client: TEST_MAX_CONNECTIONS,
        header_read_timeout: GUARD * 2,
    })
    .await;
    // As many idle HTTP/2 clients as there are slots: each is refused, so each slot returns.
    for _ in 0..TEST_MAX_CONNECTIONS * 2 {
        let mut h2 = TcpStream::connect(address).await.unwrap();
        h2.write_all(H2_PREFACE_AND_SETTINGS).await.unwrap();
        read_to_close(&mut h2).await;
    }
    let mut reader = TcpStream::connect(address).await.unwrap();
    reader.write_all(b"GET /healthz HTTP/1.1\r\nHost: planet\r\nConnection: close\r\n\r\n").await.unwrap();
    let answer = read_to_close(&mut reader).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// A request a proxy on loopback forwards for `client`, on a connection kept alive after it.
fn proxied_request(client: &str) -> String {
    format!("GET /healthz HTTP/1.1\r\nHost: planet\r\nX-Real-IP: {client}\r\n\r\n")
}

/// Reads one whole response head off a kept-alive connection.
async fn read_head(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut byte = [0u8; 1];
    while !received.ends_with(b"\r\n\r\n") {
        let read = tokio::time::timeout(GUARD, stream.read(&mut byte)).await.expect("an answer").unwrap();
        if read == 0 {
            break;
        }
        received.push(byte[0]);
    }
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test]
async fn one_client_at_its_connection_share_gets_503_while_others_are_served() {
    let (_app, address) = server_with(listen::Limits {
        max_connections: 8,
        max_per_client: TEST_MAX_PER_CLIENT,
        header_read_timeout: GUARD * 2,
    })
    .await;
    let mut holders = Vec::new();
    for _ in 0..TEST_MAX_PER_CLIENT {
        let mut holder = TcpStream::connect(address).await.unwrap();
        holder.write_all(proxied_request("203.0.113.7").as_bytes()).await.unwrap();
        assert!(read_head(&mut holder).await.starts_with("HTTP/1.1 200"));
        holders.push(holder);
    }
    let mut over = TcpStream::connect(address).await.unwrap();
    over.write_all(proxied_request("203.0.113.7").as_bytes()).await.unwrap();
    let refused = read_to_close(&mut over).await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    // Another client is served while the first still holds its share; so is the first, once
    // one of its connections closes.
    let mut other = TcpStream::connect(address).await.unwrap();
    other.write_all(proxied_request("198.51.100.9").as_bytes()).await.unwrap();
    assert!(read_head(&mut other).await.starts_with("HTTP/1.1 200"));
    drop(holders.pop());
    let mut again = TcpStream::connect(address).await.unwrap();
    let mut served = String::new();
    // The server sees the close when it next polls that connection: retry until it has.
    for _ in 0..200 {
        again.write_all(proxied_request("203.0.113.7").as_bytes()).await.unwrap();
        served = read_head(&mut again).await;
        if served.starts_with("HTTP/1.1 200") {
            break;
        }
        again = TcpStream::connect(address).await.unwrap();
        tokio::task::yield_now().await;
    }
    assert!(served.starts_with("HTTP/1.1 200"), "{served}");
}
