//! The body log: stored posts (compressed, see `post_codec`) in append-only files inside the
//! store's directory, read back with `pread`; sled's `timeline` holds a 21-byte reference
//! (file, offset, length, CRC-32) per post instead of the post.
//!
//! Why: sled 0.34 queues each page access in one of 256 shards and evicts only when a shard's
//! queue holds 64 accesses, so pages read at random (search hits, old pages of the river) stay
//! in memory far past `cache_capacity`. A timeline leaf holds 16 posts; with posts inside it,
//! 300 searches kept ~30 MB of neighbours' bodies resident, and paging through every post kept
//! ~290 MB. With references, a leaf is ~1 KB, and a body read goes through the kernel's page
//! cache, which is not this process's memory.
//!
//! Writes: bodies are appended and synced before the sled transaction that points at them
//! commits, so a reference never names bytes that a crash could lose; a crash between the two
//! leaves unreferenced bytes only. Bodies replaced by an edit or a rewrite are garbage until a
//! compaction copies the live ones to a new file (`compaction`, on open and after a
//! fetch pass when garbage passes half the log). The files a compaction empties are unlinked
//! at once but stay open for reading until the next pass (`release_retired`): a reader that
//! took a reference just before the compaction moved it still finds its bytes.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use anyhow::Context as _;

/// The first byte of a reference in `timeline` (a post stored inline starts with 1, LZ4, or
/// `{`, plain JSON).
const REFERENCE_TAG: u8 = 2;
const REFERENCE_LEN: usize = 21;
/// A body longer than this is a corrupt reference (posts are cut at 256 KiB of HTML).
const MAX_BODY_BYTES: u32 = 16 << 20;

/// Where a post's stored bytes are in the body log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyRef {
    pub file: u32,
    pub offset: u64,
    pub len: u32,
    pub crc: u32,
}

impl BodyRef {
    pub fn encode(&self) -> [u8; REFERENCE_LEN] {
        let mut bytes = [0u8; REFERENCE_LEN];
        bytes[0] = REFERENCE_TAG;
        bytes[1..5].copy_from_slice(&self.file.to_be_bytes());
        bytes[5..13].copy_from_slice(&self.offset.to_be_bytes());
        bytes[13..17].copy_from_slice(&self.len.to_be_bytes());
        bytes[17..21].copy_from_slice(&self.crc.to_be_bytes());
        bytes
    }

    /// The reference a `timeline` value holds, or `None` for a post stored inline.
    pub fn decode(value: &[u8]) -> Option<BodyRef> {
        if value.len() != REFERENCE_LEN || value[0] != REFERENCE_TAG {
            return None;
        }
        let u32_at = |at: usize| u32::from_be_bytes(value[at..at + 4].try_into().unwrap_or_default());
        Some(BodyRef {
            file: u32_at(1),
            offset: u64::from_be_bytes(value[5..13].try_into().unwrap_or_default()),
            len: u32_at(13),
            crc: u32_at(17),
        })
    }
}

/// The bytes these references name, per file (garbage is counted per file).
pub fn bytes_per_file(references: impl IntoIterator<Item = BodyRef>) -> BTreeMap<u32, u64> {
    let mut bytes = BTreeMap::new();
    for reference in references {
        *bytes.entry(reference.file).or_default() += u64::from(reference.len);
    }
    bytes
}

/// The open body log of one store.
pub struct BodyLog {
    dir: PathBuf,
    /// Every log file there is, for reading (a compaction cut short leaves two).
    files: RwLock<BTreeMap<u32, Arc<File>>>,
    /// Files a compaction emptied: unlinked, still in `files` until `release_retired`.
    retired: Mutex<Vec<u32>>,
    appender: Mutex<Appender>,
}

struct Appender {
    number: u32,
    file: Arc<File>,
    end: u64,
}

pub fn file_name(number: u32) -> String {
    format!("bodies-{number:06}.log")
}

fn number_of(name: &str) -> Option<u32> {
    name.strip_prefix("bodies-")?.strip_suffix(".log")?.parse().ok()
}

