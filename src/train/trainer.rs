//! The training loop: prefetched batches → forward → loss → clipped gradients → optimizer,
//! with an evaluation on fresh trials every `eval_every` iterations, a curriculum driving the
//! task, checkpoints, a wall-time cap and a stop flag (Ctrl-C).
//!
//! Everything random is positional: training batch k is `generate_batch(task, seed, TRAIN, k,
//! …)`, the recurrent noise of iteration i comes from `(seed, REC_NOISE, TRAIN, i)`, evaluation
//! j from `(seed, EVAL, j)`. A run resumed from the state after iteration k therefore continues
//! exactly as the uninterrupted run would.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};
use serde_norway::Value;

use super::checkpoint::CheckpointError;
use super::curriculum::{Curriculum, CurriculumError, CurriculumState, Decision};
use super::{
    clip_by_norm, clip_global, loss, Adam, Clipping, Optimizer, OptimizerKind, Sgd, TrainConfig,
};
use crate::model::{LossKind, Network, TrainableVar};
use crate::random::{stream, Rng};
use crate::task::{generate_batch, Batch, BatchPrefetcher, ScoreError, Task, TaskError};

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
    #[error("the loss became {loss} at iteration {iteration}; likely causes: a learning rate too large (lower train.learning_rate), gradient clipping turned off (keep train.clip_grad_norm), or huge inputs or targets in the task")]
    NonFinite {
        /// Iteration (1-based) whose loss was not finite.
        iteration: usize,
        /// The loss value.
        loss: f64,
    },
    /// A checkpoint could not be written.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// history.csv could not be written.
    #[error("cannot write history: {0}")]
    History(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The curriculum failed during training: a rule or a stage's task (bad input).
    #[error(transparent)]
    Curriculum(#[from] CurriculumError),
    /// The task's scorer could not score a trial (a missing condition or epoch).
    #[error("scoring: task `{task}`: {source}")]
    Scoring {
        /// The task's name.
        task: String,
        /// What the scorer could not do.
        source: ScoreError,
    },
}

/// One row of `history.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryRow {
    /// Parameter updates done.
    pub iteration: usize,
    /// Training trials seen.
    pub trials_seen: usize,
    /// Mean training loss (with penalties) over the iterations since the previous row.
    pub loss: f64,
    /// Loss on the evaluation batch.
    pub eval_loss: f64,
    /// Accuracy on the evaluation batch (the task scorer's mean credit; PsychRNN's argmax
    /// accuracy by default).
    pub accuracy: f64,
    /// Curriculum stage (its name).
    pub stage: String,
    /// Seconds of training so far (summed over resumed sessions).
    pub seconds: f64,
}

/// Why training ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// All `train.iterations` were done.
    Iterations,
    /// An evaluation reached `train.stop_at_accuracy`.
    AccuracyReached,
    /// The accuracy stopped rising (`train.stop_on_plateau`).
    Plateau,
    /// The last curriculum stage advanced, or a rule said stop.
    Curriculum,
    /// `train.max_seconds` passed.
    TimeLimit,
    /// The stop flag was raised (Ctrl-C, SIGTERM).
    Interrupted,
}

/// Everything needed to continue training exactly (with the network's parameters and the
/// optimizer's tensors, which a checkpoint stores beside it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Updates done.
    pub iteration: usize,
    /// Sum of training losses since the last history row.
    pub loss_sum: f64,
    /// Number of losses in `loss_sum`.
    pub loss_count: usize,
    /// Every history row so far.
    pub history: Vec<HistoryRow>,
    /// Curriculum position.
    pub curriculum: CurriculumState,
    /// Training seconds before this session.
    pub seconds_before: f64,
    /// Set when training has ended (by iterations, accuracy, curriculum or time limit).
    pub finished: Option<StopReason>,
}

impl TrainState {
    /// The state before the first iteration.
    pub fn new(curriculum: &dyn Curriculum) -> Self {
        TrainState {
            iteration: 0,
            loss_sum: 0.0,
            loss_count: 0,
            history: Vec::new(),
            curriculum: curriculum.initial_state(),
            seconds_before: 0.0,
            finished: None,
        }
    }
}

