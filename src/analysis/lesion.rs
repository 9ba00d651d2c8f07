//! Lesions of a trained rate network: silenced units (their recurrent and output weights set
//! to 0) and cut connections (one W_rec entry set to 0), and the lesioned network run on fresh
//! trials of its task or on given inputs (`psychrnn simulate`, `--inputs`).

use std::collections::BTreeMap;

use candle_core::{DType, Device, Tensor};

use crate::experiment::ExperimentConfig;
use crate::model::{NpyArray, RateRnn, RateRnnOptions, RateRnnWeights};
use crate::random::{stream, Rng};
use crate::task::{generate_batch, Batch, Task, TaskError, MAX_STEPS};
use crate::train::batch_tensors;
use crate::trials_file::TrialRecord;

/// What is wrong with a lesion or its inputs.
#[derive(Debug, thiserror::Error)]
pub enum LesionError {
    /// A part of a unit list is neither a number nor a range.
    #[error("`{part}` is not a unit or a range like 0-9")]
    NotAUnit {
        /// The offending part, e.g. `x` in `0-3,x`.
        part: String,
    },
    /// A range goes down or past the last unit.
    #[error("`{part}`: units are 0..{last} and a range goes up")]
    BadRange {
        /// The offending part.
        part: String,
        /// The last unit.
        last: usize,
    },
    /// A unit index past the last unit.
    #[error("unit {unit} does not exist: the network's units are 0..{last}")]
    NoSuchUnit {
        /// The index given.
        unit: usize,
        /// The last unit.
        last: usize,
    },
    /// A cut connection names a unit past the last one.
    #[error("{from}:{to}: the network's units are 0..{last}")]
    NoSuchConnection {
        /// The presynaptic unit.
        from: usize,
        /// The postsynaptic unit.
        to: usize,
        /// The last unit.
        last: usize,
    },
    /// A per-step connectivity file is not `[steps, N, N]` or lacks its array.
    #[error("{0}")]
    StepMasks(String),
    /// A file of given inputs lacks `inputs`, has the wrong shapes or non-finite values.
    #[error("{0}")]
    Inputs(String),
    /// The task's channels do not fit the network.
    #[error("the network has {n_in} inputs and {n_out} outputs but the script's task has {task_in} and {task_out}")]
    WrongTask {
        /// The network's inputs.
        n_in: usize,
        /// The network's outputs.
        n_out: usize,
        /// The task's inputs.
        task_in: usize,
        /// The task's outputs.
        task_out: usize,
    },
    /// The task could not draw its trials.
    #[error(transparent)]
    Batch(#[from] TaskError),
    /// The task's scorer failed.
    #[error("{0}")]
    Score(String),
    /// A tensor operation failed.
    #[error(transparent)]
    Tensor(#[from] candle_core::Error),
}

/// Parses a unit list such as `0-9,12` into unit indices below `n`.
///
/// ```
/// use psychrnn::analysis::lesion::parse_units;
/// assert_eq!(parse_units("0-2,7", 8).unwrap(), vec![0, 1, 2, 7]);
/// assert!(parse_units("6-9", 8).is_err(), "unit 9 does not exist");
/// ```
pub fn parse_units(text: &str, n: usize) -> Result<Vec<usize>, LesionError> {
    let mut units = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let parse = |s: &str| {
            s.trim()
                .parse::<usize>()
                .map_err(|_| LesionError::NotAUnit {
                    part: part.to_string(),
                })
        };
        let (a, b) = (parse(a)?, parse(b)?);
        if a > b || b >= n {
            return Err(LesionError::BadRange {
                part: part.to_string(),
                last: n.saturating_sub(1),
            });
        }
        units.extend(a..=b);
    }
    Ok(units)
}

/// A lesion: units silenced and connections cut.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lesion {
    /// Units whose outgoing recurrent weights (W_rec column) and output weights (W_out
    /// column) become 0.
    pub silenced: Vec<usize>,
    /// Connections `(from, to)` whose W_rec entry `W_rec[to, from]` becomes 0.
    pub cut: Vec<(usize, usize)>,
}

