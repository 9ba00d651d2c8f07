//! The rate RNN's time loop as one custom op with a hand-written backward pass through time.
//!
//! Inputs: the task inputs U [T, B, I], the effective weights P = [W_rec | W_in | b_rec]
//! [N, N + I + 1] and x_0 [B, N] (all f32, contiguous); output X [T, B, N]. The input drive
//! D_t = u_t W_inᵀ + b_rec is one product over all steps inside the op, so no [T, B, N] drive
//! tensor enters candle's graph (its backward pass would zero-fill, add and copy a gradient
//! for it). With the recurrent noise ξ_t (already scaled, a constant) held by the op:
//! ```text
//! forward:  x_t = (1 − α) ⊙ x_{t−1} + α ⊙ (f(x_{t−1}) W_recᵀ + D_t) + ξ_t,   t = 1..T
//! backward: δ_T = G_T,  s_t = α ⊙ δ_t,
//!           δ_{t−1} = G_{t−1} + (1 − α) ⊙ δ_t + (s_t W_rec) ⊙ f′(x_{t−1}),
//!           ∂W_rec = Σ_t s_tᵀ f(x_{t−1}),  ∂W_in = Σ_t s_tᵀ u_t,  ∂b_rec = Σ_t Σ_trials s_t,
//!           ∂x_0 = δ_0
//! ```
//! The forward pass keeps f(x_{t−1}) for every step; the backward pass reads f′ off them
//! (every transfer function's derivative is a function of its value) and forms the weight
//! gradients in products over blocks of steps. U gets no gradient: task inputs are data.

use std::ops::Range;
use std::sync::{Arc, Mutex};

use candle_core::{
    CpuStorage, CustomOp2, CustomOp3, DType, Layout, Result, Shape, Storage, Tensor,
};
use rayon::prelude::*;

use super::fast_math;
use super::wide_vectors::with_wide_vectors;
use crate::model::Transfer;

/// The fused recurrence; `alpha` has one value or one per unit.
#[derive(Debug)]
pub struct RateRecurrence {
    /// dt/τ: one value, or one per unit.
    alpha: Vec<f32>,
    /// The transfer function f.
    transfer: Transfer,
    /// Recurrent noise ξ [T·B·N] added at every step (a constant: no gradient), or none.
    noise: Option<Arc<Vec<f32>>>,
    /// What the last forward pass left for the backward pass.
    kept: Mutex<Option<KeptRates>>,
}

/// f(x_{t−1}) for t = 1..T as the forward pass computed them: one [T·|rows|·N] buffer per
/// batch part, so the backward pass splits the batch the same way.
#[derive(Debug)]
struct KeptRates {
    parts: Vec<Range<usize>>,
    rates: Vec<Vec<f32>>,
}

/// The sizes of one call: T steps, B trials, N units, I inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecurrenceDims {
    /// T.
    pub steps: usize,
    /// B.
    pub trials: usize,
    /// N.
    pub units: usize,
    /// I.
    pub inputs: usize,
}

impl RecurrenceDims {
    /// Columns of P = [W_rec | W_in | b_rec]: N + I + 1.
    pub fn width(&self) -> usize {
        self.units + self.inputs + 1
    }
}

/// The weight gradients of one batch part: ∂W_rec [N·N], ∂W_in [N·I], ∂b_rec \[N\], and ∂x_0
/// for the part's trials.
struct PartGradients {
    w_rec: Vec<f32>,
    w_in: Vec<f32>,
    b_rec: Vec<f32>,
    x0: Vec<f32>,
}

/// Trial rows per weight-gradient product in the backward pass (products over about this many
/// rows ran fastest at 50 units: large enough to pack well, small enough to stay in cache).
const ROWS_PER_GRADIENT_PRODUCT: usize = 1024;

/// How many threads a product of `m × k` by `k × n` gets: candle's thread count
/// (`RAYON_NUM_THREADS`, which `--threads` sets) once the product is large enough to pay for
/// the hand-off (measured on 2 cores: a 64 × 256 × 256 product, 4 M multiply-adds, is no
/// faster on two threads), and none inside a batch part that already has a thread.
fn parallelism(m: usize, n: usize, k: usize) -> gemm::Parallelism {
    let threads = candle_core::utils::get_num_threads();
    // On a pool thread the work is already split (the rate kernel's batch parts).
    if threads > 1 && m * n * k >= 1 << 23 && rayon::current_thread_index().is_none() {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    }
}

