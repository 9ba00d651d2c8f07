//! Everything knowable about an experiment, checked before any work: [`validate`].
//!
//! Loading a script already checks each setting on its own (ranges, names, channel lists). Here
//! the task is run: a sample of trials of every curriculum stage is drawn (epochs must fit the
//! trial, the mask must weight something, the scorer must find its epochs and conditions), the
//! report's condition names are checked against what the trials record, and the memory the run
//! will need is compared with the machine's ([`crate::memory::check_budget`]).
//! `psychrnn check` and `psychrnn run` call it before anything is written.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::did_you_mean::suggestion;
use crate::experiment::{ConfigError, ExperimentConfig};
use crate::memory::{bytes_of, check_budget, MemoryError, MemoryItem};
use crate::model::ModelKind;
use crate::random::stream;
use crate::script::LoadedExperiment;
use crate::task::{Batch, ConditionValue, OutputReading, Task, TaskShape};
use crate::train::CurriculumState;

/// Trials drawn from each curriculum stage (training batch 0's trials 0..SAMPLE_TRIALS), so
/// that a fault on a few percent of trials is still found.
pub const SAMPLE_TRIALS: usize = 128;

/// Why an experiment cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ValidationError {
    /// A setting is wrong or does not fit the task.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Some sampled trials cannot be built.
    #[error(
        "{task}: {failed} of {sampled} sampled trials fail; the first is trial {trial}: {message}"
    )]
    Trials {
        /// The task (and curriculum stage) drawn.
        task: String,
        /// How many sampled trials failed.
        failed: usize,
        /// How many were drawn.
        sampled: usize,
        /// Index of the first failing trial (in training batch 0).
        trial: usize,
        /// What is wrong with it.
        message: String,
    },
    /// The sampled trials, taken together, are unusable (mask, scorer).
    #[error("{task}: {message}")]
    Sample {
        /// The task (and curriculum stage) drawn.
        task: String,
        /// What is wrong.
        message: String,
    },
    /// The run would not fit in memory.
    #[error(transparent)]
    Memory(#[from] MemoryError),
}

/// What [`validate`] looked at.
#[derive(Debug, Clone, PartialEq)]
pub struct Validated {
    /// Curriculum stages drawn (1 without a curriculum).
    pub stages: usize,
    /// Trials drawn per stage.
    pub trials_per_stage: usize,
    /// Bytes the run is estimated to need.
    pub memory_bytes: u64,
}

/// Checks everything about `loaded` that can be known before training (see the module docs).
/// Nothing is written.
pub fn validate(loaded: &LoadedExperiment) -> Result<Validated, ValidationError> {
    let config = &loaded.config;
    let shape = loaded.task.shape();
    let memory = memory_items(config, shape);
    check_budget(&memory)?;
    let curriculum = loaded.curriculum()?;
    let mut conditions = BTreeSet::new();
    for k in 0..curriculum.stages() {
        let state = CurriculumState {
            stage: k,
            ..curriculum.initial_state()
        };
        let task = curriculum
            .task(&state)
            .map_err(|e| ConfigError::new(format!("curriculum[{k}]"), e.to_string()))?;
        let label = if config.curriculum.is_empty() {
            format!("task `{}`", task.name())
        } else {
            format!(
                "curriculum[{k}] (stage `{}`), task `{}`",
                curriculum.stage_name(k),
                task.name()
            )
        };
        let batch = sample(&task, config.seed, &label)?;
        check_sample(
            task.as_ref(),
            &batch,
            config.model.loss.output_reading(),
            &label,
        )?;
        for c in &batch.conditions {
            for (name, value) in c {
                conditions.insert((name.clone(), matches!(value, ConditionValue::Number(_))));
            }
        }
    }
    check_report_conditions(config, &conditions)?;
    Ok(Validated {
        stages: curriculum.stages(),
        trials_per_stage: SAMPLE_TRIALS,
        memory_bytes: memory.iter().fold(0, |a, m| a.saturating_add(m.bytes)),
    })
}

