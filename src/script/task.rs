//! `ScriptTask`: a task whose trials come from a script's closures, in one of two forms:
//! - epochs (preferred): `params: |rng| #{…}` draws a trial's parameters and
//!   `trial: |p| [#{ name, duration, input, target, mask }, …]` lists its epochs; the host
//!   fills the arrays;
//! - per step (PsychRNN's `trial_function`): `step: |t, p| [input, target, mask]` is called for
//!   every time step t (in ms).
//!
//! With `sequence: #{ length: L }`, trials form sequences of L and `params: |rng, settings,
//! seq|` receives `seq`, a map: `position` (0-based), `length`, and `previous`, the params maps
//! of the sequence's earlier trials, oldest first (`seq.previous[-1]` is the last one). A
//! trial's params are the state carried to the next trial.

use std::sync::Arc;

use rhai::{
    Array, Dynamic, Engine, EvalAltResult, FnPtr, ImmutableString, Map, Position, AST, INT,
};

use super::rng::ScriptRng;
use super::ScriptError;
use crate::did_you_mean::suggestion;
use crate::random::Rng;
use crate::task::{
    fill_epochs_overlaid, generation_threads, Batch, ConditionValue, Conditions, Distribution,
    Epoch, EpochValues, OutputReading, Overlay, ScoreError, ScoreProblem, Scorer, Scores, Task,
    TaskConfig, TaskError, TaskShape, Trial, TrialError, TrialProblem, MAX_SEQUENCE_LENGTH,
    PARALLEL_ABOVE_SECONDS,
};

/// Keys an epoch map may have.
pub const EPOCH_KEYS: &[&str] = &[
    "name",
    "duration",
    "input",
    "target",
    "mask",
    "input_noise",
    "overlays",
];

/// Keys an overlay map (an entry of an epoch's `overlays`) may have.
pub const OVERLAY_KEYS: &[&str] = &["name", "onset", "duration", "input", "target", "mask"];

/// Why task settings (a curriculum stage's or its rule's) cannot be laid over a task's.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SettingsError {
    /// A key the task's settings do not have.
    #[error("task setting `{key}` does not exist; the task's settings are: {}{}", settings_list(valid), suggestion(key, valid.iter().map(String::as_str)))]
    Unknown {
        /// The key given.
        key: String,
        /// The task's setting keys.
        valid: Vec<String>,
    },
    /// The settings are not a map; holds the value as written.
    #[error("task settings must be a map, got {0}")]
    NotAMap(String),
}

fn settings_list(valid: &[String]) -> String {
    if valid.is_empty() {
        "(none: add a settings map to the task)".to_string()
    } else {
        valid.join(", ")
    }
}

/// How a script describes a trial.
#[derive(Clone)]
pub enum TrialForm {
    /// `trial: |p| [epochs…]`.
    Epochs(FnPtr),
    /// `step: |t, p| [input, target, mask]`.
    Steps(FnPtr),
}

/// A task declared by a script (see the module docs).
#[derive(Clone)]
pub struct ScriptTask {
    config: TaskConfig,
    shape: TaskShape,
    engine: Arc<Engine>,
    ast: Arc<AST>,
    params: FnPtr,
    form: TrialForm,
    file: String,
    source: String,
    /// The settings `params` receives as its second argument (a map).
    settings: Dynamic,
    /// Whether `params` takes the settings (`|rng, settings|`).
    params_takes_settings: bool,
    /// The `score: |trial| …` closure, used when the config's scorer is kind `script`.
    score: Option<FnPtr>,
    /// Whether `step` may be called with a traced t (see [`super::traced_time`]): the
    /// sources have no construct that treats it differently from a FLOAT without failing,
    /// and the closure captured only plain values.
    step_tracing: bool,
}

/// The epochs a `trial` closure returned, with their overlays.
struct Described {
    epochs: Vec<Epoch>,
    overlays: Vec<Overlay>,
}

/// `f` with its own copy of every value it captured, holding no shared cells.
///
/// Why: rhai, built with feature `sync`, turns each variable a closure captures into a shared
/// cell (`Arc<RwLock<Dynamic>>`) kept in the closure's curried arguments, and every copy of
/// the closure holds the same cell. Trials are drawn on several threads that call the same
/// closure, so they all use that one cell: a method call on a captured value (the stdlib
/// `yang_multitask`'s `params` calls `all.index_of(task)` on its captured task list)
/// write-locks it, and another thread that finds it locked retries 5 times 10 ms and then
/// fails with "Data race detected" — which happens when the lock holder is descheduled on a
/// busy machine. With private copies nothing is shared between threads, for the stdlib's
/// closures and for any script's. It also makes every call start from the captured values as
/// they were when the task was declared, whatever ran before on whichever thread, so a batch
/// is the same for any thread count (a closure that changes a captured variable changes
/// only its own call's copy).
pub(crate) fn private_closure(f: &FnPtr) -> FnPtr {
    let mut f = f.clone();
    let curry: Vec<Dynamic> = f.curry().iter().map(private_value).collect();
    f.set_curry(curry);
    f
}

