//! The combined feeds (`/feed.atom`, `/feed.rss`, `/feed.json`, narrowed by `?member=` or
//! `?tag=`) and `/opml.xml`. Bodies are rendered once per store or config change and served
//! from memory with ETag and Last-Modified.

use std::collections::HashMap;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use url::Url;

use super::params::Params;
use super::{
    configured_member, encoding::respond, etag_of, search, visible_posts, AppState, CacheClass, Error, Rendered,
};
use crate::model::Post;
use crate::render::{self, FeedInput, Selection};
use crate::search::Ranking;

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

/// `?member=ID`, `?tag=T` or `?q=SEARCH` (one of them); anything else is a 400 naming the
/// parameter.
fn selection(state: &AppState, query: &HashMap<String, String>) -> Result<Selection, Error> {
    if let Some(unknown) = query.keys().find(|k| !["member", "tag", "q"].contains(&k.as_str())) {
        return Err(Error::bad("query", format!("unknown parameter '{unknown}'; feeds take member, tag or q")));
    }
    if query.len() > 1 {
        return Err(Error::bad("query", "give one of member, tag or q"));
    }
    match (query.get("member"), query.get("tag"), query.get("q")) {
        (Some(member), _, _) => Ok(Selection::Member(configured_member(state, member, false)?.id)),
        (_, Some(tag), _) if tag.trim().is_empty() => Err(Error::bad("tag", "must not be empty")),
        // Tags match whatever their case, so one canonical (lowercase) feed answers for all
        // spellings: one id, one self link, one cached body.
        (_, Some(tag), _) => Ok(Selection::Tag(tag.trim().to_lowercase())),
        (_, _, Some(q)) => {
            search::parse_q(q.trim())?;
            Ok(Selection::Search(q.trim().to_string()))
        }
        _ => Ok(Selection::All),
    }
}

/// The newest posts of a tag or a search, from the index.
fn found_posts(state: &AppState, text: &str, tag: Option<String>, limit: usize) -> Result<Vec<Post>, Error> {
    let text = if text.is_empty() { Default::default() } else { search::parse_q(text)? };
    let ranking = Ranking::Newest { before: None };
    let find = search::Find { text, member: None, tag, since: None, until: None, ranking, limit };
    Ok(search::find(&state.service, find, Utc::now())?.into_iter().map(|f| f.post).filter(|p| !p.backlog).collect())
}

/// The feed's own URL: its path on the site and its one parameter.
fn self_url(site: &crate::config::Site, format: Format, selection: &Selection) -> Result<Url, Error> {
    let mut self_url = site.url.join(format.path()).map_err(|e| anyhow::anyhow!("bad site url: {e}"))?;
    match selection {
        Selection::Member(id) => self_url.query_pairs_mut().append_pair("member", id.as_str()).finish(),
        Selection::Tag(tag) => self_url.query_pairs_mut().append_pair("tag", tag).finish(),
        Selection::Search(query) => self_url.query_pairs_mut().append_pair("q", query).finish(),
        Selection::All => &mut self_url,
    };
    Ok(self_url)
}

/// WebSub discovery in HTTP (`Link: <hub>; rel="hub", <self>; rel="self"`), which hubs
/// read when they fetch a topic; the documents say the same in their own links.
pub fn with_websub_links(mut response: Response, hubs: &[Url], self_url: &Url) -> Response {
    if hubs.is_empty() {
        return response;
    }
    let mut links: Vec<String> = hubs.iter().map(|hub| format!("<{hub}>; rel=\"hub\"")).collect();
    links.push(format!("<{self_url}>; rel=\"self\""));
    if let Ok(value) = axum::http::HeaderValue::from_str(&links.join(", ")) {
        response.headers_mut().insert(axum::http::header::LINK, value);
    }
    response
}

fn render_feed(state: &AppState, format: Format, selection: Selection) -> Result<Rendered, Error> {
    let config = state.service.config();
    let site = &config.site;
    let posts = match &selection {
        // The combined feeds are the river: a first fetch's backlog and a member's posts past
        // the daily cap stay on member feeds.
        Selection::All => super::river::river_posts(state, None, site.feed_size)?.posts,
        Selection::Member(id) => visible_posts(state, Some(id), None, site.feed_size, |_| true)?.posts,
        Selection::Tag(tag) => found_posts(state, "", Some(tag.to_lowercase()), site.feed_size)?,
        Selection::Search(query) => found_posts(state, query, None, site.feed_size)?,
    };
    let self_url = self_url(site, format, &selection)?;
    let members = config.members.iter().map(|m| (m.id.clone(), m.clone())).collect();
    let input = FeedInput {
        site,
        members: &members,
        posts: &posts,
        self_url: Url::clone(&self_url),
        selection,
        now: Utc::now(),
        hubs: &config.websub.hubs,
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
    peer: SocketAddr,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let selection = selection(&state, &query)?;
    let key = format!("{}:{selection:?}", format.path());
    // A search and a tag each ask the index: both count against the client's search limit.
    if let Selection::Search(_) | Selection::Tag(_) = selection {
        search::count_search(&state, peer, &headers)?;
    }
    let render_state = state.clone();
    let class = match selection {
        Selection::All => CacheClass::Shared,
        _ => CacheClass::Query,
    };
    let config = state.service.config();
    let self_url = self_url(&config.site, format, &selection)?;
    let rendered = state.cached(&key, class, move || render_feed(&render_state, format, selection)).await?;
    Ok(with_websub_links(respond(&state, rendered, &headers, CACHE_CONTROL).await, &config.websub.hubs, &self_url))
}

async fn atom(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Params(query): Params,
    headers: HeaderMap,
) -> Result<Response, Error> {
    serve_feed(state, Format::Atom, query, peer, headers).await
}

async fn rss(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Params(query): Params,
    headers: HeaderMap,
) -> Result<Response, Error> {
    serve_feed(state, Format::Rss, query, peer, headers).await
}

async fn json(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Params(query): Params,
    headers: HeaderMap,
) -> Result<Response, Error> {
    serve_feed(state, Format::Json, query, peer, headers).await
}

async fn opml(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, Error> {
    let service = state.service.clone();
    let rendered = state
        .cached("opml", CacheClass::Shared, move || {
            let config = service.config();
            let body = render::opml(&config.site, &config.members, Utc::now());
            // The dateCreated line changes every render; the ETag covers the member list only.
            let members: Vec<String> = config.members.iter().map(|m| format!("{}{:?}", m.id, m.feeds)).collect();
            Ok(Rendered::with_etag(body, etag_of(members.join("\n").as_bytes()), "text/x-opml; charset=utf-8", None))
        })
        .await?;
    Ok(respond(&state, rendered, &headers, CACHE_CONTROL).await)
}
