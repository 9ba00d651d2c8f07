//! The LSTM's and GRU's time loops as one custom op with a hand-written backward pass
//! through time (equations in `model::gated`).
//!
//! Inputs: the task inputs U [T, B, I]; the weights P = [W_x | b_x | W_h] [G·N, I + 1 + N]
//! (LSTM) or [W_x | b_x | W_h | b_h] [3N, I + N + 2] (GRU, whose b_h sits inside
//! r ⊙ (h W_hᵀ + b_h)); the initial state [B, 2N] = [h_0 | c_0] (LSTM) or [B, N] = h_0 (GRU).
//! Output: H [T, B, N]. The input side of the gates, u_t W_xᵀ + b_x, is formed step by step
//! inside the op and its weight gradients come from the op's own ∂ of the pre-activations, so
//! no [T, B, G·N] tensor enters candle's autograd graph (its backward pass zero-filled and added
//! a gradient for it: a fifth of a 50-unit LSTM iteration).
//!
//! The forward pass keeps the gate activations (LSTM: i, f, g, o, c; GRU: r, z, n and the
//! hidden-side candidate term) for the backward pass, which then needs one product with W_h
//! per step and one product over all steps for ∂W_h:
//! ```text
//! LSTM: dc += dh ⊙ o ⊙ (1 − tanh²c);  ∂a = [dc⊙g⊙i(1−i), dc⊙c₋⊙f(1−f), dc⊙i⊙(1−g²), dh⊙tanh c⊙o(1−o)]
//!       dc₋ = dc ⊙ f;  dh₋ = ∂a W_h + ∂L/∂h₋
//! GRU:  ∂a_n = dh⊙(1−z)⊙(1−n²);  ∂a_z = dh⊙(h₋−n)⊙z(1−z);  ∂a_r = ∂a_n⊙n_h⊙r(1−r)
//!       ∂GH = [∂a_r, ∂a_z, ∂a_n⊙r];  dh₋ = dh⊙z + ∂GH W_h + ∂L/∂h₋
//! ```

use std::ops::Range;
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};

use super::buffer_stash::BufferStash;
use super::fast_math::{sigmoid, tanh};
use super::host::{grad_like, slice, transpose, with_host};
use super::input_drive::{input_drive, input_drive_grads};
use super::options::KernelOptions;
use super::products::gemm_f32;
use super::rate_recurrence::{batch_parts, gather_rows, scatter_rows, RecurrenceDims};
use super::wide_vectors::with_wide_vectors;
use super::Cell;

/// The fused gated recurrence for one forward/backward pair (it keeps the forward pass's
/// gate activations for the backward pass).
#[derive(Debug)]
pub struct GatedRecurrence {
    cell: Cell,
    /// Threads (the batch is split between them) and vector code.
    kernel: KernelOptions,
    /// The forward pass's kept activations, one array per batch part.
    cache: Mutex<Option<Vec<Vec<f32>>>>,
    /// Where the large per-iteration buffers come from and go back to.
    buffers: Arc<BufferStash>,
}

impl GatedRecurrence {
    /// An op for `cell`, run as `kernel` says, with a stash of its own.
    pub fn new(cell: Cell, kernel: KernelOptions) -> Self {
        GatedRecurrence {
            cell,
            kernel,
            cache: Mutex::new(None),
            buffers: Arc::default(),
        }
    }

    /// The op taking its large buffers from `buffers` and handing them back after its
    /// backward pass (a network shares one stash between its iterations' ops).
    pub fn with_buffers(mut self, buffers: Arc<BufferStash>) -> Self {
        self.buffers = buffers;
        self
    }

    fn gates(&self) -> usize {
        match self.cell {
            Cell::Lstm => 4,
            Cell::Gru => 3,
        }
    }

    /// Values kept per step, trial and unit: LSTM i, f, g, o, c; GRU r, z, n, n_h.
    fn kept(&self) -> usize {
        match self.cell {
            Cell::Lstm => 5,
            Cell::Gru => 4,
        }
    }

