//! The JSON API under `/api/v1` for programs (the community website, chat bots), and its
//! OpenAPI 3.1 description at `/api/openapi.json`. Pagination is by opaque cursor: a position
//! in the newest-first order, so pages stay correct while new posts arrive. CORS allows GET
//! from anywhere.

use std::collections::HashMap;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::Method;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use tower_http::cors::{Any, CorsLayer};

use super::params::Params;
use super::search::{self, Find};
use super::{configured_member, json_response, off_thread, visible_posts, AppState, Error, Verdict};

mod members;
use crate::model::Post;
use crate::render::api_post::{post_dto, PostDto};
use crate::search::Ranking;
use crate::store::Position;
use members::{member, members, stats};

const CACHE_CONTROL: &str = "public, max-age=60";
const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 100;

pub fn router() -> Router<AppState> {
    let cors = CorsLayer::new().allow_origin(Any).allow_methods([Method::GET, Method::HEAD, Method::OPTIONS]);
    Router::new()
        .route("/api/v1/posts", get(posts))
        .route("/api/v1/posts/{id}", get(post))
        .route("/api/v1/members", get(members))
        .route("/api/v1/members/{id}", get(member))
        .route("/api/v1/stats", get(stats))
        .route("/api/openapi.json", get(openapi))
        .layer(cors)
}

/// Cursors are opaque to clients: hex of `<millis>:<id>`.
pub fn encode_cursor(post: &Post) -> String {
    encode_position(&Position { published: post.published, id: post.id.clone() })
}

/// The cursor that goes on after `position`.
pub fn encode_position(position: &Position) -> String {
    format!("{}:{}", position.published.timestamp_millis(), position.id).bytes().map(|b| format!("{b:02x}")).collect()
}

pub fn decode_cursor(cursor: &str) -> Option<Position> {
    if !cursor.len().is_multiple_of(2) || cursor.len() > 256 {
        return None;
    }
    let bytes: Option<Vec<u8>> =
        (0..cursor.len()).step_by(2).map(|i| u8::from_str_radix(cursor.get(i..i + 2)?, 16).ok()).collect();
    let text = String::from_utf8(bytes?).ok()?;
    let (millis, id) = text.split_once(':')?;
    let published = DateTime::from_timestamp_millis(millis.parse().ok()?)?;
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| Position { published, id: id.to_string() })
}

fn parse_time(parameter: &'static str, text: &str) -> Result<DateTime<Utc>, Error> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(|date| date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
        .map_err(|_| Error::bad(parameter, format!("'{text}' is not an RFC 3339 time or a YYYY-MM-DD date")))
}

#[derive(Serialize)]
struct PostsPage {
    posts: Vec<PostDto>,
    next_cursor: Option<String>,
}

const POSTS_PARAMETERS: &[&str] = &["limit", "cursor", "member", "tag", "since", "until", "q", "sort"];

/// Where a page starts: after a post in newest-first order, or after `n` results by
/// relevance. Both travel as the same opaque hex cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    After(Position),
    Offset(usize),
}

