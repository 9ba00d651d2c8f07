//! Heap accounting: a counting global allocator (installed by the `psychrnn` binary and by
//! tests that watch memory) and the process's resident memory.
//!
//! The counters are exact and deterministic, unlike resident memory, which also holds freed
//! blocks the allocator keeps (see `cli::allocator`). They count only after
//! [`start_counting`]: every allocation updating shared counters had cost a quarter of the time
//! of per-step trial generation on two threads (the counters' cache line moving between cores).
//! Before counting starts, [`heap_bytes`] and [`peak_heap_bytes`] stay 0.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

/// Whether allocations are counted (off until [`start_counting`]).
static COUNTING: AtomicBool = AtomicBool::new(false);
/// Bytes allocated minus bytes freed since counting started (blocks allocated before and freed
/// after make it smaller than the live heap).
static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

/// The system allocator, counting live and peak heap bytes once [`start_counting`] was called,
/// and each thread's allocations always (the script sandbox bounds a script call's memory
/// with them, see `script::alloc_meter`).
pub struct CountingAllocator;

/// The library's allocator: the script sandbox needs its per-thread counts wherever the
/// library runs (the binary, tests, programs embedding it).
#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Starts counting allocations (for the rest of the process).
pub fn start_counting() {
    COUNTING.store(true, Ordering::Relaxed);
}

fn counting() -> bool {
    COUNTING.load(Ordering::Relaxed)
}

fn grew(size: usize) {
    let size = size as isize;
    let now = LIVE.fetch_add(size, Ordering::Relaxed) + size;
    // A plain read first: a new peak is rare, and the read leaves the line shared.
    if now > PEAK.load(Ordering::Relaxed) {
        PEAK.fetch_max(now, Ordering::Relaxed);
    }
}

fn shrank(size: usize) {
    LIVE.fetch_sub(size as isize, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to `System` unchanged; only counters are updated.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            crate::script::note_allocation(layout.size());
            if counting() {
                grew(layout.size());
            }
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            crate::script::note_allocation(layout.size());
            if counting() {
                grew(layout.size());
            }
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        crate::script::note_free(layout.size());
        if counting() {
            shrank(layout.size());
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            crate::script::note_free(layout.size());
            crate::script::note_allocation(new_size);
            if counting() {
                shrank(layout.size());
                grew(new_size);
            }
        }
        p
    }
}

/// Heap bytes allocated and not yet freed since counting started (0 while frees of blocks
/// allocated before outweigh them).
pub fn heap_bytes() -> usize {
    LIVE.load(Ordering::Relaxed).max(0) as usize
}

/// The most heap bytes live at once (counted as [`heap_bytes`]) since the last
/// [`reset_peak_heap`] or since counting started.
pub fn peak_heap_bytes() -> usize {
    PEAK.load(Ordering::Relaxed).max(0) as usize
}

/// Starts a new peak measurement at the current live heap.
pub fn reset_peak_heap() {
    PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
}

/// Resident memory of this process in bytes (Linux: `/proc/self/statm`), or `None` elsewhere.
pub fn resident_bytes() -> Option<usize> {
    #[cfg(target_os = "linux")]
    {
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
        // SAFETY: sysconf only reads a system constant.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        Some(pages * usize::try_from(page).ok()?)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_memory_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            let r = resident_bytes().expect("statm");
            assert!(r > 1 << 20, "{r} bytes resident");
        }
    }
}
