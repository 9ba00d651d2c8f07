//! Running an experiment script and turning its declaration into typed settings.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use rhai::{
    Array, Dynamic, EvalAltResult, FnPtr, Map, Module, NativeCallContext, Position, Scope, AST,
};
use serde_norway::Value;
use sha2::{Digest, Sha256};

use super::engine::{
    build_engine_with_libraries, BundledModule, ImportLog, ImportedModule, LoadedModules,
};
use super::task::{ScriptTask, TrialForm};
use crate::library::{LibraryError, LibraryResolver, LockedLibrary, Store};

const TRIAL_EXAMPLE: &str = "|p| [#{ name: \"stimulus\", duration: 500, input: [1.0, 0.0] }]";
const STEP_EXAMPLE: &str = "|t, p| [input, target, mask]";
use super::curriculum::ScriptCurriculum;
use super::value::{set_path, to_yaml};
use super::ScriptError;
use crate::experiment::{ConfigError, ExperimentConfig};
use crate::train::{Curriculum, CurriculumState, SingleTask};

/// A `--set section.key=value` override; the value is read as YAML (`3`, `0.5`, `null`, `relu`).
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// Dotted path, e.g. `train.iterations`.
    pub path: String,
    /// The value.
    pub value: Value,
}

/// Why a `--set` override cannot be read; holds what was given.
#[derive(Debug, thiserror::Error)]
pub enum OverrideError {
    /// No `=`.
    #[error("expected section.key=value (e.g. model.n_rec=100), got `{0}`")]
    Syntax(String),
    /// Nothing before the `=`.
    #[error("expected section.key=value, `{0}` has no key")]
    NoKey(String),
    /// The value is not YAML.
    #[error("`{text}` is not a valid value: {source}")]
    Value {
        /// The value as given.
        text: String,
        /// The YAML error.
        source: serde_norway::Error,
    },
}

impl FromStr for Override {
    type Err = OverrideError;
    fn from_str(s: &str) -> Result<Self, OverrideError> {
        let Some((path, text)) = s.split_once('=') else {
            return Err(OverrideError::Syntax(s.to_string()));
        };
        let path = path.trim();
        if path.is_empty() {
            return Err(OverrideError::NoKey(s.to_string()));
        }
        let value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_norway::from_str(text).map_err(|source| OverrideError::Value {
                text: text.to_string(),
                source,
            })?
        };
        Ok(Override {
            path: path.to_string(),
            value,
        })
    }
}

/// How to load a script.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `--set` overrides, applied in order after the script ran.
    pub overrides: Vec<Override>,
    /// `--seed`, which wins over the script's `seed`.
    pub seed: Option<u64>,
    /// Extra module folders (`--lib`), searched after the importing script's folder.
    pub lib_dirs: Vec<PathBuf>,
    /// A run's copies of its modules, loaded instead of searching (reopening a run).
    pub bundled_modules: Vec<BundledModule>,
    /// The store of installed libraries that `import "NAME/MODULE"` resolves against (through
    /// the `psychrnn.lock` beside the script, if there is one); `None`: no libraries.
    pub libraries: Option<Store>,
}

/// Takes the rule closures out of `curriculum` stages (`advance: |state| …`), leaving the text
/// `rule` in their place; one entry per stage.
/// A stage's own task closures (`curriculum[k].task`), if it has a task.
type StageClosures = Option<TaskClosures>;

/// A task map's closures: `params`, the trial form, and a `score` closure if it has one.
type TaskClosures = (FnPtr, TrialForm, Option<FnPtr>);

fn take_rules(
    map: &mut Map,
    file: &str,
) -> Result<(Vec<Option<FnPtr>>, Vec<StageClosures>), ScriptError> {
    let Some(value) = map.get_mut("curriculum") else {
        return Ok((Vec::new(), Vec::new()));
    };
    let Some(mut stages) = value.clone().try_cast::<Array>() else {
        return Ok((Vec::new(), Vec::new()));
    };
    let mut rules = Vec::with_capacity(stages.len());
    let mut tasks = Vec::with_capacity(stages.len());
    for (k, stage) in stages.iter_mut().enumerate() {
        let mut rule = None;
        let mut task = None;
        if let Some(mut m) = stage.clone().try_cast::<Map>() {
            if let Some(f) = m.get("advance").and_then(|v| v.clone().try_cast::<FnPtr>()) {
                m.insert("advance".into(), Dynamic::from("rule"));
                rule = Some(f);
            }
            if let Some(mut t) = m.get("task").and_then(|v| v.clone().try_cast::<Map>()) {
                task = Some(task_closures(
                    &mut t,
                    &format!("curriculum[{k}].task"),
                    file,
                )?);
                m.insert("task".into(), Dynamic::from_map(t));
            }
            *stage = Dynamic::from_map(m);
        }
        rules.push(rule);
        tasks.push(task);
    }
    *value = Dynamic::from_array(stages);
    Ok((rules, tasks))
}

