//! Principal component analysis of a data matrix (observations × variables).
//!
//! For `n` rows `x_r` (each of `d` variables):
//! - mean `μ = (1/n) Σ_r x_r`;
//! - sample covariance `C = (1/(n − 1)) Σ_r (x_r − μ)(x_r − μ)ᵀ` (a `d`×`d` symmetric matrix);
//! - eigendecomposition `C = V Λ Vᵀ` with orthonormal `V` and `Λ = diag(λ_1 ≥ λ_2 ≥ … ≥ λ_d)`;
//! - component `i` is the unit eigenvector `v_i`, its variance is `λ_i`, and its explained
//!   ratio is `λ_i / tr(C)` (`tr(C) = Σ_i λ_i`, the total variance);
//! - the projection of a row `x` is `(v_1·(x − μ), …, v_k·(x − μ))`.
//!
//! The symmetric eigenproblem is solved by Householder reduction to tridiagonal form
//! (`C = Q T Qᵀ`) followed by implicit QL iteration with Wilkinson shifts on `T`, with
//! the plane rotations accumulated into `Q`; about `9 d³` flops in total.

use std::fmt;

/// Errors returned by [`pca`] and [`Pca::try_project`].
#[derive(Debug, Clone, PartialEq)]
pub enum PcaError {
    /// `rows.len()` is not `n_rows * n_cols` (or that product overflows `usize`).
    WrongLength {
        /// Length of the slice that was passed.
        len: usize,
        /// Number of rows requested.
        n_rows: usize,
        /// Number of columns requested.
        n_cols: usize,
    },
    /// Fewer than two observations: the sample covariance (divided by `n − 1`) is undefined.
    TooFewRows {
        /// Number of rows that was passed.
        n_rows: usize,
    },
    /// The data contain a NaN or infinite value, or the covariance overflowed.
    NonFinite,
    /// The QL eigenvalue iteration did not converge (should not happen for finite data).
    NoConvergence {
        /// Dimension of the covariance matrix.
        n_cols: usize,
    },
    /// A row passed to [`Pca::try_project`] does not have one entry per variable.
    RowLength {
        /// Length of the row that was passed.
        len: usize,
        /// Number of variables of the fitted PCA.
        expected: usize,
    },
}

impl fmt::Display for PcaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PcaError::WrongLength {
                len,
                n_rows,
                n_cols,
            } => match n_rows.checked_mul(*n_cols) {
                Some(nn) => write!(
                    f,
                    "PCA data has {len} values, not {n_rows} rows × {n_cols} columns = {nn}"
                ),
                None => write!(
                    f,
                    "PCA data has {len} values, but {n_rows} rows × {n_cols} columns overflows usize"
                ),
            },
            PcaError::TooFewRows { n_rows } => write!(
                f,
                "PCA needs at least 2 rows (observations) to estimate a covariance, got {n_rows}"
            ),
            PcaError::NonFinite => write!(
                f,
                "PCA data contain NaN or infinite values (or the covariance overflowed)"
            ),
            PcaError::NoConvergence { n_cols } => write!(
                f,
                "PCA eigendecomposition of the {n_cols}×{n_cols} covariance did not converge"
            ),
            PcaError::RowLength { len, expected } => write!(
                f,
                "row to project has {len} values, but the PCA was fitted on {expected} variables"
            ),
        }
    }
}

impl std::error::Error for PcaError {}

/// Result of [`pca`]: the mean and the top principal components of a data set.
#[derive(Debug, Clone, PartialEq)]
pub struct Pca {
    /// Per-variable mean `μ` (length `n_cols`), subtracted before projecting.
    pub mean: Vec<f64>,
    /// Unit eigenvectors of the covariance (each of length `n_cols`), by decreasing variance;
    /// the sign is fixed so that the entry of largest absolute value is positive.
    pub components: Vec<Vec<f64>>,
    /// Variance along each component (covariance eigenvalue, tiny negative round-off clamped to 0).
    pub variances: Vec<f64>,
    /// `variances[i]` divided by the total variance `tr(C)` (all 0 when the total is 0).
    pub explained_ratio: Vec<f64>,
}

