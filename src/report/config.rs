//! The `report` section of an experiment: what the report shows.

use serde::{Deserialize, Serialize};

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
        }
    }
}