/// A deep copy of `v` with no shared cells: arrays, maps and closures inside are copied too.
fn private_value(v: &Dynamic) -> Dynamic {
    let v = v.flatten_clone();
    if v.is_array() {
        let items: Array = v.cast::<Array>().iter().map(private_value).collect();
        return Dynamic::from_array(items);
    }
    if v.is_map() {
        let entries: Map = v
            .cast::<Map>()
            .iter()
            .map(|(k, x)| (k.clone(), private_value(x)))
            .collect();
        return Dynamic::from_map(entries);
    }
    if v.is_fnptr() {
        return Dynamic::from(private_closure(&v.cast::<FnPtr>()));
    }
    v
}

/// Where `key: |…|` first appears in `source` (1-based line and column), to locate errors
/// that Rhai reports without a position.
fn closure_position(source: &str, key: &str) -> Position {
    for (l, line) in source.lines().enumerate() {
        let mut from = 0;
        while let Some(i) = line[from..].find(key) {
            let at = from + i;
            let before = line[..at].chars().next_back();
            let after = line[at + key.len()..].trim_start();
            let boundary = before.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
            if boundary && after.starts_with(':') && !after.starts_with("::") {
                return Position::new(l as u16 + 1, line[..at].chars().count() as u16 + 1);
            }
            from = at + key.len();
        }
    }
    Position::NONE
}

impl ScriptTask {
    /// A task from its data section and its closures; `ast` must hold the closures' functions
    /// and `source` is the script's text (used to locate errors).
    pub fn new(
        config: TaskConfig,
        engine: Arc<Engine>,
        ast: Arc<AST>,
        params: FnPtr,
        form: TrialForm,
        file: String,
        source: String,
    ) -> Result<Self, TaskError> {
        let shape = config.shape();
        shape.validate()?;
        config.score.validate(&shape).map_err(TaskError::Score)?;
        let declared = ast
            .iter_functions()
            .find(|m| m.name == params.fn_name())
            .map(|m| m.params.len().saturating_sub(params.curry().len()));
        let params_takes_settings = declared == Some(2) || declared == Some(3);
        match (&config.sequence, declared) {
            (Some(seq), _) if !(1..=MAX_SEQUENCE_LENGTH).contains(&seq.length) => {
                return Err(TaskError::Shape {
                    field: "sequence.length".into(),
                    message: format!(
                        "must be between 1 and {MAX_SEQUENCE_LENGTH} trials, got {}",
                        seq.length
                    ),
                })
            }
            (Some(_), Some(n)) if n != 3 => {
                return Err(TaskError::Shape {
                    field: "params".into(),
                    message: format!(
                        "the task declares a sequence, so params receives the sequence as its third argument: write `params: |rng, settings, seq| …` (it takes {n})"
                    ),
                })
            }
            (None, Some(3)) => {
                return Err(TaskError::Shape {
                    field: "params".into(),
                    message: "params takes a third argument (the sequence) but the task declares no sequence: add `sequence: #{ length: 20 }` or write `params: |rng, settings| …`".into(),
                })
            }
            _ => {}
        }
        let settings = super::value::from_yaml(&config.settings);
        let step_tracing = matches!(&form, TrialForm::Steps(f) if f.curry().iter().all(plain_value))
            && super::traced_time::source_allows_tracing(&source);
        let params = private_closure(&params);
        let form = match form {
            TrialForm::Epochs(f) => TrialForm::Epochs(private_closure(&f)),
            TrialForm::Steps(f) => TrialForm::Steps(private_closure(&f)),
        };
        Ok(ScriptTask {
            settings,
            params_takes_settings,
            config,
            shape,
            engine,
            ast,
            params,
            form,
            file,
            source,
            score: None,
            step_tracing,
        })
    }

