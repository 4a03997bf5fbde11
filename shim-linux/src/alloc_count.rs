//! Counting heap allocations, to prove the event loop allocates nothing (issue: zero
//! heap allocation after initialisation). The binaries install [`CountingAllocator`]
//! as their global allocator; [`mark_initialised`] snapshots the count when set-up ends;
//! [`after_initialisation`] tells how many allocations happened since.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static AT_INIT: AtomicU64 = AtomicU64::new(u64::MAX);
static CONTROL_PLANE_ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Inside [`control_plane`] (no destructor: safe to read from the allocator).
    static IN_CONTROL_PLANE: Cell<bool> = const { Cell::new(false) };
}

pub use crate::sys::CountingAllocator;

/// Count one allocation (called by [`CountingAllocator`]).
pub(crate) fn count() {
    if IN_CONTROL_PLANE.with(Cell::get) {
        CONTROL_PLANE_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    } else {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Run `f`, counting what it allocates as the control plane's, not the event loop's:
/// a vhost-user front end's set-up requests (memory table, rings) are parsed by the
/// `vhost` crate, which allocates for each; frames never go through here.
pub fn control_plane<R>(f: impl FnOnce() -> R) -> R {
    IN_CONTROL_PLANE.with(|c| c.set(true));
    let r = f();
    IN_CONTROL_PLANE.with(|c| c.set(false));
    r
}

/// Allocations made inside [`control_plane`].
pub fn control_plane_total() -> u64 {
    CONTROL_PLANE_ALLOCATIONS.load(Ordering::Relaxed)
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

/// Write `allocations_after_init N` to the report file, if one was set, and
/// `control_plane_allocations M` when there were any.
pub fn write_report() {
    use std::io::Write;
    if let (Some(mut f), Some(n)) = (REPORT.get(), after_initialisation()) {
        let mut line = [0u8; 96];
        let mut cursor = std::io::Cursor::new(&mut line[..]);
        let control = control_plane_total();
        let written = if control > 0 {
            writeln!(
                cursor,
                "allocations_after_init {n}\ncontrol_plane_allocations {control}"
            )
        } else {
            writeln!(cursor, "allocations_after_init {n}")
        };
        if written.is_ok() {
            let len = cursor.position() as usize;
            let _ = f.write_all(&line[..len]);
        }
    }
}
