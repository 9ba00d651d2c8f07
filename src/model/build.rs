//! Building the network an experiment's `model` section describes.

use std::path::Path;

use candle_core::{DType, Device};

use super::config::{ModelConfig, ModelKind, Tau};
use super::gated::{Cell, GatedRnn, GatedWeights};
use super::{
    initial_weights, read_weights_npz, Constraints, LoadedWeights, Network, RateRnn,
    RateRnnOptions, RecordedTransfer, Regularization, Trainable, Transfer,
};
use crate::config_error::ConfigError;
use crate::kernel::KernelOptions;
use crate::task::TaskShape;

/// A network ready to train, with notes for the user (e.g. what a weights file held that was
/// not used).
pub struct BuiltNetwork {
    /// The network.
    pub network: Box<dyn Network + Send + Sync>,
    /// The model section as built: the transfer function always set, and with `load` the
    /// Dale ratio and `autapses` the file's. Record this one (config.yaml), not the input.
    pub model: ModelConfig,
    /// Things the user should know.
    pub notes: Vec<String>,
}

fn regularization(c: &ModelConfig) -> Regularization {
    Regularization {
        l1_in: c.l1_in,
        l1_rec: c.l1_rec,
        l1_out: c.l1_out,
        l2_in: c.l2_in,
        l2_rec: c.l2_rec,
        l2_out: c.l2_out,
        l2_firing_rate: c.l2_firing_rate,
    }
}

/// α = dt/τ for `model.tau` = `tau` (`None`: the task's `task_tau`), unchecked: one value
/// when τ is shared, else one per unit.
pub fn alphas(dt: f64, task_tau: f64, tau: Option<&Tau>) -> Vec<f64> {
    match tau {
        None => vec![dt / task_tau],
        Some(Tau::All(t)) => vec![dt / t],
        Some(Tau::PerUnit(ts)) => ts.iter().map(|t| dt / t).collect(),
    }
}

/// [`alphas`] for a network of `c` on a task of `shape`, checked: one τ per unit, each ≥ dt.
fn checked_alphas(c: &ModelConfig, shape: &TaskShape) -> Result<Vec<f64>, ConfigError> {
    let taus = match &c.tau {
        None => vec![shape.tau],
        Some(Tau::All(t)) => vec![*t],
        Some(Tau::PerUnit(v)) => {
            if v.len() != c.n_rec {
                return Err(ConfigError::new(
                    "model.tau",
                    format!(
                        "has {} values; give one number or one per unit ({})",
                        v.len(),
                        c.n_rec
                    ),
                ));
            }
            v.clone()
        }
    };
    if let Some((u, t)) = taus
        .iter()
        .enumerate()
        .find(|&(_, &t)| !(t.is_finite() && t >= shape.dt))
    {
        let which = if taus.len() > 1 {
            format!(" (unit {u})")
        } else {
            String::new()
        };
        return Err(ConfigError::new(
            "model.tau",
            format!(
                "{t} ms{which} must be a number ≥ dt = {} ms (α = dt/τ ≤ 1)",
                shape.dt
            ),
        ));
    }
    Ok(alphas(shape.dt, shape.tau, c.tau.as_ref()))
}

/// Builds the network for `c` on a task of `shape`, initial weights drawn from `seed` (or
/// read from `c.load`: a relative path is looked up in `base_dir`, the script's folder, then in
/// the current directory). With `load`, weights, masks, the Dale ratio and the transfer
/// function come from the file: a setting left unset is filled from it, and one that
/// contradicts it (transfer function, Dale ratio, autapses, a connectivity mask, N_rec) is an
/// error naming both values. The fused kernels run on one thread ([`build_network_with`]
/// chooses).
pub fn build_network(
    c: &ModelConfig,
    shape: &TaskShape,
    seed: u64,
    base_dir: &Path,
) -> Result<BuiltNetwork, ConfigError> {
    build_network_with(c, shape, seed, base_dir, KernelOptions::default())
}