    /// The same task after checking the sources of the modules the script imported (`None`:
    /// a source not known) for what keeps a per-step task from being traced.
    pub fn with_imported_sources<'a>(
        mut self,
        sources: impl IntoIterator<Item = Option<&'a str>>,
    ) -> Self {
        for source in sources {
            if !source.is_some_and(super::traced_time::source_allows_tracing) {
                self.step_tracing = false;
            }
        }
        self
    }

    /// The same task with tracing of `step` calls allowed (`true`, the default where the
    /// script permits it) or not (`false`: every step is a call, for comparisons).
    pub fn with_step_tracing(mut self, on: bool) -> Self {
        self.step_tracing &= on;
        self
    }

    /// Whether per-step trials are drawn with a traced t where the trial allows it.
    pub fn step_tracing(&self) -> bool {
        self.step_tracing
    }

    /// The same task scoring with `f`, its `score: |trial| …` closure (see
    /// README, "Scoring"); the closure is used while the config's scorer is kind
    /// `script` (a `--set task.score.kind=…` replaces it).
    pub fn with_score_closure(mut self, f: &FnPtr) -> Self {
        self.score = Some(private_closure(f));
        self
    }

    /// Scores every trial of `batch` with the closure `f`: one call per trial, each in a
    /// fresh sandbox budget. The first trial is timed; when the whole batch would take more
    /// than [`PARALLEL_ABOVE_SECONDS`], the rest is scored on [`generation_threads`] threads
    /// (the closure holds private copies of what it captured, so calls share nothing). On
    /// failure the error of the lowest failing trial is returned.
    fn score_with_closure(
        &self,
        f: &FnPtr,
        outputs: &[f32],
        batch: &Batch,
        reading: OutputReading,
    ) -> Result<Scores, ScoreError> {
        let one = |i: usize| self.score_trial(f, outputs, batch, reading, i);
        let n = batch.n_trials;
        if n == 0 {
            return Ok(Scores::from_credit(Vec::new(), Vec::new()));
        }
        let start = std::time::Instant::now();
        let mut credit = vec![one(0)?];
        let estimate = start.elapsed().as_secs_f64() * n as f64;
        let threads = if estimate > PARALLEL_ABOVE_SECONDS {
            generation_threads().clamp(1, n - 1)
        } else {
            1
        };
        if threads <= 1 {
            for i in 1..n {
                credit.push(one(i)?);
            }
        } else {
            let chunk = (n - 1).div_ceil(threads);
            let parts: Vec<Result<Vec<f64>, ScoreError>> = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..threads)
                    .map(|k| {
                        let range = (1 + k * chunk).min(n)..(1 + (k + 1) * chunk).min(n);
                        let one = &one;
                        scope.spawn(move || range.map(one).collect())
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("scoring thread panicked"))
                    .collect()
            });
            for part in parts {
                credit.extend(part?);
            }
        }
        Ok(Scores::from_credit(credit, Vec::new()))
    }

    /// The credit `f` gives trial `i` of `batch`.
    fn score_trial(
        &self,
        f: &FnPtr,
        outputs: &[f32],
        batch: &Batch,
        reading: OutputReading,
        i: usize,
    ) -> Result<f64, ScoreError> {
        let fail = |message: String| ScoreError {
            scorer: "script",
            problem: ScoreProblem::Trial {
                trial: i,
                problem: TrialProblem::Closure(message),
            },
        };
        let arg = super::score_closure::trial_map(outputs, batch, &self.shape, i, reading);
        let value = self
            .call(f, (Dynamic::from_map(arg),), "in task.score")
            .map_err(|e| fail(e.to_string()))?;
        super::score_closure::credit(&value).map_err(|returned| {
            let at = closure_position(&self.source, "score");
            let message = format!("task.score returned {returned}; return true (right), false (wrong) or a credit between 0 and 1");
            let located = match (at.line(), at.position()) {
                (Some(line), Some(col)) => ScriptError::Located {
                    file: self.file.clone(),
                    line,
                    col,
                    message,
                },
                _ => ScriptError::Script {
                    file: self.file.clone(),
                    message,
                },
            };
            fail(located.to_string())
        })
    }

    /// The task's data section.
    pub fn config(&self) -> &TaskConfig {
        &self.config
    }

    /// The same task with `overrides` (a YAML mapping, or null for none) laid over the
    /// settings of its `settings` map. A key the task's settings do not have is an error.
    pub fn with_settings(
        &self,
        overrides: &serde_norway::Value,
    ) -> Result<ScriptTask, SettingsError> {
        let mut merged = match &self.config.settings {
            serde_norway::Value::Mapping(m) => m.clone(),
            _ => Default::default(),
        };
        match overrides {
            serde_norway::Value::Null => {}
            serde_norway::Value::Mapping(m) => {
                for (k, v) in m {
                    if !merged.contains_key(k) {
                        return Err(SettingsError::Unknown {
                            key: k.as_str().unwrap_or("?").to_string(),
                            valid: merged
                                .keys()
                                .filter_map(|k| k.as_str())
                                .map(str::to_string)
                                .collect(),
                        });
                    }
                    merged.insert(k.clone(), v.clone());
                }
            }
            other => return Err(SettingsError::NotAMap(format!("{other:?}"))),
        }
        let mut task = self.clone();
        task.config.settings = serde_norway::Value::Mapping(merged);
        task.settings = super::value::from_yaml(&task.config.settings);
        Ok(task)
    }

    /// Whether trials are described by epochs or per step.
    pub fn form(&self) -> &TrialForm {
        &self.form
    }

    /// Draws one trial's epochs with the lengths it gets (drawn lengths included), from the
    /// same stream as [`Task::trial`]; `None` for the per-step form. Used to describe and
    /// draw epochs (`psychrnn check`, `psychrnn trials`).
    /// A sequence task's trial is drawn as the first of its sequence.
    pub fn epoch_spans(&self, rng: &mut Rng) -> Result<Option<Vec<(Epoch, f64)>>, TrialError> {
        let params = self.params(rng, 0, &Array::new())?;
        let TrialForm::Epochs(f) = &self.form else {
            return Ok(None);
        };
        let value = self.call(f, (params,), "in task.trial")?;
        let d = self.epochs(value)?;
        let filled = self.fill(&d, 0.0, rng)?;
        Ok(Some(d.epochs.into_iter().zip(filled.durations).collect()))
    }

    /// Calls a curriculum rule closure (defined in the same script) with `arg`.
    pub fn call_rule(
        &self,
        f: &FnPtr,
        arg: Dynamic,
        context: &str,
    ) -> Result<Dynamic, ScriptError> {
        self.call_keyed(f, (arg,), context, "advance")
    }

    /// Calls `f`, a `task.KEY` closure named by `context` ("in task.params").
    fn call(
        &self,
        f: &FnPtr,
        args: impl rhai::FuncArgs,
        context: &str,
    ) -> Result<Dynamic, ScriptError> {
        let key = context.rsplit('.').next().unwrap_or("");
        self.call_keyed(f, args, context, key)
    }

    /// Calls `f` in a fresh sandbox budget; errors without a position are located where
    /// `key: |…|` is written.
    fn call_keyed(
        &self,
        f: &FnPtr,
        args: impl rhai::FuncArgs,
        context: &str,
        key: &str,
    ) -> Result<Dynamic, ScriptError> {
        super::sandbox::start_call();
        f.call::<Dynamic>(&self.engine, &self.ast, args)
            .map_err(|e: Box<EvalAltResult>| {
                let fallback = closure_position(&self.source, key);
                ScriptError::from_eval_at(&self.file, &e, context, fallback)
            })
    }

    /// Draws one trial's params; `position` and `previous` (the earlier trials' params) are
    /// what a sequence task's `params` receives as `seq`.
    fn params(&self, rng: &mut Rng, position: usize, previous: &Array) -> Result<Map, TrialError> {
        let script_rng = ScriptRng::with_dt(rng.clone(), self.shape.dt);
        let params = if let Some(seq) = &self.config.sequence {
            let mut context = Map::new();
            context.insert("position".into(), Dynamic::from(position as INT));
            context.insert("length".into(), Dynamic::from(seq.length as INT));
            context.insert("previous".into(), Dynamic::from_array(previous.clone()));
            self.call(
                &self.params,
                (
                    script_rng.clone(),
                    self.settings.clone(),
                    Dynamic::from_map(context),
                ),
                "in task.params",
            )?
        } else if self.params_takes_settings {
            self.call(
                &self.params,
                (script_rng.clone(), self.settings.clone()),
                "in task.params",
            )?
        } else {
            self.call(&self.params, (script_rng.clone(),), "in task.params")?
        };
        *rng = script_rng.state();
        let type_name = params.type_name();
        params.try_cast::<Map>().ok_or_else(|| {
            TrialError::Description(format!(
                "task.params must return a map of trial parameters, got {type_name}"
            ))
        })
    }

    fn epochs(&self, value: Dynamic) -> Result<Described, TrialError> {
        let type_name = value.type_name();
        let Some(items) = value.try_cast::<Array>() else {
            return Err(TrialError::Description(format!(
                "task.trial must return an array of epoch maps, got {type_name}"
            )));
        };
        let mut out = Described {
            epochs: Vec::with_capacity(items.len()),
            overlays: Vec::new(),
        };
        for (k, item) in items.into_iter().enumerate() {
            let epoch = self
                .epoch(item, k, &mut out.overlays)
                .map_err(TrialError::Description)?;
            out.epochs.push(epoch);
        }
        Ok(out)
    }

    /// Fills the arrays; an overlay error is located where the script writes `overlays:`.
    fn fill(
        &self,
        d: &Described,
        input_noise: f64,
        rng: &mut Rng,
    ) -> Result<crate::task::FilledTrial, TrialError> {
        fill_epochs_overlaid(&self.shape, &d.epochs, &d.overlays, input_noise, rng).map_err(|e| {
            match e {
                TrialError::Overlay { .. } => {
                    let pos = closure_position(&self.source, "overlays");
                    let message = format!("{e} (in task.trial)");
                    match (pos.line(), pos.position()) {
                        (Some(line), col) => TrialError::Code(Box::new(ScriptError::Located {
                            file: self.file.clone(),
                            line,
                            col: col.unwrap_or(1),
                            message,
                        })),
                        _ => e,
                    }
                }
                e => e,
            }
        })
    }

    /// One overlay of epoch `k` (named `label` in errors) from its map.
    fn overlay(&self, item: &Dynamic, k: usize, j: usize, label: &str) -> Result<Overlay, String> {
        let type_name = item.type_name();
        let Some(map) = item.clone().try_cast::<Map>() else {
            return Err(format!(
                "{label}: overlays[{j}] must be a map like #{{ name: \"cue\", onset: 200, duration: 100, input: #{{ cue: 1.0 }} }}, got {type_name}"
            ));
        };
        for key in map.keys() {
            if !OVERLAY_KEYS.contains(&key.as_str()) {
                return Err(format!(
                    "{label}: overlays[{j}]: unknown key `{key}`; valid keys: {}{}",
                    OVERLAY_KEYS.join(", "),
                    suggestion(key, OVERLAY_KEYS.iter().copied())
                ));
            }
        }
        let name = match map.get("name") {
            None => format!("#{j}"),
            Some(v) => v
                .clone()
                .try_cast::<ImmutableString>()
                .map(|s| s.to_string())
                .ok_or_else(|| {
                    format!(
                        "{label}: overlays[{j}]: name must be a string, got {}",
                        v.type_name()
                    )
                })?,
        };
        let at = format!("{label}, overlay '{name}'");
        let ms = |key: &str| -> Result<Option<f64>, String> {
            map.get(key)
                .map(|v| {
                    number(v).ok_or_else(|| {
                        format!("{at}: {key} must be a number of ms, got {}", v.type_name())
                    })
                })
                .transpose()
        };
        let onset = ms("onset")?.unwrap_or(0.0);
        let duration = ms("duration")?;
        let channels = |key: &str, names: &[String]| -> Result<Vec<(usize, f32)>, String> {
            match map.get(key) {
                None => Ok(Vec::new()),
                Some(v) => overlay_values(v, names).map_err(|e| format!("{at}: {key}: {e}")),
            }
        };
        Ok(Overlay {
            epoch: k,
            name,
            onset,
            duration,
            input: channels("input", &self.shape.inputs)?,
            target: channels("target", &self.shape.outputs)?,
            mask: channels("mask", &self.shape.outputs)?,
        })
    }

    fn epoch(&self, item: Dynamic, k: usize, overlays: &mut Vec<Overlay>) -> Result<Epoch, String> {
        let map = item.try_cast_result::<Map>().map_err(|item| {
            format!(
                "epoch {k} must be a map like #{{ name: \"stimulus\", duration: 500, input: [1.0, 0.0] }}, got {}",
                item.type_name()
            )
        })?;
        for key in map.keys() {
            if !EPOCH_KEYS.contains(&key.as_str()) {
                return Err(format!(
                    "epoch {k}: unknown key `{key}`; valid keys: {}{}",
                    EPOCH_KEYS.join(", "),
                    suggestion(key, EPOCH_KEYS.iter().copied())
                ));
            }
        }
        let name = match map.get("name") {
            None => format!("#{k}"),
            Some(v) => v
                .clone()
                .try_cast::<ImmutableString>()
                .map(|s| s.to_string())
                .ok_or_else(|| {
                    format!("epoch {k}: name must be a string, got {}", v.type_name())
                })?,
        };
        // Built only for an error message: this runs for every epoch of every trial.
        let label = || format!("epoch '{name}'");
        let duration = match map.get("duration") {
            None => None,
            Some(v) => Some(duration(v).map_err(|m| format!("{}: duration {m}", label()))?),
        };
        let input_noise = match map.get("input_noise") {
            None => None,
            Some(v) => Some(number(v).ok_or_else(|| {
                format!(
                    "{}: input_noise must be a number, got {}",
                    label(),
                    v.type_name()
                )
            })?),
        };
        let channels = |key: &str, names: &[String], default: f32| -> Result<Vec<f32>, String> {
            match map.get(key) {
                None => Ok(vec![default; names.len()]),
                Some(v) => channel_values(v, names).map_err(|e| format!("{}: {key}: {e}", label())),
            }
        };
        if let Some(v) = map.get("overlays") {
            let items = v.read_lock::<Array>().ok_or_else(|| {
                format!(
                    "{}: overlays must be an array of overlay maps, got {}",
                    label(),
                    v.type_name()
                )
            })?;
            let label = label();
            for (j, item) in items.iter().enumerate() {
                overlays.push(self.overlay(item, k, j, &label)?);
            }
        }
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

    fn epoch_trial(&self, f: &FnPtr, params: Map, rng: &mut Rng) -> Result<Trial, TrialError> {
        let value = self.call(f, (params.clone(),), "in task.trial")?;
        let described = self.epochs(value)?;
        let filled = self.fill(&described, self.config.input_noise, rng)?;
        let epochs = described.epochs;
        let mut conditions = conditions(&params);
        for (e, d) in epochs.iter().zip(&filled.durations) {
            if matches!(e.duration, Some(ref dist) if !matches!(dist, Distribution::Constant(_))) {
                conditions.insert(format!("{}_duration", e.name), ConditionValue::Number(*d));
            }
        }
        Ok(Trial {
            inputs: filled.inputs,
            targets: filled.targets,
            mask: filled.mask,
            conditions,
            epochs: filled.spans,
        })
    }

    /// One step's [input, target, mask] from the value `step` returned at step `i`.
    fn step_values(
        &self,
        i: usize,
        t: f64,
        value: Dynamic,
        out: [&mut Vec<f32>; 3],
    ) -> Result<(), TrialError> {
        let at = || format!("step {i} (t = {t} ms)");
        let type_name = value.type_name();
        let parts = value
            .try_cast::<Array>()
            .filter(|a| a.len() == 3)
            .ok_or_else(|| {
                TrialError::Description(format!(
                    "{}: task.step must return [input, target, mask], got {type_name}",
                    at()
                ))
            })?;
        for (k, ((what, names), out)) in [
            ("input", &self.shape.inputs),
            ("target", &self.shape.outputs),
            ("mask", &self.shape.outputs),
        ]
        .into_iter()
        .zip(out)
        .enumerate()
        {
            let values = channel_values(&parts[k], names)
                .map_err(|e| TrialError::Description(format!("{}: {what}: {e}", at())))?;
            if let Some(c) = values.iter().position(|v| !v.is_finite()) {
                return Err(TrialError::NotFinite {
                    at: at(),
                    array: what,
                    channel: c,
                    name: names[c].clone(),
                    value: values[c],
                });
            }
            out.extend(values);
        }
        Ok(())
    }

    /// The trial's arrays with one `step` call per step.
    fn step_arrays(&self, f: &FnPtr, p: &Dynamic) -> Result<[Vec<f32>; 3], TrialError> {
        let (n_steps, n_in, n_out) = (self.shape.n_steps(), self.shape.n_in(), self.shape.n_out());
        let mut inputs = Vec::with_capacity(n_steps * n_in);
        let mut targets = Vec::with_capacity(n_steps * n_out);
        let mut mask = Vec::with_capacity(n_steps * n_out);
        for i in 0..n_steps {
            let t = i as f64 * self.shape.dt;
            let value = self.call(f, (t, p.clone()), "in task.step")?;
            self.step_values(i, t, value, [&mut inputs, &mut targets, &mut mask])?;
        }
        Ok([inputs, targets, mask])
    }

    /// The trial's arrays from calls with a traced t: each call's result stands for every
    /// step up to the first at which one of the comparisons it made with t would come out
    /// otherwise. `None` when a call cannot be traced (an error, t in the result, t used in
    /// a way that is not traced): the caller then calls at every step, which also gives the
    /// error a call makes, at its own step.
    fn traced_step_arrays(&self, f: &FnPtr, p: &Dynamic) -> Option<[Vec<f32>; 3]> {
        use super::traced_time::{traced, TracedTime};
        let (n_steps, n_in, n_out) = (self.shape.n_steps(), self.shape.n_in(), self.shape.n_out());
        let mut out = [
            Vec::with_capacity(n_steps * n_in),
            Vec::with_capacity(n_steps * n_out),
            Vec::with_capacity(n_steps * n_out),
        ];
        let step_t = |i: usize| i as f64 * self.shape.dt;
        let mut i = 0;
        while i < n_steps {
            let t = step_t(i);
            let (value, trace) =
                traced(|| self.call(f, (TracedTime::new(t), p.clone()), "in task.step"));
            let value = value.ok()?;
            if trace.spoiled() || holds_traced(&value) {
                return None;
            }
            let start = out.each_ref().map(Vec::len);
            let [a, b, c] = &mut out;
            self.step_values(i, t, value, [a, b, c]).ok()?;
            let mut j = i + 1;
            while j < n_steps && trace.holds_at(step_t(j)) {
                j += 1;
            }
            for (v, from) in out.iter_mut().zip(start) {
                let len = v.len();
                for _ in i + 1..j {
                    v.extend_from_within(from..len);
                }
            }
            i = j;
        }
        Some(out)
    }

    /// A trial's [input, target, mask] drawn from `rng` per step (`traced` false) or traced
    /// (`None`: tracing was not possible), before input noise; for tests that compare them.
    #[cfg(test)]
    pub(crate) fn step_arrays_for(
        &self,
        rng: &mut Rng,
        traced: bool,
    ) -> Option<Result<[Vec<f32>; 3], TrialError>> {
        let params = match self.params(rng, 0, &Array::new()) {
            Ok(p) => p,
            Err(e) => return Some(Err(e)),
        };
        let TrialForm::Steps(f) = &self.form else {
            return None;
        };
        let p = Dynamic::from_map(params);
        if !traced {
            return Some(self.step_arrays(f, &p));
        }
        if !(self.step_tracing && plain_value(&p)) {
            return None;
        }
        self.traced_step_arrays(f, &p).map(Ok)
    }

    fn step_trial(&self, f: &FnPtr, params: Map, rng: &mut Rng) -> Result<Trial, TrialError> {
        let p = Dynamic::from_map(params.clone());
        let traced = if self.step_tracing && plain_value(&p) {
            self.traced_step_arrays(f, &p)
        } else {
            None
        };
        let [mut inputs, targets, mask] = match traced {
            Some(arrays) => arrays,
            None => self.step_arrays(f, &p)?,
        };
        let std = self.config.input_noise as f32;
        if std > 0.0 {
            for x in inputs.iter_mut() {
                *x += rng.normal() as f32 * std;
            }
        }
        Ok(Trial {
            inputs,
            targets,
            mask,
            conditions: conditions(&params),
            epochs: Vec::new(),
        })
    }
}

