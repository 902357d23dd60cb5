//! What planet asks of the C allocator (glibc; elsewhere nothing): few arenas, and freed
//! memory given back after a fetch pass. The only module that uses libc. Measured with
//! scripts/hostile.sh: after a pass over a 100,000-item feed and a 9 MB title, resident
//! memory stayed at 59 MB with glibc's default of eight arenas per core, and fell to 21 MB
//! with two arenas and a trim after the pass.

/// Limits glibc to two malloc arenas, and serves every allocation of 128 KB or more from its
/// own mapping. Called first thing in `main`, before any thread. Arenas: each tokio and parser
/// thread otherwise gets one of its own, and memory freed in one is not reused by another.
/// Mappings: glibc raises its mapping threshold to the largest block freed (up to 32 MB), so
/// after one 320 KB API page every later page came from the heap and left it fragmented; a
/// crawl of a 20,000-post store grew anonymous memory by 15-17 MB, with the threshold fixed by
/// 7-9 MB (the render cache's share), for ~0.5 ms more per uncompressed page (BENCHMARKS
/// section 14).
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
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
