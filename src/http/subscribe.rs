//! Subscribing to the digest by email with double opt-in: `POST /subscribe` mails a signed
//! confirmation link, `GET /subscribe/confirm` confirms, and `/unsubscribe` (a page with one
//! button, or the RFC 8058 one-click POST from a mail client) unsubscribes. The answer to a
//! subscription never says whether the address was already subscribed, and requests are
//! rate-limited per address and per client, so planet cannot be used to flood an inbox.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{DateTime, TimeDelta, Utc};

use super::{AppState, Error};
use crate::config::is_email_address;
use crate::digest::tokens::{self, Purpose};
use crate::mail::Outgoing;
use crate::render;
use crate::store::{Subscriber, SubscriberStatus};
use crate::texts;

const PER_ADDRESS_PER_DAY: usize = 3;
const PER_CLIENT_PER_HOUR: usize = 10;

/// Attempts to subscribe, per client and per address, within the last day.
#[derive(Default)]
pub struct RateLimiter {
    attempts: Mutex<HashMap<String, Vec<DateTime<Utc>>>>,
}

impl RateLimiter {
    /// Counts an attempt under `key` and says whether it is within `limit` per `window`.
    fn allow(&self, key: &str, limit: usize, window: TimeDelta, now: DateTime<Utc>) -> bool {
        let Ok(mut attempts) = self.attempts.lock() else { return false };
        if attempts.len() > 100_000 {
            // Forget stale keys so a flood of distinct addresses cannot grow memory for ever.
            attempts.retain(|_, times| times.iter().any(|t| now - *t < TimeDelta::days(1)));
        }
        let times = attempts.entry(key.to_string()).or_default();
        times.retain(|t| now - *t < window);
        if times.len() >= limit {
            return false;
        }
        times.push(now);
        true
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/subscribe", post(subscribe))
        .route("/subscribe/confirm", get(confirm))
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

/// The client's address: the peer, or X-Forwarded-For when the peer is a proxy on this host.
fn client(peer: SocketAddr, headers: &HeaderMap) -> String {
    let forwarded =
        headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()).and_then(|v| v.split(',').next()).map(str::trim);
    match forwarded {
        Some(forwarded) if peer.ip().is_loopback() && !forwarded.is_empty() => forwarded.to_string(),
        _ => peer.ip().to_string(),
    }
}

async fn subscribe(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, Error> {
    let t = texts::for_site(&state.service.config().site);
    let (Some(secret), Some(mailer)) = (state.service.digest_secret(), state.service.mailer()) else {
        return Ok(page(&state, StatusCode::FORBIDDEN, t.subscriptions_closed_heading, t.subscriptions_closed));
    };
    let address = form.get("email").map(|a| a.trim().to_ascii_lowercase()).unwrap_or_default();
    if !is_email_address(&address) {
        let message = match address.is_empty() {
            true => t.address_missing.to_string(),
            false => texts::fill(t.address_invalid, &[("address", &address)]),
        };
        return Ok(page(&state, StatusCode::BAD_REQUEST, t.invalid_address_heading, &message));
    }
    let now = Utc::now();
    let limiter = &state.subscribe_limiter;
    let within_limits =
        limiter.allow(&format!("client:{}", client(peer, &headers)), PER_CLIENT_PER_HOUR, TimeDelta::hours(1), now)
            && limiter.allow(&format!("address:{address}"), PER_ADDRESS_PER_DAY, TimeDelta::days(1), now);
    if !within_limits {
        return Ok(page(&state, StatusCode::TOO_MANY_REQUESTS, t.too_many_requests_heading, t.too_many_requests));
    }
    let existing = state.service.store.subscriber(&address)?;
    let already_confirmed = existing.as_ref().is_some_and(|s| s.status == SubscriberStatus::Confirmed);
    if !already_confirmed {
        let subscriber = Subscriber::new(&address, SubscriberStatus::Pending, now);
        state.service.store.put_subscriber(&subscriber)?;
        let config = state.service.config();
        let token = tokens::sign(secret, Purpose::Confirm, &address, Some(now + tokens::CONFIRM_VALID_FOR));
        let mut link = config.site.url.join("subscribe/confirm").map_err(anyhow::Error::from)?;
        link.query_pairs_mut().append_pair("token", &token);
        let subject = texts::fill(t.confirm_subject, &[("title", &config.digest.title)]);
        let text = texts::fill(t.confirm_mail, &[("link", &link)]);
        let outgoing = Outgoing {
            to: &address,
            subject: &subject,
            text,
            html: None,
            list_id: None,
            unsubscribe_url: None,
            message_id: format!(
                "<confirm.{}.{}@{}>",
                now.timestamp(),
                &crate::hashing::digest(&[&address])[..12],
                config.site.url.host_str().unwrap_or("planet")
            ),
        };
        if let Err(error) = mailer.send(&outgoing).await {
            tracing::warn!("confirmation mail not sent: {error}");
        }
    }
    // The same answer whatever the address's state: it reveals nothing about subscribers.
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

async fn confirm(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Error> {
    let address = match verified(&state, Purpose::Confirm, query.get("token")) {
        Ok(address) => address,
        Err(response) => return Ok(*response),
    };
    record_status(&state, &address, SubscriberStatus::Confirmed)?;
    let t = texts::for_site(&state.service.config().site);
    Ok(page(&state, StatusCode::OK, t.subscribed_heading, t.subscribed))
}

async fn unsubscribe_page(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Error> {
    if let Err(response) = verified(&state, Purpose::Unsubscribe, query.get("token")) {
        return Ok(*response);
    }
    let token = query.get("token").cloned().unwrap_or_default();
    let config = state.service.config();
    let action = format!("{}unsubscribe", render::site::base_path(&config.site));
    let t = texts::for_site(&config.site);
    let form = Some((action.as_str(), token.as_str(), t.unsubscribe_button));
    let body = render::digest::message(&config.site, t.unsubscribe_heading, t.unsubscribe_question, form);
    Ok((StatusCode::OK, [(axum::http::header::CACHE_CONTROL, "no-store")], Html(body)).into_response())
}

/// The button's form (token in the body) and RFC 8058 one-click (token in the URL, body
/// `List-Unsubscribe=One-Click`) both land here.
async fn unsubscribe(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, Error> {
    let token = form.get("token").or_else(|| query.get("token"));
    let address = match verified(&state, Purpose::Unsubscribe, token) {
        Ok(address) => address,
        Err(response) => return Ok(*response),
    };
    record_status(&state, &address, SubscriberStatus::Unsubscribed)?;
    let t = texts::for_site(&state.service.config().site);
    Ok(page(&state, StatusCode::OK, t.unsubscribed_heading, t.unsubscribed))
}
