//! The `model` section of an experiment.

use serde::{Deserialize, Serialize};

use super::Transfer;

/// The most recurrent units a network may have (`model.n_rec`).
pub const MAX_UNITS: usize = 16_384;

/// Which network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// PsychRNN's `Basic` continuous-time rate RNN (all constraints apply).
    RateRnn,
    /// A standard LSTM with a linear readout.
    Lstm,
    /// A standard GRU with a linear readout.
    Gru,
}

/// Initialiser of the recurrent weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecInit {
    /// Gaussian, E/I-balanced with Dale, then rescaled to spectral radius `spectral_radius`
    /// (PsychRNN's `GaussianSpectralRadius`; which matrix gets that radius is
    /// `spectral_radius_of`).
    GaussianSpectralRadius,
    /// `identity_gain` · I (PsychRNN's `AlphaIdentity`).
    AlphaIdentity,
    /// Glorot Gaussian from the mask's fan-in/out.
    GlorotGauss,
    /// Glorot uniform from the mask's fan-in/out.
    GlorotUnif,
}

/// Which W_rec `gaussian_spectral_radius` scales to `spectral_radius`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpectralRadiusOf {
    /// The raw signed matrix after E/I balancing, as PsychRNN does; with Dale or masks the
    /// effective W_rec then has another radius (0.67–1.47 over four seeds for 50 units at
    /// `dale_ratio` 0.8).
    Raw,
    /// The effective W_rec (masks and Dale applied), so the network starts at exactly that radius.
    Effective,
}

/// Initialiser of the input and output weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InOutInit {
    /// N(0, sqrt(2 / (fan_in_i + fan_out_j))) from the mask (PsychRNN's default).
    GlorotGauss,
    /// U(±sqrt(6 / (fan_in_i + fan_out_j))) from the mask.
    GlorotUnif,
}

/// The loss function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// PsychRNN's masked mean squared error.
    Mse,
    /// PsychRNN's masked binary cross-entropy on the outputs clipped to [ε, 1−ε].
    BinaryCrossEntropy,
    /// Softmax over output channels, cross-entropy against the target, weighted per step by
    /// the mean mask over channels.
    SoftmaxCrossEntropy,
}

impl LossKind {
    /// How scorers read outputs trained with this loss: logits under softmax cross-entropy
    /// (the largest channel responds), levels otherwise (a channel above its threshold).
    pub fn output_reading(self) -> crate::task::OutputReading {
        match self {
            LossKind::Mse | LossKind::BinaryCrossEntropy => crate::task::OutputReading::Levels,
            LossKind::SoftmaxCrossEntropy => crate::task::OutputReading::Logits,
        }
    }
}

/// A time constant: one value for every unit or one per unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Tau {
    /// Every unit.
    All(f64),
    /// One value per recurrent unit.
    PerUnit(Vec<f64>),
}

/// A matrix given in the script as an array of rows.
pub type Matrix = Vec<Vec<f64>>;

