//! An import's aliases and titles, filed once at its end instead of once per batch. Each
//! import batch is saved without them (`Filing::Deferred`) and they are appended to a spill
//! file in the store's directory; `fold` then rewrites every alias and title bucket they
//! fall in once, in key order, a range of buckets per pass so memory stays bounded. Filed
//! per batch, a 1,000,000-post import read and rewrote each of the 131,072 buckets about 200
//! times: sled pulled most of them back from disk each time (its cache is a few MB), which
//! was most of the import's time, and left gigabytes of garbage in its files.
//!
//! While a fold is owed the store carries a mark; an open that finds it (an import cut
//! short) files the aliases and titles of every stored post again, the same way.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::member_index::{alias_bucket, alias_bucket_key, alias_entry, MemberAliases};
use super::title_index::{bucket_key, file_in, Filed};
use super::write::{post_aliases, Filing};
use super::{decode_or_default, encode, Store};
use crate::config::MemberId;
use crate::model::Post;

/// The spill file, inside the store's directory.
const SPILL_FILE: &str = "index-spill";
/// Present while an import owes the fold.
const FOLD_PENDING_KEY: &str = "index_fold_pending";
/// Spill bytes one pass folds: a pass holds their entries in memory (a few times this), so
/// a 1,000,000-post import (~200 MB of entries) folds in about a dozen passes.
const PASS_BYTES: u64 = 16 << 20;
/// Both indexes have 65,536 buckets, numbered by the two bytes of their key.
const BUCKETS: u32 = 1 << 16;

const ALIAS: u8 = 1;
const TITLE: u8 = 2;

/// Aliases and titles owed to their buckets, one record per entry: kind (1 byte), bucket
/// (2 bytes), payload length (4 bytes), payload (the entry as JSON). A pass reads every
/// header and skips the payloads of buckets it does not fold, unparsed.
pub struct IndexSpill {
    writer: BufWriter<std::fs::File>,
    path: PathBuf,
    bytes: u64,
}

impl IndexSpill {
    fn create(path: PathBuf) -> anyhow::Result<IndexSpill> {
        let file = std::fs::File::create(&path).with_context(|| format!("failed to create {}", path.display()))?;
        Ok(IndexSpill { writer: BufWriter::with_capacity(1 << 20, file), path, bytes: 0 })
    }

    /// Records `post`'s aliases and title entry.
    fn add(&mut self, post: &Post) -> anyhow::Result<()> {
        for alias in post_aliases(post) {
            let bucket = alias_bucket(&post.member, &alias);
            self.record(ALIAS, bucket, &serde_json::to_vec(&(alias_entry(&post.member, &alias), &post.id))?)?;
        }
        let filed = Filed::of(post);
        self.record(TITLE, u16::from_be_bytes(bucket_key(filed.0)), &serde_json::to_vec(&filed)?)
    }

    fn record(&mut self, kind: u8, bucket: u16, payload: &[u8]) -> anyhow::Result<()> {
        self.writer.write_all(&[kind])?;
        self.writer.write_all(&bucket.to_be_bytes())?;
        self.writer.write_all(&u32::try_from(payload.len())?.to_le_bytes())?;
        self.writer.write_all(payload)?;
        self.bytes += 7 + payload.len() as u64;
        Ok(())
    }
}

impl Store {
    /// Starts an import that defers filing: the mark is on disk before any post saved
    /// without its aliases is, so a crash leaves a store that files them on its next open.
    pub(super) fn begin_deferred_filing(&self) -> anyhow::Result<IndexSpill> {
        self.db.insert(FOLD_PENDING_KEY, &[1])?;
        self.db.flush()?;
        IndexSpill::create(self.path.join(SPILL_FILE))
    }

    /// Saves one member's posts as `save_posts` does, their aliases and titles into `spill`.
    pub(super) fn save_posts_deferring(
        &self,
        member: &MemberId,
        posts: &[Post],
        spill: &mut IndexSpill,
    ) -> anyhow::Result<()> {
        self.save(member, posts, None, Filing::Deferred)?;
        posts.iter().try_for_each(|post| spill.add(post))
    }

    /// Files everything in `spill` and clears the mark.
    pub(super) fn fold_deferred(&self, spill: IndexSpill) -> anyhow::Result<()> {
        fold(self, spill, PASS_BYTES)
    }
}

