//! `psychrnn bench`: measured speeds, as ratios taken in one run on this machine.
//!
//! Trial generation for PsychRNN's perceptual discrimination task (64 trials × 200 steps) in
//! the epoch and the per-step form, on one thread and on all, and the share of a training
//! iteration spent waiting for trials.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;

use super::{flag_values, CliError};
use psychrnn::kernel::KernelOptions;
use psychrnn::memory;
use psychrnn::model::{build_network_with, ModelConfig, ModelKind};
use psychrnn::random::{stream, Rng};
use psychrnn::script::{load_experiment_source, LoadOptions, LoadedExperiment};
use psychrnn::task::{generate_batch_with_threads, generation_threads, Task, TaskShape};
use psychrnn::train::{gradient_step, new_optimizer, train, TrainConfig};

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
}

fn load(name: &str, text: &str) -> Result<LoadedExperiment, CliError> {
    load_experiment_source(name, text, Path::new("."), &LoadOptions::default())
        .map_err(CliError::failed)
}

/// Mean milliseconds to build one batch of 64 trials on `threads` threads (0: automatic).
fn generation_ms(task: &dyn Task, batches: usize, threads: usize) -> Result<f64, CliError> {
    let start = Instant::now();
    for k in 0..batches {
        generate_batch_with_threads(task, 0, stream::TRAIN, k as u64, 64, threads)
            .map_err(CliError::failed)?;
    }
    Ok(start.elapsed().as_secs_f64() * 1e3 / batches as f64)
}

/// (ms per training iteration, share of the time spent waiting for batches).
fn training(loaded: &LoadedExperiment, iterations: usize) -> Result<(f64, f64), CliError> {
    let model_config = psychrnn::model::ModelConfig::default();
    let kernel = KernelOptions::with_threads(super::threads::default_count());
    let built = build_network_with(
        &model_config,
        loaded.task.shape(),
        0,
        Path::new("."),
        kernel,
    )
    .map_err(CliError::failed)?;
    let config = TrainConfig {
        iterations,
        eval_every: iterations,
        eval_trials: 8,
        ..TrainConfig::default()
    };
    let task: Arc<dyn Task> = loaded.task.clone();
    let outcome = train(
        built.network.as_ref(),
        task,
        &config,
        model_config.loss,
        0,
        |_| {},
    )
    .map_err(CliError::failed)?;
    Ok((
        outcome.wall_seconds * 1e3 / outcome.iterations as f64,
        outcome.batch_wait_seconds / outcome.wall_seconds,
    ))
}

/// One network to time: kind, recurrent size, fused kernel or not, steps per trial.
#[derive(Debug, Clone, Copy)]
struct Case {
    kind: ModelKind,
    n_rec: usize,
    fused: bool,
    steps: usize,
}

/// What one measurement gave.
#[derive(Debug, Clone, Copy)]
struct Cost {
    /// Mean wall time of a training iteration.
    ms: f64,
    /// The most heap memory an iteration had live beyond what was live before it.
    peak_bytes: usize,
}

const BATCH: usize = 64;

/// Input and output channels of the benchmark's networks.
const CHANNELS: usize = 2;

/// Blocks a timed run of iterations is split into; the fastest block's mean is reported.
const TIMED_BLOCKS: usize = 5;

/// Times `iterations` training iterations (forward, masked MSE, backward, Adam: the trainer's
/// own [`gradient_step`]) of `case` on one fixed random batch of 64 trials with 2 inputs and 2
/// outputs, after one warm-up iteration, on `threads` model threads: ms per iteration in the
/// fastest of [`TIMED_BLOCKS`] blocks. `watch` is called with the live heap after each.
fn iteration_cost(
    case: Case,
    threads: usize,
    iterations: usize,
    watch: impl FnMut(usize, usize) + Send,
) -> Result<Cost, CliError> {
    with_threads(threads, || {
        iteration_cost_here(case, threads, iterations, watch)
    })
}

