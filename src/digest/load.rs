//! Reading a week's posts from the store and composing its digest: the digest's one read of
//! the store, shared by the web pages, the feed, the JSON API, preview and sending. Bounded
//! whatever a member publishes: per member, the week is read from the store's river index,
//! at most `MAX_POSTS_PER_MEMBER` posts are read (without their HTML, which no digest shows)
//! and the rest are counted from the index's keys.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};

use super::{compose_counted, Digest, Week, MAX_POSTS_PER_MEMBER};
use crate::config::{Config, MemberId};
use crate::model::Post;
use crate::store::Store;

/// Entries of one member's week counted at most (keys only).
pub const MAX_COUNTED_PER_MEMBER: usize = 10_000;

/// What the digest of a week lists, and per member how many more posts it did not read.
#[derive(Debug, Default)]
pub struct WeekPosts {
    /// Posts without their HTML (`content_html` is empty): excerpts are what digests show.
    pub posts: Vec<Post>,
    /// Per member, posts of the week past the daily cap or past the posts listed.
    pub unlisted: HashMap<MemberId, usize>,
}

/// The posts published in `week` by configured members, less any taken down, a first
/// fetch's backlog, and copies of an article (listed through their canonical post); at most
/// `[river] max_per_member_per_day` of a member's day and `MAX_POSTS_PER_MEMBER` of its week.
pub fn week_posts(config: &Config, store: &Store, week: Week) -> anyhow::Result<WeekPosts> {
    let zone = config.site.timezone;
    let (starts, ends) = (week.start(zone).timestamp_millis(), week.end(zone).timestamp_millis());
    let day_of = |millis: i64| {
        DateTime::<Utc>::from_timestamp_millis(millis).unwrap_or_default().with_timezone(&zone).date_naive()
    };
    let mut week_posts = WeekPosts::default();
    for member in &config.members {
        let mut day: Option<(NaiveDate, usize)> = None;
        let mut listed = 0;
        let mut unlisted = 0;
        for entry in store.river_entries_newest_first(&member.id, starts, ends).take(MAX_COUNTED_PER_MEMBER) {
            let (millis, id) = entry?;
            if store.is_hidden(&id) {
                continue;
            }
            let today = day_of(millis);
            let shown_today = match day {
                Some((d, shown)) if d == today => shown,
                _ => 0,
            };
            if shown_today >= config.river.max_per_member_per_day || listed >= MAX_POSTS_PER_MEMBER {
                unlisted += 1;
                continue;
            }
            // A damaged post is skipped (the store counts it), not the digest.
            let Some(mut post) = store.post_at(millis, &id)? else { continue };
            post.content_html = crate::sanitize::SafeHtml::default();
            week_posts.posts.push(post);
            day = Some((today, shown_today + 1));
            listed += 1;
        }
        if unlisted > 0 {
            week_posts.unlisted.insert(member.id.clone(), unlisted);
        }
    }
    Ok(week_posts)
}

/// The digest of `week` as the store holds it now.
pub fn compose_week(config: &Config, store: &Store, week: Week) -> anyhow::Result<Digest> {
    let WeekPosts { posts, unlisted } = week_posts(config, store, week)?;
    Ok(compose_counted(
        &config.site,
        &config.digest,
        &config.river,
        &config.members,
        &posts,
        &unlisted,
        &config.events,
        week,
    ))
}
