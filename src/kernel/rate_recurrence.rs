//! The rate RNN's time loop as one custom op with a hand-written backward pass through time.
//!
//! With E_t = α ⊙ (u_t W_inᵀ + b_rec) computed outside (one large batched product) and the
//! recurrent noise ξ_t (already scaled, not differentiated) held by the op:
//! ```text
//! forward:  x_t = (1 − α) ⊙ x_{t−1} + α ⊙ (f(x_{t−1}) W_recᵀ) + E_t + ξ_t,   t = 1..T
//! backward: δ_T = G_T;  δ_{t−1} = G_{t−1} + (1 − α) ⊙ δ_t + ((α ⊙ δ_t) W_rec) ⊙ f′(x_{t−1})
//!           ∂E_t = δ_t,  ∂W_rec = Σ_t (α ⊙ δ_t)ᵀ f(x_{t−1})  (one product over all steps),  ∂x_0 = δ_0
//! ```
//! Inputs: E [T, B, N], W_rec [N, N], x_0 [B, N] (all f32, contiguous); output X [T, B, N].

use std::ops::Range;

use candle_core::{
    CpuStorage, CustomOp2, CustomOp3, DType, Layout, Result, Shape, Storage, Tensor,
};
use rayon::prelude::*;

use super::fast_math;
use crate::model::Transfer;

/// The fused recurrence; `alpha` has one value or one per unit.
#[derive(Debug, Clone)]
pub struct RateRecurrence {
    /// dt/τ: one value, or one per unit.
    pub alpha: Vec<f32>,
    /// The transfer function f.
    pub transfer: Transfer,
    /// Recurrent noise ξ [T·B·N] added at every step (a constant: no gradient), or none.
    pub noise: Option<std::sync::Arc<Vec<f32>>>,
}

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

/// out[i] = f′(x[i]).
fn derivative(transfer: Transfer, x: &[f32], out: &mut [f32]) {
    match transfer {
        Transfer::Relu => out
            .iter_mut()
            .zip(x)
            .for_each(|(o, &v)| *o = if v > 0.0 { 1.0 } else { 0.0 }),
        Transfer::Linear => out.fill(1.0),
        Transfer::Tanh => out.iter_mut().zip(x).for_each(|(o, &v)| {
            let t = fast_math::tanh(v);
            *o = 1.0 - t * t
        }),
        Transfer::Sigmoid => out.iter_mut().zip(x).for_each(|(o, &v)| {
            let s = fast_math::sigmoid(v);
            *o = s * (1.0 - s)
        }),
        Transfer::Softplus => {
            let d = transfer.derivative();
            out.iter_mut()
                .zip(x)
                .for_each(|(o, &v)| *o = d(v as f64) as f32);
        }
    }
}

impl RateRecurrence {
    /// α for every unit (length n).
    fn alphas(&self, n: usize) -> Vec<f32> {
        if self.alpha.len() == 1 {
            vec![self.alpha[0]; n]
        } else {
            self.alpha.clone()
        }
    }

