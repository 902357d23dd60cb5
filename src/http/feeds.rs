//! The combined feeds (`/feed.atom`, `/feed.rss`, `/feed.json`, narrowed by `?member=` or
//! `?tag=`) and `/opml.xml`. Bodies are rendered once per store or config change and served
//! from memory with ETag and Last-Modified.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use url::Url;

use super::{conditional, configured_member, etag_of, visible_posts, AppState, Error, Rendered};
use crate::render::{self, FeedInput, Selection};

const CACHE_CONTROL: &str = "public, max-age=300";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/feed.atom", get(atom))
        .route("/feed.rss", get(rss))
        .route("/feed.json", get(json))
        .route("/opml.xml", get(opml))
}

#[derive(Clone, Copy)]
enum Format {
    Atom,
    Rss,
    Json,
}

impl Format {
    fn path(self) -> &'static str {
        match self {
            Format::Atom => "feed.atom",
            Format::Rss => "feed.rss",
            Format::Json => "feed.json",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Atom => "application/atom+xml; charset=utf-8",
            Format::Rss => "application/rss+xml; charset=utf-8",
            Format::Json => "application/feed+json; charset=utf-8",
        }
    }
}

/// `?member=ID` or `?tag=T` (not both); anything else is a 400 naming the parameter.
fn selection(state: &AppState, query: &HashMap<String, String>) -> Result<Selection, Error> {
    if let Some(unknown) = query.keys().find(|k| *k != "member" && *k != "tag") {
        return Err(Error::bad("query", format!("unknown parameter '{unknown}'; feeds take member or tag")));
    }
    match (query.get("member"), query.get("tag")) {
        (Some(_), Some(_)) => Err(Error::bad("member", "give member or tag, not both")),
        (Some(member), None) => Ok(Selection::Member(configured_member(state, member, false)?.id)),
        (None, Some(tag)) if tag.trim().is_empty() => Err(Error::bad("tag", "must not be empty")),
        (None, Some(tag)) => Ok(Selection::Tag(tag.trim().to_string())),
        (None, None) => Ok(Selection::All),
    }
}

fn render_feed(state: &AppState, format: Format, selection: Selection) -> Result<Rendered, Error> {
    let config = state.service.config();
    let site = &config.site;
    let posts = match &selection {
        Selection::All => visible_posts(state, None, None, site.feed_size, |_| true)?,
        Selection::Member(id) => visible_posts(state, Some(id), None, site.feed_size, |_| true)?,
        Selection::Tag(tag) => {
            let wanted = tag.to_lowercase();
            visible_posts(state, None, None, site.feed_size, |post| config.files_under_tag(post, &wanted))?
        }
    };
    let mut self_url = site.url.join(format.path()).map_err(|e| anyhow::anyhow!("bad site url: {e}"))?;
    match &selection {
        Selection::Member(id) => self_url.query_pairs_mut().append_pair("member", id.as_str()).finish(),
        Selection::Tag(tag) => self_url.query_pairs_mut().append_pair("tag", tag).finish(),
        Selection::All => &mut self_url,
    };
    let members = config.members.iter().map(|m| (m.id.clone(), m.clone())).collect();
    let input = FeedInput {
        site,
        members: &members,
        posts: &posts,
        self_url: Url::clone(&self_url),
        selection,
        now: Utc::now(),
    };
    let body = match format {
        Format::Atom => render::atom(&input),
        Format::Rss => render::rss(&input),
        Format::Json => render::json_feed(&input),
    };
    Ok(Rendered::new(body, format.content_type(), posts.first().map(|_| input.updated())))
}

async fn serve_feed(
    state: AppState,
    format: Format,
    query: HashMap<String, String>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let selection = selection(&state, &query)?;
    let key = format!("{}:{selection:?}", format.path());
    let rendered = state.cached(&key, || render_feed(&state, format, selection))?;
    Ok(conditional(&state, &rendered, &headers, CACHE_CONTROL))
}

async fn atom(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    serve_feed(state, Format::Atom, query, headers).await
}

async fn rss(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    serve_feed(state, Format::Rss, query, headers).await
}

async fn json(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    serve_feed(state, Format::Json, query, headers).await
}

async fn opml(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, Error> {
    let rendered = state.cached("opml", || {
        let config = state.service.config();
        let body = render::opml(&config.site, &config.members, Utc::now());
        // The dateCreated line changes every render; the ETag covers the member list only.
        let members: Vec<String> = config.members.iter().map(|m| format!("{}{:?}", m.id, m.feeds)).collect();
        Ok(Rendered::with_etag(body, etag_of(members.join("\n").as_bytes()), "text/x-opml; charset=utf-8", None))
    })?;
    Ok(conditional(&state, &rendered, &headers, CACHE_CONTROL))
}
