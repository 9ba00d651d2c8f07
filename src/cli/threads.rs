//! How many threads the model's matrix products use (`psychrnn run --threads`).
//!
//! The count goes to candle and the fused kernel through `RAYON_NUM_THREADS` and sizes rayon's
//! global pool; trial generation has threads of its own. Measured with `psychrnn bench --model`
//! on a 2-vCPU machine, a second thread pays only for larger networks (N_rec = 512: 1.5x faster;
//! N_rec = 256: 1.3x; N_rec = 50: no gain), so the automatic choice depends on N_rec.

use std::sync::OnceLock;

/// N_rec from which the automatic choice uses every core.
pub const ALL_CORES_FROM_N_REC: usize = 200;

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

/// The automatic thread count for an `n_rec`-unit network: 1 below
/// [`ALL_CORES_FROM_N_REC`], else the machine's cores.
pub fn automatic(n_rec: usize) -> usize {
    if n_rec >= ALL_CORES_FROM_N_REC {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        1
    }
}

/// Chooses the model's threads: `requested` (`--threads`), else the user's
/// `RAYON_NUM_THREADS`, else [`automatic`]. Sets candle's count and, if rayon's pool has not
/// started yet, its size. Returns the count in use.
pub fn use_threads(requested: Option<usize>, n_rec: usize) -> usize {
    let user = USER_THREADS.get().copied().flatten();
    let n = requested
        .or(user)
        .unwrap_or_else(|| automatic(n_rec))
        .max(1);
    std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    // Fails only when the pool already exists (it is then used as it is).
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global();
    n
}
