//! The transfer function f and its slope f′ over host arrays, one monomorphic loop per
//! function.

use super::fast_math;
use super::Transfer;

/// out[i] = f(x[i]), with the transfer function chosen once per call (so the loop vectorises).
#[inline(always)]
pub(super) fn apply(transfer: Transfer, x: &[f32], out: &mut [f32]) {
    match transfer {
        Transfer::Relu => out.iter_mut().zip(x).for_each(|(o, &v)| *o = v.max(0.0)),
        Transfer::Linear => out.copy_from_slice(x),
        Transfer::Tanh => out
            .iter_mut()
            .zip(x)
            .for_each(|(o, &v)| *o = fast_math::tanh(v)),
        Transfer::Sigmoid => out
            .iter_mut()
            .zip(x)
            .for_each(|(o, &v)| *o = fast_math::sigmoid(v)),
        Transfer::Softplus => {
            let f = transfer.function();
            out.iter_mut()
                .zip(x)
                .for_each(|(o, &v)| *o = f(v as f64) as f32);
        }
    }
}

/// out[i] = f′(x[i]) from r[i] = f(x[i]).
#[inline(always)]
pub(super) fn slope_from_rates(transfer: Transfer, r: &[f32], out: &mut [f32]) {
    with_slope!(transfer, slope => out.iter_mut().zip(r).for_each(|(o, &v)| *o = slope(v)))
}
