//! Curricula: which task trains at each point, and when to move on.
//!
//! A curriculum is a list of stages. Each stage trains the task with its settings until its
//! rule says to advance (after the last stage: stop), stop, stay, or continue with new task
//! settings (a staircase). Rules see every evaluation.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_norway::Value;

use super::HistoryRow;
use crate::task::Task;

/// What a stage's rule decides after an evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Keep training this stage as it is.
    Stay,
    /// Move to the next stage (after the last one: stop training).
    Advance,
    /// Stop training.
    Stop,
    /// Stay in this stage with these task settings (replacing the current ones).
    Settings(Value),
}

/// Why a curriculum cannot give a stage's task or apply its rule.
#[derive(Debug, thiserror::Error)]
pub enum CurriculumError {
    /// A rule was applied before any evaluation.
    #[error("a rule needs an evaluation")]
    NoEvaluation,
    /// A stage's task settings do not fit its task (`from_rule`: the settings its rule
    /// returned).
    #[error("curriculum stage '{stage}': {}{source}", if *from_rule { "new settings from its rule: " } else { "" })]
    Settings {
        /// The stage's name.
        stage: String,
        /// Whether the settings came from the stage's rule (else from the stage itself).
        from_rule: bool,
        /// What is wrong with them.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The stage's rule is a closure that the curriculum does not hold.
    #[error("curriculum stage '{stage}': its rule closure is missing")]
    RuleMissing {
        /// The stage's name.
        stage: String,
    },
    /// The rule returned something that is not a decision.
    #[error("curriculum stage '{stage}': the rule returned {returned}; return \"advance\", \"stay\", \"stop\" or a map of new task settings")]
    RuleResult {
        /// The stage's name.
        stage: String,
        /// What it returned (`"go"` or `a i64`).
        returned: String,
    },
    /// The rule failed (a script error, located in the script) or returned settings that
    /// are not data.
    #[error(transparent)]
    Rule(Box<dyn std::error::Error + Send + Sync>),
}

/// Where a curriculum is: saved in checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurriculumState {
    /// Current stage index.
    pub stage: usize,
    /// Current task settings (a YAML mapping; empty for tasks without settings).
    pub settings: Value,
    /// Consecutive evaluations that met the stage's threshold.
    pub consecutive: usize,
    /// (stage name, first iteration of the stage) for every stage begun.
    pub stage_starts: Vec<(String, usize)>,
}

/// A source of tasks that changes over training.
pub trait Curriculum: Send {
    /// Number of stages.
    fn stages(&self) -> usize;
    /// Name of stage `k`.
    fn stage_name(&self, k: usize) -> String;
    /// The state at the start of training.
    fn initial_state(&self) -> CurriculumState;
    /// The task to train on in `state`.
    fn task(&self, state: &CurriculumState) -> Result<Arc<dyn Task>, CurriculumError>;
    /// The rule of the current stage, applied to the evaluation `row` (with all rows so far in
    /// `history`, `row` last). It may update `state.consecutive`.
    fn decide(
        &self,
        state: &mut CurriculumState,
        history: &[HistoryRow],
    ) -> Result<Decision, CurriculumError>;
}

/// One task for the whole run (no curriculum).
pub struct SingleTask(pub Arc<dyn Task>);

impl Curriculum for SingleTask {
    fn stages(&self) -> usize {
        1
    }
    fn stage_name(&self, _: usize) -> String {
        self.0.name().to_string()
    }
    fn initial_state(&self) -> CurriculumState {
        CurriculumState {
            stage: 0,
            settings: Value::Mapping(Default::default()),
            consecutive: 0,
            stage_starts: vec![(self.0.name().to_string(), 1)],
        }
    }
    fn task(&self, _: &CurriculumState) -> Result<Arc<dyn Task>, CurriculumError> {
        Ok(self.0.clone())
    }
    fn decide(
        &self,
        _: &mut CurriculumState,
        _: &[HistoryRow],
    ) -> Result<Decision, CurriculumError> {
        Ok(Decision::Stay)
    }
}

/// PsychRNN's rule: advance once accuracy ≥ `accuracy` on `consecutive` evaluations in a row.
pub fn threshold_rule(
    state: &mut CurriculumState,
    row: &HistoryRow,
    accuracy: f64,
    consecutive: usize,
) -> Decision {
    if row.accuracy >= accuracy {
        state.consecutive += 1;
    } else {
        state.consecutive = 0;
    }
    if state.consecutive >= consecutive.max(1) {
        Decision::Advance
    } else {
        Decision::Stay
    }
}

/// When a stage ends, as the experiment declares it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Advance {
    /// Advance once accuracy ≥ this value (PsychRNN's threshold).
    Threshold(f64),
    /// Advance once accuracy ≥ `accuracy` on `consecutive` evaluations in a row.
    Criterion {
        /// Accuracy to reach.
        accuracy: f64,
        /// Evaluations in a row that must reach it.
        #[serde(default = "one")]
        consecutive: usize,
    },
    /// A script closure decides (recorded as the text `rule`).
    Rule(String),
}

fn one() -> usize {
    1
}

/// One stage of a curriculum, as the experiment declares it (`curriculum: [#{…}, …]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageConfig {
    /// Name (in history.csv and the summary).
    pub name: String,
    /// Task settings for this stage, laid over the task's `settings`.
    #[serde(default)]
    pub settings: Value,
    /// When to move on; `null`: never (train until the run ends).
    #[serde(default)]
    pub advance: Option<Advance>,
    /// The data of a task of its own for this stage (its closures stay in the script);
    /// `null`: the experiment's task.
    #[serde(default)]
    pub task: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(accuracy: f64) -> HistoryRow {
        HistoryRow {
            iteration: 1,
            trials_seen: 1,
            loss: 0.0,
            eval_loss: 0.0,
            accuracy,
            stage: "s".into(),
            seconds: 0.0,
        }
    }

    #[test]
    fn threshold_needs_consecutive_evaluations() {
        let mut state = CurriculumState {
            stage: 0,
            settings: Value::Null,
            consecutive: 0,
            stage_starts: vec![],
        };
        assert_eq!(
            threshold_rule(&mut state, &row(0.95), 0.9, 2),
            Decision::Stay
        );
        assert_eq!(
            threshold_rule(&mut state, &row(0.85), 0.9, 2),
            Decision::Stay
        );
        assert_eq!(state.consecutive, 0, "a miss resets the count");
        assert_eq!(
            threshold_rule(&mut state, &row(0.91), 0.9, 2),
            Decision::Stay
        );
        assert_eq!(
            threshold_rule(&mut state, &row(0.9), 0.9, 2),
            Decision::Advance
        );
    }

    #[test]
    fn advance_forms_deserialise() {
        let s: Vec<StageConfig> = serde_norway::from_str(
            "- {name: a, advance: 0.9}\n- {name: b, advance: {accuracy: 0.8, consecutive: 3}}\n- {name: c, advance: rule}\n- {name: d}",
        )
        .unwrap();
        assert_eq!(s[0].advance, Some(Advance::Threshold(0.9)));
        assert_eq!(
            s[1].advance,
            Some(Advance::Criterion {
                accuracy: 0.8,
                consecutive: 3
            })
        );
        assert_eq!(s[2].advance, Some(Advance::Rule("rule".into())));
        assert_eq!(s[3].advance, None);
    }
}
