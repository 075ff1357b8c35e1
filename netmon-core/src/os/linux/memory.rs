//! glibc's allocator, set for a long-running daemon that answers bursts of dashboard requests.
//!
//! By default glibc gives each thread that allocates its own arena (up to eight per CPU) and,
//! once a large block has been freed, serves blocks of that size from the heap instead of
//! mapping them, so the memory a burst of requests used stays resident afterwards. Two arenas
//! and fixed thresholds return it: `bench/page-load.js` measured 22.4 MB of anonymous memory
//! after 72 dashboard loads with the defaults and 12.3 MB with these settings.

/// Blocks of at least this many bytes are mapped and unmapped on their own, and the heap is
/// trimmed when this much is free at its top.
const RETURN_ABOVE_BYTES: libc::c_int = 128 * 1024;
/// Arenas at most: the capture and monitor threads and the server's workers share them.
const ARENAS: libc::c_int = 2;

/// Applies the settings; call before threads start. Each is a hint: glibc keeps its default
/// when it refuses one, which costs memory and nothing else.
pub fn tune_allocator() {
    [
        (libc::M_ARENA_MAX, ARENAS),
        (libc::M_MMAP_THRESHOLD, RETURN_ABOVE_BYTES),
        (libc::M_TRIM_THRESHOLD, RETURN_ABOVE_BYTES),
    ]
    .into_iter()
    .for_each(|(parameter, value)| {
        // SAFETY: mallopt changes allocator parameters only; the values are in glibc's ranges.
        unsafe {
            libc::mallopt(parameter, value);
        }
    });
}
