//! `psychrnn bench`: measured speeds, as ratios taken in one run on this machine.
//!
//! Trial generation for PsychRNN's perceptual discrimination task (64 trials × 200 steps) in
//! the epoch and the per-step form, on one thread and on all, and the share of a training
//! iteration spent waiting for trials; with `--scripts`, the same for each script named, at
//! its own batch and network size; with `--model`, the model's own speed.

use std::path::Path;

use clap::Args;

use super::{flag_values, CliError};
use psychrnn::bench::{
    generation_ms, measure_iteration, product_flops, training_wait, training_wait_as_configured,
    BenchCase, IterationCost, BATCH,
};
use psychrnn::kernel::KernelOptions;
use psychrnn::memory;
use psychrnn::model::{ModelConfig, ModelKind};
use psychrnn::script::{
    load_experiment, load_experiment_source, LoadOptions, LoadedExperiment, TrialForm,
};
use psychrnn::task::generation_threads;

const EPOCHS: &str = include_str!("../../scripts/perceptual_discrimination.rhai");
const STEPS: &str = include_str!("../../scripts/perceptual_discrimination_steps.rhai");

/// Arguments of `psychrnn bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Measure the model only: ms per training iteration, fused kernel vs reference path.
    #[arg(long)]
    pub model: bool,
    /// Recurrent sizes for --model (each 1 to 4096).
    #[arg(long, value_delimiter = ',', default_values_t = [50usize, 256, 512],
          value_parser = flag_values::count(flag_values::MAX_BENCH_SIZE))]
    pub sizes: Vec<usize>,
    /// Model thread counts for --model (each measured in turn; the first is used for the
    /// gated networks and the memory checks; each 1 to 1024).
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 2],
          value_parser = flag_values::count(flag_values::MAX_THREADS))]
    pub threads: Vec<usize>,
    /// Batches generated per measurement (1 to 100000).
    #[arg(long, default_value_t = 20, value_parser = flag_values::count(flag_values::MAX_BENCH_REPEATS))]
    pub batches: usize,
    /// Training iterations per training measurement (1 to 100000).
    #[arg(long, default_value_t = 60, value_parser = flag_values::count(flag_values::MAX_BENCH_REPEATS))]
    pub iterations: usize,
    /// Measure these scripts instead: trial generation at each script's own batch size, and
    /// training at its own network size and settings, with the share spent waiting for trials.
    #[arg(long, num_args = 1.., value_name = "SCRIPT")]
    pub scripts: Vec<std::path::PathBuf>,
}

fn load(name: &str, text: &str) -> Result<LoadedExperiment, CliError> {
    load_experiment_source(name, text, Path::new("."), &LoadOptions::default())
        .map_err(CliError::failed)
}

/// [`measure_iteration`] of `case` with `case.default_iterations()` (or `iterations`) on
/// `threads` model threads, inside the model's pool of that many threads (even for one).
fn iteration_cost(
    case: BenchCase,
    threads: usize,
    iterations: usize,
    watch: impl FnMut(usize, usize) + Send,
) -> Result<IterationCost, CliError> {
    with_threads(threads, || {
        measure_iteration(
            case,
            KernelOptions::with_threads(threads),
            iterations,
            watch,
        )
    })
    .map_err(CliError::failed)
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

/// Runs `f` inside the model's pool of `threads` threads (even for one); the fused kernels get
/// the count in their options. candle's products on the reference path take their count only
/// from `RAYON_NUM_THREADS` (see `threads`), so this measurement tool, which compares counts in
/// one process, also writes it: measured without this write (candle at the largest count
/// inside a smaller pool), the reference path at 256 units took 2–3 times as long. Between
/// measurements no other thread of this process runs (the pools' threads are idle), so no read
/// races the write.
fn with_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    psychrnn::kernel::thread_pool(threads).install(f)
}