/// out (m × n, row-major) = (accumulate ? out : 0) + a · b, with a and b given by strides.
#[allow(clippy::too_many_arguments)]
pub(super) fn gemm_f32(
    m: usize,
    n: usize,
    k: usize,
    out: &mut [f32],
    accumulate: bool,
    a: &[f32],
    a_rs: isize,
    a_cs: isize,
    b: &[f32],
    b_rs: isize,
    b_cs: isize,
) {
    assert!(out.len() >= m * n);
    // SAFETY: the strides describe in-bounds elements of `a` (m × k), `b` (k × n) and `out`
    // (m × n), checked by the callers' shapes.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            if accumulate { 1.0 } else { 0.0 },
            1.0,
            false,
            false,
            false,
            parallelism(m, n, k),
        )
    }
}

/// This machine's f32 GEMM rate in GFLOP/s on candle's thread count, measured on an
/// `n`×`n`×`n` product (best of three).
pub fn gemm_gflops(n: usize) -> f64 {
    let a: Vec<f32> = (0..n * n).map(|i| (i % 7) as f32 * 0.1).collect();
    let b: Vec<f32> = (0..n * n).map(|i| (i % 5) as f32 * 0.1).collect();
    let mut c = vec![0.0f32; n * n];
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let start = std::time::Instant::now();
        gemm_f32(n, n, n, &mut c, false, &a, n as isize, 1, &b, n as isize, 1);
        best = best.min(start.elapsed().as_secs_f64());
    }
    2.0 * (n as f64).powi(3) / best / 1e9
}

pub(super) fn slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(v) = s else {
        candle_core::bail!("rate-recurrence: {what} must be f32");
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&v[a..b]),
        None => candle_core::bail!("rate-recurrence: {what} must be contiguous"),
    }
}