/// Takes a task map's closures out: `params`, either `trial` (epochs) or `step`, and a
/// `score: |trial| …` closure (left in the map as `#{ kind: "script" }`, so config.yaml says
/// the task scores with its closure). `label` names the map in errors (`task`,
/// `curriculum[1].task`).
fn task_closures(task: &mut Map, label: &str, file: &str) -> Result<TaskClosures, ScriptError> {
    let fail = |message: String| ScriptError::Script {
        file: file.to_string(),
        message: format!("{label}: {message}"),
    };
    let params = closure(
        task,
        "params",
        "|rng| #{ coherence: rng.choice([0.1, 0.5]) }",
        file,
    )?;
    let form = match (task.contains_key("trial"), task.contains_key("step")) {
        (true, false) => TrialForm::Epochs(closure(task, "trial", TRIAL_EXAMPLE, file)?),
        (false, true) => TrialForm::Steps(closure(task, "step", STEP_EXAMPLE, file)?),
        (true, true) => return Err(fail("has both `trial` (epochs) and `step` (per-step form); keep one".into())),
        (false, false) => {
            return Err(fail(format!(
                "describes no trial: add `trial: {TRIAL_EXAMPLE}` (epochs) or `step: {STEP_EXAMPLE}` (per step)"
            )))
        }
    };
    let score = task
        .get("score")
        .and_then(|v| v.clone().try_cast::<FnPtr>());
    if score.is_some() {
        let mut kind = Map::new();
        kind.insert("kind".into(), Dynamic::from("script"));
        task.insert("score".into(), Dynamic::from_map(kind));
    }
    Ok((params, form, score))
}

/// A script's experiment, ready to run.
pub struct LoadedExperiment {
    /// The resolved settings.
    pub config: ExperimentConfig,
    /// Every module the script imported, with its hash.
    pub imports: Vec<ImportedModule>,
    /// Every library the imports came from, once each, in first-import order.
    pub libraries: Vec<LockedLibrary>,
    /// Rule closures of the curriculum stages (`None` where the rule is data).
    pub rules: Vec<Option<FnPtr>>,
    /// Tasks of the curriculum stages that declare their own (`None`: the main task).
    pub stage_tasks: Vec<Option<ScriptTask>>,
    /// The task, drawing trials through the script.
    pub task: Arc<ScriptTask>,
    /// The script file.
    pub script_path: PathBuf,
    /// SHA-256 of the script file, hex.
    pub script_sha256: String,
    /// The script's text (a run keeps a copy of it).
    pub script_text: String,
}

impl LoadedExperiment {
    /// The curriculum to train with: the declared stages, or the task alone. Every stage's
    /// settings are checked against the task's here, before anything runs.
    pub fn curriculum(&self) -> Result<Box<dyn Curriculum>, ConfigError> {
        if self.config.curriculum.is_empty() {
            return Ok(Box::new(SingleTask(self.task.clone())));
        }
        let c = ScriptCurriculum::new(
            (*self.task).clone(),
            self.stage_tasks.clone(),
            self.config.curriculum.clone(),
            self.rules.clone(),
        );
        for k in 0..c.stages() {
            let state = CurriculumState {
                stage: k,
                ..c.initial_state()
            };
            c.task(&state)
                .map_err(|e| ConfigError::new(format!("curriculum[{k}]"), e.to_string()))?;
        }
        Ok(Box::new(c))
    }
}

