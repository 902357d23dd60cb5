//! The WebSub callback, `/websub/{token}`: a hub verifying planet's intent (`GET`, the
//! challenge echoed only for a topic planet asked for) and a hub pushing content (`POST`:
//! signed, at most `[fetch] max_body_bytes`, rate-limited per subscription).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::Utc;

use super::{AppState, Error};
use crate::service::{WebSubRefusal, WebSubTaken};

pub fn router(max_body_bytes: u64) -> Router<AppState> {
    Router::new()
        .route("/websub/{token}", get(verify).post(content))
        .layer(DefaultBodyLimit::max(usize::try_from(max_body_bytes).unwrap_or(usize::MAX)))
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
        Some(challenge) => Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], challenge).into_response()),
        None => Err(Error::NotFound("no subscription of planet's asks for this".into())),
    }
}

async fn content(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Error> {
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let signature = headers.get("x-hub-signature").and_then(|v| v.to_str().ok());
    let taken = state
        .service
        .take_websub_content(&token, signature, text(header::CONTENT_TYPE), body.to_vec(), Utc::now())
        .await;
    match taken {
        Ok(WebSubTaken::Stored(_)) | Ok(WebSubTaken::FetchStarted) => Ok(StatusCode::ACCEPTED.into_response()),
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
