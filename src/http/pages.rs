//! The HTML site: `/` (posts by day, members with health marks), `/members/{id}` (a member's
//! posts and feed status, so a member can see why a post is missing), `/about`, and the
//! stylesheet. Pages need no JavaScript.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::api::{decode_cursor, encode_cursor, encode_position};
use super::params::Params;
use super::{conditional, configured_member, encoding::respond, visible_posts, AppState, CacheClass, Error, Rendered};
use crate::config::Member;
use crate::render::site::{self, MemberHealth, MemberSummary};

const PAGE_SIZE: usize = 30;
const CACHE_CONTROL: &str = "public, max-age=60";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/members/{id}", get(member))
        .route("/about", get(about))
        .route("/static/site.css", get(stylesheet))
        .route("/favicon.svg", get(favicon))
        .route("/favicon.ico", get(favicon))
}

fn health<'a>(state: &AppState, member: &'a Member) -> Result<MemberHealth<'a>, Error> {
    let states = member
        .feeds
        .iter()
        .map(|url| state.service.store.feed_state(&member.id, url.as_str()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(MemberHealth { member, states })
}

/// The member list beside the river with each member's feed health: one feed state read per
/// feed of every member, so read once per version of the store and config and shared by
/// every page of the river (a crawler paging `?before=` does not read 10,000 states a page).
pub(super) type Sidebar = crate::per_version::PerVersion<(u64, u64), Arc<Vec<MemberSummary>>>;

fn sidebar(state: &AppState) -> Result<Arc<Vec<MemberSummary>>, Error> {
    state.sidebar.get_or_try(state.service.version(), || {
        let config = state.service.config();
        let summaries = config
            .members
            .iter()
            .map(|member| health(state, member).map(|health| MemberSummary::of(&health)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Arc::new(summaries))
    })
}

fn before(query: &HashMap<String, String>) -> Result<Option<crate::store::Position>, Error> {
    if let Some(unknown) = query.keys().find(|k| *k != "before") {
        return Err(Error::bad("query", format!("unknown parameter '{unknown}'")));
    }
    query
        .get("before")
        .map(|c| decode_cursor(c).ok_or_else(|| Error::bad("before", "not a page link from this site")))
        .transpose()
}

fn html(state: &AppState, body: String, headers: &HeaderMap) -> Response {
    let rendered = Rendered::new(body, "text/html; charset=utf-8", None);
    conditional(state, &rendered, headers, CACHE_CONTROL)
}

async fn index(
    State(state): State<AppState>,
    Params(query): Params,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let after = before(&query)?;
    // The page depends only on the store and the config: rendered once per change.
    let render_state = state.clone();
    let rendered = state
        .cached(
            &format!("page:{uri}"),
            if after.is_none() { CacheClass::Shared } else { CacheClass::Query },
            move || {
                let state = render_state;
                let config = state.service.config();
                let river = super::river::river_posts(&state, after.as_ref(), PAGE_SIZE + 1)?;
                let (mut posts, mut held_back) = (river.posts, river.held_back);
                let older = (posts.len() > PAGE_SIZE).then(|| {
                    posts.truncate(PAGE_SIZE);
                    held_back.truncate(PAGE_SIZE);
                    format!(
                        "{}?before={}",
                        site::base_path(&config.site),
                        posts.last().map(encode_cursor).unwrap_or_default()
                    )
                });
                let members = sidebar(&state)?;
                let body = site::index(
                    &config.site,
                    &config.members,
                    &members,
                    &posts,
                    &held_back,
                    older,
                    state.service.subscriptions_enabled(),
                );
                Ok(Rendered::new(body, "text/html; charset=utf-8", None))
            },
        )
        .await?;
    Ok(respond(&state, rendered, &headers, CACHE_CONTROL).await)
}

async fn member(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Params(query): Params,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let member = configured_member(&state, &id, true)?;
    let after = before(&query)?;
    let render_state = state.clone();
    let rendered = state
        .cached(
            &format!("member:{id}:{}", query.get("before").map_or("", String::as_str)),
            CacheClass::Query,
            move || {
                let state = render_state;
                let config = state.service.config();
                let listing = visible_posts(&state, Some(&member.id), after.as_ref(), PAGE_SIZE + 1, |_| true)?;
                let mut posts = listing.posts;
                // A full page goes on after its last post; one that ended early after the
                // last post it stepped over.
                let next = if posts.len() > PAGE_SIZE {
                    posts.truncate(PAGE_SIZE);
                    posts.last().map(encode_cursor)
                } else {
                    listing.resume.as_ref().map(encode_position)
                };
                let older = next
                    .map(|cursor| format!("{}members/{}?before={cursor}", site::base_path(&config.site), member.id));
                let health = health(&state, &member)?;
                let body = site::member_page(&config.site, &health, &posts, older);
                Ok(Rendered::new(body, "text/html; charset=utf-8", None))
            },
        )
        .await?;
    Ok(respond(&state, rendered, &headers, CACHE_CONTROL).await)
}

async fn about(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, Error> {
    let config = state.service.config();
    Ok(html(&state, site::about(&config.site, config.members.len()), &headers))
}

async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        site::STYLESHEET,
    )
        .into_response()
}

async fn favicon() -> Response {
    ([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "public, max-age=86400")], site::FAVICON)
        .into_response()
}
