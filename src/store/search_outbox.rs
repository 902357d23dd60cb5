//! The search index's outbox in the store: post ids written since the index last took them
//! in, each with the write sequence number of its latest write (filled in the same
//! transaction as the post, see `write`), and how the index marks them taken.

use super::Store;

impl Store {
    /// Up to `limit` posts written since the search index took them in: (id, write sequence).
    pub fn pending_search_updates(&self, limit: usize) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
        self.search_pending
            .iter()
            .take(limit)
            .map(|item| {
                let (id, sequence) = item?;
                Ok((String::from_utf8_lossy(&id).into_owned(), sequence.to_vec()))
            })
            .collect()
    }

    /// Marks these updates as taken in by the index (after its commit). A post written again
    /// meanwhile has a new sequence number and stays pending.
    pub fn clear_search_updates(&self, taken: &[(String, Vec<u8>)]) -> anyhow::Result<()> {
        for (id, sequence) in taken {
            let _ = self.search_pending.compare_and_swap(id.as_bytes(), Some(sequence.as_slice()), None::<&[u8]>)?;
        }
        Ok(())
    }

    /// Whether the search index has yet to take in the latest write of this post.
    pub fn is_search_pending(&self, id: &str) -> bool {
        self.search_pending.contains_key(id.as_bytes()).unwrap_or(true)
    }

    /// How many posts wait for the search index, counting at most `limit`.
    pub fn pending_search_count(&self, limit: usize) -> usize {
        self.search_pending.iter().take(limit).count()
    }

    /// A sequence number above every outbox entry written so far.
    pub fn search_watermark(&self) -> anyhow::Result<u64> {
        Ok(self.db.generate_id()?)
    }

    /// Clears the outbox entries written before `watermark` (a rebuild that started after
    /// them has indexed them all); later ones stay.
    pub fn clear_search_updates_before(&self, watermark: u64) -> anyhow::Result<()> {
        for item in self.search_pending.iter() {
            let (id, sequence) = item?;
            let written = sequence.as_ref().try_into().map(u64::from_be_bytes).unwrap_or(u64::MAX);
            if written < watermark {
                let _ = self.search_pending.compare_and_swap(&id, Some(sequence), None::<&[u8]>)?;
            }
        }
        Ok(())
    }
}
