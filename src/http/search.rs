//! Everything answered from the search index: `q` (words, phrases, `member:`, `tag:`) in
//! the API, the feeds and the `/search` page, and the `tag` filter, whose posts (a post's
//! own categories, or every post of a member tagged in feeds.toml) are a term query there
//! rather than a scan of the timeline. Runs on a blocking thread (`off_thread`); searches
//! also count against a per-client rate limit.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};

use super::params::Params;
use super::rate_limit::{client_address, client_key, WindowLimiter};
use super::{encoding::respond, AppState, CacheClass, Error, Rendered};
use crate::config::MemberId;
use crate::model::Post;
use crate::search::snippet::{self, Snippet};
use crate::search::{ParsedQuery, Ranking, Request};
use crate::service::Service;

/// Searches per client per minute: a reader types a few, a bot pages through some; a
/// script that sends more is told to slow down before it takes every read permit.
const SEARCHES_PER_MINUTE: u32 = 60;
const MAX_QUERY_CHARS: usize = 200;
const PAGE_SIZE: usize = 20;
const CACHE_CONTROL: &str = "public, max-age=60";

pub fn router() -> Router<AppState> {
    Router::new().route("/search", get(page))
}

pub fn search_limiter() -> WindowLimiter {
    WindowLimiter::new(SEARCHES_PER_MINUTE, Duration::from_secs(60), 100_000)
}

/// Counts a search for the client; a 429 past its share.
pub fn count_search(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> Result<(), Error> {
    let client = client_key(client_address(peer, headers));
    match state.search_limiter.allow(&client, Instant::now()) {
        true => Ok(()),
        false => Err(Error::TooManyRequests(format!(
            "more than {SEARCHES_PER_MINUTE} searches in a minute from this address; wait a minute"
        ))),
    }
}

/// Reads and checks a `q` parameter.
pub fn parse_q(text: &str) -> Result<ParsedQuery, Error> {
    if text.chars().count() > MAX_QUERY_CHARS {
        return Err(Error::bad("q", format!("is longer than {MAX_QUERY_CHARS} characters")));
    }
    let parsed = crate::search::query::parse(text);
    if parsed.is_empty() {
        return Err(Error::bad("q", "has no words to search for"));
    }
    Ok(parsed)
}

/// What to find in the index.
pub struct Find {
    pub text: ParsedQuery,
    pub member: Option<MemberId>,
    pub tag: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub ranking: Ranking,
    pub limit: usize,
}

/// A post found, with its snippet when the search had words.
pub struct Found {
    pub post: Post,
    pub snippet: Option<Snippet>,
}

/// Runs `find` against the index and reads the posts it names. Blocking.
pub fn find(service: &Service, mut find: Find, now: DateTime<Utc>) -> Result<Vec<Found>, Error> {
    if !service.search.is_ready() {
        return Err(Error::Busy("the search index is being built; retry in a minute".into()));
    }
    let config = service.config();
    let visible: Vec<MemberId> = config.members.iter().map(|m| m.id.clone()).collect();
    let mut tags: Vec<String> = find.tag.take().into_iter().collect();
    tags.append(&mut find.text.tags);
    let tags = tags.into_iter().map(|tag| (tag.clone(), config.members_tagged(&tag))).collect();
    let request = Request {
        query: &find.text,
        visible: &visible,
        member: find.member.as_ref(),
        tags,
        since: find.since,
        until: find.until,
        ranking: find.ranking,
        limit: find.limit,
        now,
        hidden: &[],
    };
    let hidden: Vec<String> = service.store.hidden_post_ids().into_iter().collect();
    let request = Request { hidden: &hidden, ..request };
    let hits = service.search.search(&request)?;
    let mut found = Vec::with_capacity(hits.len());
    for hit in hits {
        // A post the index still has but the store no longer shows is left out.
        let Some(post) = service.store.post_published_at(&hit.id, hit.published_millis)? else { continue };
        if !config.shows_member(post.member.as_str()) || service.store.is_hidden(&post.id) {
            continue;
        }
        let snippet = (!find.text.clauses.is_empty()).then(|| {
            let text = crate::text::collapse_whitespace(&crate::sanitize::text_of(&post.content_html));
            snippet::make(&text, &find.text.clauses)
        });
        found.push(Found { post, snippet });
    }
    Ok(found)
}

/// `/search?q=...[&page=N]`: results by relevance, with snippets, and links to subscribe to
/// the search as a feed.
async fn page(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Params(query): Params,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Result<Response, Error> {
    if let Some(unknown) = query.keys().find(|k| *k != "q" && *k != "page") {
        return Err(Error::bad("query", format!("unknown parameter '{unknown}'; search takes q and page")));
    }
    let text = query.get("q").map(|q| q.trim().to_string()).unwrap_or_default();
    let page_number = match query.get("page") {
        None => 1,
        Some(n) => {
            n.parse::<usize>().ok().filter(|n| (1..=crate::search::MAX_RESULTS / PAGE_SIZE).contains(n)).ok_or_else(
                || {
                    Error::bad(
                        "page",
                        format!("must be a page number from 1 to {}", crate::search::MAX_RESULTS / PAGE_SIZE),
                    )
                },
            )?
        }
    };
    let parsed = if text.is_empty() { None } else { Some(parse_q(&text)?) };
    if parsed.is_some() {
        count_search(&state, peer, &headers)?;
    }
    let render_state = state.clone();
    let rendered = state
        .cached(&format!("search:{uri}"), CacheClass::Query, move || {
            let service = &render_state.service;
            let config = service.config();
            let found = match parsed {
                None => Vec::new(),
                Some(parsed) => {
                    let offset = (page_number - 1) * PAGE_SIZE;
                    let ranking = Ranking::Relevance { offset };
                    let request = Find {
                        text: parsed,
                        member: None,
                        tag: None,
                        since: None,
                        until: None,
                        ranking,
                        limit: PAGE_SIZE + 1,
                    };
                    find(service, request, Utc::now())?
                }
            };
            let more = found.len() > PAGE_SIZE;
            let hits: Vec<_> =
                found.into_iter().take(PAGE_SIZE).map(|f| (f.post, f.snippet.unwrap_or_default())).collect();
            let body = crate::render::site::search_page(&config.site, &config.members, &text, &hits, page_number, more);
            Ok(Rendered::new(body, "text/html; charset=utf-8", None))
        })
        .await?;
    Ok(respond(&state, rendered, &headers, CACHE_CONTROL).await)
}
