//! Opening the store: sled's configuration, a lock held by another process (or, for a
//! moment, by a handle this process just dropped) told apart from other failures, and a full
//! disk. sled zero-fills the tail of its last segment on open (up to 512 KiB), so on a full
//! disk it cannot open at all: planet keeps `RESERVE_BYTES` of its own in a file beside the
//! store, gives them up to open, and takes them back after a pass that could write. Upkeep
//! that writes on open (re-sanitizing, the river index, compaction) is best effort: a store
//! that cannot take it now is served as it is and tended after a later pass.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;

use super::{counter_or_zero, counter_value, Store, BODY_FILE_KEY, POSTS_COUNTER};

/// Bytes kept free for opening the store on a full disk.
pub const RESERVE_BYTES: u64 = 4 << 20;
/// The reserve's file, inside the store's directory.
const RESERVE_FILE: &str = "disk-reserve";

/// One step of the upkeep an open does.
type UpkeepStep = fn(&Store) -> anyhow::Result<()>;

/// What the opener may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    ReadWrite,
    ReadOnly,
}

pub(super) fn open_store(path: &Path, cache_bytes: u64, mode: Mode) -> anyhow::Result<Store> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("failed to create {}", parent.display()))?;
    }
    super::rewrite::finish_interrupted(path)?;
    let db = open_sled(path, cache_bytes)?;
    let body_file = counter_or_zero(db.get(BODY_FILE_KEY)?)?.max(1);
    let bodies = std::sync::Arc::new(super::bodies::BodyLog::open(path, u32::try_from(body_file)?)?);
    let tree = |name: &str| db.open_tree(name).with_context(|| format!("failed to open tree {name}"));
    let store = Store {
        timeline: tree("timeline")?,
        post_index: tree("post_index")?,
        member_posts: tree("member_posts")?,
        member_aliases: tree("member_aliases")?,
        river: tree("river_buckets")?,
        title_index: tree("title_index")?,
        counters: tree("counters")?,
        feeds: tree("feeds")?,
        subscribers: tree("subscribers")?,
        deliveries: tree("deliveries")?,
        digests_sent: tree("digests_sent")?,
        search_pending: tree("search_pending")?,
        notify_pending: tree("notify_pending")?,
        notify_targets: tree("notify_targets")?,
        notify_batches: tree("notify_batches")?,
        websub: tree("websub")?,
        hidden: tree("hidden")?,
        moderation_log: tree("moderation_log")?,
        hidden_ids: Default::default(),
        stored_members: Default::default(),
        db,
        bodies,
        generation: Default::default(),
        post_count: Default::default(),
        post_writes: Default::default(),
        damaged: Default::default(),
        write_failure: Default::default(),
        path: path.to_path_buf(),
    };
    match mode {
        Mode::ReadWrite => {
            super::migrate::to_current(&store)?;
            store.tend_on_open();
        }
        Mode::ReadOnly => super::migrate::ensure_current(&store)?,
    }
    store.load_hidden_ids()?;
    store.load_stored_members()?;
    let count = match store.counters.get(POSTS_COUNTER)? {
        Some(bytes) => counter_value(&bytes)?,
        None => store.post_index.len() as u64,
    };
    store.post_count.store(count, std::sync::atomic::Ordering::Release);
    // sled reads its snapshot and builds its page table on open: at 1,000,000 posts ~90 MB
    // that is freed once it is open (heaptrack), but which glibc keeps unless asked.
    crate::memory::release_freed_memory();
    Ok(store)
}

impl Store {
    /// The upkeep an open does before anything reads: each step is redone later if it cannot
    /// be done now (a full disk), and the store is served as it is meanwhile.
    fn tend_on_open(&self) {
        let steps: [(&str, UpkeepStep); 5] = [
            ("filing the aliases and titles of an interrupted import", super::index_fold::refile_if_interrupted),
            ("re-sanitizing posts of an older policy", super::post_codec::rewrite_outdated),
            ("building the river index", super::river::build_if_missing),
            ("building the title index", super::title_index::build_if_missing),
            ("compacting the body log", |store| {
                super::compaction::compact_if_wasteful(store, super::compaction::COMPACT_MIN_GARBAGE).map(|_| ())
            }),
        ];
        for (what, step) in steps {
            if let Err(error) = step(self) {
                tracing::error!("{what} failed, left for after the next pass: {error:#}");
                self.note_write_failure(&error);
            }
        }
        // Nothing reads yet: the files a compaction emptied can close now.
        self.bodies.release_retired();
        if self.counters.get(POSTS_COUNTER).ok().flatten().is_none() {
            let count = self.post_index.len() as u64;
            if let Err(error) = self.counters.insert(POSTS_COUNTER, &count.to_be_bytes()) {
                self.note_write_failure(&error.into());
            }
        }
    }

    /// Records a write the store refused; `/healthz` reports it until a write succeeds.
    pub(super) fn note_write_failure(&self, error: &anyhow::Error) {
        let mut failure = self.write_failure.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *failure = WriteFailure { last: Some(format!("{error:#}")), since_flush: true };
    }