fn bench_model(args: &BenchArgs) -> Result<(), CliError> {
    // Heap counting from here on: what was allocated before and freed later makes the counts
    // smaller by at most those few blocks (the arguments).
    memory::start_counting();
    outln!(
        "training iteration of a rate RNN (ReLU), batch {BATCH} × 200 steps: forward, masked MSE, backward, Adam"
    );
    outln!(
        "  {:>7} {:>6} {:>11} {:>11} {:>8} {:>9} {:>8} {:>11} {:>8} {:>10}",
        "threads",
        "N_rec",
        "reference",
        "fused",
        "speed-up",
        "GFLOP/s",
        "of GEMM",
        "arithmetic",
        "fused ÷",
        "peak heap"
    );
    let mut fused_ms = std::collections::BTreeMap::new();
    let mut fused_gated_ms = std::collections::BTreeMap::new();
    let mut gemm_rates = std::collections::BTreeMap::new();
    for &threads in &args.threads {
        let rows = (|| -> Result<Vec<String>, CliError> {
            // The GEMM rate before and after the rows, the better of the two: once in a few
            // runs one measurement on two threads came out at the one-thread rate (the second
            // thread not yet running on a core of its own).
            let before = psychrnn::kernel::gemm_gflops(1024, threads);
            let mut costs = Vec::new();
            for &n in &args.sizes {
                let its = BenchCase::rate(n, true).default_iterations();
                let reference = iteration_cost(BenchCase::rate(n, false), threads, its, |_, _| {})?;
                let fused = iteration_cost(BenchCase::rate(n, true), threads, its, |_, _| {})?;
                costs.push((n, reference, fused));
            }
            let gemm = before.max(psychrnn::kernel::gemm_gflops(1024, threads));
            gemm_rates.insert(threads, gemm);
            let mut rows = vec![format!(
                "  {threads:>7} f32 GEMM 1024³ on {threads} thread(s): {gemm:.1} GFLOP/s"
            )];
            for (n, reference, fused) in costs {
                let flops = product_flops(&BenchCase::rate(n, true));
                let rate = flops / (fused.ms / 1e3) / 1e9;
                let arithmetic_ms = flops / gemm / 1e6;
                rows.push(format!(
                    "  {threads:>7} {n:>6} {:>8.1} ms {:>8.1} ms {:>7.2}x {rate:>9.1} {:>7.0}% {arithmetic_ms:>8.2} ms {:>7.2}x {:>6.1} MiB",
                    reference.ms,
                    fused.ms,
                    reference.ms / fused.ms,
                    100.0 * rate / gemm,
                    fused.ms / arithmetic_ms,
                    mib(fused.peak_bytes),
                ));
                fused_ms.insert((threads, n), fused.ms);
            }
            Ok(rows)
        })()?;
        for row in rows {
            outln!("{row}");
        }
    }
    outln!(
        "  (arithmetic: the iteration's matrix products, 6·T·B·N² + 4·T·B·N·N_in + 6·T·B·N·N_out FLOP \
         with N_in = N_out = 2, at the GEMM rate; fused ÷: fused time over that; peak heap: fused \
         path, beyond the model)"
    );

    outln!("LSTM and GRU, same batch, per-step candle ops (reference) and fused kernel:");
    outln!(
        "  (per FLOP: the time ratio to the fused rate RNN divided by the ratio of their products' \
         arithmetic, {} and {} times the rate RNN's)",
        "about 4",
        "about 3"
    );
    outln!(
        "  {:>7} {:>6} {:>6} {:>11} {:>11} {:>8} {:>18} {:>9} {:>11} {:>8}",
        "threads",
        "kind",
        "N_rec",
        "reference",
        "fused",
        "speed-up",
        "vs fused rate RNN",
        "per FLOP",
        "arithmetic",
        "fused ÷"
    );
    for &threads in &args.threads {
        for kind in [ModelKind::Lstm, ModelKind::Gru] {
            for &n in &args.sizes {
                let case = |fused| BenchCase {
                    kind,
                    n_rec: n,
                    fused,
                    steps: 200,
                };
                let its = BenchCase::rate(n, true).default_iterations();
                let reference = iteration_cost(case(false), threads, its, |_, _| {})?;
                let fused = iteration_cost(case(true), threads, its, |_, _| {})?;
                // Time per iteration, and per FLOP of the products, against the fused rate RNN.
                let (ratio, per_flop) = match fused_ms.get(&(threads, n)) {
                    Some(f) => (
                        format!("{:.1}x", fused.ms / f),
                        format!(
                            "{:.1}x",
                            fused.ms / f * product_flops(&BenchCase::rate(n, true))
                                / product_flops(&case(true))
                        ),
                    ),
                    None => Default::default(),
                };
                // The gated products at the GEMM rate measured with the rate RNN's rows.
                let arithmetic_ms = product_flops(&case(true)) / gemm_rates[&threads] / 1e6;
                outln!(
                    "  {threads:>7} {:>6} {n:>6} {:>8.1} ms {:>8.1} ms {:>7.2}x {ratio:>18} {per_flop:>9} {arithmetic_ms:>8.2} ms {:>7.2}x",
                    kind_name(kind),
                    reference.ms,
                    fused.ms,
                    reference.ms / fused.ms,
                    fused.ms / arithmetic_ms
                );
                fused_gated_ms.insert((threads, format!("{kind:?}"), n), fused.ms);
            }
        }
    }

    run_style_table(args, &fused_ms, &fused_gated_ms)?;

    let threads = args.threads.first().copied().unwrap_or(1);
    let largest = args.sizes.iter().copied().max().unwrap_or(50);
    let smallest = args.sizes.iter().copied().min().unwrap_or(50);
    outln!(
        "memory of the fused rate RNN, N_rec = {largest}, batch {BATCH}, on {threads} thread(s):"
    );
    let mut peaks = Vec::new();
    for steps in [100, 200, 400] {
        let case = BenchCase {
            steps,
            ..BenchCase::rate(largest, true)
        };
        let cost = iteration_cost(case, threads, 2, |_, _| {})?;
        peaks.push(cost.peak_bytes as f64);
        outln!(
            "  {steps:>4} steps: peak heap {:>7.1} MiB",
            mib(cost.peak_bytes)
        );
    }
    // Linear in steps: the growth per step × trial × unit is the same from 100 to 200 steps as
    // from 200 to 400 (what does not grow is buffers of a fixed size: ∂W blocks, packing).
    let per_element = |from: usize, to: usize, steps: f64| {
        (peaks[to] - peaks[from]) / (steps * (BATCH * largest) as f64)
    };
    let (first, second) = (per_element(0, 1, 100.0), per_element(1, 2, 200.0));
    let fixed = peaks[0] - first * (100 * BATCH * largest) as f64;
    outln!(
        "  growth per step × trial × unit: {first:.2} bytes (100 → 200 steps), {second:.2} bytes \
         (200 → 400)"
    );
    outln!(
        "  linear in steps: the two differ by a factor {:.3}",
        first.max(second) / first.min(second)
    );
    outln!(
        "  fixed part (buffers that do not grow with steps): {:.1} MiB",
        fixed / (1 << 20) as f64
    );
    let mut live = Vec::with_capacity(256);
    let resident_before = memory::resident_bytes();
    iteration_cost(BenchCase::rate(smallest, true), threads, 200, |i, bytes| {
        live.push((i, bytes))
    })?;
    let resident_after = memory::resident_bytes();
    let at = |i: usize| live.iter().find(|(k, _)| *k == i).map_or(0, |(_, b)| *b);
    outln!(
        "  live heap over 200 iterations (N_rec = {smallest}): after 10 {:.2} MiB, after 200 {:.2} MiB ({:+} bytes)",
        mib(at(10)),
        mib(at(200)),
        at(200) as i64 - at(10) as i64
    );
    if let (Some(a), Some(b)) = (resident_before, resident_after) {
        outln!(
            "  resident memory: {:.1} MiB before, {:.1} MiB after",
            mib(a),
            mib(b)
        );
    }
    Ok(())
}

