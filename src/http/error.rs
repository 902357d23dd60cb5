//! The one error type of the HTTP layer. User errors are explained in a JSON body
//! `{ "error": { "code", "message" } }` (with the offending parameter, if any); internal
//! errors are logged with their cause and shown only as "internal error".

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A query parameter is malformed; names the parameter and why.
    #[error("{parameter}: {message}")]
    BadRequest { parameter: &'static str, message: String },
    /// An unknown id in the API.
    #[error("{0}")]
    NotFound(String),
    /// A post that was taken down by the admin.
    #[error("{0}")]
    Gone(String),
    /// An unknown page on the HTML site.
    #[error("{0}")]
    PageNotFound(String),
    #[error("a valid bearer token is required")]
    Unauthorized,
    /// The admin endpoint is off because PLANET_ADMIN_TOKEN is not set.
    #[error("the admin API is disabled: set PLANET_ADMIN_TOKEN to enable it")]
    AdminDisabled,
    #[error("{0}")]
    Conflict(String),
    /// A request whose signature does not match (a WebSub hub's content).
    #[error("{0}")]
    Forbidden(String),
    /// A request body over its limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// Every read permit is taken, or the search index is being built: try again shortly.
    /// Refused at once rather than queued, so that a flood of costly requests cannot make
    /// the cheap ones wait.
    #[error("{0}")]
    Busy(String),
    /// A client sent more of a costly request (search) than its share.
    #[error("{0}")]
    TooManyRequests(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Error {
    pub fn bad(parameter: &'static str, message: impl Into<String>) -> Error {
        Error::BadRequest { parameter, message: message.into() }
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Error::BadRequest { .. } => (StatusCode::BAD_REQUEST, "bad_request"),
            Error::NotFound(_) | Error::PageNotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Error::Gone(_) => (StatusCode::GONE, "gone"),
            Error::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Error::AdminDisabled => (StatusCode::FORBIDDEN, "admin_disabled"),
            Error::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Error::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Error::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Error::Busy(_) => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
            Error::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            Error::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            Error::Internal(cause) => {
                tracing::error!("internal error: {cause:#}");
                "internal error".to_string()
            }
            other => other.to_string(),
        };
        if let Error::PageNotFound(_) = self {
            let page = format!(
                "<!doctype html><meta charset=utf-8><title>404</title><p>{}</p>",
                crate::sanitize::escape_text(&message)
            );
            return (status, Html(page)).into_response();
        }
        let mut body = json!({ "error": { "code": code, "message": message } });
        if let Error::BadRequest { parameter, .. } = &self {
            body["error"]["parameter"] = json!(parameter);
        }
        let mut response = (status, Json(body)).into_response();
        if let Error::Busy(_) | Error::TooManyRequests(_) = self {
            let seconds = if matches!(self, Error::Busy(_)) { "1" } else { "60" };
            response.headers_mut().insert("retry-after", axum::http::HeaderValue::from_static(seconds));
        }
        if let Error::Unauthorized = self {
            response.headers_mut().insert("www-authenticate", axum::http::HeaderValue::from_static("Bearer"));
        }
        response
    }
}
