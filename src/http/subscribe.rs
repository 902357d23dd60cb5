//! Subscribing to the digest by email with double opt-in: `POST /subscribe` queues a signed
//! confirmation link; the link (`GET /subscribe/confirm`) opens a page whose button POSTs it
//! back, which confirms the newest request once; `/unsubscribe` (a page with one button, or
//! the RFC 8058 one-click POST from a mail client) unsubscribes. The answer to a
//! subscription never says whether the address was already subscribed, and requests are
//! rate-limited per mailbox and per client, so planet cannot be used to flood an inbox.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::Utc;

use super::rate_limit::{client_address, client_key, mailbox_key, WindowLimiter};
use super::{AppState, Error};
use crate::config::is_email_address;
use crate::digest::tokens::{self, Purpose};
use crate::render;
use crate::store::{Subscriber, SubscriberStatus};
use crate::texts;

/// Subscription requests per mailbox (spellings of one inbox folded) per day.
const PER_MAILBOX_PER_DAY: u32 = 3;
/// Subscription requests per client (IPv4 address or IPv6 /64) per hour.
const PER_CLIENT_PER_HOUR: u32 = 10;
/// Counters each limiter holds at most; past it the oldest are forgotten.
const MAX_COUNTERS: usize = 100_000;

/// The subscription form's two limits, kept in the HTTP state.
pub struct RateLimiter {
    per_client: WindowLimiter,
    per_mailbox: WindowLimiter,
}

impl Default for RateLimiter {
    fn default() -> RateLimiter {
        RateLimiter {
            per_client: WindowLimiter::new(PER_CLIENT_PER_HOUR, Duration::from_secs(3600), MAX_COUNTERS),
            per_mailbox: WindowLimiter::new(PER_MAILBOX_PER_DAY, Duration::from_secs(24 * 3600), MAX_COUNTERS),
        }
    }
}