    /// Width of a W_h row: N, or N + 1 with the GRU's bias column.
    fn row(&self, n: usize) -> usize {
        match self.cell {
            Cell::Lstm => n,
            Cell::Gru => n + 1,
        }
    }

    /// Columns of P: I + 1 + N, and one more for the GRU's b_h.
    fn width(&self, dims: RecurrenceDims) -> usize {
        dims.inputs + 1 + self.row(dims.units)
    }

    /// The forward pass on host arrays (U [T·B·I], P, the initial state): (H [T·B·N], kept
    /// activations [T·B·kept·N]).
    pub fn forward(
        &self,
        u: &[f32],
        p: &[f32],
        init: &[f32],
        dims: RecurrenceDims,
    ) -> (Vec<f32>, Vec<f32>) {
        let kernel = self.kernel;
        kernel.install(|| {
            with_wide_vectors(
                kernel.path,
                #[inline(always)]
                || self.forward_body(u, p, init, dims),
            )
        })
    }

    #[inline(always)]
    fn forward_body(
        &self,
        u: &[f32],
        p: &[f32],
        init: &[f32],
        dims: RecurrenceDims,
    ) -> (Vec<f32>, Vec<f32>) {
        let RecurrenceDims {
            steps: t,
            trials: b,
            units: n,
            inputs: i,
        } = dims;
        let g = self.gates();
        let k = self.kept();
        let width = self.width(dims);
        let bn = b * n;
        let mut hs = vec![0.0f32; t * bn];
        let mut kept = self.buffers.zeroed(t * b * k * n);
        let mut gh = vec![0.0f32; b * g * n];
        let mut gx_t = vec![0.0f32; b * g * n];
        // W_xᵀ [I, G·N] and b_x, for the input side step by step.
        let w_x_t = transpose(p, g * n, i, width);
        let b_x: Vec<f32> = (0..g * n).map(|j| p[j * width + i]).collect();
        // W_hᵀ [N, G·N] (without the GRU's bias column), once per call.
        let w_h = &p[i + 1..];
        let w_t = transpose(w_h, g * n, n, width);
        // The GRU's hidden-side bias b_h [3N] (the last column of P).
        let b_h: Vec<f32> = match self.cell {
            Cell::Lstm => Vec::new(),
            Cell::Gru => (0..g * n).map(|j| w_h[j * width + n]).collect(),
        };
        let mut h_prev: Vec<f32> = (0..b)
            .flat_map(|r| init[r * (init.len() / b)..][..n].to_vec())
            .collect();
        let mut c_prev: Vec<f32> = match self.cell {
            Cell::Lstm => (0..b)
                .flat_map(|r| init[r * 2 * n + n..][..n].to_vec())
                .collect(),
            Cell::Gru => Vec::new(),
        };
        for step in 0..t {
            // gh = h₋ W_hᵀ, from the transposed copy (contiguous rows pack faster).
            gemm_f32(
                self.kernel,
                b,
                g * n,
                n,
                &mut gh,
                false,
                &h_prev,
                n as isize,
                1,
                &w_t,
                (g * n) as isize,
                1,
            );
            input_drive(
                self.kernel,
                &mut gx_t,
                &u[step * b * i..(step + 1) * b * i],
                &b_x,
                &w_x_t,
                i,
            );
            let kept_t = &mut kept[step * b * k * n..(step + 1) * b * k * n];
            let h_t = &mut hs[step * bn..(step + 1) * bn];
            for r in 0..b {
                let a_x = &gx_t[r * g * n..(r + 1) * g * n];
                let a_h = &gh[r * g * n..(r + 1) * g * n];
                let kr = &mut kept_t[r * k * n..(r + 1) * k * n];
                let hp = &h_prev[r * n..(r + 1) * n];
                let ho = &mut h_t[r * n..(r + 1) * n];
                match self.cell {
                    Cell::Lstm => {
                        let cp = &mut c_prev[r * n..(r + 1) * n];
                        // Every operand cut to length n, so the loop runs without bounds checks
                        // and vectorises.
                        let [xi, xf, xg, xo] = gate_slices::<4>(a_x, n);
                        let [hi, hf, hg, ho_] = gate_slices::<4>(a_h, n);
                        let (ki, rest) = kr.split_at_mut(n);
                        let (kf, rest) = rest.split_at_mut(n);
                        let (kg, rest) = rest.split_at_mut(n);
                        let (ko, kc) = rest.split_at_mut(n);
                        lstm_forward_row(
                            [xi, xf, xg, xo],
                            [hi, hf, hg, ho_],
                            cp,
                            ho,
                            ki,
                            kf,
                            kg,
                            ko,
                            &mut kc[..n],
                        );
                    }
                    Cell::Gru => {
                        let [xr, xz, xn] = gate_slices::<3>(a_x, n);
                        let [hr, hz, hn] = gate_slices::<3>(a_h, n);
                        let [br, bz, bn_] = gate_slices::<3>(&b_h, n);
                        let (kr_, rest) = kr.split_at_mut(n);
                        let (kz, rest) = rest.split_at_mut(n);
                        let (kn, knh) = rest.split_at_mut(n);
                        gru_forward_row(
                            [xr, xz, xn],
                            [hr, hz, hn],
                            [br, bz, bn_],
                            hp,
                            ho,
                            kr_,
                            kz,
                            kn,
                            &mut knh[..n],
                        );
                    }
                }
            }
            h_prev.copy_from_slice(h_t);
        }
        (hs, kept)
    }

