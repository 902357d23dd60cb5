//! Writing posts: a refresh's or an import batch's posts appended to the body log, then
//! their references, indexes, aliases and the post counter in one sled transaction.

use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};

use super::member_buckets::BucketEdits;
use super::member_index::alias_entry;
use super::{bodies, counter_or_zero, encode, keys, post_codec::encode_post, Store};
use super::{body_garbage_counter, POSTS_COUNTER};
use crate::config::MemberId;
use crate::model::{FeedState, Post};

impl Store {
    /// Writes a member feed's new and changed posts, their indexes and aliases, and its fetch
    /// state, in one transaction: after a crash either all of a refresh is there or none.
    pub fn save_refresh(&self, member: &MemberId, posts: &[Post], state: &FeedState) -> anyhow::Result<()> {
        self.save(member, posts, Some(state), Filing::Now)
    }

    /// Writes one member's posts with their indexes and aliases in one transaction, without a
    /// feed state (`import`, many posts at a time: each index bucket they touch is rewritten
    /// once per call, not once per post).
    pub fn save_posts(&self, member: &MemberId, posts: &[Post]) -> anyhow::Result<()> {
        self.save(member, posts, None, Filing::Now)
    }

    pub(super) fn save(
        &self,
        member: &MemberId,
        posts: &[Post],
        state: Option<&FeedState>,
        filing: Filing,
    ) -> anyhow::Result<()> {
        // Grouping saves what it changed, mostly nothing: no transaction (sled serializes them
        // all, and readers wait for each) and no new generation (every cached page would go).
        if posts.is_empty() && state.is_none() {
            return Ok(());
        }
        let saved = self.save_unrecorded(member, posts, state, filing);
        match &saved {
            Ok(()) => self.note_write_success(),
            Err(error) => self.note_write_failure(error),
        }
        saved
    }

    fn save_unrecorded(
        &self,
        member: &MemberId,
        posts: &[Post],
        state: Option<&FeedState>,
        filing: Filing,
    ) -> anyhow::Result<()> {
        let packed: Vec<Vec<u8>> = posts.iter().map(encode_post).collect::<anyhow::Result<_>>()?;
        // Every transaction that adds posts writes the counter, so they are serialized anyway;
        // held from the append, so a compaction cannot switch files between the two.
        let _writing = self.lock_post_writes();
        // Appended (and synced) before the transaction that refers to them commits.
        let references = self.bodies.append(&packed)?;
        let encoded: Vec<(&Post, bodies::BodyRef)> = posts.iter().zip(references).collect();
        let state_bytes = state
            .map(|state| Ok::<_, anyhow::Error>((keys::feed(member, &state.feed_url), encode(state)?)))
            .transpose()?;
        let trees = (
            &self.timeline,
            &self.post_index,
            &self.member_posts,
            &self.member_aliases,
            &self.feeds,
            &self.counters,
            &self.search_pending,
            &self.river,
            &self.title_index,
            &self.notify_pending,
        );
        let result: Result<Option<u64>, TransactionError<String>> = trees.transaction(
            |(timeline, post_index, member_posts, member_aliases, feeds, counters, pending, river, titles, outbox)| {
                let indexes = [timeline, post_index, member_posts, member_aliases, counters, pending, river, titles];
                // Only a refresh announces new posts: an import or a regrouping brings none.
                let announce = state_bytes.is_some().then_some(outbox);
                let count = match encoded.is_empty() {
                    true => None,
                    false => Some(write_posts(member, &encoded, indexes, announce, filing)?),
                };
                if let Some((key, bytes)) = &state_bytes {
                    feeds.insert(key.as_slice(), bytes.as_slice())?;
                }
                Ok(count)
            },
        );
        let count = result.map_err(|error| anyhow::anyhow!("failed to save the posts of {member}: {error}"))?;
        if let Some(count) = count {
            self.post_count.store(count, std::sync::atomic::Ordering::Release);
            self.note_member_stored(member);
        }
        self.forget_damage(posts.iter().map(|post| post.id.as_str()));
        self.changed();
        Ok(())
    }
}

