//! The river's daily cap: the combined feeds, the home page and the digest show at most
//! `[river] max_per_member_per_day` posts of one member on one day (in the site's time zone),
//! so that a member who publishes thirty posts in an afternoon does not fill the page.
//! Member feeds, member pages and the API are not capped. Pure: no I/O, no clock. The
//! combined feeds and the home page apply the same rule per member while they merge the
//! store's river index (`http::river`); the digest applies it here to a week's posts.

use std::collections::HashMap;

use chrono::NaiveDate;
use chrono_tz::Tz;

use crate::model::{MemberId, Post};

/// Counts, for posts seen newest first, how many of each member's day have been let
/// through, and how many held back.
#[derive(Debug)]
pub struct DailyCap {
    limit: usize,
    timezone: Tz,
    shown: HashMap<(MemberId, NaiveDate), usize>,
}

impl DailyCap {
    pub fn new(limit: usize, timezone: Tz) -> DailyCap {
        DailyCap { limit, timezone, shown: HashMap::new() }
    }

    /// The member's day that `post` belongs to.
    pub fn day_of(&self, post: &Post) -> (MemberId, NaiveDate) {
        (post.member.clone(), post.published.with_timezone(&self.timezone).date_naive())
    }

    /// Whether `post` is within its member's daily limit (and counts it if so).
    pub fn admit(&mut self, post: &Post) -> bool {
        let shown = self.shown.entry(self.day_of(post)).or_insert(0);
        if *shown < self.limit {
            *shown += 1;
            return true;
        }
        false
    }
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
        Post::for_tests(member, id, Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap())
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
}
