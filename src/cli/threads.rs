//! How many threads the model's matrix products use (`psychrnn run --threads`).
//!
//! The count goes to candle and the fused kernel through `RAYON_NUM_THREADS` and sizes rayon's
//! global pool; trial generation has threads of its own. The rate kernel splits the batch
//! between the threads (trials are independent). Measured with `psychrnn bench --model` on a
//! 2-vCPU machine, a second thread pays at every size (N_rec = 50: 2.1–2.2 → 1.3 ms per
//! iteration; 256: 27 → 14; 512: 100–105 → 53–55), so the automatic choice is every core. Results with different thread counts agree to about 1e-4 (the parts' ∂W are summed
//! in another order); the count is written to the run's summary.yaml.

use std::sync::OnceLock;

/// `RAYON_NUM_THREADS` as the user set it, before [`super::main`] put in its default.
static USER_THREADS: OnceLock<Option<usize>> = OnceLock::new();

/// Records the user's `RAYON_NUM_THREADS` and sets the default (1) when there is none.
pub fn init() {
    let user = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0);
    let _ = USER_THREADS.set(user);
    if user.is_none() {
        std::env::set_var("RAYON_NUM_THREADS", "1");
    }
}

/// The automatic thread count: the machine's cores.
pub fn automatic() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Chooses the model's threads: `requested` (`--threads`), else the user's
/// `RAYON_NUM_THREADS`, else [`automatic`]. Sets candle's count and, if rayon's pool has not
/// started yet, its size. Returns the count in use.
pub fn use_threads(requested: Option<usize>) -> usize {
    let user = USER_THREADS.get().copied().flatten();
    let n = requested.or(user).unwrap_or_else(automatic).max(1);
    std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    // Fails only when the pool already exists (it is then used as it is).
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global();
    n
}
