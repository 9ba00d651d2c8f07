//! Opening a finished (or interrupted) run for `test`, `simulate`, `fixedpoints` and `report`
//! ([`psychrnn::pipeline::open_trained`]), with the note an unfinished run gets.

use std::path::Path;

use super::CliError;
use psychrnn::kernel::KernelOptions;
use psychrnn::pipeline::{open_trained, TrainedRun};

/// Opens `dir` (its own script copy, or `script`), with `PSYCHRNN_PATH`'s module folders.
pub fn open(dir: &Path, script: Option<&Path>) -> Result<TrainedRun, CliError> {
    let trained = open_trained(
        dir,
        script,
        &super::script_args::env_lib_dirs(),
        KernelOptions::with_threads(super::threads::default_count()),
    )
    .map_err(CliError::pipeline)?;
    if let Some(iteration) = trained.unfinished_at {
        eprintln!(
            "note: {} has not finished training; using its last checkpoint (iteration {iteration})",
            dir.display()
        );
    }
    Ok(trained)
}