/// Why a script could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The script failed (syntax, runtime, shape of what it declared).
    #[error(transparent)]
    Script(#[from] ScriptError),
    /// A setting is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The library store or the lock file beside the script cannot be used.
    #[error(transparent)]
    Library(#[from] LibraryError),
}

fn closure(task: &mut Map, key: &str, example: &str, file: &str) -> Result<FnPtr, ScriptError> {
    let fail = |message: String| ScriptError::Script {
        file: file.to_string(),
        message,
    };
    match task.remove(key) {
        None => Err(fail(format!(
            "task.{key} is missing; it should be a closure like {example}"
        ))),
        Some(v) => {
            let type_name = v.type_name();
            v.try_cast::<FnPtr>().ok_or_else(|| {
                fail(format!(
                    "task.{key} must be a closure like {example}, got {type_name}"
                ))
            })
        }
    }
}

/// Runs the script at `path` and resolves the experiment it declares, with `--set` overrides
/// and `--seed` applied. Nothing is written anywhere.
pub fn load_experiment(path: &Path, options: &LoadOptions) -> Result<LoadedExperiment, LoadError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| ScriptError::Read {
        path: file.clone(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|_| ScriptError::Script {
        file: file.clone(),
        message: "the script is not valid UTF-8 text".into(),
    })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    load_experiment_source(&file, &text, &dir, options)
}

/// [`load_experiment`] for a script held in memory: `name` labels it in errors and
/// `dir` is where its relative imports are looked up first.
pub fn load_experiment_source(
    name: &str,
    text: &str,
    dir: &Path,
    options: &LoadOptions,
) -> Result<LoadedExperiment, LoadError> {
    let file = name.to_string();
    let text = text.to_string();
    let script_sha256 = format!("{:x}", Sha256::digest(text.as_bytes()));
    let import_log = ImportLog::default();
    let loaded = LoadedModules::default();
    let libraries = match &options.libraries {
        Some(store) => Some(Arc::new(LibraryResolver::new(store.clone(), Some(dir))?)),
        None => None,
    };
    let mut engine = build_engine_with_libraries(
        dir,
        &options.lib_dirs,
        import_log.clone(),
        loaded.clone(),
        &options.bundled_modules,
        libraries,
    );
    let declared = register_experiment(&mut engine);
    let mut ast = engine
        .compile(&text)
        .map_err(|e| ScriptError::from_parse_in(&file, &text, &e))?;
    ast.set_source(file.as_str());
    // Evaluated as a module, so that every function the script defines (closures included)
    // keeps the script's imports when the host calls it later for each trial.
    let module = Module::eval_ast_as_new(Scope::new(), &ast, &engine)
        .map_err(|e| ScriptError::from_eval(&file, &e, ""))?;
    // The host calls closures made by the script and by the modules it imported (a stdlib
    // task's `params`), so the function table holds all of them; each function keeps its own
    // module's imports and helpers. The script's own functions come last and win a clash.
    let mut everything = Module::new();
    for m in loaded.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        everything.combine((**m).clone());
    }
    everything.combine(module);
    let mut functions = AST::new_from_module(everything);
    functions.set_source(file.as_str());
    let declared = declared.lock().unwrap_or_else(|p| p.into_inner()).take();
    let Some((mut map, _)) = declared else {
        return Err(ScriptError::Script {
            file: file.clone(),
            message: "the script declares no experiment: call experiment(#{ task: …, model: …, train: … })".into(),
        }
        .into());
    };
    let mut task = match map.remove("task") {
        Some(t) if t.is_map() => t.cast::<Map>(),
        Some(t) => {
            return Err(
                ConfigError::new("task", format!("must be a map, got {}", t.type_name())).into(),
            )
        }
        None => return Err(ConfigError::new("task", "the experiment has no task").into()),
    };
    let (params, form, score) = task_closures(&mut task, "task", &file)?;
    map.insert("task".into(), Dynamic::from_map(task));
    let (rules, stage_closures) = take_rules(&mut map, &file)?;
    let mut root = to_yaml(&Dynamic::from_map(map), "")?;
    for o in &options.overrides {
        set_path(&mut root, &o.path, o.value.clone())
            .map_err(|e| ConfigError::new(o.path.clone(), e.to_string()))?;
    }
    if let Some(seed) = options.seed {
        set_path(&mut root, "seed", Value::Number(seed.into())).expect("root is a map");
    }
    let stem = Path::new(name)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "experiment".into());
    let config = ExperimentConfig::from_value(&root, &stem)?;
    let (engine, functions) = (Arc::new(engine), Arc::new(functions));
    // What the script imported, for the check of what a traced per-step call may meet.
    let import_texts: Vec<Option<String>> = import_log
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|m| m.text.clone())
        .collect();
    let imported = || import_texts.iter().map(|t| t.as_deref());
    let mut task = ScriptTask::new(
        config.task.clone(),
        engine.clone(),
        functions.clone(),
        params,
        form,
        file.clone(),
        text.clone(),
    )
    .map_err(|e| ConfigError::new("task", e.to_string()))?
    .with_imported_sources(imported());
    if let Some(f) = &score {
        task = task.with_score_closure(f);
    }
    let mut stage_tasks = Vec::with_capacity(stage_closures.len());
    for (k, closures) in stage_closures.into_iter().enumerate() {
        let Some((params, form, score)) = closures else {
            stage_tasks.push(None);
            continue;
        };
        let field = format!("curriculum[{k}].task");
        let data = config
            .curriculum
            .get(k)
            .and_then(|s| s.task.clone())
            .unwrap_or(Value::Null);
        let stage_config: crate::task::TaskConfig = crate::experiment::typed(data, &field)?;
        let (a, b) = (stage_config.shape(), config.task.shape());
        if a.inputs != b.inputs || a.outputs != b.outputs || a.dt != b.dt || a.tau != b.tau {
            return Err(ConfigError::new(
                field,
                "a stage's task must have the main task's inputs, outputs, dt and tau (the network does not change between stages)",
            )
            .into());
        }
        let t = ScriptTask::new(
            stage_config,
            engine.clone(),
            functions.clone(),
            params,
            form,
            file.clone(),
            text.clone(),
        )
        .map_err(|e| ConfigError::new(field.clone(), e.to_string()))?
        .with_imported_sources(imported());
        stage_tasks.push(Some(match &score {
            Some(f) => t.with_score_closure(f),
            None => t,
        }));
    }
    if rules.len() != config.curriculum.len() {
        return Err(ConfigError::new(
            "curriculum",
            "stages cannot be added or removed with --set; edit the script",
        )
        .into());
    }
    let imports = import_log.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let mut libraries: Vec<LockedLibrary> = Vec::new();
    for l in imports.iter().filter_map(|m| m.locked.as_ref()) {
        if !libraries.contains(l) {
            libraries.push(l.clone());
        }
    }
    Ok(LoadedExperiment {
        config,
        imports,
        libraries,
        rules,
        stage_tasks,
        task: Arc::new(task),
        script_path: PathBuf::from(name),
        script_sha256,
        script_text: text,
    })
}

