//! `trials.npz`: trials with the network's responses, trial-aligned, complete for analysis
//! with numpy alone (`np.load(path)`, no `allow_pickle`: only numeric, bool and fixed-width
//! text arrays), and task batch files (`psychrnn trials -o batch.npz`), which hold the task's
//! part of the same keys.
//!
//! Keys (B trials, T steps, E epoch columns):
//! - `inputs` [B, T, N_in], `targets` and `mask` [B, T, N_out] (float32);
//! - `input_names` `[N_in]`, `output_names` `[N_out]` (text): the channels;
//! - `dt`, `tau` (0-d float64, ms): the task's time step and time constant;
//! - `format_version` (0-d int64): [`crate::format_version::FORMAT_VERSION`];
//! - `epoch_names`, `epoch_occurrence` `[E]`, `epoch_start`, `epoch_end` `[B, E]` (int64 steps,
//!   `start..end`, -1 where a trial lacks that epoch): column e is the `epoch_occurrence[e]`-th
//!   epoch named `epoch_names[e]` in a trial (1 for the first; a name repeats in `epoch_names`
//!   only when a trial repeats it); E = 0 for tasks written per step;
//! - `condition_<name>` \[B\] (float64) per condition, NaN where a trial lacks it; a text
//!   condition holds codes 0, 1, … into its sorted labels, and `label_<name>` \[B\] (text) holds
//!   each trial's label ("" where it lacks one). A condition that is text on some trials and a
//!   number on others is stored as text (numbers written out);
//! - `trials.npz` only: `outputs` [B, T, N_out], `states` and `rates` [B, T, N_rec]
//!   (float32), and `correct` \[B\] (bool): the task scorer's verdict on each trial;
//!   `credit` \[B\] (float64, in [0, 1]) when a closure scorer gave partial credit (the
//!   accuracy is its mean; `correct` is credit ≥ 0.5).
//!
//! Files written before the channel names, epochs, labels and `format_version` were added
//! (their text labels sit in `trials_labels.yaml` beside them) are still read.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use crate::atomic_file::write_atomic_with;
use crate::format_version::FORMAT_VERSION;
use crate::npz_file::{
    npy_bytes, read_npz, write_npz_arrays, Array, NpyArray, NpyData, NpyValues, NpzError,
};
use crate::task::{
    argmax_accuracy, Batch, ConditionValue, Conditions, EpochSpan, Scores, TaskShape,
};

/// Where each trial's epochs lie, one column per (epoch name, occurrence in a trial).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EpochTable {
    /// Trials B (rows).
    pub n_trials: usize,
    /// The epoch name of each column \[E\], in order of first appearance.
    pub names: Vec<String>,
    /// Which epoch of that name in a trial each column is \[E\]: 1 for the first, 2 for the
    /// second, …
    pub occurrence: Vec<i64>,
    /// First step of each trial's epoch [B, E], -1 where the trial lacks it.
    pub start: Vec<i64>,
    /// One past the last step [B, E], -1 where the trial lacks it.
    pub end: Vec<i64>,
}

impl EpochTable {
    /// The table of each trial's epochs (empty lists for tasks written per step).
    pub fn of(epochs: &[Vec<EpochSpan>]) -> Self {
        let mut columns: Vec<(String, i64)> = Vec::new();
        let mut placed: Vec<Vec<(usize, &EpochSpan)>> = Vec::with_capacity(epochs.len());
        for trial in epochs {
            let mut seen: BTreeMap<&str, i64> = BTreeMap::new();
            let mut row = Vec::with_capacity(trial.len());
            for span in trial {
                let k = seen.entry(span.name.as_str()).or_insert(0);
                *k += 1;
                let key = (span.name.clone(), *k);
                let column = match columns.iter().position(|c| *c == key) {
                    Some(c) => c,
                    None => {
                        columns.push(key);
                        columns.len() - 1
                    }
                };
                row.push((column, span));
            }
            placed.push(row);
        }
        let e = columns.len();
        let mut start = vec![-1; epochs.len() * e];
        let mut end = vec![-1; epochs.len() * e];
        for (i, row) in placed.iter().enumerate() {
            for (c, span) in row {
                start[i * e + c] = span.start as i64;
                end[i * e + c] = span.end as i64;
            }
        }
        let (names, occurrence) = columns.into_iter().unzip();
        EpochTable {
            n_trials: epochs.len(),
            names,
            occurrence,
            start,
            end,
        }
    }

    /// Columns E.
    pub fn n_columns(&self) -> usize {
        self.names.len()
    }

    /// The column of the first epoch named `name`, if any trial has one.
    pub fn column(&self, name: &str) -> Option<usize> {
        (0..self.n_columns()).find(|&c| self.names[c] == name && self.occurrence[c] == 1)
    }

