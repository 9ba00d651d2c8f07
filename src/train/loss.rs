//! Losses over time-major outputs, targets and mask [T, B, N_out].

use candle_core::{Result, Tensor, D};

use crate::model::LossKind;

/// PsychRNN's `mean_squared_error`: mean over every element (trial, time, channel) of
/// (mask ⊙ (outputs − targets))². The denominator counts masked elements too.
pub fn masked_mse(outputs: &Tensor, targets: &Tensor, mask: &Tensor) -> Result<Tensor> {
    ((outputs - targets)? * mask)?.sqr()?.mean_all()
}

/// ε of PsychRNN's binary cross-entropy.
pub const BCE_EPSILON: f64 = 1e-7;

/// PsychRNN's `binary_cross_entropy`: mean of mask ⊙ −(y log(p + ε) + (1 − y) log(1 − p + ε))
/// with p the outputs clipped to [ε, 1 − ε] (no sigmoid is applied, as in PsychRNN).
pub fn masked_binary_cross_entropy(
    outputs: &Tensor,
    targets: &Tensor,
    mask: &Tensor,
) -> Result<Tensor> {
    let p = outputs.clamp(BCE_EPSILON, 1.0 - BCE_EPSILON)?;
    let pos = (targets * (&p + BCE_EPSILON)?.log()?)?;
    let neg = (targets.affine(-1.0, 1.0)? * p.affine(-1.0, 1.0 + BCE_EPSILON)?.log()?)?;
    ((pos + neg)?.neg()? * mask)?.mean_all()
}

/// Softmax over output channels and cross-entropy against the targets, −Σ_c y_c log softmax(o)_c,
/// weighted per (trial, step) by the mean of the mask over channels and averaged over trials
/// and steps.
pub fn masked_softmax_cross_entropy(
    outputs: &Tensor,
    targets: &Tensor,
    mask: &Tensor,
) -> Result<Tensor> {
    let log_p = candle_nn::ops::log_softmax(outputs, D::Minus1)?;
    let per_step = (targets * log_p)?.sum(D::Minus1)?.neg()?;
    let weight = mask.mean(D::Minus1)?;
    (per_step * weight)?.mean_all()
}

/// The loss `kind` names.
pub fn loss(kind: LossKind, outputs: &Tensor, targets: &Tensor, mask: &Tensor) -> Result<Tensor> {
    match kind {
        LossKind::Mse => masked_mse(outputs, targets, mask),
        LossKind::BinaryCrossEntropy => masked_binary_cross_entropy(outputs, targets, mask),
        LossKind::SoftmaxCrossEntropy => masked_softmax_cross_entropy(outputs, targets, mask),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn t(v: &[f64]) -> Tensor {
        Tensor::from_slice(v, (1, 2, 2), &Device::Cpu).unwrap()
    }

    #[test]
    fn losses_match_hand_computations() {
        let o = t(&[0.2, 0.9, 2.0, -1.0]);
        let y = t(&[0.0, 1.0, 1.0, 0.0]);
        let m = t(&[1.0, 1.0, 0.0, 1.0]);
        let mse = masked_mse(&o, &y, &m).unwrap().to_scalar::<f64>().unwrap();
        assert!((mse - (0.04 + 0.01 + 0.0 + 1.0) / 4.0).abs() < 1e-12);

        let bce = masked_binary_cross_entropy(&o, &y, &m)
            .unwrap()
            .to_scalar::<f64>()
            .unwrap();
        let e = BCE_EPSILON;
        let term = |p: f64, y: f64| -(y * (p + e).ln() + (1.0 - y) * (1.0 - p + e).ln());
        let p = |x: f64| x.clamp(e, 1.0 - e);
        let expected = (term(p(0.2), 0.0) + term(p(0.9), 1.0) + 0.0 + term(p(-1.0), 0.0)) / 4.0;
        assert!((bce - expected).abs() < 1e-9, "{bce} vs {expected}");

        let ce = masked_softmax_cross_entropy(&o, &y, &m)
            .unwrap()
            .to_scalar::<f64>()
            .unwrap();
        let lse = |a: f64, b: f64| (a.exp() + b.exp()).ln();
        // Step 0: target channel 1, weight 1. Step 1: target channel 0, weight 0.5.
        let expected = ((lse(0.2, 0.9) - 0.9) * 1.0 + (lse(2.0, -1.0) - 2.0) * 0.5) / 2.0;
        assert!((ce - expected).abs() < 1e-12, "{ce} vs {expected}");
    }
}