impl Pca {
    /// Coordinates `(v_i · (row − mean))_i` of `row` along the stored components.
    ///
    /// Never panics: if `row` has the wrong length, missing variables count as equal to the
    /// mean and extra values are ignored. Use [`Pca::try_project`] to get an error instead.
    pub fn project(&self, row: &[f64]) -> Vec<f64> {
        self.components
            .iter()
            .map(|v| {
                v.iter()
                    .zip(row.iter().zip(&self.mean))
                    .map(|(vi, (xi, mi))| vi * (xi - mi))
                    .sum()
            })
            .collect()
    }

    /// Like [`Pca::project`], but returns [`PcaError::RowLength`] unless `row.len()` equals
    /// the number of variables (`mean.len()`).
    pub fn try_project(&self, row: &[f64]) -> Result<Vec<f64>, PcaError> {
        if row.len() != self.mean.len() {
            return Err(PcaError::RowLength {
                len: row.len(),
                expected: self.mean.len(),
            });
        }
        Ok(self.project(row))
    }
}

/// Principal components of the row-major `n_rows`×`n_cols` data `rows` (row = observation;
/// f32 or f64 values, accumulated in f64, so a run's f32 rates need no f64 copy).
///
/// Returns the top `k` components (`k` is clamped to `n_cols`) sorted by decreasing variance;
/// see the module docs for the formulas.
///
/// Errors: [`PcaError::WrongLength`] if `rows.len() != n_rows * n_cols`,
/// [`PcaError::TooFewRows`] if `n_rows < 2`, [`PcaError::NonFinite`] for NaN/infinite data,
/// [`PcaError::NoConvergence`] if the eigen-iteration fails.
///
/// ```
/// use psychrnn::analysis::pca::pca;
/// // Four points on the line y = 2x: one component carries all the variance.
/// let rows = [0.0, 0.0, 1.0, 2.0, 2.0, 4.0, 3.0, 6.0];
/// let p = pca(&rows, 4, 2, 2).unwrap();
/// assert!((p.explained_ratio[0] - 1.0).abs() < 1e-12);
/// let (a, b) = (p.components[0][0], p.components[0][1]);
/// assert!((b / a - 2.0).abs() < 1e-9);
/// ```
pub fn pca<T: Copy + Into<f64>>(
    rows: &[T],
    n_rows: usize,
    n_cols: usize,
    k: usize,
) -> Result<Pca, PcaError> {
    if n_rows.checked_mul(n_cols) != Some(rows.len()) {
        return Err(PcaError::WrongLength {
            len: rows.len(),
            n_rows,
            n_cols,
        });
    }
    if n_rows < 2 {
        return Err(PcaError::TooFewRows { n_rows });
    }
    if rows.iter().any(|&v| !v.into().is_finite()) {
        return Err(PcaError::NonFinite);
    }
    let d = n_cols;
    let k = k.min(d);

    // Mean.
    let mut mean = vec![0.0; d];
    for row in rows.chunks_exact(d.max(1)).take(n_rows) {
        for (m, &x) in mean.iter_mut().zip(row) {
            *m += x.into();
        }
    }
    let inv_n = 1.0 / n_rows as f64;
    for m in &mut mean {
        *m *= inv_n;
    }

    // Covariance: accumulate the upper triangle of Σ (x − μ)(x − μ)ᵀ, then mirror.
    let mut cov = vec![0.0; d * d];
    let mut centred = vec![0.0; d];
    for row in rows.chunks_exact(d.max(1)).take(n_rows) {
        for ((c, &x), &m) in centred.iter_mut().zip(row).zip(&mean) {
            *c = x.into() - m;
        }
        for i in 0..d {
            let ci = centred[i];
            if ci != 0.0 {
                let dst = &mut cov[i * d + i..(i + 1) * d];
                for (cij, &cj) in dst.iter_mut().zip(&centred[i..]) {
                    *cij += ci * cj;
                }
            }
        }
    }
    let inv_dof = 1.0 / (n_rows - 1) as f64;
    for i in 0..d {
        for j in i..d {
            let v = cov[i * d + j] * inv_dof;
            cov[i * d + j] = v;
            cov[j * d + i] = v;
        }
    }
    if cov.iter().any(|v| !v.is_finite()) {
        return Err(PcaError::NonFinite);
    }
    let total: f64 = (0..d).map(|i| cov[i * d + i]).sum();

    let (values, vectors) = symmetric_eigen(cov, d).ok_or(PcaError::NoConvergence { n_cols: d })?;

    // Order by decreasing eigenvalue.
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));

    let mut components = Vec::with_capacity(k);
    let mut variances = Vec::with_capacity(k);
    let mut explained_ratio = Vec::with_capacity(k);
    for &idx in order.iter().take(k) {
        let mut v = vectors[idx * d..(idx + 1) * d].to_vec();
        // Sign convention: the first entry of largest |value| is positive.
        let mut big = 0;
        for (j, x) in v.iter().enumerate() {
            if x.abs() > v[big].abs() {
                big = j;
            }
        }
        if v[big] < 0.0 {
            for x in &mut v {
                *x = -*x;
            }
        }
        let var = values[idx].max(0.0);
        components.push(v);
        variances.push(var);
        explained_ratio.push(if total > 0.0 { var / total } else { 0.0 });
    }
    Ok(Pca {
        mean,
        components,
        variances,
        explained_ratio,
    })
}

