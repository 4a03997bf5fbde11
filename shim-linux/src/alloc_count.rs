//! Counting heap allocations, to prove the event loop allocates nothing (issue: zero
//! heap allocation after initialisation). The binaries install [`CountingAllocator`]
//! as their global allocator; [`mark_initialised`] snapshots the count when set-up ends;
//! [`after_initialisation`] tells how many allocations happened since.

use std::sync::atomic::{AtomicU64, Ordering};

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static AT_INIT: AtomicU64 = AtomicU64::new(u64::MAX);

pub use crate::sys::CountingAllocator;

/// Count one allocation (called by [`CountingAllocator`]).
pub(crate) fn count() {
    ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
}

/// Allocations so far.
pub fn total() -> u64 {
    ALLOCATIONS.load(Ordering::Relaxed)
}

/// Set-up is over: later allocations count against the event loop.
pub fn mark_initialised() {
    AT_INIT.store(total(), Ordering::Relaxed);
}

/// Allocations since [`mark_initialised`] (`None` before it).
pub fn after_initialisation() -> Option<u64> {
    let at = AT_INIT.load(Ordering::Relaxed);
    (at != u64::MAX).then(|| total() - at)
}

static REPORT: std::sync::OnceLock<std::fs::File> = std::sync::OnceLock::new();

/// Where [`write_report`] goes: opened by the caller before the sandbox closes the
/// file system (`PASST_ALLOC_REPORT`).
pub fn report_to(file: std::fs::File) {
    let _ = REPORT.set(file);
}

/// Write `allocations_after_init N` to the report file, if one was set.
pub fn write_report() {
    use std::io::Write;
    if let (Some(mut f), Some(n)) = (REPORT.get(), after_initialisation()) {
        let mut line = [0u8; 64];
        let mut cursor = std::io::Cursor::new(&mut line[..]);
        if writeln!(cursor, "allocations_after_init {n}").is_ok() {
            let len = cursor.position() as usize;
            let _ = f.write_all(&line[..len]);
        }
    }
}