    /// Backpropagation through time on host arrays: given U, P, the initial state, H, the
    /// kept activations and ∂L/∂H, returns (∂P, ∂init), shaped like P and the initial state.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        u: &[f32],
        p: &[f32],
        init: &[f32],
        hs: &[f32],
        kept: &[f32],
        grad: &[f32],
        dims: RecurrenceDims,
    ) -> (Vec<f32>, Vec<f32>) {
        let kernel = self.kernel;
        kernel.install(|| {
            with_wide_vectors(
                kernel.path,
                #[inline(always)]
                || self.backward_body(u, p, init, hs, kept, grad, dims),
            )
        })
    }

    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn backward_body(
        &self,
        u: &[f32],
        p: &[f32],
        init: &[f32],
        hs: &[f32],
        kept: &[f32],
        grad: &[f32],
        dims: RecurrenceDims,
    ) -> (Vec<f32>, Vec<f32>) {
        let RecurrenceDims {
            steps: t,
            trials: b,
            units: n,
            inputs: i,
        } = dims;
        let g = self.gates();
        let (k, row) = (self.kept(), self.row(n));
        let width = self.width(dims);
        let w_h = &p[i + 1..];
        // ∂W_xᵀ [I, G·N] and ∂b_x, summed block by block.
        let mut d_w_x_t = vec![0.0f32; i * g * n];
        let mut d_b_x = vec![0.0f32; g * n];
        let bn = b * n;
        let gn = g * n;
        let state = init.len() / b;
        let h0: Vec<f32> = (0..b)
            .flat_map(|r| init[r * state..][..n].to_vec())
            .collect();
        let c0: Vec<f32> = match self.cell {
            Cell::Lstm => (0..b)
                .flat_map(|r| init[r * state + n..][..n].to_vec())
                .collect(),
            Cell::Gru => Vec::new(),
        };
        // ∂ of the input-side and hidden-side pre-activations for every step (equal for the
        // LSTM, whose gates add them).
        let mut d_gx = self.buffers.zeroed(t * b * gn);
        let mut d_gh = match self.cell {
            Cell::Lstm => Vec::new(),
            Cell::Gru => self.buffers.zeroed(t * b * gn),
        };
        let mut dh: Vec<f32> = grad[(t - 1) * bn..].to_vec();
        let mut dc = vec![0.0f32; if self.cell == Cell::Lstm { bn } else { 0 }];
        let mut back = vec![0.0f32; bn];
        // Steps per ∂W_h product: about 1024 trial rows, as in the rate kernel.
        let block = (1024 / b.max(1)).clamp(1, t);
        let mut block_end = t;
        let mut d_w_plain = vec![0.0f32; gn * n];
        for step in (0..t).rev() {
            let h_prev: &[f32] = if step == 0 {
                &h0
            } else {
                &hs[(step - 1) * bn..step * bn]
            };
            let kept_t = &kept[step * b * k * n..(step + 1) * b * k * n];
            let dgx_t = &mut d_gx[step * b * gn..(step + 1) * b * gn];
            for r in 0..b {
                let kr = &kept_t[r * k * n..(r + 1) * k * n];
                let da = &mut dgx_t[r * gn..(r + 1) * gn];
                let dhr = &mut dh[r * n..(r + 1) * n];
                match self.cell {
                    Cell::Lstm => {
                        let c_prev: &[f32] = if step == 0 {
                            &c0[r * n..(r + 1) * n]
                        } else {
                            &kept[(step - 1) * b * k * n + r * k * n + 4 * n..][..n]
                        };
                        let dcr = &mut dc[r * n..(r + 1) * n];
                        let [ki, kf, kg, ko, kc] = gate_slices::<5>(kr, n);
                        let (da_i, rest) = da.split_at_mut(n);
                        let (da_f, rest) = rest.split_at_mut(n);
                        let (da_g, da_o) = rest.split_at_mut(n);
                        lstm_backward_row(
                            [ki, kf, kg, ko, kc],
                            c_prev,
                            dhr,
                            dcr,
                            da_i,
                            da_f,
                            da_g,
                            &mut da_o[..n],
                        );
                    }
                    Cell::Gru => {
                        let dgh = &mut d_gh[step * b * gn + r * gn..][..gn];
                        let hp = &h_prev[r * n..(r + 1) * n];
                        let [kr_, kz, kn, knh] = gate_slices::<4>(kr, n);
                        let (da_r, rest) = da.split_at_mut(n);
                        let (da_z, da_n) = rest.split_at_mut(n);
                        let (gh_r, rest) = dgh.split_at_mut(n);
                        let (gh_z, gh_n) = rest.split_at_mut(n);
                        gru_backward_row(
                            [kr_, kz, kn, knh],
                            hp,
                            dhr,
                            [da_r, da_z, &mut da_n[..n]],
                            [gh_r, gh_z, &mut gh_n[..n]],
                        );
                    }
                }
            }
            // back = ∂GH_t · W_h (without the GRU's bias column): b_kj = W[k][j].
            let dgh_t: &[f32] = match self.cell {
                Cell::Lstm => &d_gx[step * b * gn..(step + 1) * b * gn],
                Cell::Gru => &d_gh[step * b * gn..(step + 1) * b * gn],
            };
            gemm_f32(
                self.kernel,
                b,
                n,
                gn,
                &mut back,
                false,
                dgh_t,
                gn as isize,
                1,
                w_h,
                width as isize,
                1,
            );
            for (d, v) in dh.iter_mut().zip(&back) {
                *d += v;
            }
            if step > 0 {
                for (d, v) in dh.iter_mut().zip(&grad[(step - 1) * bn..step * bn]) {
                    *d += v;
                }
            }
            // ∂W_h = Σ_t ∂GH_tᵀ h_{t−1}, one product per block of steps while the block's
            // ∂GH is in cache: ∂GHᵀ (G·N × rows) · H₋ (rows × N).
            if block_end - step == block || step == 0 {
                let dgh_all: &[f32] = match self.cell {
                    Cell::Lstm => &d_gx,
                    Cell::Gru => &d_gh,
                };
                let mut add = |from: usize, to: usize, h_rows: &[f32]| {
                    gemm_f32(
                        self.kernel,
                        gn,
                        n,
                        (to - from) * b,
                        &mut d_w_plain,
                        true,
                        &dgh_all[from * b * gn..to * b * gn],
                        1,
                        gn as isize,
                        h_rows,
                        n as isize,
                        1,
                    )
                };
                if step == 0 {
                    add(0, 1, &h0);
                    if block_end > 1 {
                        add(1, block_end, &hs[..(block_end - 1) * bn]);
                    }
                } else {
                    add(step, block_end, &hs[(step - 1) * bn..(block_end - 1) * bn]);
                }
                // ∂W_x and ∂b_x from the block's input-side ∂ of the pre-activations.
                input_drive_grads(
                    self.kernel,
                    &d_gx[step * b * gn..block_end * b * gn],
                    &u[step * b * i..block_end * b * i],
                    &mut d_b_x,
                    &mut d_w_x_t,
                    i,
                );
                block_end = step;
            }
        }
        let d_w = match self.cell {
            Cell::Lstm => d_w_plain,
            Cell::Gru => {
                let mut d = vec![0.0f32; gn * row];
                for j in 0..gn {
                    d[j * row..j * row + n].copy_from_slice(&d_w_plain[j * n..(j + 1) * n]);
                    d[j * row + n] = d_gh.chunks_exact(gn).map(|r| r[j]).sum();
                }
                d
            }
        };
        let d_init = match self.cell {
            Cell::Gru => dh,
            Cell::Lstm => (0..b)
                .flat_map(|r| {
                    dh[r * n..(r + 1) * n]
                        .iter()
                        .chain(&dc[r * n..(r + 1) * n])
                        .copied()
                        .collect::<Vec<f32>>()
                })
                .collect(),
        };
        // ∂P = [∂W_x | ∂b_x | ∂W_h (| ∂b_h)], row by row.
        let mut d_p = vec![0.0f32; g * n * width];
        for (j, out) in d_p.chunks_exact_mut(width).enumerate() {
            for (c, v) in out[..i].iter_mut().enumerate() {
                *v = d_w_x_t[c * g * n + j];
            }
            out[i] = d_b_x[j];
            out[i + 1..].copy_from_slice(&d_w[j * row..(j + 1) * row]);
        }
        self.buffers.keep(d_gx);
        self.buffers.keep(d_gh);
        (d_p, d_init)
    }
}