impl RateLimiter {
    fn allow(&self, client: IpAddr, address: &str) -> bool {
        let now = Instant::now();
        self.per_client.allow(&client_key(client), now) && self.per_mailbox.allow(&mailbox_key(address), now)
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/subscribe", post(subscribe))
        .route("/subscribe/confirm", get(confirm_page).post(confirm))
        .route("/unsubscribe", get(unsubscribe_page).post(unsubscribe))
}

fn page(state: &AppState, status: StatusCode, heading: &str, message: &str) -> Response {
    let body = render::digest::message(&state.service.config().site, heading, message, None);
    (status, [(axum::http::header::CACHE_CONTROL, "no-store")], Html(body)).into_response()
}

/// Stores a confirmation or an unsubscription for an address whose token was verified. A
/// second click on the same confirmation link keeps the first confirmation's time.
fn record_status(state: &AppState, address: &str, status: SubscriberStatus) -> Result<(), Error> {
    let now = Utc::now();
    let store = &state.service.store;
    let mut subscriber = store.subscriber(address)?.unwrap_or_else(|| Subscriber::new(address, status, now));
    let already_confirmed = subscriber.status == SubscriberStatus::Confirmed && subscriber.confirmed_at.is_some();
    match status {
        SubscriberStatus::Confirmed if already_confirmed => return Ok(()),
        SubscriberStatus::Confirmed => {
            subscriber.confirmed_at = Some(now);
            subscriber.unsubscribed_at = None;
        }
        SubscriberStatus::Unsubscribed => subscriber.unsubscribed_at = Some(now),
        SubscriberStatus::Pending => {}
    }
    subscriber.status = status;
    store.put_subscriber(&subscriber)?;
    Ok(())
}

async fn subscribe(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, Error> {
    let t = texts::for_site(&state.service.config().site);
    if !state.service.subscriptions_enabled() {
        return Ok(page(&state, StatusCode::FORBIDDEN, t.subscriptions_closed_heading, t.subscriptions_closed));
    }
    let address = form.get("email").map(|a| a.trim().to_ascii_lowercase()).unwrap_or_default();
    if !is_email_address(&address) {
        let message = match address.is_empty() {
            true => t.address_missing.to_string(),
            false => texts::fill(t.address_invalid, &[("address", &address)]),
        };
        return Ok(page(&state, StatusCode::BAD_REQUEST, t.invalid_address_heading, &message));
    }
    if !state.subscribe_limiter.allow(client_address(peer, &headers), &address) {
        return Ok(page(&state, StatusCode::TOO_MANY_REQUESTS, t.too_many_requests_heading, t.too_many_requests));
    }
    // The same answer, after the same work, whatever the address's state: the lookup, the
    // record and the mail happen off the request (`Service::send_queued_confirmations`).
    state.service.queue_confirmation(&address, Utc::now());
    Ok(page(&state, StatusCode::ACCEPTED, t.check_inbox_heading, t.check_inbox))
}

fn verified(state: &AppState, purpose: Purpose, token: Option<&String>) -> Result<String, Box<Response>> {
    let t = texts::for_site(&state.service.config().site);
    let Some(secret) = state.service.digest_secret() else {
        return Err(Box::new(page(state, StatusCode::FORBIDDEN, t.links_closed_heading, t.links_closed)));
    };
    let token = token.map(String::as_str).unwrap_or("");
    tokens::verify(secret, purpose, token, Utc::now())
        .map_err(|why| Box::new(page(state, StatusCode::BAD_REQUEST, t.invalid_link_heading, why)))
}

/// The link in the confirmation mail: a page with one button. Mail scanners follow links;
/// only a person presses the button.
async fn confirm_page(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Error> {
    if let Err(response) = verified(&state, Purpose::Confirm, query.get("token")) {
        return Ok(*response);
    }
    let token = query.get("token").cloned().unwrap_or_default();
    Ok(form_page(&state, "subscribe/confirm", &token, |t| (t.confirm_heading, t.confirm_question, t.confirm_button)))
}

/// The button: confirms the request the link was mailed for, once. A link from an older
/// request, or used before an unsubscription, confirms nothing.
async fn confirm(State(state): State<AppState>, Form(form): Form<HashMap<String, String>>) -> Result<Response, Error> {
    let t = texts::for_site(&state.service.config().site);
    let Some(secret) = state.service.digest_secret() else {
        return Ok(page(&state, StatusCode::FORBIDDEN, t.links_closed_heading, t.links_closed));
    };
    let token = form.get("token").map(String::as_str).unwrap_or("");
    let (address, expiry) = match tokens::verify_with_expiry(secret, Purpose::Confirm, token, Utc::now()) {
        Ok(verified) => verified,
        Err(why) => return Ok(page(&state, StatusCode::BAD_REQUEST, t.invalid_link_heading, why)),
    };
    let subscriber = state.service.store.subscriber(&address)?;
    match subscriber.map(|s| (s.status, (s.requested_at + tokens::CONFIRM_VALID_FOR).timestamp())) {
        Some((SubscriberStatus::Confirmed, _)) => Ok(page(&state, StatusCode::OK, t.subscribed_heading, t.subscribed)),
        Some((SubscriberStatus::Pending, issued_for)) if issued_for == expiry => {
            record_status(&state, &address, SubscriberStatus::Confirmed)?;
            Ok(page(&state, StatusCode::OK, t.subscribed_heading, t.subscribed))
        }
        _ => Ok(page(&state, StatusCode::BAD_REQUEST, t.invalid_link_heading, t.link_used)),
    }
}

/// A page with one button that posts `token` to `action` (a path under the site).
fn form_page(
    state: &AppState,
    action: &str,
    token: &str,
    words: impl Fn(&texts::Texts) -> (&'static str, &'static str, &'static str),
) -> Response {
    let config = state.service.config();
    let (heading, question, button) = words(texts::for_site(&config.site));
    let action = format!("{}{action}", render::site::base_path(&config.site));
    let body = render::digest::message(&config.site, heading, question, Some((&action, token, button)));
    (StatusCode::OK, [(axum::http::header::CACHE_CONTROL, "no-store")], Html(body)).into_response()
}

async fn unsubscribe_page(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Error> {
    if let Err(response) = verified(&state, Purpose::Unsubscribe, query.get("token")) {
        return Ok(*response);
    }
    let token = query.get("token").cloned().unwrap_or_default();
    Ok(form_page(&state, "unsubscribe", &token, |t| {
        (t.unsubscribe_heading, t.unsubscribe_question, t.unsubscribe_button)
    }))
}

/// The button's form (token in the body) and RFC 8058 one-click (token in the URL, body
/// `List-Unsubscribe=One-Click`) both land here. RFC 8058 lets the mail client send that body
/// urlencoded or as `multipart/form-data`; the token is in the URL then, so a body that is
/// not urlencoded is accepted and not read.
async fn unsubscribe(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Error> {
    let urlencoded = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    let form: HashMap<String, String> =
        if urlencoded { url::form_urlencoded::parse(&body).into_owned().collect() } else { HashMap::new() };
    let token = form.get("token").or_else(|| query.get("token"));
    let address = match verified(&state, Purpose::Unsubscribe, token) {
        Ok(address) => address,
        Err(response) => return Ok(*response),
    };
    record_status(&state, &address, SubscriberStatus::Unsubscribed)?;
    let t = texts::for_site(&state.service.config().site);
    Ok(page(&state, StatusCode::OK, t.unsubscribed_heading, t.unsubscribed))
}