/// The kind as the tables name it.
fn kind_name(kind: ModelKind) -> &'static str {
    match kind {
        ModelKind::RateRnn => "rate",
        ModelKind::Lstm => "lstm",
        ModelKind::Gru => "gru",
    }
}

/// `run`-style iterations next to the fixed-batch ones: the trainer itself on fresh,
/// prefetched batches of the perceptual discrimination task (its 2 inputs and 2 outputs, 200
/// steps, as the fixed batch), for every kind, size and thread count measured above. The
/// ratio is what a user's `psychrnn run` pays beyond the model: batch building it waits for,
/// moving batches into tensors, evaluation, bookkeeping.
fn run_style_table(
    args: &BenchArgs,
    rate_ms: &std::collections::BTreeMap<(usize, usize), f64>,
    gated_ms: &std::collections::BTreeMap<(usize, String, usize), f64>,
) -> Result<(), CliError> {
    let task = load("perceptual_discrimination.rhai", EPOCHS)?.task;
    outln!(
        "run-style iterations (fresh perceptual discrimination batches of {BATCH}, prefetched, the trainer itself) vs the fixed batch, fused kernels:"
    );
    outln!(
        "  {:>7} {:>6} {:>6} {:>11} {:>11} {:>9} {:>14} {:>8}",
        "threads",
        "kind",
        "N_rec",
        "fixed",
        "run-style",
        "run ÷",
        "session mean",
        "waiting"
    );
    for &threads in &args.threads {
        for kind in [ModelKind::RateRnn, ModelKind::Lstm, ModelKind::Gru] {
            for &n in &args.sizes {
                let fixed = match kind {
                    ModelKind::RateRnn => rate_ms.get(&(threads, n)),
                    _ => gated_ms.get(&(threads, format!("{kind:?}"), n)),
                };
                let Some(&fixed) = fixed else { continue };
                let config = ModelConfig {
                    kind,
                    n_rec: n,
                    ..ModelConfig::default()
                };
                let its = BenchCase::rate(n, true).default_iterations();
                let kernel = KernelOptions::with_threads(threads);
                // A short session first, as the fixed batch's warm-up iteration: the memory
                // the iterations need is then the process's already.
                // One iteration more than the fixed batch's timed ones: the gaps between
                // iterations after the first are as many as those.
                let wait = with_threads(threads, || {
                    training_wait(task.clone(), &config, 2, kernel)?;
                    training_wait(task.clone(), &config, its + 1, kernel)
                })
                .map_err(CliError::failed)?;
                outln!(
                    "  {threads:>7} {:>6} {n:>6} {fixed:>8.1} ms {:>8.1} ms {:>8.2}x {:>11.1} ms {:>7.1}%",
                    kind_name(kind),
                    wait.fastest_block_ms,
                    wait.fastest_block_ms / fixed,
                    wait.ms_per_iteration,
                    100.0 * wait.waiting
                );
            }
        }
    }
    outln!(
        "  (run-style: after a 2-iteration warm-up session, the fastest of five blocks of the gaps \
         between one iteration's end and the next, batch fetching included, as the fixed batch \
         reports its fastest block; session mean: the whole session's wall time per iteration, \
         its first iteration and final evaluation included; waiting: share of the time spent \
         waiting for the next batch)"
    );
    Ok(())
}

