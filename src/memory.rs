//! Memory the process gives back.
//!
//! glibc's malloc serves an allocation above its mmap threshold with a mapping of its own,
//! returned to the system when freed; but it raises that threshold to the size of each such
//! block freed (up to 32 MB), after which blocks of that size come from its heaps and stay
//! resident. Each Argon2id hash allocates megabytes (19 MiB then): measured on a release
//! build, 32 sign-ups one after the other left 437 MB resident, a burst of 64 hashes 725 MB
//! (see docs/performance.md). A fixed threshold keeps every large block (hash memory, decoded
//! pictures) a mapping of its own, so what a burst takes it gives back.

/// Blocks at least this large get a mapping of their own.
const MMAP_THRESHOLD_BYTES: i32 = 1024 * 1024;

/// Fixes malloc's mmap threshold. Call once, at the start of the process.
pub fn give_back_large_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes a malloc tuning parameter; any value is valid.
        let done = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) };
        if done != 1 {
            tracing::warn!("malloc's mmap threshold could not be set");
        }
    }
}
