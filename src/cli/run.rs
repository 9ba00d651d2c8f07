//! `psychrnn run`: train the experiment a script declares (or reproduce one from a run's
//! `config.yaml`, or resume an interrupted run) and write its run directory.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{anyhow, Context};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::script_args::ScriptOptions;
use super::CliError;
use crate::analysis::conditions::accuracy_by;
use crate::experiment::ExperimentConfig;
use crate::kernel::KernelOptions;
use crate::model::{build_network_with, Network};
use crate::random::{stream, Rng};
use crate::run_dir::{
    absolute, AccuracyByCondition, ConditionAccuracy, ConditionLabel, RunDir, RunDirError, RunLock,
    RunRecord, RunSummary, StageStart,
};
use crate::script::{load_experiment, LoadOptions, Override};
use crate::task::{generate_batch, Task};
use crate::train::checkpoint::{read_checkpoint, write_checkpoint};
use crate::train::{
    evaluate, new_optimizer, train_session, HistoryRow, Hooks, StopReason, TrainError,
    TrainOutcome, TrainState,
};
use crate::trials_file::TrialRecord;

/// Arguments of `psychrnn run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The experiment script (.rhai), or a run's config.yaml to reproduce that run.
    pub script: Option<PathBuf>,
    /// How to resolve the script.
    #[command(flatten)]
    pub options: ScriptOptions,
    /// Run directory [default: runs/NAME with the experiment's NAME, or runs/NAME-2, … if taken].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the interrupted run in this directory from its last checkpoint.
    #[arg(long, value_name = "RUN_DIR", conflicts_with = "out")]
    pub resume: Option<PathBuf>,
    /// Replace the run already in --out.
    #[arg(long)]
    pub overwrite: bool,
    /// Print nothing but errors and the run directory.
    #[arg(long, short)]
    pub quiet: bool,
    /// Threads for the model's matrix products [default: all cores; RAYON_NUM_THREADS if set].
    /// Trial generation runs on threads of its own.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
}

/// A checkpoint is written at least this often (besides every `train.checkpoint_every`
/// iterations), so a killed run loses at most about a minute of training. Where checkpoints
/// fall does not change the result: a resumed run ends bit-identical to an uninterrupted one.
const CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// Raised by Ctrl-C / SIGTERM: training stops at the end of the current iteration.
static STOP: AtomicBool = AtomicBool::new(false);

fn install_stop_handler() {
    // A second installation in the same process (tests) fails harmlessly.
    let _ = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            std::process::exit(super::ExitStatus::Interrupted.code());
        }
        eprintln!("\nstopping after this iteration (press Ctrl-C again to quit at once)");
    });
}

fn override_text(o: &Override) -> String {
    let v = serde_norway::to_string(&o.value).unwrap_or_default();
    format!("{}={}", o.path, v.trim_end())
}

fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

fn parse_overrides(texts: &[String]) -> Result<Vec<Override>, CliError> {
    texts
        .iter()
        .map(|t| t.parse::<Override>())
        .collect::<Result<_, _>>()
        .map_err(|m| CliError::input(anyhow!("config.yaml overrides: {m}")))
}

/// What to run: the script, how to load it, and the run directory if fixed.
struct Plan {
    script: PathBuf,
    options: LoadOptions,
    overrides: Vec<Override>,
    resume: Option<RunDir>,
    expected_sha: Option<String>,
    expected_imports: Option<Vec<crate::script::ImportedModule>>,
}