/// What a finished (or stopped) training session reports.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// Every evaluation row (of the whole run, resumed sessions included).
    pub history: Vec<HistoryRow>,
    /// Updates done.
    pub iterations: usize,
    /// Trials trained on.
    pub trials_seen: usize,
    /// Training seconds, all sessions.
    pub wall_seconds: f64,
    /// Seconds this session waited for the next training batch.
    pub batch_wait_seconds: f64,
    /// Why it stopped.
    pub stop_reason: StopReason,
    /// (stage name, first iteration) of every stage begun.
    pub stage_starts: Vec<(String, usize)>,
}

/// The network's behaviour on one batch.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// The loss (without penalties).
    pub loss: f64,
    /// The fraction of trials the task's scorer counts correct.
    pub accuracy: f64,
    /// The scorer's summary values (d′ and its rates for go/no-go).
    pub metrics: Vec<(String, f64)>,
    /// The scorer's verdict on each trial.
    pub correct: Vec<bool>,
    /// The scorer's credit for each trial in [0, 1] (`accuracy` is their mean).
    pub credit: Vec<f64>,
    /// Outputs [B, T, N_out].
    pub outputs: Vec<f32>,
    /// States [B, T, N_rec].
    pub states: Vec<f32>,
    /// Firing rates [B, T, N_rec].
    pub rates: Vec<f32>,
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

/// The most bytes one array of an evaluation chunk (states or rates of its trials) takes:
/// evaluation runs the model on this many trials at a time, so a test set of thousands of
/// trials never holds more than a few chunks' tensors besides its results.
const EVALUATION_CHUNK_BYTES: usize = 2 << 20;

/// How many trials of `n_steps` steps and `n_rec` units [`evaluate`] runs at once (a function
/// of the shapes only, so results never depend on the machine).
pub fn evaluation_chunk_trials(n_steps: usize, n_rec: usize) -> usize {
    (EVALUATION_CHUNK_BYTES / (n_steps * n_rec * 4).max(1)).max(1)
}

/// Runs `model` (no gradients) on `batch` of `task` with noise from `noise_rng` and scores it
/// with the task's scorer; `kind` is the loss. The model runs on chunks of
/// [`evaluation_chunk_trials`] trials in order, drawing their noise from `noise_rng` one
/// chunk after another; the loss and the scores are computed over the whole batch.
pub fn evaluate(
    model: &dyn Network,
    task: &dyn Task,
    batch: &Batch,
    noise_rng: &mut Rng,
    kind: LossKind,
) -> Result<Evaluation, TrainError> {
    evaluate_keeping(model, task, batch, noise_rng, kind, true)
}

/// [`evaluate`] without the states and rates (left empty): the behaviour alone, at the
/// memory of the outputs. Same outputs, loss and scores as [`evaluate`] with the same noise.
pub fn evaluate_behaviour(
    model: &dyn Network,
    task: &dyn Task,
    batch: &Batch,
    noise_rng: &mut Rng,
    kind: LossKind,
) -> Result<Evaluation, TrainError> {
    evaluate_keeping(model, task, batch, noise_rng, kind, false)
}

fn evaluate_keeping(
    model: &dyn Network,
    task: &dyn Task,
    batch: &Batch,
    noise_rng: &mut Rng,
    kind: LossKind,
    keep_activity: bool,
) -> Result<Evaluation, TrainError> {
    let (b, t) = (batch.n_trials, batch.n_steps);
    let chunk = evaluation_chunk_trials(t, model.n_rec());
    let kept = if keep_activity {
        b * t * model.n_rec()
    } else {
        0
    };
    let mut outputs = Vec::with_capacity(b * t * batch.n_out);
    let mut states = Vec::with_capacity(kept);
    let mut rates = Vec::with_capacity(kept);
    for first in (0..b.max(1)).step_by(chunk) {
        let last = (first + chunk).min(b);
        let part;
        let part_batch = if first == 0 && last == b {
            batch
        } else {
            part = batch.trials(first..last);
            &part
        };
        let (inputs, _, _) = batch_tensors(part_batch, model.dtype(), &model.device())?;
        let (sim, _) = model.run(&inputs, noise_rng, false)?;
        drop(inputs);
        outputs.extend(batch_major(&sim.outputs)?);
        if keep_activity {
            states.extend(batch_major(&sim.states)?);
            let part_rates = model.rates(&sim.states)?;
            drop(sim);
            rates.extend(batch_major(&part_rates)?);
        }
    }
    let (_, targets, mask) = batch_tensors(batch, model.dtype(), &model.device())?;
    let all_outputs = Tensor::from_slice(&outputs, (b, t, batch.n_out), &model.device())?
        .transpose(0, 1)?
        .contiguous()?
        .to_dtype(model.dtype())?;
    let loss = loss(kind, &all_outputs, &targets, &mask)?
        .to_dtype(DType::F64)?
        .to_scalar::<f64>()?;
    let scores = task
        .score(&outputs, batch, kind.output_reading())
        .map_err(|source| TrainError::Scoring {
            task: task.name().to_string(),
            source,
        })?;
    Ok(Evaluation {
        loss,
        accuracy: scores.accuracy(),
        metrics: scores.metrics,
        correct: scores.correct,
        credit: scores.credit,
        outputs,
        states,
        rates,
    })
}