type TransactionTree = sled::transaction::TransactionalTree;

/// Whether a save files its posts' aliases and titles in their buckets inside its
/// transaction (a refresh), or leaves them to the import's fold (`index_fold`), which
/// rewrites each bucket once for the whole import instead of once per batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Filing {
    Now,
    Deferred,
}

pub(super) fn abort(error: anyhow::Error) -> ConflictableTransactionError<String> {
    ConflictableTransactionError::Abort(error.to_string())
}

/// A refresh's posts, their timeline and index entries, the member's post list and aliases,
/// the river index and the post counter, inside the refresh's transaction; each new river post
/// into the push outbox (`announce`), when a refresh found it. Returns the new post count.
fn write_posts(
    member: &MemberId,
    encoded: &[(&Post, bodies::BodyRef)],
    [timeline, post_index, member_posts, member_aliases, counters, pending, river, titles_tree]: [&TransactionTree; 8],
    announce: Option<&TransactionTree>,
    filing: Filing,
) -> Result<u64, ConflictableTransactionError<String>> {
    // Only the buckets these posts fall in are read and rewritten (`member_buckets`).
    let mut buckets = BucketEdits::default();
    let mut titles = super::title_index::TitleEdits::default();
    let mut added = 0;
    let mut replaced = Vec::new();
    for (post, reference) in encoded {
        let time = keys::time_bytes(post.published);
        let previous = post_index.insert(post.id.as_bytes(), &time)?;
        super::river::write_entry(&mut buckets, river, member, post, previous.as_deref())?;
        if filing == Filing::Now {
            titles.file(titles_tree, post)?;
        }
        match previous {
            None => {
                added += 1;
                if let Some(outbox) = announce {
                    super::notify::queue_new(outbox, member, post)?;
                }
            }
            Some(old_time) => {
                let old_key = keys::with_id(&old_time, &post.id);
                replaced.extend(timeline.get(&old_key)?.as_deref().and_then(bodies::BodyRef::decode));
                // An edit can move a post in time (a corrected date): its old timeline entry
                // goes, or it would be listed twice.
                if old_time.as_ref() != time {
                    timeline.remove(old_key)?;
                    if let Some(old_published) = keys::time_of(&old_time) {
                        let millis = old_published.timestamp_millis();
                        buckets.posts(member_posts, member, millis)?.remove(old_published, &post.id);
                    }
                }
            }
        }
        timeline.insert(keys::with_id(&time, &post.id), reference.encode().as_slice())?;
        pending.insert(post.id.as_bytes(), &pending.generate_id()?.to_be_bytes())?;
        buckets.posts(member_posts, member, post.published.timestamp_millis())?.insert(post.published, &post.id);
        if filing == Filing::Now {
            for alias in post_aliases(post) {
                buckets.aliases(member_aliases, member, &alias)?.insert(alias_entry(member, &alias), &post.id);
            }
        }
    }
    buckets.write(member_posts, member_aliases, river)?;
    titles.write(titles_tree)?;
    let total = add_to_counter(counters, POSTS_COUNTER, added)?;
    for (file, bytes) in bodies::bytes_per_file(replaced) {
        add_to_counter(counters, &body_garbage_counter(file), bytes)?;
    }
    Ok(total)
}

/// Adds `amount` to a counter inside the transaction; returns the new value.
fn add_to_counter(
    counters: &TransactionTree,
    key: &str,
    amount: u64,
) -> Result<u64, ConflictableTransactionError<String>> {
    let total = counter_or_zero(counters.get(key)?).map_err(abort)? + amount;
    counters.insert(key, &total.to_be_bytes())?;
    Ok(total)
}

/// The aliases a post is found by on later refreshes.
pub fn post_aliases(post: &Post) -> Vec<String> {
    let mut aliases = Vec::new();
    if let Some(guid) = &post.guid {
        aliases.push(format!("guid:{guid}"));
    }
    if let Some(link) = post.url.as_deref().and_then(crate::identity::normalize_link) {
        aliases.push(format!("link:{link}"));
    }
    aliases
}
