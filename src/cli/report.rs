//! `psychrnn report RUN_DIR`: (re)draws a run's report ([`psychrnn::report::write_report`]),
//! first testing the network when the run has no trials.npz.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::Args;

use super::CliError;
use psychrnn::report::write_report;
use psychrnn::run_dir::RunDir;
use psychrnn::trials_file::TrialRecord;

/// Arguments of `psychrnn report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A run directory written by `psychrnn run`.
    pub run: PathBuf,
    /// The task script, if trials.npz must be made and the recorded script moved.
    #[arg(long)]
    pub script: Option<PathBuf>,
}

/// Runs `psychrnn report`.
pub fn execute(args: &ReportArgs) -> Result<(), CliError> {
    let trials_path = RunDir::new(&args.run).trials();
    if !trials_path.exists() {
        super::test::execute(&super::test::TestArgs {
            run: args.run.clone(),
            trials: RunDir::new(&args.run)
                .read_record()
                .map_err(CliError::run_dir)?
                .experiment
                .train
                .test_trials,
            script: args.script.clone(),
            seed: None,
            out: None,
        })?;
    }
    let trained = super::trained_run::open(&args.run, args.script.as_deref())?;
    let trials = TrialRecord::read(&trials_path).map_err(|m| CliError::input(anyhow!(m)))?;
    let weights = match trained.network.rate_weights() {
        Some(w) => Some(w.map_err(CliError::failed)?),
        None => None,
    };
    let index = write_report(
        &trained.run,
        &trained.record.experiment,
        &trials,
        weights.as_ref(),
    )
    .map_err(|e| {
        if e.is_bad_input() {
            CliError::input(e)
        } else {
            CliError::failed(e)
        }
    })?;
    outln!("report written to {}", index.display());
    Ok(())
}
