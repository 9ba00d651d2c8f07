//! Keeps freed memory in the process instead of handing it back to the system.
//!
//! A training iteration allocates and frees the same tens of megabytes every time (states,
//! gradients, one buffer per tensor op). glibc's malloc serves such large blocks with fresh
//! `mmap`s and trims the heap after frees, so every iteration page-faults its memory in again:
//! measured on `psychrnn bench --model`, that doubled the fused kernel's time per iteration.
//! With the thresholds raised the blocks are reused; resident memory stays at the peak of one
//! iteration (the benchmark reports it).

/// Raises glibc's mmap and trim thresholds (no-op on other C libraries). Call once, early.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only sets allocator parameters; it is called before any thread
        // is started.
        unsafe {
            // 32 MiB is the largest threshold glibc accepts on 64-bit systems.
            libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
            libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        }
    }
}
