//! Training a script's experiment into a run directory, from the first check to the last
//! file: the library form of `psychrnn run` (new runs, reproductions from a run's
//! config.yaml, and resumed runs).
//!
//! [`prepare_run`] does everything that can fail on bad input before training starts (loads
//! and validates the script, draws a first batch, builds the network, takes and locks the run
//! directory, reads the checkpoint of a resumed run); [`TrainingRun::train`] trains, keeping
//! history.csv and the checkpoint current, then tests on fresh trials and writes weights.npz,
//! trials.npz, the report and, last, summary.yaml.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::{recorded_overrides, PipelineError};
use crate::analysis::conditions::accuracy_by;
use crate::experiment::ExperimentConfig;
use crate::kernel::KernelOptions;
use crate::model::{build_network_with, BuiltNetwork, Network};
use crate::random::{stream, Rng};
use crate::report::RunReportError;
use crate::run_dir::{
    absolute, AccuracyByCondition, ConditionAccuracy, ConditionLabel, RunDir, RunDirError, RunLock,
    RunRecord, RunSummary, StageStart,
};
use crate::script::{load_experiment, ImportedModule, LoadOptions, LoadedExperiment, Override};
use crate::task::{generate_batch, Task};
use crate::train::checkpoint::{
    has_checkpoint, read_checkpoint, read_checkpoint_iteration, write_checkpoint, write_parameters,
    CheckpointError,
};
use crate::train::{
    chance_accuracy, chance_warning, evaluate, new_optimizer, train_session, Curriculum,
    HistoryRow, Hooks, Optimizer, StopReason, TrainError, TrainOutcome, TrainState,
};
use crate::trials_file::TrialRecord;

/// A checkpoint is written at least this often (besides every `train.checkpoint_every`
/// iterations), so a killed run loses at most about a minute of training. Where checkpoints
/// fall does not change the result: a resumed run ends bit-identical to an uninterrupted one.
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(60);

/// Where a run's files go.
#[derive(Debug, Clone, PartialEq)]
pub enum Destination {
    /// A new directory `PARENT/NAME` named after the experiment (`NAME-2`, … if taken).
    New {
        /// The folder it is made in (`runs` for the command line).
        parent: PathBuf,
    },
    /// This directory; one that already holds a run is refused unless `overwrite`.
    Dir {
        /// The directory.
        path: PathBuf,
        /// Replace the run already there.
        overwrite: bool,
    },
    /// Continue the interrupted run in this directory from its last checkpoint.
    Resume(PathBuf),
}

/// What to train: a script (or a run's config.yaml to reproduce) and where its files go.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The experiment script, or a run's config.yaml; `None` to resume from the run's own copy.
    pub script: Option<PathBuf>,
    /// Overrides, seed and module folders.
    pub options: LoadOptions,
    /// Where the files go.
    pub destination: Destination,
    /// The model's thread count and kernel path (recorded as summary.yaml's `model_threads`).
    pub kernel: KernelOptions,
}

impl RunRequest {
    /// Trains `script` with its own settings into `runs/NAME`.
    pub fn new(script: impl Into<PathBuf>) -> Self {
        RunRequest {
            script: Some(script.into()),
            options: LoadOptions::default(),
            destination: Destination::New {
                parent: PathBuf::from("runs"),
            },
            kernel: KernelOptions::default(),
        }
    }

    /// Writes the run into `dir` (which must not hold a run yet).
    pub fn out(mut self, dir: impl Into<PathBuf>) -> Self {
        self.destination = Destination::Dir {
            path: dir.into(),
            overwrite: false,
        };
        self
    }

    /// Adds a `section.key=value` override (as `--set` does).
    pub fn set(mut self, setting: Override) -> Self {
        self.options.overrides.push(setting);
        self
    }
}

/// Hears what a run does; every method has an empty default.
pub trait RunObserver {
    /// Something the user should know that is not an error (`note: …`).
    fn note(&mut self, _text: &str) {}
    /// Training is about to start (or resume).
    fn started(&mut self, _start: &RunStart) {}
    /// An iteration finished with this training loss.
    fn iteration(&mut self, _iteration: usize, _loss: f64) {}
    /// An evaluation finished (one history.csv row).
    fn evaluated(&mut self, _row: &HistoryRow) {}
    /// A step of the end of the run began (`testing on 256 fresh trials…`).
    fn finishing(&mut self, _step: &str) {}
}

