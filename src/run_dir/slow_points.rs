//! `slow_points.yaml`: the slow points `psychrnn fixedpoints --line-attractor` found in each
//! context, with their linearisation and their coordinates on the regression axes (see
//! [`crate::analysis::slow_points::context_line_attractors`]). The report draws them on the
//! targeted-dimensionality-reduction figure.

use serde::{Deserialize, Serialize};

use super::{RunDir, RunDirError};

/// What `slow_points.yaml` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlowPointsFile {
    /// The run directory's format ([`super::FORMAT_VERSION`]).
    pub format_version: u32,
    /// The regression axes' conditions, in order (choice, motion, colour, context).
    pub axes: Vec<String>,
    /// A point counted as slow when `q = ½‖F(x) − x‖²` was below this.
    pub slow_q: f64,
    /// One entry per context.
    pub contexts: Vec<ContextSlowPoints>,
}

/// The slow points of one context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextSlowPoints {
    /// The context (its label, or its value for a numeric condition).
    pub context: String,
    /// The context condition's value.
    pub value: f64,
    /// The constant input held during the search: the context's input at zero evidence.
    pub input: Vec<f64>,
    /// Input per unit of motion evidence (one value per input channel).
    pub motion_input: Vec<f64>,
    /// Input per unit of colour evidence (one value per input channel).
    pub colour_input: Vec<f64>,
    /// Starting states searched (from this context's stimulus epoch).
    pub starts: usize,
    /// Starts that ended slow (before merging).
    pub raw_hits: usize,
    /// Slow points closer than this were merged.
    pub merge_distance: f64,
    /// Fraction of the slow points' variance (z-scored rates) along their first principal
    /// component: near 1 for points on a line (absent with fewer than 2 points).
    pub first_pc_fraction: Option<f64>,
    /// `|cos|` between that first component and the choice axis.
    pub line_choice_cos: Option<f64>,
    /// Range of the points' choice-axis coordinates (absent with no points).
    pub choice_extent: Option<f64>,
    /// Range of the choice-axis coordinate over every recorded state, for comparison.
    pub choice_axis_range: f64,
    /// Range of the choice-axis coordinate over this context's stimulus-epoch states (every
    /// trial of the context, every step of `report.tdr.stimulus_epoch`): the stretch a line
    /// attractor integrating the evidence should span.
    pub stimulus_choice_range: f64,
    /// The distinct slow points, by increasing q.
    pub points: Vec<SlowPointRecord>,
}

/// One slow point and its linearisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlowPointRecord {
    /// Its speed q.
    pub q: f64,
    /// Coordinates of its rates on the regression axes.
    pub coordinates: Vec<f64>,
    /// The map's eigenvalue closest to 1, (re, im).
    pub slowest_eigenvalue: (f64, f64),
    /// The same in continuous time, `(λ − 1)/α` in units of 1/τ (absent with per-unit τ).
    pub slowest_continuous: Option<(f64, f64)>,
    /// Largest modulus among the other eigenvalues (below 1: every other direction decays).
    pub second_eigenvalue_modulus: f64,
    /// The right eigenvector in z-scored rate space, as coordinates on the regression axes
    /// (of a unit vector).
    pub right_direction: Vec<f64>,
    /// `|cos|` between the right eigenvector (z-scored rate space) and the choice axis.
    pub right_choice_cos: f64,
    /// `|cos|` between the right eigenvector and the context's line (first PC of its points).
    pub right_line_cos: Option<f64>,
    /// `|cos|` between the left eigenvector (selection vector) and the motion input `W_in·b`.
    pub left_motion_cos: f64,
    /// `|cos|` between the left eigenvector and the colour input.
    pub left_colour_cos: f64,
    /// The left eigenvector (state space, unit norm).
    pub left: Vec<f64>,
    /// The state x.
    pub state: Vec<f64>,
}

impl SlowPointsFile {
    /// Every number must be finite, except `q` which may not be negative; lengths must agree.
    fn check(&self) -> Result<(), String> {
        let v = self.axes.len();
        for c in &self.contexts {
            for (i, p) in c.points.iter().enumerate() {
                let numbers = [
                    p.q,
                    p.slowest_eigenvalue.0,
                    p.slowest_eigenvalue.1,
                    p.right_choice_cos,
                    p.left_motion_cos,
                    p.left_colour_cos,
                    p.second_eigenvalue_modulus,
                ];
                if numbers
                    .iter()
                    .chain(&p.coordinates)
                    .chain(&p.right_direction)
                    .chain(&p.state)
                    .chain(&p.left)
                    .any(|x| !x.is_finite())
                {
                    return Err(format!(
                        "context {}: slow point {i} has a value that is not finite",
                        c.context
                    ));
                }
                if p.coordinates.len() != v || p.right_direction.len() != v {
                    return Err(format!(
                        "context {}: slow point {i} has {} coordinates for {v} axes",
                        c.context,
                        p.coordinates.len()
                    ));
                }
            }
        }
        Ok(())
    }
}

impl RunDir {
    /// `slow_points.yaml` ([`SlowPointsFile`]).
    pub fn slow_points(&self) -> std::path::PathBuf {
        self.root().join("slow_points.yaml")
    }

    /// Reads `slow_points.yaml`; `None` when there is none.
    pub fn read_slow_points(&self) -> Result<Option<SlowPointsFile>, RunDirError> {
        let file: Option<SlowPointsFile> = super::read_yaml(&self.slow_points())?;
        if let Some(f) = &file {
            f.check().map_err(|message| RunDirError::Malformed {
                path: self.slow_points(),
                message,
            })?;
        }
        Ok(file)
    }

    /// Writes `slow_points.yaml` atomically, after checking every number is finite.
    pub fn write_slow_points(&self, file: &SlowPointsFile) -> Result<(), RunDirError> {
        file.check().map_err(|message| RunDirError::Malformed {
            path: self.slow_points(),
            message,
        })?;
        super::write_yaml(&self.slow_points(), file)
    }
}
