//! `analysis.yaml`: the numbers behind the report's figures (psychometric fit, accuracy per
//! condition, chronometric curve, PCA, fixed points), written by the report before it draws.
//! Arrays too large for YAML (PCA components and projections) go to `analysis.npz`.

use serde::{Deserialize, Serialize};

use super::{AccuracyByCondition, RunDir, RunDirError};
use super::{
    GoNogoAnalysis, IntervalTimingAnalysis, PsychometricMatrixAnalysis, TaskVarianceAnalysis,
};

/// The arrays `analysis.npz` holds: `pca_components` `[k, N]`, `pca_mean` `[N]`,
/// `pca_explained_variance_ratio` `[k]`, and with grouped trials `pca_projection` `[levels, T, k]`
/// and `pca_levels` `[levels]`.
#[derive(Debug, Clone, Copy)]
pub struct AnalysisArrays<'a> {
    /// The principal components, each of length N.
    pub components: &'a [Vec<f64>],
    /// The mean rate of each unit.
    pub mean: &'a [f64],
    /// The fraction of variance along each component.
    pub explained_variance_ratio: &'a [f64],
    /// The condition-averaged rates projected, [levels, T, k] flattened.
    pub projection: Option<&'a [f64]>,
    /// The condition value of each projected row.
    pub levels: &'a [f64],
}

/// What `analysis.yaml` holds. Each section is absent when the report had no data for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisFile {
    /// The run directory's format ([`super::FORMAT_VERSION`]).
    pub format_version: u32,
    /// Number of test trials analysed (those in trials.npz).
    pub test_trials: usize,
    /// Fraction of them the task's scorer counted correct.
    pub accuracy: f64,
    /// The logistic fit of the choices (with `report.psychometric`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psychometric: Option<PsychometricAnalysis>,
    /// Accuracy per value of the grouping condition (needs the scorer's verdicts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy_by: Option<AccuracyByCondition>,
    /// Mean reaction time per condition value (with `report.reaction_time_onset`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chronometric: Option<ChronometricAnalysis>,
    /// Principal components of the firing rates (arrays in analysis.npz).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pca: Option<PcaAnalysis>,
    /// What fixed_points.npz holds (after `psychrnn fixedpoints`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_points: Option<FixedPointsAnalysis>,
    /// Targeted dimensionality reduction (with `report.tdr`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tdr: Option<super::TdrAnalysis>,
    /// Hit and false-alarm rates and d′ (tasks scored by `go_nogo`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub go_nogo: Option<GoNogoAnalysis>,
    /// Produced versus target intervals (tasks scored by `interval`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_timing: Option<IntervalTimingAnalysis>,
    /// P(choice) over two conditions (with `report.psychometric_matrix`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psychometric_matrix: Option<PsychometricMatrixAnalysis>,
    /// Task variance and unit clusters (with `report.task_variance`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_variance: Option<TaskVarianceAnalysis>,
    /// A curriculum's networks as each stage ended, on the same test trials: accuracy and,
    /// with `report.psychometric`, the psychometric fit per stage (the last is the final
    /// network's, the same as `psychometric`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stages: Option<Vec<StageAnalysis>>,
    /// Analyses the settings asked for that these trials could not give, each with why (e.g.
    /// task variance with one trial of a task): the rest of the report is still drawn.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub omitted: Vec<String>,
}

/// How the network at the end of one curriculum stage did on the test trials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageAnalysis {
    /// The stage's name.
    pub stage: String,
    /// The iteration the stage ended at.
    pub ended_at_iteration: usize,
    /// The task scorer's accuracy on the test trials (of the experiment's task, not the
    /// stage's own).
    pub accuracy: f64,
    /// The psychometric fit of its choices (with `report.psychometric`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psychometric: Option<PsychometricAnalysis>,
}

/// The psychometric fit `P(choice) = 1/(1 + e^−(intercept + slope·x))`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PsychometricAnalysis {
    /// The x axis, e.g. `signed coherence (negative when direction = 0)`.
    pub x: String,
    /// The output channel whose choice is counted.
    pub choice_channel: usize,
    /// Its name.
    pub choice_name: String,
    /// Trials fitted.
    pub trials: usize,
    /// Fitted intercept (log-odds at x = 0).
    pub intercept: f64,
    /// Fitted slope (log-odds per unit of x); a lower bound when `separable`.
    pub slope: f64,
    /// Standard error of the intercept from the Fisher information; null when separable.
    pub intercept_se: Option<f64>,
    /// Standard error of the slope from the Fisher information; null when separable.
    pub slope_se: Option<f64>,
    /// x where P = 0.5 (−intercept/slope).
    pub threshold: f64,
    /// True when the choices are perfectly separable along x (or all the same): no
    /// maximum-likelihood fit exists, and the slope is only where the fit's ridge stopped it.
    pub separable: bool,
    /// What `separable` means for these numbers, in words; absent when not separable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The empirical choice fractions per x value.
    pub points: Vec<ChoiceFraction>,
}

/// The fraction of trials at one x value that chose the counted channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChoiceFraction {
    /// The x value.
    pub x: f64,
    /// Trials with this value.
    pub trials: usize,
    /// Fraction of them choosing the channel.
    pub p_choice: f64,
    /// Binomial standard error √(p(1 − p)/n).
    pub sem: f64,
}