/// A script's form of trial, as the per-script table names it.
fn form_name(task: &psychrnn::script::ScriptTask) -> &'static str {
    match task.form() {
        TrialForm::Epochs(_) => "epochs",
        TrialForm::Steps(_) if task.step_tracing() => "per-step, traced",
        TrialForm::Steps(_) => "per-step",
    }
}

/// `psychrnn bench --scripts`: per script, ms per batch of its trials at its own batch size
/// (one generation thread and the automatic count) and ms per training iteration at its own
/// network size and training settings, with the share of it spent waiting for trials.
fn bench_scripts(args: &BenchArgs) -> Result<(), CliError> {
    let model_threads = super::threads::default_count();
    outln!(
        "per script: trial generation (mean of {} batches at the script's batch size) and training \
         ({} iterations at its network size, fresh prefetched batches, {model_threads} model thread(s))",
        args.batches,
        args.iterations
    );
    outln!(
        "  {:<36} {:<16} {:>5} {:>5} {:>4} {:>4} {:>5} {:>10} {:>10} {:>10} {:>8}",
        "script",
        "form",
        "batch",
        "steps",
        "in",
        "out",
        "units",
        "gen 1 thr",
        "gen auto",
        "train/it",
        "waiting"
    );
    let mut waiting_scripts = Vec::new();
    for path in &args.scripts {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let loaded = load_experiment(path, &LoadOptions::default()).map_err(CliError::failed)?;
        let config = &loaded.config;
        let task: &dyn psychrnn::task::Task = loaded.task.as_ref();
        let shape = task.shape();
        let batch = config.train.batch_size;
        let generate =
            |threads| generation_ms(task, batch, args.batches, threads).map_err(CliError::failed);
        let (one, auto) = (generate(1)?, generate(0)?);
        let kernel = KernelOptions::with_threads(model_threads);
        let wait = with_threads(model_threads, || {
            training_wait_as_configured(
                loaded.task.clone(),
                &config.model,
                &config.train,
                args.iterations,
                kernel,
            )
        })
        .map_err(CliError::failed)?;
        if wait.waiting >= 0.1 {
            waiting_scripts.push(name.clone());
        }
        outln!(
            "  {name:<36} {:<16} {batch:>5} {:>5} {:>4} {:>4} {:>5} {one:>7.2} ms {auto:>7.2} ms {:>7.2} ms {:>7.1}%",
            form_name(&loaded.task),
            shape.n_steps(),
            shape.n_in(),
            shape.n_out(),
            config.model.n_rec,
            wait.ms_per_iteration,
            100.0 * wait.waiting
        );
    }
    if waiting_scripts.is_empty() {
        outln!("  training waits for trials less than 10% of the time in every script measured");
    } else {
        outln!(
            "  training waits for trials 10% of the time or more in: {}",
            waiting_scripts.join(", ")
        );
    }
    Ok(())
}

