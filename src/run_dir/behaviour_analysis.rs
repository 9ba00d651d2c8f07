//! The `analysis.yaml` sections of the classic behavioural and multitask results: go/no-go
//! signal detection, produced versus sample intervals (ready-set-go), the psychometric matrix
//! over two stimulus conditions (Romo's f1 × f2) and task-variance clusters (Yang et al. 2019).

use serde::{Deserialize, Serialize};

/// Signal detection on go/no-go test trials, read the way the task's `go_nogo` scorer reads a
/// response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoNogoAnalysis {
    /// The response output channel.
    pub channel: String,
    /// The epoch in which a response counts.
    pub epoch: String,
    /// The condition that is 1 on go trials.
    pub condition: String,
    /// Go trials.
    pub go_trials: usize,
    /// No-go trials.
    pub nogo_trials: usize,
    /// Go trials with a response.
    pub hits: usize,
    /// No-go trials with a response.
    pub false_alarms: usize,
    /// hits / go trials (null without go trials).
    pub hit_rate: Option<f64>,
    /// false alarms / no-go trials (null without no-go trials).
    pub false_alarm_rate: Option<f64>,
    /// Φ⁻¹(hit rate) − Φ⁻¹(false-alarm rate) with the log-linear correction
    /// (k + 0.5)/(n + 1), so perfect rates stay finite.
    pub d_prime: f64,
}

/// Produced intervals against the intervals to produce (ready-set-go), with the regression
/// that shows regression to the mean of the prior (slope below 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntervalTimingAnalysis {
    /// The output channel whose threshold crossing is the response.
    pub channel: String,
    /// The epoch from whose first step intervals are timed.
    pub from: String,
    /// The condition holding the interval to produce (ms).
    pub target: String,
    /// The crossing level.
    pub threshold: f64,
    /// Test trials.
    pub trials: usize,
    /// Trials whose output crossed the threshold (only these are regressed).
    pub responded: usize,
    /// Least-squares slope of produced on target interval (1: perfect timing; below 1:
    /// regression to the mean; 0: one fixed time).
    pub slope: f64,
    /// Its standard error √(s²/Σ(x − x̄)²).
    pub slope_se: f64,
    /// Its 95% confidence interval (Student t with responded − 2 degrees of freedom).
    pub slope_ci95: (f64, f64),
    /// Least-squares intercept (ms).
    pub intercept: f64,
    /// Mean of produced − target over the trials that responded (ms).
    pub mean_bias: f64,
    /// Mean target interval of those trials (the prior's mean, ms).
    pub prior_mean: f64,
    /// Where the fitted line crosses the identity, intercept/(1 − slope) (ms; null when the
    /// slope is 1).
    pub indifference_point: Option<f64>,
    /// Produced intervals grouped by target interval.
    pub points: Vec<ProducedInterval>,
}

/// The produced intervals of the trials with one target interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProducedInterval {
    /// The target interval (ms).
    pub target: f64,
    /// Trials with this target that responded.
    pub n: usize,
    /// Mean produced interval (ms).
    pub mean: f64,
    /// Sample standard deviation (0 for one trial).
    pub sd: f64,
}

/// P(a choice) over the grid of two conditions (Romo's f1 × f2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PsychometricMatrixAnalysis {
    /// The condition along the rows' x axis (e.g. `f1`).
    pub x: String,
    /// The condition along the y axis (e.g. `f2`).
    pub y: String,
    /// The output channel whose choice is counted.
    pub choice: String,
    /// The distinct x values, sorted.
    pub x_values: Vec<f64>,
    /// The distinct y values, sorted.
    pub y_values: Vec<f64>,
    /// One entry per (x, y) pair that occurred.
    pub cells: Vec<MatrixCell>,
}

/// One cell of the psychometric matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixCell {
    /// The x value.
    pub x: f64,
    /// The y value.
    pub y: f64,
    /// Trials in the cell.
    pub trials: usize,
    /// Fraction of them choosing the counted channel.
    pub p_choice: f64,
}

/// Task variance (Yang et al. 2019): per unit and task, the variance of its rate across that
/// task's trials, averaged over the steps of the analysis window; units clustered by their
/// normalised task-variance vectors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskVarianceAnalysis {
    /// The condition naming each trial's task.
    pub condition: String,
    /// The epoch whose end starts the window.
    pub from_end_of: String,
    /// The epoch whose end ends the window.
    pub to_end_of: String,
    /// Units whose summed task variance was at or below this were dropped.
    pub threshold: f64,
    /// The tasks (columns), in the order of the condition's levels.
    pub tasks: Vec<String>,
    /// Trials of each task.
    pub trials_per_task: Vec<usize>,
    /// Units kept (summed variance above the threshold).
    pub active_units: usize,
    /// Number of clusters (chosen by the largest silhouette).
    pub n_clusters: usize,
    /// Mean silhouette of that clustering.
    pub silhouette: f64,
    /// The mean silhouette of every number of clusters tried, in increasing number.
    #[serde(default)]
    pub silhouette_by_clusters: Vec<ClusterCountSilhouette>,
    /// True when the chosen number is the largest tried while more clusters were possible:
    /// the silhouette may still rise past the search (raise `report.task_variance.max_clusters`),
    /// so the number of clusters is a bound, not a finding.
    #[serde(default)]
    pub at_search_limit: bool,
    /// The clusters, ordered by the task each serves most.
    pub clusters: Vec<TaskCluster>,
    /// Every unit's raw task variances, one row per unit (all units, dropped ones too).
    pub variance: Vec<Vec<f64>>,
}

/// The mean silhouette of one number of clusters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterCountSilhouette {
    /// The number of clusters.
    pub clusters: usize,
    /// The mean silhouette of Ward's clustering into that many.
    pub silhouette: f64,
}

/// One cluster of units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskCluster {
    /// Its units (indices into the network).
    pub units: Vec<usize>,
    /// The mean normalised task variance of its units per task (the tasks' order).
    pub profile: Vec<f64>,
    /// The tasks whose mean normalised variance in the cluster is at least 0.5: the tasks it
    /// serves.
    pub serves: Vec<String>,
}
