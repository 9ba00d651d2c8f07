//! `Batch`: the arrays a network trains on, trial-aligned, in PsychRNN's [trial, time, channel] order.

use std::collections::BTreeMap;

use super::TrialError;

/// One value of a trial condition (coherence, direction, context name, …).
#[derive(Debug, Clone, PartialEq)]
pub enum ConditionValue {
    /// A number (integers are stored as numbers too).
    Number(f64),
    /// A label.
    Text(String),
}

/// The conditions of one trial, by name.
pub type Conditions = BTreeMap<String, ConditionValue>;

/// Where one epoch of a trial lies: steps `start..end` (a zero-length epoch has
/// `start == end`).
#[derive(Debug, Clone, PartialEq)]
pub struct EpochSpan {
    /// The epoch's name.
    pub name: String,
    /// First step of the epoch.
    pub start: usize,
    /// One past the last step.
    pub end: usize,
}

/// One trial's arrays, each [time, channel] row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Trial {
    /// Inputs, [n_steps × n_in].
    pub inputs: Vec<f32>,
    /// Targets, [n_steps × n_out].
    pub targets: Vec<f32>,
    /// Loss weights, [n_steps × n_out].
    pub mask: Vec<f32>,
    /// What was drawn for this trial.
    pub conditions: Conditions,
    /// The trial's epochs in order (empty for tasks written per step).
    pub epochs: Vec<EpochSpan>,
}

/// A batch of trials; arrays are [trial, time, channel] row-major like PsychRNN's.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Number of trials B.
    pub n_trials: usize,
    /// Steps per trial T.
    pub n_steps: usize,
    /// Input channels.
    pub n_in: usize,
    /// Output channels.
    pub n_out: usize,
    /// [B, T, n_in].
    pub inputs: Vec<f32>,
    /// [B, T, n_out].
    pub targets: Vec<f32>,
    /// [B, T, n_out].
    pub mask: Vec<f32>,
    /// One map per trial.
    pub conditions: Vec<Conditions>,
    /// Each trial's epochs (empty lists for tasks written per step).
    pub epochs: Vec<Vec<EpochSpan>>,
}

impl Batch {
    /// A zero-filled batch.
    pub fn empty(n_trials: usize, n_steps: usize, n_in: usize, n_out: usize) -> Self {
        Batch {
            n_trials,
            n_steps,
            n_in,
            n_out,
            inputs: vec![0.0; n_trials * n_steps * n_in],
            targets: vec![0.0; n_trials * n_steps * n_out],
            mask: vec![0.0; n_trials * n_steps * n_out],
            conditions: vec![Conditions::new(); n_trials],
            epochs: vec![Vec::new(); n_trials],
        }
    }

    /// Stores trial `i`; says what is wrong if its arrays have the wrong size.
    pub fn set_trial(&mut self, i: usize, trial: Trial) -> Result<(), TrialError> {
        let (t, ni, no) = (self.n_steps, self.n_in, self.n_out);
        for (what, len, want) in [
            ("inputs", trial.inputs.len(), t * ni),
            ("targets", trial.targets.len(), t * no),
            ("mask", trial.mask.len(), t * no),
        ] {
            if len != want {
                return Err(TrialError::ArraySize {
                    array: what,
                    len,
                    expected: want,
                    steps: t,
                    channels: want / t.max(1),
                });
            }
        }
        self.inputs[i * t * ni..(i + 1) * t * ni].copy_from_slice(&trial.inputs);
        self.targets[i * t * no..(i + 1) * t * no].copy_from_slice(&trial.targets);
        self.mask[i * t * no..(i + 1) * t * no].copy_from_slice(&trial.mask);
        self.conditions[i] = trial.conditions;
        self.epochs[i] = trial.epochs;
        Ok(())
    }

    /// Trials `range` of the batch as a batch of their own (copies).
    pub fn trials(&self, range: std::ops::Range<usize>) -> Batch {
        let (t, ni, no) = (self.n_steps, self.n_in, self.n_out);
        let (a, b) = (range.start, range.end);
        Batch {
            n_trials: b - a,
            n_steps: t,
            n_in: ni,
            n_out: no,
            inputs: self.inputs[a * t * ni..b * t * ni].to_vec(),
            targets: self.targets[a * t * no..b * t * no].to_vec(),
            mask: self.mask[a * t * no..b * t * no].to_vec(),
            conditions: self.conditions[a..b].to_vec(),
            epochs: self.epochs[a..b].to_vec(),
        }
    }
}
