//! The readout y = f(x) W_outᵀ + b_out on host arrays, row block by row block, and as a
//! candle op of its own ([`Readout`]) for the paths that keep the states in the autograd
//! graph (gated networks; rate networks whose loss penalises firing rates).
//!
//! Backward: ∂x = (∂y W_out) ⊙ f′(x), ∂W_out = ∂yᵀ f(x), ∂b_out = Σ ∂y.

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};

use super::host::{grad_like, slice, with_host};
use super::options::KernelOptions;
use super::products::gemm_f32;
use super::transfer_loops::{apply, slope_from_rates};
use super::wide_vectors::with_wide_vectors;
use super::Transfer;

/// Readouts with at most this many outputs are summed row by row with the outputs unrolled
/// (a matrix product with so few columns packs poorly); wider ones use products.
const ROW_READOUT_MAX_OUTPUTS: usize = super::SMALL_COUNT_MAX;

/// Trial rows per block: f(x) and f′ are taken over a whole block at once (long loops), the
/// per-row sums then read them from cache.
pub(super) const READOUT_BLOCK_ROWS: usize = 64;

/// [W_out | b_out] ([N_out·(N + 1)], row-major) for N units and N_out outputs.
#[derive(Debug, Clone, Copy)]
pub(super) struct ReadoutWeights<'a> {
    /// [W_out | b_out].
    pub w: &'a [f32],
    /// N.
    pub n: usize,
    /// N_out.
    pub n_out: usize,
}

impl ReadoutWeights<'_> {
    /// Appends y = r W_outᵀ + b_out for the rates `r` ([rows·N]) to `out` ([rows·N_out]).
    #[inline(always)]
    pub(super) fn outputs(&self, kernel: KernelOptions, r: &[f32], out: &mut Vec<f32>) {
        let (w, n, n_out) = (self.w, self.n, self.n_out);
        if (1..=ROW_READOUT_MAX_OUTPUTS).contains(&n_out) {
            return with_small_count!(n_out, readout_rows(r, w, n, out));
        }
        let rows = r.len() / n;
        let start = out.len();
        for _ in 0..rows {
            out.extend((0..n_out).map(|j| w[j * (n + 1) + n]));
        }
        // out += r · W_outᵀ: b_kj = W[j][k] → row stride 1, column stride n + 1.
        gemm_f32(
            kernel,
            rows,
            n_out,
            n,
            &mut out[start..],
            true,
            r,
            n as isize,
            1,
            w,
            1,
            (n + 1) as isize,
        );
    }

    /// Appends ∂x = (∂y W_out) ⊙ f′ for rates `r`, slopes `slope` ([rows·N]) and ∂y `g`
    /// ([rows·N_out]) to `d_x`, and adds these rows' ∂[W_out | b_out] into `d_w`.
    #[inline(always)]
    pub(super) fn state_grads(
        &self,
        kernel: KernelOptions,
        r: &[f32],
        slope: &[f32],
        g: &[f32],
        d_x: &mut Vec<f32>,
        d_w: &mut [f32],
    ) {
        let (w, n, n_out) = (self.w, self.n, self.n_out);
        if (1..=ROW_READOUT_MAX_OUTPUTS).contains(&n_out) {
            return with_small_count!(n_out, readout_grad_rows(r, slope, g, w, n, d_x, d_w));
        }
        let (rows, width) = (r.len() / n, n + 1);
        let start = d_x.len();
        d_x.resize(start + r.len(), 0.0);
        let block = &mut d_x[start..];
        // ∂r = ∂y · W_out: b_kj = W[k][j] → row stride n + 1, column stride 1.
        gemm_f32(
            kernel,
            rows,
            n,
            n_out,
            block,
            false,
            g,
            n_out as isize,
            1,
            w,
            width as isize,
            1,
        );
        block.iter_mut().zip(slope).for_each(|(d, &s)| *d *= s);
        // ∂W_out = ∂yᵀ (n_out × rows) · r (rows × n), added into the first n columns of d_w.
        let mut d_w_out = vec![0.0f32; n_out * n];
        gemm_f32(
            kernel,
            n_out,
            n,
            rows,
            &mut d_w_out,
            false,
            g,
            1,
            n_out as isize,
            r,
            n as isize,
            1,
        );
        for j in 0..n_out {
            let row = &mut d_w[j * width..(j + 1) * width];
            row[..n]
                .iter_mut()
                .zip(&d_w_out[j * n..(j + 1) * n])
                .for_each(|(d, v)| *d += v);
            row[n] += g.chunks_exact(n_out).map(|g_row| g_row[j]).sum::<f32>();
        }
    }
}

