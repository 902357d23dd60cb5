//! How a post is stored: in the common envelope, plus the sanitizer policy version its HTML
//! was made under, compressed with LZ4. A post read back under the same version is trusted
//! as it is (reading it costs a decompression and a JSON parse, not an HTML parse); one of
//! another version, or of none (written before versions were recorded, or not by us), is
//! sanitized again on the way in. When the policy or the format changes, `rewrite_outdated`
//! rewrites every post once, on open, like a schema migration.
//!
//! Why compress: posts are most of the store, and the disk and the kernel's page cache the
//! body log (`bodies`) reads through shrink by the compression ratio. The body log is kept
//! lean too: `compaction` copies the live posts to a new file when most of it is garbage.

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use super::bodies::BodyRef;
use super::{Store, SCHEMA_VERSION};
use crate::model::Post;
use crate::sanitize::{self, POLICY_VERSION};

#[derive(Serialize)]
struct PostEnvelope<'a> {
    v: u32,
    /// The sanitizer policy the post's HTML was made under.
    p: u32,
    data: &'a Post,
}

#[derive(Deserialize)]
struct StoredEnvelope<'a> {
    v: u32,
    #[serde(default)]
    p: u32,
    #[serde(borrow)]
    data: &'a serde_json::value::RawValue,
}

/// The first byte of a compressed value: a JSON envelope starts with `{`.
const LZ4: u8 = 1;
/// A stored post larger than this decompressed is corrupt (bodies are cut at 256 KiB).
const MAX_POST_BYTES: usize = 16 << 20;

pub fn encode_post(post: &Post) -> anyhow::Result<Vec<u8>> {
    let json = serde_json::to_vec(&PostEnvelope { v: SCHEMA_VERSION, p: POLICY_VERSION, data: post })?;
    let mut packed = Vec::with_capacity(json.len() / 2 + 8);
    packed.push(LZ4);
    packed.extend_from_slice(&lz4_flex::compress_prepend_size(&json));
    Ok(packed)
}

/// The JSON envelope of a stored post value, compressed or (written before compression) not.
pub fn unpack(bytes: &[u8]) -> anyhow::Result<std::borrow::Cow<'_, [u8]>> {
    match bytes.split_first() {
        Some((&LZ4, packed)) => {
            let size = packed.get(..4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
            anyhow::ensure!(size.is_some_and(|size| size <= MAX_POST_BYTES), "stored post is corrupt");
            Ok(std::borrow::Cow::Owned(lz4_flex::decompress_size_prepended(packed).context("stored post is corrupt")?))
        }
        _ => Ok(std::borrow::Cow::Borrowed(bytes)),
    }
}

/// Reads a stored post; its HTML is trusted only when it was made under this policy.
pub fn decode_post(bytes: &[u8]) -> anyhow::Result<Post> {
    let bytes = unpack(bytes)?;
    let envelope: StoredEnvelope = serde_json::from_slice(&bytes).context("stored post is unreadable")?;
    anyhow::ensure!(envelope.v <= SCHEMA_VERSION, "stored post has version {} (newer than this planet)", envelope.v);
    let read = || serde_json::from_str::<Post>(envelope.data.get()).context("stored post is unreadable");
    match envelope.p == POLICY_VERSION {
        true => sanitize::reading_trusted(read),
        false => read(),
    }
}

const POLICY_KEY: &str = "sanitizer_policy";
/// The stored post format: 3 is LZ4-compressed in the body log, referred to from `timeline`
/// (2 was LZ4-compressed inside `timeline`, 1 plain JSON there).
const FORMAT_KEY: &str = "post_format";
const FORMAT: u32 = 3;
/// Posts rewritten or moved per append to the body log and per sled batch.
pub(super) const REWRITE_BATCH: usize = 1_000;

fn recorded(store: &Store, key: &str) -> anyhow::Result<Option<u32>> {
    Ok(store.db.get(key)?.map(|b| u32::from_be_bytes(b.as_ref().try_into().unwrap_or_default())))
}

/// Rewrites every post stored under another sanitizer policy (sanitizing it again) or in
/// another format (inside `timeline`: moved to the body log), then records this policy and
/// format. A crash part-way leaves the old ones recorded, so the next open goes on (posts
/// already rewritten are read as they are).
pub fn rewrite_outdated(store: &Store) -> anyhow::Result<()> {
    if recorded(store, POLICY_KEY)? == Some(POLICY_VERSION) && recorded(store, FORMAT_KEY)? == Some(FORMAT) {
        return Ok(());
    }
    let started = std::time::Instant::now();
    let mut rewritten = 0usize;
    let mut batch = Vec::new();
    for item in store.timeline.iter() {
        let (key, value) = item?;
        let old = BodyRef::decode(&value);
        let rewrite = store.stored(&value).and_then(|stored| {
            let envelope_bytes = unpack(&stored)?;
            let envelope: StoredEnvelope =
                serde_json::from_slice(&envelope_bytes).context("stored post is unreadable")?;
            let outdated = envelope.p != POLICY_VERSION || old.is_none() || stored.first() != Some(&LZ4);
            outdated.then(|| encode_post(&decode_post(&stored)?)).transpose()
        });
        match rewrite {
            Ok(Some(packed)) => {
                batch.push(Replacement { key, old, packed });
                rewritten += 1;
            }
            Ok(None) => {}
            // A damaged post is skipped: it is counted, and left for `planet store check`.
            Err(error) => store.note_damage(super::keys::id_after_time(&key), &error),
        }
        if batch.len() >= REWRITE_BATCH {
            replace_bodies(store, &mut batch)?;
        }
    }
    replace_bodies(store, &mut batch)?;
    store.db.insert(POLICY_KEY, &POLICY_VERSION.to_be_bytes())?;
    store.db.insert(FORMAT_KEY, &FORMAT.to_be_bytes())?;
    store.db.flush().context("failed to flush the re-sanitized store")?;
    if rewritten > 0 {
        tracing::info!(
            posts = rewritten,
            seconds = started.elapsed().as_secs_f32(),
            "posts rewritten for sanitizer policy {POLICY_VERSION}, format {FORMAT}"
        );
    }
    Ok(())
}

/// A post's new stored bytes for its `timeline` key, and the body they replace (none for a
/// post stored inline by an older planet).
pub(super) struct Replacement {
    pub key: sled::IVec,
    pub old: Option<BodyRef>,
    pub packed: Vec<u8>,
}

/// Appends these posts to the body log and points their `timeline` keys at them; the bodies
/// they replace count as garbage.
pub(super) fn replace_bodies(store: &Store, batch: &mut Vec<Replacement>) -> anyhow::Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let packed: Vec<&Vec<u8>> = batch.iter().map(|replacement| &replacement.packed).collect();
    let references = store.bodies.append(&packed)?;
    let mut writes = sled::Batch::default();
    for (replacement, reference) in batch.iter().zip(references) {
        writes.insert(&replacement.key, reference.encode().as_slice());
    }
    store.timeline.apply_batch(writes)?;
    store.add_body_garbage(batch.iter().filter_map(|replacement| replacement.old))?;
    batch.clear();
    Ok(())
}
