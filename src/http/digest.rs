//! The digest on the web: `/digest` (the latest complete week), `/digest/{YYYY}-W{WW}`,
//! `/digest.atom` (one entry per week) and `/api/v1/digests/{YYYY}-W{WW}` (JSON). A
//! malformed week is a 400; a week not finished yet is a 404 that says so.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::Utc;

use super::{encoding::respond, json_body, AppState, CacheClass, Error, Rendered};
use crate::digest::{load, Week};
use crate::render;

/// Weeks in /digest.atom: the latest published ones (empty weeks are skipped, as the mail
/// skips them), looked for among this many finished weeks at most.
const FEED_WEEKS: usize = 12;
const FEED_WEEKS_LOOKED_AT: usize = 52;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/digest", get(latest))
        .route("/digest/{week}", get(page))
        .route("/digest.atom", get(atom))
        .route("/api/v1/digests/{week}", get(json))
}

/// A finished week from the path, or the error that explains why not.
fn finished_week(state: &AppState, text: &str, page: bool) -> Result<Week, Error> {
    let week = Week::parse(text).map_err(|message| Error::bad("week", message))?;
    let zone = state.service.config().site.timezone;
    if week.end(zone) > Utc::now() {
        let message = format!("the week {week} has not ended yet; its digest is made when it has");
        return Err(if page { Error::PageNotFound(message) } else { Error::NotFound(message) });
    }
    Ok(week)
}

/// The week's page, from the render cache: recomposed only when the store or the config
/// changed, or when the week after it has ended (the page then links to it).
async fn render_page(state: &AppState, week: Week, headers: &HeaderMap) -> Result<Response, Error> {
    let config = state.service.config();
    let next = week.next();
    let next = (next.end(config.site.timezone) <= Utc::now()).then(|| next.to_string());
    let subscriptions = state.service.subscriptions_enabled();
    let key = format!("digest-page:{week}:{}:{subscriptions}", next.as_deref().unwrap_or("-"));
    // The latest week is what every reader of /digest shares; older weeks are a client's choice.
    let class = match week == Week::last_complete(Utc::now(), config.site.timezone) {
        true => CacheClass::Shared,
        false => CacheClass::Query,
    };
    let store = state.service.store.clone();
    let rendered = state
        .cached(&key, class, move || {
            let digest = load::compose_week(&config, &store, week)?;
            let previous = week.previous().to_string();
            let body = render::digest::page(&config.site, &digest, &previous, next.as_deref(), subscriptions);
            Ok(Rendered::new(body, "text/html; charset=utf-8", None))
        })
        .await?;
    Ok(respond(state, rendered, headers, "public, max-age=300").await)
}

async fn latest(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, Error> {
    let week = Week::last_complete(Utc::now(), state.service.config().site.timezone);
    render_page(&state, week, &headers).await
}

async fn page(State(state): State<AppState>, Path(week): Path<String>, headers: HeaderMap) -> Result<Response, Error> {
    let week = finished_week(&state, &week, true)?;
    render_page(&state, week, &headers).await
}

async fn json(State(state): State<AppState>, Path(week): Path<String>, headers: HeaderMap) -> Result<Response, Error> {
    let week = finished_week(&state, &week, false)?;
    let service = state.service.clone();
    let rendered = state
        .cached(&format!("digest-json:{week}"), CacheClass::Query, move || {
            let digest = load::compose_week(&service.config(), &service.store, week)?;
            Ok(Rendered::new(json_body(&digest)?, "application/json", None))
        })
        .await?;
    Ok(respond(&state, rendered, &headers, "public, max-age=300").await)
}

async fn atom(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, Error> {
    let now = Utc::now();
    let service = state.service.clone();
    let rendered = state
        .cached(
            &format!("digest.atom:{}", Week::last_complete(now, state.service.config().site.timezone)),
            CacheClass::Shared,
            move || {
                let config = service.config();
                let latest = Week::last_complete(now, config.site.timezone);
                let mut week = latest;
                let mut digests = Vec::with_capacity(FEED_WEEKS);
                for _ in 0..FEED_WEEKS_LOOKED_AT {
                    let digest = load::compose_week(&config, &service.store, week)?;
                    if digest.is_published(config.digest.send_empty) {
                        digests.push(digest);
                    }
                    if digests.len() == FEED_WEEKS {
                        break;
                    }
                    week = week.previous();
                }
                let ends = latest.end(config.site.timezone);
                let body = render::digest::atom(&config.site, &digests, ends, &config.websub.hubs);
                Ok(Rendered::new(body, "application/atom+xml; charset=utf-8", Some(ends)))
            },
        )
        .await?;
    let config = state.service.config();
    let self_url = config.site.url.join("digest.atom").map_err(anyhow::Error::from)?;
    let response = respond(&state, rendered, &headers, "public, max-age=300").await;
    Ok(super::feeds::with_websub_links(response, &config.websub.hubs, &self_url))
}
