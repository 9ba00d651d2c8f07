//! `psychrnn simulate RUN_DIR`: run a trained rate RNN on fresh trials (or given inputs),
//! optionally perturbed (silenced units, cut connections, a per-step connectivity mask,
//! different noise), and write inputs, targets, mask, outputs, states, rates and conditions to
//! an `.npz`.

use std::path::PathBuf;

use anyhow::{anyhow, Context};
use clap::Args;

use super::{flag_values, CliError};
use psychrnn::analysis::lesion::{
    given_inputs, parse_units, simulate_network, step_masks, Lesion, LesionError,
    SimulationSettings,
};
use psychrnn::model::read_npz;
use psychrnn::task::Task;

/// Arguments of `psychrnn simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// A run directory written by `psychrnn run`.
    pub run: PathBuf,
    /// The task script [default: the script recorded in the run's config.yaml].
    #[arg(long)]
    pub script: Option<PathBuf>,
    /// Number of fresh trials (1 to 100000).
    #[arg(long, short = 'n', default_value_t = 64, value_parser = flag_values::count(flag_values::MAX_TRIALS))]
    pub trials: usize,
    /// Seed of the fresh trials and noise [default: the run's seed].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Units to silence (their rates reach no unit and no output), e.g. 0-9,12.
    #[arg(long, value_name = "UNITS")]
    pub silence: Option<String>,
    /// Remove the connection from unit FROM onto unit TO (repeatable).
    #[arg(long = "cut", value_name = "FROM:TO", value_parser = flag_values::unit_pair)]
    pub cuts: Vec<(usize, usize)>,
    /// An .npz whose `connectivity` entry [T, N_rec, N_rec] multiplies W_rec at each step.
    #[arg(long, value_name = "FILE")]
    pub connectivity: Option<PathBuf>,
    /// An .npz whose `inputs` [B, T, N_in] drive the network instead of fresh trials (its
    /// `targets` and `mask` are kept if it has them; not scored), e.g. an edited `psychrnn trials -o` batch.
    #[arg(long, value_name = "FILE", conflicts_with = "trials")]
    pub inputs: Option<PathBuf>,
    /// Recurrent noise σ_rec instead of the run's (a finite number ≥ 0).
    #[arg(long, value_parser = flag_values::finite_non_negative)]
    pub noise: Option<f64>,
    /// Output file [default: RUN/simulation.npz].
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
}

/// Runs `psychrnn simulate`.
pub fn execute(args: &SimulateArgs) -> Result<(), CliError> {
    let trained = super::trained_run::open(&args.run, args.script.as_deref())?;
    let mut w = trained
        .rate_weights("simulate")
        .map_err(CliError::pipeline)?;
    let (run, record, loaded) = (&trained.run, &trained.record, &trained.loaded);
    let n = w.n_rec;
    let mut lesion = Lesion {
        silenced: Vec::new(),
        cut: args.cuts.clone(),
    };
    if let Some(text) = &args.silence {
        lesion.silenced =
            parse_units(text, n).map_err(|e| CliError::input(anyhow!("--silence {e}")))?;
    }
    lesion.apply(&mut w).map_err(|e| match e {
        LesionError::NoSuchConnection { .. } => CliError::input(anyhow!("--cut {e}")),
        e => CliError::input(e),
    })?;
    let task = loaded.task.as_ref();
    let given = match &args.inputs {
        Some(path) => {
            let entries =
                read_npz(path).map_err(|e| CliError::input(anyhow!("{}: {e}", path.display())))?;
            Some(
                given_inputs(&entries, &path.display().to_string(), w.n_in, w.n_out)
                    .map_err(|e| CliError::input(anyhow!("--inputs {e}")))?,
            )
        }
        None => None,
    };
    let masks = match &args.connectivity {
        Some(path) => {
            let entries =
                read_npz(path).map_err(|e| CliError::input(anyhow!("{}: {e}", path.display())))?;
            let steps = given
                .as_ref()
                .map_or_else(|| task.shape().n_steps(), |b| b.n_steps);
            Some(
                step_masks(&entries, &path.display().to_string(), steps, n)
                    .map_err(CliError::input)?,
            )
        }
        None => None,
    };
    let settings = SimulationSettings {
        trials: args.trials,
        seed: args.seed.unwrap_or(record.experiment.seed),
        noise: args.noise,
        step_masks: masks.as_ref(),
        inputs: given.as_ref(),
    };
    let trials =
        simulate_network(&w, &record.experiment, task, &settings).map_err(|e| match e {
            LesionError::Tensor(_) => CliError::failed(e),
            e => CliError::input(e),
        })?;
    let out = args.out.clone().unwrap_or_else(|| run.simulation());
    trials
        .write(&out)
        .with_context(|| format!("cannot write {}", out.display()))
        .map_err(CliError::failed)?;
    if given.is_some() {
        outln!(
            "{} given trials simulated (not scored); written to {}",
            trials.n_trials,
            out.display()
        );
    } else {
        outln!(
            "{} trials simulated, accuracy {:.3}; written to {}",
            trials.n_trials,
            trials.accuracy(),
            out.display()
        );
    }
    Ok(())
}