/// A [`RunObserver`] that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct SilentObserver;

impl RunObserver for SilentObserver {}

/// What [`RunObserver::started`] is told.
#[derive(Debug, Clone)]
pub struct RunStart {
    /// The resolved experiment.
    pub config: ExperimentConfig,
    /// The run directory.
    pub run: PathBuf,
    /// The iteration training starts at (0 unless resumed).
    pub iteration: usize,
    /// Whether this continues an interrupted run.
    pub resumed: bool,
    /// Whether the curriculum has more than one stage.
    pub staged: bool,
}

/// What [`prepare_run`] found.
pub enum Prepared {
    /// A resumed run that had already finished: nothing to do.
    AlreadyFinished {
        /// The run directory.
        run: RunDir,
        /// Why its training stopped.
        reason: StopReason,
    },
    /// Ready to train.
    Ready(Box<TrainingRun>),
}

/// A run whose directory is taken and whose network is built, ready to [`train`](Self::train).
pub struct TrainingRun {
    script: PathBuf,
    config: ExperimentConfig,
    loaded: LoadedExperiment,
    curriculum: Box<dyn Curriculum>,
    built: BuiltNetwork,
    optimizer: Optimizer,
    run: RunDir,
    _lock: RunLock,
    state: TrainState,
    resumed: bool,
    kernel: KernelOptions,
}

/// A run that finished training (or was interrupted, with its checkpoint written).
#[derive(Debug)]
pub struct FinishedRun {
    /// The run directory.
    pub run: RunDir,
    /// What summary.yaml holds.
    pub summary: RunSummary,
    /// Why the report could not be drawn, if it could not (the other files are written).
    pub report_error: Option<RunReportError>,
}

/// What to load and check, from the request.
struct Plan {
    script: PathBuf,
    options: LoadOptions,
    overrides: Vec<Override>,
    resume: Option<RunDir>,
    expected_sha: Option<String>,
    expected_imports: Option<Vec<ImportedModule>>,
}

fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

fn plan(request: &RunRequest) -> Result<Plan, PipelineError> {
    let lib_dirs = &request.options.lib_dirs;
    if let Destination::Resume(dir) = &request.destination {
        if !request.options.overrides.is_empty() || request.options.seed.is_some() {
            return Err(PipelineError::Refused("--resume continues a run with its own settings; --set and --seed cannot change them".into()));
        }
        let run = RunDir::new(dir);
        let record = run.read_record()?;
        let overrides = recorded_overrides(&record)?;
        let source = run.script_source(&record, lib_dirs);
        return Ok(Plan {
            options: LoadOptions {
                overrides: overrides.clone(),
                seed: Some(record.experiment.seed),
                lib_dirs: source.lib_dirs,
                bundled_modules: source.bundled_modules,
                libraries: request.options.libraries.clone(),
            },
            script: request.script.clone().unwrap_or(source.script),
            overrides,
            resume: Some(run),
            expected_sha: Some(record.script_sha256),
            expected_imports: Some(record.imports),
        });
    }
    let Some(script) = &request.script else {
        return Err(PipelineError::Refused(
            "give a script (psychrnn run task.rhai), a run's config.yaml, or --resume RUN_DIR"
                .into(),
        ));
    };
    if is_yaml(script) {
        // RUN/config.yaml: reproduce that run from its own copy of the script.
        let run = RunDir::new(script.parent().unwrap_or(Path::new(".")));
        let text = std::fs::read_to_string(script).map_err(|e| {
            PipelineError::Refused(format!("cannot read {}: {e}", script.display()))
        })?;
        let record = RunRecord::from_yaml(&text)
            .map_err(|m| PipelineError::Refused(format!("{}: {m}", script.display())))?;
        let mut overrides = recorded_overrides(&record)?;
        overrides.extend(request.options.overrides.iter().cloned());
        let source = run.script_source(&record, lib_dirs);
        return Ok(Plan {
            options: LoadOptions {
                overrides: overrides.clone(),
                seed: Some(request.options.seed.unwrap_or(record.experiment.seed)),
                lib_dirs: source.lib_dirs,
                bundled_modules: source.bundled_modules,
                libraries: request.options.libraries.clone(),
            },
            script: source.script,
            overrides,
            resume: None,
            expected_sha: Some(record.script_sha256),
            expected_imports: Some(record.imports),
        });
    }
    Ok(Plan {
        script: script.clone(),
        options: request.options.clone(),
        overrides: request.options.overrides.clone(),
        resume: None,
        expected_sha: None,
        expected_imports: None,
    })
}