/// [`build_network`] with the fused kernels run as `kernel` says (`psychrnn run --threads`).
pub fn build_network_with(
    c: &ModelConfig,
    shape: &TaskShape,
    seed: u64,
    base_dir: &Path,
    kernel: KernelOptions,
) -> Result<BuiltNetwork, ConfigError> {
    c.check_units()?;
    let (n_in, n_out) = (shape.n_in(), shape.n_out());
    if c.kind != ModelKind::RateRnn {
        let only_rate = [
            ("dale_ratio", c.dale_ratio.is_some()),
            ("input_connectivity", c.input_connectivity.is_some()),
            ("rec_connectivity", c.rec_connectivity.is_some()),
            ("output_connectivity", c.output_connectivity.is_some()),
            ("fixed_w_in", c.fixed_w_in.is_some()),
            ("fixed_w_rec", c.fixed_w_rec.is_some()),
            ("fixed_w_out", c.fixed_w_out.is_some()),
            ("rec_noise", c.rec_noise != 0.0),
            ("load", c.load.is_some()),
        ];
        if let Some((key, _)) = only_rate.iter().find(|(_, set)| *set) {
            return Err(ConfigError::new(
                format!("model.{key}"),
                format!("applies to model.kind = rate_rnn only, not {:?}", c.kind).to_lowercase(),
            ));
        }
        let cell = if c.kind == ModelKind::Lstm {
            Cell::Lstm
        } else {
            Cell::Gru
        };
        let w = GatedWeights::initial(cell, n_in, c.n_rec, n_out, seed);
        let mut network = GatedRnn::new(&w, regularization(c), DType::F32, &Device::Cpu)
            .map_err(|e| ConfigError::new("model", e.to_string()))?;
        network.fused = c.fused;
        network.kernel = kernel;
        return Ok(BuiltNetwork {
            network: Box::new(network),
            model: c.clone(),
            notes: Vec::new(),
        });
    }
    let mut model = c.clone();
    let mut notes = Vec::new();
    let weights = match &c.load {
        None => {
            let k = Constraints::from_config(c, n_in, n_out)?;
            model.transfer_function = Some(c.transfer());
            initial_weights(c, &k, seed)
        }
        Some(file) => {
            // Relative to the script's folder, else to the current directory.
            let path = match base_dir.join(file) {
                p if p.exists() || Path::new(file).is_absolute() => p,
                _ => Path::new(file).to_path_buf(),
            };
            let loaded = read_weights_npz(&path)
                .map_err(|e| ConfigError::new("model.load", e.to_string()))?;
            let w = &loaded.weights;
            if (w.n_in, w.n_rec, w.n_out) != (n_in, c.n_rec, n_out) {
                return Err(ConfigError::new(
                    "model.load",
                    format!(
                        "{} holds a network with N_in = {}, N_rec = {}, N_out = {}, but the experiment has N_in = {n_in}, N_rec = {}, N_out = {n_out} (model.n_rec and the task's input and output channels must match the file; set model.n_rec = {} for this file)",
                        path.display(), w.n_in, w.n_rec, w.n_out, c.n_rec, w.n_rec
                    ),
                ));
            }
            model = settings_from_file(c, &loaded, &path, &mut notes)?;
            if !loaded.ignored.is_empty() {
                notes.push(format!(
                    "{}: not used: {}",
                    path.display(),
                    loaded.ignored.join("; ")
                ));
            }
            loaded.weights
        }
    };
    // Fixed-synapse masks (and, without load, everything else) from the resolved settings.
    let k = Constraints::from_config(&model, n_in, n_out)?;
    let c = &model;
    let options = RateRnnOptions {
        alpha: checked_alphas(c, shape)?,
        rec_noise: c.rec_noise,
        transfer: c.transfer(),
        trainable: Trainable {
            init_state: c.init_state_train,
            w_in: c.w_in_train,
            w_rec: c.w_rec_train,
            w_out: c.w_out_train,
            b_rec: c.b_rec_train,
            b_out: c.b_out_train,
        },
        fixed: [
            k.fixed_w_in.clone(),
            k.fixed_w_rec.clone(),
            k.fixed_w_out.clone(),
        ],
        regularization: regularization(c),
        fused: c.fused,
        kernel,
    };
    let network = RateRnn::new(&weights, &options, DType::F32, &Device::Cpu)
        .map_err(|e| ConfigError::new("model", e.to_string()))?;
    Ok(BuiltNetwork {
        network: Box::new(network),
        model,
        notes,
    })
}

fn value_text(v: Option<f64>) -> String {
    v.map_or("null (no Dale's principle)".to_string(), |r| r.to_string())
}

