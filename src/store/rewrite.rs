//! Rewriting sled's files without their garbage (`planet store compact`, and the end of
//! `planet import`). sled 0.34 reclaims the space of rewritten values slowly, and keeps an
//! entry per log fragment of every page in memory from open on: a 1,000,000-post import leaves
//! 7 GB of files for 0.4 GB of live keys, and the server that opens them idles at 180 MB
//! instead of 115 (BENCHMARKS.md section 14). Copying every tree into fresh files is what
//! sled's own `export`/`import` does; it is done here key by key so that an I/O error is an
//! error, not a panic.
//!
//! The store must be closed. The copy is made in `STORE.rewritten` beside the store, with the
//! body log and the reserve hard-linked into it, marked complete, and put in place by two
//! directory renames (`STORE` → `STORE.replaced`, `STORE.rewritten` → `STORE`). A crash at any
//! point leaves one complete store, which the next open finds (`finish_interrupted`).

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// Written into the copy once it is complete and synced: only a marked copy replaces a store.
const COMPLETE_MARKER: &str = "rewrite-complete";
/// Keys copied per sled batch. A batch holds one epoch guard while it writes, and every
/// key it inserts replaces its leaf, so the replaced leaves (garbage) stay allocated until the
/// batch ends: 10,000 keys per batch peaked a 1,000,000-post copy at 358 MB, 1,000 at 222 MB,
/// and took 24 s against 17 (BENCHMARKS.md section 14, eleventh session).
const COPY_BATCH: usize = 1_000;
/// Bytes (keys and values) copied between two opens of both stores. sled 0.34 kept every
/// page a scan read until its Db was dropped (sled issue #1036): copied in one Db, a
/// 1,000,000-post store peaked at 613 MB. `vendor/sled` now bounds what a scan keeps, and
/// with small batches one Db for the whole copy peaks at 236 MB against 222 MB reopened per
/// 64 MB (BENCHMARKS.md section 14, eleventh session): the reopens are kept for that margin.
/// An open takes under a second at that size, so not one per tree (there are ~20) but one per
/// this many bytes (~7 for 0.4 GB of live keys).
const BYTES_PER_OPEN: usize = 64 << 20;

/// What a rewrite did: sled's files before and after, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewritten {
    pub bytes_before: u64,
    pub bytes_after: u64,
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn copy_dir(path: &Path) -> PathBuf {
    sibling(path, ".rewritten")
}

fn replaced_dir(path: &Path) -> PathBuf {
    sibling(path, ".replaced")
}

/// sled's own files in a store directory; everything else (the body log, the reserve) is
/// planet's and is linked into the copy unchanged.
fn is_sled_file(name: &str) -> bool {
    name == "conf" || name == "db" || name == "blobs" || name.starts_with("snap.")
}

/// Rewrites the closed store at `path` into fresh sled files and puts them in its place.
pub fn rewrite_sled_files(path: &Path, cache_bytes: u64) -> anyhow::Result<Rewritten> {
    rewrite_opening_per(path, cache_bytes, BYTES_PER_OPEN)
}

/// `rewrite_sled_files`, opening both stores again after each `bytes_per_open` copied.
pub(super) fn rewrite_opening_per(path: &Path, cache_bytes: u64, bytes_per_open: usize) -> anyhow::Result<Rewritten> {
    finish_interrupted(path)?;
    let copy = copy_dir(path);
    let bytes_before = sled_bytes(path)?;
    copy_trees(path, &copy, cache_bytes, bytes_per_open)?;
    link_planet_files(path, &copy)?;
    let marker = std::fs::File::create(copy.join(COMPLETE_MARKER))?;
    marker.sync_all()?;
    sync_dir(&copy)?;
    let bytes_after = sled_bytes(&copy)?;
    swap_in(path)?;
    Ok(Rewritten { bytes_before, bytes_after })
}

/// Every tree, the default one included, key by key in key order; both stores opened again
/// after each `bytes_per_open` copied, the copy resuming after the last key it wrote.
fn copy_trees(path: &Path, copy: &Path, cache_bytes: u64, bytes_per_open: usize) -> anyhow::Result<()> {
    let mut opened = open_pair(path, copy, cache_bytes, true)?;
    let mut copied = 0;
    for name in opened.0.tree_names() {
        // `open_tree` of the default tree's name is the default tree.
        let mut after = None;
        loop {
            let (source, target) = (opened.0.open_tree(&name)?, opened.1.open_tree(&name)?);
            match copy_keys(&source, &target, after.take(), bytes_per_open - copied)? {
                Copied::All(bytes) => {
                    copied += bytes;
                    break;
                }
                Copied::UpTo(last) => {
                    opened.1.flush().context("failed to write the rewritten store")?;
                    // Closed before they are opened again: each holds its store's lock.
                    drop((source, target, opened));
                    opened = open_pair(path, copy, cache_bytes, false)?;
                    copied = 0;
                    after = Some(last);
                }
            }
        }
    }
    opened.1.flush().context("failed to write the rewritten store")?;
    Ok(())
}