    /// Each trial's epochs in time order (ties, zero-length epochs, in column order).
    pub fn spans(&self) -> Vec<Vec<EpochSpan>> {
        let e = self.n_columns();
        (0..self.n_trials)
            .map(|i| {
                let mut row: Vec<(i64, i64, usize)> = (0..e)
                    .filter(|&c| self.start[i * e + c] >= 0)
                    .map(|c| (self.start[i * e + c], self.end[i * e + c], c))
                    .collect();
                row.sort();
                row.into_iter()
                    .map(|(s, t, c)| EpochSpan {
                        name: self.names[c].clone(),
                        start: s as usize,
                        end: t as usize,
                    })
                    .collect()
            })
            .collect()
    }
}

/// Each condition's value per trial (NaN where a trial lacks it; text as codes into its
/// sorted labels) and the sorted labels of text conditions. A condition that is text on some
/// trials is text on all (numbers written out), so that a code is never taken for a number.
pub fn condition_columns(
    trials: &[Conditions],
) -> (BTreeMap<String, Vec<f64>>, BTreeMap<String, Vec<String>>) {
    let mut names: Vec<&String> = trials.iter().flat_map(|c| c.keys()).collect();
    names.sort();
    names.dedup();
    let mut conditions = BTreeMap::new();
    let mut labels = BTreeMap::new();
    for name in names {
        let is_text = trials
            .iter()
            .any(|c| matches!(c.get(name), Some(ConditionValue::Text(_))));
        if !is_text {
            let values = trials
                .iter()
                .map(|c| match c.get(name) {
                    Some(ConditionValue::Number(x)) => *x,
                    _ => f64::NAN,
                })
                .collect();
            conditions.insert(name.clone(), values);
            continue;
        }
        let text_of = |c: &Conditions| -> Option<String> {
            match c.get(name)? {
                ConditionValue::Text(s) => Some(s.clone()),
                ConditionValue::Number(x) => Some(x.to_string()),
            }
        };
        let mut texts: Vec<String> = trials.iter().filter_map(text_of).collect();
        texts.sort();
        texts.dedup();
        let values = trials
            .iter()
            .map(|c| match text_of(c) {
                Some(s) => texts.binary_search(&s).expect("a label of this condition") as f64,
                None => f64::NAN,
            })
            .collect();
        conditions.insert(name.clone(), values);
        labels.insert(name.clone(), texts);
    }
    (conditions, labels)
}

/// Each trial's label of a text condition from its codes ("" where a trial lacks it).
fn labels_per_trial(codes: &[f64], labels: &[String]) -> Vec<String> {
    codes
        .iter()
        .map(|&c| {
            if c.is_nan() {
                String::new()
            } else {
                labels.get(c as usize).cloned().unwrap_or_default()
            }
        })
        .collect()
}

/// The arrays of one `.npz` file before it is written: numbers are borrowed from the record
/// or batch and streamed into the file (at 256 units a run's states and rates are 200 MiB; a
/// copy of them had doubled the run's peak memory).
#[derive(Default)]
struct Entries<'a> {
    numbers: Vec<NpyArray<'a>>,
    npy: Vec<NpyArray<'a>>,
}

impl<'a> Entries<'a> {
    fn push(&mut self, key: &str, dims: &[usize], data: NpyData<'a>) {
        self.numbers.push(NpyArray {
            name: key.into(),
            dims: dims.to_vec(),
            data,
        });
    }

    fn f32(&mut self, key: &str, values: &'a [f32], dims: &[usize]) {
        self.push(key, dims, NpyData::F32(Cow::Borrowed(values)));
    }

    fn f64(&mut self, key: &str, values: &'a [f64], dims: &[usize]) {
        self.push(key, dims, NpyData::F64(Cow::Borrowed(values)));
    }

    fn i64(&mut self, key: &str, values: &'a [i64], dims: &[usize]) {
        self.push(key, dims, NpyData::I64(Cow::Borrowed(values)));
    }

    fn i64_owned(&mut self, key: &str, values: Vec<i64>, dims: &[usize]) {
        self.push(key, dims, NpyData::I64(Cow::Owned(values)));
    }

    fn scalar(&mut self, key: &str, value: f64) {
        self.push(key, &[], NpyData::F64(Cow::Owned(vec![value])));
    }

    fn npy(&mut self, key: &str, bytes: Vec<u8>) {
        self.npy.push(NpyArray {
            name: key.into(),
            dims: Vec::new(),
            data: NpyData::Npy(bytes),
        });
    }

    fn text(&mut self, key: &str, values: &[String]) -> candle_core::Result<()> {
        let bytes = npy_bytes(&[values.len()], NpyValues::Text(values))
            .map_err(|e| candle_core::Error::msg(format!("`{key}`: {e}")))?;
        self.npy(key, bytes);
        Ok(())
    }

    fn bool(&mut self, key: &str, values: &[bool]) -> candle_core::Result<()> {
        let bytes = npy_bytes(&[values.len()], NpyValues::Bool(values))
            .map_err(|e| candle_core::Error::msg(format!("`{key}`: {e}")))?;
        self.npy(key, bytes);
        Ok(())
    }

