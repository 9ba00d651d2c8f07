//! Penalties added to the loss (PsychRNN's L1/L2 regularisation), shared by the rate RNN
//! (on its effective weights) and the gated networks (on W_x, W_h, W_out).

use candle_core::{Result, Tensor};

/// Regularisation weights, applied as means (PsychRNN's convention).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Regularization {
    /// `l1_in · mean(|W_in_eff|)`.
    pub l1_in: f64,
    /// `l1_rec · mean(|W_rec_eff|)`.
    pub l1_rec: f64,
    /// `l1_out · mean(|W_out_eff|)`.
    pub l1_out: f64,
    /// `l2_in · mean(W_in_eff²)`.
    pub l2_in: f64,
    /// `l2_rec · mean(W_rec_eff²)`.
    pub l2_rec: f64,
    /// `l2_out · mean(W_out_eff²)`.
    pub l2_out: f64,
    /// `l2_firing_rate · mean(f(x)²)` over trials, steps and units.
    pub l2_firing_rate: f64,
}

/// `total + term`, or `term` when there is no total yet.
fn sum(total: Option<Tensor>, term: Tensor) -> Result<Option<Tensor>> {
    Ok(Some(match total {
        None => term,
        Some(s) => (s + term)?,
    }))
}

impl Regularization {
    /// The L1 and L2 terms on the input, recurrent and output weights, summed in that order
    /// (L1 terms first); `None` when every weight is zero.
    pub fn weight_penalty(
        &self,
        w_in: &Tensor,
        w_rec: &Tensor,
        w_out: &Tensor,
    ) -> Result<Option<Tensor>> {
        let mut total = None;
        for (c, w, l1) in [
            (self.l1_in, w_in, true),
            (self.l1_rec, w_rec, true),
            (self.l1_out, w_out, true),
            (self.l2_in, w_in, false),
            (self.l2_rec, w_rec, false),
            (self.l2_out, w_out, false),
        ] {
            if c != 0.0 {
                let m = if l1 {
                    w.abs()?.mean_all()?
                } else {
                    w.sqr()?.mean_all()?
                };
                total = sum(total, m.affine(c, 0.0)?)?;
            }
        }
        Ok(total)
    }

    /// `total` plus `l2_firing_rate · mean(rates²)`, the rates formed by `rates` only when that
    /// weight is not zero.
    pub fn add_firing_rate_penalty(
        &self,
        total: Option<Tensor>,
        rates: impl FnOnce() -> Result<Tensor>,
    ) -> Result<Option<Tensor>> {
        if self.l2_firing_rate == 0.0 {
            return Ok(total);
        }
        let term = rates()?
            .sqr()?
            .mean_all()?
            .affine(self.l2_firing_rate, 0.0)?;
        sum(total, term)
    }
}
