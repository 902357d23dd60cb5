//! Push's records (issue 21). The outbox: each new river post's id under a write sequence
//! number, written in the transaction that writes the post (`write.rs`), shared by every
//! target. Per target: its state (how far into the outbox it has read, when it was added,
//! its failures) and its open batches, each written with the cursor that took its posts in
//! one transaction. A delivered batch is recorded in the digest's ledger (`record_delivery`,
//! under `notify:<target>`) before it is removed: one way to record, then deliver.

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional, TransactionalTree};

use super::{decode, encode, Store};
use crate::config::MemberId;
use crate::model::Post;

/// A new river post waiting for the targets to read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queued {
    #[serde(skip)]
    pub sequence: u64,
    pub id: String,
    pub member: String,
    /// When the pass that found it saw it first.
    pub at: DateTime<Utc>,
}

/// One target's progress through the outbox and its health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetState {
    /// When the target was first seen: posts dated before it are never pushed to it.
    pub added_at: DateTime<Utc>,
    /// Outbox entries up to this sequence number have been taken (into a batch or left out).
    pub cursor: u64,
    /// When its last message went out: the batch window counts from here.
    pub last_sent_at: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    pub last_error: Option<(DateTime<Utc>, String)>,
    /// Failures in a row; reset by a success.
    pub failures: u32,
    /// No attempt before this (backoff, or the target's own Retry-After).
    pub next_attempt: Option<DateTime<Utc>>,
    pub delivered_batches: u64,
    pub delivered_posts: u64,
}

impl TargetState {
    pub fn new(added_at: DateTime<Utc>, cursor: u64) -> TargetState {
        TargetState {
            added_at,
            cursor,
            last_sent_at: None,
            last_success: None,
            last_error: None,
            failures: 0,
            next_attempt: None,
            delivered_batches: 0,
            delivered_posts: 0,
        }
    }
}

/// Posts taken for one message to one target, kept until the target accepts them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    pub sequence: u64,
    pub post_ids: Vec<String>,
    pub formed_at: DateTime<Utc>,
    /// Failed attempts that were not rate limits.
    pub attempts: u32,
}

impl Batch {
    /// Stable across retries and restarts: a receiver drops a repeat by it (`webhook-id`).
    pub fn id(&self, target: &str) -> String {
        format!("msg_{target}_{}", self.sequence)
    }
}

/// The ledger's name for a target's deliveries.
pub fn ledger_name(target: &str) -> String {
    format!("notify:{target}")
}

fn batch_key(target: &str, sequence: u64) -> Vec<u8> {
    let mut key = target.as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(&sequence.to_be_bytes());
    key
}

fn target_prefix(target: &str) -> Vec<u8> {
    let mut key = target.as_bytes().to_vec();
    key.push(0);
    key
}

/// Inside the transaction that writes `post` for the first time: queues it for the targets
/// when it is a river post (a first fetch's backlog is not).
pub(super) fn queue_new(
    outbox: &TransactionalTree,
    member: &MemberId,
    post: &Post,
) -> Result<(), ConflictableTransactionError<String>> {
    if !super::river::in_river(post) {
        return Ok(());
    }
    let queued = Queued { sequence: 0, id: post.id.clone(), member: member.to_string(), at: post.first_seen };
    let bytes = encode(&queued).map_err(|e| ConflictableTransactionError::Abort(e.to_string()))?;
    outbox.insert(&outbox.generate_id()?.to_be_bytes(), bytes)?;
    Ok(())
}

impl Store {
    /// Up to `limit` outbox entries after `cursor`, oldest first.
    pub fn notify_outbox_after(&self, cursor: u64, limit: usize) -> anyhow::Result<Vec<Queued>> {
        let start = cursor.saturating_add(1).to_be_bytes();
        self.notify_pending
            .range(start..)
            .take(limit)
            .map(|item| {
                let (key, value) = item?;
                let mut queued: Queued = decode(&value)?;
                queued.sequence = u64::from_be_bytes(key.as_ref().try_into().context("outbox key")?);
                Ok(queued)
            })
            .collect()
    }