impl Lesion {
    /// Applies the lesion to `w` (its effective weights), checking every unit exists first.
    pub fn apply(&self, w: &mut RateRnnWeights) -> Result<(), LesionError> {
        let n = w.n_rec;
        let last = n.saturating_sub(1);
        if let Some(&unit) = self.silenced.iter().find(|&&u| u >= n) {
            return Err(LesionError::NoSuchUnit { unit, last });
        }
        if let Some(&(from, to)) = self.cut.iter().find(|(f, t)| *f >= n || *t >= n) {
            return Err(LesionError::NoSuchConnection { from, to, last });
        }
        for &j in &self.silenced {
            (0..n).for_each(|i| w.w_rec[i * n + j] = 0.0);
            (0..w.n_out).for_each(|o| w.w_out[o * n + j] = 0.0);
        }
        for &(from, to) in &self.cut {
            w.w_rec[to * n + from] = 0.0;
        }
        Ok(())
    }
}

/// The per-step connectivity masks `[steps, N, N]` in the `connectivity` array of an npz
/// file's entries (`file` names it in errors).
pub fn step_masks(
    entries: &BTreeMap<String, NpyArray>,
    file: &str,
    n_steps: usize,
    n: usize,
) -> Result<Tensor, LesionError> {
    let Some(NpyArray::Numeric(shape, values)) = entries.get("connectivity") else {
        return Err(LesionError::StepMasks(format!(
            "{file} has no numeric `connectivity` entry"
        )));
    };
    if shape != &[n_steps, n, n] {
        return Err(LesionError::StepMasks(format!("{file}: `connectivity` has shape {shape:?}, expected [{n_steps}, {n}, {n}] (steps, N_rec, N_rec)")));
    }
    let v: Vec<f32> = values.iter().map(|&x| x as f32).collect();
    Ok(Tensor::from_vec(v, (n_steps, n, n), &Device::Cpu)?)
}

/// A numeric npz entry: its shape and values.
type Shaped<'a> = (&'a Vec<usize>, &'a Vec<f64>);

/// The trials of a file of given inputs (`psychrnn simulate --inputs`; `file` names it in
/// errors): its `inputs` [B, T, N_in] drive the network; its `targets` and `mask` [B, T,
/// N_out] are kept when it has both (a task batch from `psychrnn trials -o batch.npz`), else
/// they are 0 (nothing to score). Shapes that do not fit the network, more than
/// [`MAX_STEPS`] steps, and values that are not finite numbers are errors.
pub fn given_inputs(
    entries: &BTreeMap<String, NpyArray>,
    file: &str,
    n_in: usize,
    n_out: usize,
) -> Result<Batch, LesionError> {
    let fail = |m: String| LesionError::Inputs(format!("{file}: {m}"));
    let array = |key: &str| -> Result<Option<Shaped>, LesionError> {
        match entries.get(key) {
            None => Ok(None),
            Some(NpyArray::Numeric(shape, values)) => Ok(Some((shape, values))),
            Some(_) => Err(fail(format!("`{key}` is not a numeric array"))),
        }
    };
    let Some((shape, inputs)) = array("inputs")? else {
        return Err(fail("has no `inputs` entry [trials, steps, inputs]".into()));
    };
    let &[b, t, i] = shape.as_slice() else {
        return Err(fail(format!(
            "`inputs` has shape {shape:?}, expected [trials, steps, {n_in}]"
        )));
    };
    if i != n_in || b == 0 || t == 0 || t > MAX_STEPS {
        return Err(fail(format!("`inputs` has shape {shape:?}, expected [trials, steps, {n_in}] with at least 1 trial and 1 to {MAX_STEPS} steps")));
    }
    let mut batch = Batch::empty(b, t, n_in, n_out);
    let fill = |key: &str, to: &mut Vec<f32>, values: &[f64]| -> Result<(), LesionError> {
        if let Some(k) = values.iter().position(|v| !v.is_finite()) {
            let per_trial = values.len() / b;
            return Err(fail(format!(
                "`{key}` holds {} at trial {}, step {}, channel {}; values must be finite numbers",
                values[k],
                k / per_trial,
                (k % per_trial) / (per_trial / t),
                k % (per_trial / t)
            )));
        }
        *to = values.iter().map(|&v| v as f32).collect();
        Ok(())
    };
    fill("inputs", &mut batch.inputs, inputs)?;
    match (array("targets")?, array("mask")?) {
        (None, None) => {}
        (Some((ts, targets)), Some((ms, mask))) => {
            for (key, s) in [("targets", ts), ("mask", ms)] {
                if s.as_slice() != [b, t, n_out] {
                    return Err(fail(format!(
                        "`{key}` has shape {s:?}, expected [{b}, {t}, {n_out}] like `inputs`"
                    )));
                }
            }
            fill("targets", &mut batch.targets, targets)?;
            fill("mask", &mut batch.mask, mask)?;
        }
        _ => {
            return Err(fail(
                "has only one of `targets` and `mask`; give both or neither".into(),
            ))
        }
    }
    Ok(batch)
}

