//! Timing trial generation, alone and as training sees it.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use super::BenchError;
use crate::kernel::KernelOptions;
use crate::model::{build_network_with, ModelConfig};
use crate::random::stream;
use crate::task::{generate_batch_with_threads, Task};
use std::sync::atomic::AtomicBool;

use super::iteration::TIMED_BLOCKS;
use crate::train::{new_optimizer, train_session, Hooks, SingleTask, TrainConfig, TrainState};

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
    /// Mean wall time of a training iteration over the whole session (its first iteration,
    /// which allocates the network's buffers, and the final evaluation included).
    pub ms_per_iteration: f64,
    /// Mean time from one iteration's end to the next one's in the fastest of five blocks,
    /// the first iteration left out: the statistic [`super::measure_iteration`] reports for a
    /// fixed batch, so the two compare like with like.
    pub fastest_block_ms: f64,
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
    let model = built.network.as_ref();
    let config = TrainConfig {
        iterations: iterations.max(1),
        eval_every: iterations.max(1),
        eval_trials: 8,
        stop_at_accuracy: None,
        stop_on_plateau: None,
        max_seconds: None,
        ..train_config.clone()
    };
    let curriculum = SingleTask(task);
    let mut state = TrainState::new(&curriculum);
    let mut optimizer = new_optimizer(model, &config)?;
    let stop = AtomicBool::new(false);
    let mut ends = Vec::with_capacity(config.iterations);
    let outcome = train_session(
        model,
        &curriculum,
        &config,
        model_config.loss,
        0,
        &mut state,
        &mut optimizer,
        Hooks {
            on_row: &mut |_| {},
            on_iteration: &mut |_, _| ends.push(Instant::now()),
            on_checkpoint: &mut |_, _| Ok(()),
            on_stage_end: &mut |_, _| Ok(()),
            checkpoint_interval: None,
            stop: &stop,
        },
    )?;
    Ok(TrainingWait {
        ms_per_iteration: outcome.wall_seconds * 1e3 / outcome.iterations as f64,
        fastest_block_ms: fastest_block_ms(&ends),
        waiting: outcome.batch_wait_seconds / outcome.wall_seconds,
    })
}

/// The fastest of [`TIMED_BLOCKS`] blocks' mean interval between consecutive `ends` (NaN
/// with fewer than two).
fn fastest_block_ms(ends: &[Instant]) -> f64 {
    let gaps: Vec<f64> = ends
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64() * 1e3)
        .collect();
    let block = gaps.len().div_ceil(TIMED_BLOCKS).max(1);
    gaps.chunks(block)
        .map(|c| c.iter().sum::<f64>() / c.len() as f64)
        .fold(f64::NAN, f64::min)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_fastest_block_is_the_smallest_mean_gap_of_five_blocks() {
        // Gaps 10, 30, 20, 40, 5, 25, 15, 35, 50, 45 ms: blocks of two, means 20, 30, 15, 25,
        // 47.5; the fastest is 15.
        let start = Instant::now();
        let mut at = start;
        let mut ends = vec![at];
        for gap in [10, 30, 20, 40, 5, 25, 15, 35, 50, 45] {
            at += Duration::from_millis(gap);
            ends.push(at);
        }
        assert!((fastest_block_ms(&ends) - 15.0).abs() < 1e-9);
        // Three gaps: blocks of one, the smallest gap.
        assert!((fastest_block_ms(&ends[..4]) - 10.0).abs() < 1e-9);
        assert!(fastest_block_ms(&ends[..1]).is_nan());
    }
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
