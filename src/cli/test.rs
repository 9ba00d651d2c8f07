//! `psychrnn test RUN_DIR`: run the trained network on fresh trials and write `trials.npz`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::{flag_values, CliError};
use psychrnn::task::Task;

/// Arguments of `psychrnn test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// A run directory written by `psychrnn run`.
    pub run: PathBuf,
    /// Number of fresh trials (1 to 100000).
    #[arg(long, short = 'n', default_value_t = 512, value_parser = flag_values::count(flag_values::MAX_TRIALS))]
    pub trials: usize,
    /// The task script [default: the script recorded in the run's config.yaml].
    #[arg(long)]
    pub script: Option<PathBuf>,
    /// Seed of the fresh trials [default: the run's seed].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output file [default: RUN_DIR/trials.npz].
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
}

/// Runs `psychrnn test`.
pub fn execute(args: &TestArgs) -> Result<(), CliError> {
    let trained = super::trained_run::open(&args.run, args.script.as_deref())?;
    let config = &trained.record.experiment;
    let seed = args.seed.unwrap_or(config.seed);
    let fresh = trained
        .test_fresh_trials(args.trials, seed)
        .map_err(CliError::pipeline)?;
    let (n, accuracy, loss) = (
        fresh.batch.n_trials,
        fresh.evaluation.accuracy,
        fresh.evaluation.loss,
    );
    let metrics = fresh.evaluation.metrics.clone();
    for note in &fresh.stage_notes {
        eprintln!("note: {note}");
    }
    let record = fresh.into_record(trained.loaded.task.shape());
    let out = args.out.clone().unwrap_or_else(|| trained.run.trials());
    record
        .write(&out)
        .with_context(|| format!("cannot write {}", out.display()))
        .map_err(CliError::failed)?;
    outln!(
        "{} fresh trials, accuracy {:.3}, loss {:.5}; written to {}",
        n,
        accuracy,
        loss,
        out.display()
    );
    for (name, value) in &metrics {
        outln!("  {name} {value:.3}");
    }
    Ok(())
}