/// [`iteration_cost`] on the calling thread.
fn iteration_cost_here(
    case: Case,
    threads: usize,
    iterations: usize,
    mut watch: impl FnMut(usize, usize),
) -> Result<Cost, CliError> {
    use candle_core::{DType, Device, Tensor};
    let config = ModelConfig {
        kind: case.kind,
        n_rec: case.n_rec,
        fused: case.fused,
        ..ModelConfig::default()
    };
    let shape = TaskShape {
        inputs: (0..CHANNELS).map(|c| format!("in{c}")).collect(),
        outputs: (0..CHANNELS).map(|c| format!("out{c}")).collect(),
        dt: 10.0,
        tau: 100.0,
        duration: 10.0 * case.steps as f64,
    };
    let kernel = KernelOptions::with_threads(threads);
    let built =
        build_network_with(&config, &shape, 0, Path::new("."), kernel).map_err(CliError::failed)?;
    let model = built.network.as_ref();
    let dev = Device::Cpu;
    let shape3 = (case.steps, BATCH, CHANNELS);
    let fail = CliError::failed;
    let inputs = Tensor::rand(0f32, 1f32, shape3, &dev).map_err(fail)?;
    let targets = Tensor::rand(0f32, 1f32, shape3, &dev).map_err(fail)?;
    let mask = Tensor::ones(shape3, DType::F32, &dev).map_err(fail)?;
    let train_config = TrainConfig::default();
    let mut optimizer = new_optimizer(model, &train_config).map_err(fail)?;
    let trainable = model.trainable();
    let mut step = |i: usize| {
        gradient_step(
            model,
            &trainable,
            &mut optimizer,
            &train_config,
            config.loss,
            i,
            (&inputs, &targets, &mask),
            &mut Rng::from_seed(i as u64),
        )
        .map_err(CliError::failed)
    };
    step(1)?;
    let before = memory::heap_bytes();
    memory::reset_peak_heap();
    // The fastest of the blocks, as the GEMM rate is the fastest of its products: on a shared
    // machine the slower blocks measure the neighbours.
    let iterations = iterations.max(1);
    let block = iterations.div_ceil(TIMED_BLOCKS);
    let mut best = f64::INFINITY;
    let mut done = 0;
    while done < iterations {
        let n = block.min(iterations - done);
        let start = Instant::now();
        for i in done..done + n {
            step(i + 2)?;
            watch(i + 1, memory::heap_bytes());
        }
        best = best.min(start.elapsed().as_secs_f64() * 1e3 / n as f64);
        done += n;
    }
    Ok(Cost {
        ms: best,
        peak_bytes: memory::peak_heap_bytes().saturating_sub(before),
    })
}

/// A rate RNN case with the default 200 steps.
fn rate(n_rec: usize, fused: bool) -> Case {
    Case {
        kind: ModelKind::RateRnn,
        n_rec,
        fused,
        steps: 200,
    }
}

/// Iterations per measurement: fewer for the slow large networks, more for the small ones
/// (whose few-millisecond iterations are noisy).
fn iterations_for(n_rec: usize) -> usize {
    match n_rec {
        256.. => 5,
        100.. => 20,
        _ => 100,
    }
}

