//! The HTTP server (the only module that imports axum): one resource group per file, merged
//! here, with the layers every response gets: compression, security headers, request metrics.
//! `router` can be driven without a socket; `serve` runs it on a listener until shutdown.

mod api;
mod cache;
use cache::Class as CacheClass;
mod client_slots;
mod digest;
mod encoding;
mod error;
mod feeds;
pub mod listen;
mod ops;
mod pages;
mod params;
mod rate_limit;
mod river;
mod search;
mod subscribe;
mod websub;

use std::future::Future;
use std::sync::{Arc, OnceLock};

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use chrono::{DateTime, Utc};
use tokio::net::TcpListener;
use tower_http::compression::predicate::{DefaultPredicate, Predicate};
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;

pub use error::Error;

use crate::config::{Member, MemberId};
use crate::model::Post;
use crate::service::Service;
use crate::store::Position;

/// What handlers share: the service, the cache of rendered bodies and the subscription
/// form's rate limiter.
#[derive(Clone)]
pub struct AppState {
    pub service: Arc<Service>,
    cache: Arc<cache::RenderCache>,
    subscribe_limiter: Arc<subscribe::RateLimiter>,
    search_limiter: Arc<rate_limit::WindowLimiter>,
    /// One gate per key being rendered now: requests for a body that is being rendered wait
    /// for that render (or take the previous body) instead of rendering it again each.
    rendering: Arc<std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    /// The home page's member list and the service version it was read at (`pages`).
    sidebar: Arc<pages::Sidebar>,
}

/// Cached bodies at most.
const MAX_CACHED: usize = 2000;
/// Bytes of cached bodies at most (with room for their compressed variants).
const MAX_CACHED_BYTES: usize = 8 << 20;

/// A rendered body with what conditional requests need, and its compressed variants,
/// each built on the first request that accepts it.
pub struct Rendered {
    body: axum::body::Bytes,
    etag: String,
    last_modified: Option<DateTime<Utc>>,
    /// `last_modified` as an HTTP date, formatted once rather than per request.
    last_modified_header: Option<String>,
    content_type: &'static str,
    gzip: OnceLock<Option<axum::body::Bytes>>,
    brotli: OnceLock<Option<axum::body::Bytes>>,
    /// Set from the cache class it is kept in (`render_once`).
    effort: encoding::Effort,
}

impl Rendered {
    /// A body whose ETag is the hash of its bytes.
    pub fn new(body: String, content_type: &'static str, last_modified: Option<DateTime<Utc>>) -> Rendered {
        let etag = etag_of(body.as_bytes());
        Rendered::with_etag(body, etag, content_type, last_modified)
    }

    /// A body whose ETag covers less than its bytes (OPML's creation date changes every render).
    pub fn with_etag(
        body: String,
        etag: String,
        content_type: &'static str,
        last_modified: Option<DateTime<Utc>>,
    ) -> Rendered {
        Rendered {
            body: body.into(),
            etag,
            last_modified,
            last_modified_header: last_modified.map(http_date),
            content_type,
            gzip: OnceLock::new(),
            brotli: OnceLock::new(),
            effort: encoding::Effort::Thorough,
        }
    }

    /// What keeping it costs: the body, room for its compressed variants (for text, both
    /// together are well under half of it), and the fixed parts.
    fn cost(&self) -> usize {
        self.body.len() + self.body.len() / 2 + 256
    }

    /// Whether the body in `encoding` is ready (or needs no work).
    fn has_variant(&self, encoding: encoding::Encoding) -> bool {
        match encoding {
            encoding::Encoding::Identity => true,
            encoding::Encoding::Gzip => self.gzip.get().is_some(),
            encoding::Encoding::Brotli => self.brotli.get().is_some(),
        }
    }

