//! Opening a finished (or interrupted) run: its settings, its task and its trained network.
//!
//! Every command that opens a run (`test`, `simulate`, `fixedpoints`, `report`) comes through
//! here, so they all read the same network: the parameters of the run's last checkpoint
//! (`checkpoint/`), which weights.npz exports at the end of training. They load the run's own
//! copy of its script (`script/`), with the module folders the run was made with, so they
//! work from any directory and after the original script changed or was deleted.

use std::path::{Path, PathBuf};

use super::PipelineError;
use crate::kernel::KernelOptions;
use crate::model::{build_network_with, Network, RateRnnWeights};
use crate::run_dir::{RunDir, RunLock, RunRecord};
use crate::script::{load_experiment, LoadOptions, LoadedExperiment};
use crate::task::Task;
use crate::train::checkpoint::{read_checkpoint, read_checkpoint_iteration};
use crate::train::new_optimizer;

/// A run opened for testing, reporting or analysis.
pub struct TrainedRun {
    /// The run directory.
    pub run: RunDir,
    /// Held while the caller writes into the run: no training runs there meanwhile.
    pub lock: RunLock,
    /// Its config.yaml.
    pub record: RunRecord,
    /// The experiment, from the run's copy of its script (or the script given).
    pub loaded: LoadedExperiment,
    /// The network with its trained parameters (from the checkpoint).
    pub network: Box<dyn Network + Send + Sync>,
    /// The checkpoint's iteration when the run has not finished training (no summary.yaml).
    pub unfinished_at: Option<usize>,
}

impl TrainedRun {
    /// The rate RNN's effective weights, or an error naming the command that needs them.
    pub fn rate_weights(&self, command: &str) -> Result<RateRnnWeights, PipelineError> {
        match self.network.rate_weights() {
            Some(w) => Ok(w?),
            None => Err(PipelineError::Refused(format!(
                "{command} works on rate RNNs; this run trained a {:?}",
                self.record.experiment.model.kind
            ))),
        }
    }
}

/// Opens `dir`: takes its lock, reads config.yaml, loads the run's script (or `script`) with
/// the run's overrides and seed, rebuilds the network and restores its trained parameters.
/// `lib_dirs` are module folders searched after the run's own (e.g. `PSYCHRNN_PATH`); `kernel`
/// sets the rebuilt network's thread count and kernel path.
pub fn open_trained(
    dir: &Path,
    script: Option<&Path>,
    lib_dirs: &[PathBuf],
    kernel: KernelOptions,
) -> Result<TrainedRun, PipelineError> {
    let run = RunDir::new(dir);
    let record = run.read_record()?;
    let lock = run.lock()?;
    let overrides = super::recorded_overrides(&record)?;
    let source = run.script_source(&record, lib_dirs);
    let script: PathBuf = script.map(Path::to_path_buf).unwrap_or(source.script);
    let options = LoadOptions {
        overrides,
        seed: Some(record.experiment.seed),
        lib_dirs: source.lib_dirs,
        bundled_modules: source.bundled_modules,
        libraries: None,
    };
    let loaded = load_experiment(&script, &options).map_err(PipelineError::RecordedScript)?;
    crate::validation::validate(&loaded)?;
    let config = &record.experiment;
    let base = script.parent().unwrap_or(Path::new("."));
    let network = build_network_with(
        &config.model,
        loaded.task.shape(),
        config.seed,
        base,
        kernel,
    )?
    .network;
    let mut optimizer = new_optimizer(network.as_ref(), &config.train)?;
    let Some(iteration) = read_checkpoint_iteration(&run.checkpoint()) else {
        return Err(PipelineError::Refused(format!(
            "{} has no checkpoint yet: its training was stopped before the first one; psychrnn run --resume {} trains it",
            dir.display(),
            dir.display()
        )));
    };
    read_checkpoint(&run.checkpoint(), network.as_ref(), &mut optimizer)?;
    let unfinished_at = (!run.summary().exists()).then_some(iteration);
    Ok(TrainedRun {
        run,
        lock,
        record,
        loaded,
        network,
        unfinished_at,
    })
}