/// out[i] = f(x[i]), with the transfer function chosen once per call (so the loop vectorises).
#[inline(always)]
fn apply(transfer: Transfer, x: &[f32], out: &mut [f32]) {
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

/// Binds `$slope` to f′ as a function of f's value r = f(x) (ReLU: 1 where r > 0; tanh:
/// 1 − r²; sigmoid: r(1 − r); softplus: σ(x) = 1 − e^{−r}; linear: 1) and evaluates `$body`
/// with it, one monomorphic loop per transfer function.
macro_rules! with_slope {
    ($transfer:expr, $slope:ident => $body:expr) => {
        match $transfer {
            Transfer::Relu => {
                let $slope = |r: f32| if r > 0.0 { 1.0 } else { 0.0 };
                $body
            }
            Transfer::Linear => {
                let $slope = |_: f32| 1.0;
                $body
            }
            Transfer::Tanh => {
                let $slope = |r: f32| 1.0 - r * r;
                $body
            }
            Transfer::Sigmoid => {
                let $slope = |r: f32| r * (1.0 - r);
                $body
            }
            Transfer::Softplus => {
                let $slope = |r: f32| -(-r).exp_m1();
                $body
            }
        }
    };
}

/// out[i] = f′(x[i]) from r[i] = f(x[i]).
#[inline(always)]
fn slope_from_rates(transfer: Transfer, r: &[f32], out: &mut [f32]) {
    with_slope!(transfer, slope => out.iter_mut().zip(r).for_each(|(o, &v)| *o = slope(v)))
}

/// One step of the backward recursion, in place over [rows × N]:
/// δ ← (1 − α) ⊙ δ + back ⊙ f′(x_{t−1}) (+ G_{t−1}), with f′ read off r = f(x_{t−1}).
#[inline(always)]
fn step_delta(
    delta: &mut [f32],
    back: &[f32],
    r: &[f32],
    alpha: &[f32],
    g_prev: Option<&[f32]>,
    slope: impl Fn(f32) -> f32,
) {
    // Indexed over slices cut to one length: the zipped form of this loop stayed scalar.
    let len = delta.len();
    let (back, r, alpha) = (&back[..len], &r[..len], &alpha[..len]);
    match g_prev {
        Some(g) => {
            let g = &g[..len];
            for k in 0..len {
                delta[k] = (1.0 - alpha[k]) * delta[k] + back[k] * slope(r[k]) + g[k];
            }
        }
        None => {
            for k in 0..len {
                delta[k] = (1.0 - alpha[k]) * delta[k] + back[k] * slope(r[k]);
            }
        }
    }
}

/// `v` repeated `times` times.
fn tiled(v: &[f32], times: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(v.len() * times);
    for _ in 0..times {
        out.extend_from_slice(v);
    }
    out
}

/// Products with at most this many inputs per row (the input drive u W_inᵀ and ∂W_in) are
/// summed row by row: a matrix product this shallow runs far below the machine's rate
/// (measured at 50 units and 2 inputs: 0.3 ms as a product, against about 0.05 ms this way).
const ROW_PRODUCT_MAX_DEPTH: usize = 16;

/// out += Σ_k u[k] · w_rows[k] (w_rows: u.len() rows of out.len()), skipping zero inputs.
#[inline(always)]
fn add_weighted_rows(out: &mut [f32], u: &[f32], w_rows: &[f32]) {
    let n = out.len();
    for (k, &uk) in u.iter().enumerate() {
        if uk != 0.0 {
            let w = &w_rows[k * n..(k + 1) * n];
            out.iter_mut().zip(w).for_each(|(o, &wv)| *o += uk * wv);
        }
    }
}

/// The rows of trials `rows` from a [T·B·width] array, step by step: [T·|rows|·width].
fn gather_rows(m: &[f32], rows: &Range<usize>, t: usize, b: usize, width: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(t * rows.len() * width);
    for step in 0..t {
        let at = (step * b + rows.start) * width;
        out.extend_from_slice(&m[at..at + rows.len() * width]);
    }
    out
}

impl RateRecurrence {
    /// The op for one call: α (one value or one per unit), f, and the scaled recurrent noise
    /// [T·B·N] if any.
    pub fn new(alpha: Vec<f32>, transfer: Transfer, noise: Option<Arc<Vec<f32>>>) -> Self {
        RateRecurrence {
            alpha,
            transfer,
            noise,
            kept: Mutex::new(None),
        }
    }

    /// α for every unit (length n).
    #[inline(always)]
    fn alphas(&self, n: usize) -> Vec<f32> {
        if self.alpha.len() == 1 {
            vec![self.alpha[0]; n]
        } else {
            self.alpha.clone()
        }
    }

    /// Runs the forward pass on host arrays (U [T·B·I], P [N·(N + I + 1)], x_0 [B·N]) and
    /// returns X [T·B·N], keeping the rates for [`Self::backward`]. With several model threads
    /// the batch is split between them: trials are independent, so each thread runs all steps
    /// for its trials with no synchronisation between steps.
    pub fn forward(&self, u: &[f32], p: &[f32], x0: &[f32], dims: RecurrenceDims) -> Vec<f32> {
        let RecurrenceDims {
            steps: t,
            trials: b,
            units: n,
            ..
        } = dims;
        // W_recᵀ once per call: products with contiguous rows pack faster.
        let w_t = transpose(p, n, n, dims.width());
        let parts = batch_parts(b);
        let (out, rates) = if parts.len() == 1 {
            let (x, r) = self.forward_rows(u, p, &w_t, x0, dims, 0..b);
            (x, vec![r])
        } else {
            let outs: Vec<(Vec<f32>, Vec<f32>)> = parts
                .par_iter()
                .map(|rows| self.forward_rows(u, p, &w_t, x0, dims, rows.clone()))
                .collect();
            let mut out = vec![0.0f32; t * b * n];
            let mut rates = Vec::with_capacity(parts.len());
            for (rows, (x, r)) in parts.iter().zip(outs) {
                scatter_rows(&mut out, &x, rows, t, b, n);
                rates.push(r);
            }
            (out, rates)
        };
        *self.kept.lock().expect("rate-recurrence rates") = Some(KeptRates { parts, rates });
        out
    }

    /// The forward pass for trials `rows`, given W_recᵀ: (X, f(x_{t−1}) for t = 1..T), both
    /// [T·|rows|·N]. X starts as the drive D (one product over all steps) and each step
    /// overwrites its block in place.
    fn forward_rows(
        &self,
        u: &[f32],
        p: &[f32],
        w_t: &[f32],
        x0: &[f32],
        dims: RecurrenceDims,
        rows: Range<usize>,
    ) -> (Vec<f32>, Vec<f32>) {
        with_wide_vectors(
            #[inline(always)]
            || self.forward_rows_body(u, p, w_t, x0, dims, rows),
        )
    }

    #[inline(always)]
    fn forward_rows_body(
        &self,
        u: &[f32],
        p: &[f32],
        w_t: &[f32],
        x0: &[f32],
        dims: RecurrenceDims,
        rows: Range<usize>,
    ) -> (Vec<f32>, Vec<f32>) {
        let RecurrenceDims {
            steps: t,
            trials: b,
            units: n,
            inputs: i,
        } = dims;
        let width = dims.width();
        let bk = rows.len();
        let kn = bk * n;
        let bias: Vec<f32> = (0..n).map(|j| p[j * width + n + i]).collect();
        let u_part = gather_rows(u, &rows, t, b, i);
        // W_inᵀ (I × N), rows contiguous, for the row-by-row drive.
        let w_in_t = transpose(&p[n..], n, i, width);
        let mut out = Vec::with_capacity(t * kn);
        // α repeated for every trial row, so the step loops run flat over [rows × N].
        let alpha = tiled(&self.alphas(n), bk);
        let mut rates = Vec::with_capacity(t * kn);
        rates.resize(kn, 0.0);
        apply(self.transfer, &x0[rows.start * n..rows.end * n], &mut rates);
        // x_{t−1} and x_t for these trials (L1-sized), each x_t then appended to `out`.
        let mut prev = x0[rows.start * n..rows.end * n].to_vec();
        let mut cur = vec![0.0f32; kn];
        for step in 0..t {
            // cur = D_t + f(x_{t−1}) W_recᵀ, with D_t = b_rec + u_t W_inᵀ formed here, in cache.
            let u_t = &u_part[step * bk * i..(step + 1) * bk * i];
            for c_row in cur.chunks_exact_mut(n) {
                c_row.copy_from_slice(&bias);
            }
            if i > ROW_PRODUCT_MAX_DEPTH {
                // W_inᵀ (I × N) has element (k, j) = P[j][N + k].
                gemm_f32(
                    bk,
                    n,
                    i,
                    &mut cur,
                    true,
                    u_t,
                    i as isize,
                    1,
                    &p[n..],
                    1,
                    width as isize,
                );
            } else if i > 0 {
                for (c_row, u_row) in cur.chunks_exact_mut(n).zip(u_t.chunks_exact(i)) {
                    add_weighted_rows(c_row, u_row, &w_in_t);
                }
            }
            gemm_f32(
                bk,
                n,
                n,
                &mut cur,
                true,
                &rates[step * kn..],
                n as isize,
                1,
                w_t,
                n as isize,
                1,
            );
            let leak = cur.iter_mut().zip(&prev).zip(&alpha);
            match &self.noise {
                None => leak.for_each(|((c, &x), &a)| *c = (1.0 - a) * x + a * *c),
                Some(noise) => {
                    let at = step * b * n + rows.start * n;
                    leak.zip(&noise[at..at + kn])
                        .for_each(|(((c, &x), &a), &z)| *c = (1.0 - a) * x + a * *c + z)
                }
            }
            out.extend_from_slice(&cur);
            if step + 1 < t {
                rates.resize((step + 2) * kn, 0.0);
                apply(self.transfer, &cur, &mut rates[(step + 1) * kn..]);
            }
            std::mem::swap(&mut prev, &mut cur);
        }
        (out, rates)
    }

    /// Backpropagation through time on host arrays: given U and P (as for [`Self::forward`],
    /// which must have run first: its rates are used) and ∂L/∂X [T·B·N], returns
    /// (∂P [N·(N + I + 1)], ∂x_0 [B·N]). Split over the batch like the forward pass; the parts'
    /// weight gradients are summed.
    pub fn backward(
        &self,
        u: &[f32],
        p: &[f32],
        g: &[f32],
        dims: RecurrenceDims,
    ) -> Result<(Vec<f32>, Vec<f32>)> {
        let RecurrenceDims {
            steps: t,
            trials: b,
            units: n,
            inputs: i,
        } = dims;
        let width = dims.width();
        if t == 0 {
            return Ok((vec![0.0; n * width], vec![0.0; b * n]));
        }
        let kept = self.kept.lock().expect("rate-recurrence rates");
        let Some(KeptRates { parts, rates }) = kept.as_ref() else {
            candle_core::bail!("rate-recurrence: backward pass before a forward pass");
        };
        let grads: Vec<PartGradients> = if parts.len() == 1 {
            vec![self.backward_rows(u, p, &rates[0], g, dims, 0..b)]
        } else {
            parts
                .par_iter()
                .zip(rates)
                .map(|(rows, r)| self.backward_rows(u, p, r, g, dims, rows.clone()))
                .collect()
        };
        let mut d_p = vec![0.0f32; n * width];
        let mut d_x0 = Vec::with_capacity(b * n);
        for part in &grads {
            for j in 0..n {
                let row = &mut d_p[j * width..(j + 1) * width];
                let sums = part.w_rec[j * n..(j + 1) * n]
                    .iter()
                    .chain(&part.w_in[j * i..(j + 1) * i])
                    .chain(std::iter::once(&part.b_rec[j]));
                row.iter_mut().zip(sums).for_each(|(a, v)| *a += v);
            }
            d_x0.extend_from_slice(&part.x0);
        }
        Ok((d_p, d_x0))
    }

    /// Backpropagation through time for trials `rows`, given their kept rates.
    fn backward_rows(
        &self,
        u: &[f32],
        p: &[f32],
        rates: &[f32],
        g: &[f32],
        dims: RecurrenceDims,
        rows: Range<usize>,
    ) -> PartGradients {
        with_wide_vectors(
            #[inline(always)]
            || self.backward_rows_body(u, p, rates, g, dims, rows),
        )
    }

    #[inline(always)]
    fn backward_rows_body(
        &self,
        u: &[f32],
        p: &[f32],
        rates: &[f32],
        g: &[f32],
        dims: RecurrenceDims,
        rows: Range<usize>,
    ) -> PartGradients {
        let RecurrenceDims {
            steps: t,
            trials: b,
            units: n,
            inputs: i,
        } = dims;
        let width = dims.width();
        let alpha = self.alphas(n);
        let (bn, bk) = (b * n, rows.len());
        let kn = bk * n;
        let span = |step: usize| step * bn + rows.start * n..step * bn + rows.end * n;
        let u_part = gather_rows(u, &rows, t, b, i);
        let mut grads = PartGradients {
            w_rec: vec![0.0; n * n],
            w_in: vec![0.0; n * i],
            b_rec: vec![0.0; n],
            x0: Vec::new(),
        };
        // s_t = α ⊙ δ_t for a block of steps, for the weight-gradient products.
        let block = (ROWS_PER_GRADIENT_PRODUCT / bk.max(1)).clamp(1, t);
        let mut scaled = vec![0.0f32; block * kn];
        // ∂W_inᵀ [I × N], summed row by row when there are few inputs.
        let mut w_in_t = vec![0.0f32; i * n];
        let alpha = tiled(&alpha, bk);
        let mut delta: Vec<f32> = g[span(t - 1)].to_vec();
        let mut back = vec![0.0f32; kn];
        let mut end = t;
        while end > 0 {
            let start = end.saturating_sub(block);
            for step in (start..end).rev() {
                let s_t = &mut scaled[(step - start) * kn..(step - start + 1) * kn];
                s_t.iter_mut()
                    .zip(&delta)
                    .zip(&alpha)
                    .for_each(|((o, &d), &a)| *o = a * d);
                // back = s_t · W_rec (W_rec's rows have stride N + I + 1)
                gemm_f32(
                    bk,
                    n,
                    n,
                    &mut back,
                    false,
                    s_t,
                    n as isize,
                    1,
                    p,
                    width as isize,
                    1,
                );
                let g_prev = if step > 0 {
                    Some(&g[span(step - 1)])
                } else {
                    None
                };
                let r_prev = &rates[step * kn..(step + 1) * kn];
                with_slope!(self.transfer, slope => {
                    step_delta(&mut delta, &back, r_prev, &alpha, g_prev, slope)
                });
            }
            // The block's share of the weight gradients: s ([rows × N]) transposed times
            // f(x_{t−1}) and u_t ([rows × N], [rows × I]), and s summed over rows.
            let (m, used) = ((end - start) * bk, &scaled[..(end - start) * kn]);
            gemm_f32(
                n,
                n,
                m,
                &mut grads.w_rec,
                true,
                used,
                1,
                n as isize,
                &rates[start * kn..end * kn],
                n as isize,
                1,
            );
            let u_used = &u_part[start * bk * i..end * bk * i];
            if i > ROW_PRODUCT_MAX_DEPTH {
                gemm_f32(
                    n,
                    i,
                    m,
                    &mut grads.w_in,
                    true,
                    used,
                    1,
                    n as isize,
                    u_used,
                    i as isize,
                    1,
                );
            } else if i > 0 {
                for (s_row, u_row) in used.chunks_exact(n).zip(u_used.chunks_exact(i)) {
                    for (k, &uk) in u_row.iter().enumerate() {
                        if uk != 0.0 {
                            let acc = &mut w_in_t[k * n..(k + 1) * n];
                            acc.iter_mut().zip(s_row).for_each(|(a, &v)| *a += uk * v);
                        }
                    }
                }
            }
            for row in used.chunks_exact(n) {
                grads.b_rec.iter_mut().zip(row).for_each(|(a, v)| *a += v);
            }
            end = start;
        }
        if i <= ROW_PRODUCT_MAX_DEPTH {
            grads.w_in = transpose(&w_in_t, i, n, n);
        }
        // δ now holds ∂x_0 for these trials.
        grads.x0 = delta;
        grads
    }
}

/// The trials each model thread takes: `RAYON_NUM_THREADS` contiguous ranges (one range on one
/// thread, or when the batch is too small to share).
fn batch_parts(b: usize) -> Vec<Range<usize>> {
    let threads = candle_core::utils::get_num_threads().min(b / 4).max(1);
    let chunk = b.div_ceil(threads);
    (0..threads)
        .map(|k| k * chunk..((k + 1) * chunk).min(b))
        .filter(|r| !r.is_empty())
        .collect()
}

/// Writes `part` ([T·|rows|·N], the trials `rows`) into `out` ([T·B·N]).
fn scatter_rows(out: &mut [f32], part: &[f32], rows: &Range<usize>, t: usize, b: usize, n: usize) {
    let kn = rows.len() * n;
    for step in 0..t {
        let at = step * b * n + rows.start * n;
        out[at..at + kn].copy_from_slice(&part[step * kn..(step + 1) * kn]);
    }
}

/// The first `cols` columns of the `rows` × `stride` row-major matrix `m`, transposed:
/// `cols` × `rows`, row-major.
pub(super) fn transpose(m: &[f32], rows: usize, cols: usize, stride: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; cols * rows];
    for j in 0..rows {
        for k in 0..cols {
            out[k * rows + j] = m[j * stride + k];
        }
    }
    out
}

