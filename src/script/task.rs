//! `ScriptTask`: a task whose trials come from a script's `params` and `trial` closures.

use std::sync::Arc;

use rhai::{Array, Dynamic, Engine, EvalAltResult, FnPtr, ImmutableString, Map, AST, INT};

use super::rng::ScriptRng;
use super::ScriptError;
use crate::random::Rng;
use crate::task::{
    fill_epochs, ConditionValue, Conditions, Epoch, EpochValues, Task, TaskConfig, TaskError,
    TaskShape, Trial,
};

/// Keys an epoch map may have.
pub const EPOCH_KEYS: &[&str] = &["name", "duration", "input", "target", "mask", "input_noise"];

/// A task declared by a script in the declarative epoch form:
/// `params: |rng| #{…}` draws one trial's parameters, `trial: |p| [#{ name, duration, input,
/// target, mask }, …]` lists its epochs, and the host fills the arrays.
pub struct ScriptTask {
    config: TaskConfig,
    shape: TaskShape,
    engine: Arc<Engine>,
    ast: Arc<AST>,
    params: FnPtr,
    trial: FnPtr,
    file: String,
}

impl ScriptTask {
    /// A task from its data section and its two closures.
    pub fn new(
        config: TaskConfig,
        engine: Arc<Engine>,
        ast: Arc<AST>,
        params: FnPtr,
        trial: FnPtr,
        file: String,
    ) -> Result<Self, TaskError> {
        let shape = config.shape();
        shape.validate()?;
        Ok(ScriptTask {
            config,
            shape,
            engine,
            ast,
            params,
            trial,
            file,
        })
    }

    /// The task's data section.
    pub fn config(&self) -> &TaskConfig {
        &self.config
    }

    fn script_error(&self, trial: usize, err: &EvalAltResult, context: &str) -> TaskError {
        TaskError::Trial {
            trial,
            message: ScriptError::from_eval(&self.file, err, context).to_string(),
        }
    }

    fn epochs(&self, value: Dynamic, trial: usize) -> Result<Vec<Epoch>, TaskError> {
        let fail = |message: String| TaskError::Trial { trial, message };
        let Some(items) = value.clone().try_cast::<Array>() else {
            return Err(fail(format!(
                "task.trial must return an array of epoch maps, got {}",
                value.type_name()
            )));
        };
        items
            .into_iter()
            .enumerate()
            .map(|(k, item)| self.epoch(item, k).map_err(&fail))
            .collect()
    }

    fn epoch(&self, item: Dynamic, k: usize) -> Result<Epoch, String> {
        let type_name = item.type_name();
        let Some(map) = item.try_cast::<Map>() else {
            return Err(format!("epoch {k} must be a map like #{{ name: \"stimulus\", duration: 500, input: [1.0, 0.0] }}, got {type_name}"));
        };
        for key in map.keys() {
            if !EPOCH_KEYS.contains(&key.as_str()) {
                return Err(format!(
                    "epoch {k}: unknown key `{key}`; valid keys: {}",
                    EPOCH_KEYS.join(", ")
                ));
            }
        }
        let name = match map.get("name") {
            None => format!("#{k}"),
            Some(v) => v
                .clone()
                .try_cast::<ImmutableString>()
                .map(|s| s.to_string())
                .ok_or_else(|| format!("epoch {k}: name must be a string"))?,
        };
        let label = format!("epoch '{name}'");
        let duration = match map.get("duration") {
            None => None,
            Some(v) => Some(number(v).ok_or_else(|| {
                format!(
                    "{label}: duration must be a number of ms, got {}",
                    v.type_name()
                )
            })?),
        };
        let input_noise = match map.get("input_noise") {
            None => None,
            Some(v) => {
                Some(number(v).ok_or_else(|| format!("{label}: input_noise must be a number"))?)
            }
        };
        let channels = |key: &str, names: &[String], default: f32| -> Result<Vec<f32>, String> {
            match map.get(key) {
                None => Ok(vec![default; names.len()]),
                Some(v) => channel_values(v, names).map_err(|e| format!("{label}: {key}: {e}")),
            }
        };
        Ok(Epoch {
            name: name.clone(),
            duration,
            values: EpochValues {
                input: channels("input", &self.shape.inputs, 0.0)?,
                target: channels("target", &self.shape.outputs, 0.0)?,
                mask: channels("mask", &self.shape.outputs, 1.0)?,
                input_noise,
            },
        })
    }
}