    /// Runs the forward pass on host arrays; returns X [T·B·N]. With several model threads
    /// the batch is split between them: trials are independent, so each thread runs all steps
    /// for its trials with no synchronisation between steps.
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        &self,
        e: &[f32],
        w: &[f32],
        x0: &[f32],
        t: usize,
        b: usize,
        n: usize,
    ) -> Vec<f32> {
        // W_recᵀ once per call: products with contiguous rows pack faster.
        let w_t = transpose(w, n, n, n);
        let parts = batch_parts(b);
        if parts.len() == 1 {
            return self.forward_rows(e, &w_t, x0, t, b, n, 0..b);
        }
        let outs: Vec<Vec<f32>> = parts
            .par_iter()
            .map(|rows| self.forward_rows(e, &w_t, x0, t, b, n, rows.clone()))
            .collect();
        let mut out = vec![0.0f32; t * b * n];
        for (rows, part) in parts.iter().zip(&outs) {
            scatter_rows(&mut out, part, rows, t, b, n);
        }
        out
    }

    /// The forward pass for trials `rows` of the batch, given W_recᵀ: X for those trials,
    /// [T·|rows|·N].
    #[allow(clippy::too_many_arguments)]
    fn forward_rows(
        &self,
        e: &[f32],
        w_t: &[f32],
        x0: &[f32],
        t: usize,
        b: usize,
        n: usize,
        rows: Range<usize>,
    ) -> Vec<f32> {
        let alpha = self.alphas(n);
        let (bn, bk) = (b * n, rows.len());
        let kn = bk * n;
        let mut out = vec![0.0f32; t * kn];
        let mut rates = vec![0.0f32; kn];
        let mut rec = vec![0.0f32; kn];
        for step in 0..t {
            let (done, rest) = out.split_at_mut(step * kn);
            let prev: &[f32] = if step == 0 {
                &x0[rows.start * n..rows.end * n]
            } else {
                &done[(step - 1) * kn..]
            };
            apply(self.transfer, prev, &mut rates);
            // rec = rates · W_recᵀ
            gemm_f32(
                bk, n, n, &mut rec, false, &rates, n as isize, 1, w_t, n as isize, 1,
            );
            let cur = &mut rest[..kn];
            let at = step * bn + rows.start * n..step * bn + rows.end * n;
            let e_t = &e[at.clone()];
            for row in 0..bk {
                let o = row * n;
                for u in 0..n {
                    let a = alpha[u];
                    cur[o + u] = (1.0 - a) * prev[o + u] + a * rec[o + u] + e_t[o + u];
                }
            }
            if let Some(noise) = &self.noise {
                cur.iter_mut().zip(&noise[at]).for_each(|(c, &z)| *c += z);
            }
        }
        out
    }

    /// Backpropagation through time on host arrays: given W_rec, x_0, the forward states X and
    /// ∂L/∂X (all [T·B·N] but W [N·N], x_0 [B·N]), returns (∂E, ∂W_rec, ∂x_0). Split over
    /// the batch like [`Self::forward`]; the threads' ∂W_rec are summed.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        w: &[f32],
        x0: &[f32],
        xs: &[f32],
        g: &[f32],
        t: usize,
        b: usize,
        n: usize,
    ) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let parts = batch_parts(b);
        if parts.len() == 1 {
            return self.backward_rows(w, x0, xs, g, t, b, n, 0..b);
        }
        let outs: Vec<(Vec<f32>, Vec<f32>, Vec<f32>)> = parts
            .par_iter()
            .map(|rows| self.backward_rows(w, x0, xs, g, t, b, n, rows.clone()))
            .collect();
        let mut d_e = vec![0.0f32; t * b * n];
        let mut d_w = vec![0.0f32; n * n];
        let mut d_x0 = Vec::with_capacity(b * n);
        for (rows, (de, dw, dx)) in parts.iter().zip(&outs) {
            scatter_rows(&mut d_e, de, rows, t, b, n);
            d_w.iter_mut().zip(dw).for_each(|(a, v)| *a += v);
            d_x0.extend_from_slice(dx);
        }
        (d_e, d_w, d_x0)
    }

    /// Backpropagation through time for trials `rows`: (∂E for them [T·|rows|·N], their share
    /// of ∂W_rec, ∂x_0 for them).
    #[allow(clippy::too_many_arguments)]
    fn backward_rows(
        &self,
        w: &[f32],
        x0: &[f32],
        xs: &[f32],
        g: &[f32],
        t: usize,
        b: usize,
        n: usize,
        rows: Range<usize>,
    ) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let alpha = self.alphas(n);
        let (bn, bk) = (b * n, rows.len());
        let kn = bk * n;
        let span = |step: usize| step * bn + rows.start * n..step * bn + rows.end * n;
        // α ⊙ δ_t and f(x_{t−1}) for every step, for the one ∂W product at the end.
        let mut scaled = vec![0.0f32; t * kn];
        let mut prev_rates = vec![0.0f32; t * kn];
        let mut d_e = vec![0.0f32; t * kn];
        let mut delta: Vec<f32> = g[span(t - 1)].to_vec();
        let mut back = vec![0.0f32; kn];
        let mut slope = vec![0.0f32; kn];
        for step in (0..t).rev() {
            d_e[step * kn..(step + 1) * kn].copy_from_slice(&delta);
            let prev: &[f32] = if step == 0 {
                &x0[rows.start * n..rows.end * n]
            } else {
                &xs[span(step - 1)]
            };
            let a_delta = &mut scaled[step * kn..(step + 1) * kn];
            for (row_out, row_in) in a_delta.chunks_exact_mut(n).zip(delta.chunks_exact(n)) {
                for ((o, &d), &a) in row_out.iter_mut().zip(row_in).zip(&alpha) {
                    *o = a * d;
                }
            }
            apply(
                self.transfer,
                prev,
                &mut prev_rates[step * kn..(step + 1) * kn],
            );
            derivative(self.transfer, prev, &mut slope);
            // back = (α ⊙ δ_t) · W_rec
            gemm_f32(
                bk, n, n, &mut back, false, a_delta, n as isize, 1, w, n as isize, 1,
            );
            let g_prev: &[f32] = if step > 0 { &g[span(step - 1)] } else { &[] };
            for row in 0..bk {
                let r = row * n..(row + 1) * n;
                let (d, bv, sl) = (&mut delta[r.clone()], &back[r.clone()], &slope[r.clone()]);
                for u in 0..n {
                    d[u] = (1.0 - alpha[u]) * d[u] + bv[u] * sl[u];
                }
                if step > 0 {
                    for (dv, gv) in d.iter_mut().zip(&g_prev[r]) {
                        *dv += gv;
                    }
                }
            }
        }
        // δ now holds ∂x_0 for these trials.
        let mut d_w = vec![0.0f32; n * n];
        // ∂W[j][k] = Σ_rows scaled[row][j] · prev_rates[row][k]: scaledᵀ (n × T·bk) · prev_rates (T·bk × n).
        gemm_f32(
            n,
            n,
            t * bk,
            &mut d_w,
            false,
            &scaled,
            1,
            n as isize,
            &prev_rates,
            n as isize,
            1,
        );
        (d_e, d_w, delta)
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
        let (t, b, n) = l1.shape().dims3()?;
        if let Some(noise) = &self.noise {
            if noise.len() != t * b * n {
                candle_core::bail!(
                    "rate-recurrence: noise has {} values, E has {}",
                    noise.len(),
                    t * b * n
                );
            }
        }
        if l2.shape().dims() != [n, n] || l3.shape().dims() != [b, n] {
            candle_core::bail!(
                "rate-recurrence: shapes {:?}, {:?}, {:?} do not fit E [T,B,N], W [N,N], x0 [B,N]",
                l1.shape(),
                l2.shape(),
                l3.shape()
            );
        }
        let out = self.forward(
            slice(s1, l1, "E")?,
            slice(s2, l2, "W_rec")?,
            slice(s3, l3, "x0")?,
            t,
            b,
            n,
        );
        Ok((CpuStorage::F32(out), Shape::from((t, b, n))))
    }

    fn bwd(
        &self,
        e: &Tensor,
        w: &Tensor,
        x0: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (t, b, n) = e.dims3()?;
        let (d_e, d_w, d_x0) = with_host(w, |w_h| {
            with_host(x0, |x0_h| {
                with_host(res, |xs| {
                    with_host(grad, |g| Ok(self.backward(w_h, x0_h, xs, g, t, b, n)))
                })
            })
        })?;
        Ok((grad_like(d_e, e)?, grad_like(d_w, w)?, grad_like(d_x0, x0)?))
    }
}

