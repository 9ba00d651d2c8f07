//! `summary.yaml`: the outcome of a finished run. Its presence marks the run finished.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::train::StopReason;

/// One condition value's test accuracy (`accuracy_by` in summary.yaml).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionAccuracy {
    /// The condition's value: a number or a label.
    pub value: ConditionLabel,
    /// Test trials with this value.
    pub trials: usize,
    /// Fraction of them scored right.
    pub accuracy: f64,
}

/// A condition value as summary.yaml writes it: a number, or a label (always quoted as YAML
/// needs, so `coh: 0.3 #hard` stays one string).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ConditionLabel {
    /// A numeric condition.
    Number(f64),
    /// A text condition.
    Text(String),
}

impl From<&crate::task::ConditionValue> for ConditionLabel {
    fn from(v: &crate::task::ConditionValue) -> Self {
        match v {
            crate::task::ConditionValue::Number(x) => ConditionLabel::Number(*x),
            crate::task::ConditionValue::Text(t) => ConditionLabel::Text(t.clone()),
        }
    }
}

impl std::fmt::Display for ConditionLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConditionLabel::Number(x) => write!(f, "{x}"),
            ConditionLabel::Text(t) => f.write_str(t),
        }
    }
}

/// Test accuracy grouped by the values of `report.condition`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccuracyByCondition {
    /// The condition's name.
    pub condition: String,
    /// One entry per value, numbers first (ascending), then labels.
    pub groups: Vec<ConditionAccuracy>,
}

/// When a curriculum stage began.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageStart {
    /// The stage's name.
    pub name: String,
    /// The first iteration trained in it.
    pub began_at_iteration: usize,
}

/// What `summary.yaml` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The run directory's format ([`super::FORMAT_VERSION`]).
    pub format_version: u32,
    /// Accuracy on `test_trials` fresh trials.
    pub final_accuracy: f64,
    /// Loss on the same trials.
    pub final_loss: f64,
    /// How many fresh test trials.
    pub test_trials: usize,
    /// Parameter updates done.
    pub iterations: usize,
    /// Training trials seen.
    pub trials_seen: usize,
    /// Seconds of training (summed over resumed sessions).
    pub wall_seconds: f64,
    /// Seconds training waited for trials.
    pub batch_wait_seconds: f64,
    /// Threads of the model's products (another count agrees to about 1e-4, not bit for bit).
    pub model_threads: usize,
    /// Why training ended.
    pub stop_reason: StopReason,
    /// The scorer's extra test metrics, e.g. `final_d_prime` (`.nan` when undefined).
    #[serde(flatten)]
    pub metrics: BTreeMap<String, f64>,
    /// With `report.condition` set: test accuracy for each of its values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy_by: Option<AccuracyByCondition>,
    /// When each curriculum stage began.
    pub stages: Vec<StageStart>,
    /// The test accuracy of outputs that ignore the inputs (the mean target at every step),
    /// the chance level `warnings` compares with (absent in runs of older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chance_accuracy: Option<f64>,
    /// What the user should know about the result, e.g. that the test accuracy is at chance
    /// level (also printed at the end of the run).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}
