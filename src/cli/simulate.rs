//! `psychrnn simulate RUN_DIR`: run a trained rate RNN on fresh trials, optionally perturbed
//! (silenced units, cut connections, a per-step connectivity mask, different noise), and write
//! inputs, targets, mask, outputs, states, rates and conditions to an `.npz`.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use candle_core::{DType, Device, Tensor};
use clap::Args;

use super::{flag_values, CliError};
use crate::model::{read_npz, NpyArray, RateRnn, RateRnnOptions};
use crate::random::{stream, Rng};
use crate::task::{generate_batch, Task};
use crate::train::batch_tensors;
use crate::trials_file::TrialRecord;

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
    /// Recurrent noise σ_rec instead of the run's (a finite number ≥ 0).
    #[arg(long, value_parser = flag_values::finite_non_negative)]
    pub noise: Option<f64>,
    /// Output file [default: RUN/simulation.npz].
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
}

/// Parses `0-9,12` into unit indices below `n`.
pub fn parse_units(text: &str, n: usize) -> Result<Vec<usize>, String> {
    let mut units = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let parse = |s: &str| {
            s.trim()
                .parse::<usize>()
                .map_err(|_| format!("`{part}` is not a unit or a range like 0-9"))
        };
        let (a, b) = (parse(a)?, parse(b)?);
        if a > b || b >= n {
            return Err(format!(
                "`{part}`: units are 0..{} and a range goes up",
                n.saturating_sub(1)
            ));
        }
        units.extend(a..=b);
    }
    Ok(units)
}

fn step_masks(path: &Path, n_steps: usize, n: usize) -> anyhow::Result<Tensor> {
    let entries = read_npz(path)?;
    let Some(NpyArray::Numeric(shape, values)) = entries.get("connectivity") else {
        return Err(anyhow!(
            "{} has no numeric `connectivity` entry",
            path.display()
        ));
    };
    if shape != &[n_steps, n, n] {
        return Err(anyhow!("{}: `connectivity` has shape {shape:?}, expected [{n_steps}, {n}, {n}] (steps, N_rec, N_rec)", path.display()));
    }
    let v: Vec<f32> = values.iter().map(|&x| x as f32).collect();
    Ok(Tensor::from_vec(v, (n_steps, n, n), &Device::Cpu)?)
}

/// Runs `psychrnn simulate`.
pub fn execute(args: &SimulateArgs) -> Result<(), CliError> {
    let trained = super::trained_run::open(&args.run, args.script.as_deref())?;
    let mut w = trained.rate_weights("simulate")?;
    let (run, record, loaded) = (&trained.run, &trained.record, &trained.loaded);
    let config = &record.experiment;
    let task = loaded.task.as_ref();
    let transfer = config.model.transfer();
    let n = w.n_rec;
    if (w.n_in, w.n_out) != (task.shape().n_in(), task.shape().n_out()) {
        return Err(CliError::input(anyhow!(
            "the network has {} inputs and {} outputs but the script's task has {} and {}",
            w.n_in,
            w.n_out,
            task.shape().n_in(),
            task.shape().n_out()
        )));
    }
    if let Some(text) = &args.silence {
        for j in parse_units(text, n).map_err(|m| CliError::input(anyhow!("--silence {m}")))? {
            (0..n).for_each(|i| w.w_rec[i * n + j] = 0.0);
            (0..w.n_out).for_each(|o| w.w_out[o * n + j] = 0.0);
        }
    }
    for &(from, to) in &args.cuts {
        if from >= n || to >= n {
            return Err(CliError::input(anyhow!(
                "--cut {from}:{to}: the network's units are 0..{}",
                n - 1
            )));
        }
        w.w_rec[to * n + from] = 0.0;
    }
    let shape = task.shape();
    let rate_options = RateRnnOptions {
        alpha: crate::model::alphas(shape.dt, shape.tau, config.model.tau.as_ref()),
        ..RateRnnOptions::new(0.0, args.noise.unwrap_or(config.model.rec_noise), transfer)
    };
    let model =
        RateRnn::new(&w, &rate_options, DType::F32, &Device::Cpu).map_err(CliError::failed)?;
    let seed = args.seed.unwrap_or(config.seed);
    let batch =
        generate_batch(task, seed, stream::SIMULATE, 0, args.trials).map_err(CliError::input)?;
    let (inputs, _, _) =
        batch_tensors(&batch, DType::F32, &Device::Cpu).map_err(CliError::failed)?;
    let noise = model
        .draw_noise(
            &mut Rng::derive(seed, &[stream::SIMULATE, 1]),
            batch.n_steps,
            batch.n_trials,
        )
        .map_err(CliError::failed)?;
    let sim = match &args.connectivity {
        Some(path) => {
            let masks = step_masks(path, batch.n_steps, n).map_err(CliError::input)?;
            model.forward_with_step_masks(&inputs, noise.as_ref(), &masks)
        }
        None => model.forward(&inputs, noise.as_ref()),
    }
    .map_err(CliError::failed)?;
    let out = args.out.clone().unwrap_or_else(|| run.simulation());
    let accuracy = write(&out, task, &batch, &sim, &model).map_err(CliError::failed)?;
    outln!(
        "{} trials simulated, accuracy {accuracy:.3}; written to {}",
        batch.n_trials,
        out.display()
    );
    Ok(())
}

/// Writes the simulation with the task scorer's verdicts; returns the accuracy.
fn write(
    out: &Path,
    task: &dyn Task,
    batch: &crate::task::Batch,
    sim: &crate::model::Simulation,
    model: &RateRnn,
) -> anyhow::Result<f64> {
    let batch_major = |x: &Tensor| -> anyhow::Result<Vec<f32>> {
        Ok(x.transpose(0, 1)?.flatten_all()?.to_vec1()?)
    };
    let outputs = batch_major(&sim.outputs)?;
    let scores = task
        .scorer()
        .score(&outputs, batch, task.shape())
        .map_err(|m| anyhow!("task `{}`: {m}", task.name()))?;
    let record = TrialRecord::new(
        batch,
        outputs,
        batch_major(&sim.states)?,
        batch_major(&model.options().transfer.apply(&sim.states)?)?,
        task.shape(),
    )
    .with_correct(scores.correct);
    record
        .write(out)
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(record.accuracy())
}
