//! How a kernel call runs: on how many threads, and with which CPU vector code.
//!
//! Both are plain values the caller sets ([`KernelOptions`], held by the model's options);
//! nothing is read from the environment.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Which CPU vector code the kernels take, for the matrix products (`gemm`'s kernels) and
/// for the kernels' own elementwise loops. The paths add in different orders, so each gives
/// results of its own (agreeing to rounding); a narrower path exists to test the code a
/// machine without the wider vectors runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KernelPath {
    /// The widest this CPU has: `gemm`'s own choice of AVX-512, AVX2/FMA or baseline
    /// products, AVX2/FMA or baseline elementwise loops. What psychrnn runs.
    #[default]
    Widest,
    /// At most AVX2 and FMA for both (baseline where the CPU lacks them), even on an
    /// AVX-512 CPU.
    Avx2,
    /// Baseline x86-64 (128-bit SSE2) for both: `gemm`'s scalar products and loops
    /// compiled without AVX.
    Baseline,
}

impl KernelPath {
    /// Whether the elementwise loops run compiled for AVX2 and FMA on this CPU.
    pub fn wide_loops(self) -> bool {
        self != KernelPath::Baseline && has_avx2_fma()
    }
}

/// Whether this CPU has AVX2 and FMA.
pub(super) fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// How a kernel call runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelOptions {
    /// Threads (at least 1): the rate kernel splits the batch between them, the gated kernels
    /// split large matrix products. Results with another count agree to rounding, not bit for
    /// bit (the parts' gradients are summed in another order).
    pub threads: usize,
    /// The CPU vector code.
    pub path: KernelPath,
}

impl Default for KernelOptions {
    /// One thread, the widest path.
    fn default() -> Self {
        KernelOptions {
            threads: 1,
            path: KernelPath::Widest,
        }
    }
}

impl KernelOptions {
    /// The default options on `threads` threads (0 counts as 1).
    pub fn with_threads(threads: usize) -> Self {
        KernelOptions {
            threads: threads.max(1),
            ..KernelOptions::default()
        }
    }

    /// The same options on one thread (for work inside a part that already has its thread).
    pub(super) fn single_threaded(self) -> Self {
        KernelOptions { threads: 1, ..self }
    }

    /// Runs `f` where its parallel work (rayon iterators, multi-threaded products) gets
    /// [`Self::threads`] threads: on the calling thread for one, else inside this count's
    /// [`thread_pool`].
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        if self.threads <= 1 {
            return f();
        }
        let pool = thread_pool(self.threads);
        if pool.current_thread_index().is_some() {
            f()
        } else {
            pool.install(f)
        }
    }
}

/// The rayon pool with `threads` threads, built on first use and kept for the process (one
/// per count, so a run builds it once).
pub fn thread_pool(threads: usize) -> Arc<rayon::ThreadPool> {
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<rayon::ThreadPool>>>> = OnceLock::new();
    let threads = threads.max(1);
    let mut pools = POOLS
        .get_or_init(Default::default)
        .lock()
        .expect("kernel thread pools");
    pools
        .entry(threads)
        .or_insert_with(|| {
            Arc::new(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .thread_name(|k| format!("psychrnn-model-{k}"))
                    .build()
                    .expect("a thread pool for the model"),
            )
        })
        .clone()
}