/// The optimizer `config` asks for, over `model`'s trainable parameters.
pub fn new_optimizer(model: &dyn Network, config: &TrainConfig) -> candle_core::Result<Optimizer> {
    let trainable = model.trainable();
    let vars: Vec<&candle_core::Var> = trainable.iter().map(|t| t.var).collect();
    Ok(match config.optimizer {
        OptimizerKind::Adam => Optimizer::Adam(Adam::new(&vars, config.learning_rate)?),
        OptimizerKind::Sgd => {
            Optimizer::Sgd(Sgd::new(&vars, config.learning_rate, config.momentum)?)
        }
    })
}

/// Callbacks of a training session.
pub struct Hooks<'a> {
    /// After every evaluation row.
    pub on_row: &'a mut dyn FnMut(&HistoryRow),
    /// After every iteration (iteration, training loss), e.g. for a progress bar.
    pub on_iteration: &'a mut dyn FnMut(usize, f64),
    /// Every `checkpoint_every` iterations and when training ends: save a checkpoint.
    pub on_checkpoint: &'a mut dyn FnMut(&TrainState, &Optimizer) -> Result<(), CheckpointError>,
    /// When the curriculum moves on from a stage (its index, and the iteration that ended it):
    /// the model holds the parameters it ended that stage with (a run saves them as the
    /// stage's snapshot). Not called for the stage training ends in.
    pub on_stage_end: &'a mut dyn FnMut(usize, usize) -> Result<(), CheckpointError>,
    /// Also save a checkpoint when this much time has passed since the last one (`None`: by
    /// iterations only). Where checkpoints fall never changes the result.
    pub checkpoint_interval: Option<std::time::Duration>,
    /// When raised, training stops at the end of the current iteration.
    pub stop: &'a AtomicBool,
}

