//! Losses.

use candle_core::{Result, Tensor};

/// PsychRNN's `mean_squared_error`: mean over every element (trial, time, channel) of
/// (mask ⊙ (outputs − targets))². The denominator counts masked elements too.
pub fn masked_mse(outputs: &Tensor, targets: &Tensor, mask: &Tensor) -> Result<Tensor> {
    ((outputs - targets)? * mask)?.sqr()?.mean_all()
}