/// The first K blocks of length `n` of `v` (one per gate or kept value).
#[inline(always)]
fn gate_slices<const K: usize>(v: &[f32], n: usize) -> [&[f32]; K] {
    std::array::from_fn(|j| &v[j * n..(j + 1) * n])
}

// The per-trial cell loops below take every operand as a slice argument of their own: the
// compiler then knows the outputs do not overlap (slices cut from one array inside a function
// carry no such guarantee), and vectorises the loops. Written inline, the LSTM's loops stayed
// scalar and its exp evaluations took half of a 50-unit iteration.

/// One trial's LSTM step over its n units: from the pre-activations (input side x, hidden
/// side h) of the gates i, f, g, o and the previous cell state `c` (updated in place), the
/// new hidden state `h_out` and the kept i, f, g, o and c.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn lstm_forward_row(
    x: [&[f32]; 4],
    h: [&[f32]; 4],
    c: &mut [f32],
    h_out: &mut [f32],
    k_i: &mut [f32],
    k_f: &mut [f32],
    k_g: &mut [f32],
    k_o: &mut [f32],
    k_c: &mut [f32],
) {
    let n = h_out.len();
    let ([xi, xf, xg, xo], [hi, hf, hg, ho]) = (x.map(|v| &v[..n]), h.map(|v| &v[..n]));
    let (c, k_i, k_f, k_g, k_o, k_c) = (
        &mut c[..n],
        &mut k_i[..n],
        &mut k_f[..n],
        &mut k_g[..n],
        &mut k_o[..n],
        &mut k_c[..n],
    );
    for u in 0..n {
        let i = sigmoid(xi[u] + hi[u]);
        let f = sigmoid(xf[u] + hf[u]);
        let g = tanh(xg[u] + hg[u]);
        let o = sigmoid(xo[u] + ho[u]);
        let cell = f * c[u] + i * g;
        h_out[u] = o * tanh(cell);
        c[u] = cell;
        k_i[u] = i;
        k_f[u] = f;
        k_g[u] = g;
        k_o[u] = o;
        k_c[u] = cell;
    }
}

