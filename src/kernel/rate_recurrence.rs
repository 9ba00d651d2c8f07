//! The rate RNN's time loop as one custom op with a hand-written backward pass through time.
//!
//! Inputs: the task inputs U [T, B, I] and the effective weights P = [W_rec | W_in | b_rec | x_0]
//! [N, N + I + 2] (x_0 = PsychRNN's `init_state`, shared by every trial), and for the outputs
//! form also R = [W_out | b_out] [N_out, N + 1] (all f32, contiguous).
//! - `apply_op2(U, P)` returns the states X [T, B, N] (for losses that use the states);
//! - `apply_op3(U, P, R)` returns the outputs Y = f(X) W_outᵀ + b_out [T, B, N_out] and keeps
//!   X for [`RateRecurrence::take_states`], outside the autograd graph. Each output step is
//!   formed while its rates are in cache, and the backward pass forms ∂L/∂x_t from ∂L/∂y_t the
//!   same way, so no [T, B, N] tensor enters candle's graph at all (its backward pass would
//!   zero-fill, add and copy a gradient for every one).
//!
//! The input drive D_t = u_t W_inᵀ + b_rec is formed step by step inside the op. With the
//! recurrent noise ξ_t (already scaled, a constant) held by the op:
//! ```text
//! forward:  x_t = (1 − α) ⊙ x_{t−1} + α ⊙ (f(x_{t−1}) W_recᵀ + D_t) + ξ_t,   t = 1..T
//! backward: δ_T = G_T,  s_t = α ⊙ δ_t,
//!           δ_{t−1} = G_{t−1} + (1 − α) ⊙ δ_t + (s_t W_rec) ⊙ f′(x_{t−1}),
//!           ∂W_rec = Σ_t s_tᵀ f(x_{t−1}),  ∂W_in = Σ_t s_tᵀ u_t,  ∂b_rec = Σ_t Σ_trials s_t,
//!           ∂x_0 = Σ_trials δ_0
//! ```
//! with G_t = ∂L/∂x_t (given, or (∂y_t W_out) ⊙ f′(x_t) for the outputs form). The forward
//! pass keeps f(x_t) for every step; the backward pass reads f′ off them (every transfer
//! function's derivative is a function of its value) and forms the weight gradients in
//! products over blocks of steps. U gets no gradient: task inputs are data.

use std::ops::Range;
use std::sync::{Arc, Mutex};

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::host::{grad_like, slice, transpose, with_host};
use super::input_drive::{input_drive, input_drive_grads};
use super::options::KernelOptions;
use super::products::gemm_f32;
use super::readout::ReadoutWeights;
use super::transfer_loops::{apply, slope_from_rates};
use super::wide_vectors::with_wide_vectors;
use super::Transfer;

/// The fused recurrence. Clones share what the forward pass keeps.
#[derive(Debug, Clone)]
pub struct RateRecurrence {
    /// dt/τ: one value, or one per unit.
    alpha: Vec<f32>,
    /// The transfer function f.
    transfer: Transfer,
    /// Recurrent noise ξ [T·B·N] added at every step (a constant: no gradient), or none.
    noise: Option<Arc<Vec<f32>>>,
    /// Whether the outputs form keeps X for [`Self::take_states`] (a training step's loss
    /// needs only the outputs: writing X and, with several threads, gathering the parts'
    /// states costs a pass over [T, B, N] for nothing).
    keep_states: bool,
    /// Threads (the batch is split between them) and vector code.
    kernel: KernelOptions,
    /// What the last forward pass left for the backward pass and the caller.
    kept: Arc<Mutex<Option<Kept>>>,
}

/// What a forward pass keeps.
#[derive(Debug)]
struct Kept {
    /// The batch parts, so the backward pass splits the batch the same way.
    parts: Vec<Range<usize>>,
    /// f(x_0), …, f(x_T) for each part: [(T + 1)·|rows|·N].
    rates: Vec<Vec<f32>>,
    /// X [T·B·N] when the op returned the outputs.
    states: Option<Vec<f32>>,
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
    /// Columns of P = [W_rec | W_in | b_rec | x_0]: N + I + 2.
    pub fn width(&self) -> usize {
        self.units + self.inputs + 2
    }
}