    /// The body in `encoding`, or the identity body (and `Identity`) when compressing it
    /// would not make it smaller.
    fn encoded(&self, encoding: encoding::Encoding, metrics: &crate::metrics::Metrics) -> (encoding::Encoding, Bytes) {
        let slot = match encoding {
            encoding::Encoding::Identity => return (encoding, self.body.clone()),
            encoding::Encoding::Gzip => &self.gzip,
            encoding::Encoding::Brotli => &self.brotli,
        };
        let compressed = slot.get_or_init(|| {
            metrics.record_compression(encoding.name());
            encoding::compress(encoding, &self.body, self.effort)
        });
        match compressed {
            Some(bytes) => (encoding, bytes.clone()),
            None => (encoding::Encoding::Identity, self.body.clone()),
        }
    }
}

impl AppState {
    pub fn new(service: Arc<Service>) -> AppState {
        AppState {
            service,
            cache: Arc::new(cache::RenderCache::new(MAX_CACHED, MAX_CACHED_BYTES)),
            subscribe_limiter: Arc::default(),
            search_limiter: Arc::new(search::search_limiter()),
            rendering: Arc::default(),
            sidebar: Arc::default(),
        }
    }

    /// The cached body for `key`, rendered again (off the async workers, see `off_thread`)
    /// only when the store or the config changed. A hit never waits for a permit. While one
    /// request renders a key, the others for it get the previous body if there is one (a
    /// feed a moment old), or wait for that render; and when no permit is free, the previous
    /// body is served rather than a 503. So a pass that changes `/feed.atom` under load
    /// costs one render, not one per waiting reader.
    async fn cached(
        &self,
        key: &str,
        class: cache::Class,
        render: impl FnOnce() -> Result<Rendered, Error> + Send + 'static,
    ) -> Result<Arc<Rendered>, Error> {
        let version = self.service.version();
        if let Some(rendered) = self.cache.get(key, version) {
            return Ok(rendered);
        }
        let gate = {
            let mut gates = self.rendering.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(gates.entry(key.to_string()).or_default())
        };
        let _turn = match gate.try_lock() {
            Ok(turn) => turn,
            Err(_) => match self.cache.get_any_version(key) {
                Some(previous) => return Ok(previous),
                None => gate.lock().await,
            },
        };
        let result = self.render_once(key, class, render).await;
        let mut gates = self.rendering.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if Arc::strong_count(&gate) <= 2 {
            gates.remove(key);
        }
        result
    }

    /// Renders `key` unless a render that finished while this request waited already did.
    async fn render_once(
        &self,
        key: &str,
        class: cache::Class,
        render: impl FnOnce() -> Result<Rendered, Error> + Send + 'static,
    ) -> Result<Arc<Rendered>, Error> {
        let version = self.service.version();
        if let Some(rendered) = self.cache.get(key, version) {
            return Ok(rendered);
        }
        match off_thread(self, render).await {
            Ok(mut rendered) => {
                rendered.effort = match class {
                    CacheClass::Shared => encoding::Effort::Thorough,
                    CacheClass::Query => encoding::Effort::Quick,
                };
                let rendered = Arc::new(rendered);
                self.service.metrics.record_render(key.split(':').next().unwrap_or(key));
                self.cache.insert(key, class, version, Arc::clone(&rendered));
                Ok(rendered)
            }
            Err(Error::Busy(message)) => self.cache.get_any_version(key).ok_or(Error::Busy(message)),
            Err(error) => Err(error),
        }
    }
}

/// Runs `work`, which reads the store or the index, on a blocking thread while holding one
/// of the service's read permits. With none free the answer is 503 at once: a request that
/// would queue behind slow ones is refused, and the async workers that serve cached bodies
/// never run store reads themselves.
pub async fn off_thread<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    let Some(permit) = state.service.reads.try_take() else {
        state.service.metrics.record_refused_read();
        return Err(Error::Busy("planet is busy with other reads; retry in a moment".into()));
    };
    let joined = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        work()
    })
    .await;
    joined.map_err(|error| Error::Internal(anyhow::anyhow!("a read failed: {error}")))?
}

