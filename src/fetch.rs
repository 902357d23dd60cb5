//! HTTP GET of one feed (the only module that imports reqwest): conditional requests, a body
//! cap counted on decompressed bytes, connect/read/total timeouts, redirects followed by hand
//! so a permanent move can be told from a temporary one, 410 and Retry-After. The body is
//! returned as bytes: decoding is `decode`'s job (never reqwest's `.text()`).

use std::collections::HashSet;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::StatusCode;
use url::Url;

use crate::config::FetchConfig;

const ACCEPT: &str = "application/atom+xml, application/rss+xml, application/feed+json, application/rdf+xml;q=0.9, \
                      application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5";

/// A configured HTTP client; cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    max_body_bytes: u64,
    max_redirects: usize,
    timeout: Duration,
}

impl Client {
    pub fn new(config: &FetchConfig) -> anyhow::Result<Client> {
        let http = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            .pool_max_idle_per_host(config.per_host_concurrency)
            .build()?;
        Ok(Client {
            http,
            max_body_bytes: config.max_body_bytes,
            max_redirects: config.max_redirects,
            timeout: config.timeout,
        })
    }
}

/// Validators from the previous successful fetch.
#[derive(Debug, Default, Clone)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// The expected outcomes of a fetch; failures are `FetchError`.
#[derive(Debug)]
pub enum Fetched {
    Body(Body),
    NotModified {
        final_url: Url,
        moved_to: Option<Url>,
    },
    /// 410: the feed is gone for good.
    Gone {
        moved_to: Option<Url>,
    },
    /// 429 or 503: come back later, after `retry_after` if the server said.
    RetryLater {
        status: u16,
        retry_after: Option<Duration>,
        moved_to: Option<Url>,
    },
}

#[derive(Debug)]
pub struct Body {
    pub bytes: Vec<u8>,
    /// The URL the body came from, after all redirects: the document's base URL.
    pub final_url: Url,
    /// Where a chain of permanent redirects (301/308) led, if the feed has moved.
    pub moved_to: Option<Url>,
    pub content_type: Option<String>,
    pub content_location: Option<String>,
    pub validators: Validators,
    pub status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("the body is larger than the limit of {0} bytes")]
    TooLarge(u64),
    #[error("HTTP {status} {reason}")]
    Status { status: u16, reason: String },
    #[error("redirect loop at {0}")]
    RedirectLoop(String),
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),
    #[error("redirect without a valid Location header")]
    BadRedirect,
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("{0}")]
    Other(String),
}

/// Fetches `url`, sending `validators` for a conditional request. The whole exchange, body
/// included, is bounded by the total timeout.
pub async fn get(client: &Client, url: &Url, validators: &Validators) -> Result<Fetched, FetchError> {
    match tokio::time::timeout(client.timeout, get_without_deadline(client, url, validators)).await {
        Ok(result) => result,
        Err(_) => Err(FetchError::Timeout(client.timeout)),
    }
}

async fn get_without_deadline(client: &Client, url: &Url, validators: &Validators) -> Result<Fetched, FetchError> {
    let mut current = url.clone();
    let mut visited = HashSet::from([current.to_string()]);
    let mut moved_to: Option<Url> = None;
    let mut only_permanent_so_far = true;
    for _ in 0..=client.max_redirects {
        let response = send(client, &current, validators).await?;
        let status = response.status();
        if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
            let location = response.headers().get(header::LOCATION).and_then(|v| v.to_str().ok());
            let next = location.and_then(|l| current.join(l.trim()).ok()).ok_or(FetchError::BadRedirect)?;
            if !visited.insert(next.to_string()) {
                return Err(FetchError::RedirectLoop(next.to_string()));
            }
            let permanent = status == StatusCode::MOVED_PERMANENTLY || status == StatusCode::PERMANENT_REDIRECT;
            only_permanent_so_far &= permanent;
            if only_permanent_so_far {
                moved_to = Some(next.clone());
            }
            current = next;
            continue;
        }
        return outcome(client, response, current, moved_to).await;
    }
    Err(FetchError::TooManyRedirects(client.max_redirects))
}

async fn send(client: &Client, url: &Url, validators: &Validators) -> Result<reqwest::Response, FetchError> {
    let mut headers = HeaderMap::new();
    headers.insert(header::ACCEPT, HeaderValue::from_static(ACCEPT));
    if let Some(etag) = validators.etag.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.insert(header::IF_NONE_MATCH, etag);
    }
    if let Some(modified) = validators.last_modified.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.insert(header::IF_MODIFIED_SINCE, modified);
    }
    client.http.get(url.clone()).headers(headers).send().await.map_err(request_error)
}

fn request_error(error: reqwest::Error) -> FetchError {
    if error.is_timeout() {
        return FetchError::Other(format!("timed out: {}", error_chain(&error)));
    }
    if error.is_connect() {
        return FetchError::Connect(error_chain(&error));
    }
    FetchError::Other(error_chain(&error))
}

/// reqwest's top-level message is vague ("error sending request"); the causes say why.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

async fn outcome(
    client: &Client,
    response: reqwest::Response,
    final_url: Url,
    moved_to: Option<Url>,
) -> Result<Fetched, FetchError> {
    let status = response.status();
    let headers = response.headers().clone();
    let text_header = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    match status.as_u16() {
        304 => Ok(Fetched::NotModified { final_url, moved_to }),
        410 => Ok(Fetched::Gone { moved_to }),
        429 | 503 => Ok(Fetched::RetryLater {
            status: status.as_u16(),
            retry_after: text_header(header::RETRY_AFTER).and_then(|v| retry_after(&v)),
            moved_to,
        }),
        200..=299 => {
            let bytes = read_capped(response, client.max_body_bytes).await?;
            Ok(Fetched::Body(Body {
                bytes,
                final_url,
                moved_to,
                content_type: text_header(header::CONTENT_TYPE),
                content_location: text_header(header::CONTENT_LOCATION),
                validators: Validators {
                    etag: text_header(header::ETAG),
                    last_modified: text_header(header::LAST_MODIFIED),
                },
                status: status.as_u16(),
            }))
        }
        _ => Err(FetchError::Status {
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("").to_string(),
        }),
    }
}

/// Reads the body, counting decompressed bytes: a gzip bomb or an endless body stops at the cap.
async fn read_capped(response: reqwest::Response, cap: u64) -> Result<Vec<u8>, FetchError> {
    let mut bytes = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|error| FetchError::Other(format!("failed to read the body: {}", error_chain(&error))))?;
        if bytes.len() as u64 + chunk.len() as u64 > cap {
            return Err(FetchError::TooLarge(cap));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// `Retry-After` as seconds or as an HTTP date.
fn retry_after(value: &str) -> Option<Duration> {
    if let Ok(seconds) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value.trim()).ok()?;
    let wait = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    wait.to_std().ok()
}
