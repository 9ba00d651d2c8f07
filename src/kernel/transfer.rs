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

    /// f as a plain function (for analysis code that takes `fn(f64) -> f64`).
    pub fn function(self) -> fn(f64) -> f64 {
        match self {
            Transfer::Relu => |x| x.max(0.0),
            Transfer::Tanh => f64::tanh,
            Transfer::Sigmoid => |x| 1.0 / (1.0 + (-x).exp()),
            Transfer::Softplus => |x| x.max(0.0) + (-x.abs()).exp().ln_1p(),
            Transfer::Linear => |x| x,
        }
    }

    /// f′ as a plain function (ReLU: 1 for x > 0, else 0).
    pub fn derivative(self) -> fn(f64) -> f64 {
        match self {
            Transfer::Relu => |x| if x > 0.0 { 1.0 } else { 0.0 },
            Transfer::Tanh => |x| 1.0 - x.tanh().powi(2),
            Transfer::Sigmoid => |x| {
                let s = 1.0 / (1.0 + (-x).exp());
                s * (1.0 - s)
            },
            Transfer::Softplus => |x| 1.0 / (1.0 + (-x).exp()),
            Transfer::Linear => |_| 1.0,
        }
    }

    /// f on one number, the plain reference used by tests and analysis.
    ///
    /// ```
    /// use psychrnn::model::Transfer;
    /// assert_eq!(Transfer::Relu.apply_scalar(-1.5), 0.0);
    /// assert_eq!(Transfer::Relu.apply_scalar(2.0), 2.0);
    /// ```
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_functions_match_and_derivatives_match_finite_differences() {
        for t in [
            Transfer::Relu,
            Transfer::Tanh,
            Transfer::Sigmoid,
            Transfer::Softplus,
            Transfer::Linear,
        ] {
            let (f, d) = (t.function(), t.derivative());
            for x in [-2.3, -0.4, 0.3, 1.7, 25.0] {
                assert_eq!(f(x), t.apply_scalar(x), "{t:?}");
                let fd = (f(x + 1e-6) - f(x - 1e-6)) / 2e-6;
                assert!((fd - d(x)).abs() < 1e-5, "{t:?} at {x}: {} vs {fd}", d(x));
            }
        }
    }
}