/// One batch part's forward pass: X [T·|rows|·N], f(x_0..x_T) [(T + 1)·|rows|·N] and, with a
/// readout, Y [T·|rows|·N_out].
struct PartForward {
    states: Vec<f32>,
    rates: Vec<f32>,
    outputs: Vec<f32>,
}

/// The gradients of one batch part: ∂W_rec [N·N], ∂W_in [N·I], ∂b_rec \[N\], ∂x_0 \[N\]
/// (summed over the part's trials) and, with a readout, ∂[W_out | b_out].
struct PartGradients {
    w_rec: Vec<f32>,
    w_in: Vec<f32>,
    b_rec: Vec<f32>,
    x0: Vec<f32>,
    readout: Vec<f32>,
}

/// Trial rows per weight-gradient product in the backward pass (products over about this many
/// rows ran fastest at 50 units: large enough to pack well, small enough to stay in cache).
const ROWS_PER_GRADIENT_PRODUCT: usize = 1024;

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

/// The rows of trials `rows` from a [T·B·width] array, step by step: [T·|rows|·width].
pub(super) fn gather_rows(
    m: &[f32],
    rows: &Range<usize>,
    t: usize,
    b: usize,
    width: usize,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(t * rows.len() * width);
    for step in 0..t {
        let at = (step * b + rows.start) * width;
        out.extend_from_slice(&m[at..at + rows.len() * width]);
    }
    out
}

impl RateRecurrence {
    /// The op for one call: α (one value or one per unit), f, the scaled recurrent noise
    /// [T·B·N] if any, and how it runs.
    pub fn new(
        alpha: Vec<f32>,
        transfer: Transfer,
        noise: Option<Arc<Vec<f32>>>,
        kernel: KernelOptions,
    ) -> Self {
        RateRecurrence {
            alpha,
            transfer,
            noise,
            keep_states: true,
            kernel,
            kept: Arc::new(Mutex::new(None)),
        }
    }

    /// The same op, but the outputs form (`apply_op3`) keeps no states: [`Self::take_states`]
    /// then returns `None`. The states form (`apply_op2`) is unaffected.
    pub fn without_states(self) -> Self {
        RateRecurrence {
            keep_states: false,
            ..self
        }
    }