fn open_file(path: &Path) -> anyhow::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("failed to open the body log {}", path.display()))
}

impl BodyLog {
    /// Opens every log file in `dir`, appending to file `current`.
    pub fn open(dir: &Path, current: u32) -> anyhow::Result<BodyLog> {
        let mut files = BTreeMap::new();
        for entry in std::fs::read_dir(dir).with_context(|| format!("failed to list {}", dir.display()))? {
            let entry = entry?;
            if let Some(number) = entry.file_name().to_str().and_then(number_of) {
                files.insert(number, Arc::new(open_file(&entry.path())?));
            }
        }
        let file = match files.get(&current) {
            Some(file) => file.clone(),
            None => {
                let file = Arc::new(open_file(&dir.join(file_name(current)))?);
                files.insert(current, file.clone());
                file
            }
        };
        let end = file.metadata()?.len();
        Ok(BodyLog {
            dir: dir.to_path_buf(),
            files: RwLock::new(files),
            retired: Mutex::new(Vec::new()),
            appender: Mutex::new(Appender { number: current, file, end }),
        })
    }

    /// Appends `bodies` to the current file and syncs it; returns their references, in order.
    pub fn append<B: AsRef<[u8]>>(&self, bodies: &[B]) -> anyhow::Result<Vec<BodyRef>> {
        if bodies.is_empty() {
            return Ok(Vec::new());
        }
        let mut appender = self.appender.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut buffer = Vec::with_capacity(bodies.iter().map(|b| b.as_ref().len()).sum());
        let mut references = Vec::with_capacity(bodies.len());
        for body in bodies {
            let body = body.as_ref();
            let len =
                u32::try_from(body.len()).ok().filter(|len| *len <= MAX_BODY_BYTES).context("a post too large")?;
            references.push(BodyRef {
                file: appender.number,
                offset: appender.end + buffer.len() as u64,
                len,
                crc: crc32fast::hash(body),
            });
            buffer.extend_from_slice(body);
        }
        let path = || self.dir.join(file_name(appender.number));
        appender
            .file
            .write_all_at(&buffer, appender.end)
            .with_context(|| format!("failed to write the body log {}", path().display()))?;
        appender.file.sync_data().with_context(|| format!("failed to sync the body log {}", path().display()))?;
        appender.end += buffer.len() as u64;
        Ok(references)
    }

    /// The bytes a reference names, checked against its CRC.
    pub fn read(&self, reference: &BodyRef) -> anyhow::Result<Vec<u8>> {
        anyhow::ensure!(reference.len <= MAX_BODY_BYTES, "a stored post's reference is corrupt");
        let file = self.file(reference.file)?;
        let mut bytes = vec![0u8; reference.len as usize];
        file.read_exact_at(&mut bytes, reference.offset).with_context(|| {
            format!("the body log {} has no post at {}", file_name(reference.file), reference.offset)
        })?;
        anyhow::ensure!(
            crc32fast::hash(&bytes) == reference.crc,
            "the post at {} in the body log {} is corrupt (CRC mismatch)",
            reference.offset,
            file_name(reference.file)
        );
        Ok(bytes)
    }

    fn file(&self, number: u32) -> anyhow::Result<Arc<File>> {
        let files = self.files.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        files.get(&number).cloned().with_context(|| format!("the body log {} is missing", file_name(number)))
    }

    /// The numbers of the log files, in order (not those a compaction retired).
    pub fn numbers(&self) -> Vec<u32> {
        let retired = self.retired.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let files = self.files.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        files.keys().copied().filter(|number| !retired.contains(number)).collect()
    }

    /// The file appends go to.
    pub fn current(&self) -> u32 {
        self.appender.lock().unwrap_or_else(std::sync::PoisonError::into_inner).number
    }

    /// Bytes of the file appends go to.
    pub fn current_len(&self) -> u64 {
        self.appender.lock().unwrap_or_else(std::sync::PoisonError::into_inner).end
    }

    /// Bytes of every log file, counting those retired but not yet released.
    pub fn size_on_disk(&self) -> u64 {
        let files = self.files.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        files.values().filter_map(|file| file.metadata().ok()).map(|m| m.len()).sum()
    }

