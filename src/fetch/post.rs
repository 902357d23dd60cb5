//! One HTTP POST to a push target (a group robot or a webhook: JSON) or a WebSub hub (a
//! form), through the same SSRF guard and timeouts as a feed fetch. Redirects are not followed: a robot's hook
//! answers where it is, and a POST replayed to wherever a redirect points is how a target
//! could be turned against the operator's network. The answer's body is read up to 64 KiB
//! (a platform's verdict is a few bytes of JSON).

use std::time::Duration;

use reqwest::header::{self, HeaderName, HeaderValue};
use url::Url;

use super::{request_error, retry_after, Client, FetchError};

const ANSWER_BYTES: u64 = 64 * 1024;

/// What the target answered.
#[derive(Debug, Clone)]
pub struct Answered {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
}

/// POSTs `body` as JSON to `url` with `headers`, within the fetch timeout.
pub async fn post_json(
    client: &Client,
    url: &Url,
    headers: &[(&'static str, String)],
    body: Vec<u8>,
) -> Result<Answered, FetchError> {
    post(client, url, "application/json; charset=utf-8", headers, body).await
}

/// POSTs `fields` as `application/x-www-form-urlencoded` (what a WebSub hub reads).
pub async fn post_form(client: &Client, url: &Url, fields: &[(&str, &str)]) -> Result<Answered, FetchError> {
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
    post(client, url, "application/x-www-form-urlencoded", &[], body.into_bytes()).await
}

async fn post(
    client: &Client,
    url: &Url,
    content_type: &'static str,
    headers: &[(&'static str, String)],
    body: Vec<u8>,
) -> Result<Answered, FetchError> {
    let policy = client.policy_for(false);
    let http = if policy.allow_private { &client.open } else { &client.guarded };
    policy.check_literal(url).map_err(FetchError::Refused)?;
    let mut request =
        http.post(url.clone()).header(header::CONTENT_TYPE, HeaderValue::from_static(content_type)).body(body);
    for (name, value) in headers {
        let value = HeaderValue::from_str(value).map_err(|_| FetchError::Other {
            class: "a header could not be sent",
            detail: format!("header {name} holds characters HTTP does not allow"),
        })?;
        request = request.header(HeaderName::from_static(name), value);
    }
    let exchange = async {
        let response = request.send().await.map_err(request_error)?;
        let status = response.status().as_u16();
        let retry_after =
            response.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(retry_after);
        let body = match super::read_capped(response, ANSWER_BYTES).await {
            Ok(body) => body,
            // A verdict longer than the cap is not one a platform writes; keep the status.
            Err(FetchError::TooLarge(_)) => Vec::new(),
            Err(other) => return Err(other),
        };
        Ok(Answered { status, retry_after, body })
    };
    match tokio::time::timeout(client.timeout, exchange).await {
        Ok(result) => result,
        Err(_) => Err(FetchError::Timeout(client.timeout)),
    }
}
