//! The LSTM's and GRU's time loops as one custom op with a hand-written backward pass
//! through time (equations in `model::gated`).
//!
//! Inputs: GX [T, B, G·N], the input side of every gate pre-activation for all steps
//! (x_t W_xᵀ + b_x, one product outside); W_h [G·N, N] (LSTM) or [W_h | b_h] [3N, N + 1]
//! (GRU, whose b_h sits inside r ⊙ (h W_hᵀ + b_h)); the initial state [B, 2N] = [h_0 | c_0]
//! (LSTM) or [B, N] = h_0 (GRU). Output: H [T, B, N].
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

use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};

use super::fast_math::{sigmoid, tanh};
use super::rate_recurrence::{gemm_f32, grad_like, slice, transpose, with_host};
use super::wide_vectors::with_wide_vectors;
use crate::model::Cell;

/// The fused gated recurrence for one forward/backward pair (it keeps the forward pass's
/// gate activations for the backward pass).
#[derive(Debug)]
pub struct GatedRecurrence {
    cell: Cell,
    cache: Mutex<Option<Vec<f32>>>,
}

impl GatedRecurrence {
    /// An op for `cell`.
    pub fn new(cell: Cell) -> Self {
        GatedRecurrence {
            cell,
            cache: Mutex::new(None),
        }
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

    /// The forward pass on host arrays: (H [T·B·N], kept activations [T·B·kept·N]).
    pub fn forward(
        &self,
        gx: &[f32],
        w: &[f32],
        init: &[f32],
        t: usize,
        b: usize,
        n: usize,
    ) -> (Vec<f32>, Vec<f32>) {
        with_wide_vectors(
            #[inline(always)]
            || self.forward_body(gx, w, init, t, b, n),
        )
    }

    #[inline(always)]
    fn forward_body(
        &self,
        gx: &[f32],
        w: &[f32],
        init: &[f32],
        t: usize,
        b: usize,
        n: usize,
    ) -> (Vec<f32>, Vec<f32>) {
        let g = self.gates();
        let (k, row) = (self.kept(), self.row(n));
        let bn = b * n;
        let mut hs = vec![0.0f32; t * bn];
        let mut kept = vec![0.0f32; t * b * k * n];
        let mut gh = vec![0.0f32; b * g * n];
        // W_hᵀ [N, G·N] (without the GRU's bias column), once per call.
        let w_t = transpose(w, g * n, n, row);
        // The GRU's hidden-side bias b_h [3N] (its W_h's last column).
        let b_h: Vec<f32> = match self.cell {
            Cell::Lstm => Vec::new(),
            Cell::Gru => (0..g * n).map(|j| w[j * row + n]).collect(),
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
            let gx_t = &gx[step * b * g * n..(step + 1) * b * g * n];
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
                        let (ho, kc) = (&mut ho[..n], &mut kc[..n]);
                        for u in 0..n {
                            let i = sigmoid(xi[u] + hi[u]);
                            let f = sigmoid(xf[u] + hf[u]);
                            let gg = tanh(xg[u] + hg[u]);
                            let o = sigmoid(xo[u] + ho_[u]);
                            let c = f * cp[u] + i * gg;
                            ho[u] = o * tanh(c);
                            cp[u] = c;
                            ki[u] = i;
                            kf[u] = f;
                            kg[u] = gg;
                            ko[u] = o;
                            kc[u] = c;
                        }
                    }
                    Cell::Gru => {
                        let [xr, xz, xn] = gate_slices::<3>(a_x, n);
                        let [hr, hz, hn] = gate_slices::<3>(a_h, n);
                        let [br, bz, bn_] = gate_slices::<3>(&b_h, n);
                        let (kr_, rest) = kr.split_at_mut(n);
                        let (kz, rest) = rest.split_at_mut(n);
                        let (kn, knh) = rest.split_at_mut(n);
                        let (ho, hp, knh) = (&mut ho[..n], &hp[..n], &mut knh[..n]);
                        for u in 0..n {
                            let rr = sigmoid(xr[u] + hr[u] + br[u]);
                            let z = sigmoid(xz[u] + hz[u] + bz[u]);
                            let nh = hn[u] + bn_[u];
                            let cand = tanh(xn[u] + rr * nh);
                            ho[u] = cand + z * (hp[u] - cand);
                            kr_[u] = rr;
                            kz[u] = z;
                            kn[u] = cand;
                            knh[u] = nh;
                        }
                    }
                }
            }
            h_prev.copy_from_slice(h_t);
        }
        (hs, kept)
    }

    /// Backpropagation through time on host arrays: given W_h, the initial state, H, the kept
    /// activations and ∂L/∂H, returns (∂GX, ∂W_h, ∂init), shaped like the inputs.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        w: &[f32],
        init: &[f32],
        hs: &[f32],
        kept: &[f32],
        grad: &[f32],
        t: usize,
        b: usize,
        n: usize,
    ) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        with_wide_vectors(
            #[inline(always)]
            || self.backward_body(w, init, hs, kept, grad, t, b, n),
        )
    }

    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn backward_body(
        &self,
        w: &[f32],
        init: &[f32],
        hs: &[f32],
        kept: &[f32],
        grad: &[f32],
        t: usize,
        b: usize,
        n: usize,
    ) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let g = self.gates();
        let (k, row) = (self.kept(), self.row(n));
        let bn = b * n;
        let gn = g * n;
        let width = init.len() / b;
        let h0: Vec<f32> = (0..b)
            .flat_map(|r| init[r * width..][..n].to_vec())
            .collect();
        let c0: Vec<f32> = match self.cell {
            Cell::Lstm => (0..b)
                .flat_map(|r| init[r * width + n..][..n].to_vec())
                .collect(),
            Cell::Gru => Vec::new(),
        };
        // ∂ of the input-side and hidden-side pre-activations for every step (equal for the
        // LSTM, whose gates add them).
        let mut d_gx = vec![0.0f32; t * b * gn];
        let mut d_gh = match self.cell {
            Cell::Lstm => Vec::new(),
            Cell::Gru => vec![0.0f32; t * b * gn],
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
                        let (da_o, c_prev, dhr) = (&mut da_o[..n], &c_prev[..n], &mut dhr[..n]);
                        for u in 0..n {
                            let (i, f, gg, o, c) = (ki[u], kf[u], kg[u], ko[u], kc[u]);
                            let tc = tanh(c);
                            let d_o = dhr[u] * tc;
                            let d_c = dcr[u] + dhr[u] * o * (1.0 - tc * tc);
                            da_i[u] = d_c * gg * i * (1.0 - i);
                            da_f[u] = d_c * c_prev[u] * f * (1.0 - f);
                            da_g[u] = d_c * i * (1.0 - gg * gg);
                            da_o[u] = d_o * o * (1.0 - o);
                            dcr[u] = d_c * f;
                            dhr[u] = 0.0;
                        }
                    }
                    Cell::Gru => {
                        let dgh = &mut d_gh[step * b * gn + r * gn..][..gn];
                        let hp = &h_prev[r * n..(r + 1) * n];
                        let [kr_, kz, kn, knh] = gate_slices::<4>(kr, n);
                        let (da_r, rest) = da.split_at_mut(n);
                        let (da_z, da_n) = rest.split_at_mut(n);
                        let (gh_r, rest) = dgh.split_at_mut(n);
                        let (gh_z, gh_n) = rest.split_at_mut(n);
                        let (da_n, gh_n, hp, dhr) =
                            (&mut da_n[..n], &mut gh_n[..n], &hp[..n], &mut dhr[..n]);
                        for u in 0..n {
                            let (rr, z, cand, nh) = (kr_[u], kz[u], kn[u], knh[u]);
                            let d = dhr[u];
                            let d_an = d * (1.0 - z) * (1.0 - cand * cand);
                            let d_az = d * (hp[u] - cand) * z * (1.0 - z);
                            let d_ar = d_an * nh * rr * (1.0 - rr);
                            da_r[u] = d_ar;
                            da_z[u] = d_az;
                            da_n[u] = d_an;
                            gh_r[u] = d_ar;
                            gh_z[u] = d_az;
                            gh_n[u] = d_an * rr;
                            dhr[u] = d * z;
                        }
                    }
                }
            }
            // back = ∂GH_t · W_h (without the GRU's bias column): b_kj = W[k][j].
            let dgh_t: &[f32] = match self.cell {
                Cell::Lstm => &d_gx[step * b * gn..(step + 1) * b * gn],
                Cell::Gru => &d_gh[step * b * gn..(step + 1) * b * gn],
            };
            gemm_f32(
                b,
                n,
                gn,
                &mut back,
                false,
                dgh_t,
                gn as isize,
                1,
                w,
                row as isize,
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
        (d_gx, d_w, d_init)
    }
}

