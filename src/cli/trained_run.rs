//! Opening a finished (or interrupted) run: its settings, its task and its trained network.
//!
//! Every command that opens a run (`test`, `simulate`, `fixedpoints`, `report`) comes through
//! here, so they all read the same network: the parameters of the run's last checkpoint
//! (`checkpoint/`), which weights.npz exports at the end of training. They load the run's own
//! copy of its script (`script/`), with the module folders the run was made with, so they
//! work from any directory and after the original script changed or was deleted.

use std::path::{Path, PathBuf};

use anyhow::anyhow;

use super::CliError;
use crate::model::{build_network_with, Network, RateRnnWeights};
use crate::run_dir::{RunDir, RunLock, RunRecord};
use crate::script::{load_experiment, LoadOptions, LoadedExperiment, Override};
use crate::task::Task;
use crate::train::checkpoint::{read_checkpoint, read_checkpoint_iteration};
use crate::train::new_optimizer;

/// A run opened for testing, reporting or analysis.
pub struct TrainedRun {
    /// The run directory.
    pub run: RunDir,
    /// Held while the command writes into the run: no training runs there meanwhile.
    pub lock: RunLock,
    /// Its config.yaml.
    pub record: RunRecord,
    /// The experiment, from the run's copy of its script (or `--script`).
    pub loaded: LoadedExperiment,
    /// The network with its trained parameters (from the checkpoint).
    pub network: Box<dyn Network + Send + Sync>,
}

impl TrainedRun {
    /// The rate RNN's effective weights, or an error naming the command that needs them.
    pub fn rate_weights(&self, command: &str) -> Result<RateRnnWeights, CliError> {
        match self.network.rate_weights() {
            Some(w) => w.map_err(CliError::failed),
            None => Err(CliError::input(anyhow!(
                "{command} works on rate RNNs; this run trained a {:?}",
                self.record.experiment.model.kind
            ))),
        }
    }
}

/// Opens `dir`: takes its lock, reads config.yaml, loads the run's script (or `script`) with
/// the run's overrides and seed, rebuilds the network and restores its trained parameters.
pub fn open(dir: &Path, script: Option<&Path>) -> Result<TrainedRun, CliError> {
    let run = RunDir::new(dir);
    let record = run.read_record().map_err(CliError::run_dir)?;
    let lock = run.lock().map_err(CliError::run_dir)?;
    let overrides = record
        .overrides
        .iter()
        .map(|o| o.parse::<Override>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|m| CliError::input(anyhow!("config.yaml overrides: {m}")))?;
    let source = run.script_source(&record, &super::script_args::env_lib_dirs());
    let script: PathBuf = script.map(Path::to_path_buf).unwrap_or(source.script);
    let options = LoadOptions {
        overrides,
        seed: Some(record.experiment.seed),
        lib_dirs: source.lib_dirs,
        bundled_modules: source.bundled_modules,
    };
    let loaded = load_experiment(&script, &options)
        .map_err(|e| CliError::input(anyhow!("{e} (give the task script with --script)")))?;
    crate::validation::validate(&loaded).map_err(CliError::input)?;
    let config = &record.experiment;
    let base = script.parent().unwrap_or(Path::new("."));
    let kernel = crate::kernel::KernelOptions::with_threads(super::threads::default_count());
    let network = build_network_with(
        &config.model,
        loaded.task.shape(),
        config.seed,
        base,
        kernel,
    )
    .map_err(CliError::input)?
    .network;
    let mut optimizer = new_optimizer(network.as_ref(), &config.train).map_err(CliError::failed)?;
    if read_checkpoint_iteration(&run.checkpoint()).is_none() {
        return Err(CliError::input(anyhow!(
            "{} has no checkpoint yet: its training was stopped before the first one; psychrnn run --resume {} trains it",
            dir.display(),
            dir.display()
        )));
    }
    read_checkpoint(&run.checkpoint(), network.as_ref(), &mut optimizer)
        .map_err(|m| CliError::input(anyhow!(m)))?;
    if !run.summary().exists() {
        eprintln!(
            "note: {} has not finished training; using its last checkpoint (iteration {})",
            dir.display(),
            read_checkpoint_iteration(&run.checkpoint()).unwrap_or(0)
        );
    }
    Ok(TrainedRun {
        run,
        lock,
        record,
        loaded,
        network,
    })
}