/// A gradient with `like`'s shape, device and dtype from host values.
pub(super) fn grad_like(data: Vec<f32>, like: &Tensor) -> Result<Option<Tensor>> {
    Ok(Some(
        Tensor::from_vec(data, like.shape(), like.device())?.to_dtype(like.dtype())?,
    ))
}

/// Calls `f` with the f32 elements of `x` in row-major order: borrowed in place when `x` is a
/// contiguous f32 CPU tensor, copied otherwise.
pub(super) fn with_host<R>(x: &Tensor, f: impl FnOnce(&[f32]) -> Result<R>) -> Result<R> {
    {
        let (storage, layout) = x.storage_and_layout();
        if let (Storage::Cpu(CpuStorage::F32(v)), Some((a, b))) =
            (&*storage, layout.contiguous_offsets())
        {
            return f(&v[a..b]);
        }
    }
    let copy = x.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
    f(&copy)
}

impl CustomOp3 for RateRecurrence {
    fn name(&self) -> &'static str {
        "rate-recurrence"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let dims = dims_of(l1.shape(), l2.shape(), l3.shape())?;
        let (t, b, n) = (dims.steps, dims.trials, dims.units);
        if let Some(noise) = &self.noise {
            if noise.len() != t * b * n {
                candle_core::bail!(
                    "rate-recurrence: noise has {} values, X has {}",
                    noise.len(),
                    t * b * n
                );
            }
        }
        let out = self.forward(
            slice(s1, l1, "U")?,
            slice(s2, l2, "[W_rec | W_in | b_rec]")?,
            slice(s3, l3, "x0")?,
            dims,
        );
        Ok((CpuStorage::F32(out), Shape::from((t, b, n))))
    }

    fn bwd(
        &self,
        u: &Tensor,
        p: &Tensor,
        x0: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let dims = dims_of(u.shape(), p.shape(), x0.shape())?;
        let (d_p, d_x0) = with_host(u, |u_h| {
            with_host(p, |p_h| {
                with_host(grad, |g| self.backward(u_h, p_h, g, dims))
            })
        })?;
        Ok((None, grad_like(d_p, p)?, grad_like(d_x0, x0)?))
    }
}