/// The first K blocks of length `n` of `v` (one per gate or kept value).
#[inline(always)]
fn gate_slices<const K: usize>(v: &[f32], n: usize) -> [&[f32]; K] {
    std::array::from_fn(|j| &v[j * n..(j + 1) * n])
}

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
        let (t, b, gn) = l1.shape().dims3()?;
        let g = self.gates();
        let n = gn / g;
        let width = if self.cell == Cell::Lstm { 2 * n } else { n };
        if gn % g != 0 || l2.shape().dims() != [gn, self.row(n)] || l3.shape().dims() != [b, width]
        {
            candle_core::bail!(
                "gated-recurrence ({:?}): shapes {:?}, {:?}, {:?} do not fit GX [T,B,{g}N], W_h [{g}N,{}], init [B,{}]",
                self.cell,
                l1.shape(),
                l2.shape(),
                l3.shape(),
                if self.cell == Cell::Lstm { "N" } else { "N+1" },
                if self.cell == Cell::Lstm { "2N" } else { "N" },
            );
        }
        let (hs, kept) = self.forward(
            slice(s1, l1, "GX")?,
            slice(s2, l2, "W_h")?,
            slice(s3, l3, "initial state")?,
            t,
            b,
            n,
        );
        *self.cache.lock().expect("gated-recurrence cache") = Some(kept);
        Ok((CpuStorage::F32(hs), Shape::from((t, b, n))))
    }

    fn bwd(
        &self,
        gx: &Tensor,
        w: &Tensor,
        init: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (t, b, gn) = gx.dims3()?;
        let n = gn / self.gates();
        let cached = self.cache.lock().expect("gated-recurrence cache").take();
        let (d_gx, d_w, d_init) = with_host(w, |w_h| {
            with_host(init, |init_h| {
                with_host(res, |hs| {
                    with_host(grad, |g| {
                        let recomputed;
                        let kept: &[f32] = match &cached {
                            Some(k) => k,
                            // Not kept (a second backward pass): run the forward pass again.
                            None => {
                                recomputed = with_host(gx, |gx_h| {
                                    Ok(self.forward(gx_h, w_h, init_h, t, b, n).1)
                                })?;
                                &recomputed
                            }
                        };
                        Ok(self.backward(w_h, init_h, hs, kept, g, t, b, n))
                    })
                })
            })
        })?;
        Ok((
            grad_like(d_gx, gx)?,
            grad_like(d_w, w)?,
            grad_like(d_init, init)?,
        ))
    }
}
