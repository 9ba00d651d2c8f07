//! Building the network an experiment's `model` section describes.

use std::path::Path;

use candle_core::{DType, Device};

use super::config::{ModelConfig, ModelKind, Tau};
use super::gated::{Cell, GatedRnn, GatedWeights};
use super::{
    initial_weights, read_weights_npz, Constraints, Network, RateRnn, RateRnnOptions,
    Regularization, Trainable,
};
use crate::experiment::ConfigError;
use crate::task::TaskShape;

/// A network ready to train, with notes for the user (e.g. what a weights file held that was
/// not used).
pub struct BuiltNetwork {
    /// The network.
    pub network: Box<dyn Network + Send + Sync>,
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

/// α = dt/τ per unit (one value when τ is shared), checked.
fn alphas(c: &ModelConfig, shape: &TaskShape) -> Result<Vec<f64>, ConfigError> {
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
    taus.iter()
        .enumerate()
        .map(|(u, &t)| {
            if !(t.is_finite() && t >= shape.dt) {
                let which = if taus.len() > 1 {
                    format!(" (unit {u})")
                } else {
                    String::new()
                };
                Err(ConfigError::new(
                    "model.tau",
                    format!(
                        "{t} ms{which} must be a number ≥ dt = {} ms (α = dt/τ ≤ 1)",
                        shape.dt
                    ),
                ))
            } else {
                Ok(shape.dt / t)
            }
        })
        .collect()
}

/// Builds the network for `c` on a task of `shape`, initial weights drawn from `seed` (or
/// read from `c.load`: a relative path is looked up in `base_dir`, the script's folder, then in
/// the current directory). With `load`, weights, masks and the Dale ratio come from the file;
/// `model.dale_ratio` and `autapses: false` still apply on top.
pub fn build_network(
    c: &ModelConfig,
    shape: &TaskShape,
    seed: u64,
    base_dir: &Path,
) -> Result<BuiltNetwork, ConfigError> {
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
        return Ok(BuiltNetwork {
            network: Box::new(network),
            notes: Vec::new(),
        });
    }
    let k = Constraints::from_config(c, n_in, n_out)?;
    let mut notes = Vec::new();
    let weights = match &c.load {
        None => initial_weights(c, &k, seed),
        Some(file) => {
            // Relative to the script's folder, else to the current directory.
            let path = match base_dir.join(file) {
                p if p.exists() || Path::new(file).is_absolute() => p,
                _ => Path::new(file).to_path_buf(),
            };
            let loaded = read_weights_npz(&path)
                .map_err(|e| ConfigError::new("model.load", e.to_string()))?;
            let mut w = loaded.weights;
            if (w.n_in, w.n_rec, w.n_out) != (n_in, c.n_rec, n_out) {
                return Err(ConfigError::new(
                    "model.load",
                    format!(
                        "{} holds a network with N_in = {}, N_rec = {}, N_out = {}, but the experiment has N_in = {n_in}, N_rec = {}, N_out = {n_out}",
                        path.display(), w.n_in, w.n_rec, w.n_out, c.n_rec
                    ),
                ));
            }
            if c.dale_ratio.is_some() {
                w.dale_ratio = c.dale_ratio;
            }
            if !c.autapses {
                for i in 0..w.n_rec {
                    w.rec_connectivity[i * w.n_rec + i] = 0.0;
                }
            }
            if !loaded.ignored.is_empty() {
                notes.push(format!(
                    "{}: not used: {}",
                    path.display(),
                    loaded.ignored.join("; ")
                ));
            }
            w
        }
    };
    let options = RateRnnOptions {
        alpha: alphas(c, shape)?,
        rec_noise: c.rec_noise,
        transfer: c.transfer_function,
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
    };
    let network = RateRnn::new(&weights, &options, DType::F32, &Device::Cpu)
        .map_err(|e| ConfigError::new("model", e.to_string()))?;
    Ok(BuiltNetwork {
        network: Box::new(network),
        notes,
    })
}
