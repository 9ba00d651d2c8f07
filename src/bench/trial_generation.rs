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

/// Trains a network of `model_config` on `task` for `iterations` iterations with fresh,
/// prefetched batches of [`crate::bench::BATCH`] trials, as `psychrnn run` does (the trainer
/// itself, one evaluation of 8 trials at the end), with the kernel options `kernel`.
pub fn training_wait(
    task: Arc<dyn Task>,
    model_config: &ModelConfig,
    iterations: usize,
    kernel: KernelOptions,
) -> Result<TrainingWait, BenchError> {
    let config = TrainConfig {
        batch_size: super::BATCH,
        ..TrainConfig::default()
    };
    training_wait_as_configured(task, model_config, &config, iterations, kernel)
}

/// [`training_wait`] with a script's own training settings `train_config` (batch size,
/// optimizer, loss settings), its `iterations`, evaluation and stopping rules replaced by
/// `iterations` iterations and one evaluation of 8 trials at the end.
pub fn training_wait_as_configured(
    task: Arc<dyn Task>,
    model_config: &ModelConfig,
    train_config: &TrainConfig,
    iterations: usize,
    kernel: KernelOptions,
) -> Result<TrainingWait, BenchError> {
    let built = build_network_with(model_config, task.shape(), 0, Path::new("."), kernel)?;
    let config = TrainConfig {
        iterations: iterations.max(1),
        eval_every: iterations.max(1),
        eval_trials: 8,
        stop_at_accuracy: None,
        stop_on_plateau: None,
        max_seconds: None,
        ..train_config.clone()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelKind;
    use crate::script::{load_experiment_source, LoadOptions};

    #[test]
    fn run_style_training_trains_the_network_it_is_given() {
        let script = r#"experiment(#{ task: #{ name: "t", inputs: ["a"], outputs: ["b"],
            dt: 10.0, tau: 100.0, duration: 50.0,
            params: |rng| #{ x: rng.uniform(0.0, 1.0) },
            trial: |p| [#{ name: "all", input: [p.x], target: [p.x] }] } });"#;
        let loaded =
            load_experiment_source("t.rhai", script, Path::new("."), &LoadOptions::default())
                .unwrap();
        for kind in [ModelKind::RateRnn, ModelKind::Lstm, ModelKind::Gru] {
            let config = ModelConfig {
                kind,
                n_rec: 6,
                ..ModelConfig::default()
            };
            let wait =
                training_wait(loaded.task.clone(), &config, 3, KernelOptions::default()).unwrap();
            assert!(
                wait.ms_per_iteration.is_finite() && wait.ms_per_iteration > 0.0,
                "{kind:?}"
            );
            assert!(
                (0.0..=1.0).contains(&wait.waiting),
                "{kind:?}: {}",
                wait.waiting
            );
        }
        // A size the task's shape cannot take is an error, not a panic.
        let zero = ModelConfig {
            n_rec: 0,
            ..ModelConfig::default()
        };
        assert!(training_wait(loaded.task.clone(), &zero, 1, KernelOptions::default()).is_err());
    }
}
