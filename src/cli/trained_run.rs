//! Opening a finished (or interrupted) run: its settings, its task and its trained network.

use std::path::{Path, PathBuf};

use anyhow::anyhow;

use super::CliError;
use crate::experiment::RunRecord;
use crate::model::{build_network, Network};
use crate::run_dir::RunDir;
use crate::script::{load_experiment, LoadOptions, LoadedExperiment, Override};
use crate::task::Task;
use crate::train::checkpoint::read_checkpoint;
use crate::train::new_optimizer;

/// A run opened for testing, reporting or analysis.
pub struct TrainedRun {
    /// The run directory.
    pub run: RunDir,
    /// Its config.yaml.
    pub record: RunRecord,
    /// The experiment, from the run's script (or `--script`).
    pub loaded: LoadedExperiment,
    /// The network with its trained parameters (from the checkpoint).
    pub network: Box<dyn Network + Send + Sync>,
}

/// Opens `dir`: reads config.yaml, loads the script it names (or `script`) with the run's
/// overrides and seed, rebuilds the network and restores its trained parameters.
pub fn open(dir: &Path, script: Option<&Path>) -> Result<TrainedRun, CliError> {
    let run = RunDir::new(dir);
    let record = run.read_record().map_err(|m| CliError::input(anyhow!(m)))?;
    let overrides = record
        .overrides
        .iter()
        .map(|o| o.parse::<Override>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|m| CliError::input(anyhow!("config.yaml overrides: {m}")))?;
    let script: PathBuf = script
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(&record.script));
    let options = LoadOptions {
        overrides,
        seed: Some(record.experiment.seed),
        lib_dirs: Vec::new(),
    };
    let loaded = load_experiment(&script, &options)
        .map_err(|e| CliError::input(anyhow!("{e} (give the task script with --script)")))?;
    let config = &record.experiment;
    let base = script.parent().unwrap_or(Path::new("."));
    let network = build_network(&config.model, loaded.task.shape(), config.seed, base)
        .map_err(CliError::input)?
        .network;
    let mut optimizer = new_optimizer(network.as_ref(), &config.train).map_err(CliError::failed)?;
    read_checkpoint(&run.checkpoint(), network.as_ref(), &mut optimizer)
        .map_err(|m| CliError::input(anyhow!(m)))?;
    Ok(TrainedRun {
        run,
        record,
        loaded,
        network,
    })
}
