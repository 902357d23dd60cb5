//! The service's steps for data derived from the store and kept in step with it: the search
//! index (caught up after every pass, rebuilt when new or of an older schema), the grouping of
//! copies of articles, and the body log's compaction. All read store-sized data, so the loops
//! run them on blocking threads.

use std::sync::Arc;

use super::Service;
use crate::config;
use crate::refresh;

impl Service {
    /// Brings the search index up to date with the store: rebuilt in full when it is new or
    /// of an older schema, then the outbox of written posts taken in. Blocking; the loops run
    /// it on a blocking thread, tests call it as the single step it is.
    pub fn update_search_index(&self) -> anyhow::Result<usize> {
        let config = self.config();
        let names = |member: &config::MemberId| config.member_name(member);
        let stopping = || *self.stop_passes.borrow();
        let rebuilt = match self.search.is_ready() && !self.search.rebuild_beats_catch_up(&self.store) {
            true => 0,
            false => match self.search.rebuild(&self.store, &names, &stopping)? {
                Some(count) => count,
                None => return Ok(0),
            },
        };
        let taken = self.search.catch_up(&self.store, &names)?;
        if rebuilt + taken > 0 {
            // Reading every post for a rebuild passes the whole store through sled's cache and
            // the index writer's arena: give the freed pages back.
            crate::memory::release_freed_memory();
        }
        Ok(rebuilt + taken)
    }

    /// Groups the copies of articles in a store last grouped under older rules (or none:
    /// written before grouping existed, or imported), member by member; returns how many
    /// members it grouped. Runs at start, before the search index catches up.
    pub fn regroup_if_needed(&self) -> anyhow::Result<usize> {
        if self.store.grouping_version()? >= refresh::dedupe::GROUPING_VERSION {
            return Ok(0);
        }
        let config = self.config();
        for member in &config.members {
            if *self.stop_passes.borrow() {
                return Ok(0);
            }
            refresh::dedupe::regroup_member(member, &self.store)?;
        }
        self.store.set_grouping_version(refresh::dedupe::GROUPING_VERSION)?;
        tracing::info!(members = config.members.len(), "copies of articles grouped under the current rules");
        Ok(config.members.len())
    }

    /// Rebuilds the search index from the store now, whatever its state (`planet reindex`).
    pub fn rebuild_search_index(&self) -> anyhow::Result<usize> {
        let config = self.config();
        let names = |member: &config::MemberId| config.member_name(member);
        Ok(self.search.rebuild(&self.store, &names, &|| false)?.unwrap_or_default())
    }

    /// The ids of posts the store lists (not copies of an article) that the index lacks, and
    /// those the index has and the store does not list (`planet reindex --check`).
    pub fn search_index_differences(&self) -> anyhow::Result<(Vec<String>, Vec<String>)> {
        let indexed = self.search.ids()?;
        // Copies of an article are found through their canonical post, not indexed.
        let mut stored = std::collections::BTreeSet::new();
        for post in self.store.all_posts() {
            let post = post?;
            if post.duplicate_of.is_none() {
                stored.insert(post.id);
            }
        }
        let missing = stored.difference(&indexed).cloned().collect();
        let extra = indexed.difference(&stored).cloned().collect();
        Ok((missing, extra))
    }

    /// `update_search_index` on a blocking thread; failures are logged (the index is derived
    /// data: the next pass tries again).
    pub async fn update_search_index_in_background(self: &Arc<Self>) {
        let service = Arc::clone(self);
        match tokio::task::spawn_blocking(move || service.update_search_index()).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::error!("search index update failed: {error:#}"),
            Err(error) => tracing::error!("search index update panicked: {error}"),
        }
    }

    /// Closes the body log files the last compaction emptied and compacts it again if it is
    /// mostly garbage, on a blocking thread (a compaction copies every live post); a failure
    /// is logged and leaves every post readable.
    pub(super) async fn maintain_body_log_in_background(&self) {
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || store.maintain_body_log()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!("body log maintenance failed: {error:#}"),
            Err(error) => tracing::error!("body log maintenance panicked: {error}"),
        }
    }
}
