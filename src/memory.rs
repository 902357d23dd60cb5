//! What planet asks of the C allocator (glibc; elsewhere nothing): few arenas, and freed
//! memory given back after a fetch pass. The only module that uses libc. Measured with
//! scripts/hostile.sh: after a pass over a 100,000-item feed and a 9 MB title, resident
//! memory stayed at 59 MB with glibc's default of eight arenas per core, and fell to 21 MB
//! with two arenas and a trim after the pass.

/// Limits glibc to two malloc arenas. Called first thing in `main`, before any thread: each
/// tokio and parser thread otherwise gets an arena of its own, and memory freed in one is
/// not reused by another.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Gives the memory a pass freed back to the system. A pass parses big documents; glibc
/// keeps what they freed, so without this one 10 MB feed would leave the resident size
/// high until the next restart.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the kernel; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}