    /// A save went through: the store takes writes again.
    pub(super) fn note_write_success(&self) {
        let mut failure = self.write_failure.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        failure.last = None;
    }

    /// A flush went through (the end of a pass): if nothing was refused since the last one,
    /// the store takes writes again (a pass of 304s saves nothing, but its flush writes).
    pub(super) fn note_flushed(&self) {
        let mut failure = self.write_failure.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !std::mem::take(&mut failure.since_flush) {
            failure.last = None;
        }
    }

    /// The last write the store refused, while no write since has succeeded.
    pub fn write_failure(&self) -> Option<String> {
        self.write_failure.lock().unwrap_or_else(std::sync::PoisonError::into_inner).last.clone()
    }

    /// Takes the reserve back when there is room for it and four times more: after a pass
    /// that could write (not on open, so a command or a test that opens a store writes no
    /// 4 MiB it does not need).
    pub fn keep_reserve(&self) {
        let reserve = self.path.join(RESERVE_FILE);
        if reserve.exists() || fs2::available_space(&self.path).unwrap_or(0) < 5 * RESERVE_BYTES {
            return;
        }
        let written = std::fs::File::create(&reserve).and_then(|mut file| {
            let chunk = vec![0u8; 1 << 20];
            for _ in 0..RESERVE_BYTES / chunk.len() as u64 {
                file.write_all(&chunk)?;
            }
            file.sync_all()
        });
        if let Err(error) = written {
            tracing::warn!("could not keep {} bytes in reserve beside the store: {error}", RESERVE_BYTES);
            let _ = std::fs::remove_file(&reserve);
        }
    }
}

/// The last write the store refused, and whether one was refused since the last flush.
#[derive(Debug, Default)]
pub struct WriteFailure {
    last: Option<String>,
    since_flush: bool,
}

/// sled writes a snapshot to `snap.N.generating`, then renames it; one cut short (a full
/// disk, a crash) is still listed when sled looks for its newest snapshot, and sled then
/// refuses to open the store as corrupt ("empty/corrupt snapshot file found", sled issue
/// 1527). Such a file is never a finished snapshot, and sled rebuilds its state from the one
/// before and its log, so it is removed first. Hand-written: sled 0.34 has no option for it.
fn remove_unfinished_snapshots(path: &Path) {
    let Ok(entries) = std::fs::read_dir(path) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => {
                    tracing::warn!("removed {name}, a snapshot sled did not finish writing (a full disk or a crash)")
                }
                Err(error) => tracing::warn!("could not remove the unfinished snapshot {name}: {error}"),
            }
        }
    }
}

/// Gives up the reserve so that sled can open on a full disk; whether there was one.
fn release_reserve(path: &Path) -> bool {
    let released = std::fs::remove_file(path.join(RESERVE_FILE)).is_ok();
    if released {
        tracing::warn!("the disk is full: gave up the store's {RESERVE_BYTES}-byte reserve to open it; free space, and fetching resumes");
    }
    released
}

fn is_disk_full(error: &sled::Error) -> bool {
    matches!(error, sled::Error::Io(io) if io.raw_os_error() == Some(28))
}

/// Opens sled. A handle dropped in this process releases its file lock only when sled's
/// deferred (epoch-based) clean-up gets to it, a moment later, so a lock held right after a
/// drop is tried again for up to two seconds before it is reported as another process's.
pub(super) fn open_sled(path: &Path, cache_bytes: u64) -> anyhow::Result<sled::Db> {
    remove_unfinished_snapshots(path);
    let started = std::time::Instant::now();
    let mut reserve_released = false;
    loop {
        let opened = sled::Config::new()
            .path(path)
            .cache_capacity(cache_bytes)
            // sled's default fsyncs every 500 ms; planet flushes at the end of each pass and
            // each refresh is already atomic, so a slower background flush is enough.
            .flush_every_ms(Some(2000))
            .open();
        match opened {
            Ok(db) => return Ok(db),
            Err(error) if is_lock_held(&error) && started.elapsed() < std::time::Duration::from_secs(2) => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(error) if is_disk_full(&error) && !reserve_released => reserve_released = release_reserve(path),
            Err(error) => return Err(open_error(path, error)),
        }
    }
}

fn is_lock_held(error: &sled::Error) -> bool {
    let text = error.to_string();
    text.contains("could not acquire lock")
        || text.contains("WouldBlock")
        || text.contains("Resource temporarily unavailable")
}

fn open_error(path: &Path, error: sled::Error) -> anyhow::Error {
    let text = error.to_string();
    if is_lock_held(&error) {
        anyhow::anyhow!(
            "the store {} is in use by another planet process (sled allows one process at a time); stop it or use another [store] path",
            path.display()
        )
    } else {
        anyhow::anyhow!("failed to open the store {}: {text}", path.display())
    }
}
