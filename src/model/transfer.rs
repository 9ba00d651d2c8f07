//! Transfer functions f: state → firing rate.

use candle_core::{Result, Tensor};
use serde::{Deserialize, Serialize};

/// The transfer function of a rate RNN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transfer {
    /// max(0, x) (PsychRNN's default).
    Relu,
    /// tanh(x).
    Tanh,
    /// 1 / (1 + e^(−x)).
    Sigmoid,
    /// ln(1 + e^x).
    Softplus,
    /// x.
    Linear,
}

impl Transfer {
    /// Applies f elementwise (differentiable).
    pub fn apply(self, x: &Tensor) -> Result<Tensor> {
        match self {
            Transfer::Relu => x.relu(),
            Transfer::Tanh => x.tanh(),
            Transfer::Sigmoid => (x.neg()?.exp()? + 1.0)?.recip(),
            // relu(x) + ln(1 + e^(−|x|)): no overflow for large |x|.
            Transfer::Softplus => x.relu()? + (x.abs()?.neg()?.exp()? + 1.0)?.log()?,
            Transfer::Linear => Ok(x.clone()),
        }
    }

    /// f on one number, the plain reference used by tests and analysis.
    pub fn apply_scalar(self, x: f64) -> f64 {
        match self {
            Transfer::Relu => x.max(0.0),
            Transfer::Tanh => x.tanh(),
            Transfer::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Transfer::Softplus => x.max(0.0) + (-x.abs()).exp().ln_1p(),
            Transfer::Linear => x,
        }
    }
}