/// Runs `psychrnn bench`.
pub fn execute(args: &BenchArgs) -> Result<(), CliError> {
    if args.model {
        return bench_model(args);
    }
    if !args.scripts.is_empty() {
        return bench_scripts(args);
    }
    let batches = args.batches;
    let all = generation_threads();
    let epochs = load("perceptual_discrimination.rhai", EPOCHS)?;
    let steps = load("perceptual_discrimination_steps.rhai", STEPS)?;
    outln!("trial generation: perceptual discrimination, 64 trials × 200 steps, mean of {batches} batches");
    outln!(
        "  {:<10} {:>12} {:>12} {:>12}",
        "form",
        "1 thread",
        format!("{all} threads"),
        "automatic"
    );
    let mut one = Vec::new();
    for (name, loaded) in [("epochs", &epochs), ("per-step", &steps)] {
        let task = loaded.task.as_ref();
        let ms = |threads| generation_ms(task, BATCH, batches, threads).map_err(CliError::failed);
        let (a, b, c) = (ms(1)?, ms(all)?, ms(0)?);
        outln!("  {name:<10} {a:>9.2} ms {b:>9.2} ms {c:>9.2} ms");
        one.push(a);
    }
    outln!("  per-step form / epoch form: {:.0}x", one[1] / one[0]);
    outln!(
        "training: 50 units, batch 64, 200 steps, {} iterations",
        args.iterations
    );
    for (name, loaded) in [("epochs", &epochs), ("per-step", &steps)] {
        let kernel = KernelOptions::with_threads(super::threads::default_count());
        let wait = training_wait(
            loaded.task.clone(),
            &ModelConfig::default(),
            args.iterations,
            kernel,
        )
        .map_err(CliError::failed)?;
        outln!(
            "  {name:<10} {:>7.1} ms per iteration, {:.1}% of it waiting for trials",
            wait.ms_per_iteration,
            100.0 * wait.waiting
        );
    }
    Ok(())
}
