//! Tasks: what a trial is, how a batch of trials is built, and how a trial is scored.
//!
//! A [`Task`] produces one [`Trial`] at a time from a seeded [`Rng`]; [`generate_batch`] draws a
//! whole [`Batch`] from the run seed so the same seed always gives the same trials.

mod argmax;
mod batch;
mod distribution;
mod epochs;
mod error;
mod prefetch;
mod scorer;

pub use argmax::{argmax_accuracy, argmax_channel, argmax_choices};
pub use batch::{Batch, ConditionValue, Conditions, EpochSpan, Trial};
pub use distribution::{trunc_exp, Distribution, DistributionError};
pub use epochs::{
    fill_epochs, fill_epochs_overlaid, steps_at_or_after, Epoch, EpochValues, FilledTrial, Overlay,
};
pub use error::{TaskError, TrialError};
pub use prefetch::BatchPrefetcher;
pub use scorer::{
    d_prime, decode_angle, normal_quantile, wrap_angle, AngleDecode, OutputReading, ScoreError,
    ScoreProblem, Scorer, Scores, TrialProblem,
};

use crate::random::Rng;
use serde::{Deserialize, Serialize};

/// The fixed shape of a task: its channels and its time grid.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskShape {
    /// Name of each input channel (N_in = its length).
    pub inputs: Vec<String>,
    /// Name of each output channel (N_out = its length).
    pub outputs: Vec<String>,
    /// Simulation time step in ms.
    pub dt: f64,
    /// Network time constant in ms (α = dt/τ).
    pub tau: f64,
    /// Trial duration T in ms; a trial has ceil(T/dt) steps, as in PsychRNN.
    pub duration: f64,
}

impl TaskShape {
    /// Number of time steps per trial: ceil(duration / dt).
    pub fn n_steps(&self) -> usize {
        (self.duration / self.dt - 1e-9).ceil().max(0.0) as usize
    }
    /// Number of input channels.
    pub fn n_in(&self) -> usize {
        self.inputs.len()
    }
    /// Number of output channels.
    pub fn n_out(&self) -> usize {
        self.outputs.len()
    }
    /// Checks the values make a usable time grid and the channel names are usable: unique,
    /// non-empty, at most [`MAX_CHANNELS`] of each, and between 1 and [`MAX_STEPS`] steps.
    pub fn validate(&self) -> Result<(), TaskError> {
        let bad = |field: &str, why: String| TaskError::Shape {
            field: field.to_string(),
            message: why,
        };
        if self.inputs.is_empty() {
            return Err(bad(
                "inputs",
                "a task needs at least one input channel".into(),
            ));
        }
        if self.outputs.is_empty() {
            return Err(bad(
                "outputs",
                "a task needs at least one output channel".into(),
            ));
        }
        for (field, names) in [("inputs", &self.inputs), ("outputs", &self.outputs)] {
            channel_names_ok(names).map_err(|m| bad(field, m))?;
        }
        for (field, v) in [
            ("dt", self.dt),
            ("tau", self.tau),
            ("duration", self.duration),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(bad(
                    field,
                    format!("must be a positive number of ms, got {v}"),
                ));
            }
        }
        let steps = self.duration / self.dt;
        if steps > MAX_STEPS as f64 {
            return Err(bad(
                "duration",
                format!(
                    "a trial must have between 1 and {MAX_STEPS} steps, but duration {} ms / dt {} ms gives {steps:.0}",
                    self.duration, self.dt
                ),
            ));
        }
        if self.dt > self.tau {
            return Err(bad(
                "dt",
                format!(
                    "dt = {} ms is larger than tau = {} ms: alpha = dt/tau must be at most 1",
                    self.dt, self.tau
                ),
            ));
        }
        Ok(())
    }
}

/// The most input (or output) channels a task may have.
pub const MAX_CHANNELS: usize = 4096;

/// The most time steps a trial may have.
pub const MAX_STEPS: usize = 100_000;

