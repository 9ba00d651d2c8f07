//! How many threads the model uses (`psychrnn run --threads`, `psychrnn bench --threads`).
//!
//! The count is a plain value: the fused kernels get it in their options
//! ([`psychrnn::kernel::KernelOptions::threads`], through [`psychrnn::model::build_network_with`])
//! and run their parallel work on a pool of that many threads; trial generation has threads
//! of its own. The rate kernel splits the batch between the threads (trials are independent).
//! Measured with `psychrnn bench --model` on a 2-vCPU machine, a second thread pays at every
//! size (N_rec = 50: 2.1–2.2 → 1.3 ms per iteration; 256: 27 → 14; 512: 100–105 → 53–55), so
//! `run`'s automatic choice is every core. Results with different thread counts agree to about
//! 1e-4 (the parts' ∂W are summed in another order); the count is written to the run's
//! summary.yaml.
//!
//! candle's own matrix products (the reference path, `model.fused: false`, and analyses on
//! candle ops) take their count only from `RAYON_NUM_THREADS`, which
//! `candle_core::utils::get_num_threads` reads at every product: there is no other way to
//! give it. So [`init`] writes that variable once, at the start of `main` before any other
//! thread exists, with the count the command uses; nothing else writes the environment.

use std::sync::OnceLock;

use super::Command;

/// `RAYON_NUM_THREADS` as the user set it (a positive number), read before [`init`] writes it.
fn user_threads() -> Option<usize> {
    static USER: OnceLock<Option<usize>> = OnceLock::new();
    *USER.get_or_init(|| {
        std::env::var("RAYON_NUM_THREADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|&n| n > 0)
    })
}

/// The automatic thread count of `run`: the machine's cores.
pub fn automatic() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The model's threads for `run`: `requested` (`--threads`), else the user's
/// `RAYON_NUM_THREADS`, else [`automatic`].
pub fn for_run(requested: Option<usize>) -> usize {
    requested
        .or(user_threads())
        .unwrap_or_else(automatic)
        .max(1)
}

/// The model's threads for the other commands: the user's `RAYON_NUM_THREADS`, else 1 (the
/// batch thread uses another core).
pub fn default_count() -> usize {
    user_threads().unwrap_or(1)
}

/// The count `command` gives the model: [`for_run`] for `run`, the largest `--threads` for
/// `bench --model` (it measures each count on a pool of its own), else [`default_count`].
fn for_command(command: &Command) -> usize {
    match command {
        Command::Run(args) => for_run(args.threads.map(usize::from)),
        Command::Bench(args) if args.model => args.threads.iter().copied().max().unwrap_or(1),
        _ => default_count(),
    }
}

/// Writes `RAYON_NUM_THREADS` for candle's own products: the count `command` uses (see the
/// module docs for why the environment). Call once, before any other thread starts.
pub fn init(command: &Command) {
    let threads = for_command(command);
    // Single-threaded here (main has started no thread yet), so no read can race the write.
    std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
}