/// How a (lesioned) network is run on fresh trials or given inputs.
#[derive(Debug, Clone)]
pub struct SimulationSettings<'a> {
    /// Trials to draw.
    pub trials: usize,
    /// Seed of the trials and the recurrent noise.
    pub seed: u64,
    /// Recurrent noise σ_rec (the run's when `None`).
    pub noise: Option<f64>,
    /// Per-step connectivity masks `[steps, N, N]`, from [`step_masks`].
    pub step_masks: Option<&'a Tensor>,
    /// Given trials ([`given_inputs`]) to run instead of fresh ones (`trials` is then
    /// unused): they are not scored, since the task's scorer needs each trial's conditions
    /// and epochs.
    pub inputs: Option<&'a Batch>,
}

/// Runs the network with effective weights `w` (lesioned or not) on fresh trials of `task`,
/// with the run's time constants and transfer function, and scores them with the task's scorer;
/// or on the given trials of `settings.inputs`, unscored.
pub fn simulate_network(
    w: &RateRnnWeights,
    config: &ExperimentConfig,
    task: &dyn Task,
    settings: &SimulationSettings,
) -> Result<TrialRecord, LesionError> {
    let shape = task.shape();
    if (w.n_in, w.n_out) != (shape.n_in(), shape.n_out()) {
        return Err(LesionError::WrongTask {
            n_in: w.n_in,
            n_out: w.n_out,
            task_in: shape.n_in(),
            task_out: shape.n_out(),
        });
    }
    let options = RateRnnOptions {
        alpha: crate::model::alphas(shape.dt, shape.tau, config.model.tau.as_ref()),
        ..RateRnnOptions::new(
            0.0,
            settings.noise.unwrap_or(config.model.rec_noise),
            config.model.transfer(),
        )
    };
    let model = RateRnn::new(w, &options, DType::F32, &Device::Cpu)?;
    let batch = match settings.inputs {
        Some(given) => given.clone(),
        None => generate_batch(task, settings.seed, stream::SIMULATE, 0, settings.trials)?,
    };
    let (inputs, _, _) = batch_tensors(&batch, DType::F32, &Device::Cpu)?;
    let noise = model.draw_noise(
        &mut Rng::derive(settings.seed, &[stream::SIMULATE, 1]),
        batch.n_steps,
        batch.n_trials,
    )?;
    let sim = match settings.step_masks {
        Some(masks) => model.forward_with_step_masks(&inputs, noise.as_ref(), masks),
        None => model.forward(&inputs, noise.as_ref()),
    }?;
    let batch_major = |x: &Tensor| -> candle_core::Result<Vec<f32>> {
        x.transpose(0, 1)?.flatten_all()?.to_vec1()
    };
    let outputs = batch_major(&sim.outputs)?;
    let record = TrialRecord::new(
        &batch,
        outputs.clone(),
        batch_major(&sim.states)?,
        batch_major(&model.options().transfer.apply(&sim.states)?)?,
        shape,
    );
    if settings.inputs.is_some() {
        return Ok(record);
    }
    let scores = task
        .score(&outputs, &batch, config.model.loss.output_reading())
        .map_err(|m| LesionError::Score(format!("task `{}`: {m}", task.name())))?;
    Ok(record.with_scores(&scores))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_lists_parse_ranges_and_refuse_bad_parts() {
        assert_eq!(parse_units("0-2, 5,", 8).unwrap(), vec![0, 1, 2, 5]);
        assert_eq!(
            parse_units("1,x", 8).unwrap_err().to_string(),
            "`x` is not a unit or a range like 0-9"
        );
        assert_eq!(
            parse_units("3-9", 8).unwrap_err().to_string(),
            "`3-9`: units are 0..7 and a range goes up"
        );
    }
}