pub fn router(service: Arc<Service>) -> Router {
    let state = AppState::new(service);
    Router::new()
        .merge(feeds::router())
        .merge(api::router())
        .merge(pages::router())
        .merge(ops::router())
        .merge(digest::router())
        .merge(subscribe::router())
        .merge(search::router())
        .merge(websub::router())
        .layer(middleware::from_fn_with_state(state.clone(), count_requests))
        .layer(CompressionLayer::new().gzip(true).br(true).compress_when(
            // A cached body was negotiated already (`conditional`): when it went out as it is,
            // compressing would not have helped, and must not be tried on every request.
            DefaultPredicate::new().and(|_, _, _: &HeaderMap, extensions: &axum::http::Extensions| {
                extensions.get::<encoding::Negotiated>().is_none()
            }),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; img-src http: https: data:; style-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
            ),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .with_state(state)
}

/// Serves until `shutdown` resolves, then finishes in-flight requests (`listen` has the
/// connection limits and timeouts).
pub async fn serve(
    service: Arc<Service>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    listen::serve(listener, router(service), shutdown).await
}

async fn count_requests(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route =
        request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    // Monitoring polls do not keep the server from settling (`service::settle`): they are
    // small, and a poll every second would otherwise put off every trim.
    let active = (!matches!(route.as_str(), "/metrics" | "/healthz")).then(|| state.service.activity.begin());
    let response = next.run(request).await;
    drop(active);
    state.service.metrics.record_request(&route, response.status().as_u16());
    response
}

/// Answers with `rendered` in the best encoding the request accepts, or 304 when the
/// request's validators match. The ETag is weak, so one validator covers every encoding.
/// For a body too small to be worth a blocking thread; cached bodies go through
/// `encoding::respond`.
pub fn conditional(
    state: &AppState,
    rendered: &Rendered,
    request_headers: &HeaderMap,
    cache_control: &'static str,
) -> Response {
    conditional_in(state, rendered, request_headers, cache_control, encoding::negotiate(request_headers))
}

/// Whether the request's validators match `rendered` (the answer is 304).
fn not_modified(rendered: &Rendered, request_headers: &HeaderMap) -> bool {
    match request_headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        Some(tags) => tags.split(',').any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/") == rendered.etag.trim_start_matches("W/")
        }),
        None => {
            match (request_headers.get(header::IF_MODIFIED_SINCE).and_then(|v| v.to_str().ok()), rendered.last_modified)
            {
                (Some(since), Some(modified)) => {
                    DateTime::parse_from_rfc2822(since).is_ok_and(|since| modified.timestamp() <= since.timestamp())
                }
                _ => false,
            }
        }
    }
}

