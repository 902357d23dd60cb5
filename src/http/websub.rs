//! The WebSub callback, `/websub/{token}`: a hub verifying planet's intent (`GET`, the
//! challenge echoed only for a topic planet asked for) and a hub pushing content (`POST`:
//! signed, at most `[fetch] max_body_bytes`, rate-limited per subscription).

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::Utc;

use super::{AppState, Error};
use crate::service::{WebSubRefusal, WebSubTaken};

pub fn router() -> Router<AppState> {
    Router::new().route("/websub/{token}", get(verify).post(content))
}

async fn verify(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Error> {
    let service = state.service.clone();
    let answer = tokio::task::spawn_blocking(move || service.verify_websub_intent(&token, &query, Utc::now()))
        .await
        .map_err(anyhow::Error::from)??;
    match answer {
        Some(challenge) => {
            let headers = [(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::CACHE_CONTROL, "no-store")];
            Ok((headers, challenge).into_response())
        }
        None => Err(Error::NotFound("no subscription of planet's asks for this".into())),
    }
}

async fn content(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Error> {
    // A callback planet never gave out is answered before its body is read: a stranger's
    // 10 MB costs a lookup, not a read.
    let service = state.service.clone();
    let lookup = token.clone();
    let known = tokio::task::spawn_blocking(move || service.store.websub_subscription(&lookup))
        .await
        .map_err(anyhow::Error::from)??
        .is_some();
    if !known {
        return Err(Error::Gone("no such subscription".into()));
    }
    let limit = usize::try_from(state.service.config().fetch.max_body_bytes).unwrap_or(usize::MAX);
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(Error::PayloadTooLarge(format!("content over the limit of {limit} bytes")));
    }
    let body: Bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| Error::PayloadTooLarge(format!("content over the limit of {limit} bytes")))?;
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let signature = headers.get("x-hub-signature").and_then(|v| v.to_str().ok());
    let taken = state
        .service
        .take_websub_content(&token, signature, text(header::CONTENT_TYPE), body.to_vec(), Utc::now())
        .await;
    match taken {
        Ok(WebSubTaken::Stored(_)) | Ok(WebSubTaken::FetchStarted) => {
            Ok((StatusCode::ACCEPTED, [(header::CACHE_CONTROL, "no-store")]).into_response())
        }
        // 410 tells the hub to stop sending (WebSub 7: the subscription is gone).
        Err(WebSubRefusal::Gone) => Err(Error::Gone("no such subscription".into())),
        Err(WebSubRefusal::Signature(why)) => {
            tracing::warn!("WebSub content refused: {why}");
            Err(Error::Forbidden(why.to_string()))
        }
        Err(WebSubRefusal::TooMany) => Err(Error::TooManyRequests(WebSubRefusal::TooMany.to_string())),
        Err(WebSubRefusal::Internal(error)) => Err(Error::Internal(error)),
    }
}