/// Draws trials 0..[`SAMPLE_TRIALS`] of training batch 0 one by one, so that every failing
/// trial is counted; returns them as a batch when all succeed.
fn sample(task: &Arc<dyn Task>, seed: u64, label: &str) -> Result<Batch, ValidationError> {
    let shape = task.shape();
    let mut batch = Batch::empty(SAMPLE_TRIALS, shape.n_steps(), shape.n_in(), shape.n_out());
    let mut first: Option<(usize, String)> = None;
    let mut failed = 0;
    let mut drawn = 0;
    for i in 0..SAMPLE_TRIALS {
        drawn += 1;
        let result =
            crate::task::draw_trial(task.as_ref(), seed, stream::TRAIN, 0, SAMPLE_TRIALS, i)
                .and_then(|t| batch.set_trial(i, t));
        if let Err(e) = result {
            failed += 1;
            // A runaway stops at its limit on every trial (up to a second each): one is enough.
            let runaway = stopped_at_a_sandbox_limit(&e);
            first.get_or_insert((i, e.to_string()));
            if runaway {
                break;
            }
        }
    }
    match first {
        None => Ok(batch),
        Some((trial, message)) => Err(ValidationError::Trials {
            task: label.to_string(),
            failed,
            sampled: drawn,
            trial,
            message,
        }),
    }
}

/// Whether a trial's script code stopped at a sandbox limit ([`ScriptError::SandboxLimit`]).
fn stopped_at_a_sandbox_limit(e: &crate::task::TrialError) -> bool {
    match e {
        crate::task::TrialError::Code(code) => code
            .downcast_ref::<crate::script::ScriptError>()
            .is_some_and(|s| s.is_sandbox_limit()),
        _ => false,
    }
}

/// The mask must weight something, and the scorer must find what it reads in every trial.
fn check_sample(
    task: &dyn Task,
    batch: &Batch,
    reading: OutputReading,
    label: &str,
) -> Result<(), ValidationError> {
    let fail = |message: String| ValidationError::Sample {
        task: label.to_string(),
        message,
    };
    if !batch.mask.iter().any(|&m| m > 0.0) {
        return Err(fail(format!(
            "the mask weights none of the targets in {} sampled trials, so training would learn nothing; give the epochs to be learned a mask > 0 (the default is 1)",
            batch.n_trials
        )));
    }
    let outputs = vec![0.0f32; batch.targets.len()];
    task.score(&outputs, batch, reading)
        .map_err(|e| fail(e.to_string()))?;
    Ok(())
}

/// The report's condition names must be conditions the trials record (numbers where the report
/// computes with them).
fn check_report_conditions(
    config: &ExperimentConfig,
    conditions: &BTreeSet<(String, bool)>,
) -> Result<(), ConfigError> {
    let r = &config.report;
    let names: BTreeSet<&str> = conditions.iter().map(|(n, _)| n.as_str()).collect();
    let numeric: BTreeSet<&str> = conditions
        .iter()
        .filter(|(_, number)| *number)
        .map(|(n, _)| n.as_str())
        .collect();
    let task_variance = r.task_variance.as_ref().map(|v| v.condition.clone());
    let matrix_x = r.psychometric_matrix.as_ref().map(|m| m.x.clone());
    let matrix_y = r.psychometric_matrix.as_ref().map(|m| m.y.clone());
    let settings = [
        ("report.condition", &r.condition, &names),
        ("report.task_variance.condition", &task_variance, &names),
        ("report.psychometric_matrix.x", &matrix_x, &numeric),
        ("report.psychometric_matrix.y", &matrix_y, &numeric),
        ("report.psychometric", &r.psychometric, &numeric),
        ("report.psychometric_sign", &r.psychometric_sign, &numeric),
        (
            "report.reaction_time_onset",
            &r.reaction_time_onset,
            &numeric,
        ),
    ];
    // report.tdr's four conditions (text conditions count as their level codes).
    let tdr: Vec<(&str, Option<String>)> = r
        .tdr
        .iter()
        .flat_map(|t| t.regressors())
        .map(|(field, name)| (field, Some(name.to_string())))
        .collect();
    let settings = settings
        .into_iter()
        .chain(tdr.iter().map(|(field, name)| (*field, name, &names)));
    for (field, value, valid) in settings {
        let Some(name) = value else { continue };
        if valid.contains(name.as_str()) {
            continue;
        }
        let kind = if names.contains(name.as_str()) {
            format!("condition `{name}` is text, but the report needs a number; numeric conditions")
        } else {
            format!("no condition `{name}`; the trials' conditions")
        };
        let list = if valid.is_empty() {
            "(none)".to_string()
        } else {
            valid.iter().copied().collect::<Vec<_>>().join(", ")
        };
        return Err(ConfigError::new(
            field,
            format!(
                "{kind} are: {list}{}",
                suggestion(name, valid.iter().copied())
            ),
        ));
    }
    Ok(())
}