/// One trial's GRU step over its n units: from the pre-activations of r, z, n (input side x,
/// hidden side h without its bias b) and the previous hidden state, the new hidden state
/// `h_out` and the kept r, z, candidate and hidden-side n pre-activation.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn gru_forward_row(
    x: [&[f32]; 3],
    h: [&[f32]; 3],
    b: [&[f32]; 3],
    h_prev: &[f32],
    h_out: &mut [f32],
    k_r: &mut [f32],
    k_z: &mut [f32],
    k_n: &mut [f32],
    k_nh: &mut [f32],
) {
    let n = h_out.len();
    let [xr, xz, xn] = x.map(|v| &v[..n]);
    let [hr, hz, hn] = h.map(|v| &v[..n]);
    let [br, bz, bn] = b.map(|v| &v[..n]);
    let (h_prev, k_r, k_z, k_n, k_nh) = (
        &h_prev[..n],
        &mut k_r[..n],
        &mut k_z[..n],
        &mut k_n[..n],
        &mut k_nh[..n],
    );
    for u in 0..n {
        let r = sigmoid(xr[u] + hr[u] + br[u]);
        let z = sigmoid(xz[u] + hz[u] + bz[u]);
        let nh = hn[u] + bn[u];
        let cand = tanh(xn[u] + r * nh);
        h_out[u] = cand + z * (h_prev[u] - cand);
        k_r[u] = r;
        k_z[u] = z;
        k_n[u] = cand;
        k_nh[u] = nh;
    }
}

