//! Per-thread allocation counters, so the sandbox can bound a script call's memory.
//!
//! Rhai's own size limits (`set_max_array_size` and friends) cannot do this job: they walk the
//! whole value after every mutating call, so growing an array element by element costs time
//! quadratic in its size (1<<20 elements took 12 minutes), and index-assigning into a map is
//! never checked at all. Instead the process allocator is wrapped: each thread counts the
//! bytes it allocates and frees, and the engine's progress callback (run before every script
//! operation) compares them with a budget taken when the call started. The counts depend only
//! on what the script does, not on machine speed or on other threads, so a script that fits
//! fits everywhere. The counting is done by the library's global allocator,
//! [`crate::memory::CountingAllocator`].

use std::cell::Cell;

/// What one thread has allocated since it started.
#[derive(Clone, Copy, Default)]
struct Counts {
    /// Bytes allocated.
    allocated: u64,
    /// Bytes freed (by this thread, whoever allocated them).
    freed: u64,
    /// Number of allocations.
    allocations: u64,
}

thread_local! {
    static COUNTS: Cell<Counts> = const {
        Cell::new(Counts { allocated: 0, freed: 0, allocations: 0 })
    };
}

fn count(f: impl FnOnce(&mut Counts)) {
    // During thread teardown the counters may be gone: then nothing is counted.
    let _ = COUNTS.try_with(|c| {
        let mut v = c.get();
        f(&mut v);
        c.set(v);
    });
}

/// Called by the global allocator ([`crate::memory::CountingAllocator`]) for every block of
/// `size` bytes it hands out on this thread. Touches only a thread-local `Cell` with a const
/// initialiser, which never allocates.
pub(crate) fn note_allocation(size: usize) {
    count(|c| {
        c.allocated += size as u64;
        c.allocations += 1;
    });
}

/// Called by the global allocator for every block of `size` bytes freed on this thread.
pub(crate) fn note_free(size: usize) {
    count(|c| c.freed += size as u64);
}

/// What the current thread has allocated since a [`Mark`] was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Bytes allocated and not yet freed (0 if more was freed than allocated).
    pub live_bytes: u64,
    /// Bytes allocated in all, freed or not.
    pub allocated_bytes: u64,
    /// Number of allocations.
    pub allocations: u64,
}

/// The current thread's counters at one moment.
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    allocated: u64,
    freed: u64,
    allocations: u64,
}

impl Mark {
    /// The current thread's counters now.
    pub fn now() -> Mark {
        let c = COUNTS.try_with(Cell::get).unwrap_or_default();
        Mark {
            allocated: c.allocated,
            freed: c.freed,
            allocations: c.allocations,
        }
    }

    /// What this thread has allocated since the mark was taken.
    pub fn usage(&self) -> Usage {
        let now = Mark::now();
        let allocated = now.allocated - self.allocated;
        let freed = now.freed - self.freed;
        Usage {
            live_bytes: allocated.saturating_sub(freed),
            allocated_bytes: allocated,
            allocations: now.allocations - self.allocations,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_what_this_thread_allocates_and_frees() {
        let mark = Mark::now();
        let v: Vec<u8> = Vec::with_capacity(1 << 20);
        let held = mark.usage();
        assert!(held.live_bytes >= 1 << 20, "{held:?}");
        assert!(held.allocations >= 1);
        drop(v);
        let after = mark.usage();
        assert!(after.live_bytes < 1 << 10, "{after:?}");
        assert!(after.allocated_bytes >= 1 << 20);
    }

    #[test]
    fn other_threads_do_not_count() {
        let mark = Mark::now();
        std::thread::spawn(|| std::hint::black_box(vec![0u8; 1 << 22]))
            .join()
            .unwrap();
        assert!(mark.usage().allocated_bytes < 1 << 20);
    }
}
