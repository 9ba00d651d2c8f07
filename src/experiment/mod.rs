//! The experiment: everything a run needs, as typed, serialisable settings.
//!
//! A script declares it as a map with sections `task`, `model` and `train` (plus `name` and
//! `seed`); every field has a default except the task's channels and duration. The resolved
//! experiment, every default made explicit, is what `config.yaml` holds.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_norway::Value;

mod report_behaviour;
mod report_config;
mod tdr_settings;

pub use report_behaviour::{PsychometricMatrixConfig, TaskVarianceConfig};
pub use report_config::{
    default_choice_channels, Choices, OutputChannel, ReportConfig, MAX_FIGURE_ITEMS,
};
pub use tdr_settings::TdrSettings;

pub use crate::config_error::ConfigError;
use crate::model::ModelConfig;
use crate::task::TaskConfig;
use crate::train::{StageConfig, TrainConfig};

/// Top-level keys of an experiment map.
pub const EXPERIMENT_KEYS: &[&str] = &[
    "name",
    "seed",
    "task",
    "model",
    "train",
    "curriculum",
    "report",
];

/// A fully resolved experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// Name of the experiment (default: the script's file name without extension).
    pub name: String,
    /// Seed of every random stream in the run.
    pub seed: u64,
    /// The task's data (its closures live in the script).
    pub task: TaskConfig,
    /// The network.
    pub model: ModelConfig,
    /// Training.
    pub train: TrainConfig,
    /// Curriculum stages (empty: the task as declared, for the whole run).
    #[serde(default)]
    pub curriculum: Vec<StageConfig>,
    /// What the report shows.
    #[serde(default)]
    pub report: ReportConfig,
}

/// Reads section `name` (`model`, `train`, `report`: typed fields only, no free-form maps).
/// Whole numbers written as floats (`1e8`) count as integers here, so that a count given as
/// `1e8` is checked against its range instead of failing as a float.
fn section<T: DeserializeOwned + Default>(
    root: &serde_norway::Mapping,
    name: &str,
) -> Result<T, ConfigError> {
    match root.get(name) {
        None | Some(Value::Null) => Ok(T::default()),
        Some(v) => typed(whole_numbers_as_integers(v.clone()), name),
    }
}

/// `v` with every float that is a whole number below 2^63 replaced by that integer.
fn whole_numbers_as_integers(v: Value) -> Value {
    match v {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.fract() == 0.0 && f.abs() < 9.2e18 {
                Value::Number((f as i64).into())
            } else {
                Value::Number(n)
            }
        }
        Value::Sequence(items) => {
            Value::Sequence(items.into_iter().map(whole_numbers_as_integers).collect())
        }
        Value::Mapping(m) => Value::Mapping(
            m.into_iter()
                .map(|(k, v)| (k, whole_numbers_as_integers(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Deserialises `v`, naming the field path under `name` in errors.
pub fn typed<T: DeserializeOwned>(v: Value, name: &str) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            name.to_string()
        } else {
            format!("{name}.{path}")
        };
        let message = e.into_inner().to_string();
        let hint = unknown_field_hint(&message);
        ConfigError::new(field, format!("{message}{hint}"))
    })
}

/// For serde's "unknown field `x`, expected one of `a`, `b`" message: a did-you-mean hint.
fn unknown_field_hint(message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return String::new();
    };
    let Some((word, expected)) = rest.split_once('`') else {
        return String::new();
    };
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    crate::did_you_mean::suggestion(word, candidates)
}

