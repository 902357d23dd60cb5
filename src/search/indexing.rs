//! Writing the index: a rebuild from every post in the store, and the catch-up that takes
//! the store's outbox of written posts in after each pass; both under the one writer lock.

use std::sync::atomic::Ordering;

use anyhow::Context as _;
use tantivy::schema::Value;
use tantivy::{TantivyDocument, Term};

use super::{SearchIndex, CATCH_UP_BATCH, VERSION_FILE};
use crate::model::{MemberId, Post};

impl SearchIndex {
    /// Re-indexes every post in the store. The version file goes first and comes back last, so
    /// a rebuild cut short (by `stop`, or by the process dying) is started again on the next
    /// open. Returns how many posts it indexed, or `None` when stopped.
    pub fn rebuild(
        &self,
        store: &crate::store::Store,
        names: &dyn Fn(&MemberId) -> String,
        stop: &dyn Fn() -> bool,
    ) -> anyhow::Result<Option<usize>> {
        let _writing = self.writing.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let started = std::time::Instant::now();
        let _ = std::fs::remove_file(self.path.join(VERSION_FILE));
        // Everything in the outbox now is covered by reading every post below.
        let watermark = store.search_watermark()?;
        let mut writer = self.writer()?;
        writer.delete_all_documents()?;
        let mut count = 0;
        for post in store.all_posts() {
            if count % 256 == 0 && stop() {
                tracing::info!(posts = count, "search index rebuild stopped; it starts again on the next start");
                return Ok(None);
            }
            let post = post?;
            // A copy of an article is found through its canonical post.
            if post.duplicate_of.is_none() {
                writer.add_document(self.document(&post, names))?;
            }
            count += 1;
        }
        writer.commit()?;
        writer.wait_merging_threads()?;
        std::fs::write(self.path.join(VERSION_FILE), &self.stamp)
            .context("failed to write the search index version")?;
        store.clear_search_updates_before(watermark)?;
        self.reader.reload()?;
        self.ready.store(true, Ordering::Release);
        self.generation.fetch_add(1, Ordering::AcqRel);
        tracing::info!(posts = count, seconds = started.elapsed().as_secs_f32(), "search index rebuilt");
        Ok(Some(count))
    }

    /// Whether the outbox is so long (an import) that reading every post in order beats
    /// looking each one up.
    pub fn rebuild_beats_catch_up(&self, store: &crate::store::Store) -> bool {
        let threshold = (store.post_count() / 4).max(10_000);
        store.pending_search_count(threshold + 1) > threshold
    }

    /// Takes the store's outbox of written posts into the index; returns how many.
    pub fn catch_up(&self, store: &crate::store::Store, names: &dyn Fn(&MemberId) -> String) -> anyhow::Result<usize> {
        let _writing = self.writing.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut total = 0;
        loop {
            let batch = store.pending_search_updates(CATCH_UP_BATCH)?;
            if batch.is_empty() {
                break;
            }
            let mut writer = self.writer()?;
            for (id, _) in &batch {
                writer.delete_term(Term::from_field_text(self.fields.id, id));
                if let Some(post) = store.post(id)?.filter(|post| post.duplicate_of.is_none()) {
                    writer.add_document(self.document(&post, names))?;
                }
            }
            writer.commit()?;
            writer.wait_merging_threads()?;
            store.clear_search_updates(&batch)?;
            total += batch.len();
        }
        if total > 0 {
            self.reader.reload()?;
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        Ok(total)
    }

    fn document(&self, post: &Post, names: &dyn Fn(&MemberId) -> String) -> TantivyDocument {
        let f = &self.fields;
        let mut document = TantivyDocument::default();
        document.add_text(f.id, &post.id);
        document.add_text(f.member, post.member.as_str());
        for tag in &post.tags {
            document.add_text(f.tag, tag.trim());
            document.add_text(f.tags, tag);
        }
        document.add_text(f.title, &post.title);
        document.add_text(f.title_characters, &post.title);
        let body = crate::sanitize::text_of(&post.content_html);
        let body = indexed_text(&body);
        document.add_text(f.body, body);
        document.add_text(f.body_characters, body);
        if let Some(author) = &post.author {
            document.add_text(f.author, author);
        }
        document.add_text(f.member_name, names(&post.member));
        document.add_i64(f.published, post.published.timestamp_millis());
        document
    }

    /// Every post id in the index (checking it against the store).
    pub fn ids(&self) -> anyhow::Result<std::collections::BTreeSet<String>> {
        let searcher = self.reader.searcher();
        let mut ids = std::collections::BTreeSet::new();
        for address in searcher.search(&tantivy::query::AllQuery, &tantivy::collector::DocSetCollector)? {
            let document: TantivyDocument = searcher.doc(address)?;
            if let Some(id) = document.get_first(self.fields.id).and_then(|v| v.as_str()) {
                ids.insert(id.to_string());
            }
        }
        Ok(ids)
    }
}

/// Bytes of a post's text that the index takes at most. A long article's opening holds its
/// words; a post of random tokens (a flood) would otherwise grow the index past the store
/// and make every merge slower (209 MB of index for 145 MB of store was measured).
pub const MAX_INDEXED_TEXT_BYTES: usize = 32 * 1024;

/// The first `MAX_INDEXED_TEXT_BYTES` of `text`, cut at a character boundary.
pub fn indexed_text(text: &str) -> &str {
    if text.len() <= MAX_INDEXED_TEXT_BYTES {
        return text;
    }
    let mut end = MAX_INDEXED_TEXT_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