/// Compares the loaded script and modules with what the run recorded: a resume refuses a
/// change, a reproduction notes it.
fn check_unchanged(
    plan: &Plan,
    loaded: &LoadedExperiment,
    observer: &mut dyn RunObserver,
) -> Result<(), PipelineError> {
    let mut changed = |message: String| {
        if plan.resume.is_some() {
            return Err(PipelineError::Refused(format!(
                "{message}; resuming would not continue the same run"
            )));
        }
        observer.note(&format!("{message}; the new run may differ"));
        Ok(())
    };
    if let Some(sha) = &plan.expected_sha {
        if sha != &loaded.script_sha256 {
            changed(format!(
                "{} changed since the run was made (its SHA-256 differs)",
                plan.script.display()
            ))?;
        }
    }
    for m in plan.expected_imports.iter().flatten() {
        let now = loaded.imports.iter().find(|n| n.module == m.module);
        if now.map(|n| &n.sha256) != Some(&m.sha256) {
            changed(format!(
                "imported module {} changed (or is no longer imported) since the run was made",
                m.module
            ))?;
        }
    }
    Ok(())
}

fn override_text(o: &Override) -> String {
    let v = serde_norway::to_string(&o.value).unwrap_or_default();
    format!("{}={}", o.path, v.trim_end())
}

/// Loads, checks and builds everything the request needs, and takes its run directory
/// (locked for this process). For a new run, the script copy and config.yaml are written.
pub fn prepare_run(
    request: &RunRequest,
    observer: &mut dyn RunObserver,
) -> Result<Prepared, PipelineError> {
    let plan = plan(request)?;
    let loaded = load_experiment(&plan.script, &plan.options)?;
    check_unchanged(&plan, &loaded, observer)?;
    crate::validation::validate(&loaded)?;
    let mut config = loaded.config.clone();
    let curriculum = loaded.curriculum()?;
    // Draw a first batch before anything is written: a script that fails on its trials
    // leaves no run directory behind.
    let first = curriculum.task(&curriculum.initial_state())?;
    generate_batch(
        first.as_ref(),
        config.seed,
        stream::TRAIN,
        0,
        config.train.batch_size.min(8),
    )?;
    let base_dir = plan.script.parent().unwrap_or(Path::new("."));
    let built = build_network_with(
        &config.model,
        loaded.task.shape(),
        config.seed,
        base_dir,
        request.kernel,
    )?;
    // Record the network as built (a loaded file's Dale ratio and transfer function).
    config.model = built.model.clone();
    let mut optimizer = new_optimizer(built.network.as_ref(), &config.train)?;
    let (run, lock, state) = take_run_dir(
        request,
        &plan,
        &config,
        &loaded,
        curriculum.as_ref(),
        built.network.as_ref(),
        &mut optimizer,
        observer,
    )?;
    if let Some(reason) = state.finished {
        if run.summary().exists() && run.weights().exists() {
            return Ok(Prepared::AlreadyFinished { run, reason });
        }
    }
    Ok(Prepared::Ready(Box::new(TrainingRun {
        script: plan.script.clone(),
        config,
        loaded,
        curriculum,
        built,
        optimizer,
        run,
        _lock: lock,
        state,
        resumed: plan.resume.is_some(),
        kernel: request.kernel,
    })))
}