/// Eigen-decomposition of the symmetric row-major `n`×`n` matrix `a` (consumed).
///
/// Returns `(values, vectors)` where row `i` of the row-major `vectors` (`n`×`n`) is the unit
/// eigenvector for `values[i]` (unsorted), or `None` if the QL iteration does not converge.
fn symmetric_eigen(mut a: Vec<f64>, n: usize) -> Option<(Vec<f64>, Vec<f64>)> {
    if n == 0 {
        return Some((Vec::new(), Vec::new()));
    }
    // --- Householder tridiagonalisation: T = Hₘ…H₀ A H₀…Hₘ. ---
    // Reflector k acts on indices k+1..n: H = I − β v vᵀ with v stored in `refl[k]`.
    let mut refl: Vec<(f64, Vec<f64>)> = Vec::with_capacity(n.saturating_sub(2));
    let mut p = vec![0.0; n];
    for k in 0..n.saturating_sub(2) {
        let m = n - k - 1; // length of the sub-column
        let mut v: Vec<f64> = a[k * n + k + 1..(k + 1) * n].to_vec(); // = column k below the diagonal
        let scale = v.iter().fold(0.0_f64, |s, x| s.max(x.abs()));
        let tail: f64 = v[1..].iter().map(|x| (x / scale) * (x / scale)).sum();
        if scale == 0.0 || tail == 0.0 {
            refl.push((0.0, Vec::new()));
            continue;
        }
        let norm = scale * (tail + (v[0] / scale) * (v[0] / scale)).sqrt();
        let alpha = if v[0] >= 0.0 { -norm } else { norm };
        v[0] -= alpha;
        let vtv: f64 = v.iter().map(|x| x * x).sum();
        let beta = 2.0 / vtv;

        // Trailing block S (indices k+1..n): S ← S − v wᵀ − w vᵀ with p = β S v,
        // w = p − (β/2)(vᵀp) v.
        let off = k + 1;
        for i in 0..m {
            let row = &a[(off + i) * n + off..(off + i + 1) * n];
            p[i] = beta * row.iter().zip(&v).map(|(x, y)| x * y).sum::<f64>();
        }
        let vp: f64 = v.iter().zip(&p[..m]).map(|(x, y)| x * y).sum();
        let half = 0.5 * beta * vp;
        for i in 0..m {
            p[i] -= half * v[i];
        }
        for i in 0..m {
            let (vi, wi) = (v[i], p[i]);
            let row = &mut a[(off + i) * n + off..(off + i + 1) * n];
            for ((x, &vj), &wj) in row.iter_mut().zip(&v).zip(&p[..m]) {
                *x -= vi * wj + wi * vj;
            }
        }
        // Column/row k now equal alpha·e₁ outside the trailing block.
        a[k * n + off] = alpha;
        a[off * n + k] = alpha;
        for j in off + 1..n {
            a[k * n + j] = 0.0;
            a[j * n + k] = 0.0;
        }
        refl.push((beta, v));
    }
    let mut d: Vec<f64> = (0..n).map(|i| a[i * n + i]).collect();
    let mut e: Vec<f64> = (0..n)
        .map(|i| if i + 1 < n { a[i * n + i + 1] } else { 0.0 })
        .collect();
    drop(a);

    // --- Zt = Qᵀ = Hₘ…H₀, built by left-multiplying the identity in order H₀, H₁, … ---
    let mut zt = vec![0.0; n * n];
    for i in 0..n {
        zt[i * n + i] = 1.0;
    }
    let mut w = vec![0.0; n];
    for (k, (beta, v)) in refl.iter().enumerate() {
        if *beta == 0.0 {
            continue;
        }
        let off = k + 1;
        w.fill(0.0);
        for (i, &vi) in v.iter().enumerate() {
            let row = &zt[(off + i) * n..(off + i + 1) * n];
            for (wj, &z) in w.iter_mut().zip(row) {
                *wj += vi * z;
            }
        }
        for (i, &vi) in v.iter().enumerate() {
            let f = beta * vi;
            let row = &mut zt[(off + i) * n..(off + i + 1) * n];
            for (z, &wj) in row.iter_mut().zip(&w) {
                *z -= f * wj;
            }
        }
    }

    // --- Implicit QL with Wilkinson shifts on (d, e); e[i] couples d[i] and d[i+1]. ---
    // Rotations of Z's columns i, i+1 are rotations of Zt's rows i, i+1.
    const MAX_SWEEPS_PER_VALUE: usize = 60;
    for l in 0..n {
        let mut sweeps = 0;
        loop {
            let mut m = l;
            while m + 1 < n {
                let dd = d[m].abs() + d[m + 1].abs();
                if e[m].abs() <= f64::EPSILON * dd {
                    break;
                }
                m += 1;
            }
            if m == l {
                break;
            }
            if sweeps == MAX_SWEEPS_PER_VALUE {
                return None;
            }
            sweeps += 1;
            // Shift: eigenvalue of the leading 2×2 block closest to d[l].
            let mut g = (d[l + 1] - d[l]) / (2.0 * e[l]);
            let mut r = g.hypot(1.0);
            g = d[m] - d[l] + e[l] / (g + r.copysign(g));
            let (mut s, mut c, mut p) = (1.0_f64, 1.0_f64, 0.0_f64);
            let mut i = m;
            let mut restarted = false;
            while i > l {
                i -= 1;
                let f = s * e[i];
                let b = c * e[i];
                r = f.hypot(g);
                e[i + 1] = r;
                if r == 0.0 {
                    // Underflow: the matrix split; undo the partial shift and restart.
                    d[i + 1] -= p;
                    e[m] = 0.0;
                    restarted = true;
                    break;
                }
                s = f / r;
                c = g / r;
                g = d[i + 1] - p;
                r = (d[i] - g) * s + 2.0 * c * b;
                p = s * r;
                d[i + 1] = g + p;
                g = c * r - b;
                let (top, bottom) = zt.split_at_mut((i + 1) * n);
                let zi = &mut top[i * n..];
                let zi1 = &mut bottom[..n];
                for (x, y) in zi.iter_mut().zip(zi1.iter_mut()) {
                    let f = *y;
                    *y = s * *x + c * f;
                    *x = c * *x - s * f;
                }
            }
            if restarted {
                continue;
            }
            d[l] -= p;
            e[l] = g;
            e[m] = 0.0;
        }
    }
    if d.iter().any(|x| !x.is_finite()) {
        return None;
    }
    Some((d, zt))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::random::Rng;

    fn dot(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    fn assert_vec_close(got: &[f64], want: &[f64], tol: f64) {
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < tol, "got {got:?}, want {want:?}");
        }
    }

    /// Covariance computed independently (two-pass, full double loop).
    fn reference_covariance(rows: &[f64], n: usize, d: usize) -> Vec<f64> {
        let mean: Vec<f64> = (0..d)
            .map(|j| (0..n).map(|r| rows[r * d + j]).sum::<f64>() / n as f64)
            .collect();
        let mut c = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..d {
                c[i * d + j] = (0..n)
                    .map(|r| (rows[r * d + i] - mean[i]) * (rows[r * d + j] - mean[j]))
                    .sum::<f64>()
                    / (n - 1) as f64;
            }
        }
        c
    }

    /// Points μ + 3s·u + 2t·v + 0.5r·w for the full 5×5×5 grid s, t, r ∈ {−2,…,2}.
    /// Each of s, t, r has sum 0, pairwise zero cross-sums, and Σ s² = 25·10 = 250 over the
    /// 125 points, so the covariance is exactly (250/124)(9 uuᵀ + 4 vvᵀ + 0.25 wwᵀ).
    fn three_direction_data() -> (Vec<f64>, [f64; 4], [[f64; 4]; 3]) {
        let u = [2.0 / 7.0, 3.0 / 7.0, 6.0 / 7.0, 0.0];
        let v = [6.0 / 7.0, 2.0 / 7.0, -3.0 / 7.0, 0.0];
        let w = [-3.0 / 7.0, 6.0 / 7.0, -2.0 / 7.0, 0.0]; // largest entry positive
        let mu = [1.0, -2.0, 3.0, 5.0];
        let mut rows = Vec::new();
        for s in -2..=2 {
            for t in -2..=2 {
                for r in -2..=2 {
                    let (a, b, c) = (3.0 * s as f64, 2.0 * t as f64, 0.5 * r as f64);
                    for j in 0..4 {
                        rows.push(mu[j] + a * u[j] + b * v[j] + c * w[j]);
                    }
                }
            }
        }
        (rows, mu, [u, v, w])
    }

    #[test]
    fn recovers_known_orthogonal_directions_and_variances() {
        let (rows, mu, dirs) = three_direction_data();
        let p = pca(&rows, 125, 4, 3).unwrap();
        let k = 250.0 / 124.0;
        assert_vec_close(&p.mean, &mu, 1e-12);
        assert_vec_close(&p.variances, &[9.0 * k, 4.0 * k, 0.25 * k], 1e-10);
        // u, v, w as written already have their largest-|.| entry positive.
        for (c, want) in p.components.iter().zip(&dirs) {
            assert_vec_close(c, want, 1e-10);
        }
        let total = 13.25;
        assert_vec_close(
            &p.explained_ratio,
            &[9.0 / total, 4.0 / total, 0.25 / total],
            1e-12,
        );
        // Projection of a grid point recovers its coefficients (3s, 2t, 0.5r).
        let (s, t, r) = (2.0, -1.0, 1.0);
        let x: Vec<f64> = (0..4)
            .map(|j| mu[j] + 3.0 * s * dirs[0][j] + 2.0 * t * dirs[1][j] + 0.5 * r * dirs[2][j])
            .collect();
        assert_vec_close(&p.project(&x), &[6.0, -2.0, 0.5], 1e-10);
        assert_vec_close(&p.project(&p.mean), &[0.0, 0.0, 0.0], 1e-12);
    }

    #[test]
    fn full_rank_ratios_sum_to_one_and_k_is_clamped() {
        let (rows, _, _) = three_direction_data();
        let p = pca(&rows, 125, 4, 99).unwrap();
        assert_eq!(p.components.len(), 4);
        assert_eq!(p.variances.len(), 4);
        // The constant 4th column gives a zero-variance direction e₄.
        assert!(p.variances[3].abs() < 1e-12);
        assert_vec_close(&p.components[3], &[0.0, 0.0, 0.0, 1.0], 1e-10);
        let sum: f64 = p.explained_ratio.iter().sum();
        assert!((sum - 1.0).abs() < 1e-12, "sum {sum}");

        let mut rng = Rng::from_seed(17);
        let (n, d) = (40, 7);
        let rows: Vec<f64> = (0..n * d).map(|_| rng.normal()).collect();
        let p = pca(&rows, n, d, d).unwrap();
        let sum: f64 = p.explained_ratio.iter().sum();
        assert!((sum - 1.0).abs() < 1e-12, "sum {sum}");
        let p0 = pca(&rows, n, d, 0).unwrap();
        assert!(p0.components.is_empty() && p0.project(&rows[..d]).is_empty());
    }

    #[test]
    fn rotated_ellipse_axes() {
        // 360 points equally spaced on an ellipse with semi-axes 3 and 1, rotated by 30°.
        // Σcos² = Σsin² = M/2 and Σcos·sin = Σcos = Σsin = 0, so the variances are
        // a²·(M/2)/(M − 1) and b²·(M/2)/(M − 1) along (cos θ, sin θ) and (−sin θ, cos θ).
        let m = 360;
        let (a, b, th) = (3.0, 1.0, 30f64.to_radians());
        let (c, s) = (th.cos(), th.sin());
        let centre = [10.0, -4.0];
        let mut rows = Vec::new();
        for j in 0..m {
            let phi = 2.0 * std::f64::consts::PI * j as f64 / m as f64;
            let (p, q) = (a * phi.cos(), b * phi.sin());
            rows.push(centre[0] + c * p - s * q);
            rows.push(centre[1] + s * p + c * q);
        }
        let pc = pca(&rows, m, 2, 2).unwrap();
        let f = (m as f64 / 2.0) / (m as f64 - 1.0);
        assert_vec_close(&pc.variances, &[a * a * f, b * b * f], 1e-10);
        assert_vec_close(&pc.components[0], &[c, s], 1e-10);
        assert_vec_close(&pc.components[1], &[-s, c], 1e-10); // largest entry c > 0
        assert_vec_close(&pc.explained_ratio, &[0.9, 0.1], 1e-12);
        assert_vec_close(&pc.project(&centre), &[0.0, 0.0], 1e-12);
        // The point at φ = 0 is the end of the major axis: coordinates (a, 0).
        assert_vec_close(&pc.project(&rows[0..2]), &[a, 0.0], 1e-10);
    }

    #[test]
    fn sign_convention_largest_entry_positive() {
        // Variance only along (−0.6, 0.8) written with its negative direction: the
        // component must come out as (−0.6, 0.8) (largest entry 0.8 positive), never flipped.
        let rows = [0.6, -0.8, -0.6, 0.8, 1.2, -1.6, -1.2, 1.6];
        let p = pca(&rows, 4, 2, 1).unwrap();
        assert_vec_close(&p.components[0], &[-0.6, 0.8], 1e-12);
        // Variance = (1 + 1 + 4 + 4)/3 = 10/3 along the unit direction.
        assert_vec_close(&p.variances, &[10.0 / 3.0], 1e-12);
    }

    #[test]
    fn constant_data_has_zero_variance_and_zero_ratios() {
        let rows = [2.0, 3.0, 2.0, 3.0, 2.0, 3.0];
        let p = pca(&rows, 3, 2, 2).unwrap();
        assert_eq!(p.mean, vec![2.0, 3.0]);
        assert_eq!(p.variances, vec![0.0, 0.0]);
        assert_eq!(p.explained_ratio, vec![0.0, 0.0]);
    }

    #[test]
    fn random_256_against_reference_covariance_with_timing() {
        let (n, d) = (600, 256);
        let mut rng = Rng::from_seed(2024);
        // Correlated data: x = G z with a random mixing matrix, so the spectrum is spread out.
        let mix: Vec<f64> = (0..d * d)
            .map(|_| rng.normal() / (d as f64).sqrt())
            .collect();
        let mut rows = vec![0.0; n * d];
        for r in 0..n {
            let z: Vec<f64> = (0..d).map(|_| rng.normal()).collect();
            for i in 0..d {
                rows[r * d + i] = 1.0 + dot(&mix[i * d..(i + 1) * d], &z);
            }
        }
        let cov = reference_covariance(&rows, n, d);
        let t0 = std::time::Instant::now();
        let (vals, vecs) = symmetric_eigen(cov.clone(), d).unwrap();
        let t_eig = t0.elapsed();
        let t1 = std::time::Instant::now();
        let p = pca(&rows, n, d, d).unwrap();
        let t_pca = t1.elapsed();
        eprintln!(
            "PCA timing: eigendecomposition of a {d}x{d} covariance {t_eig:?}; \
             full pca() on {n}x{d} data (covariance + eigen) {t_pca:?}"
        );
        assert_eq!(vals.len(), d);
        assert_eq!(vecs.len(), d * d);

        let norm = cov.iter().map(|x| x * x).sum::<f64>().sqrt();
        let trace: f64 = (0..d).map(|i| cov[i * d + i]).sum();
        let sum: f64 = p.variances.iter().sum();
        assert!((sum - trace).abs() < 1e-10 * trace);
        for w in p.variances.windows(2) {
            assert!(w[0] >= w[1]);
        }
        let mut worst_res: f64 = 0.0;
        let mut worst_orth: f64 = 0.0;
        for (i, (v, &lam)) in p.components.iter().zip(&p.variances).enumerate() {
            // ‖C v − λ v‖ / ‖C‖ with C from the independent covariance.
            let res: f64 = (0..d)
                .map(|r| {
                    let cv = dot(&cov[r * d..(r + 1) * d], v);
                    (cv - lam * v[r]).powi(2)
                })
                .sum::<f64>()
                .sqrt();
            worst_res = worst_res.max(res / norm);
            for (j, u) in p.components.iter().enumerate().skip(i).take(4) {
                let want = if i == j { 1.0 } else { 0.0 };
                worst_orth = worst_orth.max((dot(u, v) - want).abs());
            }
            let big = v.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
            assert!(v.contains(&big), "sign convention violated");
        }
        eprintln!(
            "  worst relative residual {worst_res:e}, worst orthonormality error {worst_orth:e}"
        );
        assert!(worst_res < 1e-12, "{worst_res:e}");
        assert!(worst_orth < 1e-12, "{worst_orth:e}");
        // Mean projects to the origin.
        assert!(p.project(&p.mean).iter().all(|x| x.abs() < 1e-12));
    }

    #[test]
    fn eigen_of_second_difference_matrix() {
        // tridiag(−1, 2, −1) of size n has eigenvalues 2 − 2cos(jπ/(n+1)), j = 1..n, with
        // eigenvectors sin(ijπ/(n+1)); a dense similarity-free check of the QL stage.
        let n = 50;
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            a[i * n + i] = 2.0;
            if i + 1 < n {
                a[i * n + i + 1] = -1.0;
                a[(i + 1) * n + i] = -1.0;
            }
        }
        let (mut vals, vecs) = symmetric_eigen(a, n).unwrap();
        let h = std::f64::consts::PI / (n + 1) as f64;
        // Eigenvector check before sorting: each row of `vecs` is ± the sine vector.
        for (idx, &lam) in vals.iter().enumerate() {
            let j = ((2.0 - lam) / 2.0).acos() / h; // recover j from λ
            let jr = j.round();
            assert!(
                (j - jr).abs() < 1e-6,
                "λ = {lam} is not of the form 2 − 2cos(jπ/(n+1))"
            );
            let s: Vec<f64> = (1..=n).map(|i| (i as f64 * jr * h).sin()).collect();
            let ns = dot(&s, &s).sqrt();
            let c = dot(&vecs[idx * n..(idx + 1) * n], &s) / ns;
            assert!(
                (c.abs() - 1.0).abs() < 1e-12,
                "eigenvector {idx}: |cos| = {c}"
            );
        }
        vals.sort_by(f64::total_cmp);
        for (j, v) in vals.iter().enumerate() {
            let want = 2.0 - 2.0 * ((j + 1) as f64 * h).cos();
            assert!((v - want).abs() < 1e-13, "{v} vs {want}");
        }
    }

    #[test]
    fn errors_and_messages() {
        let e = pca(&[1.0; 5], 2, 3, 1).unwrap_err();
        assert_eq!(
            e,
            PcaError::WrongLength {
                len: 5,
                n_rows: 2,
                n_cols: 3
            }
        );
        assert_eq!(
            e.to_string(),
            "PCA data has 5 values, not 2 rows × 3 columns = 6"
        );
        let e = pca(&[1.0, 2.0, 3.0], 1, 3, 1).unwrap_err();
        assert_eq!(e, PcaError::TooFewRows { n_rows: 1 });
        assert_eq!(
            e.to_string(),
            "PCA needs at least 2 rows (observations) to estimate a covariance, got 1"
        );
        assert_eq!(
            pca::<f64>(&[], 0, 3, 1),
            Err(PcaError::TooFewRows { n_rows: 0 })
        );
        let e = pca(&[1.0, f64::NAN, 3.0, 4.0], 2, 2, 1).unwrap_err();
        assert_eq!(e, PcaError::NonFinite);
        assert_eq!(
            pca(&[1.0f32, f32::INFINITY, 3.0, 4.0], 2, 2, 1).unwrap_err(),
            PcaError::NonFinite
        );
        // f32 data (a run's rates) gives the PCA of the same values as f64.
        let rows32: Vec<f32> = (0..60).map(|i| ((i * 37) % 11) as f32 * 0.5).collect();
        let rows64: Vec<f64> = rows32.iter().map(|&v| v as f64).collect();
        assert_eq!(pca(&rows32, 20, 3, 2), pca(&rows64, 20, 3, 2));
        assert!(e.to_string().contains("NaN or infinite"));
        let big = pca(&[0.0; 4], usize::MAX, 2, 1).unwrap_err();
        assert!(big.to_string().contains("overflows"));

        let p = pca(&[0.0, 1.0, 2.0, 3.0], 2, 2, 2).unwrap();
        let e = p.try_project(&[1.0]).unwrap_err();
        assert_eq!(
            e,
            PcaError::RowLength {
                len: 1,
                expected: 2
            }
        );
        assert_eq!(
            e.to_string(),
            "row to project has 1 values, but the PCA was fitted on 2 variables"
        );
        assert_eq!(p.try_project(&[1.0, 2.0]).unwrap(), p.project(&[1.0, 2.0]));
        // project() never panics on a short row: missing values count as the mean.
        assert_eq!(p.project(&[1.0]).len(), 2);
        let boxed: Box<dyn std::error::Error> = Box::new(e);
        assert!(boxed.to_string().starts_with("row to project"));
    }
}