/// Checks a list of channel names: at most [`MAX_CHANNELS`], each non-empty and used once.
fn channel_names_ok(names: &[String]) -> Result<(), String> {
    if names.len() > MAX_CHANNELS {
        return Err(format!(
            "a task may have between 1 and {MAX_CHANNELS} channels, got {}",
            names.len()
        ));
    }
    let mut seen = std::collections::HashMap::new();
    for (k, name) in names.iter().enumerate() {
        if name.trim().is_empty() {
            return Err(format!(
                "channel {k} has an empty name; every channel needs a name"
            ));
        }
        if let Some(first) = seen.insert(name.as_str(), k) {
            return Err(format!(
                "channel name `{name}` is used twice (channels {first} and {k}); channel names must be unique"
            ));
        }
    }
    Ok(())
}

/// The `task` section of an experiment: everything about the task that is data (the
/// script's closures are held by the task itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskConfig {
    /// Task name (used in reports).
    #[serde(default = "default_task_name")]
    pub name: String,
    /// Input channel names.
    pub inputs: Vec<String>,
    /// Output channel names.
    pub outputs: Vec<String>,
    /// Time step in ms (PsychRNN's `dt`).
    #[serde(default = "default_dt")]
    pub dt: f64,
    /// Network time constant in ms (PsychRNN's `tau`).
    #[serde(default = "default_tau")]
    pub tau: f64,
    /// Trial duration in ms (PsychRNN's `T`).
    pub duration: f64,
    /// Standard deviation of white noise added to every input at every step of every epoch
    /// (an epoch's own `input_noise` replaces it).
    #[serde(default)]
    pub input_noise: f64,
    /// Task settings passed to `params: |rng, settings|` (a map); curriculum stages change
    /// them.
    #[serde(default = "empty_settings")]
    pub settings: serde_norway::Value,
    /// How a trial is scored (default: PsychRNN's argmax over the masked outputs).
    #[serde(default)]
    pub score: Scorer,
    /// Trials that form sequences (blocks), each depending on the earlier ones; `None`:
    /// independent trials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<SequenceConfig>,
}

/// `task.sequence`: consecutive trials form sequences of `length` trials; `params` receives
/// each trial's position and the earlier trials' parameters (see [`generate_batch`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequenceConfig {
    /// Trials per sequence, 1 to [`MAX_SEQUENCE_LENGTH`].
    pub length: usize,
}

fn empty_settings() -> serde_norway::Value {
    serde_norway::Value::Mapping(Default::default())
}

fn default_task_name() -> String {
    "task".into()
}
fn default_dt() -> f64 {
    10.0
}
fn default_tau() -> f64 {
    100.0
}

impl TaskConfig {
    /// Channels and time grid.
    pub fn shape(&self) -> TaskShape {
        TaskShape {
            inputs: self.inputs.clone(),
            outputs: self.outputs.clone(),
            dt: self.dt,
            tau: self.tau,
            duration: self.duration,
        }
    }
}

/// A source of trials. Script tasks and native Rust tasks both implement it.
pub trait Task: Send + Sync {
    /// The task's name, used in messages and reports.
    fn name(&self) -> &str;
    /// Channels and time grid.
    fn shape(&self) -> &TaskShape;
    /// Draws one trial; all randomness comes from `rng`. An error says what is wrong (naming
    /// the epoch, field or channel); the caller adds the task and trial index.
    fn trial(&self, rng: &mut Rng) -> Result<Trial, TrialError>;
    /// How a trial is scored; PsychRNN's argmax accuracy unless the task says otherwise.
    fn scorer(&self) -> &Scorer {
        &DEFAULT_SCORER
    }
    /// The length of the sequences consecutive trials form, for a task whose trials depend on
    /// earlier ones (blocks of trials, history effects); `None` (the default): every trial is
    /// independent. See [`generate_batch`] for how sequences map onto batch rows.
    fn sequence_length(&self) -> Option<usize> {
        None
    }
    /// Trials `from..to` of one sequence, in order; the trial at position k draws from
    /// `rng_at(k)`. Positions before `from` are drawn too (the later ones may depend on them)
    /// but not returned. A failure gives the position that failed. The default draws
    /// independent trials with [`Task::trial`].
    fn sequence_trials(
        &self,
        rng_at: &dyn Fn(usize) -> Rng,
        from: usize,
        to: usize,
    ) -> Result<Vec<Trial>, (usize, TrialError)> {
        (from..to)
            .map(|k| self.trial(&mut rng_at(k)).map_err(|e| (k, e)))
            .collect()
    }
    /// Scores the network's `outputs` ([B, T, N_out]) on `batch` (drawn from this task), read
    /// as `reading` says. Every accuracy goes through here: the task's [`Scorer`], unless the
    /// task scores another way (a script's `score: |trial| …` closure).
    fn score(
        &self,
        outputs: &[f32],
        batch: &Batch,
        reading: OutputReading,
    ) -> Result<Scores, ScoreError> {
        self.scorer().score(outputs, batch, self.shape(), reading)
    }
}