/// Takes the run directory (locked for this process) and, for a new run, writes its script
/// copy and config.yaml. Returns the directory, its lock and the training state.
#[allow(clippy::too_many_arguments)]
fn take_run_dir(
    request: &RunRequest,
    plan: &Plan,
    config: &ExperimentConfig,
    loaded: &LoadedExperiment,
    curriculum: &dyn Curriculum,
    model: &dyn Network,
    optimizer: &mut Optimizer,
    observer: &mut dyn RunObserver,
) -> Result<(RunDir, RunLock, TrainState), PipelineError> {
    let (run, lock) = match &request.destination {
        Destination::Dir { path, overwrite } => {
            let run = RunDir::new(path);
            run.create()
                .map_err(|e| PipelineError::Refused(format!("--out {}: {e}", path.display())))?;
            let lock = run.lock()?;
            if run.holds_run() {
                if !overwrite {
                    return Err(RunDirError::Taken { dir: path.clone() }.into());
                }
                run.clear()?;
            }
            run.remove_leftovers()?;
            (run, lock)
        }
        Destination::Resume(dir) => {
            let run = RunDir::new(dir);
            let lock = run.lock()?;
            run.remove_leftovers()?;
            let state = if has_checkpoint(&run.checkpoint()) {
                read_checkpoint(&run.checkpoint(), model, optimizer)?
            } else {
                // Killed before its first checkpoint: start again from the beginning, which ends
                // where an uninterrupted run would (the initial weights come from the seed).
                observer.note(&format!(
                    "{} has no checkpoint yet; training starts again from iteration 0",
                    run.root().display()
                ));
                TrainState::new(curriculum)
            };
            return Ok((run, lock, state));
        }
        Destination::New { parent } => {
            let run = RunDir::claim_new(parent, &config.name)?;
            let lock = run.lock()?;
            (run, lock)
        }
    };
    let script_copy = run.write_script_copy(&plan.script, &loaded.script_text)?;
    let mut imports = loaded.imports.clone();
    run.write_module_copies(&mut imports)?;
    let record = RunRecord {
        format_version: crate::run_dir::FORMAT_VERSION,
        psychrnn_version: env!("CARGO_PKG_VERSION").to_string(),
        cpu_paths: crate::kernel::cpu_paths(),
        script: absolute(&plan.script).display().to_string(),
        script_sha256: loaded.script_sha256.clone(),
        script_copy: Some(script_copy),
        lib_dirs: plan
            .options
            .lib_dirs
            .iter()
            .map(|d| absolute(d).display().to_string())
            .collect(),
        imports,
        libraries: loaded.libraries.clone(),
        overrides: plan.overrides.iter().map(override_text).collect(),
        experiment: config.clone(),
    };
    if let Some(file) = &config.model.load {
        let script_dir = plan.script.parent().unwrap_or(Path::new("."));
        if script_dir.join(file).is_file() && !run.write_beside_script_copy(script_dir, file)? {
            observer.note(&format!("model.load {file} is outside the script's folder and is not copied into the run; the run reopens only where that file is"));
        }
    }
    run.write_record(&record)?;
    Ok((run, lock, TrainState::new(curriculum)))
}

impl TrainingRun {
    /// The run directory.
    pub fn run_dir(&self) -> &RunDir {
        &self.run
    }

    /// The resolved experiment, as config.yaml records it.
    pub fn config(&self) -> &ExperimentConfig {
        &self.config
    }

    /// Notes from building the network (e.g. what a loaded weights file set).
    pub fn build_notes(&self) -> &[String] {
        &self.built.notes
    }

    /// Trains until the curriculum, the iteration count or a stop rule ends it, or `stop` is
    /// raised (then the run ends at the end of the iteration with its checkpoint written and
    /// `summary.stop_reason` = interrupted), then writes the run's final files.
    pub fn train(
        mut self,
        observer: &mut dyn RunObserver,
        stop: &AtomicBool,
    ) -> Result<FinishedRun, PipelineError> {
        let model = self.built.network.as_ref();
        if let Some(reason) = self.state.finished {
            // Training ended but the final files were not all written (a crash after the
            // last checkpoint): write them now.
            let outcome = TrainOutcome {
                history: self.state.history.clone(),
                iterations: self.state.iteration,
                trials_seen: self.state.iteration * self.config.train.batch_size,
                wall_seconds: self.state.seconds_before,
                batch_wait_seconds: 0.0,
                stop_reason: reason,
                stage_starts: self.state.curriculum.stage_starts.clone(),
            };
            return finish(
                &self.config,
                model,
                self.loaded.task.as_ref(),
                &self.run,
                &outcome,
                (&self.script, self.kernel),
                observer,
            );
        }
        observer.started(&RunStart {
            config: self.config.clone(),
            run: self.run.root().to_path_buf(),
            iteration: self.state.iteration,
            resumed: self.resumed,
            staged: self.curriculum.stages() > 1,
        });
        let result = train_keeping_files(
            &self.config,
            model,
            self.curriculum.as_ref(),
            &self.run,
            &mut self.state,
            &mut self.optimizer,
            observer,
            stop,
        );
        let outcome = match result {
            Ok(o) => o,
            Err(error @ TrainError::NonFinite { .. }) => {
                let kept = match read_checkpoint_iteration(&self.run.checkpoint()) {
                    Some(k) => format!(
                        "the last good checkpoint (iteration {k}) is kept in {}",
                        self.run.checkpoint().display()
                    ),
                    None => "no checkpoint was written before it".to_string(),
                };
                return Err(PipelineError::Diverged {
                    error: Box::new(error),
                    kept,
                });
            }
            Err(
                error @ (TrainError::Curriculum(_)
                | TrainError::Task(_)
                | TrainError::Scoring { .. }),
            ) => {
                return Err(PipelineError::ScriptFailed {
                    error: Box::new(error),
                    iteration: self.state.iteration,
                    script: self.script.display().to_string(),
                    run: self.run.root().display().to_string(),
                })
            }
            Err(e) => return Err(e.into()),
        };
        finish(
            &self.config,
            model,
            self.loaded.task.as_ref(),
            &self.run,
            &outcome,
            (&self.script, self.kernel),
            observer,
        )
    }
}

