//! Timing trial generation, alone and as training sees it.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use super::BenchError;
use crate::kernel::KernelOptions;
use crate::model::{build_network_with, ModelConfig};
use crate::random::stream;
use crate::task::{generate_batch_with_threads, Task};
use crate::train::{train, TrainConfig};

/// Mean milliseconds to build one batch of `trials` trials of `task` on `threads` threads (0:
/// automatic), over `batches` batches of the training stream (seed 0).
pub fn generation_ms(
    task: &dyn Task,
    trials: usize,
    batches: usize,
    threads: usize,
) -> Result<f64, BenchError> {
    let batches = batches.max(1);
    let start = Instant::now();
    for k in 0..batches {
        generate_batch_with_threads(task, 0, stream::TRAIN, k as u64, trials, threads)?;
    }
    Ok(start.elapsed().as_secs_f64() * 1e3 / batches as f64)
}

/// How training on a task spent its time.
#[derive(Debug, Clone, Copy)]
pub struct TrainingWait {
    /// Mean wall time of a training iteration.
    pub ms_per_iteration: f64,
    /// The share of the wall time spent waiting for the next batch (0 to 1).
    pub waiting: f64,
}

/// Trains the default model (50 units) on `task` for `iterations` iterations with fresh,
/// prefetched batches, as `psychrnn run` does, with the kernel options `kernel`.
pub fn training_wait(
    task: Arc<dyn Task>,
    iterations: usize,
    kernel: KernelOptions,
) -> Result<TrainingWait, BenchError> {
    let model_config = ModelConfig::default();
    let built = build_network_with(&model_config, task.shape(), 0, Path::new("."), kernel)?;
    let config = TrainConfig {
        iterations: iterations.max(1),
        eval_every: iterations.max(1),
        eval_trials: 8,
        ..TrainConfig::default()
    };
    let outcome = train(
        built.network.as_ref(),
        task,
        &config,
        model_config.loss,
        0,
        |_| {},
    )?;
    Ok(TrainingWait {
        ms_per_iteration: outcome.wall_seconds * 1e3 / outcome.iterations as f64,
        waiting: outcome.batch_wait_seconds / outcome.wall_seconds,
    })
}