    /// Writes `path` atomically: a failed write leaves no file (and an older one unchanged).
    /// Numbers first, then text and booleans (the order the archive always had).
    fn write(mut self, path: &Path) -> candle_core::Result<()> {
        self.numbers.append(&mut self.npy);
        write_atomic_with(path, |tmp| write_npz_arrays(&self.numbers, tmp))
    }
}

/// What a trials file records about the task besides the per-step arrays.
struct TaskMetadata<'a> {
    n_trials: usize,
    input_names: &'a [String],
    output_names: &'a [String],
    dt: f64,
    tau: Option<f64>,
    conditions: &'a BTreeMap<String, Vec<f64>>,
    labels: &'a BTreeMap<String, Vec<String>>,
    epochs: Option<&'a EpochTable>,
}

impl<'a> TaskMetadata<'a> {
    /// Adds the channel names, `dt`, `tau`, `format_version`, epochs and conditions (what is
    /// known: a record read from an older file may lack names, `tau` and epochs).
    fn add_to(&self, entries: &mut Entries<'a>) -> candle_core::Result<()> {
        let b = self.n_trials;
        if !self.input_names.is_empty() {
            entries.text("input_names", self.input_names)?;
        }
        if !self.output_names.is_empty() {
            entries.text("output_names", self.output_names)?;
        }
        entries.scalar("dt", self.dt);
        if let Some(tau) = self.tau {
            entries.scalar("tau", tau);
        }
        entries.i64_owned("format_version", vec![FORMAT_VERSION as i64], &[]);
        if let Some(epochs) = self.epochs {
            let e = epochs.n_columns();
            entries.text("epoch_names", &epochs.names)?;
            entries.i64("epoch_occurrence", &epochs.occurrence, &[e]);
            entries.i64("epoch_start", &epochs.start, &[b, e]);
            entries.i64("epoch_end", &epochs.end, &[b, e]);
        }
        for (name, values) in self.conditions {
            entries.f64(&format!("condition_{name}"), values, &[b]);
            if let Some(l) = self.labels.get(name) {
                entries.text(&format!("label_{name}"), &labels_per_trial(values, l))?;
            }
        }
        Ok(())
    }
}

/// Writes `batch` of the task with `shape` to `path` (atomically) as task batches for a
/// model trained elsewhere: the keys of `trials.npz` without the network's (`outputs`,
/// `states`, `rates`, `correct`).
pub fn write_task_batch(batch: &Batch, shape: &TaskShape, path: &Path) -> candle_core::Result<()> {
    let (b, t) = (batch.n_trials, batch.n_steps);
    let (conditions, labels) = condition_columns(&batch.conditions);
    let epochs = EpochTable::of(&batch.epochs);
    let mut entries = Entries::default();
    entries.f32("inputs", &batch.inputs, &[b, t, batch.n_in]);
    entries.f32("targets", &batch.targets, &[b, t, batch.n_out]);
    entries.f32("mask", &batch.mask, &[b, t, batch.n_out]);
    TaskMetadata {
        n_trials: b,
        input_names: &shape.inputs,
        output_names: &shape.outputs,
        dt: shape.dt,
        tau: Some(shape.tau),
        conditions: &conditions,
        labels: &labels,
        epochs: Some(&epochs),
    }
    .add_to(&mut entries)?;
    entries.write(path)
}

/// Trials and the network's responses to them.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialRecord {
    /// Trials B.
    pub n_trials: usize,
    /// Steps T.
    pub n_steps: usize,
    /// Input channels.
    pub n_in: usize,
    /// Output channels.
    pub n_out: usize,
    /// Recurrent units.
    pub n_rec: usize,
    /// Time step in ms.
    pub dt: f64,
    /// The task's time constant in ms (`None` in files written before it was recorded).
    pub tau: Option<f64>,
    /// Input channel names (empty in files written before they were recorded).
    pub input_names: Vec<String>,
    /// Output channel names (empty in files written before they were recorded).
    pub output_names: Vec<String>,
    /// [B, T, N_in].
    pub inputs: Vec<f32>,
    /// [B, T, N_out].
    pub targets: Vec<f32>,
    /// [B, T, N_out].
    pub mask: Vec<f32>,
    /// [B, T, N_out].
    pub outputs: Vec<f32>,
    /// [B, T, N_rec].
    pub states: Vec<f32>,
    /// [B, T, N_rec].
    pub rates: Vec<f32>,
    /// One value per trial for each condition (text as codes into `labels`; NaN where a
    /// trial lacks the condition).
    pub conditions: BTreeMap<String, Vec<f64>>,
    /// Sorted labels of text conditions.
    pub labels: BTreeMap<String, Vec<String>>,
    /// Where each trial's epochs lie (`None` in files written before they were recorded).
    pub epochs: Option<EpochTable>,
    /// The task scorer's verdict on each trial, when known (files written before it, or
    /// records built without a scorer, have none).
    pub correct: Option<Vec<bool>>,
    /// The scorer's credit on each trial, when some credit is partial (a closure scorer's);
    /// the accuracy is its mean.
    pub credit: Option<Vec<f64>>,
    /// A curriculum's networks as each stage ended, run on these same trials (`None` for runs
    /// without a curriculum, and in files written before psychrnn recorded them).
    pub stages: Option<StageBehaviours>,
}

