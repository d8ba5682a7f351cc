//! Memory the process gives back.
//!
//! glibc's malloc serves an allocation above its mmap threshold with a mapping of its own,
//! returned to the system when freed; but it raises that threshold to the size of each such
//! block freed (up to 32 MB), after which blocks of that size come from its heaps and stay
//! resident. Each Argon2id hash allocates megabytes (19 MiB then): measured on a release
//! build, 32 sign-ups one after the other left 437 MB resident, a burst of 64 hashes 725 MB
//! (see docs/performance.md). A fixed threshold keeps every large block (hash memory, decoded
//! pictures) a mapping of its own, so what a burst takes it gives back.
//!
//! glibc also gives each thread that meets a locked heap a heap of its own, up to eight per
//! core, and what one heap frees the others cannot reuse: the pages alone took 54 MB
//! resident with the default, 40 MB with two heaps, at no measurable cost in speed on two
//! cores (docs/performance.md). Two is the default; glibc's own `MALLOC_ARENA_MAX` still
//! decides when it is set.

/// Blocks at least this large get a mapping of their own.
const MMAP_THRESHOLD_BYTES: i32 = 1024 * 1024;

/// Heaps malloc keeps, unless MALLOC_ARENA_MAX says otherwise.
const ARENAS: i32 = 2;

/// Fixes malloc's mmap threshold and its number of heaps. Call once, at the start of the
/// process.
pub fn give_back_large_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        set_malloc_option(
            libc::M_MMAP_THRESHOLD,
            MMAP_THRESHOLD_BYTES,
            "mmap threshold",
        );
        if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
            set_malloc_option(libc::M_ARENA_MAX, ARENAS, "number of heaps");
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_malloc_option(option: libc::c_int, value: i32, what: &str) {
    // SAFETY: mallopt only changes a malloc tuning parameter; any value is valid.
    let done = unsafe { libc::mallopt(option, value) };
    if done != 1 {
        tracing::warn!("malloc's {what} could not be set");
    }
}
