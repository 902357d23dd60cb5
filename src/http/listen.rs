//! The accept loop under the router: what a public server needs that `axum::serve` does not
//! offer. A client gets `HEADER_READ_TIMEOUT` to send a request's headers, counted from the
//! connection's start and from the end of the previous response, so it is also the idle
//! keep-alive timeout; connections past `MAX_CONNECTIONS`, or past `MAX_CONNECTIONS_PER_CLIENT`
//! of one client, are shed at once with a 503 instead of queueing; at shutdown, accepting
//! stops and open connections finish their requests. Until a connection's first request head
//! is complete it is read here, into a buffer that grows with what arrived: a client that
//! trickles its headers costs well under a kilobyte, where hyper's connection state costs 16 KB.
//!
//! HTTP/1.1 only. HTTP/2 over cleartext (prior knowledge) is refused with a 505: nothing that
//! reads planet needs it (nginx and other proxies speak HTTP/1.1 to an upstream, readers reach
//! planet through them or over HTTP/1.1), and hyper's HTTP/2 has no idle timeout, so a client
//! that answers pings and opens no stream would hold its slot for ever.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

use super::client_slots::{ClientSlot, ClientSlots};
use super::rate_limit::{client_address, client_key};

/// Time to send a request's headers, from the connection's start or the previous response.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(15);
/// Open connections at most; `deploy/planet.service` allows 8,192 descriptors.
pub const MAX_CONNECTIONS: usize = 4096;
/// Open connections of one client at most: a sixteenth of the slots, far more than readers
/// behind one office NAT hold at once (a reader holds one connection for a few seconds).
pub const MAX_CONNECTIONS_PER_CLIENT: usize = MAX_CONNECTIONS / 16;

/// The accept loop's limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_connections: usize,
    pub max_per_client: usize,
    pub header_read_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: MAX_CONNECTIONS,
            max_per_client: MAX_CONNECTIONS_PER_CLIENT,
            header_read_timeout: HEADER_READ_TIMEOUT,
        }
    }
}

/// What a shed connection is told before it is closed.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 22\r\n\r\nplanet is busy: retry\n";
/// What a client that opens with the HTTP/2 preface is told before it is closed.
const HTTP2_REFUSED: &[u8] = b"HTTP/1.1 505 HTTP Version Not Supported\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 32\r\n\r\nplanet speaks HTTP/1.1, not h2c\n";

/// Serves `router` on `listener` until `shutdown` resolves, then lets open connections
/// finish their requests.
pub async fn serve(listener: TcpListener, router: Router, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    serve_with_limits(listener, router, shutdown, Limits::default()).await
}

/// `serve` with the limits given (tests use small ones).
pub async fn serve_with_limits(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()>,
    limits: Limits,
) -> anyhow::Result<()> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    let builder = Arc::new(builder.http1_only());
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let clients = ClientSlots::new(limits.max_per_client);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors, mostly: wait for connections to close rather than spin.
                    tracing::warn!("accept failed: {error}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            // Shed, not queued: a new connection's send buffer is empty, so this never blocks.
            let _ = stream.try_write(BUSY);
            continue;
        };
        // A direct client is counted at once; a proxy's connection once its first request
        // names the client it carries (below).
        let client_slot = match peer.ip().is_loopback() {
            true => None,
            false => match clients.try_take(client_key(peer.ip())) {
                Some(client_slot) => Some(client_slot),
                None => {
                    let _ = stream.try_write(BUSY);
                    continue;
                }
            },
        };
        if let Err(error) = stream.set_nodelay(true) {
            // A response is written whole; Nagle could only hold its last segment.
            tracing::debug!("could not set TCP_NODELAY on a connection: {error}");
        }
        let service =
            TowerToHyperService::new(router.clone().map_request(move |mut request: Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request.map(axum::body::Body::new)
            }));
        let builder = Arc::clone(&builder);
        let watcher = graceful.watcher();
        let clients = Arc::clone(&clients);
        tokio::spawn(async move {
            let mut stream = stream;
            let head = match tokio::time::timeout(limits.header_read_timeout, first_head(&mut stream)).await {
                Ok(Ok(Some(head))) => head,
                // Closed, failed, or too slow: nothing to answer.
                _ => return,
            };
            if head.starts_with(b"PRI ") {
                let _ = stream.write_all(HTTP2_REFUSED).await;
                return;
            }
            let Some(client_slot) = client_slot.or_else(|| proxied_client_slot(&clients, peer, &head)) else {
                let _ = stream.write_all(BUSY).await;
                return;
            };
            let io = TokioIo::new(Prefixed { prefix: head, offset: 0, inner: stream });
            let connection = builder.serve_connection_with_upgrades(io, service).into_owned();
            if let Err(error) = watcher.watch(connection).await {
                tracing::debug!(%peer, "connection ended: {error}");
            }
            drop((slot, client_slot));
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// A slot for the client a trusted proxy's connection carries, as its first request's
/// `X-Real-IP` or `X-Forwarded-For` names it (the proxy's own address when neither does).
/// A proxy that keeps connections alive across clients has each counted for its first one.
fn proxied_client_slot(clients: &Arc<ClientSlots>, peer: SocketAddr, head: &[u8]) -> Option<ClientSlot> {
    let mut parsed = [httparse::EMPTY_HEADER; 100];
    let mut request = httparse::Request::new(&mut parsed);
    let mut headers = HeaderMap::new();
    if request.parse(head).is_ok() {
        for header in request.headers.iter() {
            let name = HeaderName::from_bytes(header.name.as_bytes());
            if let (Ok(name), Ok(value)) = (name, HeaderValue::from_bytes(header.value)) {
                headers.append(name, value);
            }
        }
    }
    clients.try_take(client_key(client_address(peer, &headers)))
}

/// Bytes read here at most before the connection goes to hyper anyway.
const FIRST_HEAD_LIMIT: usize = 16 * 1024;

/// Reads until the first request's head is complete (or an HTTP/2 preface, or
/// `FIRST_HEAD_LIMIT` bytes) and returns what was read; `None` if the client closed.
async fn first_head(stream: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut head = Vec::new();
    // Only what arrived since the last look is searched (with the three bytes before it), so
    // a client that sends a byte at a time costs linear work, not quadratic.
    let mut searched = 0usize;
    loop {
        let fresh = &head[searched.saturating_sub(3)..];
        let complete = fresh.windows(4).any(|w| w == b"\r\n\r\n") || fresh.windows(2).any(|w| w == b"\n\n");
        searched = head.len();
        if complete || head.starts_with(b"PRI ") || head.len() >= FIRST_HEAD_LIMIT {
            return Ok(Some(head));
        }
        stream.readable().await?;
        let mut chunk = [0u8; 1024];
        match stream.try_read(&mut chunk) {
            Ok(0) => return Ok(None),
            Ok(read) => head.extend_from_slice(&chunk[..read]),
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(error) => return Err(error),
        }
    }
}

/// A stream whose first bytes were read already: they are read again first.
struct Prefixed {
    prefix: Vec<u8>,
    offset: usize,
    inner: TcpStream,
}

impl AsyncRead for Prefixed {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        if self.offset < self.prefix.len() {
            let take = (self.prefix.len() - self.offset).min(buf.remaining());
            let start = self.offset;
            buf.put_slice(&self.prefix[start..start + take]);
            self.offset += take;
            if self.offset == self.prefix.len() {
                self.prefix = Vec::new();
                self.offset = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Prefixed {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buffers: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, buffers)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