/// How the network behaved on a record's trials at the end of each curriculum stage: the
/// parameters of `stages/stage_<k>.npz` run on the same inputs with the same noise as the
/// record's own outputs, which are the last stage's.
#[derive(Debug, Clone, PartialEq)]
pub struct StageBehaviours {
    /// Each stage shown, in training order: its name and the iteration it ended at (the last
    /// one: the iteration training ended at, whose network gave the record's `outputs`).
    pub stages: Vec<(String, usize)>,
    /// [K, B, T, N_out] for the K = `stages.len() - 1` stages before the last.
    pub outputs: Vec<f32>,
    /// [K, B]: the task scorer's credit on each trial (1 or 0 unless a closure scorer gives
    /// partial credit).
    pub credit: Vec<f64>,
}

impl StageBehaviours {
    /// The outputs ([B, T, N_out], `len` = B·T·N_out values) of earlier stage `k`
    /// (`k < stages.len() - 1`).
    pub fn outputs_of(&self, k: usize, len: usize) -> &[f32] {
        &self.outputs[k * len..(k + 1) * len]
    }

    /// The mean credit of earlier stage `k` over the `b` trials.
    pub fn accuracy_of(&self, k: usize, b: usize) -> f64 {
        self.credit[k * b..(k + 1) * b].iter().sum::<f64>() / b.max(1) as f64
    }
}

