//! `psychrnn bench`: measured speeds, as ratios taken in one run on this machine.
//!
//! Trial generation for PsychRNN's perceptual discrimination task (64 trials × 200 steps) in
//! the epoch and the per-step form, on one thread and on all, and the share of a training
//! iteration spent waiting for trials.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;

use super::CliError;
use crate::model::build_network;
use crate::random::stream;
use crate::script::{load_experiment_source, LoadOptions, LoadedExperiment};
use crate::task::{generate_batch_with_threads, generation_threads, Task};
use crate::train::{train, TrainConfig};

const EPOCHS: &str = include_str!("../../scripts/perceptual_discrimination.rhai");
const STEPS: &str = include_str!("../../scripts/perceptual_discrimination_steps.rhai");

/// Arguments of `psychrnn bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Measure the model only: ms per training iteration, fused kernel vs reference path.
    #[arg(long)]
    pub model: bool,
    /// Recurrent sizes for --model.
    #[arg(long, value_delimiter = ',', default_values_t = [50usize, 256, 512])]
    pub sizes: Vec<usize>,
    /// Batches generated per measurement.
    #[arg(long, default_value_t = 20)]
    pub batches: usize,
    /// Training iterations per training measurement.
    #[arg(long, default_value_t = 60)]
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
    let model_config = crate::model::ModelConfig::default();
    let built = build_network(&model_config, loaded.task.shape(), 0, Path::new("."))
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

/// Milliseconds per training iteration (forward, masked MSE, backward, Adam) of an `n`-unit
/// rate RNN on batch 64 × 200 steps, fused or reference, averaged over `iterations`.
fn model_ms(n: usize, fused: bool, iterations: usize) -> Result<f64, CliError> {
    use crate::model::{
        initial_weights, Constraints, ModelConfig, Network, RateRnn, RateRnnOptions, Transfer,
    };
    use candle_core::{DType, Device, Tensor};
    let config = ModelConfig {
        n_rec: n,
        ..ModelConfig::default()
    };
    let k = Constraints::from_config(&config, 2, 2).map_err(CliError::failed)?;
    let w = initial_weights(&config, &k, 0);
    let options = RateRnnOptions {
        fused,
        ..RateRnnOptions::new(0.1, 0.0, Transfer::Relu)
    };
    let model = RateRnn::new(&w, &options, DType::F32, &Device::Cpu).map_err(CliError::failed)?;
    let dev = Device::Cpu;
    let (t, b) = (200, 64);
    let inputs = Tensor::rand(0f32, 1f32, (t, b, 2), &dev).map_err(CliError::failed)?;
    let targets = Tensor::rand(0f32, 1f32, (t, b, 2), &dev).map_err(CliError::failed)?;
    let mask = Tensor::ones((t, b, 2), DType::F32, &dev).map_err(CliError::failed)?;
    let train_config = TrainConfig::default();
    let mut optimizer =
        crate::train::new_optimizer(&model, &train_config).map_err(CliError::failed)?;
    let trainable = model.trainable();
    let vars: Vec<&candle_core::Var> = trainable.iter().map(|t| t.var).collect();
    let mut step = || -> candle_core::Result<()> {
        let (sim, _) = model.run(&inputs, &mut crate::random::Rng::from_seed(0), true)?;
        let loss = crate::train::masked_mse(&sim.outputs, &targets, &mask)?;
        let grads = loss.backward()?;
        let gs: Vec<Tensor> = vars
            .iter()
            .map(|v| {
                grads
                    .get(v.as_tensor())
                    .cloned()
                    .unwrap_or_else(|| v.as_tensor().zeros_like().unwrap())
            })
            .collect();
        optimizer.step(&vars, &gs, 1e-3)
    };
    step().map_err(CliError::failed)?;
    let start = Instant::now();
    for _ in 0..iterations.max(1) {
        step().map_err(CliError::failed)?;
    }
    Ok(start.elapsed().as_secs_f64() * 1e3 / iterations.max(1) as f64)
}

fn bench_model(args: &BenchArgs) -> Result<(), CliError> {
    let threads = crate::task::generation_threads();
    let gemm = crate::kernel::gemm_gflops(1024);
    outln!(
        "single-thread f32 GEMM (1024³): {gemm:.1} GFLOP/s; model threads: RAYON_NUM_THREADS={}",
        std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| threads.to_string())
    );
    outln!("training iteration, batch 64 × 200 steps (forward, loss, backward, Adam):");
    outln!(
        "  {:>6} {:>14} {:>14} {:>8} {:>16}",
        "N_rec",
        "reference",
        "fused",
        "speed-up",
        "fused vs GEMM"
    );
    for &n in &args.sizes {
        let its = if n >= 256 { 5 } else { 20 };
        let reference = model_ms(n, false, its)?;
        let fused = model_ms(n, true, its)?;
        // Recurrence arithmetic: forward 2·T·B·N², backward 4·T·B·N².
        let flops = 6.0 * 200.0 * 64.0 * (n as f64).powi(2);
        let share = flops / (fused / 1e3) / 1e9 / gemm;
        outln!(
            "  {n:>6} {reference:>11.1} ms {fused:>11.1} ms {:>7.2}x {:>15.0}%",
            reference / fused,
            100.0 * share
        );
    }
    Ok(())
}

/// Runs `psychrnn bench`.
pub fn execute(args: &BenchArgs) -> Result<(), CliError> {
    if args.model {
        return bench_model(args);
    }
    let batches = args.batches.max(1);
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
