//! The `train` section of an experiment.

use serde::{Deserialize, Serialize};

use crate::experiment::ConfigError;

/// Training settings. Defaults follow PsychRNN where it has one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Number of parameter updates (one batch each). PsychRNN's `training_iters` counts trials
    /// instead: `iterations` = ceil(training_iters / batch_size).
    pub iterations: usize,
    /// Trials per batch (PsychRNN's `N_batch`).
    pub batch_size: usize,
    /// Adam learning rate.
    pub learning_rate: f64,
    /// Each gradient tensor is rescaled to at most this L2 norm (PsychRNN's `clip_grads`,
    /// norm 1); `null` disables clipping.
    pub clip_grad_norm: Option<f64>,
    /// Evaluate (and write a history row) every this many iterations.
    pub eval_every: usize,
    /// Fresh trials per evaluation.
    pub eval_trials: usize,
    /// Fresh trials in the final test.
    pub test_trials: usize,
    /// Stop early once an evaluation reaches this accuracy; `null` trains all iterations.
    pub stop_at_accuracy: Option<f64>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            iterations: 1000,
            batch_size: 64,
            learning_rate: 0.001,
            clip_grad_norm: Some(1.0),
            eval_every: 50,
            eval_trials: 256,
            test_trials: 512,
            stop_at_accuracy: None,
        }
    }
}

impl TrainConfig {
    /// Checks values that would make training meaningless; names the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("batch_size", self.batch_size),
            ("eval_every", self.eval_every),
            ("eval_trials", self.eval_trials),
            ("test_trials", self.test_trials),
        ];
        for (field, v) in positive {
            if v == 0 {
                return Err(ConfigError::new(
                    format!("train.{field}"),
                    "must be at least 1",
                ));
            }
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(ConfigError::new(
                "train.learning_rate",
                format!("must be positive, got {}", self.learning_rate),
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
        Ok(())
    }
}