/// Takes entry `key` out of `entries`, if there.
/// Why a trials file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum TrialsFileError {
    /// The file is not a readable `.npz`.
    #[error(transparent)]
    Npz(#[from] NpzError),
    /// The archive lacks an entry or holds one of the wrong kind or shape; says which.
    #[error("{}: {message}", path.display())]
    Content {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The labels file beside an older trials file is not YAML of labels.
    #[error("{}: {source}", path.display())]
    Labels {
        /// `trials_labels.yaml`.
        path: std::path::PathBuf,
        /// The YAML error.
        source: serde_norway::Error,
    },
}

fn take(entries: &mut BTreeMap<String, Array>, key: &str) -> Option<Array> {
    entries.remove(key)
}

impl TrialRecord {
    /// Trial `i`'s conditions as the task gave them: text conditions as their labels (not
    /// their codes), a condition the trial lacks left out.
    pub fn trial_conditions(&self, i: usize) -> Conditions {
        self.conditions
            .iter()
            .filter(|(_, v)| !v[i].is_nan())
            .map(|(name, v)| {
                let value = match self.labels.get(name) {
                    Some(labels) => {
                        ConditionValue::Text(labels_per_trial(&v[i..=i], labels).remove(0))
                    }
                    None => ConditionValue::Number(v[i]),
                };
                (name.clone(), value)
            })
            .collect()
    }

    /// A record of `batch` of the task with `shape`, with the network's `outputs`, `states`
    /// and `rates` (batch-major).
    pub fn new(
        batch: &Batch,
        outputs: Vec<f32>,
        states: Vec<f32>,
        rates: Vec<f32>,
        shape: &TaskShape,
    ) -> Self {
        let n_rec = states.len() / (batch.n_trials * batch.n_steps).max(1);
        let (conditions, labels) = condition_columns(&batch.conditions);
        TrialRecord {
            n_trials: batch.n_trials,
            n_steps: batch.n_steps,
            n_in: batch.n_in,
            n_out: batch.n_out,
            n_rec,
            dt: shape.dt,
            tau: Some(shape.tau),
            input_names: shape.inputs.clone(),
            output_names: shape.outputs.clone(),
            inputs: batch.inputs.clone(),
            targets: batch.targets.clone(),
            mask: batch.mask.clone(),
            outputs,
            states,
            rates,
            conditions,
            labels,
            epochs: Some(EpochTable::of(&batch.epochs)),
            correct: None,
            credit: None,
            stages: None,
        }
    }

    /// The record with the networks of a curriculum's earlier stages run on the same trials.
    pub fn with_stages(mut self, stages: Option<StageBehaviours>) -> Self {
        self.stages = stages;
        self
    }

    /// The values of condition `name` per trial, or an error naming `field` (the setting that
    /// asked for it) and every condition the trials have.
    pub fn condition_named(&self, field: &str, name: &str) -> Result<&[f64], String> {
        self.conditions.get(name).map(Vec::as_slice).ok_or_else(|| {
            let known: Vec<&str> = self.conditions.keys().map(String::as_str).collect();
            format!(
                "{field}: no condition `{name}`; the trials have: {}",
                known.join(", ")
            )
        })
    }

    /// The record with the task scorer's verdict on each trial.
    pub fn with_correct(mut self, correct: Vec<bool>) -> Self {
        self.correct = Some(correct);
        self
    }

    /// The record with the task scorer's verdict on each trial, and its credit when some
    /// credit is partial (neither 0 nor 1: a closure scorer's).
    pub fn with_scores(self, scores: &Scores) -> Self {
        self.with_verdicts(scores.correct.clone(), &scores.credit)
    }

    /// [`Self::with_scores`] from the verdicts and credits themselves.
    pub fn with_verdicts(mut self, correct: Vec<bool>, credit: &[f64]) -> Self {
        self.correct = Some(correct);
        self.credit = credit
            .iter()
            .any(|&c| c != 0.0 && c != 1.0)
            .then(|| credit.to_vec());
        self
    }

    /// The task scorer's mean credit (the fraction of trials counted correct unless credit
    /// is partial); without verdicts, PsychRNN's argmax accuracy.
    pub fn accuracy(&self) -> f64 {
        if let Some(c) = &self.credit {
            return c.iter().sum::<f64>() / c.len().max(1) as f64;
        }
        if let Some(c) = &self.correct {
            return c.iter().filter(|&&ok| ok).count() as f64 / c.len().max(1) as f64;
        }
        argmax_accuracy(
            &self.outputs,
            &self.targets,
            &self.mask,
            self.n_trials,
            self.n_steps,
            self.n_out,
        )
    }

    /// Writes `path` atomically (nothing is left at `path` if writing fails).
    pub fn write(&self, path: &Path) -> candle_core::Result<()> {
        self.entries()?.write(path)
    }

    /// The arrays [`Self::write`] writes.
    fn entries(&self) -> candle_core::Result<Entries<'_>> {
        let (b, t) = (self.n_trials, self.n_steps);
        let mut entries = Entries::default();
        entries.f32("inputs", &self.inputs, &[b, t, self.n_in]);
        entries.f32("targets", &self.targets, &[b, t, self.n_out]);
        entries.f32("mask", &self.mask, &[b, t, self.n_out]);
        entries.f32("outputs", &self.outputs, &[b, t, self.n_out]);
        entries.f32("states", &self.states, &[b, t, self.n_rec]);
        entries.f32("rates", &self.rates, &[b, t, self.n_rec]);
        TaskMetadata {
            n_trials: b,
            input_names: &self.input_names,
            output_names: &self.output_names,
            dt: self.dt,
            tau: self.tau,
            conditions: &self.conditions,
            labels: &self.labels,
            epochs: self.epochs.as_ref(),
        }
        .add_to(&mut entries)?;
        if let Some(correct) = &self.correct {
            entries.bool("correct", correct)?;
        }
        if let Some(credit) = &self.credit {
            entries.f64("credit", credit, &[credit.len()]);
        }
        if let Some(st) = &self.stages {
            let k = st.stages.len().saturating_sub(1);
            let names: Vec<String> = st.stages.iter().map(|(n, _)| n.clone()).collect();
            entries.text("stage_names", &names)?;
            entries.i64_owned(
                "stage_end_iteration",
                st.stages.iter().map(|(_, i)| *i as i64).collect(),
                &[k + 1],
            );
            entries.f32("stage_outputs", &st.outputs, &[k, b, t, self.n_out]);
            entries.f64("stage_credit", &st.credit, &[k, b]);
        }
        Ok(entries)
    }

    /// Reads a file written by [`Self::write`], including files of older psychrnn versions
    /// (without names, `tau`, epochs or labels; text labels then come from
    /// `trials_labels.yaml` beside the file).
    pub fn read(path: &Path) -> Result<Self, TrialsFileError> {
        let fail = |message: String| TrialsFileError::Content {
            path: path.to_path_buf(),
            message,
        };
        let mut entries = read_npz(path)?;
        let version = take(&mut entries, "format_version");
        // Files before `format_version` kept text labels in a sidecar file.
        let older_format = version.is_none();
        if let Some(v) = version {
            let version = v.to_f64().and_then(|v| v.first().copied());
            if version.is_none_or(|v| v > FORMAT_VERSION as f64) {
                return Err(fail(format!(
                    "written in format {version:?}; this psychrnn reads formats up to {FORMAT_VERSION}: update psychrnn"
                )));
            }
        }
        let mut numbers = |key: &str| -> Result<(Vec<usize>, Vec<f32>), TrialsFileError> {
            let a = take(&mut entries, key).ok_or_else(|| {
                fail(format!(
                    "no `{key}` entry (was it written by psychrnn test?)"
                ))
            })?;
            let v = a
                .to_f32()
                .ok_or_else(|| fail(format!("`{key}` is {}, expected numbers", a.kind())))?;
            Ok((a.shape, v))
        };
        let (si, inputs) = numbers("inputs")?;
        let (so, targets) = numbers("targets")?;
        let (_, mask) = numbers("mask")?;
        let (_, outputs) = numbers("outputs")?;
        let (ss, states) = numbers("states")?;
        let (_, rates) = numbers("rates")?;
        let (_, dt) = numbers("dt")?;
        if si.len() != 3 || so.len() != 3 || ss.len() != 3 {
            return Err(fail(format!(
                "`inputs`, `targets` and `states` must be [trial, step, channel], got shapes {si:?}, {so:?}, {ss:?}"
            )));
        }
        let n_trials = si[0];
        let f64_of = |a: &Array, key: &str| {
            a.to_f64()
                .ok_or_else(|| fail(format!("`{key}` is {}, expected numbers", a.kind())))
        };
        let text_of = |a: Option<Array>, key: &str| -> Result<Vec<String>, TrialsFileError> {
            match a {
                None => Ok(Vec::new()),
                Some(a) => a
                    .text()
                    .map(<[String]>::to_vec)
                    .ok_or_else(|| fail(format!("`{key}` is {}, expected text", a.kind()))),
            }
        };
        let tau = match take(&mut entries, "tau") {
            Some(a) => f64_of(&a, "tau")?.first().copied(),
            None => None,
        };
        let input_names = text_of(take(&mut entries, "input_names"), "input_names")?;
        let output_names = text_of(take(&mut entries, "output_names"), "output_names")?;
        let correct = match take(&mut entries, "correct") {
            Some(a) => Some(
                f64_of(&a, "correct")?
                    .into_iter()
                    .map(|v| v > 0.5)
                    .collect(),
            ),
            None => None,
        };
        let credit = match take(&mut entries, "credit") {
            Some(a) => {
                let c = f64_of(&a, "credit")?;
                if c.len() != n_trials || c.iter().any(|v| !(0.0..=1.0).contains(v)) {
                    return Err(fail(format!(
                        "`credit` must hold {n_trials} values in [0, 1], one per trial"
                    )));
                }
                Some(c)
            }
            None => None,
        };
        let trial_len = si.iter().take(2).product::<usize>() * so.get(2).copied().unwrap_or(0);
        let stages = match take(&mut entries, "stage_names") {
            None => None,
            Some(names) => {
                let names = text_of(Some(names), "stage_names")?;
                let k = names.len().saturating_sub(1);
                let mut entry = |key: &str| {
                    take(&mut entries, key)
                        .ok_or_else(|| fail(format!("`stage_names` without `{key}`")))
                };
                let ends = entry("stage_end_iteration")?;
                let ends = ends.to_i64().ok_or_else(|| {
                    fail(format!(
                        "`stage_end_iteration` is {}, expected integers",
                        ends.kind()
                    ))
                })?;
                let stage_outputs = entry("stage_outputs")?;
                let stage_credit = entry("stage_credit")?;
                let stage_outputs = stage_outputs.to_f32().ok_or_else(|| {
                    fail(format!(
                        "`stage_outputs` is {}, expected numbers",
                        stage_outputs.kind()
                    ))
                })?;
                let stage_credit = f64_of(&stage_credit, "stage_credit")?;
                if names.is_empty()
                    || ends.len() != names.len()
                    || ends.iter().any(|&i| i < 0)
                    || stage_outputs.len() != k * trial_len
                    || stage_credit.len() != k * n_trials
                {
                    return Err(fail(format!(
                        "the stage entries do not fit together: {} `stage_names`, {} `stage_end_iteration` values (non-negative), `stage_outputs` of {} values (expected {k} × the outputs' {trial_len}) and `stage_credit` of {} (expected {})",
                        names.len(),
                        ends.len(),
                        stage_outputs.len(),
                        stage_credit.len(),
                        k * n_trials
                    )));
                }
                Some(StageBehaviours {
                    stages: names
                        .into_iter()
                        .zip(ends.iter().map(|&i| i as usize))
                        .collect(),
                    outputs: stage_outputs,
                    credit: stage_credit,
                })
            }
        };
        let epochs = match take(&mut entries, "epoch_names") {
            None => None,
            Some(names) => {
                let names = text_of(Some(names), "epoch_names")?;
                let mut ints = |key: &str, len: usize| -> Result<Vec<i64>, TrialsFileError> {
                    let a = take(&mut entries, key)
                        .ok_or_else(|| fail(format!("`epoch_names` without `{key}`")))?;
                    let v = a.to_i64().ok_or_else(|| {
                        fail(format!("`{key}` is {}, expected integers", a.kind()))
                    })?;
                    if v.len() != len {
                        return Err(fail(format!(
                            "`{key}` has {} values, expected {len}",
                            v.len()
                        )));
                    }
                    Ok(v)
                };
                let e = names.len();
                Some(EpochTable {
                    n_trials,
                    occurrence: ints("epoch_occurrence", e)?,
                    start: ints("epoch_start", n_trials * e)?,
                    end: ints("epoch_end", n_trials * e)?,
                    names,
                })
            }
        };
        let mut conditions = BTreeMap::new();
        let mut per_trial_labels = BTreeMap::new();
        for (k, a) in entries {
            if let Some(name) = k.strip_prefix("condition_") {
                conditions.insert(name.to_string(), f64_of(&a, &k)?);
            } else if let Some(name) = k.strip_prefix("label_") {
                per_trial_labels.insert(name.to_string(), text_of(Some(a), &k)?);
            }
        }
        let labels = if older_format {
            read_labels_sidecar(path)?
        } else {
            labels_from_trials(&conditions, per_trial_labels).map_err(fail)?
        };
        Ok(TrialRecord {
            n_trials,
            n_steps: si[1],
            n_in: si[2],
            n_out: so[2],
            n_rec: ss[2],
            dt: dt.first().copied().unwrap_or(f32::NAN) as f64,
            tau,
            input_names,
            output_names,
            inputs,
            targets,
            mask,
            outputs,
            states,
            rates,
            conditions,
            labels,
            epochs,
            correct,
            credit,
            stages,
        })
    }
}

