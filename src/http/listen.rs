//! The accept loop under the router: what a public server needs that `axum::serve` does not
//! offer. A client gets `HEADER_READ_TIMEOUT` to send a request's headers, counted from the
//! connection's start and from the end of the previous response, so it is also the idle
//! keep-alive timeout; connections past `MAX_CONNECTIONS` are shed at once with a 503
//! instead of queueing; at shutdown, accepting stops and open connections finish their
//! requests.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

/// Time to send a request's headers, from the connection's start or the previous response.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(15);
/// Open connections at most; `deploy/planet.service` allows 8,192 descriptors.
pub const MAX_CONNECTIONS: usize = 4096;
/// An HTTP/2 connection is pinged this often and closed when a ping is not answered in time.
const HTTP2_KEEP_ALIVE: Duration = Duration::from_secs(30);

/// What a shed connection is told before it is closed.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 22\r\n\r\nplanet is busy: retry\n";

/// Serves `router` on `listener` until `shutdown` resolves, then lets open connections
/// finish their requests.
pub async fn serve(listener: TcpListener, router: Router, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    serve_with_limits(listener, router, shutdown, MAX_CONNECTIONS, HEADER_READ_TIMEOUT).await
}

/// `serve` with the limits given (tests use small ones).
pub async fn serve_with_limits(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()>,
    max_connections: usize,
    header_read_timeout: Duration,
) -> anyhow::Result<()> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(header_read_timeout);
    builder.http2().timer(TokioTimer::new()).keep_alive_interval(HTTP2_KEEP_ALIVE).keep_alive_timeout(HTTP2_KEEP_ALIVE);
    let builder = Arc::new(builder);
    let slots = Arc::new(Semaphore::new(max_connections));
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
        if let Err(error) = stream.set_nodelay(true) {
            // A response is written whole; Nagle could only hold its last segment.
            tracing::debug!("could not set TCP_NODELAY on a connection: {error}");
        }
        let service =
            TowerToHyperService::new(router.clone().map_request(move |mut request: Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request.map(axum::body::Body::new)
            }));
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%peer, "connection ended: {error}");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
