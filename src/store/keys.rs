//! Key layouts. Times are milliseconds since the epoch as big-endian u64 with the sign bit
//! flipped, so byte order is time order (dates before 1970 included) and a reverse scan is
//! newest first. Member ids cannot hold a NUL, so NUL separates them from what follows.

use chrono::{DateTime, Utc};

use crate::config::MemberId;

/// The 8 bytes that order a time.
pub fn time_bytes(time: DateTime<Utc>) -> [u8; 8] {
    millis_bytes(time.timestamp_millis())
}

fn millis_bytes(millis: i64) -> [u8; 8] {
    ((millis as u64) ^ (1 << 63)).to_be_bytes()
}

/// The time at the start of a timeline key (or in a `post_index` value; or of a version-1
/// `posts_by_member` key after the member).
pub fn time_of(key: &[u8]) -> Option<DateTime<Utc>> {
    let bytes: [u8; 8] = key.get(..8)?.try_into().ok()?;
    DateTime::from_timestamp_millis((u64::from_be_bytes(bytes) ^ (1 << 63)) as i64)
}

/// A timeline key: (published, id), so posts near in time sit in the same pages.
pub fn by_time(published: DateTime<Utc>, id: &str) -> Vec<u8> {
    with_id(&time_bytes(published), id)
}

pub fn by_millis(millis: i64, id: &str) -> Vec<u8> {
    with_id(&millis_bytes(millis), id)
}

/// The time bytes of a timeline key followed by the id.
pub fn with_id(time: &[u8], id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(time.len() + id.len());
    key.extend_from_slice(time);
    key.extend_from_slice(id.as_bytes());
    key
}

/// The id in a timeline key (or in the part of a version-1 `posts_by_member` key after the
/// member).
pub fn id_after_time(key: &[u8]) -> &str {
    std::str::from_utf8(key.get(8..).unwrap_or_default()).unwrap_or_default()
}

pub fn member_prefix(member: &MemberId) -> Vec<u8> {
    let mut key = member.as_str().as_bytes().to_vec();
    key.push(0);
    key
}

pub fn feed(member: &MemberId, feed_url: &str) -> Vec<u8> {
    let mut key = member_prefix(member);
    key.extend_from_slice(feed_url.as_bytes());
    key
}