    /// The states X [T·B·N] of the last forward pass that returned the outputs
    /// (`apply_op3`), once.
    pub fn take_states(&self) -> Option<Vec<f32>> {
        self.kept
            .lock()
            .expect("rate-recurrence kept")
            .as_mut()?
            .states
            .take()
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

    fn check_noise(&self, dims: RecurrenceDims) -> Result<()> {
        let len = dims.steps * dims.trials * dims.units;
        match &self.noise {
            Some(noise) if noise.len() != len => candle_core::bail!(
                "rate-recurrence: noise has {} values, X has {len}",
                noise.len()
            ),
            _ => Ok(()),
        }
    }

    /// Runs the forward pass on host arrays (U [T·B·I], P [N·(N + I + 2)], and the readout
    /// weights if the outputs are wanted) and returns X [T·B·N] (empty when the outputs are
    /// wanted and the op keeps no states) and Y [T·B·N_out], keeping the rates for
    /// [`Self::backward`]. With several model threads the batch is split between
    /// them: trials are independent, so each thread runs all steps for its trials with no
    /// synchronisation between steps.
    fn forward(
        &self,
        u: &[f32],
        p: &[f32],
        readout: Option<ReadoutWeights<'_>>,
        dims: RecurrenceDims,
    ) -> (Vec<f32>, Option<Vec<f32>>) {
        let RecurrenceDims {
            steps: t,
            trials: b,
            units: n,
            ..
        } = dims;
        // W_recᵀ once per call: products with contiguous rows pack faster.
        let w_t = transpose(p, n, n, dims.width());
        let parts = batch_parts(b, self.kernel.threads);
        let mut done: Vec<PartForward> = self.kernel.install(|| {
            if parts.len() == 1 {
                vec![self.forward_rows(self.kernel, u, p, &w_t, readout, dims, parts[0].clone())]
            } else {
                let part_kernel = self.kernel.single_threaded();
                parts
                    .par_iter()
                    .map(|rows| {
                        self.forward_rows(part_kernel, u, p, &w_t, readout, dims, rows.clone())
                    })
                    .collect()
            }
        });
        let n_out = readout.map_or(0, |r| r.n_out);
        let n_kept = if self.keeps_states(readout.is_some()) {
            n
        } else {
            0
        };
        let (states, outputs) = if done.len() == 1 {
            let part = &mut done[0];
            (
                std::mem::take(&mut part.states),
                std::mem::take(&mut part.outputs),
            )
        } else {
            let mut states = vec![0.0f32; t * b * n_kept];
            let mut outputs = vec![0.0f32; t * b * n_out];
            for (rows, part) in parts.iter().zip(&done) {
                scatter_rows(&mut states, &part.states, rows, t, b, n_kept);
                scatter_rows(&mut outputs, &part.outputs, rows, t, b, n_out);
            }
            (states, outputs)
        };
        let rates = done.into_iter().map(|part| part.rates).collect();
        *self.kept.lock().expect("rate-recurrence kept") = Some(Kept {
            parts,
            rates,
            states: None,
        });
        (states, readout.map(|_| outputs))
    }

    /// Whether a forward pass writes X: always for the states form, and for the outputs form
    /// (`with_readout`) unless the op was made [`Self::without_states`].
    fn keeps_states(&self, with_readout: bool) -> bool {
        !with_readout || self.keep_states
    }

    /// The forward pass for trials `rows`, given W_recᵀ, its products run as `kernel` says.
    #[allow(clippy::too_many_arguments)]
    fn forward_rows(
        &self,
        kernel: KernelOptions,
        u: &[f32],
        p: &[f32],
        w_t: &[f32],
        readout: Option<ReadoutWeights<'_>>,
        dims: RecurrenceDims,
        rows: Range<usize>,
    ) -> PartForward {
        with_wide_vectors(
            kernel.path,
            #[inline(always)]
            || self.forward_rows_body(kernel, u, p, w_t, readout, dims, rows),
        )
    }

    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn forward_rows_body(
        &self,
        kernel: KernelOptions,
        u: &[f32],
        p: &[f32],
        w_t: &[f32],
        readout: Option<ReadoutWeights<'_>>,
        dims: RecurrenceDims,
        rows: Range<usize>,
    ) -> PartForward {
        let RecurrenceDims {
            steps: t,
            trials: b,
            units: n,
            inputs: i,
        } = dims;
        let width = dims.width();
        let bk = rows.len();
        let kn = bk * n;
        let column = |c: usize| (0..n).map(|j| p[j * width + c]).collect::<Vec<f32>>();
        let bias = column(n + i);
        let u_part = gather_rows(u, &rows, t, b, i);
        // W_inᵀ (I × N), rows contiguous, for the drive.
        let w_in_t = transpose(&p[n..], n, i, width);
        // α repeated for every trial row, so the step loops run flat over [rows × N].
        let alpha = tiled(&self.alphas(n), bk);
        let keep_states = self.keeps_states(readout.is_some());
        let mut part = PartForward {
            states: Vec::with_capacity(if keep_states { t * kn } else { 0 }),
            rates: Vec::with_capacity((t + 1) * kn),
            outputs: Vec::with_capacity(t * bk * readout.map_or(0, |r| r.n_out)),
        };
        // x_{t−1} and x_t for these trials (L1-sized), each x_t then appended to the states.
        let mut prev = tiled(&column(n + i + 1), bk);
        let mut cur = vec![0.0f32; kn];
        part.rates.resize(kn, 0.0);
        apply(self.transfer, &prev, &mut part.rates);
        for step in 0..t {
            // cur = D_t + f(x_{t−1}) W_recᵀ, with D_t = b_rec + u_t W_inᵀ formed here, in cache.
            let u_t = &u_part[step * bk * i..(step + 1) * bk * i];
            input_drive(kernel, &mut cur, u_t, &bias, &w_in_t, i);
            gemm_f32(
                kernel,
                bk,
                n,
                n,
                &mut cur,
                true,
                &part.rates[step * kn..],
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
            if keep_states {
                part.states.extend_from_slice(&cur);
            }
            part.rates.resize((step + 2) * kn, 0.0);
            let r_t = &mut part.rates[(step + 1) * kn..];
            apply(self.transfer, &cur, r_t);
            if let Some(readout) = &readout {
                readout.outputs(kernel, r_t, &mut part.outputs);
            }
            std::mem::swap(&mut prev, &mut cur);
        }
        part
    }

    /// Backpropagation through time on host arrays: given U and P (as for [`Self::forward`],
    /// which must have run first: its rates are used), the readout weights if the forward pass
    /// returned the outputs, and ∂L/∂X [T·B·N] (no readout) or ∂L/∂Y [T·B·N_out], returns
    /// ∂P [N·(N + I + 2)] and, with a readout, ∂[W_out | b_out]. Split over the batch like the
    /// forward pass; the parts' gradients are summed.
    fn backward(
        &self,
        u: &[f32],
        p: &[f32],
        readout: Option<ReadoutWeights<'_>>,
        g: &[f32],
        dims: RecurrenceDims,
    ) -> Result<(Vec<f32>, Option<Vec<f32>>)> {
        let RecurrenceDims {
            steps: t,
            units: n,
            inputs: i,
            ..
        } = dims;
        let width = dims.width();
        let d_readout = readout.map(|r| vec![0.0f32; r.n_out * (n + 1)]);
        if t == 0 {
            return Ok((vec![0.0; n * width], d_readout));
        }
        let kept = self.kept.lock().expect("rate-recurrence kept");
        let Some(Kept { parts, rates, .. }) = kept.as_ref() else {
            candle_core::bail!(
                "rate-recurrence: backward pass before a forward pass (a bug in the kernel; \
                 `model.fused: false` avoids it)"
            );
        };
        let grads: Vec<PartGradients> = self.kernel.install(|| {
            if parts.len() == 1 {
                let rows = parts[0].clone();
                vec![self.backward_rows(self.kernel, u, p, &rates[0], readout, g, dims, rows)]
            } else {
                let part_kernel = self.kernel.single_threaded();
                parts
                    .par_iter()
                    .zip(rates)
                    .map(|(rows, r)| {
                        self.backward_rows(part_kernel, u, p, r, readout, g, dims, rows.clone())
                    })
                    .collect()
            }
        });
        let mut d_p = vec![0.0f32; n * width];
        let mut d_readout = d_readout;
        for part in &grads {
            for j in 0..n {
                let row = &mut d_p[j * width..(j + 1) * width];
                let sums = part.w_rec[j * n..(j + 1) * n]
                    .iter()
                    .chain(&part.w_in[j * i..(j + 1) * i])
                    .chain([&part.b_rec[j], &part.x0[j]]);
                row.iter_mut().zip(sums).for_each(|(a, v)| *a += v);
            }
            if let Some(d) = d_readout.as_mut() {
                d.iter_mut().zip(&part.readout).for_each(|(a, v)| *a += v);
            }
        }
        Ok((d_p, d_readout))
    }

    /// Backpropagation through time for trials `rows`, given their kept rates, its products
    /// run as `kernel` says.
    #[allow(clippy::too_many_arguments)]
    fn backward_rows(
        &self,
        kernel: KernelOptions,
        u: &[f32],
        p: &[f32],
        rates: &[f32],
        readout: Option<ReadoutWeights<'_>>,
        g: &[f32],
        dims: RecurrenceDims,
        rows: Range<usize>,
    ) -> PartGradients {
        with_wide_vectors(
            kernel.path,
            #[inline(always)]
            || self.backward_rows_body(kernel, u, p, rates, readout, g, dims, rows),
        )
    }

    /// G_t = ∂L/∂x_t for trials `rows` into `out` ([|rows|·N]): read from ∂L/∂X, or formed
    /// from ∂L/∂y_t through the readout (whose weight gradients go into `d_readout`).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn state_grad(
        &self,
        kernel: KernelOptions,
        step: usize,
        rates: &[f32],
        readout: Option<ReadoutWeights<'_>>,
        g: &[f32],
        dims: RecurrenceDims,
        rows: &Range<usize>,
        slope: &mut [f32],
        out: &mut Vec<f32>,
        d_readout: &mut [f32],
    ) {
        let (b, n) = (dims.trials, dims.units);
        let kn = rows.len() * n;
        out.clear();
        match readout {
            None => {
                let at = (step * b + rows.start) * n;
                out.extend_from_slice(&g[at..at + kn]);
            }
            Some(readout) => {
                let o = readout.n_out;
                let at = (step * b + rows.start) * o;
                let r_t = &rates[(step + 1) * kn..(step + 2) * kn];
                slope_from_rates(self.transfer, r_t, slope);
                readout.state_grads(
                    kernel,
                    r_t,
                    slope,
                    &g[at..at + rows.len() * o],
                    out,
                    d_readout,
                );
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn backward_rows_body(
        &self,
        kernel: KernelOptions,
        u: &[f32],
        p: &[f32],
        rates: &[f32],
        readout: Option<ReadoutWeights<'_>>,
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
        let bk = rows.len();
        let kn = bk * n;
        let u_part = gather_rows(u, &rows, t, b, i);
        let mut grads = PartGradients {
            w_rec: vec![0.0; n * n],
            w_in: Vec::new(),
            b_rec: vec![0.0; n],
            x0: vec![0.0; n],
            readout: vec![0.0; readout.map_or(0, |r| r.n_out * (n + 1))],
        };
        // s_t = α ⊙ δ_t for a block of steps, for the weight-gradient products.
        let block = (ROWS_PER_GRADIENT_PRODUCT / bk.max(1)).clamp(1, t);
        let mut scaled = vec![0.0f32; block * kn];
        // ∂W_inᵀ [I × N] (transposed into ∂W_in at the end).
        let mut w_in_t = vec![0.0f32; i * n];
        let alpha = tiled(&self.alphas(n), bk);
        let mut slope = vec![0.0f32; kn];
        let mut delta = Vec::with_capacity(kn);
        let mut g_prev = Vec::with_capacity(kn);
        let mut back = vec![0.0f32; kn];
        // G_t for these trials: self.state_grad with this call's arguments.
        macro_rules! state_grad {
            ($step:expr, $out:expr) => {
                self.state_grad(
                    kernel,
                    $step,
                    rates,
                    readout,
                    g,
                    dims,
                    &rows,
                    &mut slope,
                    $out,
                    &mut grads.readout,
                )
            };
        }
        state_grad!(t - 1, &mut delta);
        let mut end = t;
        while end > 0 {
            let start = end.saturating_sub(block);
            for step in (start..end).rev() {
                let s_t = &mut scaled[(step - start) * kn..(step - start + 1) * kn];
                s_t.iter_mut()
                    .zip(&delta)
                    .zip(&alpha)
                    .for_each(|((o, &d), &a)| *o = a * d);
                // back = s_t · W_rec (W_rec's rows have stride N + I + 2)
                gemm_f32(
                    kernel,
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
                    state_grad!(step - 1, &mut g_prev);
                    Some(g_prev.as_slice())
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
                kernel,
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
            input_drive_grads(kernel, used, u_used, &mut grads.b_rec, &mut w_in_t, i);
            end = start;
        }
        grads.w_in = transpose(&w_in_t, i, n, n);
        // δ now holds ∂L/∂x_0 for each trial; they all share x_0.
        for row in delta.chunks_exact(n) {
            grads.x0.iter_mut().zip(row).for_each(|(a, v)| *a += v);
        }
        grads
    }
}

/// The trials each of `threads` model threads takes: contiguous ranges (one range on one
/// thread, or when the batch is too small to share: at least 4 trials a part).
pub(super) fn batch_parts(b: usize, threads: usize) -> Vec<Range<usize>> {
    let threads = threads.min(b / 4).max(1);
    let chunk = b.div_ceil(threads);
    (0..threads)
        .map(|k| k * chunk..((k + 1) * chunk).min(b))
        .filter(|r| !r.is_empty())
        .collect()
}

/// Writes `part` ([T·|rows|·N], the trials `rows`) into `out` ([T·B·N]).
pub(super) fn scatter_rows(
    out: &mut [f32],
    part: &[f32],
    rows: &Range<usize>,
    t: usize,
    b: usize,
    n: usize,
) {
    let kn = rows.len() * n;
    for step in 0..t {
        let at = step * b * n + rows.start * n;
        out[at..at + kn].copy_from_slice(&part[step * kn..(step + 1) * kn]);
    }
}

/// The sizes of a call from the shapes of U [T, B, I] and P [N, N + I + 2].
fn dims_of(u: &Shape, p: &Shape) -> Result<RecurrenceDims> {
    let (t, b, i) = u.dims3()?;
    let n = p.dims().first().copied().unwrap_or(0);
    if p.dims() != [n, n + i + 2] {
        candle_core::bail!(
            "rate-recurrence: shapes {u:?} and {p:?} do not fit U [T,B,I] and [W_rec | W_in | b_rec | x0] [N,N+I+2]"
        );
    }
    Ok(RecurrenceDims {
        steps: t,
        trials: b,
        units: n,
        inputs: i,
    })
}

/// The readout weights [W_out | b_out] from their storage, checked against N.
fn readout_of<'a>(
    s: &'a CpuStorage,
    l: &Layout,
    dims: RecurrenceDims,
) -> Result<ReadoutWeights<'a>> {
    let (n_out, width) = l.shape().dims2()?;
    if width != dims.units + 1 {
        candle_core::bail!(
            "rate-recurrence: readout {:?} does not fit {} units ([N_out, N + 1] needed)",
            l.shape(),
            dims.units
        );
    }
    Ok(ReadoutWeights {
        w: slice(s, l, "[W_out | b_out]")?,
        n: dims.units,
        n_out,
    })
}

/// The states X = `apply_op2(U, P)`.
impl CustomOp2 for RateRecurrence {
    fn name(&self) -> &'static str {
        "rate-recurrence"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let dims = dims_of(l1.shape(), l2.shape())?;
        self.check_noise(dims)?;
        let u = slice(s1, l1, "U")?;
        let p = slice(s2, l2, "[W_rec | W_in | b_rec | x0]")?;
        let (states, _) = self.forward(u, p, None, dims);
        let shape = Shape::from((dims.steps, dims.trials, dims.units));
        Ok((CpuStorage::F32(states), shape))
    }

    fn bwd(
        &self,
        u: &Tensor,
        p: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let dims = dims_of(u.shape(), p.shape())?;
        let (d_p, _) = with_host(u, |u_h| {
            with_host(p, |p_h| {
                with_host(grad, |g| self.backward(u_h, p_h, None, g, dims))
            })
        })?;
        Ok((None, grad_like(d_p, p)?))
    }
}

/// The outputs Y = `apply_op3(U, P, [W_out | b_out])`; the states are kept for
/// [`RateRecurrence::take_states`] unless the op is [`RateRecurrence::without_states`].
impl CustomOp3 for RateRecurrence {
    fn name(&self) -> &'static str {
        "rate-recurrence-readout"
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
        let dims = dims_of(l1.shape(), l2.shape())?;
        self.check_noise(dims)?;
        let readout = readout_of(s3, l3, dims)?;
        let u = slice(s1, l1, "U")?;
        let p = slice(s2, l2, "[W_rec | W_in | b_rec | x0]")?;
        let (states, outputs) = self.forward(u, p, Some(readout), dims);
        if self.keep_states {
            if let Some(kept) = self.kept.lock().expect("rate-recurrence kept").as_mut() {
                kept.states = Some(states);
            }
        }
        let shape = Shape::from((dims.steps, dims.trials, readout.n_out));
        Ok((CpuStorage::F32(outputs.unwrap_or_default()), shape))
    }

    fn bwd(
        &self,
        u: &Tensor,
        p: &Tensor,
        q: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let dims = dims_of(u.shape(), p.shape())?;
        let (n_out, _) = q.dims2()?;
        let (d_p, d_q) = with_host(u, |u_h| {
            with_host(p, |p_h| {
                with_host(q, |q_h| {
                    with_host(grad, |g| {
                        let readout = ReadoutWeights {
                            w: q_h,
                            n: dims.units,
                            n_out,
                        };
                        self.backward(u_h, p_h, Some(readout), g, dims)
                    })
                })
            })
        })?;
        Ok((
            None,
            grad_like(d_p, p)?,
            grad_like(d_q.unwrap_or_default(), q)?,
        ))
    }
}