/// The sizes of a call from the shapes of U [T, B, I], P [N, N + I + 1] and x_0 [B, N].
fn dims_of(u: &Shape, p: &Shape, x0: &Shape) -> Result<RecurrenceDims> {
    let (t, b, i) = u.dims3()?;
    let n = x0.dims().last().copied().unwrap_or(0);
    if p.dims() != [n, n + i + 1] || x0.dims() != [b, n] {
        candle_core::bail!(
            "rate-recurrence: shapes {u:?}, {p:?}, {x0:?} do not fit U [T,B,I], [W_rec | W_in | b_rec] [N,N+I+1], x0 [B,N]"
        );
    }
    Ok(RecurrenceDims {
        steps: t,
        trials: b,
        units: n,
        inputs: i,
    })
}

/// Readouts with at most this many outputs are computed row by row in one pass over the
/// states, with the outputs unrolled (a matrix product with so few columns packs poorly);
/// wider ones use products.
const ROW_READOUT_MAX_OUTPUTS: usize = 8;

/// Trial rows per block of the row-by-row readout: f(x) and f′ are taken over a whole block
/// at once (long loops), the per-row sums then read them from cache.
const READOUT_BLOCK_ROWS: usize = 64;

/// y rows for one block: y[row][j] = b[j] + Σ_k W[j][k] r[row][k], O outputs (each sum in
/// eight partial sums, so the loop vectorises).
#[inline(always)]
fn readout_rows<const O: usize>(r: &[f32], w: &[f32], n: usize, out: &mut Vec<f32>) {
    const LANES: usize = 8;
    let width = n + 1;
    let w_j: [&[f32]; O] = std::array::from_fn(|j| &w[j * width..j * width + n]);
    let whole = n / LANES * LANES;
    for r_row in r.chunks_exact(n) {
        let mut acc = [[0.0f32; LANES]; O];
        for c in (0..whole).step_by(LANES) {
            let r_c = &r_row[c..c + LANES];
            for j in 0..O {
                let w_c = &w_j[j][c..c + LANES];
                for l in 0..LANES {
                    acc[j][l] += w_c[l] * r_c[l];
                }
            }
        }
        for j in 0..O {
            let tail: f32 = (whole..n).map(|k| w_j[j][k] * r_row[k]).sum();
            out.push(acc[j].iter().sum::<f32>() + tail + w[j * width + n]);
        }
    }
}

