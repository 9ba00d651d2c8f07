//! The `model` section of an experiment.

use serde::{Deserialize, Serialize};

use super::Transfer;

/// Settings of the rate RNN. Every field has PsychRNN's default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Number of recurrent units N_rec.
    pub n_rec: usize,
    /// Recurrent noise σ_rec; the state gets sqrt(2 α σ_rec²) ξ each step.
    pub rec_noise: f64,
    /// Transfer function f (rates = f(state)).
    pub transfer_function: Transfer,
    /// Spectral radius of the initial W_rec (PsychRNN's `GaussianSpectralRadius`).
    pub spectral_radius: f64,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            n_rec: 50,
            rec_noise: 0.0,
            transfer_function: Transfer::Relu,
            spectral_radius: 1.1,
        }
    }
}
