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

/// Runs `psychrnn bench`.
pub fn execute(args: &BenchArgs) -> Result<(), CliError> {
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