    /// The newest outbox sequence number (0 when empty): a new target starts after it.
    pub fn notify_outbox_head(&self) -> anyhow::Result<u64> {
        let Some((key, _)) = self.notify_pending.last()? else { return Ok(0) };
        Ok(u64::from_be_bytes(key.as_ref().try_into().context("outbox key")?))
    }

    /// Entries every target has read (at or below `read_by_all`) or queued before
    /// `older_than` go; stops at the first entry that stays (the outbox is in order).
    pub fn prune_notify_outbox(&self, read_by_all: u64, older_than: DateTime<Utc>) -> anyhow::Result<usize> {
        let mut removed = 0;
        for item in self.notify_pending.iter() {
            let (key, value) = item?;
            let sequence = u64::from_be_bytes(key.as_ref().try_into().context("outbox key")?);
            let queued: Option<Queued> = decode(&value).ok();
            let stale = queued.is_none_or(|q| q.at < older_than);
            if sequence > read_by_all && !stale {
                break;
            }
            self.notify_pending.remove(key)?;
            removed += 1;
        }
        Ok(removed)
    }

    pub fn notify_target_state(&self, target: &str) -> anyhow::Result<Option<TargetState>> {
        self.notify_targets.get(target)?.map(|bytes| decode(&bytes)).transpose()
    }

    /// Writes a target's state (made durable).
    pub fn put_notify_target_state(&self, target: &str, state: &TargetState) -> anyhow::Result<()> {
        self.notify_targets.insert(target.as_bytes(), encode(state)?)?;
        self.notify_targets.flush().context("failed to flush the notify state")?;
        Ok(())
    }

    /// The target's new cursor and, when some posts were taken, their batch, in one
    /// transaction (made durable): a post is never both left behind and not in a batch.
    pub fn take_notify_batch(&self, target: &str, state: &TargetState, batch: Option<&Batch>) -> anyhow::Result<()> {
        let state_bytes = encode(state)?;
        let batch_bytes =
            batch.map(|b| Ok::<_, anyhow::Error>((batch_key(target, b.sequence), encode(b)?))).transpose()?;
        let result: Result<(), TransactionError<String>> =
            (&self.notify_targets, &self.notify_batches).transaction(|(targets, batches)| {
                targets.insert(target.as_bytes(), state_bytes.as_slice())?;
                if let Some((key, bytes)) = &batch_bytes {
                    batches.insert(key.as_slice(), bytes.as_slice())?;
                }
                Ok(())
            });
        result.map_err(|error| anyhow::anyhow!("failed to take a batch for {target}: {error}"))?;
        self.db.flush().context("failed to flush the notify batch")?;
        Ok(())
    }

    /// A fresh batch sequence number.
    pub fn next_batch_sequence(&self) -> anyhow::Result<u64> {
        Ok(self.db.generate_id()?)
    }

    /// The target's batches not yet delivered, oldest first.
    pub fn open_notify_batches(&self, target: &str) -> anyhow::Result<Vec<Batch>> {
        self.notify_batches.scan_prefix(target_prefix(target)).values().map(|v| decode(&v?)).collect()
    }

    /// Rewrites an open batch (its attempts, or posts dropped since it was taken).
    pub fn put_notify_batch(&self, target: &str, batch: &Batch) -> anyhow::Result<()> {
        self.notify_batches.insert(batch_key(target, batch.sequence), encode(batch)?)?;
        self.notify_batches.flush().context("failed to flush the notify batch")?;
        Ok(())
    }

    /// Removes a batch whose outcome the ledger already holds.
    pub fn remove_notify_batch(&self, target: &str, sequence: u64) -> anyhow::Result<()> {
        self.notify_batches.remove(batch_key(target, sequence))?;
        self.notify_batches.flush().context("failed to flush the notify batch")?;
        Ok(())
    }
}