/// The path element that marks a sequence's streams: the trial at position k of sequence s
/// of stream `stream` draws from `Rng::derive(seed, &[stream, SEQUENCE_STREAM, s, k])`.
pub const SEQUENCE_STREAM: u64 = 0x5345_5155_454E_4345;

/// The most trials a sequence may have.
pub const MAX_SEQUENCE_LENGTH: usize = 1000;

/// Where batch row `i` of batch `batch` (of `n_trials` rows) lies in a task's sequences of
/// `length` trials: (sequence, position). Rows are consecutive trials of one long run of
/// sequences: global trial g = batch · n_trials + i is position g mod length of sequence
/// g / length.
pub fn sequence_place(batch: u64, n_trials: usize, i: usize, length: usize) -> (u64, usize) {
    let g = batch
        .saturating_mul(n_trials as u64)
        .saturating_add(i as u64);
    let length = length.max(1) as u64;
    (g / length, (g % length) as usize)
}

/// Draws row `i` of batch `batch` (of `n_trials` rows) of stream `stream` alone, exactly as
/// [`generate_batch`] draws it (for a sequence task, after the earlier trials of its
/// sequence).
pub fn draw_trial(
    task: &dyn Task,
    seed: u64,
    stream: u64,
    batch: u64,
    n_trials: usize,
    i: usize,
) -> Result<Trial, TrialError> {
    match task.sequence_length() {
        None => task.trial(&mut Rng::derive(seed, &[stream, batch, i as u64])),
        Some(length) => {
            let (s, k) = sequence_place(batch, n_trials, i, length);
            let rng_at = |p: usize| Rng::derive(seed, &[stream, SEQUENCE_STREAM, s, p as u64]);
            let mut trials = task
                .sequence_trials(&rng_at, k, k + 1)
                .map_err(|(p, e)| earlier(p, k, e))?;
            trials.pop().ok_or_else(|| {
                TrialError::Description("the task's sequence returned no trial".into())
            })
        }
    }
}

/// `e`, raised at position `failed`, as the error of the trial at position `wanted`.
fn earlier(failed: usize, wanted: usize, e: TrialError) -> TrialError {
    if failed < wanted {
        TrialError::Earlier {
            position: failed,
            source: Box::new(e),
        }
    } else {
        e
    }
}

/// [`generate_batch`] for a task whose trials form sequences: each sequence is drawn in
/// order on the calling thread (its trials depend on each other).
fn generate_sequence_batch(
    task: &dyn Task,
    seed: u64,
    stream: u64,
    batch: u64,
    n_trials: usize,
    length: usize,
) -> Result<Batch, TaskError> {
    let shape = task.shape();
    let mut out = Batch::empty(n_trials, shape.n_steps(), shape.n_in(), shape.n_out());
    let mut i = 0;
    while i < n_trials {
        let (s, from) = sequence_place(batch, n_trials, i, length);
        let to = length.min(from + (n_trials - i));
        let rng_at = |p: usize| Rng::derive(seed, &[stream, SEQUENCE_STREAM, s, p as u64]);
        let fail = |row: usize, source: TrialError| TaskError::Trial {
            task: task.name().to_string(),
            trial: row,
            source,
        };
        let trials = task.sequence_trials(&rng_at, from, to).map_err(|(p, e)| {
            let row = i + p.saturating_sub(from);
            fail(row, earlier(p, from, e))
        })?;
        if trials.len() != to - from {
            return Err(fail(
                i,
                TrialError::Description(format!(
                    "the task's sequence gave {} trials for positions {from}..{to}",
                    trials.len()
                )),
            ));
        }
        for (k, trial) in trials.into_iter().enumerate() {
            out.set_trial(i + k, trial).map_err(|e| fail(i + k, e))?;
        }
        i += to - from;
    }
    Ok(out)
}

static DEFAULT_SCORER: Scorer = Scorer::ARGMAX;

