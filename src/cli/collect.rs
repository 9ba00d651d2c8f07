//! `psychrnn collect SWEEP_DIR`: one row per run in `sweep.csv` and a comparison report.

use std::path::PathBuf;

use clap::Args;

use super::CliError;
use psychrnn::sweep::collect_sweep;

/// Arguments of `psychrnn collect`.
#[derive(Debug, Args)]
pub struct CollectArgs {
    /// The sweep folder.
    pub dir: PathBuf,
    /// Accuracy that counts as learned, for iterations to criterion.
    #[arg(long, default_value_t = 0.9)]
    pub criterion: f64,
}

/// Runs `psychrnn collect`.
pub fn execute(args: &CollectArgs) -> Result<(), CliError> {
    let collected = collect_sweep(&args.dir, args.criterion).map_err(super::sweep::cli_error)?;
    outln!(
        "{} of {} runs collected into {} and {}",
        collected.done,
        collected.runs,
        collected.table.display(),
        collected.index.display()
    );
    Ok(())
}
