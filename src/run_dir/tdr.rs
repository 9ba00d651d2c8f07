//! The targeted-dimensionality-reduction section of `analysis.yaml` (with `report.tdr`): the
//! regression axes, the variance they explain and the condition-averaged trajectories on them.

use serde::{Deserialize, Serialize};

/// Regression axes and trajectories (see [`crate::analysis::tdr`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TdrAnalysis {
    /// The regressors' conditions, in the axes' order (choice, motion, colour, context).
    pub axes: Vec<String>,
    /// Time (ms from trial start) at which each regressor's coefficient norm is largest.
    pub max_norm_time_ms: Vec<f64>,
    /// That largest norm (z-scored rate per unit of the condition, over units).
    pub max_norm: Vec<f64>,
    /// Fraction of the variance of the condition-averaged z-scored rates along each axis.
    pub explained_variance: Vec<f64>,
    /// The first and one-past-last step of the stimulus epoch (of the first trial), which the
    /// figure draws.
    pub stimulus_steps: Option<(usize, usize)>,
    /// True when the trajectories average correct trials only (false: all trials, because
    /// the run has no scorer verdicts or no correct trial).
    pub correct_only: bool,
    /// The orthonormal axes, one row of N values (z-scored rate space) each.
    pub axis_vectors: Vec<Vec<f64>>,
    /// Condition-averaged trajectories (see `correct_only`).
    pub trajectories: Vec<TdrTrajectory>,
}

/// One condition's mean trajectory on the regression axes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TdrTrajectory {
    /// The context (label or value).
    pub context: String,
    /// Which evidence sorts the trials: `motion` or `colour`.
    pub sorted_by: String,
    /// The choice condition's value.
    pub choice: f64,
    /// The sorting evidence's value.
    pub evidence: f64,
    /// Trials averaged.
    pub trials: usize,
    /// Per step, the coordinates on each axis.
    pub coordinates: Vec<Vec<f64>>,
}
