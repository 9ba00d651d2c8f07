//! One step's input drive b + u Wᵀ and its weight gradients, shaped for few inputs per row
//! (task inputs: 1 to a few dozen channels): the rate kernel's D_t and the gated kernels'
//! input side.

use super::options::KernelOptions;
use super::products::gemm_f32;

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

/// Each row of `cur` ([rows × N]) = b + Σ_j u[row][j] · w_t[j] for K inputs (w_t: K rows of N),
/// in one pass over the units.
#[inline(always)]
fn drive_rows<const K: usize>(cur: &mut [f32], u: &[f32], b: &[f32], w_t: &[f32]) {
    let n = b.len();
    let w: [&[f32]; K] = std::array::from_fn(|j| &w_t[j * n..(j + 1) * n]);
    for (c_row, u_row) in cur.chunks_exact_mut(n).zip(u.chunks_exact(K)) {
        let u_row: [f32; K] = std::array::from_fn(|j| u_row[j]);
        let c_row = &mut c_row[..n];
        for k in 0..n {
            let mut a = b[k];
            for j in 0..K {
                a += u_row[j] * w[j][k];
            }
            c_row[k] = a;
        }
    }
}

/// Adds Σ_rows s[row] to `b` and Σ_rows u[row][j] · s[row] to row j of `w_t` (K rows of N),
/// for K inputs, in one pass over the units per row.
#[inline(always)]
fn input_grad_rows<const K: usize>(s: &[f32], u: &[f32], b: &mut [f32], w_t: &mut [f32]) {
    let n = b.len();
    let mut rows_w = w_t.chunks_exact_mut(n);
    let w: [&mut [f32]; K] = std::array::from_fn(|_| rows_w.next().expect("K rows of N"));
    for (s_row, u_row) in s.chunks_exact(n).zip(u.chunks_exact(K)) {
        let u_row: [f32; K] = std::array::from_fn(|j| u_row[j]);
        let s_row = &s_row[..n];
        for k in 0..n {
            let sv = s_row[k];
            b[k] += sv;
            for j in 0..K {
                w[j][k] += u_row[j] * sv;
            }
        }
    }
}

/// One step's input drive into `out` [rows × W]: b + u Wᵀ for `i` inputs per row of `u`
/// (`w_t` = Wᵀ [I × W], rows contiguous). Up to 8 inputs in one unrolled pass per row, up to
/// [`ROW_PRODUCT_MAX_DEPTH`] a pass per input (skipping zero inputs), more as a matrix product.
/// The rate kernel's D_t (W = N) and the gated kernels' input side (W = G·N).
#[inline(always)]
pub(super) fn input_drive(
    kernel: KernelOptions,
    out: &mut [f32],
    u: &[f32],
    b: &[f32],
    w_t: &[f32],
    i: usize,
) {
    let width = b.len();
    if (1..=super::SMALL_COUNT_MAX).contains(&i) {
        with_small_count!(i, drive_rows(out, u, b, w_t));
        return;
    }
    for row in out.chunks_exact_mut(width) {
        row.copy_from_slice(b);
    }
    if i > ROW_PRODUCT_MAX_DEPTH {
        let rows = out.len() / width;
        gemm_f32(
            kernel,
            rows,
            width,
            i,
            out,
            true,
            u,
            i as isize,
            1,
            w_t,
            width as isize,
            1,
        );
    } else if i > 0 {
        for (row, u_row) in out.chunks_exact_mut(width).zip(u.chunks_exact(i)) {
            add_weighted_rows(row, u_row, w_t);
        }
    }
}

/// Adds rows' share of the input drive's gradients, given ∂ of the drive `d` [rows × W] and
/// the inputs `u` [rows × I]: ∂b += Σ_rows d and ∂Wᵀ += Σ_rows uᵀ d ([I × W]), in the same
/// three ways as [`input_drive`].
#[inline(always)]
pub(super) fn input_drive_grads(
    kernel: KernelOptions,
    d: &[f32],
    u: &[f32],
    d_b: &mut [f32],
    d_w_t: &mut [f32],
    i: usize,
) {
    let width = d_b.len();
    if (1..=super::SMALL_COUNT_MAX).contains(&i) {
        with_small_count!(i, input_grad_rows(d, u, d_b, d_w_t));
        return;
    }
    for row in d.chunks_exact(width) {
        d_b.iter_mut().zip(row).for_each(|(a, v)| *a += v);
    }
    if i > ROW_PRODUCT_MAX_DEPTH {
        let rows = d.len() / width;
        gemm_f32(
            kernel,
            i,
            width,
            rows,
            d_w_t,
            true,
            u,
            1,
            i as isize,
            d,
            width as isize,
            1,
        );
    } else if i > 0 {
        for (d_row, u_row) in d.chunks_exact(width).zip(u.chunks_exact(i)) {
            for (k, &uk) in u_row.iter().enumerate() {
                if uk != 0.0 {
                    let acc = &mut d_w_t[k * width..(k + 1) * width];
                    acc.iter_mut().zip(d_row).for_each(|(a, &v)| *a += uk * v);
                }
            }
        }
    }
}
