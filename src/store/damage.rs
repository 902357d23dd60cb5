//! Damaged posts: a body-log record that cannot be read (a file truncated, deleted or with
//! flipped bytes, so its CRC fails) is one post's loss, never every reader's. Readers skip it
//! and it is counted here (the log names each id once; `/healthz` and `/metrics` show the
//! count); a refresh that meets it writes it again from the feed; `planet store check` finds
//! every one and `--repair` drops them, so the store is whole again.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{counter_or_zero, encode, keys, PostSummary, Store, POSTS_COUNTER};
use crate::config::MemberId;
use crate::model::{DateSource, Post};

/// What `planet store check` found.
#[derive(Debug, Default, Serialize)]
pub struct DamageReport {
    pub posts_checked: usize,
    pub damaged: Vec<DamagedPost>,
    pub dropped: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct DamagedPost {
    pub id: String,
    pub published: Option<chrono::DateTime<chrono::Utc>>,
    pub reason: String,
}

impl Store {
    /// The post a `timeline` entry names, or `None` (counted as damage) when it cannot be read.
    pub(super) fn read_or_note_damage(&self, id: &str, value: &[u8]) -> Option<Post> {
        match self.decode_stored(value) {
            Ok(post) => Some(self.without_hidden_links(post)),
            Err(error) => {
                // A reader that took the reference before a refresh rewrote the post must not
                // count it again once the refresh has forgotten it: only the current one counts.
                if self.post_bytes(id).ok().flatten().as_deref() == Some(value) {
                    self.note_damage(id, &error);
                }
                None
            }
        }
    }

    /// Records that post `id` could not be read; the log names it the first time only.
    pub(super) fn note_damage(&self, id: &str, error: &anyhow::Error) {
        let mut damaged = self.damaged.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if damaged.insert(id.to_string(), format!("{error:#}")).is_none() {
            tracing::error!(post = id, "a stored post is damaged and left out of every output: {error:#}");
        }
    }

    /// Posts found damaged since the store was opened and not written again since.
    pub fn damaged_posts(&self) -> usize {
        self.damaged.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len()
    }

    /// A rewritten post is whole again.
    pub(super) fn forget_damage<'a>(&self, ids: impl Iterator<Item = &'a str>) {
        let mut damaged = self.damaged.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !damaged.is_empty() {
            for id in ids {
                damaged.remove(id);
            }
        }
    }

    /// What a refresh compares a fresh post with when the stored one is damaged: its place in
    /// time (from the indexes, which are whole) and nothing else, so the fresh post is
    /// written over it and keeps its date.
    pub(super) fn damaged_summary(&self, id: &str, time: &[u8]) -> PostSummary {
        let published = keys::time_of(time).unwrap_or_default();
        PostSummary {
            id: id.to_string(),
            published,
            first_seen: published,
            date_source: DateSource::FirstSeen,
            content_hash: String::new(),
            tags: Vec::new(),
            author: None,
            updated: None,
            backlog: false,
            duplicate_of: None,
            also_on: Vec::new(),
            also_by: Vec::new(),
        }
    }

    /// Reads every post; lists those that cannot be read and, with `repair`, drops them from
    /// every index (their member's next fetch stores them again if the feed still has them).
    pub fn check_posts(&self, repair: bool) -> anyhow::Result<DamageReport> {
        let mut report = DamageReport::default();
        for item in self.timeline.iter() {
            let (key, value) = item?;
            report.posts_checked += 1;
            if let Err(error) = self.decode_stored(&value) {
                let id = keys::id_after_time(&key).to_string();
                report.damaged.push(DamagedPost { id, published: keys::time_of(&key), reason: format!("{error:#}") });
            }
        }
        if repair {
            for damaged in &report.damaged {
                report.dropped += usize::from(self.drop_post(&damaged.id)?);
            }
            // Once, not per post: a dropped post may have been its member's last.
            self.load_stored_members()?;
            self.flush()?;
        }
        Ok(report)
    }

    /// Removes post `id` from the timeline, the indexes and its member's aliases, and queues
    /// it for the search index to forget. Its member is found by the post list that holds it.
    fn drop_post(&self, id: &str) -> anyhow::Result<bool> {
        let _writing = self.lock_post_writes();
        let Some(time) = self.post_index.remove(id)? else { return Ok(false) };
        self.timeline.remove(keys::with_id(&time, id))?;
        let published = keys::time_of(&time).unwrap_or_default();
        if let Some(member) = self.unindex_post(id, published)? {
            self.remove_river_entry(&member, &time, id)?;
            self.forget_validators(&member)?;
        }
        self.search_pending.insert(id.as_bytes(), &self.db.generate_id()?.to_be_bytes())?;
        let count = counter_or_zero(self.counters.get(POSTS_COUNTER)?)?.saturating_sub(1);
        self.counters.insert(POSTS_COUNTER, &count.to_be_bytes())?;
        self.post_count.store(count, std::sync::atomic::Ordering::Release);
        self.forget_damage(std::iter::once(id));
        self.changed();
        Ok(true)
    }
}

impl Store {
    /// The member's next fetch is a whole one (no `If-None-Match`), so posts dropped here come
    /// back even from a feed that has not changed.
    fn forget_validators(&self, member: &MemberId) -> anyhow::Result<()> {
        for item in self.feeds.scan_prefix(keys::member_prefix(member)) {
            let (key, value) = item?;
            let mut state: crate::model::FeedState = super::decode(&value)?;
            state.etag = None;
            state.last_modified = None;
            self.feeds.insert(key, encode(&state)?)?;
        }
        Ok(())
    }
}

/// Damage seen by readers: post id to what was wrong.
pub(super) type DamageSeen = std::sync::Arc<std::sync::Mutex<BTreeMap<String, String>>>;
