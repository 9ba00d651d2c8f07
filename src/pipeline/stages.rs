//! A curriculum's networks as each stage ended, run on the test trials: what the report's
//! per-stage psychometric curves and accuracies are drawn from.
//!
//! Training saves the parameters each stage but the last ended with (`stages/stage_<k>.npz`);
//! at the end of the run (and in `psychrnn test`) each is loaded into a freshly built network
//! of the run's model and run on the same test trials with the same recurrent noise as the
//! final network, so the stages differ only by their weights.

use std::path::Path;

use super::PipelineError;
use crate::experiment::ExperimentConfig;
use crate::kernel::KernelOptions;
use crate::model::build_network_with;
use crate::random::Rng;
use crate::run_dir::{RunDir, StageStart};
use crate::task::{Batch, Task};
use crate::train::checkpoint::read_parameters;
use crate::train::evaluate_behaviour;
use crate::trials_file::StageBehaviours;

/// Where the stages' networks are rebuilt from: the run's settings and the folder its
/// script's relative paths (`model.load`) are read from.
pub struct StageSource<'a> {
    /// The resolved experiment.
    pub config: &'a ExperimentConfig,
    /// The task the test trials are of (the experiment's own).
    pub task: &'a dyn Task,
    /// The run directory holding `stages/`.
    pub run: &'a RunDir,
    /// The folder of the run's script.
    pub base_dir: &'a Path,
    /// How the rebuilt networks run.
    pub kernel: KernelOptions,
}

/// Runs the network of every stage in `stages` (the run's stage starts, in order) that ended
/// before the last on `batch`, each with noise from a copy of `noise`, and returns their
/// behaviour with the last stage (ended at `last_iteration`, whose outputs the caller has).
/// `None` when the run had one stage. A stage whose parameters file is missing (a run begun by
/// a psychrnn that did not save them) is left out and named in the returned notes.
pub fn stage_behaviours(
    source: &StageSource<'_>,
    stages: &[StageStart],
    last_iteration: usize,
    batch: &Batch,
    noise: &Rng,
) -> Result<(Option<StageBehaviours>, Vec<String>), PipelineError> {
    let Some(last) = stages.last() else {
        return Ok((None, Vec::new()));
    };
    if stages.len() < 2 {
        return Ok((None, Vec::new()));
    }
    let mut shown = Vec::new();
    let mut outputs = Vec::new();
    let mut credit = Vec::new();
    let mut notes = Vec::new();
    for (k, stage) in stages[..stages.len() - 1].iter().enumerate() {
        let ended_at = stages[k + 1].began_at_iteration.saturating_sub(1);
        let path = source.run.stage_parameters(k);
        if !path.exists() {
            notes.push(format!(
                "curriculum stage '{}' (ended at iteration {ended_at}): no {} (the run was begun by a psychrnn that did not save stage parameters), so its per-stage curve is left out",
                stage.name,
                path.display()
            ));
            continue;
        }
        let network = build_network_with(
            &source.config.model,
            source.task.shape(),
            source.config.seed,
            source.base_dir,
            source.kernel,
        )?
        .network;
        read_parameters(&path, network.as_ref())?;
        let evaluation = evaluate_behaviour(
            network.as_ref(),
            source.task,
            batch,
            &mut noise.clone(),
            source.config.model.loss,
        )?;
        shown.push((stage.name.clone(), ended_at));
        outputs.extend(evaluation.outputs);
        credit.extend(evaluation.credit);
    }
    if shown.is_empty() {
        return Ok((None, notes));
    }
    shown.push((last.name.clone(), last_iteration));
    Ok((
        Some(StageBehaviours {
            stages: shown,
            outputs,
            credit,
        }),
        notes,
    ))
}