    /// Makes `number` the file appends go to (a compaction's target), opening it.
    pub fn switch_to(&self, number: u32) -> anyhow::Result<()> {
        let file = Arc::new(open_file(&self.dir.join(file_name(number)))?);
        let end = file.metadata()?.len();
        self.files.write().unwrap_or_else(std::sync::PoisonError::into_inner).insert(number, file.clone());
        *self.appender.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Appender { number, file, end };
        Ok(())
    }

    /// Deletes every file but the current one (after a compaction moved all references).
    /// They stay open, and readable, until `release_retired`.
    pub fn remove_others(&self) -> anyhow::Result<()> {
        let current = self.current();
        let numbers = self.numbers();
        let mut retired = self.retired.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for number in numbers {
            if number != current {
                let path = self.dir.join(file_name(number));
                std::fs::remove_file(&path).with_context(|| format!("failed to remove {}", path.display()))?;
                retired.push(number);
            }
        }
        Ok(())
    }

    /// Closes the files `remove_others` unlinked, which frees their disk space.
    pub fn release_retired(&self) {
        let numbers = std::mem::take(&mut *self.retired.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        let mut files = self.files.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        for number in numbers {
            files.remove(&number);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_round_trips_and_an_inline_post_is_not_one() {
        let reference = BodyRef { file: 3, offset: 1 << 40, len: 2_500, crc: 0xdead_beef };
        assert_eq!(BodyRef::decode(&reference.encode()), Some(reference));
        assert_eq!(BodyRef::decode(b"{\"v\":2,\"p\":1,\"data\":{}}"), None);
        assert_eq!(BodyRef::decode(&[1u8; REFERENCE_LEN]), None);
    }

    #[test]
    fn appended_bodies_read_back_across_a_reopen_and_a_flipped_byte_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let log = BodyLog::open(dir.path(), 1).unwrap();
        let references = log.append(&[b"first".as_slice(), b"second"]).unwrap();
        let more = log.append(&[b"third"]).unwrap();
        assert_eq!(log.read(&references[1]).unwrap(), b"second");
        drop(log);
        let log = BodyLog::open(dir.path(), 1).unwrap();
        assert_eq!(log.read(&references[0]).unwrap(), b"first");
        assert_eq!(log.read(&more[0]).unwrap(), b"third");
        let next = log.append(&[b"fourth"]).unwrap();
        assert_eq!(next[0].offset, more[0].offset + 5, "appends continue at the end after a reopen");

        let path = dir.path().join(file_name(1));
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[references[1].offset as usize] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        let log = BodyLog::open(dir.path(), 1).unwrap();
        let error = log.read(&references[1]).unwrap_err().to_string();
        assert!(error.contains("CRC"), "{error}");
        let missing = BodyRef { file: 9, ..references[0] };
        assert!(log.read(&missing).unwrap_err().to_string().contains("missing"));
        let past_end = BodyRef { offset: 1 << 30, ..references[0] };
        assert!(log.read(&past_end).is_err());
    }

    #[test]
    fn after_a_switch_both_files_read_and_removing_the_others_keeps_the_current() {
        let dir = tempfile::tempdir().unwrap();
        let log = BodyLog::open(dir.path(), 1).unwrap();
        let old = log.append(&[b"old"]).unwrap();
        log.switch_to(2).unwrap();
        let new = log.append(&[b"new"]).unwrap();
        assert_eq!((new[0].file, new[0].offset), (2, 0));
        assert_eq!(log.read(&old[0]).unwrap(), b"old");
        log.remove_others().unwrap();
        assert!(!dir.path().join(file_name(1)).exists());
        assert_eq!(log.numbers(), vec![2]);
        assert_eq!(log.read(&old[0]).unwrap(), b"old", "a retired file reads until it is released");
        log.release_retired();
        assert!(log.read(&old[0]).unwrap_err().to_string().contains("missing"));
        assert_eq!(log.read(&new[0]).unwrap(), b"new");
        assert_eq!(log.size_on_disk(), 3);
    }
}
