//! HTTP GET of one feed (the only module that imports reqwest): conditional requests, a body
//! cap counted on decompressed bytes, connect/read/total timeouts, redirects followed by hand
//! so a permanent move can be told from a temporary one, 410 and Retry-After. The body is
//! returned as bytes: decoding is `decode`'s job (never reqwest's `.text()`). Every hop goes
//! through the SSRF guard (`guard`): only public addresses unless the operator allows more.
//! An error's `Display` names the class of failure (it is shown publicly, on member pages
//! and in the API); `detail` has the whole chain, for logs and `planet check`.

mod guard;
mod post;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::StatusCode;
use url::Url;

use crate::config::FetchConfig;

pub use guard::{non_public_class, AddressPolicy, Refused};
pub use post::{post_form, post_json, Answered};

const ACCEPT: &str = "application/atom+xml, application/rss+xml, application/feed+json, application/rdf+xml;q=0.9, \
                      application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5";

/// A configured HTTP client; cheap to clone. It holds two connection pools: one whose
/// resolver refuses non-public addresses, and one for members allowed private addresses.
#[derive(Clone)]
pub struct Client {
    guarded: reqwest::Client,
    open: reqwest::Client,
    policy: AddressPolicy,
    max_body_bytes: u64,
    max_redirects: usize,
    timeout: Duration,
}

impl Client {
    pub fn new(config: &FetchConfig) -> anyhow::Result<Client> {
        let policy =
            AddressPolicy { allow_private: config.allow_private, exceptions: Arc::new(config.allow_addresses.clone()) };
        let builder = || {
            reqwest::Client::builder()
                .user_agent(config.user_agent.clone())
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(config.connect_timeout)
                .read_timeout(config.read_timeout)
                .pool_max_idle_per_host(config.per_host_concurrency)
                // A proxy would connect on our behalf, past the guard's resolver.
                .no_proxy()
        };
        let resolver = guard::GuardedResolver { policy: AddressPolicy { allow_private: false, ..policy.clone() } };
        Ok(Client {
            guarded: builder().dns_resolver(Arc::new(resolver)).build()?,
            open: builder().build()?,
            policy,
            max_body_bytes: config.max_body_bytes,
            max_redirects: config.max_redirects,
            timeout: config.timeout,
        })
    }

    /// The policy for one member's feeds: the planet's, or every address when the member
    /// is allowed private ones.
    fn policy_for(&self, member_allows_private: bool) -> AddressPolicy {
        AddressPolicy { allow_private: self.policy.allow_private || member_allows_private, ..self.policy.clone() }
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
    /// The `Link` headers, joined (WebSub discovery: `rel="hub"` and `rel="self"`).
    pub link: Option<String>,
    pub validators: Validators,
    pub status: u16,
}

/// Why a fetch failed. `Display` says the class only (it is shown publicly): never a
/// response body, a redirect target or a lower layer's message, which could reveal what
/// answers at an address. `detail` says everything, for the admin's log and `planet check`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("the body is larger than the limit of {0} bytes")]
    TooLarge(u64),
    #[error("HTTP {status} {reason}")]
    Status { status: u16, reason: String },
    #[error("redirect loop")]
    RedirectLoop(String),
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),
    #[error("redirect without a valid Location header")]
    BadRedirect,
    #[error("refused: the feed (or a redirect) leads to a {} address, which planet does not fetch from", .0.class)]
    Refused(Refused),
    #[error("cannot connect: {class}")]
    Connect { class: &'static str, detail: String },
    #[error("{class}")]
    Other { class: &'static str, detail: String },
}

impl FetchError {
    /// The whole story: the redirect target, the refused address, the lower layers' chain.
    pub fn detail(&self) -> String {
        match self {
            FetchError::RedirectLoop(url) => format!("redirect loop at {url}"),
            FetchError::Refused(refused) => format!("refused: {refused}"),
            FetchError::Connect { detail, .. } => format!("cannot connect: {detail}"),
            FetchError::Other { detail, .. } => detail.clone(),
            other => other.to_string(),
        }
    }
}

/// Fetches `url`, sending `validators` for a conditional request. The whole exchange, body
/// included, is bounded by the total timeout. `allow_private` is the member's own setting.
pub async fn get(
    client: &Client,
    url: &Url,
    validators: &Validators,
    allow_private: bool,
) -> Result<Fetched, FetchError> {
    let policy = client.policy_for(allow_private);
    match tokio::time::timeout(client.timeout, get_without_deadline(client, &policy, url, validators)).await {
        Ok(result) => result,
        Err(_) => Err(FetchError::Timeout(client.timeout)),
    }
}

async fn get_without_deadline(
    client: &Client,
    policy: &AddressPolicy,
    url: &Url,
    validators: &Validators,
) -> Result<Fetched, FetchError> {
    let http = if policy.allow_private { &client.open } else { &client.guarded };
    let mut current = url.clone();
    let mut visited = HashSet::from([current.to_string()]);
    let mut moved_to: Option<Url> = None;
    let mut only_permanent_so_far = true;
    for _ in 0..=client.max_redirects {
        if !matches!(current.scheme(), "http" | "https") {
            return Err(FetchError::BadRedirect);
        }
        policy.check_literal(&current).map_err(FetchError::Refused)?;
        let response = send(http, &current, validators).await?;
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

async fn send(http: &reqwest::Client, url: &Url, validators: &Validators) -> Result<reqwest::Response, FetchError> {
    let mut headers = HeaderMap::new();
    headers.insert(header::ACCEPT, HeaderValue::from_static(ACCEPT));
    if let Some(etag) = validators.etag.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.insert(header::IF_NONE_MATCH, etag);
    }
    if let Some(modified) = validators.last_modified.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.insert(header::IF_MODIFIED_SINCE, modified);
    }
    http.get(url.clone()).headers(headers).send().await.map_err(request_error)
}

fn request_error(error: reqwest::Error) -> FetchError {
    let detail = error_chain(&error);
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<Refused>() {
            return FetchError::Refused(refused.clone());
        }
        source = cause.source();
    }
    if error.is_timeout() {
        return FetchError::Other { class: "timed out", detail };
    }
    if error.is_connect() {
        let lowered = detail.to_ascii_lowercase();
        let class = if lowered.contains("dns error") || lowered.contains("failed to lookup") {
            "the host name does not resolve"
        } else if lowered.contains("connection refused") {
            "connection refused"
        } else if lowered.contains("certificate") || lowered.contains("tls") {
            "TLS failed"
        } else {
            "the connection failed"
        };
        return FetchError::Connect { class, detail };
    }
    FetchError::Other { class: "the server did not answer with a usable HTTP response", detail }
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
                link: Some(
                    headers.get_all(header::LINK).iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(", "),
                )
                .filter(|links| !links.is_empty()),
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
        let chunk = chunk.map_err(|error| FetchError::Other {
            class: "the body could not be read to its end",
            detail: format!("failed to read the body: {}", error_chain(&error)),
        })?;
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
