//! The river: the posts the combined feeds and the home page show, newest first, without a
//! first fetch's backlog and with at most `[river] max_per_member_per_day` posts of one
//! member on one day (the cap itself is `crate::river`, pure; this is its reading of the store).

use std::cell::RefCell;

use chrono::{NaiveTime, TimeDelta};

use super::{visible_posts, AppState, Error, Verdict};
use crate::model::Post;
use crate::river::{held_back_notes, DailyCap};
use crate::store::Position;

/// A page of the river and, per post, how many posts of its member's day were held back
/// (non-zero only on the last shown post of that day).
pub struct RiverPage {
    pub posts: Vec<Post>,
    pub held_back: Vec<usize>,
}

/// Up to `limit` river posts older than `after`.
pub fn river_posts(state: &AppState, after: Option<&Position>, limit: usize) -> Result<RiverPage, Error> {
    let config = state.service.config();
    let cap = RefCell::new(DailyCap::new(config.river.max_per_member_per_day, config.site.timezone));
    if let Some(after) = after {
        replay_newer_posts_of_the_day(state, after, &mut cap.borrow_mut())?;
    }
    let posts = visible_posts(state, None, after, limit, |post| {
        let mut cap = cap.borrow_mut();
        if post.backlog {
            Verdict::Skip
        } else if cap.exhausted() {
            Verdict::Stop
        } else if cap.admit(post) {
            Verdict::Keep
        } else {
            Verdict::Skip
        }
    })?;
    let held_back = held_back_notes(&cap.borrow(), &posts);
    Ok(RiverPage { posts, held_back })
}

/// The most posts of the cursor's day read again to replay the cap.
const MAX_REPLAYED: usize = 5_000;

/// A page that starts inside a day must count what the newer page showed of that day: the
/// posts of the cursor's day that are newer than it go through the cap again, in the same
/// order, so that paging never shows more of one member's day than one long page would.
fn replay_newer_posts_of_the_day(state: &AppState, after: &Position, cap: &mut DailyCap) -> Result<(), Error> {
    let config = state.service.config();
    let store = &state.service.store;
    let zone = config.site.timezone;
    let day = after.published.with_timezone(&zone).date_naive();
    let next_midnight = (day + TimeDelta::days(1)).and_time(NaiveTime::MIN).and_local_timezone(zone).earliest();
    let Some(day_end) = next_midnight else { return Ok(()) };
    let start = Position { published: day_end.to_utc(), id: String::new() };
    let cursor = (after.published.timestamp_millis(), after.id.as_str());
    // Bounded like the page's own scan: a day of ten thousand posts is not read to the end.
    for post in store.posts_newest_first(Some(&start)).take(MAX_REPLAYED) {
        let post = post?;
        if (post.published.timestamp_millis(), post.id.as_str()) <= cursor || cap.exhausted() {
            break;
        }
        if !post.backlog && config.shows_member(post.member.as_str()) && !store.is_hidden(&post.id) {
            cap.admit(&post);
        }
    }
    Ok(())
}
