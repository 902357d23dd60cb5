//! The API's members and statistics: each member with the health of their feeds (what a
//! member reads to learn why a post does not show up), and post counts per member and month
//! with the store's size on disk.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::CACHE_CONTROL;
use crate::config::Member;
use crate::http::{configured_member, json_response, off_thread, AppState, Error};
use crate::model::FeedState;

#[derive(Serialize)]
pub struct MemberDto {
    id: String,
    name: String,
    site: Option<String>,
    avatar: Option<String>,
    tags: Vec<String>,
    /// ok, failing, gone, or pending (never fetched).
    health: &'static str,
    feeds: Vec<FeedHealth>,
}

#[derive(Serialize)]
struct FeedHealth {
    url: String,
    current_url: Option<String>,
    moved_to: Option<String>,
    gone: bool,
    last_attempt: Option<DateTime<Utc>>,
    last_success: Option<DateTime<Utc>>,
    last_error: Option<String>,
    last_status: Option<u16>,
    consecutive_failures: u32,
    next_due: Option<DateTime<Utc>>,
    warnings: Vec<String>,
}

fn member_dto(state: &AppState, member: &Member) -> Result<MemberDto, Error> {
    let mut feeds = Vec::new();
    let mut states: Vec<Option<FeedState>> = Vec::new();
    for url in &member.feeds {
        let feed_state = state.service.store.feed_state(&member.id, url.as_str())?;
        feeds.push(FeedHealth {
            url: url.to_string(),
            current_url: feed_state.as_ref().map(|s| s.current_url.clone()),
            moved_to: feed_state.as_ref().and_then(|s| s.moved_to.clone()),
            gone: feed_state.as_ref().is_some_and(|s| s.gone),
            last_attempt: feed_state.as_ref().and_then(|s| s.last_attempt),
            last_success: feed_state.as_ref().and_then(|s| s.last_success),
            last_error: feed_state.as_ref().and_then(|s| s.last_error.clone()),
            last_status: feed_state.as_ref().and_then(|s| s.last_status),
            consecutive_failures: feed_state.as_ref().map_or(0, |s| s.consecutive_failures),
            next_due: feed_state.as_ref().and_then(|s| s.next_due),
            warnings: feed_state
                .as_ref()
                .map(|s| s.warnings.iter().map(|w| w.to_string()).collect())
                .unwrap_or_default(),
        });
        states.push(feed_state);
    }
    let health = if states.iter().flatten().any(|s| s.gone) {
        "gone"
    } else if states.iter().flatten().any(|s| s.consecutive_failures > 0) {
        "failing"
    } else if states.iter().all(Option::is_none) {
        "pending"
    } else {
        "ok"
    };
    Ok(MemberDto {
        id: member.id.to_string(),
        name: member.name.clone(),
        site: member.site.as_ref().map(|u| u.to_string()),
        avatar: member.avatar.as_ref().map(|u| u.to_string()),
        tags: member.tags.clone(),
        health,
        feeds,
    })
}

#[derive(Serialize)]
struct MembersPage {
    members: Vec<MemberDto>,
}

pub(super) async fn members(State(state): State<AppState>) -> Result<Response, Error> {
    let read_state = state.clone();
    let members = off_thread(&state, move || {
        let config = read_state.service.config();
        config.members.iter().map(|m| member_dto(&read_state, m)).collect::<Result<Vec<_>, _>>()
    })
    .await?;
    json_response(&MembersPage { members }, CACHE_CONTROL)
}

pub(super) async fn member(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, Error> {
    let member = configured_member(&state, &id, false)?;
    let read_state = state.clone();
    let dto = off_thread(&state, move || member_dto(&read_state, &member)).await?;
    json_response(&dto, CACHE_CONTROL)
}

#[derive(Serialize)]
struct MonthCount {
    member: String,
    month: String,
    posts: usize,
}

#[derive(Serialize)]
struct Stats {
    time_zone: String,
    posts: usize,
    /// Bytes on disk of the store and of the search index beside it.
    store_bytes: u64,
    search_index_bytes: u64,
    posts_per_member_per_month: Vec<MonthCount>,
    /// Each push target's health and queue.
    notify: Vec<crate::service::TargetStatus>,
}

pub(super) async fn stats(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Result<Response, Error> {
    let service = state.service.clone();
    // Counting reads every member's index: once per change, off the async workers.
    let rendered = state
        .cached(&format!("stats:{}", state.service.notify_version()), super::super::CacheClass::Shared, move || {
            let config = service.config();
            let zone = config.site.timezone;
            let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
            for entry in service.store.post_times() {
                let (member, time) = entry?;
                if config.shows_member(&member) {
                    let month = time.with_timezone(&zone).format("%Y-%m").to_string();
                    *counts.entry((member, month)).or_default() += 1;
                }
            }
            let posts_per_member_per_month =
                counts.into_iter().map(|((member, month), posts)| MonthCount { member, month, posts }).collect();
            let stats = Stats {
                time_zone: zone.to_string(),
                posts: service.store.post_count(),
                store_bytes: service.store.size_on_disk(),
                search_index_bytes: service.search.size_on_disk(),
                posts_per_member_per_month,
                notify: service.notify_status()?,
            };
            Ok(crate::http::Rendered::new(crate::http::json_body(&stats)?, "application/json", None))
        })
        .await?;
    Ok(crate::http::encoding::respond(&state, rendered, &headers, CACHE_CONTROL).await)
}
