//! The embedded store (sled 0.34; the only module that imports sled). Posts keyed by
//! (published, id), so that newest-first reads are one sequential scan over neighbouring
//! pages; an index from id to that key; per member its posts in time order and its aliases
//! (GUID and normalized link to post id, which keep identity stable), in buckets
//! (`member_index`); and per-feed fetch state. Each member refresh is one atomic transaction; `flush`
//! is called at the end of every pass. Posts themselves live in the body log beside sled's
//! files (`bodies`); `timeline` holds a reference to each.

mod bodies;
mod budget_use;
mod compaction;
mod damage;
mod digest;
mod index_fold;
mod keys;
mod member_buckets;
mod member_index;
mod migrate;
mod moderation;
mod notify;
mod open;
mod post_codec;
mod rewrite;
mod river;
mod search_outbox;
mod title_index;
mod transfer;
mod websub;
mod write;

use std::path::Path;

use anyhow::Context as _;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::config::MemberId;
use crate::model::{FeedState, Post};

pub use damage::{DamageReport, DamagedPost};
pub use digest::{Delivery, DeliveryStatus, Subscriber, SubscriberStatus, WeekSent};
pub use moderation::{Action, ModerationEvent, Via};
pub use notify::{ledger_name, Batch, Queued, TargetState};
use post_codec::decode_post;
pub use rewrite::{rewrite_sled_files, Rewritten};
pub use river::{in_river, RiverEntry};
pub use title_index::TitleEntry;
pub use transfer::{export, import, ImportCounts};
pub use websub::{Subscription, SubscriptionState};
pub use write::post_aliases;

/// The layout this code reads and writes. An older store is migrated on open (see
/// `migrate`); a store with a newer version is refused.
pub const SCHEMA_VERSION: u32 = 4;

/// A cheap-to-clone handle on the open store.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    /// The stored posts, which `timeline` refers to.
    bodies: std::sync::Arc<bodies::BodyLog>,
    /// Posts by (published, id): what is read together is stored together.
    timeline: sled::Tree,
    /// Post id to the time bytes of its timeline key.
    post_index: sled::Tree,
    member_posts: sled::Tree,
    member_aliases: sled::Tree,
    /// What the river may show, by member and time (`river`).
    river: sled::Tree,
    /// Posts by folded title, then time (`title_index`): the repost check's index.
    title_index: sled::Tree,
    /// Counts kept with the data they count (`posts`): sled's `len` reads every page.
    counters: sled::Tree,
    feeds: sled::Tree,
    subscribers: sled::Tree,
    deliveries: sled::Tree,
    digests_sent: sled::Tree,
    /// Post ids written since the search index last took them in, to a write sequence
    /// number: the index's outbox, filled in the same transaction as the post (see `search`).
    search_pending: sled::Tree,
    /// New river posts for the push targets, by write sequence number (`notify`), filled in
    /// the same transaction as the post.
    notify_pending: sled::Tree,
    /// Each push target's cursor and health, and its batches not yet delivered.
    notify_targets: sled::Tree,
    notify_batches: sled::Tree,
    /// WebSub subscriptions at members' hubs (`websub`).
    websub: sled::Tree,
    /// Hidden post ids to their hide event, and the audit log of hides and unhides.
    hidden: sled::Tree,
    moderation_log: sled::Tree,
    hidden_ids: std::sync::Arc<std::sync::RwLock<std::collections::BTreeSet<String>>>,
    /// The members the store holds posts of (`member_buckets`).
    stored_members: std::sync::Arc<std::sync::RwLock<member_buckets::StoredMembers>>,
    /// Bumped by every write, so caches of rendered output know when to rebuild.
    generation: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// The `posts` counter as last committed.
    post_count: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Held from a refresh's append to the body log until `post_count` shows its commit: two
    /// refreshes that commit in one order must not publish their counts in the other (the
    /// count would go back), and a compaction must not move a post while it is rewritten.
    post_writes: std::sync::Arc<std::sync::Mutex<()>>,
    /// Posts that could not be read since the store was opened (`damage`).
    damaged: damage::DamageSeen,
    /// The last write the store refused (a full disk), until one succeeds (`open`).
    write_failure: std::sync::Arc<std::sync::Mutex<open::WriteFailure>>,
    path: std::path::PathBuf,
}