/// One training iteration on a batch of time-major (inputs, targets, mask): forward pass with
/// recurrent noise from `noise_rng`, loss plus regularisers, backward pass, fixed synapses
/// zeroed, clipping, and the optimizer's update at `iteration`'s learning rate. Returns the
/// loss; a non-finite loss is an error and leaves the parameters unchanged.
#[allow(clippy::too_many_arguments)]
pub fn gradient_step(
    model: &dyn Network,
    trainable: &[TrainableVar<'_>],
    optimizer: &mut Optimizer,
    config: &TrainConfig,
    kind: LossKind,
    iteration: usize,
    (inputs, targets, mask): (&Tensor, &Tensor, &Tensor),
    noise_rng: &mut Rng,
) -> Result<f64, TrainError> {
    let (outputs, penalty) = model.run_for_loss(inputs, noise_rng)?;
    let mut total = loss(kind, &outputs, targets, mask)?;
    if let Some(p) = penalty {
        total = (total + p)?;
    }
    let loss_value = total.to_dtype(DType::F64)?.to_scalar::<f64>()?;
    if !loss_value.is_finite() {
        return Err(TrainError::NonFinite {
            iteration,
            loss: loss_value,
        });
    }
    let grads = total.backward()?;
    let mut gs = Vec::with_capacity(trainable.len());
    for t in trainable {
        let g = match grads.get(t.var.as_tensor()) {
            Some(g) => g.clone(),
            None => t.var.as_tensor().zeros_like()?,
        };
        // Fixed synapses get no gradient (PsychRNN: grad · (1 − fixed)), before clipping.
        gs.push(match &t.free {
            Some(free) => g.mul(free)?,
            None => g,
        });
    }
    let gs = match (config.clip_grad_norm, config.clipping) {
        (None, _) => gs,
        (Some(c), Clipping::PerTensor) => gs
            .iter()
            .map(|g| clip_by_norm(g, c))
            .collect::<candle_core::Result<_>>()?,
        (Some(c), Clipping::Global) => clip_global(&gs, c)?,
    };
    let vars: Vec<&candle_core::Var> = trainable.iter().map(|t| t.var).collect();
    optimizer.step(&vars, &gs, config.learning_rate_at(iteration))?;
    Ok(loss_value)
}

/// Trains `model` in place from `state` (fresh, or restored from a checkpoint together with
/// the model's parameters and `optimizer`'s state) until the run's end, and returns the outcome;
/// `state` holds where training stopped.
#[allow(clippy::too_many_arguments)]
pub fn train_session(
    model: &dyn Network,
    curriculum: &dyn Curriculum,
    config: &TrainConfig,
    kind: LossKind,
    seed: u64,
    state: &mut TrainState,
    optimizer: &mut Optimizer,
    hooks: Hooks<'_>,
) -> Result<TrainOutcome, TrainError> {
    let start = Instant::now();
    let elapsed = |state: &TrainState| state.seconds_before + start.elapsed().as_secs_f64();
    let dtype = model.dtype();
    let device = model.device();
    let trainable = model.trainable();
    let kernel = model.kernel_options();
    let mut task = curriculum.task(&state.curriculum)?;
    let mut batches = BatchPrefetcher::start(
        task.clone(),
        seed,
        stream::TRAIN,
        state.iteration as u64,
        config.batch_size,
        2,
    );
    let mut waited = 0.0;
    let mut last_checkpoint = Instant::now();
    let mut stop_reason = state.finished;
    while stop_reason.is_none() {
        if state.iteration >= config.iterations {
            stop_reason = Some(StopReason::Iterations);
            break;
        }
        if hooks.stop.load(Ordering::SeqCst) {
            stop_reason = Some(StopReason::Interrupted);
            break;
        }
        if config.max_seconds.is_some_and(|m| elapsed(state) >= m) {
            stop_reason = Some(StopReason::TimeLimit);
            break;
        }
        let iteration = state.iteration + 1;
        let wait_start = Instant::now();
        let batch = batches.next_batch()?;
        waited += wait_start.elapsed().as_secs_f64();
        let (inputs, targets, mask) = batch_tensors(&batch, dtype, &device)?;
        let mut noise_rng =
            Rng::derive(seed, &[stream::REC_NOISE, stream::TRAIN, iteration as u64]);
        // Inside the kernels' pool, as `bench --model` measures it: candle's parallel work
        // then runs on the kernels' threads, not on a second pool that competes with them
        // for the cores (same results; a fixed 50-unit batch on 2 threads took 3.55 -> 3.1 ms
        // per iteration, while whole `run`s measured the same within this machine's noise).
        let loss_value = kernel.install(|| {
            gradient_step(
                model,
                &trainable,
                optimizer,
                config,
                kind,
                iteration,
                (&inputs, &targets, &mask),
                &mut noise_rng,
            )
        })?;
        state.iteration = iteration;
        state.loss_sum += loss_value;
        state.loss_count += 1;
        (hooks.on_iteration)(iteration, loss_value);
        if iteration.is_multiple_of(config.eval_every) || iteration == config.iterations {
            let k = (iteration / config.eval_every) as u64;
            let eval_batch =
                generate_batch(task.as_ref(), seed, stream::EVAL, k, config.eval_trials)?;
            let mut eval_noise = Rng::derive(seed, &[stream::REC_NOISE, stream::EVAL, k]);
            // The behaviour alone: the states and rates of the evaluation trials are not
            // used here, and at 256 units and 256 trials they are 105 MB.
            let eval =
                evaluate_behaviour(model, task.as_ref(), &eval_batch, &mut eval_noise, kind)?;
            let row = HistoryRow {
                iteration,
                trials_seen: iteration * config.batch_size,
                loss: state.loss_sum / state.loss_count as f64,
                eval_loss: eval.loss,
                accuracy: eval.accuracy,
                stage: curriculum.stage_name(state.curriculum.stage),
                seconds: elapsed(state),
            };
            (state.loss_sum, state.loss_count) = (0.0, 0);
            state.history.push(row.clone());
            (hooks.on_row)(&row);
            let mut changed = false;
            match curriculum.decide(&mut state.curriculum, &state.history)? {
                Decision::Stay => {}
                Decision::Stop => stop_reason = Some(StopReason::Curriculum),
                Decision::Settings(s) => {
                    state.curriculum.settings = s;
                    changed = true;
                }
                Decision::Advance => {
                    let c = &mut state.curriculum;
                    if c.stage + 1 >= curriculum.stages() {
                        stop_reason = Some(StopReason::Curriculum);
                    } else {
                        (hooks.on_stage_end)(c.stage, iteration)?;
                        c.stage += 1;
                        c.consecutive = 0;
                        c.settings = Value::Null;
                        c.stage_starts
                            .push((curriculum.stage_name(c.stage), iteration + 1));
                        changed = true;
                    }
                }
            }
            if changed {
                task = curriculum.task(&state.curriculum)?;
                batches = BatchPrefetcher::start(
                    task.clone(),
                    seed,
                    stream::TRAIN,
                    iteration as u64,
                    config.batch_size,
                    2,
                );
            }
            // The accuracy counts only when it was measured on the task the run ends with: the
            // last stage, its settings unchanged by this evaluation's decision. (Checked on an
            // evaluation that just advanced, it stopped runs with the previous stage's
            // accuracy, and on an earlier stage, before the curriculum was done.)
            let last_stage = state.curriculum.stage + 1 >= curriculum.stages();
            if stop_reason.is_none()
                && !changed
                && last_stage
                && config.stop_at_accuracy.is_some_and(|a| eval.accuracy >= a)
            {
                stop_reason = Some(StopReason::AccuracyReached);
            }
            if stop_reason.is_none() {
                if let Some(plateau) = &config.stop_on_plateau {
                    let (_, began) = state.curriculum.stage_starts.last().expect("a stage began");
                    let stage: Vec<HistoryRow> = state
                        .history
                        .iter()
                        .filter(|r| r.iteration >= *began)
                        .cloned()
                        .collect();
                    if plateau.reached(&stage) {
                        stop_reason = Some(StopReason::Plateau);
                    }
                }
            }
        }
        if stop_reason.is_some() {
            break;
        }
        let checkpoint_due = hooks
            .checkpoint_interval
            .is_some_and(|every| last_checkpoint.elapsed() >= every);
        if iteration.is_multiple_of(config.checkpoint_every) || checkpoint_due {
            state.seconds_before = elapsed(state);
            let saved = (hooks.on_checkpoint)(state, optimizer);
            state.seconds_before -= start.elapsed().as_secs_f64();
            saved?;
            last_checkpoint = Instant::now();
        }
    }
    let stop_reason = stop_reason.unwrap_or(StopReason::Iterations);
    if stop_reason != StopReason::Interrupted {
        state.finished = Some(stop_reason);
    }
    let wall = elapsed(state);
    state.seconds_before = wall;
    (hooks.on_checkpoint)(state, optimizer)?;
    Ok(TrainOutcome {
        history: state.history.clone(),
        iterations: state.iteration,
        trials_seen: state.iteration * config.batch_size,
        wall_seconds: wall,
        batch_wait_seconds: waited,
        stop_reason,
        stage_starts: state.curriculum.stage_starts.clone(),
    })
}

/// Trains a fresh `model` on one task with no checkpoints (the library's simple entry point).
pub fn train(
    model: &dyn Network,
    task: Arc<dyn Task>,
    config: &TrainConfig,
    kind: LossKind,
    seed: u64,
    mut on_row: impl FnMut(&HistoryRow),
) -> Result<TrainOutcome, TrainError> {
    let curriculum = super::SingleTask(task);
    let mut state = TrainState::new(&curriculum);
    let mut optimizer = new_optimizer(model, config)?;
    let stop = AtomicBool::new(false);
    train_session(
        model,
        &curriculum,
        config,
        kind,
        seed,
        &mut state,
        &mut optimizer,
        Hooks {
            on_row: &mut on_row,
            on_iteration: &mut |_, _| {},
            on_checkpoint: &mut |_, _| Ok(()),
            on_stage_end: &mut |_, _| Ok(()),
            checkpoint_interval: None,
            stop: &stop,
        },
    )
}