impl ExperimentConfig {
    /// Reads the experiment from a YAML tree (the script's map after `--set` overrides).
    /// `default_name` is used when the tree has no `name`.
    pub fn from_value(root: &Value, default_name: &str) -> Result<Self, ConfigError> {
        let Value::Mapping(map) = root else {
            return Err(ConfigError::new(
                "experiment",
                "must be a map with sections task, model, train",
            ));
        };
        for key in map.keys() {
            let k = key.as_str().unwrap_or("?");
            if !EXPERIMENT_KEYS.contains(&k) {
                return Err(ConfigError::new(
                    k,
                    format!(
                        "unknown experiment key; valid keys: {}{}",
                        EXPERIMENT_KEYS.join(", "),
                        crate::did_you_mean::suggestion(k, EXPERIMENT_KEYS.iter().copied())
                    ),
                ));
            }
        }
        let name = match map.get("name") {
            None | Some(Value::Null) => default_name.to_string(),
            Some(v) => typed(v.clone(), "name")?,
        };
        let seed = match map.get("seed") {
            None | Some(Value::Null) => 0,
            Some(v) => typed(v.clone(), "seed")?,
        };
        let task = match map.get("task") {
            None | Some(Value::Null) => {
                return Err(ConfigError::new("task", "the experiment has no task"))
            }
            Some(v) => typed(v.clone(), "task")?,
        };
        let config = ExperimentConfig {
            name,
            seed,
            task,
            model: section(map, "model")?,
            train: section(map, "train")?,
            report: section(map, "report")?,
            curriculum: match map.get("curriculum") {
                None | Some(Value::Null) => Vec::new(),
                Some(v) => typed(v.clone(), "curriculum")?,
            },
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks values serde cannot (ranges, consistency).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.task.shape().validate().map_err(|e| match e {
            crate::task::TaskError::Shape { field, message } => {
                ConfigError::new(format!("task.{field}"), message)
            }
            other => ConfigError::new("task", other.to_string()),
        })?;
        check_name(&self.name)?;
        self.model.check_units()?;
        if !(self.model.rec_noise.is_finite() && self.model.rec_noise >= 0.0) {
            return Err(ConfigError::new("model.rec_noise", "must be ≥ 0"));
        }
        if !(self.task.input_noise.is_finite() && self.task.input_noise >= 0.0) {
            return Err(ConfigError::new("task.input_noise", "must be ≥ 0"));
        }
        self.train.validate()?;
        self.report.validate(&self.task.outputs)
    }
}

/// The experiment name names its run directory: it must be a plain name.
fn check_name(name: &str) -> Result<(), ConfigError> {
    if is_plain_name(name) {
        return Ok(());
    }
    Err(ConfigError::new(
        "name",
        format!(
            "{name:?} is not a plain name: the run directory is runs/<name>, so use 1 to 200 letters, digits, `-`, `_` or `.`, not starting with `.` (no path separators, no spaces); set `name` in the experiment (it defaults to the script's file name)"
        ),
    ))
}

/// True if `name` can be a run directory's name: 1 to 200 bytes, only letters, digits, `-`,
/// `_`, `.`, and not starting with `.` (so never a path, `..`, or a hidden file).
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(text: &str) -> Value {
        serde_norway::from_str(text).unwrap()
    }

    #[test]
    fn defaults_fill_missing_sections() {
        let c = ExperimentConfig::from_value(
            &tree("task: {inputs: [a], outputs: [b], duration: 100}"),
            "x",
        )
        .unwrap();
        assert_eq!(c.name, "x");
        assert_eq!(c.model, ModelConfig::default());
        assert_eq!(c.train, TrainConfig::default());
        assert_eq!(c.task.dt, 10.0);
    }

    #[test]
    fn unknown_keys_list_valid_ones() {
        let e = ExperimentConfig::from_value(
            &tree("task: {inputs: [a], outputs: [b], duration: 100}\nmodel: {n_recc: 3}"),
            "x",
        )
        .unwrap_err();
        assert_eq!(e.field, "model.n_recc");
        assert!(e.message.contains("unknown field `n_recc`"), "{e}");
        assert!(e.message.contains("`n_rec`"), "{e}");
        assert!(e.message.ends_with("; did you mean `n_rec`?"), "{e}");
        let e = ExperimentConfig::from_value(&tree("tsak: {}"), "x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "config field `tsak`: unknown experiment key; valid keys: name, seed, task, model, train, curriculum, report; did you mean `task`?"
        );
    }

    #[test]
    fn type_errors_name_the_field() {
        let e = ExperimentConfig::from_value(
            &tree("task: {inputs: [a], outputs: [b], duration: 100}\ntrain: {iterations: many}"),
            "x",
        )
        .unwrap_err();
        assert_eq!(e.field, "train.iterations");
        let e = ExperimentConfig::from_value(
            &tree("task: {inputs: [a], outputs: [b], duration: 100}\nmodel: {transfer_function: relux}"),
            "x",
        )
        .unwrap_err();
        assert!(e.message.contains("expected one of `relu`, `tanh`"), "{e}");
        let e = ExperimentConfig::from_value(
            &tree("task: {inputs: [a], outputs: [b], duration: 100}\ntrain: {batch_size: 0}"),
            "x",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "config field `train.batch_size`: must be between 1 and 65536, got 0"
        );
    }
}