/// ∂x rows for one block, and the block's share of ∂[W_out | b_out] added into `d_w`:
/// ∂x[row][k] = f′[row][k] Σ_j g[row][j] W[j][k], ∂W[j][k] += g[row][j] r[row][k].
#[inline(always)]
fn readout_grad_rows<const O: usize>(
    r: &[f32],
    slope: &[f32],
    g: &[f32],
    w: &[f32],
    n: usize,
    d_x: &mut Vec<f32>,
    d_w: &mut [f32],
) {
    let width = n + 1;
    let w_j: [&[f32]; O] = std::array::from_fn(|j| &w[j * width..j * width + n]);
    let mut d_w_j: [Vec<f32>; O] = std::array::from_fn(|_| vec![0.0f32; n]);
    let start = d_x.len();
    d_x.resize(start + r.len(), 0.0);
    let rows = r
        .chunks_exact(n)
        .zip(slope.chunks_exact(n))
        .zip(g.chunks_exact(O))
        .zip(d_x[start..].chunks_exact_mut(n));
    for (((r_row, s_row), g_row), dx_row) in rows {
        let g_row: [f32; O] = std::array::from_fn(|j| g_row[j]);
        for k in 0..n {
            let mut a = 0.0f32;
            for j in 0..O {
                a += g_row[j] * w_j[j][k];
            }
            dx_row[k] = a * s_row[k];
        }
        for j in 0..O {
            d_w_j[j]
                .iter_mut()
                .zip(r_row)
                .for_each(|(d, &rv)| *d += g_row[j] * rv);
            d_w[j * width + n] += g_row[j];
        }
    }
    for j in 0..O {
        d_w[j * width..j * width + n]
            .iter_mut()
            .zip(&d_w_j[j])
            .for_each(|(d, v)| *d += v);
    }
}