/// Whether `v` is made only of values a call cannot change for the next call: unit, bool,
/// numbers, chars, strings, and arrays, maps and closures of them, none shared (a shared
/// cell, a random generator or another host object could carry state from step to step).
fn plain_value(v: &Dynamic) -> bool {
    if v.is_shared() {
        return false;
    }
    if v.is_unit() || v.is_bool() || v.is_int() || v.is_float() || v.is_char() || v.is_string() {
        return true;
    }
    if let Some(items) = v.read_lock::<Array>() {
        return items.iter().all(plain_value);
    }
    if let Some(map) = v.read_lock::<Map>() {
        return map.values().all(plain_value);
    }
    if let Some(f) = v.read_lock::<FnPtr>() {
        return f.curry().iter().all(plain_value);
    }
    false
}

/// Whether a traced t is somewhere in `v`.
fn holds_traced(v: &Dynamic) -> bool {
    if v.is::<super::traced_time::TracedTime>() {
        return true;
    }
    if let Some(items) = v.read_lock::<Array>() {
        return items.iter().any(holds_traced);
    }
    if let Some(map) = v.read_lock::<Map>() {
        return map.values().any(holds_traced);
    }
    if let Some(f) = v.read_lock::<FnPtr>() {
        return f.curry().iter().any(holds_traced);
    }
    false
}

