//! The `train` section of an experiment.

use serde::{Deserialize, Serialize};

use crate::config_error::ConfigError;

/// The most iterations (and the largest `eval_every`, `lr_step_every`, `checkpoint_every`).
pub const MAX_ITERATIONS: usize = 100_000_000;

/// The most trials in one batch (`batch_size`, `eval_trials`).
pub const MAX_BATCH_SIZE: usize = 65_536;

/// The most trials in the final test (`test_trials`).
pub const MAX_TEST_TRIALS: usize = 1_000_000;

/// Which optimizer updates the weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// TensorFlow 1's Adam (PsychRNN's): β₁ 0.9, β₂ 0.999, ε 1e-8.
    Adam,
    /// Stochastic gradient descent with (heavy-ball) momentum `train.momentum`.
    Sgd,
}

/// How the learning rate changes over training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// `learning_rate` throughout.
    Constant,
    /// Multiplied by `lr_step_factor` every `lr_step_every` iterations.
    Step,
    /// Cosine decay from `learning_rate` to `lr_min` over `iterations`.
    Cosine,
}

/// How gradients are clipped to `clip_grad_norm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Clipping {
    /// Each gradient tensor separately (PsychRNN's `clip_by_norm`).
    PerTensor,
    /// All gradients together, by their global norm.
    Global,
}

/// Training settings. Defaults follow PsychRNN where it has one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Number of parameter updates (one batch each). PsychRNN's `training_iters` counts trials
    /// instead: `iterations` = ceil(training_iters / batch_size).
    pub iterations: usize,
    /// Trials per batch (PsychRNN's `N_batch`).
    pub batch_size: usize,
    /// `adam` or `sgd`.
    pub optimizer: OptimizerKind,
    /// Learning rate (the start of the schedule).
    pub learning_rate: f64,
    /// SGD momentum.
    pub momentum: f64,
    /// `constant`, `step` or `cosine`.
    pub lr_schedule: Schedule,
    /// `step` schedule: iterations between steps.
    pub lr_step_every: usize,
    /// `step` schedule: factor applied at each step.
    pub lr_step_factor: f64,
    /// `cosine` schedule: the final learning rate.
    pub lr_min: f64,
    /// Gradients are rescaled to at most this L2 norm (PsychRNN: 1, per tensor); `null` disables.
    pub clip_grad_norm: Option<f64>,
    /// `per_tensor` (PsychRNN's) or `global`.
    pub clipping: Clipping,
    /// Evaluate (and write a history row) every this many iterations.
    pub eval_every: usize,
    /// Fresh trials per evaluation.
    pub eval_trials: usize,
    /// Fresh trials in the final test.
    pub test_trials: usize,
    /// Stop early once an evaluation reaches this accuracy; `null` trains all iterations.
    pub stop_at_accuracy: Option<f64>,
    /// Stop once `patience` evaluations in a row have not raised the accuracy more than
    /// `min_gain` above its best (`#{ patience: 5, min_gain: 0.01 }`); `null`: never.
    pub stop_on_plateau: Option<super::Plateau>,
    /// Stop after this many seconds of training; `null`: no limit.
    pub max_seconds: Option<f64>,
    /// Write a checkpoint every this many iterations (and at the end).
    pub checkpoint_every: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            iterations: 1000,
            batch_size: 64,
            optimizer: OptimizerKind::Adam,
            learning_rate: 0.001,
            momentum: 0.9,
            lr_schedule: Schedule::Constant,
            lr_step_every: 1000,
            lr_step_factor: 0.5,
            lr_min: 0.0,
            clip_grad_norm: Some(1.0),
            clipping: Clipping::PerTensor,
            eval_every: 50,
            eval_trials: 256,
            test_trials: 512,
            stop_at_accuracy: None,
            stop_on_plateau: None,
            max_seconds: None,
            checkpoint_every: 500,
        }
    }
}