/// Calls `$f::<O>(args)` with O = `$outputs` (1 to [`ROW_READOUT_MAX_OUTPUTS`]).
macro_rules! with_outputs {
    ($outputs:expr, $f:ident($($arg:expr),*)) => {
        match $outputs {
            1 => $f::<1>($($arg),*),
            2 => $f::<2>($($arg),*),
            3 => $f::<3>($($arg),*),
            4 => $f::<4>($($arg),*),
            5 => $f::<5>($($arg),*),
            6 => $f::<6>($($arg),*),
            7 => $f::<7>($($arg),*),
            8 => $f::<8>($($arg),*),
            _ => unreachable!("row readout with {} outputs", $outputs),
        }
    };
}

/// The readout y = f(x) W_outᵀ + b_out as one op, from the states x [T, B, N] and
/// [W_out | b_out] [N_out, N + 1]: no [T, B, N] firing-rate tensor enters the autograd graph
/// (each would cost candle a zero-filled gradient, an addition and a transfer-function
/// backward pass). Backward: ∂x = (∂y W_out) ⊙ f′(x), ∂W_out = ∂yᵀ f(x), ∂b_out = Σ ∂y.
#[derive(Debug, Clone, Copy)]
pub struct Readout(pub Transfer);

impl Readout {
    /// y for all rows of x ([rows·N]) with w = [W_out | b_out] ([N_out·(N + 1)]).
    fn forward(&self, x: &[f32], w: &[f32], n: usize, n_out: usize) -> Vec<f32> {
        let width = n + 1;
        let rows = x.len() / n.max(1);
        let mut out = Vec::with_capacity(rows * n_out);
        if (1..=ROW_READOUT_MAX_OUTPUTS).contains(&n_out) && n > 0 {
            with_wide_vectors(
                #[inline(always)]
                || {
                    let mut r = vec![0.0f32; READOUT_BLOCK_ROWS * n];
                    for x_block in x.chunks(READOUT_BLOCK_ROWS * n) {
                        let r = &mut r[..x_block.len()];
                        apply(self.0, x_block, r);
                        with_outputs!(n_out, readout_rows(r, w, n, &mut out));
                    }
                },
            );
            return out;
        }
        let mut rates = vec![0.0f32; x.len()];
        apply(self.0, x, &mut rates);
        for _ in 0..rows {
            out.extend((0..n_out).map(|j| w[j * width + n]));
        }
        // out += rates · W_outᵀ: b_kj = W[j][k] → row stride 1, column stride n + 1.
        gemm_f32(
            rows,
            n_out,
            n,
            &mut out,
            true,
            &rates,
            n as isize,
            1,
            w,
            1,
            width as isize,
        );
        out
    }

