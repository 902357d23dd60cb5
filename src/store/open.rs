//! Opening sled: its configuration, and a lock held by another process (or, for a moment,
//! by a handle this process just dropped) told apart from other failures.

use std::path::Path;

/// Opens sled. A handle dropped in this process releases its file lock only when sled's
/// deferred (epoch-based) clean-up gets to it, a moment later, so a lock held right after a
/// drop is tried again for up to two seconds before it is reported as another process's.
pub(super) fn open_sled(path: &Path, cache_bytes: u64) -> anyhow::Result<sled::Db> {
    let started = std::time::Instant::now();
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