fn number(v: &Dynamic) -> Option<f64> {
    v.clone()
        .try_cast::<f64>()
        .or_else(|| v.clone().try_cast::<INT>().map(|i| i as f64))
}

/// One value per channel from a number (every channel), an array (in channel order) or a map
/// from channel name to value (channels not named get 0).
fn channel_values(v: &Dynamic, names: &[String]) -> Result<Vec<f32>, String> {
    if let Some(x) = number(v) {
        return Ok(vec![x as f32; names.len()]);
    }
    if let Some(items) = v.clone().try_cast::<Array>() {
        if items.len() != names.len() {
            return Err(format!(
                "{} values given but the task has {} channels ({})",
                items.len(),
                names.len(),
                names.join(", ")
            ));
        }
        return items
            .iter()
            .enumerate()
            .map(|(c, x)| {
                number(x).map(|x| x as f32).ok_or_else(|| {
                    format!(
                        "channel {c} ({}) is {}, not a number",
                        names[c],
                        x.type_name()
                    )
                })
            })
            .collect();
    }
    if let Some(map) = v.clone().try_cast::<Map>() {
        let mut out = vec![0.0; names.len()];
        for (key, x) in map.iter() {
            let Some(c) = names.iter().position(|n| n.as_str() == key.as_str()) else {
                return Err(format!(
                    "no channel named `{key}`; channels: {}",
                    names.join(", ")
                ));
            };
            out[c] = number(x)
                .ok_or_else(|| format!("channel `{key}` is {}, not a number", x.type_name()))?
                as f32;
        }
        return Ok(out);
    }
    Err(format!(
        "expected a number, an array with one number per channel, or a map from channel name to number; got {}",
        v.type_name()
    ))
}

/// The scalar entries of a params map (numbers, booleans as 0/1, strings); other values are
/// not conditions and are left out.
fn conditions(map: &Map) -> Conditions {
    let mut out = Conditions::new();
    for (k, v) in map.iter() {
        let value = if let Some(x) = number(v) {
            ConditionValue::Number(x)
        } else if let Some(b) = v.clone().try_cast::<bool>() {
            ConditionValue::Number(if b { 1.0 } else { 0.0 })
        } else if let Some(s) = v.clone().try_cast::<ImmutableString>() {
            ConditionValue::Text(s.to_string())
        } else {
            continue;
        };
        out.insert(k.to_string(), value);
    }
    out
}

impl Task for ScriptTask {
    fn shape(&self) -> &TaskShape {
        &self.shape
    }

    fn trial(&self, rng: &mut Rng, trial: usize) -> Result<Trial, TaskError> {
        let script_rng = ScriptRng::new(rng.clone());
        let params: Dynamic = self
            .params
            .call(&self.engine, &self.ast, (script_rng.clone(),))
            .map_err(|e| self.script_error(trial, &e, "in task.params"))?;
        *rng = script_rng.state();
        let type_name = params.type_name();
        let Some(params) = params.try_cast::<Map>() else {
            return Err(TaskError::Trial {
                trial,
                message: format!(
                    "task.params must return a map of trial parameters, got {type_name}"
                ),
            });
        };
        let epochs: Dynamic = self
            .trial
            .call(&self.engine, &self.ast, (params.clone(),))
            .map_err(|e| self.script_error(trial, &e, "in task.trial"))?;
        let epochs = self.epochs(epochs, trial)?;
        let (inputs, targets, mask) =
            fill_epochs(&self.shape, &epochs, self.config.input_noise, rng)
                .map_err(|message| TaskError::Trial { trial, message })?;
        Ok(Trial {
            inputs,
            targets,
            mask,
            conditions: conditions(&params),
        })
    }
}