impl TrainConfig {
    /// The learning rate at `iteration` (1-based).
    pub fn learning_rate_at(&self, iteration: usize) -> f64 {
        match self.lr_schedule {
            Schedule::Constant => self.learning_rate,
            Schedule::Step => {
                let steps = (iteration.saturating_sub(1) / self.lr_step_every.max(1)) as i32;
                self.learning_rate * self.lr_step_factor.powi(steps)
            }
            Schedule::Cosine => {
                let progress =
                    (iteration.saturating_sub(1)) as f64 / (self.iterations.max(2) - 1) as f64;
                let c = 0.5 * (1.0 + (std::f64::consts::PI * progress.min(1.0)).cos());
                self.lr_min + (self.learning_rate - self.lr_min) * c
            }
        }
    }

    /// Checks values that would make training meaningless; names the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        // 0 iterations is allowed: the run tests and reports the untrained network.
        if self.iterations > MAX_ITERATIONS {
            return Err(ConfigError::new(
                "train.iterations",
                format!(
                    "must be between 0 and {MAX_ITERATIONS}, got {}",
                    self.iterations
                ),
            ));
        }
        let counts = [
            ("batch_size", self.batch_size, MAX_BATCH_SIZE),
            ("eval_every", self.eval_every, MAX_ITERATIONS),
            ("eval_trials", self.eval_trials, MAX_BATCH_SIZE),
            ("test_trials", self.test_trials, MAX_TEST_TRIALS),
            ("lr_step_every", self.lr_step_every, MAX_ITERATIONS),
            ("checkpoint_every", self.checkpoint_every, MAX_ITERATIONS),
        ];
        for (field, v, max) in counts {
            if !(1..=max).contains(&v) {
                return Err(ConfigError::new(
                    format!("train.{field}"),
                    format!("must be between 1 and {max}, got {v}"),
                ));
            }
        }
        let positive_f = [
            ("learning_rate", self.learning_rate),
            ("lr_step_factor", self.lr_step_factor),
        ];
        for (field, v) in positive_f {
            if !(v.is_finite() && v > 0.0) {
                return Err(ConfigError::new(
                    format!("train.{field}"),
                    format!("must be positive, got {v}"),
                ));
            }
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(ConfigError::new(
                "train.momentum",
                format!("must be in [0, 1), got {}", self.momentum),
            ));
        }
        if !(self.lr_min >= 0.0 && self.lr_min <= self.learning_rate) {
            return Err(ConfigError::new(
                "train.lr_min",
                format!(
                    "must be between 0 and train.learning_rate, got {}",
                    self.lr_min
                ),
            ));
        }
        if let Some(c) = self.clip_grad_norm {
            if !(c.is_finite() && c > 0.0) {
                return Err(ConfigError::new(
                    "train.clip_grad_norm",
                    format!("must be positive or null, got {c}"),
                ));
            }
        }
        if let Some(s) = self.max_seconds {
            if s.is_nan() || s <= 0.0 {
                return Err(ConfigError::new(
                    "train.max_seconds",
                    format!("must be positive or null, got {s}"),
                ));
            }
        }
        if let Some(a) = self.stop_at_accuracy {
            if !(0.0..=1.0).contains(&a) {
                return Err(ConfigError::new(
                    "train.stop_at_accuracy",
                    format!("must be between 0 and 1 or null, got {a}"),
                ));
            }
        }
        if let Some(p) = &self.stop_on_plateau {
            p.validate()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        let mut c = TrainConfig {
            learning_rate: 0.1,
            iterations: 101,
            ..TrainConfig::default()
        };
        assert_eq!(c.learning_rate_at(57), 0.1);
        c.lr_schedule = Schedule::Step;
        c.lr_step_every = 10;
        assert_eq!(c.learning_rate_at(10), 0.1);
        assert!((c.learning_rate_at(11) - 0.05).abs() < 1e-15);
        assert!((c.learning_rate_at(31) - 0.0125).abs() < 1e-15);
        c.lr_schedule = Schedule::Cosine;
        c.lr_min = 0.01;
        assert!((c.learning_rate_at(1) - 0.1).abs() < 1e-15);
        assert!((c.learning_rate_at(51) - 0.055).abs() < 1e-12);
        assert!((c.learning_rate_at(101) - 0.01).abs() < 1e-15);
    }
}
