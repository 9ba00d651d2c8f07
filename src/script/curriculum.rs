//! `ScriptCurriculum`: the curriculum a script declares, with rule closures.
//!
//! ```rhai
//! curriculum: [
//!     #{ name: "easy", settings: #{ coherences: [0.7] }, advance: #{ accuracy: 0.9, consecutive: 2 } },
//!     #{ name: "staircase", advance: |s| if s.accuracy > 0.8 { #{ coherences: [s.settings.coherences[0] * 0.8] } } else { "stay" } },
//! ]
//! ```

use std::sync::Arc;

use rhai::{Array, Dynamic, FnPtr, ImmutableString, Map, INT};
use serde_norway::Value;

use super::task::ScriptTask;
use super::value::to_yaml;
use crate::task::Task;
use crate::train::{
    threshold_rule, Advance, Curriculum, CurriculumError, CurriculumState, Decision, HistoryRow,
    StageConfig,
};

/// A script's curriculum over its task.
pub struct ScriptCurriculum {
    base: ScriptTask,
    stage_tasks: Vec<Option<ScriptTask>>,
    stages: Vec<StageConfig>,
    rules: Vec<Option<FnPtr>>,
}

impl ScriptCurriculum {
    /// The curriculum of `stages` over `base` (with each stage's own task where it has one,
    /// and rule closures, `None` where the rule is data).
    pub fn new(
        base: ScriptTask,
        stage_tasks: Vec<Option<ScriptTask>>,
        stages: Vec<StageConfig>,
        rules: Vec<Option<FnPtr>>,
    ) -> Self {
        // Rules get private copies of what they capture, like the task's closures (see
        // `private_closure`): a rule's captured variables do not carry state between calls,
        // which a resumed run could not restore.
        let rules = rules
            .iter()
            .map(|r| r.as_ref().map(super::task::private_closure))
            .collect();
        ScriptCurriculum {
            base,
            stage_tasks,
            stages,
            rules,
        }
    }

    fn stage_task(&self, state: &CurriculumState) -> Result<ScriptTask, CurriculumError> {
        let stage = &self.stages[state.stage];
        let base = self
            .stage_tasks
            .get(state.stage)
            .and_then(Option::as_ref)
            .unwrap_or(&self.base);
        let settings = |from_rule: bool| {
            move |e: super::SettingsError| CurriculumError::Settings {
                stage: stage.name.clone(),
                from_rule,
                source: Box::new(e),
            }
        };
        let t = base
            .with_settings(&stage.settings)
            .map_err(settings(false))?;
        t.with_settings(&state.settings).map_err(settings(true))
    }

    fn rule_state(
        &self,
        state: &CurriculumState,
        history: &[HistoryRow],
    ) -> Result<Dynamic, CurriculumError> {
        let stage = &self.stages[state.stage];
        let row = history.last().ok_or(CurriculumError::NoEvaluation)?;
        let here: Vec<&HistoryRow> = history.iter().filter(|r| r.stage == stage.name).collect();
        let mut m = Map::new();
        m.insert("iteration".into(), Dynamic::from(row.iteration as INT));
        m.insert("stage".into(), Dynamic::from(state.stage as INT));
        m.insert("stage_name".into(), Dynamic::from(stage.name.clone()));
        m.insert("accuracy".into(), Dynamic::from(row.accuracy));
        m.insert("loss".into(), Dynamic::from(row.loss));
        m.insert("eval_loss".into(), Dynamic::from(row.eval_loss));
        let arr = |f: &dyn Fn(&HistoryRow) -> f64| -> Array {
            here.iter().map(|r| Dynamic::from(f(r))).collect()
        };
        m.insert(
            "accuracies".into(),
            Dynamic::from_array(arr(&|r| r.accuracy)),
        );
        m.insert("losses".into(), Dynamic::from_array(arr(&|r| r.eval_loss)));
        let task = self.stage_task(state)?;
        m.insert(
            "settings".into(),
            super::value::from_yaml(&task.config().settings),
        );
        Ok(Dynamic::from_map(m))
    }
}

impl Curriculum for ScriptCurriculum {
    fn stages(&self) -> usize {
        self.stages.len()
    }

    fn stage_name(&self, k: usize) -> String {
        self.stages[k].name.clone()
    }

    fn initial_state(&self) -> CurriculumState {
        CurriculumState {
            stage: 0,
            settings: Value::Null,
            consecutive: 0,
            stage_starts: vec![(self.stages[0].name.clone(), 1)],
        }
    }

    fn task(&self, state: &CurriculumState) -> Result<Arc<dyn Task>, CurriculumError> {
        Ok(Arc::new(self.stage_task(state)?))
    }

    fn decide(
        &self,
        state: &mut CurriculumState,
        history: &[HistoryRow],
    ) -> Result<Decision, CurriculumError> {
        let stage = &self.stages[state.stage];
        let row = history.last().ok_or(CurriculumError::NoEvaluation)?;
        match (&stage.advance, &self.rules[state.stage]) {
            (None, _) => Ok(Decision::Stay),
            (Some(Advance::Threshold(a)), _) => Ok(threshold_rule(state, row, *a, 1)),
            (
                Some(Advance::Criterion {
                    accuracy,
                    consecutive,
                }),
                _,
            ) => Ok(threshold_rule(state, row, *accuracy, *consecutive)),
            (Some(Advance::Rule(_)), None) => Err(CurriculumError::RuleMissing {
                stage: stage.name.clone(),
            }),
            (Some(Advance::Rule(_)), Some(f)) => {
                let arg = self.rule_state(state, history)?;
                let out = self
                    .base
                    .call_rule(
                        f,
                        arg,
                        &format!("in the rule of curriculum stage '{}'", stage.name),
                    )
                    .map_err(|e| CurriculumError::Rule(Box::new(e)))?;
                let type_name = out.type_name();
                if let Some(s) = out.clone().try_cast::<ImmutableString>() {
                    return match s.as_str() {
                        "advance" => Ok(Decision::Advance),
                        "stay" => Ok(Decision::Stay),
                        "stop" => Ok(Decision::Stop),
                        other => Err(CurriculumError::RuleResult {
                            stage: stage.name.clone(),
                            returned: format!("\"{other}\""),
                        }),
                    };
                }
                if let Some(b) = out.clone().try_cast::<bool>() {
                    return Ok(if b { Decision::Advance } else { Decision::Stay });
                }
                if out.is_map() {
                    let settings = to_yaml(&out, "settings")
                        .map_err(|e| CurriculumError::Rule(Box::new(e)))?;
                    return Ok(Decision::Settings(settings));
                }
                Err(CurriculumError::RuleResult {
                    stage: stage.name.clone(),
                    returned: format!("a {type_name}"),
                })
            }
        }
    }
}
