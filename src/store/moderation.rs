//! Take-downs: posts an admin hid, and the audit log of every hide and unhide. A hidden post
//! stays in the store and the export; every output leaves it out (`Store::is_hidden`), and it
//! stays hidden when its feed is fetched again (hiding is kept by id, apart from the post).
//! The set of hidden ids is small and read by every output, so it is kept in memory too.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::model::Post;
use serde::{Deserialize, Serialize};

use super::{decode, encode, Store};

/// How a moderation action came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    Cli,
    Api,
    Import,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Hide,
    Unhide,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModerationEvent {
    pub at: DateTime<Utc>,
    pub action: Action,
    pub post_id: String,
    pub via: Via,
    pub reason: Option<String>,
}

impl Store {
    /// Whether the post with this id was taken down.
    pub fn is_hidden(&self, id: &str) -> bool {
        self.hidden_ids.read().map(|ids| ids.contains(id)).unwrap_or(false)
    }

    /// `post` without its links to hidden posts (a hidden copy in `also_on`, another member's
    /// hidden repost in `also_by`): a hidden post's link is listed nowhere. Applied to every
    /// post a reader gets, so a hide or an unhide regroups every output at once.
    pub(super) fn without_hidden_links(&self, mut post: Post) -> Post {
        let Ok(ids) = self.hidden_ids.read() else { return post };
        if !ids.is_empty() {
            post.also_on.retain(|copy| !ids.contains(&copy.id));
            post.also_by.retain(|repost| !ids.contains(&repost.id));
        }
        post
    }

    /// The ids of every hidden post.
    pub fn hidden_post_ids(&self) -> BTreeSet<String> {
        self.hidden_ids.read().map(|ids| ids.clone()).unwrap_or_default()
    }

    /// Hides or unhides a stored post and logs it; `Ok(false)` when there is no such post.
    /// Doing what is already done is logged all the same (the log says who asked).
    pub fn moderate(&self, event: &ModerationEvent) -> anyhow::Result<bool> {
        if self.post_summary(&event.post_id)?.is_none() {
            return Ok(false);
        }
        match event.action {
            Action::Hide => self.hidden.insert(event.post_id.as_bytes(), encode(event)?)?,
            Action::Unhide => self.hidden.remove(event.post_id.as_bytes())?,
        };
        self.moderation_log.insert(self.db.generate_id()?.to_be_bytes(), encode(event)?)?;
        if let Ok(mut ids) = self.hidden_ids.write() {
            match event.action {
                Action::Hide => ids.insert(event.post_id.clone()),
                Action::Unhide => ids.remove(&event.post_id),
            };
        }
        self.db.flush()?;
        self.changed();
        Ok(true)
    }

    /// The audit log, oldest first.
    pub fn moderation_log(&self) -> anyhow::Result<Vec<ModerationEvent>> {
        self.moderation_log.iter().values().map(|value| decode(&value?)).collect()
    }

    /// Reads the hidden ids into memory (on open).
    pub(super) fn load_hidden_ids(&self) -> anyhow::Result<()> {
        let ids = self
            .hidden
            .iter()
            .keys()
            .map(|key| Ok(String::from_utf8_lossy(&key?).into_owned()))
            .collect::<anyhow::Result<BTreeSet<String>>>()?;
        if let Ok(mut hidden) = self.hidden_ids.write() {
            *hidden = ids;
        }
        Ok(())
    }
}
