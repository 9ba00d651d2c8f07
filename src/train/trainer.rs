//! The training loop: prefetched batches → forward → masked loss → clipped gradients → Adam,
//! with an evaluation on fresh trials every `eval_every` iterations.

use std::sync::Arc;
use std::time::Instant;

use candle_core::{DType, Device, Tensor};

use super::{clip_by_norm, loss, Adam, TrainConfig};
use crate::model::{LossKind, Network};
use crate::random::{stream, Rng};
use crate::task::{argmax_accuracy, generate_batch, Batch, BatchPrefetcher, Task, TaskError};

/// Errors that stop training.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A trial could not be generated.
    #[error(transparent)]
    Task(#[from] TaskError),
    /// A tensor operation failed.
    #[error("model computation failed: {0}")]
    Model(#[from] candle_core::Error),
    /// The loss became NaN or infinite.
    #[error("the loss became {loss} at iteration {iteration}; try a smaller train.learning_rate, keep train.clip_grad_norm on, or check the task's inputs and targets for huge values")]
    NonFinite {
        /// Iteration (1-based) whose loss was not finite.
        iteration: usize,
        /// The loss value.
        loss: f64,
    },
}

/// One row of `history.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    /// Parameter updates done.
    pub iteration: usize,
    /// Training trials seen.
    pub trials_seen: usize,
    /// Mean training loss over the iterations since the previous row.
    pub loss: f64,
    /// Loss on the evaluation batch.
    pub eval_loss: f64,
    /// Accuracy on the evaluation batch (PsychRNN's argmax accuracy).
    pub accuracy: f64,
    /// Seconds since training started.
    pub seconds: f64,
}

/// Why training ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StopReason {
    /// All `train.iterations` were done.
    Iterations,
    /// An evaluation reached `train.stop_at_accuracy`.
    AccuracyReached,
}

/// What a finished training run reports.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// Every evaluation row.
    pub history: Vec<HistoryRow>,
    /// Updates done.
    pub iterations: usize,
    /// Trials trained on.
    pub trials_seen: usize,
    /// Wall time of the loop in seconds.
    pub wall_seconds: f64,
    /// Seconds the loop spent waiting for the next training batch.
    pub batch_wait_seconds: f64,
    /// Why it stopped.
    pub stop_reason: StopReason,
}

/// The network's behaviour on one batch.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Masked MSE.
    pub loss: f64,
    /// PsychRNN's argmax accuracy.
    pub accuracy: f64,
    /// Outputs [B, T, N_out].
    pub outputs: Vec<f32>,
    /// States [B, T, N_rec].
    pub states: Vec<f32>,
}

/// A batch as time-major tensors: (inputs [T, B, N_in], targets [T, B, N_out], mask).
pub fn batch_tensors(
    batch: &Batch,
    dtype: DType,
    device: &Device,
) -> candle_core::Result<(Tensor, Tensor, Tensor)> {
    let (b, t) = (batch.n_trials, batch.n_steps);
    let tm = |data: &[f32], c: usize| -> candle_core::Result<Tensor> {
        Tensor::from_slice(data, (b, t, c), device)?
            .transpose(0, 1)?
            .contiguous()?
            .to_dtype(dtype)
    };
    Ok((
        tm(&batch.inputs, batch.n_in)?,
        tm(&batch.targets, batch.n_out)?,
        tm(&batch.mask, batch.n_out)?,
    ))
}

fn batch_major(t: &Tensor) -> candle_core::Result<Vec<f32>> {
    t.transpose(0, 1)?
        .to_dtype(DType::F32)?
        .flatten_all()?
        .to_vec1::<f32>()
}

/// Runs `model` (no gradients) on `batch` with noise from `noise_rng`; `kind` is the loss.
pub fn evaluate(
    model: &dyn Network,
    batch: &Batch,
    noise_rng: &mut Rng,
    kind: LossKind,
) -> candle_core::Result<Evaluation> {
    let (inputs, targets, mask) = batch_tensors(batch, model.dtype(), &model.device())?;
    let (sim, _) = model.run(&inputs, noise_rng, false)?;
    let loss = loss(kind, &sim.outputs, &targets, &mask)?
        .to_dtype(DType::F64)?
        .to_scalar::<f64>()?;
    let outputs = batch_major(&sim.outputs)?;
    let accuracy = argmax_accuracy(
        &outputs,
        &batch.targets,
        &batch.mask,
        batch.n_trials,
        batch.n_steps,
        batch.n_out,
    );
    Ok(Evaluation {
        loss,
        accuracy,
        outputs,
        states: batch_major(&sim.states)?,
    })
}

