//! `psychrnn run SCRIPT`: train the experiment a script declares and write its run directory.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use super::script_args::ScriptArgs;
use super::CliError;
use crate::experiment::{ExperimentConfig, RunRecord};
use crate::model::{build_network, Network};
use crate::random::{stream, Rng};
use crate::run_dir::{write_atomic, RunDir};
use crate::script::Override;
use crate::task::{generate_batch, Task};
use crate::train::{evaluate, train, HistoryRow, StopReason, TrainOutcome};

/// Arguments of `psychrnn run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The script and how to resolve it.
    #[command(flatten)]
    pub script: ScriptArgs,
    /// Run directory [default: runs/<experiment name>, or runs/<name>-2, … if taken].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print nothing but errors and the run directory.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Runs `psychrnn run`.
pub fn execute(args: &RunArgs) -> Result<(), CliError> {
    let loaded = args.script.load()?;
    let config = loaded.config.clone();
    let task: Arc<dyn Task> = loaded.task.clone();
    // Draw a first batch before anything is written: a script that fails on its trials
    // leaves no run directory behind.
    generate_batch(
        task.as_ref(),
        config.seed,
        stream::TRAIN,
        0,
        config.train.batch_size.min(8),
    )
    .map_err(CliError::input)?;

    let base_dir = args.script.script.parent().unwrap_or(Path::new("."));
    let built = build_network(&config.model, task.shape(), config.seed, base_dir)
        .map_err(CliError::input)?;

    let run = match &args.out {
        Some(dir) => {
            let run = RunDir::new(dir);
            if run.holds_run() {
                return Err(CliError::input(anyhow::anyhow!(
                    "{} already holds a run; choose another --out (or omit it to get a fresh runs/<name>-N)",
                    dir.display()
                )));
            }
            run
        }
        None => RunDir::next_free(Path::new("runs"), &config.name),
    };
    run.create()
        .with_context(|| format!("cannot create run directory {}", run.root().display()))
        .map_err(CliError::failed)?;
    let record = RunRecord {
        psychrnn_version: env!("CARGO_PKG_VERSION").to_string(),
        script: args.script.script.display().to_string(),
        script_sha256: loaded.script_sha256.clone(),
        overrides: args.script.overrides.iter().map(override_text).collect(),
        experiment: config.clone(),
    };
    let yaml = serde_norway::to_string(&record).expect("config serialises");
    write_atomic(&run.config(), yaml.as_bytes())
        .with_context(|| format!("cannot write {}", run.config().display()))
        .map_err(CliError::failed)?;

    let quiet = args.quiet;
    if !quiet {
        outln!(
            "psychrnn {}: {} — {} units, {} iterations of {} trials → {}",
            env!("CARGO_PKG_VERSION"),
            config.name,
            config.model.n_rec,
            config.train.iterations,
            config.train.batch_size,
            run.root().display()
        );
    }
    for note in &built.notes {
        eprintln!("note: {note}");
    }
    let outcome = train_and_save(&config, built.network.as_ref(), task, &run, quiet)
        .map_err(CliError::failed)?;
    if quiet {
        outln!("{}", run.root().display());
    } else {
        outln!(
            "done: test accuracy {:.3} on {} fresh trials after {} iterations ({:.1} s); files in {}",
            outcome.1,
            config.train.test_trials,
            outcome.0.iterations,
            outcome.0.wall_seconds,
            run.root().display()
        );
    }
    Ok(())
}

fn override_text(o: &Override) -> String {
    let v = serde_norway::to_string(&o.value).unwrap_or_default();
    format!("{}={}", o.path, v.trim_end())
}

/// Builds the network, trains it, tests it on fresh trials and writes every file.
/// Returns the training outcome and the test accuracy.
fn train_and_save(
    config: &ExperimentConfig,
    model: &dyn Network,
    task: Arc<dyn Task>,
    run: &RunDir,
    quiet: bool,
) -> anyhow::Result<(TrainOutcome, f64)> {
    let mut csv = String::from("iteration,trials_seen,loss,eval_loss,accuracy,seconds\n");
    let mut write_error = None;
    let history_path = run.history();
    let total = config.train.iterations;
    let outcome = train(
        model,
        task.clone(),
        &config.train,
        config.model.loss,
        config.seed,
        |row: &HistoryRow| {
            let _ = writeln!(
                csv,
                "{},{},{},{},{},{:.3}",
                row.iteration, row.trials_seen, row.loss, row.eval_loss, row.accuracy, row.seconds
            );
            if let Err(e) = write_atomic(&history_path, csv.as_bytes()) {
                write_error.get_or_insert(e);
            }
            if !quiet {
                outln!(
                    "iter {:>6}/{total}  loss {:.5}  eval loss {:.5}  accuracy {:.3}  {:>7.1}s",
                    row.iteration,
                    row.loss,
                    row.eval_loss,
                    row.accuracy,
                    row.seconds
                );
            }
        },
    )?;
    if let Some(e) = write_error {
        return Err(e).with_context(|| format!("cannot write {}", history_path.display()));
    }
    if outcome.stop_reason == StopReason::AccuracyReached && !quiet {
        outln!("stopping early: accuracy reached train.stop_at_accuracy");
    }
    let test = generate_batch(
        task.as_ref(),
        config.seed,
        stream::TEST,
        0,
        config.train.test_trials,
    )?;
    let mut noise = Rng::derive(config.seed, &[stream::REC_NOISE, stream::TEST, 0]);
    let result = evaluate(model, &test, &mut noise, config.model.loss)?;
    model
        .write_npz(&run.weights())
        .with_context(|| format!("cannot write {}", run.weights().display()))?;
    let summary = format!(
        "final_accuracy: {}\nfinal_loss: {}\ntest_trials: {}\niterations: {}\ntrials_seen: {}\nwall_seconds: {:.3}\nbatch_wait_seconds: {:.3}\nstop_reason: {}\n",
        result.accuracy,
        result.loss,
        config.train.test_trials,
        outcome.iterations,
        outcome.trials_seen,
        outcome.wall_seconds,
        outcome.batch_wait_seconds,
        match outcome.stop_reason {
            StopReason::Iterations => "iterations",
            StopReason::AccuracyReached => "accuracy_reached",
        }
    );
    write_atomic(&run.summary(), summary.as_bytes())
        .with_context(|| format!("cannot write {}", run.summary().display()))?;
    Ok((outcome, result.accuracy))
}