/// The large blocks of memory a run holds at once, each with the setting that shrinks it.
pub fn memory_items(config: &ExperimentConfig, shape: &TaskShape) -> Vec<MemoryItem> {
    const F32: u64 = 4;
    let (t, n_in, n_out) = (shape.n_steps(), shape.n_in(), shape.n_out());
    let n = config.model.n_rec;
    let train = &config.train;
    // A batch holds inputs, targets and mask; one trains while the next is prefetched.
    let batch_values = n_in + 2 * n_out;
    // Per trial and step, training keeps states and rates with their gradients (four arrays
    // of n units), more for gated cells (their gates).
    let gates = match config.model.kind {
        ModelKind::RateRnn => 1,
        ModelKind::Gru => 3,
        ModelKind::Lstm => 4,
    };
    let unit_values = 4 * n * gates;
    let activations = bytes_of(&[train.batch_size, t, unit_values + 2 * n_out], F32);
    // Weights, their masks, gradients and the optimizer's two moments: about 8 copies.
    let weights = bytes_of(&[8 * gates, n, n + n_in + n_out + 2], F32);
    vec![
        MemoryItem {
            what: format!(
                "two training batches: 2 × {} trials × {t} steps × {batch_values} values (inputs, targets, mask)",
                train.batch_size
            ),
            bytes: bytes_of(&[2, train.batch_size, t, batch_values], F32),
            setting: "train.batch_size".into(),
        },
        MemoryItem {
            what: format!(
                "training activations: {} trials × {t} steps × {} values (network states, rates, gradients)",
                train.batch_size,
                unit_values + 2 * n_out
            ),
            bytes: activations,
            setting: "train.batch_size (or model.n_rec)".into(),
        },
        MemoryItem {
            what: format!(
                "the network: about {} copies of {n} × {} weights (weights, masks, gradients, optimizer moments)",
                8 * gates,
                n + n_in + n_out + 2
            ),
            bytes: weights,
            setting: "model.n_rec".into(),
        },
        MemoryItem {
            what: format!(
                "evaluation: {} trials × {t} steps × {} values (inputs, targets, mask, outputs, states)",
                train.eval_trials,
                n_in + 3 * n_out + n * gates
            ),
            bytes: bytes_of(&[train.eval_trials, t, n_in + 3 * n_out + n * gates], F32),
            setting: "train.eval_trials".into(),
        },
        MemoryItem {
            what: format!(
                "the test set (trials.npz): {} trials × {t} steps × {} values (inputs, targets, mask, outputs, states), twice while it is written",
                train.test_trials,
                n_in + 3 * n_out + n * gates
            ),
            bytes: bytes_of(&[2, train.test_trials, t, n_in + 3 * n_out + n * gates], F32),
            setting: "train.test_trials".into(),
        },
    ]
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::script::{load_experiment_source, LoadOptions};

    fn refusal(params: &str) -> String {
        let text = format!(
            r#"experiment(#{{ task: #{{
                name: "t", inputs: ["a"], outputs: ["b"], dt: 10.0, tau: 100.0, duration: 100.0,
                params: {params},
                trial: |p| [#{{ name: "all", target: #{{ b: 1.0 }} }}],
            }} }})"#
        );
        let loaded =
            load_experiment_source("t.rhai", &text, Path::new("."), &LoadOptions::default())
                .unwrap();
        super::validate(&loaded).unwrap_err().to_string()
    }

    #[test]
    fn a_runaway_stops_validation_at_its_first_trial_and_other_failures_are_counted() {
        // An endless loop stops at the operation limit: the next trial would loop again.
        let runaway = refusal("|rng| { loop { } }");
        assert!(
            runaway.contains("1 of 1 sampled trials fail; the first is trial 0")
                && runaway.contains("operation limit"),
            "{runaway}"
        );
        // An ordinary error in every trial is counted over the whole sample.
        let thrown = refusal(r#"|rng| { throw "no" }"#);
        let sampled = format!("{0} of {0} sampled trials fail", super::SAMPLE_TRIALS);
        assert!(thrown.contains(&sampled), "{thrown}");
    }
}