/// The FLOP of one training iteration's matrix products for a benchmark case (batch
/// [`BATCH`], [`CHANNELS`] inputs and outputs): the recurrence 2·T·B·N² forward and 4·T·B·N²
/// backward (∂W_rec and the step-to-step product), the input drive 2·T·B·N·N_in and ∂W_in,
/// the readout 2·T·B·N·N_out and its two backward products; the recurrence and input terms
/// once per gate for the LSTM (4) and GRU (3).
fn product_flops(case: &Case) -> f64 {
    let (rows, n) = ((case.steps * BATCH) as f64, case.n_rec as f64);
    let channels = CHANNELS as f64;
    // Pre-activations per unit: one for the rate RNN, one per gate for the LSTM and GRU.
    let gates = match case.kind {
        ModelKind::RateRnn => 1.0,
        ModelKind::Lstm => 4.0,
        ModelKind::Gru => 3.0,
    };
    rows * n * (gates * (6.0 * n + 4.0 * channels) + 6.0 * channels)
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

/// Runs `f` inside the model's pool of `threads` threads (even for one); the fused kernels get
/// the count in their options. candle's products on the reference path take their count only
/// from `RAYON_NUM_THREADS` (see `threads`), so this measurement tool, which compares counts in
/// one process, also writes it: measured without this write (candle at the largest count
/// inside a smaller pool), the reference path at 256 units took 2–3 times as long.
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
    for &threads in &args.threads {
        let rows = (|| -> Result<Vec<String>, CliError> {
            // The GEMM rate before and after the rows, the better of the two: once in a few
            // runs one measurement on two threads came out at the one-thread rate (the second
            // thread not yet running on a core of its own).
            let before = psychrnn::kernel::gemm_gflops(1024, threads);
            let mut costs = Vec::new();
            for &n in &args.sizes {
                let its = iterations_for(n);
                let reference = iteration_cost(rate(n, false), threads, its, |_, _| {})?;
                let fused = iteration_cost(rate(n, true), threads, its, |_, _| {})?;
                costs.push((n, reference, fused));
            }
            let gemm = before.max(psychrnn::kernel::gemm_gflops(1024, threads));
            let mut rows = vec![format!(
                "  {threads:>7} f32 GEMM 1024³ on {threads} thread(s): {gemm:.1} GFLOP/s"
            )];
            for (n, reference, fused) in costs {
                let flops = product_flops(&rate(n, true));
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

    let threads = args.threads.first().copied().unwrap_or(1);
    outln!("LSTM and GRU on {threads} thread(s), same batch, per-step candle ops (reference) and fused kernel:");
    outln!(
        "  (per FLOP: the time ratio to the fused rate RNN divided by the ratio of their products' \
         arithmetic, {} and {} times the rate RNN's)",
        "about 4",
        "about 3"
    );
    outln!(
        "  {:>6} {:>6} {:>11} {:>11} {:>8} {:>18} {:>9}",
        "kind",
        "N_rec",
        "reference",
        "fused",
        "speed-up",
        "vs fused rate RNN",
        "per FLOP"
    );
    for kind in [ModelKind::Lstm, ModelKind::Gru] {
        for &n in &args.sizes {
            let case = |fused| Case {
                kind,
                n_rec: n,
                fused,
                steps: 200,
            };
            let its = iterations_for(n);
            let reference = iteration_cost(case(false), threads, its, |_, _| {})?;
            let fused = iteration_cost(case(true), threads, its, |_, _| {})?;
            // Time per iteration, and per FLOP of the products, against the fused rate RNN.
            let (ratio, per_flop) = match fused_ms.get(&(threads, n)) {
                Some(f) => (
                    format!("{:.1}x", fused.ms / f),
                    format!(
                        "{:.1}x",
                        fused.ms / f * product_flops(&rate(n, true)) / product_flops(&case(true))
                    ),
                ),
                None => Default::default(),
            };
            outln!(
                "  {:>6} {n:>6} {:>8.1} ms {:>8.1} ms {:>7.2}x {ratio:>18} {per_flop:>9}",
                format!("{kind:?}").to_lowercase(),
                reference.ms,
                fused.ms,
                reference.ms / fused.ms
            );
        }
    }

    let largest = args.sizes.iter().copied().max().unwrap_or(50);
    let smallest = args.sizes.iter().copied().min().unwrap_or(50);
    outln!(
        "memory of the fused rate RNN, N_rec = {largest}, batch {BATCH}, on {threads} thread(s):"
    );
    let mut peaks = Vec::new();
    for steps in [100, 200, 400] {
        let case = Case {
            steps,
            ..rate(largest, true)
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
    iteration_cost(rate(smallest, true), threads, 200, |i, bytes| {
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

/// Runs `psychrnn bench`.
pub fn execute(args: &BenchArgs) -> Result<(), CliError> {
    if args.model {
        return bench_model(args);
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
        let a = generation_ms(loaded.task.as_ref(), batches, 1)?;
        let b = generation_ms(loaded.task.as_ref(), batches, all)?;
        let c = generation_ms(loaded.task.as_ref(), batches, 0)?;
        outln!("  {name:<10} {a:>9.2} ms {b:>9.2} ms {c:>9.2} ms");
        one.push(a);
    }
    outln!("  per-step form / epoch form: {:.0}x", one[1] / one[0]);
    outln!(
        "training: 50 units, batch 64, 200 steps, {} iterations",
        args.iterations
    );
    for (name, loaded) in [("epochs", &epochs), ("per-step", &steps)] {
        let (ms, wait) = training(loaded, args.iterations)?;
        outln!(
            "  {name:<10} {ms:>7.1} ms per iteration, {:.1}% of it waiting for trials",
            100.0 * wait
        );
    }
    Ok(())
}