/// The model settings with what `loaded` (read from `path`) fixes: unset ones filled from the
/// file, contradicting ones refused.
fn settings_from_file(
    c: &ModelConfig,
    loaded: &LoadedWeights,
    path: &Path,
    notes: &mut Vec<String>,
) -> Result<ModelConfig, ConfigError> {
    let file = path.display();
    let w = &loaded.weights;
    let n = w.n_rec;
    let mut model = c.clone();
    notes.extend(loaded.notes.iter().cloned());
    let names = "relu, tanh, sigmoid, softplus, linear";
    model.transfer_function = Some(match (c.transfer_function, &loaded.transfer) {
        (Some(set), RecordedTransfer::Known(saved)) if set != *saved => {
            return Err(ConfigError::new(
                "model.transfer_function",
                format!(
                    "is {} but {file} records transfer_function {}; remove the setting or make them agree",
                    transfer_name(set),
                    transfer_name(*saved)
                ),
            ))
        }
        (_, RecordedTransfer::Known(saved)) => *saved,
        (Some(set), RecordedTransfer::Unknown(what)) => {
            notes.push(format!(
                "{file} records transfer_function {what}, which psychrnn does not know; using model.transfer_function = {} as set",
                transfer_name(set)
            ));
            set
        }
        (None, RecordedTransfer::Unknown(what)) => {
            return Err(ConfigError::new(
                "model.transfer_function",
                format!(
                    "is not set and {file} records transfer_function {what}, which psychrnn does not know; set model.transfer_function to the one it computes ({names})"
                ),
            ))
        }
        (Some(set), RecordedTransfer::NotRecorded) => set,
        (None, RecordedTransfer::NotRecorded) => {
            return Err(ConfigError::new(
                "model.transfer_function",
                format!(
                    "is not set and {file} does not record its transfer function (an older file); set model.transfer_function to the one it was trained with ({names})"
                ),
            ))
        }
    });
    match (c.dale_ratio, w.dale_ratio) {
        (Some(set), saved) if saved.is_none_or(|r| (r - set).abs() > 1e-12) => {
            return Err(ConfigError::new(
                "model.dale_ratio",
                match saved {
                    Some(r) => format!(
                        "is {set} but {file} has Dale_rec for ratio {r}; remove the setting or make them agree"
                    ),
                    None => format!(
                        "is {set} but {file} holds a network without Dale's principle (dale_ratio {}); remove the setting or load a file trained with Dale's principle",
                        value_text(None)
                    ),
                },
            ));
        }
        _ => model.dale_ratio = w.dale_ratio,
    }
    let self_connected: Vec<usize> = (0..n)
        .filter(|&i| w.rec_connectivity[i * n + i] != 0.0)
        .collect();
    if !c.autapses && !self_connected.is_empty() {
        return Err(ConfigError::new(
            "model.autapses",
            format!(
                "is false but {file} has self-connections (rec_connectivity[{u}][{u}] = {} for unit {u}); remove the setting or load a file without autapses",
                w.rec_connectivity[self_connected[0] * n + self_connected[0]],
                u = self_connected[0]
            ),
        ));
    }
    model.autapses = !self_connected.is_empty();
    for (key, set, saved, cols) in [
        (
            "input_connectivity",
            &c.input_connectivity,
            &w.input_connectivity,
            w.n_in,
        ),
        (
            "rec_connectivity",
            &c.rec_connectivity,
            &w.rec_connectivity,
            n,
        ),
        (
            "output_connectivity",
            &c.output_connectivity,
            &w.output_connectivity,
            n,
        ),
    ] {
        let Some(rows) = set else { continue };
        let flat: Vec<f32> = rows.iter().flatten().map(|&v| v as f32).collect();
        if flat.len() != saved.len() || rows.iter().any(|r| r.len() != cols) {
            return Err(ConfigError::new(
                format!("model.{key}"),
                format!(
                    "does not have the shape of {file}'s {key} ({} rows of {cols})",
                    saved.len() / cols.max(1)
                ),
            ));
        }
        if let Some(k) = (0..flat.len()).find(|&k| flat[k] != saved[k]) {
            return Err(ConfigError::new(
                format!("model.{key}"),
                format!(
                    "differs from {file}'s {key} at [{}][{}] ({} here, {} in the file); remove the setting or make them agree",
                    k / cols,
                    k % cols,
                    flat[k],
                    saved[k]
                ),
            ));
        }
    }
    Ok(model)
}

/// The name a script uses for `t` (`relu`, `tanh`, …).
fn transfer_name(t: Transfer) -> String {
    serde_norway::to_string(&t)
        .unwrap_or_default()
        .trim()
        .to_string()
}
