//! The river's daily cap: the combined feeds, the home page and the digest show at most
//! `[river] max_per_member_per_day` posts of one member on one day (in the site's time zone),
//! so that a member who publishes thirty posts in an afternoon does not fill the page.
//! Member feeds, member pages and the API are not capped. Pure: no I/O, no clock.

use std::collections::HashMap;

use chrono::NaiveDate;
use chrono_tz::Tz;

use crate::model::{MemberId, Post};

/// The most posts a capped scan steps over before it gives up filling its page: a flood of
/// ten thousand posts in a day must not make one render read ten thousand posts.
pub const MAX_HELD_BACK_PER_SCAN: usize = 2_000;

/// Counts, for posts seen newest first, how many of each member's day have been let
/// through, and how many held back.
#[derive(Debug)]
pub struct DailyCap {
    limit: usize,
    timezone: Tz,
    shown: HashMap<(MemberId, NaiveDate), usize>,
    held_back: HashMap<(MemberId, NaiveDate), usize>,
    held_back_total: usize,
}

impl DailyCap {
    pub fn new(limit: usize, timezone: Tz) -> DailyCap {
        DailyCap { limit, timezone, shown: HashMap::new(), held_back: HashMap::new(), held_back_total: 0 }
    }

    /// The member's day that `post` belongs to.
    pub fn day_of(&self, post: &Post) -> (MemberId, NaiveDate) {
        (post.member.clone(), post.published.with_timezone(&self.timezone).date_naive())
    }

    /// Whether `post` is within its member's daily limit; counts it either way.
    pub fn admit(&mut self, post: &Post) -> bool {
        let day = self.day_of(post);
        let shown = self.shown.entry(day.clone()).or_insert(0);
        if *shown < self.limit {
            *shown += 1;
            return true;
        }
        *self.held_back.entry(day).or_insert(0) += 1;
        self.held_back_total += 1;
        false
    }

    /// How many posts of `post`'s member and day were held back so far.
    pub fn held_back_for(&self, post: &Post) -> usize {
        self.held_back.get(&self.day_of(post)).copied().unwrap_or(0)
    }

    /// Whether the scan has stepped over so many posts that it should stop.
    pub fn exhausted(&self) -> bool {
        self.held_back_total >= MAX_HELD_BACK_PER_SCAN
    }
}

/// For each post of a capped page (newest first), how many posts of the same member and day
/// were held back, on the last shown post of that member's day and 0 elsewhere: the page
/// says "还有 N 篇" once, under the last post it shows.
pub fn held_back_notes(cap: &DailyCap, posts: &[Post]) -> Vec<usize> {
    let mut notes = vec![0; posts.len()];
    let mut last_of_day: HashMap<(MemberId, NaiveDate), usize> = HashMap::new();
    for (index, post) in posts.iter().enumerate() {
        last_of_day.insert(cap.day_of(post), index);
    }
    for (day, index) in last_of_day {
        notes[index] = cap.held_back.get(&day).copied().unwrap_or(0);
    }
    notes
}

/// Keeps at most `limit` posts per member per day of `posts` (newest first), returning those
/// kept and, per member, how many were held back.
pub fn cap_posts<'a>(posts: &[&'a Post], limit: usize, timezone: Tz) -> (Vec<&'a Post>, HashMap<MemberId, usize>) {
    let mut cap = DailyCap::new(limit, timezone);
    let mut held_back: HashMap<MemberId, usize> = HashMap::new();
    let mut kept = Vec::with_capacity(posts.len());
    for post in posts {
        if cap.admit(post) {
            kept.push(*post);
        } else {
            *held_back.entry(post.member.clone()).or_insert(0) += 1;
        }
    }
    (kept, held_back)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn post(member: &str, id: &str, hour: u32, day: u32) -> Post {
        let published = Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap();
        Post {
            id: id.into(),
            member: MemberId::parse(member).unwrap(),
            feed_url: "https://x.cn/feed".into(),
            guid: None,
            url: None,
            title: id.into(),
            author: None,
            published,
            updated: None,
            first_seen: published,
            date_source: crate::model::DateSource::Feed,
            tags: vec![],
            excerpt: String::new(),
            content_html: crate::sanitize::html("", None),
            content_hash: "h".into(),
            backlog: false,
            duplicate_of: None,
            also_on: Vec::new(),
            also_by: Vec::new(),
        }
    }

    #[test]
    fn a_member_gets_at_most_the_limit_per_local_day_and_others_are_untouched() {
        // 20:00 UTC on the 2nd is 04:00 on the 3rd in Shanghai: a different local day.
        let posts = [
            post("a", "a1", 23, 2),
            post("a", "a2", 22, 2),
            post("b", "b1", 21, 2),
            post("a", "a3", 20, 2),
            post("a", "a4", 10, 2),
            post("a", "a5", 9, 2),
            post("a", "a6", 8, 2),
        ];
        let refs: Vec<&Post> = posts.iter().collect();
        let (kept, held_back) = cap_posts(&refs, 2, chrono_tz::Asia::Shanghai);
        let ids: Vec<&str> = kept.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["a1", "a2", "b1", "a4", "a5"]);
        assert_eq!(held_back.get(&MemberId::parse("a").unwrap()), Some(&2));
        assert_eq!(held_back.get(&MemberId::parse("b").unwrap()), None);
    }

    #[test]
    fn the_note_sits_under_the_last_shown_post_of_each_capped_day() {
        let posts = [post("a", "a1", 10, 2), post("b", "b1", 9, 2), post("a", "a2", 8, 2), post("a", "a3", 7, 2)];
        let mut cap = DailyCap::new(2, chrono_tz::Asia::Shanghai);
        let shown: Vec<Post> = posts.iter().filter(|p| cap.admit(p)).cloned().collect();
        assert_eq!(held_back_notes(&cap, &shown), [0, 0, 1]);
    }
}