/// Runs the training session, keeping history.csv and the checkpoint up to date.
#[allow(clippy::too_many_arguments)]
fn train_keeping_files(
    config: &ExperimentConfig,
    model: &dyn Network,
    curriculum: &dyn Curriculum,
    run: &RunDir,
    state: &mut TrainState,
    optimizer: &mut Optimizer,
    observer: &mut dyn RunObserver,
    stop: &AtomicBool,
) -> Result<TrainOutcome, TrainError> {
    let mut rows = state.history.clone();
    let mut write_error = None;
    // Both hooks report to the observer; they run one after the other on this thread.
    let observer = std::cell::RefCell::new(observer);
    let mut on_row = |row: &HistoryRow| {
        rows.push(row.clone());
        if let Err(e) = run.write_history(&rows) {
            write_error.get_or_insert(e);
        }
        observer.borrow_mut().evaluated(row);
    };
    let mut on_iteration = |i: usize, loss: f64| observer.borrow_mut().iteration(i, loss);
    let checkpoint_dir = run.checkpoint();
    let mut on_checkpoint =
        |s: &TrainState, o: &Optimizer| write_checkpoint(&checkpoint_dir, model, s, o);
    let mut on_stage_end = |stage: usize, _iteration: usize| {
        let dir = run.stages_dir();
        std::fs::create_dir_all(&dir).map_err(|e| CheckpointError::Write {
            dir,
            part: "folder",
            source: e.into(),
        })?;
        write_parameters(&run.stage_parameters(stage), model)
    };
    let outcome = train_session(
        model,
        curriculum,
        &config.train,
        config.model.loss,
        config.seed,
        state,
        optimizer,
        Hooks {
            on_row: &mut on_row,
            on_iteration: &mut on_iteration,
            on_checkpoint: &mut on_checkpoint,
            on_stage_end: &mut on_stage_end,
            checkpoint_interval: Some(CHECKPOINT_INTERVAL),
            stop,
        },
    );
    if let Some(e) = write_error {
        return Err(TrainError::History(e.into()));
    }
    outcome
}

