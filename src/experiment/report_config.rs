//! The `report` section of an experiment: what the report shows.

use serde::{Deserialize, Serialize};

use crate::config_error::ConfigError;

/// The most example trials or single units a report draws.
pub const MAX_FIGURE_ITEMS: usize = 64;

/// Report settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportConfig {
    /// Write the report at the end of `psychrnn run`.
    pub enabled: bool,
    /// The condition that groups and colours trials (population and unit figures); `null`:
    /// the first condition with 2–8 distinct values.
    pub condition: Option<String>,
    /// The condition on the psychometric curve's x axis (e.g. `coherence`); `null`: no curve.
    pub psychometric: Option<String>,
    /// A condition whose value 0 makes the psychometric x negative (e.g. `direction`).
    pub psychometric_sign: Option<String>,
    /// The output channel whose choice the psychometric curve counts.
    pub choice_channel: usize,
    /// The output channels a choice is made among (`null`: all). Tasks with a fixation
    /// output list their choice channels, e.g. `[1, 2]`.
    pub choice_channels: Option<Vec<usize>>,
    /// The condition holding each trial's response onset in ms (e.g. stimulus onset in a
    /// reaction-time task); set, it adds a chronometric curve.
    pub reaction_time_onset: Option<String>,
    /// The output level that counts as a response for reaction times.
    pub reaction_time_threshold: f64,
    /// Example trials drawn.
    pub example_trials: usize,
    /// Single units drawn.
    pub units: usize,
    /// Targeted dimensionality reduction (Mante et al. 2013): the conditions that are choice,
    /// motion, colour and context; `null`: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tdr: Option<crate::experiment::TdrSettings>,
    /// Task variance and unit clusters over the tasks a condition names (multitask runs).
    pub task_variance: Option<super::TaskVarianceConfig>,
    /// P(choice) over the grid of two conditions (e.g. Romo's f1 × f2).
    pub psychometric_matrix: Option<super::PsychometricMatrixConfig>,
}

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig {
            enabled: true,
            condition: None,
            psychometric: None,
            psychometric_sign: None,
            choice_channel: 1,
            choice_channels: None,
            reaction_time_onset: None,
            reaction_time_threshold: 0.5,
            example_trials: 4,
            units: 6,
            tdr: None,
            task_variance: None,
            psychometric_matrix: None,
        }
    }
}

impl ReportConfig {
    /// Checks the counts and the output channels against the task's `outputs` (condition names
    /// are checked against drawn trials by [`crate::validation::validate`]).
    pub fn validate(&self, outputs: &[String]) -> Result<(), ConfigError> {
        for (field, v) in [
            ("example_trials", self.example_trials),
            ("units", self.units),
        ] {
            if !(1..=MAX_FIGURE_ITEMS).contains(&v) {
                return Err(ConfigError::new(
                    format!("report.{field}"),
                    format!("must be between 1 and {MAX_FIGURE_ITEMS}, got {v}"),
                ));
            }
        }
        if !self.reaction_time_threshold.is_finite() {
            return Err(ConfigError::new(
                "report.reaction_time_threshold",
                format!("must be a number, got {}", self.reaction_time_threshold),
            ));
        }
        let channel = |field: &str, k: usize| -> Result<(), ConfigError> {
            if k < outputs.len() {
                return Ok(());
            }
            let listed: Vec<String> = outputs
                .iter()
                .enumerate()
                .map(|(i, n)| format!("{i} = {n}"))
                .collect();
            Err(ConfigError::new(
                field,
                format!(
                    "must be an output channel between 0 and {} ({}), got {k}",
                    outputs.len() - 1,
                    listed.join(", ")
                ),
            ))
        };
        // The choice channel is read only for the psychometric curve (its default, 1, does
        // not exist in one-output tasks that draw none).
        if self.psychometric.is_some() {
            channel("report.choice_channel", self.choice_channel)?;
        }
        if let Some(among) = &self.choice_channels {
            if among.is_empty() {
                return Err(ConfigError::new(
                    "report.choice_channels",
                    "is empty; list the output channels a choice is made among, or null for all",
                ));
            }
            for (i, &k) in among.iter().enumerate() {
                channel(&format!("report.choice_channels[{i}]"), k)?;
                if among[..i].contains(&k) {
                    return Err(ConfigError::new(
                        "report.choice_channels",
                        format!("lists channel {k} twice"),
                    ));
                }
            }
            if self.psychometric.is_some() && !among.contains(&self.choice_channel) {
                return Err(ConfigError::new(
                    "report.choice_channel",
                    format!(
                        "is {}, which is not among report.choice_channels ({among:?}): the curve would count a choice that is never made",
                        self.choice_channel
                    ),
                ));
            }
        }
        if let Some(tv) = &self.task_variance {
            tv.validate()?;
        }
        if let Some(m) = &self.psychometric_matrix {
            m.validate(outputs)?;
        }
        Ok(())
    }
}
