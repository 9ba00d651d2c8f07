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
use crate::random::{stream, Rng};
use crate::run_dir::{RunDir, RunLock, RunRecord};
use crate::script::{load_experiment, LoadOptions, LoadedExperiment};
use crate::task::{generate_batch, Batch, Task};
use crate::train::checkpoint::{read_checkpoint, read_checkpoint_iteration};
use crate::train::{evaluate, new_optimizer, Evaluation};
use crate::trials_file::{StageBehaviours, TrialRecord};

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
    /// The script the experiment was loaded from (its folder resolves `model.load`).
    pub script: PathBuf,
    /// How the network runs.
    pub kernel: KernelOptions,
}

/// Fresh trials run through a trained network (what `psychrnn test` writes).
pub struct FreshTrials {
    /// The trials.
    pub batch: Batch,
    /// The network's outputs, states and rates on them, their loss and the scorer's verdicts.
    pub evaluation: Evaluation,
    /// A curriculum's earlier stages run on the same trials (see [`super::stages`]).
    pub stages: Option<StageBehaviours>,
    /// What could not be shown of the stages (a stage without its parameters file).
    pub stage_notes: Vec<String>,
}

impl FreshTrials {
    /// The trials with the network's arrays and verdicts, as trials.npz holds them.
    pub fn into_record(self, shape: &crate::task::TaskShape) -> TrialRecord {
        let e = self.evaluation;
        TrialRecord::new(&self.batch, e.outputs, e.states, e.rates, shape)
            .with_verdicts(e.correct, &e.credit)
            .with_stages(self.stages)
    }
}

impl TrainedRun {
    /// Runs `n` fresh trials drawn under `seed` through the network: batch 1 of the test
    /// stream (the run's own final test used batch 0), with recurrent noise from that batch's
    /// own stream, so the same seed gives the same trials and outputs. A finished run with a
    /// curriculum also runs the network of each earlier stage on them.
    pub fn test_fresh_trials(&self, n: usize, seed: u64) -> Result<FreshTrials, PipelineError> {
        let task = self.loaded.task.as_ref();
        let batch = generate_batch(task, seed, stream::TEST, 1, n)?;
        let noise = Rng::derive(seed, &[stream::REC_NOISE, stream::TEST, 1]);
        let evaluation = evaluate(
            self.network.as_ref(),
            task,
            &batch,
            &mut noise.clone(),
            self.record.experiment.model.loss,
        )?;
        let (stages, stage_notes) = match (self.unfinished_at, self.run.read_summary()?) {
            (None, Some(summary)) => super::stages::stage_behaviours(
                &super::stages::StageSource {
                    config: &self.record.experiment,
                    task,
                    run: &self.run,
                    base_dir: self.script.parent().unwrap_or(Path::new(".")),
                    kernel: self.kernel,
                },
                &summary.stages,
                summary.iterations,
                &batch,
                &noise,
            )?,
            _ => (None, Vec::new()),
        };
        Ok(FreshTrials {
            batch,
            evaluation,
            stages,
            stage_notes,
        })
    }

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
        script,
        kernel,
    })
}