/// One trial's LSTM step backwards: from the kept i, f, g, o, c, the previous cell state and
/// ∂h (`d_h`, cleared) and ∂c (`d_c`, carried to the previous step), the gates'
/// pre-activation gradients.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn lstm_backward_row(
    kept: [&[f32]; 5],
    c_prev: &[f32],
    d_h: &mut [f32],
    d_c: &mut [f32],
    d_i: &mut [f32],
    d_f: &mut [f32],
    d_g: &mut [f32],
    d_o: &mut [f32],
) {
    let n = d_h.len();
    let [ki, kf, kg, ko, kc] = kept.map(|v| &v[..n]);
    let (c_prev, d_c, d_i, d_f, d_g, d_o) = (
        &c_prev[..n],
        &mut d_c[..n],
        &mut d_i[..n],
        &mut d_f[..n],
        &mut d_g[..n],
        &mut d_o[..n],
    );
    for u in 0..n {
        let (i, f, g, o, c) = (ki[u], kf[u], kg[u], ko[u], kc[u]);
        let tc = tanh(c);
        let dc = d_c[u] + d_h[u] * o * (1.0 - tc * tc);
        d_o[u] = d_h[u] * tc * o * (1.0 - o);
        d_i[u] = dc * g * i * (1.0 - i);
        d_f[u] = dc * c_prev[u] * f * (1.0 - f);
        d_g[u] = dc * i * (1.0 - g * g);
        d_c[u] = dc * f;
        d_h[u] = 0.0;
    }
}

/// One trial's GRU step backwards: from the kept r, z, candidate, hidden-side n
/// pre-activation and the previous hidden state, and ∂h (`d_h`, replaced by its share carried
/// straight to the previous step), the input-side (`d_x`) and hidden-side (`d_h_side`)
/// pre-activation gradients of r, z, n.
#[inline(always)]
fn gru_backward_row(
    kept: [&[f32]; 4],
    h_prev: &[f32],
    d_h: &mut [f32],
    d_x: [&mut [f32]; 3],
    d_h_side: [&mut [f32]; 3],
) {
    let n = d_h.len();
    let [kr, kz, kn, knh] = kept.map(|v| &v[..n]);
    let h_prev = &h_prev[..n];
    let [dx_r, dx_z, dx_n] = d_x;
    let [dh_r, dh_z, dh_n] = d_h_side;
    let (dx_r, dx_z, dx_n) = (&mut dx_r[..n], &mut dx_z[..n], &mut dx_n[..n]);
    let (dh_r, dh_z, dh_n) = (&mut dh_r[..n], &mut dh_z[..n], &mut dh_n[..n]);
    for u in 0..n {
        let (r, z, cand, nh) = (kr[u], kz[u], kn[u], knh[u]);
        let d = d_h[u];
        let d_an = d * (1.0 - z) * (1.0 - cand * cand);
        let d_az = d * (h_prev[u] - cand) * z * (1.0 - z);
        let d_ar = d_an * nh * r * (1.0 - r);
        dx_r[u] = d_ar;
        dx_z[u] = d_az;
        dx_n[u] = d_an;
        dh_r[u] = d_ar;
        dh_z[u] = d_az;
        dh_n[u] = d_an * r;
        d_h[u] = d * z;
    }
}