/// Settings of the network. Defaults are PsychRNN's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// `rate_rnn`, `lstm` or `gru`.
    pub kind: ModelKind,
    /// Number of recurrent units N_rec.
    pub n_rec: usize,
    /// Time constant in ms, a number or one per unit; `null` uses the task's `tau`.
    pub tau: Option<Tau>,
    /// Recurrent noise σ_rec; the state gets sqrt(2 α σ_rec²) ξ each step.
    pub rec_noise: f64,
    /// Transfer function f (rates = f(state)); `null`: relu (PsychRNN's default), or the one a
    /// loaded weights file records. A built network's config always holds the one it uses.
    pub transfer_function: Option<Transfer>,
    /// Dale's principle: the first round(ratio · N_rec) units are excitatory, the rest
    /// inhibitory; `null` turns it off (or, with `load`, takes the file's).
    pub dale_ratio: Option<f64>,
    /// `false` removes self-connections (zeroes the diagonal of `rec_connectivity`).
    pub autapses: bool,
    /// 0/1 mask of W_in, N_rec rows of N_in; `null` = all ones.
    pub input_connectivity: Option<Matrix>,
    /// 0/1 mask of W_rec, N_rec rows of N_rec; `null` = all ones.
    pub rec_connectivity: Option<Matrix>,
    /// 0/1 mask of W_out, N_out rows of N_rec; `null` = all ones.
    pub output_connectivity: Option<Matrix>,
    /// 0/1 mask of W_in entries that never change in training.
    pub fixed_w_in: Option<Matrix>,
    /// 0/1 mask of W_rec entries that never change in training.
    pub fixed_w_rec: Option<Matrix>,
    /// 0/1 mask of W_out entries that never change in training.
    pub fixed_w_out: Option<Matrix>,
    /// Train W_in.
    pub w_in_train: bool,
    /// Train W_rec.
    pub w_rec_train: bool,
    /// Train W_out.
    pub w_out_train: bool,
    /// Train b_rec.
    pub b_rec_train: bool,
    /// Train b_out.
    pub b_out_train: bool,
    /// Train the initial state.
    pub init_state_train: bool,
    /// Initialiser of W_rec.
    pub w_rec_init: RecInit,
    /// Initialiser of W_in and W_out.
    pub w_init: InOutInit,
    /// Spectral radius of the initial W_rec (`gaussian_spectral_radius`), of the matrix
    /// `spectral_radius_of` names.
    pub spectral_radius: f64,
    /// Which W_rec gets `spectral_radius`: `raw` (PsychRNN's) or `effective`.
    pub spectral_radius_of: SpectralRadiusOf,
    /// Diagonal value for `alpha_identity`.
    pub identity_gain: f64,
    /// L1 penalty on the effective W_in: `l1_in · mean(|W_in|)`.
    pub l1_in: f64,
    /// L1 penalty on the effective W_rec.
    pub l1_rec: f64,
    /// L1 penalty on the effective W_out.
    pub l1_out: f64,
    /// L2 penalty on the effective W_in: `l2_in · mean(W_in²)`.
    pub l2_in: f64,
    /// L2 penalty on the effective W_rec.
    pub l2_rec: f64,
    /// L2 penalty on the effective W_out.
    pub l2_out: f64,
    /// L2 penalty on firing rates: `l2_firing_rate · mean(f(x)²)` over trials, steps and units.
    pub l2_firing_rate: f64,
    /// The loss function.
    pub loss: LossKind,
    /// A weights file (psychrnn's or PsychRNN's `.npz`) to start from instead of the initialiser.
    pub load: Option<String>,
    /// Run the rate RNN's time loop as the fused kernel with hand-written backpropagation
    /// through time (default; results agree with the plain candle-op reference path to 1e-4,
    /// which `false` selects). f64 and perturbation runs always take the reference path.
    pub fused: bool,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            kind: ModelKind::RateRnn,
            n_rec: 50,
            tau: None,
            rec_noise: 0.0,
            transfer_function: None,
            dale_ratio: None,
            autapses: true,
            input_connectivity: None,
            rec_connectivity: None,
            output_connectivity: None,
            fixed_w_in: None,
            fixed_w_rec: None,
            fixed_w_out: None,
            w_in_train: true,
            w_rec_train: true,
            w_out_train: true,
            b_rec_train: true,
            b_out_train: true,
            init_state_train: true,
            w_rec_init: RecInit::GaussianSpectralRadius,
            w_init: InOutInit::GlorotGauss,
            spectral_radius: 1.1,
            spectral_radius_of: SpectralRadiusOf::Raw,
            identity_gain: 1.0,
            l1_in: 0.0,
            l1_rec: 0.0,
            l1_out: 0.0,
            l2_in: 0.0,
            l2_rec: 0.0,
            l2_out: 0.0,
            l2_firing_rate: 0.0,
            loss: LossKind::Mse,
            load: None,
            fused: true,
        }
    }
}

impl ModelConfig {
    /// The transfer function: the one set, else relu (PsychRNN's default).
    pub fn transfer(&self) -> Transfer {
        self.transfer_function.unwrap_or(Transfer::Relu)
    }

    /// Checks `n_rec` is 1 to [`MAX_UNITS`].
    pub fn check_units(&self) -> Result<(), crate::config_error::ConfigError> {
        if (1..=MAX_UNITS).contains(&self.n_rec) {
            return Ok(());
        }
        Err(crate::config_error::ConfigError::new(
            "model.n_rec",
            format!("must be between 1 and {MAX_UNITS}, got {}", self.n_rec),
        ))
    }
}