/// A search ranked by relevance pages by offset, encoded as hex of `@<offset>`.
fn encode_offset_cursor(offset: usize) -> String {
    format!("@{offset}").bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_any_cursor(cursor: &str) -> Option<Cursor> {
    if let Some(position) = decode_cursor(cursor) {
        return Some(Cursor::After(position));
    }
    let bytes: Option<Vec<u8>> =
        (0..cursor.len().min(32)).step_by(2).map(|i| u8::from_str_radix(cursor.get(i..i + 2)?, 16).ok()).collect();
    let text = String::from_utf8(bytes?).ok()?;
    text.strip_prefix('@')?.parse().ok().map(Cursor::Offset)
}

/// The position just after every post published at or before `until`.
fn position_after(until: DateTime<Utc>) -> Position {
    Position { published: until + chrono::TimeDelta::milliseconds(1), id: String::new() }
}

/// The earlier (further down the newest-first order) of two optional positions.
fn further(a: Option<Position>, b: Option<Position>) -> Option<Position> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if (a.published, &a.id) <= (b.published, &b.id) { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// The checked parameters of `/api/v1/posts`.
struct PostsQuery {
    limit: usize,
    cursor: Option<Cursor>,
    member: Option<crate::config::MemberId>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    tag: Option<String>,
    text: Option<crate::search::ParsedQuery>,
    by_relevance: bool,
}

fn posts_query(state: &AppState, query: &HashMap<String, String>) -> Result<PostsQuery, Error> {
    if let Some(unknown) = query.keys().find(|k| !POSTS_PARAMETERS.contains(&k.as_str())) {
        return Err(Error::bad(
            "query",
            format!("unknown parameter '{unknown}'; known: {}", POSTS_PARAMETERS.join(", ")),
        ));
    }
    let limit = match query.get("limit") {
        Some(text) => match text.parse::<usize>() {
            Ok(0) => return Err(Error::bad("limit", "must be at least 1")),
            Ok(n) => n.min(MAX_LIMIT),
            Err(_) => return Err(Error::bad("limit", format!("'{text}' is not a whole number"))),
        },
        None => DEFAULT_LIMIT,
    };
    let cursor = query
        .get("cursor")
        .map(|c| decode_any_cursor(c).ok_or_else(|| Error::bad("cursor", "not a cursor returned by this API")))
        .transpose()?;
    let member =
        query.get("member").map(|m| configured_member(state, m, false).map(|m| m.id)).transpose().map_err(|error| {
            match error {
                Error::NotFound(message) => Error::bad("member", message),
                other => other,
            }
        })?;
    let since = query.get("since").map(|t| parse_time("since", t)).transpose()?;
    let until = query.get("until").map(|t| parse_time("until", t)).transpose()?;
    if let (Some(since), Some(until)) = (since, until) {
        if since > until {
            return Err(Error::bad("since", "is later than until"));
        }
    }
    let tag = query.get("tag").map(|t| t.trim().to_lowercase()).filter(|t| !t.is_empty());
    let text = query.get("q").map(|q| q.trim()).filter(|q| !q.is_empty()).map(super::search::parse_q).transpose()?;
    let by_relevance = match query.get("sort").map(String::as_str) {
        None => text.is_some(),
        Some("date") => false,
        Some("relevance") if text.is_some() => true,
        Some("relevance") => return Err(Error::bad("sort", "relevance needs a q to be relevant to")),
        Some(other) => return Err(Error::bad("sort", format!("'{other}' is not relevance or date"))),
    };
    match (&cursor, by_relevance) {
        (Some(Cursor::Offset(_)), false) | (Some(Cursor::After(_)), true) => {
            return Err(Error::bad("cursor", "belongs to another sort order; start again without it"));
        }
        _ => {}
    }
    Ok(PostsQuery { limit, cursor, member, since, until, tag, text, by_relevance })
}

/// Bytes of posts one page of `/api/v1/posts` carries at most (their HTML, excerpts and
/// titles): 100 posts of 256 KiB would be a 26 MB answer. A page that would be larger ends
/// early, with a `next_cursor` that goes on from its last post; a page has at least one post.
pub const MAX_PAGE_BYTES: usize = 2 << 20;

/// How many of `posts` (in order) fit in `MAX_PAGE_BYTES`, at least one.
fn posts_that_fit(posts: &[Post]) -> usize {
    let mut bytes = 0;
    for (index, post) in posts.iter().enumerate() {
        bytes += post.content_html.as_str().len() + post.excerpt.len() + post.title.len();
        if bytes > MAX_PAGE_BYTES && index > 0 {
            return index;
        }
    }
    posts.len()
}

/// A page of posts: from the index when there is a `q` or a `tag`, else a key-range seek on
/// the timeline (or the member's list) that starts at the cursor or `until` and stops at
/// `since`; either way no more posts are read than the page returns, plus a few.
fn posts_page(state: &AppState, query: PostsQuery) -> Result<PostsPage, Error> {
    let limit = query.limit;
    let mut resume = None;
    let (mut found, snippets): (Vec<Post>, Vec<Option<crate::search::snippet::Snippet>>) =
        if query.text.is_some() || query.tag.is_some() {
            let ranking = match (&query.cursor, query.by_relevance) {
                (Some(Cursor::Offset(offset)), _) => Ranking::Relevance { offset: *offset },
                (_, true) => Ranking::Relevance { offset: 0 },
                (Some(Cursor::After(p)), false) => {
                    Ranking::Newest { before: Some((p.published.timestamp_millis(), p.id.clone())) }
                }
                (None, false) => Ranking::Newest { before: None },
            };
            let find = Find {
                text: query.text.unwrap_or_default(),
                member: query.member,
                tag: query.tag,
                since: query.since,
                until: query.until,
                ranking,
                limit: limit + 1,
            };
            search::find(&state.service, find, Utc::now())?.into_iter().map(|f| (f.post, f.snippet)).unzip()
        } else {
            let cursor = match &query.cursor {
                Some(Cursor::After(position)) => Some(position.clone()),
                _ => None,
            };
            let start = further(cursor, query.until.map(position_after));
            let since = query.since;
            let judge = move |post: &Post| match since {
                Some(since) if post.published < since => Verdict::Stop,
                _ => Verdict::Keep,
            };
            let listing = visible_posts(state, query.member.as_ref(), start.as_ref(), limit + 1, judge)?;
            resume = listing.resume;
            let snippets = vec![None; listing.posts.len()];
            (listing.posts, snippets)
        };
    let mut more = found.len() > limit;
    found.truncate(limit);
    // A page stops early rather than grow past MAX_PAGE_BYTES; its cursor goes on from there.
    let fitting = posts_that_fit(&found);
    if fitting < found.len() {
        found.truncate(fitting);
        more = true;
    }
    let next_cursor = match (more, query.by_relevance, query.cursor) {
        // A page that ended early, stepping over posts no one lists, goes on from there.
        (false, _, _) => resume.as_ref().map(encode_position),
        (true, true, Some(Cursor::Offset(offset))) => Some(encode_offset_cursor(offset + found.len())),
        (true, true, _) => Some(encode_offset_cursor(found.len())),
        (true, false, _) => found.last().map(encode_cursor),
    };
    let members = state.service.config().members.clone();
    let posts = found
        .into_iter()
        .zip(snippets)
        .map(|(post, snippet)| {
            let mut dto = post_dto(post, &members);
            dto.snippet = snippet;
            dto
        })
        .collect();
    Ok(PostsPage { posts, next_cursor })
}

async fn posts(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Params(query): Params,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> Result<Response, Error> {
    let query = posts_query(&state, &query)?;
    // A search and a tag each ask the index: both count against the client's search limit.
    if query.text.is_some() || query.tag.is_some() {
        search::count_search(&state, peer, &headers)?;
    }
    // A page depends only on the store, the index, the config and the query: rendered once
    // per change, off the async workers.
    let render_state = state.clone();
    let rendered = state
        .cached(&format!("api:{uri}"), super::CacheClass::Query, move || {
            let page = posts_page(&render_state, query)?;
            let body = crate::render::escape_json_for_html(&serde_json::to_string(&page).map_err(anyhow::Error::from)?);
            Ok(super::Rendered::new(body, "application/json", None))
        })
        .await?;
    Ok(crate::http::encoding::respond(&state, rendered, &headers, CACHE_CONTROL).await)
}

async fn post(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, Error> {
    let missing = || Error::NotFound(format!("no post '{id}'"));
    if id.len() > 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(missing());
    }
    let service = state.service.clone();
    let read_id = id.clone();
    let post = off_thread(&state, move || Ok(service.store.post(&read_id)?)).await?.ok_or_else(missing)?;
    let config = state.service.config();
    if !config.shows_member(post.member.as_str()) {
        return Err(missing());
    }
    if state.service.store.is_hidden(&post.id) {
        return Err(Error::Gone(format!("post '{id}' was taken down")));
    }
    json_response(&post_dto(post, &config.members), CACHE_CONTROL)
}

async fn openapi() -> Response {
    let mut response = Response::new(axum::body::Body::from(include_str!("../openapi.json")));
    response
        .headers_mut()
        .insert(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static("application/json"));
    response
}