impl GatedRecurrence {
    /// The op for one batch part: products on one thread, the same stash.
    fn part_op(&self) -> GatedRecurrence {
        GatedRecurrence::new(self.cell, self.kernel.single_threaded())
            .with_buffers(self.buffers.clone())
    }

    /// The sizes of the batch part `rows` of a call of sizes `dims`, and its rows of U.
    fn part_inputs(
        u: &[f32],
        rows: &Range<usize>,
        dims: RecurrenceDims,
    ) -> (Vec<f32>, RecurrenceDims) {
        let part_u = gather_rows(u, rows, dims.steps, dims.trials, dims.inputs);
        let part_dims = RecurrenceDims {
            trials: rows.len(),
            ..dims
        };
        (part_u, part_dims)
    }

    /// The forward pass with the batch split between the model threads ([`batch_parts`], as
    /// the rate kernel splits it): trials are independent, so each thread runs every step for
    /// its trials with no synchronisation between steps, instead of sharing each step's small
    /// product. Returns H [T·B·N] and the kept activations of each part.
    fn forward_split(
        &self,
        u: &[f32],
        p: &[f32],
        init: &[f32],
        dims: RecurrenceDims,
    ) -> (Vec<f32>, Vec<Vec<f32>>) {
        let parts = batch_parts(dims.trials, self.kernel.threads);
        if parts.len() == 1 {
            let (hs, kept) = self.forward(u, p, init, dims);
            return (hs, vec![kept]);
        }
        let (t, b, n) = (dims.steps, dims.trials, dims.units);
        let state = init.len() / b.max(1);
        let part_op = self.part_op();
        let done: Vec<(Vec<f32>, Vec<f32>)> = self.kernel.install(|| {
            parts
                .par_iter()
                .map(|rows| {
                    let (part_u, part_dims) = Self::part_inputs(u, rows, dims);
                    part_op.forward(
                        &part_u,
                        p,
                        &init[rows.start * state..rows.end * state],
                        part_dims,
                    )
                })
                .collect()
        });
        let mut hs = vec![0.0f32; t * b * n];
        let mut kept = Vec::with_capacity(parts.len());
        for (rows, (part_hs, part_kept)) in parts.iter().zip(done) {
            scatter_rows(&mut hs, &part_hs, rows, t, b, n);
            kept.push(part_kept);
        }
        (hs, kept)
    }