/// The store, then its copy (created when `create`: a store in use is refused before a copy
/// exists). sled builds its page table on open and frees most of it once open (~200 MB for
/// the garbage of a 1,000,000-post import), which glibc keeps unless asked.
fn open_pair(path: &Path, copy: &Path, cache_bytes: u64, create: bool) -> anyhow::Result<(sled::Db, sled::Db)> {
    // What was freed before is given back first: `planet import` drops the store it imported
    // and indexed with (~300 MB at 1,000,000 posts), and each reopen follows the drop of the
    // previous pair (~160 MB); an open's own peak (~100 MB) comes on top of what is kept.
    crate::memory::release_freed_memory();
    let from = super::open::open_sled(path, cache_bytes)?;
    let to = match create {
        true => sled::Config::new()
            .path(copy)
            .cache_capacity(cache_bytes)
            .create_new(true)
            .open()
            .with_context(|| format!("failed to create {}", copy.display()))?,
        false => super::open::open_sled(copy, cache_bytes)?,
    };
    crate::memory::release_freed_memory();
    Ok((from, to))
}

/// How far one call of `copy_keys` went.
enum Copied {
    /// To the tree's end, with this many bytes.
    All(usize),
    /// To this key (written), the byte budget spent.
    UpTo(sled::IVec),
}

/// `source`'s keys after `after` (all when none) into `target`, in batches, until the tree
/// ends or `budget` bytes are copied.
fn copy_keys(
    source: &sled::Tree,
    target: &sled::Tree,
    after: Option<sled::IVec>,
    budget: usize,
) -> anyhow::Result<Copied> {
    use std::ops::Bound;
    let items = match after {
        Some(last) => source.range::<sled::IVec, _>((Bound::Excluded(last), Bound::Unbounded)),
        None => source.iter(),
    };
    let (mut batch, mut in_batch, mut bytes) = (sled::Batch::default(), 0, 0);
    for item in items {
        let (key, value) = item?;
        bytes += key.len() + value.len();
        batch.insert(key.clone(), value);
        in_batch += 1;
        let spent = bytes >= budget;
        if in_batch == COPY_BATCH || spent {
            target.apply_batch(std::mem::take(&mut batch))?;
            in_batch = 0;
        }
        if spent {
            return Ok(Copied::UpTo(key));
        }
    }
    target.apply_batch(batch)?;
    Ok(Copied::All(bytes))
}

/// Hard links the body log files and the reserve into the copy (same file system: it is
/// beside the store).
fn link_planet_files(path: &Path, copy: &Path) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let name = entry.file_name();
        if is_sled_file(&name.to_string_lossy()) || !entry.file_type()?.is_file() {
            continue;
        }
        std::fs::hard_link(entry.path(), copy.join(&name))
            .with_context(|| format!("failed to link {} into the rewritten store", entry.path().display()))?;
    }
    Ok(())
}

/// The two renames, then the old files removed.
fn swap_in(path: &Path) -> anyhow::Result<()> {
    let (copy, replaced) = (copy_dir(path), replaced_dir(path));
    std::fs::rename(path, &replaced).with_context(|| format!("failed to move {} aside", path.display()))?;
    std::fs::rename(&copy, path).with_context(|| format!("failed to put {} in place", copy.display()))?;
    // A relative path's parent is "" (the working directory).
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    sync_dir(parent)?;
    finish_interrupted(path)
}

/// Completes or discards a rewrite a crash cut short; run before every open. An unmarked
/// copy, or a marked one beside an intact store, is discarded (the store may have been
/// written since); a marked copy with the store moved aside is put in place.
pub(super) fn finish_interrupted(path: &Path) -> anyhow::Result<()> {
    let (copy, replaced) = (copy_dir(path), replaced_dir(path));
    if !path.exists() && replaced.exists() && copy.join(COMPLETE_MARKER).exists() {
        std::fs::rename(&copy, path).with_context(|| format!("failed to put {} in place", copy.display()))?;
        tracing::warn!("finished a store rewrite that was cut short");
    } else if !path.exists() && replaced.exists() {
        // Not reached by `swap_in`'s order; but a store moved aside is never left for an empty one.
        std::fs::rename(&replaced, path).with_context(|| format!("failed to move {} back", replaced.display()))?;
    }
    if path.exists() {
        let marker = path.join(COMPLETE_MARKER);
        if marker.exists() {
            std::fs::remove_file(marker)?;
        }
        for leftover in [copy, replaced] {
            if leftover.exists() {
                std::fs::remove_dir_all(&leftover)
                    .with_context(|| format!("failed to remove {}", leftover.display()))?;
            }
        }
    }
    Ok(())
}

/// The bytes of sled's files in `directory`.
fn sled_bytes(directory: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(directory)? {
        let entry = entry?;
        if !is_sled_file(&entry.file_name().to_string_lossy()) {
            continue;
        }
        total += match entry.file_type()?.is_dir() {
            true => std::fs::read_dir(entry.path())?.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum(),
            false => entry.metadata()?.len(),
        };
    }
    Ok(total)
}

fn sync_dir(directory: &Path) -> anyhow::Result<()> {
    std::fs::File::open(directory)?.sync_all().with_context(|| format!("failed to sync {}", directory.display()))
}