fn number(v: &Dynamic) -> Option<f64> {
    // Read in place: `v.clone().try_cast()` deep-copies an array or map only to find it is
    // not a number, which was a tenth of a many-epoch task's generation time.
    v.as_float()
        .ok()
        .or_else(|| v.as_int().ok().map(|i| i as f64))
}

/// An epoch duration: a number of ms or a `dist::…` distribution.
fn duration(v: &Dynamic) -> Result<Distribution, String> {
    if let Some(x) = number(v) {
        return Ok(Distribution::Constant(x));
    }
    v.clone().try_cast::<Distribution>().ok_or_else(|| {
        format!(
            "must be a number of ms or a distribution such as dist::uniform(200, 600), got {}",
            v.type_name()
        )
    })
}

/// One value per channel from a number (every channel), an array (in channel order) or a map
/// from channel name to value (channels not named get 0).
fn channel_values(v: &Dynamic, names: &[String]) -> Result<Vec<f32>, String> {
    if let Some(x) = number(v) {
        return Ok(vec![x as f32; names.len()]);
    }
    if let Some(items) = v.read_lock::<Array>() {
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
    if let Some(map) = v.read_lock::<Map>() {
        let mut out = vec![0.0; names.len()];
        for (key, x) in map.iter() {
            let Some(c) = names.iter().position(|n| n.as_str() == key.as_str()) else {
                return Err(format!(
                    "no channel named `{key}`; channels: {}{}",
                    names.join(", "),
                    suggestion(key, names.iter().map(String::as_str))
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

/// The channels an overlay sets, as (channel, value): a number or an array sets every
/// channel, a map from channel name to value only the channels it names.
fn overlay_values(v: &Dynamic, names: &[String]) -> Result<Vec<(usize, f32)>, String> {
    if let Some(map) = v.read_lock::<Map>() {
        let mut out = Vec::with_capacity(map.len());
        for (key, x) in map.iter() {
            let Some(c) = names.iter().position(|n| n.as_str() == key.as_str()) else {
                return Err(format!(
                    "no channel named `{key}`; channels: {}{}",
                    names.join(", "),
                    suggestion(key, names.iter().map(String::as_str))
                ));
            };
            let x = number(x)
                .ok_or_else(|| format!("channel `{key}` is {}, not a number", x.type_name()))?;
            out.push((c, x as f32));
        }
        return Ok(out);
    }
    Ok(channel_values(v, names)?.into_iter().enumerate().collect())
}

/// The scalar entries of a params map (numbers, booleans as 0/1, strings); other values are
/// not conditions and are left out.
fn conditions(map: &Map) -> Conditions {
    let mut out = Conditions::new();
    for (k, v) in map.iter() {
        let value = if let Some(x) = number(v) {
            ConditionValue::Number(x)
        } else if let Ok(b) = v.as_bool() {
            ConditionValue::Number(if b { 1.0 } else { 0.0 })
        } else if let Some(s) = v.read_lock::<ImmutableString>() {
            ConditionValue::Text(s.to_string())
        } else {
            continue;
        };
        out.insert(k.to_string(), value);
    }
    out
}

impl Task for ScriptTask {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn shape(&self) -> &TaskShape {
        &self.shape
    }

    fn scorer(&self) -> &crate::task::Scorer {
        &self.config.score
    }

    fn score(
        &self,
        outputs: &[f32],
        batch: &Batch,
        reading: OutputReading,
    ) -> Result<Scores, ScoreError> {
        match (&self.config.score, &self.score) {
            (Scorer::Script {}, Some(f)) => self.score_with_closure(f, outputs, batch, reading),
            (scorer, _) => scorer.score(outputs, batch, &self.shape, reading),
        }
    }

    /// A sequence task's trial drawn alone is the first of its sequence.
    fn trial(&self, rng: &mut Rng) -> Result<Trial, TrialError> {
        let params = self.params(rng, 0, &Array::new())?;
        self.build(params, rng)
    }

    fn sequence_length(&self) -> Option<usize> {
        self.config.sequence.as_ref().map(|s| s.length)
    }

    fn sequence_trials(
        &self,
        rng_at: &dyn Fn(usize) -> Rng,
        from: usize,
        to: usize,
    ) -> Result<Vec<Trial>, (usize, TrialError)> {
        if self.config.sequence.is_none() {
            return (from..to)
                .map(|k| self.trial(&mut rng_at(k)).map_err(|e| (k, e)))
                .collect();
        }
        let mut previous = Array::with_capacity(to);
        let mut out = Vec::with_capacity(to.saturating_sub(from));
        for k in 0..to {
            let mut rng = rng_at(k);
            let params = self.params(&mut rng, k, &previous).map_err(|e| (k, e))?;
            if k >= from {
                out.push(self.build(params.clone(), &mut rng).map_err(|e| (k, e))?);
            }
            previous.push(Dynamic::from_map(params));
        }
        Ok(out)
    }
}

impl ScriptTask {
    /// The trial described by `params`, drawing the rest from `rng`.
    fn build(&self, params: Map, rng: &mut Rng) -> Result<Trial, TrialError> {
        match &self.form {
            TrialForm::Epochs(f) => self.epoch_trial(f, params, rng),
            TrialForm::Steps(f) => self.step_trial(f, params, rng),
        }
    }
}
