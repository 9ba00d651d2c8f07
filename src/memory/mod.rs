//! Heap accounting: a counting global allocator (installed by the `psychrnn` binary and by
//! tests that watch memory), the process's resident memory, and the memory budget that
//! experiments are checked against before anything large is allocated ([`check_budget`]).
//!
//! The counters are exact and deterministic, unlike resident memory, which also holds freed
//! blocks the allocator keeps (see `cli::allocator`). They count only after
//! [`start_counting`]: every allocation updating shared counters had cost a quarter of the time
//! of per-step trial generation on two threads (the counters' cache line moving between cores).
//! Before counting starts, [`heap_bytes`] and [`peak_heap_bytes`] stay 0.

pub mod alloc_meter;

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
/// with them, see [`alloc_meter`]).
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
            alloc_meter::note_allocation(layout.size());
            if counting() {
                grew(layout.size());
            }
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            alloc_meter::note_allocation(layout.size());
            if counting() {
                grew(layout.size());
            }
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        alloc_meter::note_free(layout.size());
        if counting() {
            shrank(layout.size());
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            alloc_meter::note_free(layout.size());
            alloc_meter::note_allocation(new_size);
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

/// Hands memory freed but kept by the C allocator back to the system (glibc: `malloc_trim`;
/// a no-op elsewhere). The binary tells glibc to keep freed blocks for training's speed (see
/// `cli::malloc_settings`); after training, a run calls this so that the test set's arrays
/// do not come on top of the memory training's iterations had left behind.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of the allocator's arenas to the system.
    unsafe {
        libc::malloc_trim(0);
    }
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

/// Total memory assumed when `/proc/meminfo` cannot be read (not Linux, or hidden).
pub const FALLBACK_MACHINE_BYTES: u64 = 8 << 30;

/// The share of the machine's memory an experiment may plan to use.
pub const BUDGET_FRACTION: f64 = 0.5;

/// The machine's memory: `MemTotal` from `/proc/meminfo` (its size does not change with what
/// else runs, so the same experiment passes or fails the same way), `None` if unreadable.
pub fn machine_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    meminfo_total(&text)
}

/// `MemTotal` in bytes from the text of `/proc/meminfo`.
fn meminfo_total(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// One large thing an experiment will hold in memory, with its size.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryItem {
    /// What it is, with the numbers its size comes from (`"the test set: 512 trials × …"`).
    pub what: String,
    /// Its size in bytes (saturating: a size that overflows counts as `u64::MAX`).
    pub bytes: u64,
    /// The setting that makes it smaller (`"train.test_trials"`).
    pub setting: String,
}

/// An experiment planned to use more memory than its budget.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the experiment needs {needs} GiB, this machine has {has} GiB{assumed} and psychrnn plans for at most {share}% of it ({budget} GiB); the largest part is {what} = {part} GiB: lower {setting}", needs = gib(*.needs), has = gib(*.machine), budget = gib(*.budget), share = (BUDGET_FRACTION * 100.0) as u32, what = .largest.what, part = gib(.largest.bytes), setting = .largest.setting, assumed = if *.machine_assumed { " (assumed: its size could not be read)" } else { "" })]
pub struct MemoryError {
    /// Bytes the experiment needs in all.
    pub needs: u64,
    /// Bytes the machine has.
    pub machine: u64,
    /// Whether `machine` is [`FALLBACK_MACHINE_BYTES`] because the real size was unreadable.
    pub machine_assumed: bool,
    /// Bytes the experiment may use.
    pub budget: u64,
    /// The largest item.
    pub largest: MemoryItem,
}

/// Bytes as GiB with one decimal (at least 0.1 when not zero).
fn gib(bytes: u64) -> String {
    let g = bytes as f64 / (1u64 << 30) as f64;
    if bytes > 0 && g < 0.1 {
        "0.1".into()
    } else {
        format!("{g:.1}")
    }
}

/// Checks that `items` together fit in [`BUDGET_FRACTION`] of `machine` bytes (`None`: the
/// size is unknown and [`FALLBACK_MACHINE_BYTES`] is assumed).
pub fn check_budget_of(items: &[MemoryItem], machine: Option<u64>) -> Result<(), MemoryError> {
    let needs = items
        .iter()
        .fold(0u64, |sum, item| sum.saturating_add(item.bytes));
    let (machine, machine_assumed) = match machine {
        Some(m) => (m, false),
        None => (FALLBACK_MACHINE_BYTES, true),
    };
    let budget = (machine as f64 * BUDGET_FRACTION) as u64;
    if needs <= budget {
        return Ok(());
    }
    let largest = items
        .iter()
        .max_by_key(|item| item.bytes)
        .cloned()
        .expect("needs > 0 means there is an item");
    Err(MemoryError {
        needs,
        machine,
        machine_assumed,
        budget,
        largest,
    })
}

/// [`check_budget_of`] this machine ([`machine_bytes`]).
pub fn check_budget(items: &[MemoryItem]) -> Result<(), MemoryError> {
    check_budget_of(items, machine_bytes())
}

/// `n` values of `bytes_each` bytes, multiplied without overflow (saturating at `u64::MAX`).
pub fn bytes_of(counts: &[usize], bytes_each: u64) -> u64 {
    counts
        .iter()
        .fold(bytes_each, |acc, &n| acc.saturating_mul(n as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_memory_comes_from_memtotal() {
        let text = "MemTotal:       16318412 kB\nMemFree:  1000 kB\nMemAvailable: 2000 kB\n";
        assert_eq!(meminfo_total(text), Some(16318412 * 1024));
        assert_eq!(meminfo_total("nothing"), None);
        if cfg!(target_os = "linux") {
            assert!(machine_bytes().expect("meminfo") > 1 << 28);
        }
    }

    #[test]
    fn budget_is_half_the_machine_and_names_the_largest_part() {
        let item = |what: &str, gib: u64, setting: &str| MemoryItem {
            what: what.into(),
            bytes: gib << 30,
            setting: setting.into(),
        };
        let items = [
            item("the network", 1, "model.n_rec"),
            item("the test set", 4, "train.test_trials"),
        ];
        assert!(check_budget_of(&items, Some(16 << 30)).is_ok());
        let e = check_budget_of(&items, Some(8 << 30)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the experiment needs 5.0 GiB, this machine has 8.0 GiB and psychrnn plans for at most 50% of it (4.0 GiB); the largest part is the test set = 4.0 GiB: lower train.test_trials"
        );
        let e = check_budget_of(&items, None).unwrap_err();
        assert!(
            e.to_string()
                .contains("8.0 GiB (assumed: its size could not be read)"),
            "{e}"
        );
        assert_eq!(bytes_of(&[usize::MAX, 4], 4), u64::MAX);
    }

    #[test]
    fn resident_memory_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            let r = resident_bytes().expect("statm");
            assert!(r > 1 << 20, "{r} bytes resident");
        }
    }
}