const POSTS_COUNTER: &str = "posts";
/// Bytes of one body log file that no reference names any more (`compaction`): counted per
/// file, so what a compaction removes with a file goes with it and the rest stays exact.
fn body_garbage_counter(file: u32) -> String {
    format!("body_garbage:{file:06}")
}
/// The number of the body log file appends go to.
const BODY_FILE_KEY: &str = "body_file";

fn counter_value(bytes: &[u8]) -> anyhow::Result<u64> {
    Ok(u64::from_be_bytes(bytes.try_into().context("a counter in the store is corrupt")?))
}

/// A counter as stored, 0 when there is none yet.
fn counter_or_zero(bytes: Option<sled::IVec>) -> anyhow::Result<u64> {
    Ok(bytes.map(|bytes| counter_value(&bytes)).transpose()?.unwrap_or_default())
}

/// A position in the newest-first order: posts strictly older than this come next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub published: chrono::DateTime<chrono::Utc>,
    pub id: String,
}

/// Every stored value is wrapped with the version of its shape.
#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    v: u32,
    data: T,
}

fn encode<T: Serialize>(value: &T) -> anyhow::Result<Vec<u8>> {
    Ok(serde_json::to_vec(&Envelope { v: SCHEMA_VERSION, data: value })?)
}

/// A stored value, or the default when there is none (a member's first post or alias).
fn decode_or_default<T: DeserializeOwned + Default>(bytes: Option<sled::IVec>) -> anyhow::Result<T> {
    Ok(bytes.map(|bytes| decode(&bytes)).transpose()?.unwrap_or_default())
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> anyhow::Result<T> {
    let envelope: Envelope<T> = serde_json::from_slice(bytes).context("stored value is unreadable")?;
    anyhow::ensure!(envelope.v <= SCHEMA_VERSION, "stored value has version {} (newer than this planet)", envelope.v);
    Ok(envelope.data)
}

/// What an existing post needs to be compared with a fresh copy, read without its content.
#[derive(Debug, Clone, Deserialize)]
pub struct PostSummary {
    pub id: String,
    pub published: chrono::DateTime<chrono::Utc>,
    pub first_seen: chrono::DateTime<chrono::Utc>,
    pub date_source: crate::model::DateSource,
    pub content_hash: String,
    pub tags: Vec<String>,
    pub author: Option<String>,
    pub updated: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    pub backlog: bool,
    #[serde(default)]
    pub duplicate_of: Option<String>,
    #[serde(default)]
    pub also_on: Vec<crate::model::AlsoOn>,
    #[serde(default)]
    pub also_by: Vec<crate::model::AlsoBy>,
}

impl Store {
    /// Opens (or creates) the store. A store held by another process is a clear error: sled
    /// takes an exclusive lock on its files. Opens on a full disk too (`open::open_sled`);
    /// upkeep that writes (re-sanitizing, the river index, compaction) is then left for later.
    pub fn open(path: &Path, cache_bytes: u64) -> anyhow::Result<Store> {
        open::open_store(path, cache_bytes, open::Mode::ReadWrite)
    }

    /// Opens the store to read it (`export`, `store check`, the moderation log): nothing is
    /// written but what sled itself writes on open; a store that needs migrating is refused.
    pub fn open_read_only(path: &Path, cache_bytes: u64) -> anyhow::Result<Store> {
        open::open_store(path, cache_bytes, open::Mode::ReadOnly)
    }

    /// A name this store was given when it was created: derived data kept beside it (the
    /// search index) records it, so a store deleted and created again is not taken for the
    /// one the index was built from.
    pub fn identity(&self) -> anyhow::Result<String> {
        if let Some(bytes) = self.db.get("store_identity")? {
            return Ok(String::from_utf8_lossy(&bytes).into_owned());
        }
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let identity = format!("{nanos:x}-{:x}-{:x}", std::process::id(), self.db.generate_id()?);
        let _ = self.db.compare_and_swap("store_identity", None::<&[u8]>, Some(identity.as_bytes()))?;
        Ok(self.db.get("store_identity")?.map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or(identity))
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Held by whoever appends to the body log and commits references to it (`write`,
    /// `compaction`), so a compaction never moves a post a refresh is rewriting.
    fn lock_post_writes(&self) -> std::sync::MutexGuard<'_, ()> {
        self.post_writes.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn changed(&self) {
        self.generation.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// Posts newest first, starting after `after` (exclusive), as a lazy iterator.
    pub fn posts_newest_first(&self, after: Option<&Position>) -> impl Iterator<Item = anyhow::Result<Post>> + '_ {
        let range = match after {
            Some(position) => self.timeline.range(..keys::by_time(position.published, &position.id)),
            None => self.timeline.range::<&[u8], _>(..),
        };
        // A post that cannot be read is left out (and counted), not the rest of the list.
        range.rev().filter_map(|item| match item {
            Ok((key, value)) => self.read_or_note_damage(keys::id_after_time(&key), &value).map(Ok),
            Err(error) => Some(Err(error.into())),
        })
    }

    pub fn last_pass(&self) -> anyhow::Result<Option<chrono::DateTime<chrono::Utc>>> {
        self.db.get("last_pass")?.map(|bytes| decode(&bytes)).transpose()
    }

    pub fn set_last_pass(&self, time: chrono::DateTime<chrono::Utc>) -> anyhow::Result<()> {
        self.db.insert("last_pass", encode(&time)?)?;
        Ok(())
    }

    /// The version of the grouping of copies (`refresh::dedupe`) the stored posts were last
    /// grouped under; 0 for a store written before there was one, or just imported.
    pub fn grouping_version(&self) -> anyhow::Result<u32> {
        Ok(self.db.get("grouping_version")?.map(|bytes| decode(&bytes)).transpose()?.unwrap_or(0))
    }

    pub fn set_grouping_version(&self, version: u32) -> anyhow::Result<()> {
        self.db.insert("grouping_version", encode(&version)?)?;
        Ok(())
    }

    /// Writes what sled holds to disk (end of a pass); a refusal is what `/healthz` reports.
    pub fn flush(&self) -> anyhow::Result<()> {
        match self.db.flush().context("failed to flush the store") {
            Ok(_) => {
                self.note_flushed();
                Ok(())
            }
            Err(error) => {
                self.note_write_failure(&error);
                Err(error)
            }
        }
    }

    /// The `timeline` value of post `id` (a reference into the body log), found through the
    /// index.
    fn post_bytes(&self, id: &str) -> anyhow::Result<Option<sled::IVec>> {
        let Some(time) = self.post_index.get(id)? else { return Ok(None) };
        Ok(self.timeline.get(keys::with_id(&time, id))?)
    }

    /// The stored post a `timeline` value names: read from the body log, or (a store from
    /// before the log, until it is rewritten on open) the value itself.
    fn stored<'a>(&self, value: &'a [u8]) -> anyhow::Result<std::borrow::Cow<'a, [u8]>> {
        match bodies::BodyRef::decode(value) {
            Some(reference) => Ok(std::borrow::Cow::Owned(self.bodies.read(&reference)?)),
            None => Ok(std::borrow::Cow::Borrowed(value)),
        }
    }

    fn decode_stored(&self, value: &[u8]) -> anyhow::Result<Post> {
        decode_post(&self.stored(value)?)
    }

    /// Post `id`; `None` when there is none, or when it is damaged (counted).
    pub fn post(&self, id: &str) -> anyhow::Result<Option<Post>> {
        Ok(self.post_bytes(id)?.and_then(|bytes| self.read_or_note_damage(id, &bytes)))
    }

    /// Post `id`, looked up first where a search index says it is (its publication time in
    /// milliseconds): one `timeline` read instead of two, so a page of search hits leaves
    /// half as many of sled's pages resident. A post that moved in time since it was indexed
    /// is found through the index.
    pub fn post_published_at(&self, id: &str, published_millis: i64) -> anyhow::Result<Option<Post>> {
        match self.timeline.get(keys::by_millis(published_millis, id))? {
            Some(value) => Ok(self.read_or_note_damage(id, &value)),
            None => self.post(id),
        }
    }

    /// What a refresh compares a fresh post with. A damaged post gives a summary that only
    /// keeps its place in time, so the refresh writes the fresh copy over it.
    pub fn post_summary(&self, id: &str) -> anyhow::Result<Option<PostSummary>> {
        let Some(time) = self.post_index.get(id)? else { return Ok(None) };
        let Some(value) = self.timeline.get(keys::with_id(&time, id))? else { return Ok(None) };
        let summary = self.stored(&value).and_then(|stored| decode(&post_codec::unpack(&stored)?));
        match summary {
            Ok(summary) => Ok(Some(summary)),
            Err(error) => {
                self.note_damage(id, &error);
                Ok(Some(self.damaged_summary(id, &time)))
            }
        }
    }

    /// Every post id.
    pub fn post_ids(&self) -> impl Iterator<Item = anyhow::Result<String>> + '_ {
        self.post_index.iter().keys().map(|key| Ok(String::from_utf8_lossy(&key?).into_owned()))
    }

    /// Every post, oldest first (rebuilding derived data); damaged ones are left out.
    pub fn all_posts(&self) -> impl Iterator<Item = anyhow::Result<Post>> + '_ {
        self.timeline.iter().filter_map(|item| match item {
            Ok((key, value)) => self.read_or_note_damage(keys::id_after_time(&key), &value).map(Ok),
            Err(error) => Some(Err(error.into())),
        })
    }

    /// Bytes the store's files take on disk: sled's and the body log's.
    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0) + self.bodies.size_on_disk()
    }

    /// Bytes of the body log no post refers to any more.
    fn body_garbage(&self) -> anyhow::Result<u64> {
        let files = self.bodies.numbers();
        files.into_iter().map(|file| counter_or_zero(self.counters.get(body_garbage_counter(file))?)).sum()
    }

    /// Counts these replaced bodies as garbage of their files: one counter update per file.
    fn add_body_garbage(&self, replaced: impl Iterator<Item = bodies::BodyRef>) -> anyhow::Result<()> {
        for (file, bytes) in bodies::bytes_per_file(replaced) {
            self.counters.update_and_fetch(body_garbage_counter(file), |count| {
                let count = count.and_then(|b| counter_value(b).ok()).unwrap_or_default();
                Some((count + bytes).to_be_bytes().to_vec())
            })?;
        }
        Ok(())
    }

    pub fn post_count(&self) -> usize {
        self.post_count.load(std::sync::atomic::Ordering::Acquire) as usize
    }

    /// Newest first, at most `limit`.
    pub fn recent_posts(&self, limit: usize) -> anyhow::Result<Vec<Post>> {
        self.posts_newest_first(None).take(limit).collect()
    }

    /// A member's posts, newest first, at most `limit`.
    pub fn member_posts(&self, member: &MemberId, limit: usize) -> anyhow::Result<Vec<Post>> {
        self.member_posts_newest_first(member, None).take(limit).collect()
    }

    pub fn feed_state(&self, member: &MemberId, feed_url: &str) -> anyhow::Result<Option<FeedState>> {
        self.feeds.get(keys::feed(member, feed_url))?.map(|bytes| decode(&bytes)).transpose()
    }

    pub fn feed_states(&self) -> anyhow::Result<Vec<FeedState>> {
        self.feeds.iter().values().map(|value| decode(&value?)).collect()
    }

    pub fn put_feed_state(&self, member: &MemberId, state: &FeedState) -> anyhow::Result<()> {
        if let Err(error) = self.feeds.insert(keys::feed(member, &state.feed_url), encode(state)?) {
            let error = anyhow::Error::from(error);
            self.note_write_failure(&error);
            return Err(error);
        }
        self.changed();
        Ok(())
    }
}

#[cfg(test)]
mod member_bucket_tests;
#[cfg(test)]
mod rewrite_tests;
#[cfg(test)]
mod sled_leaf_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) use tests::write_version_1_store;