/// Files the spill's entries, `pass_bytes` of them per pass, then removes the spill and the
/// mark.
fn fold(store: &Store, spill: IndexSpill, pass_bytes: u64) -> anyhow::Result<()> {
    let IndexSpill { writer, path, bytes } = spill;
    writer.into_inner().map_err(|error| error.into_error())?.sync_all()?;
    let passes = bytes.div_ceil(pass_bytes.max(1)).clamp(1, u64::from(BUCKETS)) as u32;
    for pass in 0..passes {
        let first = (u64::from(BUCKETS) * u64::from(pass) / u64::from(passes)) as u32;
        let end = (u64::from(BUCKETS) * u64::from(pass + 1) / u64::from(passes)) as u32;
        fold_pass(store, &path, first..end)?;
    }
    store.db.remove(FOLD_PENDING_KEY)?;
    store.flush()?;
    std::fs::remove_file(&path).with_context(|| format!("failed to remove {}", path.display()))?;
    store.changed();
    Ok(())
}

/// Files the spill's entries of the buckets in `range`, each bucket read and written once.
fn fold_pass(store: &Store, path: &Path, range: Range<u32>) -> anyhow::Result<()> {
    let mut aliases: std::collections::BTreeMap<u16, Vec<(String, String)>> = Default::default();
    let mut titles: std::collections::BTreeMap<u16, Vec<Filed>> = Default::default();
    let mut reader = BufReader::with_capacity(1 << 20, std::fs::File::open(path)?);
    let mut payload = Vec::new();
    while let Some((kind, bucket)) = read_record(&mut reader, &mut payload)? {
        if !range.contains(&u32::from(bucket)) {
            continue;
        }
        match kind {
            ALIAS => aliases.entry(bucket).or_default().push(serde_json::from_slice(&payload)?),
            TITLE => titles.entry(bucket).or_default().push(serde_json::from_slice(&payload)?),
            other => anyhow::bail!("{}: a record of unknown kind {other}", path.display()),
        }
    }
    for (bucket, entries) in aliases {
        let key = alias_bucket_key(bucket);
        let mut filed: MemberAliases = decode_or_default(store.member_aliases.get(&key)?)?;
        for (entry, id) in entries {
            filed.insert(entry, &id);
        }
        store.member_aliases.insert(key, encode(&filed)?)?;
    }
    for (bucket, entries) in titles {
        let key = bucket.to_be_bytes();
        let mut filed: Vec<Filed> = decode_or_default(store.title_index.get(key)?)?;
        entries.into_iter().for_each(|entry| file_in(&mut filed, entry));
        store.title_index.insert(key, encode(&filed)?)?;
    }
    Ok(())
}

/// The next record's kind and bucket, its payload into `payload`; `None` at the end.
fn read_record(reader: &mut impl BufRead, payload: &mut Vec<u8>) -> anyhow::Result<Option<(u8, u16)>> {
    if reader.fill_buf()?.is_empty() {
        return Ok(None);
    }
    let mut header = [0u8; 7];
    reader.read_exact(&mut header).context("the index spill ends inside a record")?;
    let length = u32::from_le_bytes([header[3], header[4], header[5], header[6]]) as usize;
    payload.resize(length, 0);
    reader.read_exact(payload).context("the index spill ends inside a record")?;
    Ok(Some((header[0], u16::from_be_bytes([header[1], header[2]]))))
}

/// On open: when an import stopped before its fold, files the aliases and titles of every
/// stored post again (filing is idempotent: an entry already there is replaced by itself).
pub fn refile_if_interrupted(store: &Store) -> anyhow::Result<()> {
    if store.db.get(FOLD_PENDING_KEY)?.is_none() {
        return Ok(());
    }
    tracing::warn!("an import stopped before filing its aliases and titles; filing every post's again");
    let mut spill = IndexSpill::create(store.path.join(SPILL_FILE))?;
    for item in store.timeline.iter() {
        let (_, value) = item?;
        // A post that cannot be read has no aliases to find; the readers report it.
        if let Ok(post) = store.decode_stored(&value) {
            spill.add(&post)?;
        }
    }
    fold(store, spill, PASS_BYTES)
}

#[cfg(test)]
#[path = "index_fold_tests.rs"]
mod tests;