/// The readout y = f(x) W_outᵀ + b_out as one op, from the states x [T, B, N] and
/// [W_out | b_out] [N_out, N + 1]: no [T, B, N] firing-rate tensor enters the autograd graph
/// (each would cost candle a zero-filled gradient, an addition and a transfer-function
/// backward pass). Backward: ∂x = (∂y W_out) ⊙ f′(x), ∂W_out = ∂yᵀ f(x), ∂b_out = Σ ∂y.
#[derive(Debug, Clone, Copy)]
pub struct Readout(pub Transfer);

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
        let mut rates = vec![0.0f32; x.len()];
        apply(self.0, x, &mut rates);
        let rows = t * b;
        let mut out = vec![0.0f32; rows * n_out];
        // out = rates · W_outᵀ: b_kj = W[j][k] → row stride 1, column stride n + 1.
        gemm_f32(
            rows,
            n_out,
            n,
            &mut out,
            false,
            &rates,
            n as isize,
            1,
            w,
            1,
            width as isize,
        );
        for row in out.chunks_exact_mut(n_out) {
            for (j, y) in row.iter_mut().enumerate() {
                *y += w[j * width + n];
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((t, b, n_out))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (t, b, n) = x.dims3()?;
        let (n_out, width) = w.dims2()?;
        let rows = t * b;
        let (d_x, d_w) = with_host(x, |x_h| {
            with_host(w, |w_h| {
                with_host(grad, |g| {
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
                        w_h,
                        width as isize,
                        1,
                    );
                    let mut slope = vec![0.0f32; x_h.len()];
                    derivative(self.0, x_h, &mut slope);
                    d_x.iter_mut().zip(&slope).for_each(|(d, &s)| *d *= s);
                    let mut rates = slope;
                    apply(self.0, x_h, &mut rates);
                    // ∂W_out = ∂yᵀ (n_out × TB) · rates (TB × n), into the first n columns.
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
                    let mut d_w = vec![0.0f32; n_out * width];
                    for j in 0..n_out {
                        d_w[j * width..j * width + n].copy_from_slice(&d_w_out[j * n..(j + 1) * n]);
                        d_w[j * width + n] = g.chunks_exact(n_out).map(|r| r[j]).sum();
                    }
                    Ok((d_x, d_w))
                })
            })
        })?;
        Ok((grad_like(d_x, x)?, grad_like(d_w, w)?))
    }
}
