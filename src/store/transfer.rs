//! `planet export` and `planet import`: every post, feed state and digest subscriber as JSON lines, one object
//! per line with a `kind`. This is the backup format and the path across a future change of
//! storage engine, so it is plain JSON and independent of sled's files.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Write};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use super::index_fold::IndexSpill;
use super::{decode, Store};
use crate::model::{FeedState, MemberId, Post};

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Line {
    Post(Box<Post>),
    FeedState(Box<FeedState>),
    Subscriber(Box<super::Subscriber>),
    /// A hide or unhide from the audit log, replayed in order on import.
    Moderation(Box<super::ModerationEvent>),
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub posts: usize,
    pub feed_states: usize,
    pub subscribers: usize,
    pub moderation_events: usize,
    /// Posts `export` could not read (damaged) and left out.
    pub damaged_posts: usize,
}

/// Writes every readable post (oldest first; damaged ones are counted instead) and every
/// feed state, subscriber and moderation event.
pub fn export(store: &Store, mut out: impl Write) -> anyhow::Result<ImportCounts> {
    let mut counts = ImportCounts::default();
    for item in store.timeline.iter() {
        let (key, value) = item?;
        // Every readable post is written; a damaged one is counted and named in the log.
        let Some(post) = store.read_or_note_damage(super::keys::id_after_time(&key), &value) else {
            counts.damaged_posts += 1;
            continue;
        };
        serde_json::to_writer(&mut out, &Line::Post(Box::new(post)))?;
        out.write_all(b"\n")?;
        counts.posts += 1;
    }
    for value in store.feeds.iter().values() {
        let state: FeedState = decode(&value?)?;
        serde_json::to_writer(&mut out, &Line::FeedState(Box::new(state)))?;
        out.write_all(b"\n")?;
        counts.feed_states += 1;
    }
    for subscriber in store.subscribers()? {
        serde_json::to_writer(&mut out, &Line::Subscriber(Box::new(subscriber)))?;
        out.write_all(b"\n")?;
        counts.subscribers += 1;
    }
    for event in store.moderation_log()? {
        serde_json::to_writer(&mut out, &Line::Moderation(Box::new(event)))?;
        out.write_all(b"\n")?;
        counts.moderation_events += 1;
    }
    out.flush()?;
    Ok(counts)
}

/// Lines of posts saved together: one transaction per member per batch, so a member's index
/// values are rewritten once per batch instead of once per post (per post, a 100,000-post
/// import wrote 20 times the export's size to disk).
const IMPORT_BATCH: usize = 5_000;

/// Reads what `export` wrote. Posts are saved through the same indexes as a refresh, in
/// batches; importing twice changes nothing. Post HTML is sanitized again on the way in
/// (`SafeHtml`'s deserializer): an export file is not trusted.
pub fn import(store: &Store, input: impl BufRead) -> anyhow::Result<ImportCounts> {
    // Aliases and titles are filed once, after the last batch (`index_fold`); also when a
    // line is refused, so that what was saved before it is whole.
    let mut spill = None;
    let read = import_lines(store, input, &mut spill);
    let folded = spill.map(|spill| store.fold_deferred(spill)).transpose();
    let counts = read?;
    folded?;
    if counts.posts > 0 {
        // The next start groups copies of articles among what came in (`refresh::dedupe`).
        store.set_grouping_version(0)?;
    }
    store.flush()?;
    Ok(counts)
}

fn import_lines(store: &Store, input: impl BufRead, spill: &mut Option<IndexSpill>) -> anyhow::Result<ImportCounts> {
    let mut counts = ImportCounts::default();
    let mut batch: Vec<Post> = Vec::with_capacity(IMPORT_BATCH);
    for (index, line) in input.lines().enumerate() {
        let parsed = match read_line(line, index) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => continue,
            Err(error) => {
                // Every line before the refused one is kept.
                save_batch(store, &mut batch, spill)?;
                return Err(error);
            }
        };
        match parsed {
            Line::Post(post) => {
                batch.push(*post);
                counts.posts += 1;
                if batch.len() >= IMPORT_BATCH {
                    save_batch(store, &mut batch, spill)?;
                }
            }
            Line::Subscriber(subscriber) => {
                store.put_subscriber(&subscriber)?;
                counts.subscribers += 1;
            }
            Line::Moderation(event) => {
                // The posts read so far are saved first: the event names one of them.
                save_batch(store, &mut batch, spill)?;
                anyhow::ensure!(
                    store.moderate(&event)?,
                    "line {}: a moderation event for post {} that the import does not hold",
                    index + 1,
                    event.post_id
                );
                counts.moderation_events += 1;
            }
            Line::FeedState(state) => {
                let member =
                    state.member.clone().with_context(|| format!("line {}: feed state without a member", index + 1))?;
                store.put_feed_state(&member, &state)?;
                counts.feed_states += 1;
            }
        }
    }
    save_batch(store, &mut batch, spill)?;
    Ok(counts)
}

/// Line `index` (from 0) parsed; `None` for a blank line.
fn read_line(line: std::io::Result<String>, index: usize) -> anyhow::Result<Option<Line>> {
    let line = line.context("failed to read the import")?;
    if line.trim().is_empty() {
        return Ok(None);
    }
    serde_json::from_str(&line).map(Some).with_context(|| format!("line {}: not an export line", index + 1))
}

/// Saves a batch of posts, one transaction per member (their aliases and titles into
/// `spill`, begun with the first batch), and gives each feed that has none a
/// fresh feed state (so the member's page lists it before its first fetch).
fn save_batch(store: &Store, batch: &mut Vec<Post>, spill: &mut Option<IndexSpill>) -> anyhow::Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let spill = match spill {
        Some(spill) => spill,
        None => spill.insert(store.begin_deferred_filing()?),
    };
    let mut by_member: BTreeMap<MemberId, Vec<Post>> = BTreeMap::new();
    for post in batch.drain(..) {
        by_member.entry(post.member.clone()).or_default().push(post);
    }
    for (member, posts) in by_member {
        let feeds: BTreeSet<&str> = posts.iter().map(|p| p.feed_url.as_str()).collect();
        for feed_url in feeds {
            if store.feed_state(&member, feed_url)?.is_none() {
                store.put_feed_state(
                    &member,
                    &FeedState {
                        member: Some(member.clone()),
                        feed_url: feed_url.to_string(),
                        current_url: feed_url.to_string(),
                        ..FeedState::default()
                    },
                )?;
            }
        }
        store.save_posts_deferring(&member, &posts, spill)?;
    }
    Ok(())
}
