//! `report.tdr`: which recorded conditions are the task variables of Mante et al.'s targeted
//! dimensionality reduction, and which epoch carries the evidence.

use serde::{Deserialize, Serialize};

/// Condition names for the regression axes (choice, motion, colour, context) and the epoch
/// in which the evidence is shown. Names are checked against the trials before training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TdrSettings {
    /// The condition holding each trial's choice (e.g. `choice`).
    pub choice: String,
    /// The condition holding the first evidence stream's signed strength (e.g. `motion_coherence`).
    pub motion: String,
    /// The condition holding the second evidence stream's signed strength (e.g. `colour_coherence`).
    pub colour: String,
    /// The condition naming the context (e.g. `context`); its values group the slow points.
    pub context: String,
    /// The epoch in which the evidence is shown (default `stimulus`): slow-point searches start
    /// from its states and hold its input at zero evidence.
    #[serde(default = "default_epoch")]
    pub stimulus_epoch: String,
}

fn default_epoch() -> String {
    "stimulus".into()
}

impl TdrSettings {
    /// `(setting, condition)` for the four regressors, in the axes' order.
    pub fn regressors(&self) -> [(&'static str, &str); 4] {
        [
            ("report.tdr.choice", self.choice.as_str()),
            ("report.tdr.motion", self.motion.as_str()),
            ("report.tdr.colour", self.colour.as_str()),
            ("report.tdr.context", self.context.as_str()),
        ]
    }
}