/// `conditional` in the encoding already chosen.
fn conditional_in(
    state: &AppState,
    rendered: &Rendered,
    request_headers: &HeaderMap,
    cache_control: &'static str,
    encoding: encoding::Encoding,
) -> Response {
    let mut builder = Response::builder()
        .header(header::ETAG, &rendered.etag)
        .header(header::CACHE_CONTROL, cache_control)
        .header(header::VARY, "Accept-Encoding");
    if let Some(modified) = &rendered.last_modified_header {
        builder = builder.header(header::LAST_MODIFIED, modified);
    }
    let response = if not_modified(rendered, request_headers) {
        builder.status(StatusCode::NOT_MODIFIED).body(Body::empty())
    } else {
        let (encoding, body) = rendered.encoded(encoding, &state.service.metrics);
        if let Some(value) = encoding.header_value() {
            builder = builder.header(header::CONTENT_ENCODING, value);
        }
        builder
            .header(header::CONTENT_TYPE, rendered.content_type)
            .extension(encoding::Negotiated)
            .body(Body::from(body))
    };
    response.unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

pub fn http_date(time: DateTime<Utc>) -> String {
    time.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// A weak ETag from the body's hash.
pub fn etag_of(body: &[u8]) -> String {
    format!("W/\"{}\"", &crate::hashing::digest(&[&String::from_utf8_lossy(body)])[..20])
}

/// What a scan does with a post.
pub enum Verdict {
    Keep,
    Skip,
    /// Every later post is older and would be skipped too: end the scan.
    Stop,
}

impl From<bool> for Verdict {
    fn from(keep: bool) -> Verdict {
        if keep {
            Verdict::Keep
        } else {
            Verdict::Skip
        }
    }
}

/// Posts one listing steps over at most (copies, hidden posts, posts a judge skips) before it
/// ends its page early: a member with two thousand copies must not make every page read
/// two thousand posts. The page then says where to go on from (`Listing::resume`).
pub const MAX_STEPPED_OVER: usize = 1_000;

/// A page of a listing, and where the next page starts when this one ended early.
pub struct Listing {
    pub posts: Vec<Post>,
    /// The last post stepped over when the page ended at `MAX_STEPPED_OVER`.
    pub resume: Option<Position>,
}

/// Newest-first posts of configured members (a member removed from feeds.toml disappears
/// from every output), optionally of one member, judged by `judge`, after a position.
pub fn visible_posts<V: Into<Verdict>>(
    state: &AppState,
    member: Option<&MemberId>,
    after: Option<&Position>,
    limit: usize,
    judge: impl Fn(&Post) -> V,
) -> Result<Listing, Error> {
    let config = state.service.config();
    let store = &state.service.store;
    let hidden_members_stored = member.is_none() && state.service.stores_unshown_members();
    let iterator: Box<dyn Iterator<Item = anyhow::Result<Post>>> = match member {
        Some(member) => Box::new(store.member_posts_newest_first(member, after)),
        // The timeline would have to step over every post of a member removed from feeds.toml
        // (however many); the index skips them with its term filter instead.
        None if hidden_members_stored && state.service.search.is_ready() => {
            let before = after.map(|p| (p.published.timestamp_millis(), p.id.clone()));
            let find = search::Find {
                text: Default::default(),
                member: None,
                tag: None,
                since: None,
                until: None,
                ranking: crate::search::Ranking::Newest { before },
                limit,
            };
            let found = search::find(&state.service, find, Utc::now())?;
            Box::new(found.into_iter().map(|f| Ok(f.post)))
        }
        None => Box::new(store.posts_newest_first(after)),
    };
    let mut posts = Vec::with_capacity(limit.min(256));
    let mut stepped_over = 0;
    for post in iterator {
        let post = post?;
        // A copy of an article (`duplicate_of`) is listed through its canonical post.
        let listed =
            config.shows_member(post.member.as_str()) && !store.is_hidden(&post.id) && post.duplicate_of.is_none();
        let verdict = if listed { judge(&post).into() } else { Verdict::Skip };
        match verdict {
            Verdict::Keep => posts.push(post),
            Verdict::Stop => break,
            Verdict::Skip => {
                stepped_over += 1;
                if stepped_over >= MAX_STEPPED_OVER {
                    let resume = Some(Position { published: post.published, id: post.id });
                    return Ok(Listing { posts, resume });
                }
                continue;
            }
        }
        if posts.len() >= limit {
            break;
        }
    }
    Ok(Listing { posts, resume: None })
}

/// JSON whose `<`, `>` and `&` are `\u` escapes (inert if inlined into HTML).
pub fn json_body<T: serde::Serialize>(value: &T) -> Result<String, Error> {
    Ok(crate::render::escape_json_for_html(&serde_json::to_string(value).map_err(anyhow::Error::from)?))
}

/// A JSON response made with `json_body`.
pub fn json_response<T: serde::Serialize>(value: &T, cache_control: &'static str) -> Result<Response, Error> {
    let body = json_body(value)?;
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, cache_control)
        .body(Body::from(body))
        .map_err(|e| Error::Internal(e.into()))
}

/// The configured member with this id, as a 404 otherwise.
pub fn configured_member(state: &AppState, id: &str, page: bool) -> Result<Member, Error> {
    let config = state.service.config();
    let missing = || {
        if page {
            Error::PageNotFound(format!("no member '{id}'"))
        } else {
            Error::NotFound(format!("no member '{id}'"))
        }
    };
    let id = MemberId::parse(id).map_err(|_| missing())?;
    config.members.get(id.as_str()).cloned().ok_or_else(missing)
}