/// Trains `model` in place on batches of `task` drawn from `seed`, calling `on_row` after each
/// evaluation. Batch k of training is `generate_batch(task, seed, TRAIN, k, batch_size)`;
/// evaluation batches come from their own stream, so evaluating never changes training.
pub fn train(
    model: &dyn Network,
    task: Arc<dyn Task>,
    config: &TrainConfig,
    kind: LossKind,
    seed: u64,
    mut on_row: impl FnMut(&HistoryRow),
) -> Result<TrainOutcome, TrainError> {
    let start = Instant::now();
    let dtype = model.dtype();
    let device = model.device();
    let trainable = model.trainable();
    let vars: Vec<&candle_core::Var> = trainable.iter().map(|t| t.var).collect();
    let mut adam = Adam::new(&vars, config.learning_rate)?;
    let mut batches =
        BatchPrefetcher::start(task.clone(), seed, stream::TRAIN, 0, config.batch_size, 2);
    let mut history = Vec::new();
    let (mut loss_sum, mut loss_count) = (0.0, 0usize);
    let mut stop_reason = StopReason::Iterations;
    let mut done = 0;
    let mut waited = 0.0;
    for iteration in 1..=config.iterations {
        let wait_start = Instant::now();
        let batch = batches.next_batch()?;
        waited += wait_start.elapsed().as_secs_f64();
        let (inputs, targets, mask) = batch_tensors(&batch, dtype, &device)?;
        let mut noise_rng =
            Rng::derive(seed, &[stream::REC_NOISE, stream::TRAIN, iteration as u64]);
        let (sim, penalty) = model.run(&inputs, &mut noise_rng, true)?;
        let mut loss = loss(kind, &sim.outputs, &targets, &mask)?;
        if let Some(p) = penalty {
            loss = (loss + p)?;
        }
        let loss_value = loss.to_dtype(DType::F64)?.to_scalar::<f64>()?;
        if !loss_value.is_finite() {
            return Err(TrainError::NonFinite {
                iteration,
                loss: loss_value,
            });
        }
        let grads = loss.backward()?;
        let mut clipped = Vec::with_capacity(vars.len());
        for t in &trainable {
            let g = match grads.get(t.var.as_tensor()) {
                Some(g) => g.clone(),
                None => t.var.as_tensor().zeros_like()?,
            };
            // Fixed synapses get no gradient (PsychRNN: grad · (1 − fixed)), before clipping.
            let g = match &t.free {
                Some(free) => g.mul(free)?,
                None => g,
            };
            clipped.push(match config.clip_grad_norm {
                Some(c) => clip_by_norm(&g, c)?,
                None => g,
            });
        }
        adam.step(&vars, &clipped)?;
        loss_sum += loss_value;
        loss_count += 1;
        done = iteration;
        if iteration % config.eval_every == 0 || iteration == config.iterations {
            let k = (iteration / config.eval_every) as u64;
            let eval_batch =
                generate_batch(task.as_ref(), seed, stream::EVAL, k, config.eval_trials)?;
            let mut eval_noise = Rng::derive(seed, &[stream::REC_NOISE, stream::EVAL, k]);
            let eval = evaluate(model, &eval_batch, &mut eval_noise, kind)?;
            let row = HistoryRow {
                iteration,
                trials_seen: iteration * config.batch_size,
                loss: loss_sum / loss_count as f64,
                eval_loss: eval.loss,
                accuracy: eval.accuracy,
                seconds: start.elapsed().as_secs_f64(),
            };
            (loss_sum, loss_count) = (0.0, 0);
            on_row(&row);
            history.push(row);
            if let Some(target) = config.stop_at_accuracy {
                if eval.accuracy >= target {
                    stop_reason = StopReason::AccuracyReached;
                    break;
                }
            }
        }
    }
    Ok(TrainOutcome {
        history,
        iterations: done,
        trials_seen: done * config.batch_size,
        wall_seconds: start.elapsed().as_secs_f64(),
        batch_wait_seconds: waited,
        stop_reason,
    })
}