/// Tests on fresh trials and writes weights.npz, trials.npz, the report and summary.yaml
/// (`script`, `kernel`: the run's script and how its network runs, to rebuild the networks
/// of earlier curriculum stages; the kernel's thread count is recorded as `model_threads`).
#[allow(clippy::too_many_arguments)]
fn finish(
    config: &ExperimentConfig,
    model: &dyn Network,
    task: &dyn Task,
    run: &RunDir,
    outcome: &TrainOutcome,
    (script, kernel): (&Path, KernelOptions),
    observer: &mut dyn RunObserver,
) -> Result<FinishedRun, PipelineError> {
    let threads = kernel.threads;
    if outcome.stop_reason != StopReason::Iterations {
        let reason = serde_norway::to_string(&outcome.stop_reason).unwrap_or_default();
        let detail = match (&outcome.stop_reason, &config.train.stop_on_plateau) {
            (StopReason::Plateau, Some(p)) => format!(
                " (the last {} evaluations did not raise the accuracy more than {} above its best)",
                p.patience, p.min_gain
            ),
            _ => String::new(),
        };
        observer.finishing(&format!("training stopped: {}{detail}", reason.trim()));
    }
    observer.finishing(&format!(
        "testing on {} fresh trials and writing files…",
        config.train.test_trials
    ));
    // Training's iterations leave tens of megabytes freed but kept (for speed); the test
    // set's arrays should not come on top of them.
    model.release_buffers();
    crate::memory::release_freed_memory();
    let test = generate_batch(task, config.seed, stream::TEST, 0, config.train.test_trials)?;
    let mut noise = Rng::derive(config.seed, &[stream::REC_NOISE, stream::TEST, 0]);
    let mut result = evaluate(model, task, &test, &mut noise, config.model.loss)?;
    // Likewise the evaluation's per-chunk buffers, before the files and the report.
    crate::memory::release_freed_memory();
    let chance =
        chance_accuracy(task, &test, config.model.loss.output_reading()).map_err(|source| {
            TrainError::Scoring {
                task: task.name().to_string(),
                source,
            }
        })?;
    let warnings: Vec<String> = chance_warning(result.accuracy, chance)
        .into_iter()
        .collect();
    model
        .write_npz(&run.weights())
        .map_err(|source| PipelineError::Write {
            path: run.weights(),
            source,
        })?;
    // The record takes the evaluation's arrays (no copies: at 256 units the states and rates
    // of 512 test trials are 200 MiB).
    let outputs = std::mem::take(&mut result.outputs);
    let states = std::mem::take(&mut result.states);
    let rates = std::mem::take(&mut result.rates);
    let stage_starts: Vec<StageStart> = outcome
        .stage_starts
        .iter()
        .map(|(name, began)| StageStart {
            name: name.clone(),
            began_at_iteration: *began,
        })
        .collect();
    let (stage_behaviours, stage_notes) = super::stages::stage_behaviours(
        &super::stages::StageSource {
            config,
            task,
            run,
            base_dir: script.parent().unwrap_or(Path::new(".")),
            kernel,
        },
        &stage_starts,
        outcome.iterations,
        &test,
        &Rng::derive(config.seed, &[stream::REC_NOISE, stream::TEST, 0]),
    )?;
    for note in &stage_notes {
        observer.note(note);
    }
    let record = TrialRecord::new(&test, outputs, states, rates, task.shape())
        .with_verdicts(result.correct.clone(), &result.credit)
        .with_stages(stage_behaviours);
    record
        .write(&run.trials())
        .map_err(|source| PipelineError::Write {
            path: run.trials(),
            source,
        })?;
    let by_condition = config.report.condition.as_ref().and_then(|name| {
        let groups: Vec<ConditionAccuracy> = accuracy_by(&test.conditions, &result.credit, name)
            .into_iter()
            .map(|(v, trials, accuracy)| ConditionAccuracy {
                value: ConditionLabel::from(&v),
                trials,
                accuracy,
            })
            .collect();
        (!groups.is_empty()).then(|| AccuracyByCondition {
            condition: name.clone(),
            groups,
        })
    });
    let mut summary = RunSummary {
        format_version: crate::run_dir::FORMAT_VERSION,
        final_accuracy: result.accuracy,
        final_loss: result.loss,
        test_trials: config.train.test_trials,
        iterations: outcome.iterations,
        trials_seen: outcome.trials_seen,
        wall_seconds: (outcome.wall_seconds * 1000.0).round() / 1000.0,
        batch_wait_seconds: (outcome.batch_wait_seconds * 1000.0).round() / 1000.0,
        model_threads: threads,
        stop_reason: outcome.stop_reason,
        metrics: result
            .metrics
            .iter()
            .map(|(name, value)| (format!("final_{name}"), *value))
            .collect(),
        accuracy_by: by_condition,
        stages: stage_starts,
        chance_accuracy: Some(chance),
        warnings,
    };
    let mut report_error = None;
    if config.report.enabled {
        observer.finishing("drawing the report…");
        let weights = model.rate_weights().transpose()?;
        report_error = crate::report::write_report(run, config, &record, weights.as_ref()).err();
        // The analysis the report just wrote may qualify its numbers (a bound, not a slope).
        if let (None, Ok(Some(analysis))) = (&report_error, run.read_analysis()) {
            summary
                .warnings
                .extend(crate::analysis::run_analysis::analysis_warnings(&analysis));
        }
    }
    // summary.yaml last: its presence marks the run finished (`sweep status` counts on it).
    run.write_summary(&summary)?;
    Ok(FinishedRun {
        run: run.clone(),
        summary,
        report_error,
    })
}