/// y rows for a block: y[row][j] = b[j] + Σ_k W[j][k] r[row][k], O outputs (each sum in
/// four partial sums, so the loop vectorises; four reduce faster at the end of each row than
/// eight, and measured faster at 50 units).
#[inline(always)]
fn readout_rows<const O: usize>(r: &[f32], w: &[f32], n: usize, out: &mut Vec<f32>) {
    const LANES: usize = 4;
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

/// ∂x rows for a block, appended to `d_x`, and the block's share of ∂[W_out | b_out] added
/// into `d_w`: ∂x[row][k] = f′[row][k] Σ_j g[row][j] W[j][k], ∂W[j][k] += g[row][j] r[row][k].
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
        let (r_row, s_row, dx_row) = (&r_row[..n], &s_row[..n], &mut dx_row[..n]);
        // One pass over the units: ∂x and the rows' share of ∂W_out together.
        for k in 0..n {
            let mut a = 0.0f32;
            for j in 0..O {
                a += g_row[j] * w_j[j][k];
                d_w_j[j][k] += g_row[j] * r_row[k];
            }
            dx_row[k] = a * s_row[k];
        }
        for j in 0..O {
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

/// The readout y = f(x) W_outᵀ + b_out as one op, from the states x [T, B, N] and
/// [W_out | b_out] [N_out, N + 1]: no [T, B, N] firing-rate tensor enters the autograd graph
/// (each would cost candle a zero-filled gradient, an addition and a transfer-function
/// backward pass).
#[derive(Debug, Clone, Copy)]
pub struct Readout {
    /// The transfer function f.
    transfer: Transfer,
    /// Threads and vector code.
    kernel: KernelOptions,
}

impl Readout {
    /// The readout op for transfer function `transfer`, run as `kernel` says.
    pub fn new(transfer: Transfer, kernel: KernelOptions) -> Self {
        Readout { transfer, kernel }
    }

    /// y for all rows of x ([rows·N]) with w = [W_out | b_out] ([N_out·(N + 1)]).
    fn forward(&self, x: &[f32], w: &[f32], n: usize, n_out: usize) -> Vec<f32> {
        let weights = ReadoutWeights { w, n, n_out };
        let mut out = Vec::with_capacity(x.len() / n.max(1) * n_out);
        if n == 0 {
            return out;
        }
        let kernel = self.kernel;
        kernel.install(|| {
            with_wide_vectors(
                kernel.path,
                #[inline(always)]
                || {
                    let mut r = vec![0.0f32; READOUT_BLOCK_ROWS * n];
                    for x_block in x.chunks(READOUT_BLOCK_ROWS * n) {
                        let r = &mut r[..x_block.len()];
                        apply(self.transfer, x_block, r);
                        weights.outputs(kernel, r, &mut out);
                    }
                },
            )
        });
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
        let weights = ReadoutWeights { w, n, n_out };
        let mut d_w = vec![0.0f32; n_out * (n + 1)];
        let mut d_x = Vec::with_capacity(x.len());
        if n == 0 {
            return (d_x, d_w);
        }
        let kernel = self.kernel;
        kernel.install(|| {
            with_wide_vectors(
                kernel.path,
                #[inline(always)]
                || {
                    let mut r = vec![0.0f32; READOUT_BLOCK_ROWS * n];
                    let mut slope = vec![0.0f32; READOUT_BLOCK_ROWS * n];
                    let blocks = x
                        .chunks(READOUT_BLOCK_ROWS * n)
                        .zip(g.chunks(READOUT_BLOCK_ROWS * n_out));
                    for (x_block, g_block) in blocks {
                        let (r, slope) = (&mut r[..x_block.len()], &mut slope[..x_block.len()]);
                        apply(self.transfer, x_block, r);
                        slope_from_rates(self.transfer, r, slope);
                        weights.state_grads(kernel, r, slope, g_block, &mut d_x, &mut d_w);
                    }
                },
            )
        });
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