    /// (∂x [rows·N], ∂[W_out | b_out] [N_out·(N + 1)]) from x, w and ∂y [rows·N_out].
    fn backward(
        &self,
        x: &[f32],
        w: &[f32],
        g: &[f32],
        n: usize,
        n_out: usize,
    ) -> (Vec<f32>, Vec<f32>) {
        let width = n + 1;
        let rows = x.len() / n.max(1);
        let mut d_w = vec![0.0f32; n_out * width];
        if (1..=ROW_READOUT_MAX_OUTPUTS).contains(&n_out) && n > 0 {
            let mut d_x = Vec::with_capacity(x.len());
            with_wide_vectors(
                #[inline(always)]
                || {
                    let mut r = vec![0.0f32; READOUT_BLOCK_ROWS * n];
                    let mut slope = vec![0.0f32; READOUT_BLOCK_ROWS * n];
                    let blocks = x
                        .chunks(READOUT_BLOCK_ROWS * n)
                        .zip(g.chunks(READOUT_BLOCK_ROWS * n_out));
                    for (x_block, g_block) in blocks {
                        let (r, slope) = (&mut r[..x_block.len()], &mut slope[..x_block.len()]);
                        apply(self.0, x_block, r);
                        slope_from_rates(self.0, r, slope);
                        with_outputs!(
                            n_out,
                            readout_grad_rows(r, slope, g_block, w, n, &mut d_x, &mut d_w)
                        );
                    }
                },
            );
            return (d_x, d_w);
        }
        // ∂rates = ∂y · W_out: b_kj = W[k][j] → row stride n + 1, column stride 1.
        let mut d_x = vec![0.0f32; rows * n];
        gemm_f32(
            rows,
            n,
            n_out,
            &mut d_x,
            false,
            g,
            n_out as isize,
            1,
            w,
            width as isize,
            1,
        );
        let mut rates = vec![0.0f32; x.len()];
        apply(self.0, x, &mut rates);
        let mut slope = vec![0.0f32; x.len()];
        slope_from_rates(self.0, &rates, &mut slope);
        d_x.iter_mut().zip(&slope).for_each(|(d, &s)| *d *= s);
        // ∂W_out = ∂yᵀ (n_out × rows) · rates (rows × n), into the first n columns.
        let mut d_w_out = vec![0.0f32; n_out * n];
        gemm_f32(
            n_out,
            n,
            rows,
            &mut d_w_out,
            false,
            g,
            1,
            n_out as isize,
            &rates,
            n as isize,
            1,
        );
        for j in 0..n_out {
            d_w[j * width..j * width + n].copy_from_slice(&d_w_out[j * n..(j + 1) * n]);
            d_w[j * width + n] = g.chunks_exact(n_out).map(|r| r[j]).sum();
        }
        (d_x, d_w)
    }
}

impl CustomOp2 for Readout {
    fn name(&self) -> &'static str {
        "readout"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (t, b, n) = l1.shape().dims3()?;
        let (n_out, width) = l2.shape().dims2()?;
        if width != n + 1 {
            candle_core::bail!(
                "readout: weights {:?} do not fit states {:?} ([N_out, N + 1] needed)",
                l2.shape(),
                l1.shape()
            );
        }
        let (x, w) = (slice(s1, l1, "states")?, slice(s2, l2, "W_out")?);
        let out = self.forward(x, w, n, n_out);
        Ok((CpuStorage::F32(out), Shape::from((t, b, n_out))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (_, _, n) = x.dims3()?;
        let (n_out, _) = w.dims2()?;
        let (d_x, d_w) = with_host(x, |x_h| {
            with_host(w, |w_h| {
                with_host(grad, |g| Ok(self.backward(x_h, w_h, g, n, n_out)))
            })
        })?;
        Ok((grad_like(d_x, x)?, grad_like(d_w, w)?))
    }
}