fn plan(args: &RunArgs) -> Result<Plan, CliError> {
    if let Some(dir) = &args.resume {
        if !args.options.overrides.is_empty() || args.options.seed.is_some() {
            return Err(CliError::input(anyhow!("--resume continues a run with its own settings; --set and --seed cannot change them")));
        }
        let run = RunDir::new(dir);
        let record = run.read_record().map_err(CliError::run_dir)?;
        let overrides = parse_overrides(&record.overrides)?;
        let source = run.script_source(&record, &args.options.lib_dirs());
        return Ok(Plan {
            options: LoadOptions {
                overrides: overrides.clone(),
                seed: Some(record.experiment.seed),
                lib_dirs: source.lib_dirs,
                bundled_modules: source.bundled_modules,
            },
            script: args.script.clone().unwrap_or(source.script),
            overrides,
            resume: Some(run),
            expected_sha: Some(record.script_sha256),
            expected_imports: Some(record.imports),
        });
    }
    let Some(script) = &args.script else {
        return Err(CliError::input(anyhow!(
            "give a script (psychrnn run task.rhai), a run's config.yaml, or --resume RUN_DIR"
        )));
    };
    if is_yaml(script) {
        // RUN/config.yaml: reproduce that run from its own copy of the script.
        let run = RunDir::new(script.parent().unwrap_or(Path::new(".")));
        let text = std::fs::read_to_string(script)
            .with_context(|| format!("cannot read {}", script.display()))
            .map_err(CliError::input)?;
        let record = crate::run_dir::RunRecord::from_yaml(&text)
            .map_err(|m| CliError::input(anyhow!("{}: {m}", script.display())))?;
        let mut overrides = parse_overrides(&record.overrides)?;
        overrides.extend(args.options.overrides.iter().cloned());
        let source = run.script_source(&record, &args.options.lib_dirs());
        return Ok(Plan {
            options: LoadOptions {
                overrides: overrides.clone(),
                seed: Some(args.options.seed.unwrap_or(record.experiment.seed)),
                lib_dirs: source.lib_dirs,
                bundled_modules: source.bundled_modules,
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
        options: args.options.load_options(),
        overrides: args.options.overrides.clone(),
        resume: None,
        expected_sha: None,
        expected_imports: None,
    })
}

/// Compares the loaded script and modules with what the run recorded: a resume refuses a
/// change, a reproduction notes it.
fn check_unchanged(plan: &Plan, loaded: &crate::script::LoadedExperiment) -> Result<(), CliError> {
    if let Some(sha) = &plan.expected_sha {
        if sha != &loaded.script_sha256 {
            let message = format!(
                "{} changed since the run was made (its SHA-256 differs)",
                plan.script.display()
            );
            if plan.resume.is_some() {
                return Err(CliError::input(anyhow!(
                    "{message}; resuming would not continue the same run"
                )));
            }
            eprintln!("note: {message}; the new run may differ");
        }
    }
    if let Some(expected) = &plan.expected_imports {
        for m in expected {
            let now = loaded.imports.iter().find(|n| n.module == m.module);
            if now.map(|n| &n.sha256) != Some(&m.sha256) {
                let message = format!(
                    "imported module {} changed (or is no longer imported) since the run was made",
                    m.module
                );
                if plan.resume.is_some() {
                    return Err(CliError::input(anyhow!(
                        "{message}; resuming would not continue the same run"
                    )));
                }
                eprintln!("note: {message}; the new run may differ");
            }
        }
    }
    Ok(())
}

/// Takes the run directory for this run (locked for this process) and, for a new run, writes
/// its script copy and config.yaml. Returns the directory, its lock and the training state.
fn take_run_dir(
    args: &RunArgs,
    plan: &Plan,
    config: &ExperimentConfig,
    loaded: &crate::script::LoadedExperiment,
    curriculum: &dyn crate::train::Curriculum,
    model: &dyn Network,
    optimizer: &mut crate::train::Optimizer,
) -> Result<(RunDir, RunLock, TrainState), CliError> {
    if let Some(run) = &plan.resume {
        let lock = run.lock().map_err(CliError::run_dir)?;
        run.remove_leftovers().map_err(CliError::run_dir)?;
        let state = if has_checkpoint(run) {
            read_checkpoint(&run.checkpoint(), model, optimizer)
                .map_err(|m| CliError::input(anyhow!(m)))?
        } else {
            // Killed before its first checkpoint: start again from the beginning, which ends
            // where an uninterrupted run would (the initial weights come from the seed).
            eprintln!(
                "note: {} has no checkpoint yet; training starts again from iteration 0",
                run.root().display()
            );
            TrainState::new(curriculum)
        };
        return Ok((run.clone(), lock, state));
    }
    let (run, lock) = match &args.out {
        Some(dir) => {
            let run = RunDir::new(dir);
            run.create()
                .map_err(|e| CliError::input(anyhow!("--out {}: {e}", dir.display())))?;
            let lock = run.lock().map_err(CliError::run_dir)?;
            if run.holds_run() {
                if !args.overwrite {
                    return Err(CliError::run_dir(RunDirError::Taken { dir: dir.clone() }));
                }
                run.clear().map_err(CliError::run_dir)?;
            }
            run.remove_leftovers().map_err(CliError::run_dir)?;
            (run, lock)
        }
        None => {
            let run =
                RunDir::claim_new(Path::new("runs"), &config.name).map_err(CliError::run_dir)?;
            let lock = run.lock().map_err(CliError::run_dir)?;
            (run, lock)
        }
    };
    let script_copy = run
        .write_script_copy(&plan.script, &loaded.script_text)
        .map_err(CliError::run_dir)?;
    let mut imports = loaded.imports.clone();
    run.write_module_copies(&mut imports)
        .map_err(CliError::run_dir)?;
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
        overrides: plan.overrides.iter().map(override_text).collect(),
        experiment: config.clone(),
    };
    if let Some(file) = &config.model.load {
        let script_dir = plan.script.parent().unwrap_or(Path::new("."));
        if script_dir.join(file).is_file()
            && !run
                .write_beside_script_copy(script_dir, file)
                .map_err(CliError::run_dir)?
        {
            eprintln!("note: model.load {file} is outside the script's folder and is not copied into the run; the run reopens only where that file is");
        }
    }
    run.write_record(&record).map_err(CliError::run_dir)?;
    Ok((run, lock, TrainState::new(curriculum)))
}

/// True when a checkpoint was written (complete or not: a damaged one is an error, not a
/// silent restart).
fn has_checkpoint(run: &RunDir) -> bool {
    crate::train::checkpoint::has_checkpoint(&run.checkpoint())
}

/// Runs `psychrnn run`.
pub fn execute(args: &RunArgs) -> Result<(), CliError> {
    let plan = plan(args)?;
    let loaded = load_experiment(&plan.script, &plan.options).map_err(CliError::input)?;
    check_unchanged(&plan, &loaded)?;
    crate::validation::validate(&loaded).map_err(CliError::input)?;
    let mut config = loaded.config.clone();
    let curriculum = loaded.curriculum().map_err(CliError::input)?;
    // Draw a first batch of every stage before anything is written: a script that fails on
    // its trials leaves no run directory behind.
    let first = curriculum
        .task(&curriculum.initial_state())
        .map_err(|m| CliError::input(anyhow!(m)))?;
    generate_batch(
        first.as_ref(),
        config.seed,
        stream::TRAIN,
        0,
        config.train.batch_size.min(8),
    )
    .map_err(CliError::input)?;
    let base_dir = plan.script.parent().unwrap_or(Path::new("."));
    let threads = super::threads::for_run(args.threads.map(usize::from));
    let kernel = KernelOptions::with_threads(threads);
    let built = build_network_with(
        &config.model,
        loaded.task.shape(),
        config.seed,
        base_dir,
        kernel,
    )
    .map_err(CliError::input)?;
    // Record the network as built (a loaded file's Dale ratio and transfer function).
    config.model = built.model.clone();
    let model = built.network.as_ref();
    let mut optimizer = new_optimizer(model, &config.train).map_err(CliError::failed)?;
    let (run, _lock, mut state) = take_run_dir(
        args,
        &plan,
        &config,
        &loaded,
        curriculum.as_ref(),
        model,
        &mut optimizer,
    )?;
    if let Some(reason) = state.finished {
        if run.summary().exists() && run.weights().exists() {
            outln!(
                "{} already finished ({reason:?}); nothing to resume",
                run.root().display()
            );
            return Ok(());
        }
        // Training ended but the final files were not all written (a crash after the last
        // checkpoint): write them now.
        let outcome = TrainOutcome {
            history: state.history.clone(),
            iterations: state.iteration,
            trials_seen: state.iteration * config.train.batch_size,
            wall_seconds: state.seconds_before,
            batch_wait_seconds: 0.0,
            stop_reason: reason,
            stage_starts: state.curriculum.stage_starts.clone(),
        };
        return finish(
            &config,
            model,
            loaded.task.as_ref(),
            &run,
            &outcome,
            threads,
            args.quiet,
        )
        .map_err(CliError::failed);
    }
    for note in &built.notes {
        eprintln!("note: {note}");
    }
    install_stop_handler();
    let quiet = args.quiet;
    if !quiet {
        let verb = if plan.resume.is_some() {
            format!("resuming at iteration {}", state.iteration)
        } else {
            "training".into()
        };
        let threads = if threads == 1 {
            String::new()
        } else {
            format!(" on {threads} threads")
        };
        outln!(
            "psychrnn {}: {} — {} units{threads}, {} iterations of {} trials, {verb} → {}",
            env!("CARGO_PKG_VERSION"),
            config.name,
            config.model.n_rec,
            config.train.iterations,
            config.train.batch_size,
            run.root().display()
        );
    }
    let result = train_with_progress(
        &config,
        model,
        curriculum.as_ref(),
        &run,
        &mut state,
        &mut optimizer,
        quiet,
    );
    let outcome = match result {
        Ok(o) => o,
        Err(e @ TrainError::NonFinite { .. }) => {
            let kept = match read_checkpoint_iteration(&run) {
                Some(k) => format!(
                    "the last good checkpoint (iteration {k}) is kept in {}",
                    run.checkpoint().display()
                ),
                None => "no checkpoint was written before it".to_string(),
            };
            return Err(CliError::failed(anyhow!("{e}; {kept}")));
        }
        Err(e @ (TrainError::Script(_) | TrainError::Task(_) | TrainError::Scoring(_))) => {
            return Err(CliError::input(anyhow!(
                "{e}\n(the run stopped at iteration {}; fix the script and train again: psychrnn run {} --out {} --overwrite)",
                state.iteration,
                plan.script.display(),
                run.root().display()
            )))
        }
        Err(e) => return Err(CliError::failed(e)),
    };
    finish(
        &config,
        model,
        loaded.task.as_ref(),
        &run,
        &outcome,
        threads,
        quiet,
    )
    .map_err(CliError::failed)?;
    if outcome.stop_reason == StopReason::Interrupted {
        return Err(CliError::interrupted(anyhow!(
            "interrupted at iteration {}; checkpoint written. Resume with: psychrnn run --resume {}",
            outcome.iterations,
            absolute(run.root()).display()
        )));
    }
    Ok(())
}

fn read_checkpoint_iteration(run: &RunDir) -> Option<usize> {
    crate::train::checkpoint::read_checkpoint_iteration(&run.checkpoint())
}

/// Runs the training session with a progress bar (terminal), lines (otherwise) or nothing
/// (`--quiet`), keeping history.csv and the checkpoint up to date.
fn train_with_progress(
    config: &ExperimentConfig,
    model: &dyn Network,
    curriculum: &dyn crate::train::Curriculum,
    run: &RunDir,
    state: &mut TrainState,
    optimizer: &mut crate::train::Optimizer,
    quiet: bool,
) -> Result<TrainOutcome, TrainError> {
    let total = config.train.iterations;
    let bar = (!quiet && std::io::stdout().is_terminal()).then(|| {
        let bar = ProgressBar::new(total as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:20} {pos}/{len} {msg} {elapsed}<{eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_position(state.iteration as u64);
        bar
    });
    let mut rows = state.history.clone();
    let staged = curriculum.stages() > 1;
    let last_eval = std::cell::RefCell::new(String::new());
    let mut write_error = None;
    let mut on_row = |row: &HistoryRow| {
        rows.push(row.clone());
        if let Err(e) = run.write_history(&rows) {
            write_error.get_or_insert(e);
        }
        let stage = if staged {
            format!("  stage {}", row.stage)
        } else {
            String::new()
        };
        *last_eval.borrow_mut() = format!("acc {:.3}{stage}", row.accuracy);
        if bar.is_none() && !quiet {
            outln!(
                "iter {:>6}/{total}  loss {:.5}  eval loss {:.5}  accuracy {:.3}{stage}  {:>7.1}s",
                row.iteration,
                row.loss,
                row.eval_loss,
                row.accuracy,
                row.seconds
            );
        }
    };
    let session_start = (std::time::Instant::now(), state.iteration);
    let batch_size = config.train.batch_size as f64;
    let mut on_iteration = |i: usize, loss: f64| {
        if let Some(b) = &bar {
            let done = (i - session_start.1) as f64 * batch_size;
            let rate = done / session_start.0.elapsed().as_secs_f64().max(1e-9);
            b.set_message(format!(
                "loss {loss:.4} {} {rate:.0} trials/s",
                last_eval.borrow()
            ));
            b.set_position(i as u64);
        }
    };
    let checkpoint_dir = run.checkpoint();
    let mut on_checkpoint = |s: &TrainState, o: &crate::train::Optimizer| {
        write_checkpoint(&checkpoint_dir, model, s, o)
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
            checkpoint_interval: Some(CHECKPOINT_INTERVAL),
            stop: &STOP,
        },
    );
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    if let Some(e) = write_error {
        return Err(TrainError::Run(format!("cannot write history: {e}")));
    }
    outcome
}

/// Tests on fresh trials and writes weights.npz and summary.yaml (`threads`: the model's
/// thread count, recorded as `model_threads`).
#[allow(clippy::too_many_arguments)]
fn finish(
    config: &ExperimentConfig,
    model: &dyn Network,
    task: &dyn Task,
    run: &RunDir,
    outcome: &TrainOutcome,
    threads: usize,
    quiet: bool,
) -> anyhow::Result<()> {
    let reason = serde_norway::to_string(&outcome.stop_reason)?
        .trim()
        .to_string();
    if !quiet && outcome.stop_reason != StopReason::Iterations {
        outln!("training stopped: {reason}");
    }
    if !quiet {
        outln!(
            "testing on {} fresh trials and writing files…",
            config.train.test_trials
        );
    }
    let test = generate_batch(task, config.seed, stream::TEST, 0, config.train.test_trials)?;
    let mut noise = Rng::derive(config.seed, &[stream::REC_NOISE, stream::TEST, 0]);
    let result = evaluate(model, task, &test, &mut noise, config.model.loss)?;
    model
        .write_npz(&run.weights())
        .with_context(|| format!("cannot write {}", run.weights().display()))?;
    let record = TrialRecord::new(
        &test,
        result.outputs.clone(),
        result.states.clone(),
        result.rates.clone(),
        task.shape(),
    )
    .with_correct(result.correct.clone());
    let trials_path = run.trials();
    record
        .write(&trials_path)
        .with_context(|| format!("cannot write {}", trials_path.display()))?;
    let by_condition = config.report.condition.as_ref().and_then(|name| {
        let groups: Vec<ConditionAccuracy> = accuracy_by(&test.conditions, &result.correct, name)
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
    let summary = RunSummary {
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
        accuracy_by: by_condition.clone(),
        stages: outcome
            .stage_starts
            .iter()
            .map(|(name, began)| StageStart {
                name: name.clone(),
                began_at_iteration: *began,
            })
            .collect(),
    };
    if config.report.enabled {
        if !quiet {
            outln!("drawing the report…");
        }
        let weights = model.rate_weights().transpose()?;
        if let Err(e) = super::report::write_report(run, config, &record, weights.as_ref()) {
            eprintln!("warning: the report could not be drawn: {e:#} (the run's other files are written; try psychrnn report {})", run.root().display());
        }
    }
    // summary.yaml last: its presence marks the run finished (`sweep status` counts on it).
    run.write_summary(&summary)?;
    if quiet {
        outln!("{}", run.root().display());
    } else {
        outln!(
            "done: test accuracy {:.3} on {} fresh trials after {} iterations ({:.1} s); files in {}",
            result.accuracy,
            config.train.test_trials,
            outcome.iterations,
            outcome.wall_seconds,
            run.root().display()
        );
        if let Some(by) = &by_condition {
            let parts: Vec<String> = by
                .groups
                .iter()
                .map(|g| format!("{} {:.3} ({})", g.value, g.accuracy, g.trials))
                .collect();
            outln!("accuracy by {}: {}", by.condition, parts.join(", "));
        }
    }
    Ok(())
}
