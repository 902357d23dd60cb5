//! Per-member indexes in buckets: a member's posts in time order, one value per 30 days of
//! publication time, and the aliases (GUID and normalized link) that find a stored post
//! again, in 65,536 buckets by hash for all members together. A save rewrites only the buckets its posts
//! fall in, so it costs what changed, not the member's history (a value per member made
//! every save and every import batch O(history)); and there are still far fewer keys than
//! posts, which matters because sled 0.34 keeps metadata for every page in memory and splits
//! a leaf at 16 keys (one key per post made these indexes three fifths of the pages).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{keys, Position};
use crate::config::MemberId;

/// The span of publication time one `member_posts` value holds: a 10-year blog with
/// 20,000 posts has ~170 in each.
const POST_BUCKET_MILLIS: i64 = 30 * 24 * 60 * 60 * 1000;

/// The `member_posts` key of the bucket that holds a post published at `millis`:
/// member NUL bucket number (8 bytes, ordered as times are).
pub fn posts_key(member: &MemberId, millis: i64) -> Vec<u8> {
    let mut key = keys::member_prefix(member);
    key.extend_from_slice(&ordered(millis.div_euclid(POST_BUCKET_MILLIS)));
    key
}

/// The last possible `member_posts` key of a member: a reverse range up to it starts at the
/// member's newest bucket.
pub fn posts_key_last(member: &MemberId) -> Vec<u8> {
    let mut key = keys::member_prefix(member);
    key.extend_from_slice(&[0xFF; 8]);
    key
}

fn ordered(number: i64) -> [u8; 8] {
    ((number as u64) ^ (1 << 63)).to_be_bytes()
}

/// How many alias buckets there are, for every member together: ~30 aliases each at
/// 1,000,000 posts. Spread over all members rather than per member, so that an import batch
/// (a hundred posts of each member) rewrites ~30 entries per alias it adds, not every bucket
/// of the member (which made the import rewrite a member's aliases per batch again).
const ALIAS_BUCKETS: u64 = 1 << 16;

/// The `member_aliases` key of the bucket that holds `alias` of `member`: NUL, then two
/// bytes of the SHA-256 of the entry (stable across Rust versions, unlike std's hasher). The
/// NUL sets it apart from a schema-3 key (a member id).
pub fn alias_key(member: &MemberId, alias: &str) -> Vec<u8> {
    alias_bucket_key(alias_bucket(member, alias))
}

/// The number of the bucket that holds `alias` of `member`.
pub fn alias_bucket(member: &MemberId, alias: &str) -> u16 {
    let digest = Sha256::digest(alias_entry(member, alias).as_bytes());
    (u64::from_be_bytes(digest[..8].try_into().expect("a SHA-256 has 32 bytes")) % ALIAS_BUCKETS) as u16
}

/// The `member_aliases` key of bucket number `bucket`.
pub fn alias_bucket_key(bucket: u16) -> Vec<u8> {
    let mut key = vec![0];
    key.extend_from_slice(&bucket.to_be_bytes());
    key
}

/// An alias as its bucket names it: member NUL alias.
pub fn alias_entry(member: &MemberId, alias: &str) -> String {
    format!("{member}\0{alias}")
}

/// The member a bucket key belongs to; `None` for a key of the one-value-per-member layout
/// (schema 3), which has no NUL.
pub fn member_of(key: &[u8]) -> Option<&str> {
    let end = key.iter().position(|byte| *byte == 0)?;
    std::str::from_utf8(&key[..end]).ok()
}

/// Posts of one bucket as (published, in milliseconds since the epoch; id), oldest first,
/// ordered as the timeline keys are: by time, then by id bytes.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberPosts(Vec<(i64, String)>);

impl MemberPosts {
    fn position_of(&self, millis: i64, id: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(m, i)| (*m, i.as_bytes()).cmp(&(millis, id.as_bytes())))
    }

    pub fn insert_millis(&mut self, millis: i64, id: &str) {
        if let Err(at) = self.position_of(millis, id) {
            self.0.insert(at, (millis, id.to_string()));
        }
    }

    pub fn insert(&mut self, published: DateTime<Utc>, id: &str) {
        self.insert_millis(published.timestamp_millis(), id);
    }

    pub fn remove(&mut self, published: DateTime<Utc>, id: &str) {
        if let Ok(at) = self.position_of(published.timestamp_millis(), id) {
            self.0.remove(at);
        }
    }

    pub fn contains(&self, published: DateTime<Utc>, id: &str) -> bool {
        self.position_of(published.timestamp_millis(), id).is_ok()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
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

    /// The newest entry strictly older than (`millis`, `id`), or the newest of all.
    pub fn newest_before(&self, before: Option<(i64, &str)>) -> Option<&(i64, String)> {
        let end = match before {
            Some((millis, id)) => self.position_of(millis, id).unwrap_or_else(|at| at),
            None => self.0.len(),
        };
        end.checked_sub(1).map(|last| &self.0[last])
    }

    /// The entries from (`millis`, `id`), included, to `until` milliseconds, excluded, oldest
    /// first.
    pub fn entries_between(&self, (millis, id): (i64, &str), until: i64) -> &[(i64, String)] {
        let start = self.position_of(millis, id).unwrap_or_else(|at| at);
        let end = self.position_of(until, "").unwrap_or_else(|at| at);
        self.0.get(start..end.max(start)).unwrap_or_default()
    }

    /// Every entry, oldest first.
    pub fn entries(&self) -> impl Iterator<Item = &(i64, String)> + '_ {
        self.0.iter()
    }

    /// Publication times, oldest first (a time outside chrono's range is skipped).
    pub fn times(&self) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        self.0.iter().filter_map(|(millis, _)| DateTime::from_timestamp_millis(*millis))
    }
}

/// Aliases of one bucket: member NUL `guid:...` or `link:...` (`alias_entry`) to the id of
/// the post it finds.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberAliases(BTreeMap<String, String>);

impl MemberAliases {
    pub fn get(&self, alias: &str) -> Option<&str> {
        self.0.get(alias).map(String::as_str)
    }

    pub fn insert(&mut self, alias: String, id: &str) {
        self.0.insert(alias, id.to_string());
    }

    /// Forgets every alias of the member whose entries start with `member_prefix` (member
    /// NUL) that finds post `id`; whether there was one.
    pub fn remove_id_of(&mut self, member_prefix: &[u8], id: &str) -> bool {
        let before = self.0.len();
        self.0.retain(|entry, found| !(found == id && entry.as_bytes().starts_with(member_prefix)));
        self.0.len() != before
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn entries(&self) -> impl Iterator<Item = (&String, &String)> + '_ {
        self.0.iter()
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
