//! Operations: `/healthz` (the store answers; time of the last pass), `/metrics` (Prometheus
//! text, with the render cache's size), and `POST /admin/refresh[?member=ID]`, which starts
//! a pass and needs the bearer token from `PLANET_ADMIN_TOKEN` (off when the variable is unset).

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use super::params::Params;
use super::{configured_member, AppState, Error};
use crate::metrics::Gauges;
use crate::refresh::PassOptions;
use crate::store::{Action, ModerationEvent, Via};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/admin/refresh", post(refresh))
        .route("/admin/posts/{id}/hide", post(hide))
        .route("/admin/posts/{id}/unhide", post(unhide))
}

async fn healthz(State(state): State<AppState>) -> Response {
    let store = &state.service.store;
    match store.last_pass() {
        Ok(last_pass) => {
            // Degraded, not down: what can be read is served; the count says how much cannot.
            let damaged = store.damaged_posts();
            let write_failure = store.write_failure();
            let status = if damaged > 0 || write_failure.is_some() { "degraded" } else { "ok" };
            let body = json!({
                "status": status,
                "last_pass": last_pass,
                "posts": store.post_count(),
                "damaged_posts": damaged,
                "store_writes": write_failure.map_or_else(|| "ok".to_string(), |why| format!("refused: {why}")),
            });
            ([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
        }
        Err(error) => {
            tracing::error!("health check: the store is not readable: {error:#}");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "store unreadable" }))).into_response()
        }
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let (render_cache_entries, render_cache_bytes) = state.cache.usage();
    let service = &state.service;
    // A few file sizes and counters, read without a permit: /metrics must answer when the
    // read permits are all taken, which is when it is wanted most.
    let gauges = Gauges {
        posts_stored: service.store.post_count(),
        posts_damaged: service.store.damaged_posts(),
        render_cache_entries,
        render_cache_bytes,
        store_bytes: service.store.size_on_disk(),
        search_index_bytes: service.search.size_on_disk(),
        search_ready: service.search.is_ready(),
        requests_in_flight: service.activity.running(),
    };
    let body = state.service.metrics.render(&gauges);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], body)
        .into_response()
}

/// Equal-length comparison that does not stop at the first difference, so the time taken
/// says nothing about how much of a guessed token was right.
fn constant_time_equal(a: &[u8], b: &[u8]) -> bool {
    let length_differs = a.len() != b.len();
    let difference = a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    !length_differs & (difference == 0)
}

/// Checks the bearer token of an admin request.
fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), Error> {
    let Some(expected) = state.service.admin_token.as_deref() else { return Err(Error::AdminDisabled) };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !constant_time_equal(presented.trim().as_bytes(), expected.as_bytes()) {
        return Err(Error::Unauthorized);
    }
    Ok(())
}

async fn hide(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Params(query): Params,
    headers: HeaderMap,
) -> Result<Response, Error> {
    moderate(state, id, query, headers, Action::Hide).await
}

async fn unhide(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Params(query): Params,
    headers: HeaderMap,
) -> Result<Response, Error> {
    moderate(state, id, query, headers, Action::Unhide).await
}

/// `POST /admin/posts/{id}/hide[?reason=...]` and `/unhide`: takes a post down from every
/// output at once (or puts it back), and logs who asked and why.
async fn moderate(
    state: AppState,
    id: String,
    query: HashMap<String, String>,
    headers: HeaderMap,
    action: Action,
) -> Result<Response, Error> {
    authorize(&state, &headers)?;
    if let Some(unknown) = query.keys().find(|k| *k != "reason") {
        return Err(Error::bad("query", format!("unknown parameter '{unknown}'; known: reason")));
    }
    let reason = query.get("reason").map(|r| r.trim().chars().take(500).collect::<String>()).filter(|r| !r.is_empty());
    let event = ModerationEvent { at: chrono::Utc::now(), action, post_id: id.clone(), via: Via::Api, reason };
    let service = state.service.clone();
    let recorded = super::off_thread(&state, move || Ok(service.store.moderate(&event)?)).await?;
    if !recorded {
        return Err(Error::NotFound(format!("no post '{id}'")));
    }
    let body = json!({ "post": id, "hidden": action == Action::Hide });
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

async fn refresh(State(state): State<AppState>, Params(query): Params, headers: HeaderMap) -> Result<Response, Error> {
    authorize(&state, &headers)?;
    if let Some(unknown) = query.keys().find(|k| *k != "member") {
        return Err(Error::bad("query", format!("unknown parameter '{unknown}'")));
    }
    let member = query.get("member").map(|id| configured_member(&state, id, false).map(|m| m.id)).transpose()?;
    // An admin asking for one member wants it now, backoff or not.
    let options = PassOptions { force: member.is_some(), member: member.clone(), stop: None };
    if !state.service.start_pass(options) {
        return Err(Error::Conflict("a fetch pass is already running".into()));
    }
    let body = json!({ "started": true, "member": member.map(|m| m.to_string()) });
    Ok((StatusCode::ACCEPTED, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}
