//! The river: the posts the combined feeds and the home page show, newest first, without a
//! first fetch's backlog or copies and with at most `[river] max_per_member_per_day` posts of
//! one member on one day. Read per member from the store's river index and merged: each
//! configured member is one seek, a member's day past the cap is skipped with one more, so a
//! page costs (members + page size) seeks and reads whatever any one member publishes.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;

use super::{AppState, Error};
use crate::config::MemberId;
use crate::model::Post;
use crate::store::{Position, RiverEntry, Store};

/// A page of the river and, per post, how many posts of its member's day were held back
/// (non-zero only on the last shown post of that day).
pub struct RiverPage {
    pub posts: Vec<Post>,
    pub held_back: Vec<usize>,
}

/// Held-back posts of one member's day counted at most (keys only); a flood shows this many.
pub const MAX_HELD_BACK_COUNTED: usize = 1_000;

/// One member's place in the merge: its next entry and how much of that entry's day it has
/// shown (on this page, or on the newer pages before the cursor).
struct MemberStream<'a> {
    member: &'a MemberId,
    next: Option<RiverEntry>,
    day: Option<NaiveDate>,
    shown_of_day: usize,
}

/// What the merge reads with.
struct Reader<'a> {
    store: &'a Store,
    zone: Tz,
    limit_per_day: usize,
}

/// Up to `limit` river posts older than `after`.
pub fn river_posts(state: &AppState, after: Option<&Position>, limit: usize) -> Result<RiverPage, Error> {
    let config = state.service.config();
    let reader = Reader {
        store: &state.service.store,
        zone: config.site.timezone,
        limit_per_day: config.river.max_per_member_per_day,
    };
    let cursor = after.map(|p| (p.published.timestamp_millis(), p.id.clone()));
    let mut streams = Vec::with_capacity(config.members.len());
    let mut heap = BinaryHeap::new();
    for member in &config.members {
        let mut stream = MemberStream { member: &member.id, next: None, day: None, shown_of_day: 0 };
        if let Some((millis, id)) = &cursor {
            reader.replay_day_before(&mut stream, *millis, id)?;
        }
        stream.next = reader.next_entry(&stream, cursor.as_ref().map(|(m, i)| (*m, i.as_str())))?;
        if let Some((millis, id)) = &stream.next {
            heap.push((*millis, id.clone(), Reverse(streams.len())));
        }
        streams.push(stream);
    }
    let mut posts = Vec::with_capacity(limit.min(256));
    let mut day_ends = Vec::new();
    while posts.len() < limit {
        let Some((millis, id, Reverse(index))) = heap.pop() else { break };
        let stream = &mut streams[index];
        let day = reader.day_of(millis);
        if stream.day != Some(day) {
            stream.day = Some(day);
            stream.shown_of_day = 0;
        }
        stream.shown_of_day += 1;
        // A post read fails only when the store is damaged; it is skipped, not the page.
        if let Some(post) = reader.store.post_at(millis, &id)? {
            if stream.shown_of_day == reader.limit_per_day {
                day_ends.push((posts.len(), stream.member, day));
            }
            posts.push(post);
        }
        stream.next = reader.next_entry(stream, Some((millis, &id)))?;
        if let Some((millis, id)) = &stream.next {
            heap.push((*millis, id.clone(), Reverse(index)));
        }
    }
    let mut held_back = vec![0; posts.len()];
    for (index, member, day) in day_ends {
        held_back[index] = reader.held_back(member, day)?;
    }
    Ok(RiverPage { posts, held_back })
}

impl Reader<'_> {
    fn day_of(&self, millis: i64) -> NaiveDate {
        let time = DateTime::<Utc>::from_timestamp_millis(millis).unwrap_or_default();
        time.with_timezone(&self.zone).date_naive()
    }

    /// The first instant of `day` in the site's zone, in milliseconds.
    fn start_of(&self, day: NaiveDate) -> i64 {
        let start = day.and_time(NaiveTime::MIN).and_local_timezone(self.zone).earliest();
        start.map(|t| t.timestamp_millis()).unwrap_or(i64::MIN)
    }

    /// The stream's next entry older than `before`: hidden posts are stepped over (few: an
    /// admin hides them one by one), and a day whose cap is reached is left with one seek.
    fn next_entry(&self, stream: &MemberStream, before: Option<(i64, &str)>) -> Result<Option<RiverEntry>, Error> {
        let mut before = before.map(|(millis, id)| (millis, id.to_string()));
        loop {
            let bound = before.as_ref().map(|(millis, id)| (*millis, id.as_str()));
            let Some((millis, id)) = self.store.river_entry_before(stream.member, bound)? else { return Ok(None) };
            let day = self.day_of(millis);
            if stream.day == Some(day) && stream.shown_of_day >= self.limit_per_day {
                before = Some((self.start_of(day), String::new()));
            } else if self.store.is_hidden(&id) {
                before = Some((millis, id));
            } else {
                return Ok(Some((millis, id)));
            }
        }
    }

    /// A page that starts inside a day counts what the newer pages showed of the member's day:
    /// its visible entries of that day from the cursor on (the cursor's own post, the last
    /// one shown, included), up to the cap (so at most the cap's worth, plus hidden ones, are
    /// read).
    fn replay_day_before(&self, stream: &mut MemberStream, millis: i64, id: &str) -> Result<(), Error> {
        let day = self.day_of(millis);
        let until = self.start_of(day + TimeDelta::days(1));
        let mut shown = 0;
        for entry in self.store.river_entries_from(stream.member, (millis, id), until) {
            if shown >= self.limit_per_day {
                break;
            }
            if !self.store.is_hidden(&entry?.1) {
                shown += 1;
            }
        }
        stream.day = Some(day);
        stream.shown_of_day = shown;
        Ok(())
    }

    /// Posts of `member`'s `day` past the cap, counted from the index's keys (at most
    /// `MAX_HELD_BACK_COUNTED`).
    fn held_back(&self, member: &MemberId, day: NaiveDate) -> Result<usize, Error> {
        let from = self.start_of(day);
        let until = self.start_of(day + TimeDelta::days(1));
        let mut visible = 0;
        for entry in
            self.store.river_entries_from(member, (from, ""), until).take(self.limit_per_day + MAX_HELD_BACK_COUNTED)
        {
            if !self.store.is_hidden(&entry?.1) {
                visible += 1;
            }
        }
        Ok(usize::saturating_sub(visible, self.limit_per_day))
    }
}