    /// [`Self::backward`] with the batch split as [`Self::forward_split`] split it (`kept`
    /// holds its parts' activations, or is `None` to run the forward pass again): ∂P summed
    /// over the parts in order, ∂init gathered. The kept arrays go back to the stash.
    #[allow(clippy::too_many_arguments)]
    fn backward_split(
        &self,
        u: &[f32],
        p: &[f32],
        init: &[f32],
        hs: &[f32],
        kept: Option<Vec<Vec<f32>>>,
        grad: &[f32],
        dims: RecurrenceDims,
    ) -> (Vec<f32>, Vec<f32>) {
        let parts = batch_parts(dims.trials, self.kernel.threads);
        let kept = match kept {
            Some(k) if k.len() == parts.len() => k,
            // Not kept (a second backward pass): run the forward pass again.
            _ => self.forward_split(u, p, init, dims).1,
        };
        if parts.len() == 1 {
            let out = self.backward(u, p, init, hs, &kept[0], grad, dims);
            kept.into_iter().for_each(|k| self.buffers.keep(k));
            return out;
        }
        let (t, b, n) = (dims.steps, dims.trials, dims.units);
        let state = init.len() / b.max(1);
        let part_op = self.part_op();
        let done: Vec<(Vec<f32>, Vec<f32>)> = self.kernel.install(|| {
            parts
                .par_iter()
                .zip(&kept)
                .map(|(rows, part_kept)| {
                    let (part_u, part_dims) = Self::part_inputs(u, rows, dims);
                    part_op.backward(
                        &part_u,
                        p,
                        &init[rows.start * state..rows.end * state],
                        &gather_rows(hs, rows, t, b, n),
                        part_kept,
                        &gather_rows(grad, rows, t, b, n),
                        part_dims,
                    )
                })
                .collect()
        });
        kept.into_iter().for_each(|k| self.buffers.keep(k));
        let mut d_p = vec![0.0f32; p.len()];
        let mut d_init = Vec::with_capacity(init.len());
        for (part_d_p, part_d_init) in done {
            d_p.iter_mut().zip(&part_d_p).for_each(|(a, v)| *a += v);
            d_init.extend_from_slice(&part_d_init);
        }
        (d_p, d_init)
    }

    /// The sizes of a call from the shapes of U [T, B, I], P [G·N, I + 1 + N (+ 1)] and the
    /// initial state [B, 2N] (LSTM) or [B, N] (GRU).
    fn dims_of(&self, u: &Shape, p: &Shape, init: &Shape) -> Result<RecurrenceDims> {
        let (t, b, i) = u.dims3()?;
        let g = self.gates();
        let gn = p.dims().first().copied().unwrap_or(0);
        let n = gn / g;
        let dims = RecurrenceDims {
            steps: t,
            trials: b,
            units: n,
            inputs: i,
        };
        let state = if self.cell == Cell::Lstm { 2 * n } else { n };
        if gn % g != 0 || p.dims() != [gn, self.width(dims)] || init.dims() != [b, state] {
            candle_core::bail!(
                "gated-recurrence ({:?}): shapes {u:?}, {p:?}, {init:?} do not fit U [T,B,I], \
                 P [{g}N,I+1+{}], init [B,{}]",
                self.cell,
                if self.cell == Cell::Lstm { "N" } else { "N+1" },
                if self.cell == Cell::Lstm { "2N" } else { "N" },
            );
        }
        Ok(dims)
    }
}

/// H = `apply_op3(U, P, initial state)`.
impl CustomOp3 for GatedRecurrence {
    fn name(&self) -> &'static str {
        "gated-recurrence"
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
        let dims = self.dims_of(l1.shape(), l2.shape(), l3.shape())?;
        let (hs, kept) = self.forward_split(
            slice(s1, l1, "U")?,
            slice(s2, l2, "[W_x | b_x | W_h]")?,
            slice(s3, l3, "initial state")?,
            dims,
        );
        *self.cache.lock().expect("gated-recurrence cache") = Some(kept);
        let shape = Shape::from((dims.steps, dims.trials, dims.units));
        Ok((CpuStorage::F32(hs), shape))
    }

    fn bwd(
        &self,
        u: &Tensor,
        p: &Tensor,
        init: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let dims = self.dims_of(u.shape(), p.shape(), init.shape())?;
        let cached = self.cache.lock().expect("gated-recurrence cache").take();
        let (d_p, d_init) = with_host(u, |u_h| {
            with_host(p, |p_h| {
                with_host(init, |init_h| {
                    with_host(res, |hs| {
                        with_host(grad, |g| {
                            Ok(self.backward_split(u_h, p_h, init_h, hs, cached, g, dims))
                        })
                    })
                })
            })
        })?;
        Ok((None, grad_like(d_p, p)?, grad_like(d_init, init)?))
    }
}
