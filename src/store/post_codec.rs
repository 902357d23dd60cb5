//! How a post is stored: in the common envelope, plus the sanitizer policy version its HTML
//! was made under. A post read back under the same version is trusted as it is (reading it
//! costs a JSON parse, not an HTML parse); one of another version, or of none (written before
//! versions were recorded, or not by us), is sanitized again on the way in. When the policy
//! changes, `resanitize_outdated` rewrites every post once, on open, like a schema migration.

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

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

pub fn encode_post(post: &Post) -> anyhow::Result<Vec<u8>> {
    Ok(serde_json::to_vec(&PostEnvelope { v: SCHEMA_VERSION, p: POLICY_VERSION, data: post })?)
}

/// Reads a stored post; its HTML is trusted only when it was made under this policy.
pub fn decode_post(bytes: &[u8]) -> anyhow::Result<Post> {
    let envelope: StoredEnvelope = serde_json::from_slice(bytes).context("stored post is unreadable")?;
    anyhow::ensure!(envelope.v <= SCHEMA_VERSION, "stored post has version {} (newer than this planet)", envelope.v);
    let read = || serde_json::from_str::<Post>(envelope.data.get()).context("stored post is unreadable");
    match envelope.p == POLICY_VERSION {
        true => sanitize::reading_trusted(read),
        false => read(),
    }
}

const POLICY_KEY: &str = "sanitizer_policy";

/// Re-sanitizes every post stored under another policy version, then records this one. A
/// crash part-way leaves the old version recorded, so the next open goes on (posts already
/// rewritten are trusted and rewritten as they are).
pub fn resanitize_outdated(store: &Store) -> anyhow::Result<()> {
    let recorded = store.db.get(POLICY_KEY)?.map(|b| u32::from_be_bytes(b.as_ref().try_into().unwrap_or_default()));
    if recorded == Some(POLICY_VERSION) {
        return Ok(());
    }
    let started = std::time::Instant::now();
    let mut rewritten = 0usize;
    for item in store.timeline.iter() {
        let (key, value) = item?;
        let envelope: StoredEnvelope = serde_json::from_slice(&value).context("stored post is unreadable")?;
        if envelope.p != POLICY_VERSION {
            store.timeline.insert(key, encode_post(&decode_post(&value)?)?)?;
            rewritten += 1;
        }
    }
    store.db.insert(POLICY_KEY, &POLICY_VERSION.to_be_bytes())?;
    store.db.flush().context("failed to flush the re-sanitized store")?;
    if rewritten > 0 {
        tracing::info!(
            posts = rewritten,
            seconds = started.elapsed().as_secs_f32(),
            "posts re-sanitized under policy {POLICY_VERSION}"
        );
    }
    Ok(())
}
