//! The index's files read with `pread` instead of through memory maps. Everything but reading
//! is tantivy's `MmapDirectory` (writes, locks, atomic files, deletes). Why: a mapped page a
//! search has touched counts in the server's resident memory until the kernel needs it back,
//! so 300 searches at 100,000 posts left 28 MB of the index resident in the process; read
//! with `pread`, the same pages sit in the page cache, shared and reclaimable, and the process
//! holds only what a search is using (plus the parts tantivy keeps in memory anyway: the
//! term dictionaries and field norms, read once per segment). Measured in BENCHMARKS.md.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tantivy::directory::error::{DeleteError, LockError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    Directory, DirectoryLock, FileHandle, Lock, MmapDirectory, OwnedBytes, WatchCallback, WatchHandle, WritePtr,
};
use tantivy::HasLen;

/// `MmapDirectory` for everything but reading segment files.
#[derive(Debug, Clone)]
pub struct ReadAtDirectory {
    root: PathBuf,
    inner: MmapDirectory,
}

impl ReadAtDirectory {
    pub fn open(root: &Path) -> tantivy::Result<ReadAtDirectory> {
        Ok(ReadAtDirectory { root: root.to_path_buf(), inner: MmapDirectory::open(root)? })
    }
}

/// One open index file; each read copies its range out of the page cache.
#[derive(Debug)]
struct ReadAtFile {
    file: File,
    len: usize,
}

impl FileHandle for ReadAtFile {
    fn read_bytes(&self, range: Range<usize>) -> io::Result<OwnedBytes> {
        let end = range.end.min(self.len);
        if range.start >= end {
            return Ok(OwnedBytes::empty());
        }
        let mut buffer = vec![0; end - range.start];
        self.file.read_exact_at(&mut buffer, range.start as u64)?;
        Ok(OwnedBytes::new(buffer))
    }
}

impl HasLen for ReadAtFile {
    fn len(&self) -> usize {
        self.len
    }
}

impl Directory for ReadAtDirectory {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        let full_path = self.root.join(path);
        let failed = |error: io::Error| match error.kind() {
            io::ErrorKind::NotFound => OpenReadError::FileDoesNotExist(path.to_path_buf()),
            _ => OpenReadError::IoError { io_error: Arc::new(error), filepath: path.to_path_buf() },
        };
        let file = File::open(&full_path).map_err(failed)?;
        let len = file.metadata().map_err(failed)?.len() as usize;
        if len == 0 {
            return Ok(Arc::new(OwnedBytes::empty()));
        }
        Ok(Arc::new(ReadAtFile { file, len }))
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        self.inner.delete(path)
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.inner.exists(path)
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        self.inner.open_write(path)
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        self.inner.atomic_read(path)
    }

    fn atomic_write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        self.inner.atomic_write(path, data)
    }

    fn sync_directory(&self) -> io::Result<()> {
        self.inner.sync_directory()
    }

    fn acquire_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        self.inner.acquire_lock(lock)
    }

    fn watch(&self, watch_callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.inner.watch(watch_callback)
    }
}