/// Draws batch number `batch` of random stream `stream` (see [`crate::random::stream`]):
/// trial `i` uses `Rng::derive(seed, &[stream, batch, i])`, so batches do not depend on how
/// many threads build them or on what was drawn before. The first trial is timed; when the
/// whole batch would take more than [`PARALLEL_ABOVE_SECONDS`], the rest is built on
/// [`generation_threads`] threads (for cheap trials, threads cost more than they save).
///
/// A task whose trials form sequences ([`Task::sequence_length`]) is drawn differently: the
/// rows of a stream's batches are consecutive trials of one long run of sequences (see
/// [`sequence_place`]); the trial at position k of sequence s draws from
/// `Rng::derive(seed, &[stream, SEQUENCE_STREAM, s, k])` after the trials before it in its
/// sequence (those of an earlier batch are drawn again, so any batch can be drawn alone:
/// nothing is carried from batch to batch, and resuming needs no sequence state). Each row is
/// still one trial, run from the network's initial state.
pub fn generate_batch(
    task: &dyn Task,
    seed: u64,
    stream: u64,
    batch: u64,
    n_trials: usize,
) -> Result<Batch, TaskError> {
    generate_batch_with_threads(task, seed, stream, batch, n_trials, 0)
}

/// Estimated batch time above which [`generate_batch`] uses several threads.
pub const PARALLEL_ABOVE_SECONDS: f64 = 0.003;

/// Threads used to build one batch: the machine's available parallelism.
pub fn generation_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// [`generate_batch`] on `threads` threads (1: on the calling thread; 0: decide from the
/// first trial's time). The result is the same for any thread count; on failure the error of
/// the lowest failing trial is returned.
pub fn generate_batch_with_threads(
    task: &dyn Task,
    seed: u64,
    stream: u64,
    batch: u64,
    n_trials: usize,
    threads: usize,
) -> Result<Batch, TaskError> {
    if let Some(length) = task.sequence_length() {
        return generate_sequence_batch(task, seed, stream, batch, n_trials, length);
    }
    let shape = task.shape();
    let draw = |i: usize| {
        let mut rng = Rng::derive(seed, &[stream, batch, i as u64]);
        task.trial(&mut rng)
    };
    // Trials `range` in order, up to the first that fails: after a failure (a script stopped
    // by the sandbox takes up to a second) the rest would only be thrown away.
    let draw_until_failure = |range: std::ops::Range<usize>| {
        let mut out = Vec::with_capacity(range.len());
        for i in range {
            let trial = draw(i);
            let failed = trial.is_err();
            out.push(trial);
            if failed {
                break;
            }
        }
        out
    };
    let mut trials: Vec<Result<Trial, TrialError>> = Vec::with_capacity(n_trials);
    let mut first = 0;
    let threads = if threads == 0 && n_trials > 1 {
        let start = std::time::Instant::now();
        trials.push(draw(0));
        first = if trials[0].is_err() { n_trials } else { 1 };
        let estimate = start.elapsed().as_secs_f64() * n_trials as f64;
        if estimate > PARALLEL_ABOVE_SECONDS {
            generation_threads()
        } else {
            1
        }
    } else {
        threads
    };
    let rest = n_trials - first;
    let threads = threads.clamp(1, rest.max(1));
    if threads == 1 {
        trials.extend(draw_until_failure(first..n_trials));
    } else {
        let chunk = rest.div_ceil(threads);
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|k| {
                    let range =
                        (first + k * chunk).min(n_trials)..(first + (k + 1) * chunk).min(n_trials);
                    scope.spawn(move || draw_until_failure(range))
                })
                .collect();
            for h in handles {
                trials.extend(h.join().expect("trial thread panicked"));
            }
        });
    }
    let mut out = Batch::empty(n_trials, shape.n_steps(), shape.n_in(), shape.n_out());
    // Each chunk ends at its first failure and the chunks before it are complete, so the
    // first failure met here is the lowest failing trial, at its own index.
    for (i, trial) in trials.into_iter().enumerate() {
        let fail = |source: TrialError| TaskError::Trial {
            task: task.name().to_string(),
            trial: i,
            source,
        };
        out.set_trial(i, trial.map_err(fail)?).map_err(fail)?;
    }
    Ok(out)
}