/// Reaction times by condition value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChronometricAnalysis {
    /// The condition giving each trial's response onset (ms).
    pub onset: String,
    /// The output level that counts as responding.
    pub threshold: f64,
    /// The outputs whose crossing of `threshold` is a response (the report's choice channels;
    /// empty in files written before this was recorded).
    #[serde(default)]
    pub channels: Vec<String>,
    /// The x axis the reaction times are grouped by.
    pub x: String,
    /// Trials whose output reached the threshold.
    pub responded: usize,
    /// Trials analysed.
    pub trials: usize,
    /// One entry per x value (files written before `no_response` was recorded list only the
    /// values with a response).
    pub points: Vec<ReactionTimePoint>,
}

/// Mean reaction time at one x value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReactionTimePoint {
    /// The x value.
    pub value: f64,
    /// Mean reaction time (ms) of the trials that responded; null when none did.
    pub mean_rt: Option<f64>,
    /// Its standard error (sample s.d./√n; 0 for one trial); null when none responded.
    pub sem: Option<f64>,
    /// Trials that responded.
    pub n: usize,
    /// Trials at this value that never responded.
    #[serde(default)]
    pub no_response: usize,
}

/// Principal components of all firing rates (every trial and step is one observation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PcaAnalysis {
    /// Observations (trials × steps).
    pub observations: usize,
    /// Units (variables).
    pub units: usize,
    /// Fraction of the total variance along each component, largest first.
    pub explained_variance_ratio: Vec<f64>,
    /// The file holding `pca_components` `[k, N]`, `pca_mean` `[N]` and, when trials are grouped,
    /// `pca_projection` [levels, steps, k] (condition-averaged rates projected) and
    /// `pca_levels` `[levels]`.
    pub arrays: String,
    /// The condition whose levels `pca_projection` averages over, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projected_by: Option<String>,
}

/// Fixed points found by `psychrnn fixedpoints`, after merging duplicates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixedPointsAnalysis {
    /// Distinct points (merged locations).
    pub count: usize,
    /// How many of them are stable.
    pub stable: usize,
    /// Minimisations that ended below the speed threshold, before merging (null in files
    /// written before this was recorded).
    pub raw_hits: Option<usize>,
    /// Hits closer than this (Euclidean, in state units) were merged (null when not recorded).
    pub merge_distance: Option<f64>,
    /// The constant input the points are for.
    pub input: Vec<f64>,
    /// One entry per distinct point, by increasing speed q.
    pub points: Vec<FixedPointLocation>,
}

/// One distinct fixed or slow point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixedPointLocation {
    /// Its speed q = ½‖F(x) − x‖².
    pub q: f64,
    /// All Jacobian eigenvalues inside the unit circle.
    pub stable: bool,
    /// Hits merged into it (null when not recorded).
    pub hits: Option<usize>,
    /// Its coordinates on the first two principal components of the rates, if computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pc: Option<(f64, f64)>,
    /// The state x (N values).
    pub state: Vec<f64>,
}

impl RunDir {
    /// `analysis.yaml`: the report's numbers ([`AnalysisFile`]).
    pub fn analysis(&self) -> std::path::PathBuf {
        self.root().join("analysis.yaml")
    }

    /// `analysis.npz`: the PCA arrays that [`PcaAnalysis`] describes.
    pub fn analysis_arrays(&self) -> std::path::PathBuf {
        self.root().join("analysis.npz")
    }

    /// Reads `analysis.yaml`; `None` when no report has been written.
    pub fn read_analysis(&self) -> Result<Option<AnalysisFile>, RunDirError> {
        super::read_yaml(&self.analysis())
    }

    /// Writes `analysis.yaml` atomically.
    pub fn write_analysis(&self, analysis: &AnalysisFile) -> Result<(), RunDirError> {
        super::write_yaml(&self.analysis(), analysis)
    }

    /// Writes `analysis.npz` atomically, or removes one left from before when there are no
    /// arrays (no PCA).
    pub fn write_analysis_arrays(
        &self,
        arrays: Option<&AnalysisArrays>,
    ) -> Result<(), RunDirError> {
        let path = self.analysis_arrays();
        let Some(a) = arrays else {
            if path.exists() {
                std::fs::remove_file(&path).map_err(RunDirError::io(&path))?;
            }
            return Ok(());
        };
        let (k, n) = (a.components.len(), a.mean.len());
        let mut entries = vec![
            ("pca_components", a.components.concat(), vec![k, n]),
            ("pca_mean", a.mean.to_vec(), vec![n]),
            (
                "pca_explained_variance_ratio",
                a.explained_variance_ratio.to_vec(),
                vec![k],
            ),
        ];
        if let Some(p) = a.projection {
            let levels = a.levels.len();
            let steps = p.len() / (levels * k).max(1);
            entries.push(("pca_projection", p.to_vec(), vec![levels, steps, k]));
            entries.push(("pca_levels", a.levels.to_vec(), vec![levels]));
        }
        let cpu = candle_core::Device::Cpu;
        let tensors = entries
            .into_iter()
            .map(|(name, values, dims)| {
                Ok((name, candle_core::Tensor::from_vec(values, dims, &cpu)?))
            })
            .collect::<candle_core::Result<Vec<_>>>()
            .map_err(|e| RunDirError::Malformed {
                path: path.clone(),
                message: e.to_string(),
            })?;
        super::write_atomic_with(&path, |tmp| crate::npz_file::write_npz(&tensors, tmp))
            // candle reports the file system's errors inside its own error type.
            .map_err(|e| RunDirError::Io {
                path: path.clone(),
                source: std::io::Error::other(e),
            })
    }
}
