//! The `report` settings of the multitask and two-condition analyses: `report.task_variance`
//! (Yang et al. 2019's task variance and unit clusters) and `report.psychometric_matrix`
//! (P(choice) over two conditions, as Romo's f1 × f2).

use serde::{Deserialize, Serialize};

use crate::config_error::ConfigError;

/// `report.task_variance`: which condition names each trial's task, and the window the
/// variance is averaged over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskVarianceConfig {
    /// The condition naming each trial's task (a text or numeric condition, e.g. `task`).
    pub condition: String,
    /// The window starts where the first epoch of this name ends (Yang: after fixation).
    #[serde(default = "default_from_end_of")]
    pub from_end_of: String,
    /// The window ends where the first epoch of this name ends.
    #[serde(default = "default_to_end_of")]
    pub to_end_of: String,
    /// Units whose task variances sum to this or less are left out (Yang: 1e-3).
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    /// The most clusters tried when choosing their number by the silhouette (from 2; Yang's
    /// clustering code tries 2 to 29).
    #[serde(default = "default_max_clusters")]
    pub max_clusters: usize,
}

fn default_from_end_of() -> String {
    "fixation".into()
}
fn default_to_end_of() -> String {
    "response".into()
}
fn default_threshold() -> f64 {
    1e-3
}
fn default_max_clusters() -> usize {
    29
}

/// `report.psychometric_matrix`: the two conditions spanning the grid and the output whose
/// choice is counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PsychometricMatrixConfig {
    /// The numeric condition along x (e.g. `f1`).
    pub x: String,
    /// The numeric condition along y (e.g. `f2`).
    pub y: String,
    /// The output channel, by name, whose choice is counted (e.g. `f1_greater`).
    pub choice: String,
    /// The output channels, by name, the choice is made among (empty: all outputs).
    #[serde(default)]
    pub among: Vec<String>,
}

impl TaskVarianceConfig {
    /// Checks the threshold and the largest number of clusters.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(self.threshold.is_finite() && self.threshold >= 0.0) {
            return Err(ConfigError::new(
                "report.task_variance.threshold",
                format!("must be a number ≥ 0, got {}", self.threshold),
            ));
        }
        if self.max_clusters < 2 {
            return Err(ConfigError::new(
                "report.task_variance.max_clusters",
                format!(
                    "must be at least 2 (clusters are chosen among 2..=max_clusters), got {}",
                    self.max_clusters
                ),
            ));
        }
        Ok(())
    }
}

impl PsychometricMatrixConfig {
    /// Checks that `choice` and `among` name outputs (and `choice` is among `among`).
    pub fn validate(&self, outputs: &[String]) -> Result<(), ConfigError> {
        let known = |field: &str, name: &str| -> Result<(), ConfigError> {
            if outputs.iter().any(|o| o == name) {
                return Ok(());
            }
            Err(ConfigError::new(
                field,
                format!(
                    "no output channel `{name}`; the outputs are: {}",
                    outputs.join(", ")
                ),
            ))
        };
        known("report.psychometric_matrix.choice", &self.choice)?;
        for (i, name) in self.among.iter().enumerate() {
            known(&format!("report.psychometric_matrix.among[{i}]"), name)?;
        }
        if !self.among.is_empty() && !self.among.contains(&self.choice) {
            return Err(ConfigError::new(
                "report.psychometric_matrix.choice",
                format!(
                    "`{}` is not among report.psychometric_matrix.among ({}): that choice is never made",
                    self.choice,
                    self.among.join(", ")
                ),
            ));
        }
        Ok(())
    }
}