/// The libraries the script at `path` imports (their own library imports included), each
/// resolved to the newest installed version its importer accepts, ignoring any lock file:
/// what `psychrnn lib lock` pins. Imports are resolved as the script is compiled; the script
/// itself is not run.
pub fn library_imports(path: &Path, store: &Store) -> Result<Vec<LockedLibrary>, LoadError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ScriptError::Read {
        path: file.clone(),
        source,
    })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let log = ImportLog::default();
    let resolver = Arc::new(LibraryResolver::new(store.clone(), None)?);
    let mut engine = build_engine_with_libraries(
        &dir,
        &[],
        log.clone(),
        LoadedModules::default(),
        &[],
        Some(resolver),
    );
    let _declared = register_experiment(&mut engine);
    engine
        .compile_into_self_contained(&Scope::new(), &text)
        .map_err(|e| ScriptError::from_eval(&file, &e, ""))?;
    let mut libraries: Vec<LockedLibrary> = Vec::new();
    for l in log
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter_map(|m| m.locked.as_ref())
    {
        if !libraries.contains(l) {
            libraries.push(l.clone());
        }
    }
    Ok(libraries)
}

/// What a script's `experiment(…)` call declared: the map and where the call is.
pub(super) type Declaration = Arc<Mutex<Option<(Map, Position)>>>;

/// Registers `experiment(map)` with its doc comment: the call stores the script's declaration
/// in the returned slot, and a second call is an error.
pub(super) fn register_experiment(engine: &mut rhai::Engine) -> Declaration {
    let declared: Declaration = Arc::new(Mutex::new(None));
    let slot = declared.clone();
    rhai::FuncRegistration::new("experiment")
        .with_comments([
            "/// Declares the run: a map with sections `task`, `model`, `train` (and `name`, `seed`).",
            "/// Example: `experiment(#{ task: #{}, model: #{}, train: #{} })`",
        ])
        .with_params_info(["map"])
        .register_into_engine(
            engine,
            move |ctx: NativeCallContext, m: Map| -> Result<(), Box<EvalAltResult>> {
                let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
                if let Some((_, first)) = slot.as_ref() {
                    return Err(format!(
                        "experiment() is called a second time (the first call is at {}); a script declares one experiment",
                        match (first.line(), first.position()) {
                            (Some(l), Some(c)) => format!("line {l}, column {c}"),
                            _ => "an earlier line".into(),
                        }
                    )
                    .into());
                }
                *slot = Some((m, ctx.call_position()));
                Ok(())
            },
        );
    declared
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_errors_say_what_was_given() {
        let err = |s: &str| s.parse::<Override>().unwrap_err().to_string();
        assert_eq!(
            err("model.n_rec"),
            "expected section.key=value (e.g. model.n_rec=100), got `model.n_rec`"
        );
        assert_eq!(err("=3"), "expected section.key=value, `=3` has no key");
        assert!(err("model.n_rec=[1").starts_with("`[1` is not a valid value: "));
        let o: Override = "train.iterations = 7".parse().unwrap();
        assert_eq!(o.path, "train.iterations");
        assert_eq!(o.value, Value::Number(7.into()));
    }
}
