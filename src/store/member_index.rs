//! Per-member indexes, one value per member: the member's posts in time order, and the
//! aliases (GUID and normalized link) that find a stored post again. One value per member
//! instead of one key per post matters at scale: sled 0.34 keeps metadata for every page in
//! memory and splits a leaf at 16 keys, so at 100,000 posts these two indexes as keys were
//! three fifths of the pages and of the memory held while serving (see BENCHMARKS.md).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Position;

/// One member's posts as (published, in milliseconds since the epoch; id), oldest first,
/// ordered as the timeline keys are: by time, then by id bytes.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberPosts(Vec<(i64, String)>);

impl MemberPosts {
    fn position_of(&self, millis: i64, id: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(m, i)| (*m, i.as_bytes()).cmp(&(millis, id.as_bytes())))
    }

    pub fn insert(&mut self, published: DateTime<Utc>, id: &str) {
        let millis = published.timestamp_millis();
        if let Err(at) = self.position_of(millis, id) {
            self.0.insert(at, (millis, id.to_string()));
        }
    }

    pub fn remove(&mut self, published: DateTime<Utc>, id: &str) {
        if let Ok(at) = self.position_of(published.timestamp_millis(), id) {
            self.0.remove(at);
        }
    }

    pub fn contains(&self, published: DateTime<Utc>, id: &str) -> bool {
        self.position_of(published.timestamp_millis(), id).is_ok()
    }

    /// (published milliseconds, id) newest first, strictly older than `after` when given.
    pub fn newest_first(&self, after: Option<&Position>) -> Vec<(i64, String)> {
        let end = match after {
            Some(position) => match self.position_of(position.published.timestamp_millis(), &position.id) {
                Ok(at) | Err(at) => at,
            },
            None => self.0.len(),
        };
        self.0[..end].iter().rev().cloned().collect()
    }

    /// Publication times, oldest first (a time outside chrono's range is skipped).
    pub fn times(&self) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        self.0.iter().filter_map(|(millis, _)| DateTime::from_timestamp_millis(*millis))
    }
}

/// One member's aliases: `guid:...` or `link:...` to the id of the post it finds.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberAliases(BTreeMap<String, String>);

impl MemberAliases {
    pub fn get(&self, alias: &str) -> Option<&str> {
        self.0.get(alias).map(String::as_str)
    }

    pub fn insert(&mut self, alias: String, id: &str) {
        self.0.insert(alias, id.to_string());
    }

    /// Forgets every alias that finds post `id`.
    pub fn remove_id(&mut self, id: &str) {
        self.0.retain(|_, found| found != id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000 + minutes * 60, 0).unwrap()
    }

    fn ids(posts: &MemberPosts, after: Option<&Position>) -> Vec<String> {
        posts.newest_first(after).into_iter().map(|(_, id)| id).collect()
    }

    #[test]
    fn member_posts_keep_time_then_id_order_and_ignore_repeats() {
        let mut posts = MemberPosts::default();
        posts.insert(at(5), "b");
        posts.insert(at(1), "z");
        posts.insert(at(5), "a");
        posts.insert(at(5), "a");
        assert_eq!(ids(&posts, None), vec!["b", "a", "z"]);
    }

    #[test]
    fn member_posts_after_a_position_are_strictly_older() {
        let mut posts = MemberPosts::default();
        for (minutes, id) in [(1, "p1"), (2, "p2"), (3, "p3")] {
            posts.insert(at(minutes), id);
        }
        let after = Position { published: at(2), id: "p2".into() };
        assert_eq!(ids(&posts, Some(&after)), vec!["p1"]);
        // A position that is not itself stored still splits the list by time, then id.
        let between = Position { published: at(3), id: "a".into() };
        assert_eq!(ids(&posts, Some(&between)), vec!["p2", "p1"]);
    }

    #[test]
    fn removing_a_post_that_is_not_there_changes_nothing() {
        let mut posts = MemberPosts::default();
        posts.insert(at(1), "p1");
        posts.remove(at(2), "p1");
        posts.remove(at(1), "p2");
        assert_eq!(ids(&posts, None), vec!["p1"]);
        posts.remove(at(1), "p1");
        assert!(ids(&posts, None).is_empty());
    }
}