/// The sorted labels of each text condition from its `label_<name>` entry, checked against
/// the codes in `condition_<name>`.
fn labels_from_trials(
    conditions: &BTreeMap<String, Vec<f64>>,
    per_trial: BTreeMap<String, Vec<String>>,
) -> Result<BTreeMap<String, Vec<String>>, String> {
    let mut labels = BTreeMap::new();
    for (name, texts) in per_trial {
        let codes = conditions
            .get(&name)
            .ok_or_else(|| format!("`label_{name}` without `condition_{name}`"))?;
        let mut sorted: Vec<String> = texts
            .iter()
            .zip(codes)
            .filter(|(_, c)| !c.is_nan())
            .map(|(t, _)| t.clone())
            .collect();
        sorted.sort();
        sorted.dedup();
        if labels_per_trial(codes, &sorted) != texts {
            return Err(format!(
                "`condition_{name}` codes do not match the labels in `label_{name}`"
            ));
        }
        labels.insert(name, sorted);
    }
    Ok(labels)
}

/// `trials_labels.yaml` beside `path` (files written before labels moved into the `.npz`).
fn read_labels_sidecar(path: &Path) -> Result<BTreeMap<String, Vec<String>>, TrialsFileError> {
    let labels_path = path.with_file_name("trials_labels.yaml");
    match std::fs::read_to_string(&labels_path) {
        Ok(text) => serde_norway::from_str(&text).map_err(|source| TrialsFileError::Labels {
            path: labels_path,
            source,
        }),
        Err(_) => Ok(BTreeMap::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape() -> TaskShape {
        TaskShape {
            inputs: vec!["in".into()],
            outputs: vec!["left".into(), "right".into()],
            dt: 10.0,
            tau: 100.0,
            duration: 20.0,
        }
    }

    fn record(b: usize) -> TrialRecord {
        let mut batch = Batch::empty(b, 2, 1, 2);
        // Target channel 0 on every trial; outputs pick channel 1 on the first trial only.
        for i in 0..b {
            for t in 0..2 {
                batch.targets[(i * 2 + t) * 2] = 1.0;
                batch.mask[(i * 2 + t) * 2] = 1.0;
                batch.mask[(i * 2 + t) * 2 + 1] = 1.0;
            }
        }
        let mut outputs = batch.targets.clone();
        outputs[0] = 0.0;
        outputs[1] = 1.0;
        outputs[2] = 0.0;
        outputs[3] = 1.0;
        TrialRecord::new(
            &batch,
            outputs,
            vec![0.0; b * 2],
            vec![0.0; b * 2],
            &shape(),
        )
    }

    #[test]
    fn a_trials_conditions_come_back_as_the_task_gave_them() {
        let mut batch = Batch::empty(3, 2, 1, 2);
        let given: Vec<Conditions> = [("motion", 0.5), ("colour", -0.15), ("motion", 2.0)]
            .iter()
            .enumerate()
            .map(|(i, &(context, coherence))| {
                let mut c = Conditions::new();
                c.insert("context".into(), ConditionValue::Text(context.into()));
                c.insert("coherence".into(), ConditionValue::Number(coherence));
                if i != 1 {
                    c.insert("delay".into(), ConditionValue::Number(300.0));
                }
                c
            })
            .collect();
        batch.conditions = given.clone();
        let n = batch.targets.len();
        let record = TrialRecord::new(&batch, vec![0.0; n], vec![], vec![], &shape());
        // Stored as codes into the sorted labels ...
        assert_eq!(record.conditions["context"], vec![1.0, 0.0, 1.0]);
        // ... and given back as labels; trial 1 has no delay.
        for (i, want) in given.iter().enumerate() {
            assert_eq!(&record.trial_conditions(i), want, "trial {i}");
        }
    }

    #[test]
    fn verdicts_are_written_read_back_and_give_the_accuracy() {
        let dir = std::env::temp_dir().join(format!("psychrnn-trials-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("trials.npz");
        // Without verdicts: PsychRNN's argmax accuracy (trial 0 picks the wrong channel).
        let plain = record(3);
        assert!((plain.accuracy() - 2.0 / 3.0).abs() < 1e-12);
        plain.write(&path).unwrap();
        assert_eq!(TrialRecord::read(&path).unwrap().correct, None);
        // With the scorer's verdicts, which may differ from argmax.
        let scored = record(3).with_correct(vec![false, false, true]);
        assert!((scored.accuracy() - 1.0 / 3.0).abs() < 1e-12);
        scored.write(&path).unwrap();
        let back = TrialRecord::read(&path).unwrap();
        assert_eq!(back.correct, Some(vec![false, false, true]));
        assert_eq!(back, scored);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn stage_behaviours_round_trip_with_any_stage_name_and_mismatched_entries_are_refused() {
        let dir = std::env::temp_dir().join(format!("psychrnn-stages-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("trials.npz");
        let base = record(3);
        let len = base.outputs.len();
        let stages = StageBehaviours {
            stages: vec![
                ("coh: 0.7, «easy» <b>".to_string(), 75),
                ("staircase".to_string(), 400),
                ("all".to_string(), 1500),
            ],
            outputs: (0..2 * len).map(|v| v as f32 / 7.0).collect(),
            credit: vec![1.0, 0.0, 0.5, 1.0, 1.0, 0.0],
        };
        let staged = base.clone().with_stages(Some(stages.clone()));
        staged.write(&path).unwrap();
        let back = TrialRecord::read(&path).unwrap();
        assert_eq!(back, staged);
        assert_eq!(
            back.stages.as_ref().unwrap().outputs_of(1, len)[0],
            len as f32 / 7.0
        );
        assert!((stages.accuracy_of(0, 3) - 0.5).abs() < 1e-12);
        assert!((stages.accuracy_of(1, 3) - 2.0 / 3.0).abs() < 1e-12);

        // Stages that do not fit the trials are never written.
        let mut short = stages;
        short.outputs.truncate(len);
        let e = base.with_stages(Some(short)).write(&path).unwrap_err();
        assert!(e.to_string().contains("`stage_outputs` has"), "{e}");
        assert_eq!(
            TrialRecord::read(&path).unwrap(),
            staged,
            "the old file is kept"
        );
        // A file whose stage entries do not fit together is refused, naming what is wrong.
        let mut entries = staged.entries().unwrap();
        entries.numbers.retain(|a| a.name != "stage_credit");
        entries.write(&path).unwrap();
        let e = TrialRecord::read(&path).unwrap_err().to_string();
        assert!(e.contains("`stage_names` without `stage_credit`"), "{e}");
        let mut entries = staged.entries().unwrap();
        for a in entries
            .numbers
            .iter_mut()
            .filter(|a| a.name == "stage_credit")
        {
            a.dims = vec![1, 3];
            a.data = NpyData::F64(Cow::Owned(vec![1.0; 3]));
        }
        entries.write(&path).unwrap();
        let e = TrialRecord::read(&path).unwrap_err().to_string();
        assert!(e.contains("the stage entries do not fit together"), "{e}");
        assert!(e.contains("`stage_credit` of 3 (expected 6)"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn span(name: &str, start: usize, end: usize) -> EpochSpan {
        EpochSpan {
            name: name.into(),
            start,
            end,
        }
    }

    #[test]
    fn epoch_table_has_a_column_per_name_and_occurrence_and_gives_the_spans_back() {
        let trials = vec![
            vec![span("fix", 0, 3), span("stim", 3, 5), span("go", 5, 9)],
            vec![
                span("fix", 0, 2),
                span("stim", 2, 4),
                span("stim", 4, 6),
                span("go", 6, 9),
            ],
            vec![],
        ];
        let table = EpochTable::of(&trials);
        assert_eq!(table.names, ["fix", "stim", "go", "stim"]);
        assert_eq!(table.occurrence, [1, 1, 1, 2]);
        assert_eq!(table.start, [0, 3, 5, -1, 0, 2, 6, 4, -1, -1, -1, -1]);
        assert_eq!(table.end, [3, 5, 9, -1, 2, 4, 9, 6, -1, -1, -1, -1]);
        assert_eq!(table.column("stim"), Some(1));
        assert_eq!(table.column("nope"), None);
        assert_eq!(table.spans(), trials);
    }

    #[test]
    fn text_conditions_are_codes_and_labels_and_mixed_ones_become_text() {
        let text = |s: &str| ConditionValue::Text(s.into());
        let trials: Vec<Conditions> = vec![
            [("ctx".into(), text("motion")), ("mix".into(), text("a"))].into(),
            [
                ("ctx".into(), text("color")),
                ("mix".into(), ConditionValue::Number(2.5)),
            ]
            .into(),
            [("coh".into(), ConditionValue::Number(0.5))].into(),
        ];
        let (conditions, labels) = condition_columns(&trials);
        assert_eq!(labels["ctx"], ["color", "motion"]);
        assert_eq!(conditions["ctx"][..2], [1.0, 0.0]);
        assert!(conditions["ctx"][2].is_nan());
        assert_eq!(labels["mix"], ["2.5", "a"]);
        assert_eq!(conditions["mix"][..2], [1.0, 0.0]);
        assert!(!labels.contains_key("coh"));
        assert!(conditions["coh"][0].is_nan() && conditions["coh"][2] == 0.5);
        assert_eq!(
            labels_per_trial(&conditions["ctx"], &labels["ctx"]),
            ["motion", "color", ""]
        );
    }
}
