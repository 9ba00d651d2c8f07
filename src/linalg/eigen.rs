//! Eigenvalues of general (non-symmetric) real square matrices.
//!
//! Pipeline, all in `f64`:
//! 1. diagonal balancing by powers of two (EISPACK `balanc` without permutations),
//!    which is an exact similarity and improves accuracy for badly scaled matrices;
//! 2. Householder reduction to upper Hessenberg form;
//! 3. Francis double-shift QR iteration with deflation (the EISPACK `hqr` scheme),
//!    with exceptional shifts every 10 iterations on the same eigenvalue and a total
//!    cap of `30 * max(n, 10)` QR sweeps (as in LAPACK `dlahqr`).
//!
//! Only eigenvalues are computed (no eigenvectors); the cost is about `10 n³` flops.

use std::fmt;

/// Errors returned by [`eigenvalues`] and [`spectral_radius`].
#[derive(Debug, Clone, PartialEq)]
pub enum EigenError {
    /// The slice length is not `n * n` (or `n * n` overflows `usize`).
    NotSquare {
        /// Length of the slice that was passed.
        len: usize,
        /// Requested matrix dimension.
        n: usize,
    },
    /// The QR iteration hit its iteration cap, or the matrix has NaN/infinite entries.
    NoConvergence {
        /// Dimension of the matrix whose eigenvalues were requested.
        n: usize,
    },
}

impl fmt::Display for EigenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EigenError::NotSquare { len, n } => match n.checked_mul(*n) {
                Some(nn) => write!(f, "matrix has {len} entries, not {n}×{n} = {nn}"),
                None => write!(f, "matrix has {len} entries, but {n}×{n} overflows usize"),
            },
            EigenError::NoConvergence { n } => write!(
                f,
                "eigenvalue QR iteration did not converge for a {n}×{n} matrix \
                 (non-finite entries or iteration limit reached)"
            ),
        }
    }
}

impl std::error::Error for EigenError {}

/// Eigenvalues of the real `n`×`n` matrix `a` (row-major, `a[i * n + j]` = row `i`, column `j`).
///
/// Returns all `n` eigenvalues as `(re, im)` pairs, sorted by descending modulus
/// (ties: larger real part first, then larger imaginary part first). Complex eigenvalues
/// come in exact conjugate pairs, both listed. `n = 0` gives an empty vector.
///
/// Errors: [`EigenError::NotSquare`] if `a.len() != n * n`;
/// [`EigenError::NoConvergence`] if an entry is NaN/infinite or QR iteration fails to converge.
///
/// ```
/// use psychrnn::linalg::eigenvalues;
/// // A rotation by 90°: eigenvalues ±i.
/// let eig = eigenvalues(&[0.0, -1.0, 1.0, 0.0], 2).unwrap();
/// assert_eq!(eig.len(), 2);
/// assert!(eig.iter().all(|(re, im)| re.abs() < 1e-12 && (im.abs() - 1.0).abs() < 1e-12));
/// ```
pub fn eigenvalues(a: &[f64], n: usize) -> Result<Vec<(f64, f64)>, EigenError> {
    if n.checked_mul(n) != Some(a.len()) {
        return Err(EigenError::NotSquare { len: a.len(), n });
    }
    if n == 0 {
        return Ok(Vec::new());
    }
    if a.iter().any(|x| !x.is_finite()) {
        return Err(EigenError::NoConvergence { n });
    }
    if n == 1 {
        return Ok(vec![(a[0], 0.0)]);
    }
    let mut h = a.to_vec();
    balance(&mut h, n);
    hessenberg(&mut h, n);
    let mut eig = hqr(&mut h, n)?;
    eig.sort_by(|x, y| {
        let mx = x.0.hypot(x.1);
        let my = y.0.hypot(y.1);
        my.total_cmp(&mx)
            .then(y.0.total_cmp(&x.0))
            .then(y.1.total_cmp(&x.1))
    });
    Ok(eig)
}

/// Spectral radius (largest eigenvalue modulus) of the real `n`×`n` row-major matrix `a`.
///
/// Returns `0.0` for `n = 0`. Errors are those of [`eigenvalues`].
pub fn spectral_radius(a: &[f64], n: usize) -> Result<f64, EigenError> {
    let eig = eigenvalues(a, n)?;
    Ok(eig.iter().map(|&(re, im)| re.hypot(im)).fold(0.0, f64::max))
}

/// `|a|` with the sign of `b` (`b = -0.0` counts as non-negative, as in Fortran `SIGN`).
fn sign(a: f64, b: f64) -> f64 {
    if b >= 0.0 {
        a.abs()
    } else {
        -a.abs()
    }
}

/// Balance `a` in place by a diagonal similarity with power-of-two entries, so that each
/// row and the corresponding column have comparable 1-norms (off-diagonal part).
/// Powers of two keep the transformation exact, so eigenvalues are unchanged.
fn balance(a: &mut [f64], n: usize) {
    const RADIX: f64 = 2.0;
    const SQRDX: f64 = RADIX * RADIX;
    let mut done = false;
    while !done {
        done = true;
        for i in 0..n {
            let mut c = 0.0;
            let mut r = 0.0;
            for j in 0..n {
                if j != i {
                    c += a[j * n + i].abs();
                    r += a[i * n + j].abs();
                }
            }
            if c == 0.0 || r == 0.0 || !c.is_finite() || !r.is_finite() {
                continue;
            }
            let s = c + r;
            let mut f = 1.0;
            let mut g = r / RADIX;
            while c < g {
                f *= RADIX;
                c *= SQRDX;
            }
            g = r * RADIX;
            while c > g {
                f /= RADIX;
                c /= SQRDX;
            }
            // Accept only if the combined norm drops by at least 5% (guarantees termination).
            if (c + r) / f < 0.95 * s {
                done = false;
                let g = 1.0 / f;
                for x in &mut a[i * n..(i + 1) * n] {
                    *x *= g;
                }
                for j in 0..n {
                    a[j * n + i] *= f;
                }
            }
        }
    }
}

/// Reduce `a` in place to upper Hessenberg form by Householder similarity transforms.
/// Entries below the first subdiagonal are set to exactly zero.
fn hessenberg(a: &mut [f64], n: usize) {
    let mut v = vec![0.0; n];
    let mut w = vec![0.0; n];
    for k in 0..n.saturating_sub(2) {
        // Householder vector for column k, rows k+1..n (scaled to avoid over/underflow).
        let scale: f64 = (k + 1..n).map(|i| a[i * n + k].abs()).sum();
        if scale == 0.0 {
            continue;
        }
        let mut sigma = 0.0;
        for i in k + 1..n {
            v[i] = a[i * n + k] / scale;
            sigma += v[i] * v[i];
        }
        let alpha = -sign(sigma.sqrt(), v[k + 1]);
        v[k + 1] -= alpha;
        let vtv: f64 = v[k + 1..n].iter().map(|x| x * x).sum();
        let beta = 2.0 / vtv;

        // Left: A[k+1.., k+1..] -= beta * v * (v^T A). Column k is set explicitly below.
        w[k + 1..n].fill(0.0);
        for i in k + 1..n {
            let vi = v[i];
            if vi != 0.0 {
                let row = &a[i * n + k + 1..(i + 1) * n];
                for (wj, &aij) in w[k + 1..n].iter_mut().zip(row) {
                    *wj += vi * aij;
                }
            }
        }
        for i in k + 1..n {
            let fi = beta * v[i];
            if fi != 0.0 {
                let row = &mut a[i * n + k + 1..(i + 1) * n];
                for (aij, &wj) in row.iter_mut().zip(&w[k + 1..n]) {
                    *aij -= fi * wj;
                }
            }
        }
        a[(k + 1) * n + k] = alpha * scale;
        for i in k + 2..n {
            a[i * n + k] = 0.0;
        }

        // Right: A[.., k+1..] -= beta * (A v) * v^T.
        for i in 0..n {
            let row = &mut a[i * n + k + 1..(i + 1) * n];
            let s: f64 = row.iter().zip(&v[k + 1..n]).map(|(x, y)| x * y).sum();
            let s = s * beta;
            if s != 0.0 {
                for (aij, &vj) in row.iter_mut().zip(&v[k + 1..n]) {
                    *aij -= s * vj;
                }
            }
        }
    }
}

/// Eigenvalues of the upper Hessenberg matrix `h` (destroyed) by Francis double-shift QR
/// iteration with deflation (EISPACK `hqr` scheme). Returns unsorted `(re, im)` pairs.
fn hqr(h: &mut [f64], n: usize) -> Result<Vec<(f64, f64)>, EigenError> {
    let at = move |i: usize, j: usize| i * n + j;
    let mut wr = vec![0.0; n];
    let mut wi = vec![0.0; n];

    // Norm used for the deflation test when neighbouring diagonal entries vanish.
    let mut anorm = 0.0;
    for i in 0..n {
        for j in i.saturating_sub(1)..n {
            anorm += h[at(i, j)].abs();
        }
    }

    let max_total = 30 * n.max(10);
    let mut total = 0usize;
    let mut t = 0.0; // accumulated exceptional shifts
    let mut nn = n; // eigenvalues at indices >= nn have been found
    while nn > 0 {
        let en = nn - 1;
        let mut since_shift = 0usize; // QR sweeps on this eigenvalue since the last exceptional shift
        loop {
            // Look for a single small subdiagonal element h[l][l-1].
            let mut l = en;
            while l > 0 {
                let mut s = h[at(l - 1, l - 1)].abs() + h[at(l, l)].abs();
                if s == 0.0 {
                    s = anorm;
                }
                if s + h[at(l, l - 1)].abs() == s {
                    h[at(l, l - 1)] = 0.0;
                    break;
                }
                l -= 1;
            }

            let mut x = h[at(en, en)];
            if l == en {
                // One root found.
                wr[en] = x + t;
                wi[en] = 0.0;
                nn -= 1;
                break;
            }
            let mut y = h[at(en - 1, en - 1)];
            let mut w = h[at(en, en - 1)] * h[at(en - 1, en)];
            if l + 1 == en {
                // Two roots found: eigenvalues of the trailing 2×2 block.
                let p = 0.5 * (y - x);
                let q = p * p + w;
                let z = q.abs().sqrt();
                x += t;
                if q >= 0.0 {
                    let z = p + sign(z, p);
                    wr[en - 1] = x + z;
                    wr[en] = if z != 0.0 { x - w / z } else { x + z };
                    wi[en - 1] = 0.0;
                    wi[en] = 0.0;
                } else {
                    wr[en - 1] = x + p;
                    wr[en] = x + p;
                    wi[en - 1] = z;
                    wi[en] = -z;
                }
                nn -= 2;
                break;
            }

            // No roots yet: do a double-shift QR sweep on rows/columns l..=en.
            if total >= max_total {
                return Err(EigenError::NoConvergence { n });
            }
            if since_shift == 10 {
                // Exceptional shift to break cycles (every 10 sweeps on one eigenvalue).
                since_shift = 0;
                t += x;
                for i in 0..=en {
                    h[at(i, i)] -= x;
                }
                let s = h[at(en, en - 1)].abs() + h[at(en - 1, en - 2)].abs();
                x = 0.75 * s;
                y = x;
                w = -0.4375 * s * s;
            }
            since_shift += 1;
            total += 1;

            // Look for two consecutive small subdiagonal elements; compute the first
            // column (p, q, r) of (H - s1 I)(H - s2 I) at row m.
            let mut m = en - 2;
            let (mut p, mut q, mut r);
            loop {
                let z = h[at(m, m)];
                let rr = x - z;
                let ss = y - z;
                p = (rr * ss - w) / h[at(m + 1, m)] + h[at(m, m + 1)];
                q = h[at(m + 1, m + 1)] - z - rr - ss;
                r = h[at(m + 2, m + 1)];
                let s = p.abs() + q.abs() + r.abs();
                p /= s;
                q /= s;
                r /= s;
                if m == l {
                    break;
                }
                let u = h[at(m, m - 1)].abs() * (q.abs() + r.abs());
                let v = p.abs() * (h[at(m - 1, m - 1)].abs() + z.abs() + h[at(m + 1, m + 1)].abs());
                if v + u == v {
                    break;
                }
                m -= 1;
            }
            for i in m + 2..=en {
                h[at(i, i - 2)] = 0.0;
                if i != m + 2 {
                    h[at(i, i - 3)] = 0.0;
                }
            }

            // Chase the bulge with 3×3 Householder reflectors.
            for k in m..en {
                if k != m {
                    p = h[at(k, k - 1)];
                    q = h[at(k + 1, k - 1)];
                    r = if k + 1 != en {
                        h[at(k + 2, k - 1)]
                    } else {
                        0.0
                    };
                    x = p.abs() + q.abs() + r.abs();
                    if x == 0.0 {
                        continue;
                    }
                    p /= x;
                    q /= x;
                    r /= x;
                }
                let s = sign((p * p + q * q + r * r).sqrt(), p);
                if s == 0.0 {
                    continue;
                }
                if k == m {
                    if l != m {
                        h[at(k, k - 1)] = -h[at(k, k - 1)];
                    }
                } else {
                    h[at(k, k - 1)] = -s * x;
                }
                p += s;
                x = p / s;
                y = q / s;
                let z = r / s;
                q /= p;
                r /= p;
                // Row modification.
                for j in k..=en {
                    let mut pp = h[at(k, j)] + q * h[at(k + 1, j)];
                    if k + 1 != en {
                        pp += r * h[at(k + 2, j)];
                        h[at(k + 2, j)] -= pp * z;
                    }
                    h[at(k + 1, j)] -= pp * y;
                    h[at(k, j)] -= pp * x;
                }
                // Column modification.
                let mmin = en.min(k + 3);
                for i in l..=mmin {
                    let mut pp = x * h[at(i, k)] + y * h[at(i, k + 1)];
                    if k + 1 != en {
                        pp += z * h[at(i, k + 2)];
                        h[at(i, k + 2)] -= pp * r;
                    }
                    h[at(i, k + 1)] -= pp * q;
                    h[at(i, k)] -= pp;
                }
            }
        }
    }
    Ok(wr.into_iter().zip(wi).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ops::{Add, Mul, Sub};

    // ---------- tiny helpers (independent of the code under test) ----------

    /// SplitMix64 generator with Box–Muller Gaussians.
    struct Rng(u64);

    impl Rng {
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        /// Uniform in the open interval (0, 1).
        fn uniform(&mut self) -> f64 {
            ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }
        fn gauss(&mut self) -> f64 {
            let u1 = self.uniform();
            let u2 = self.uniform();
            (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        }
        fn gauss_matrix(&mut self, n: usize) -> Vec<f64> {
            (0..n * n).map(|_| self.gauss()).collect()
        }
    }

    #[derive(Clone, Copy, Debug)]
    struct C {
        re: f64,
        im: f64,
    }

    impl C {
        fn new(re: f64, im: f64) -> Self {
            C { re, im }
        }
        fn abs(self) -> f64 {
            self.re.hypot(self.im)
        }
        fn div(self, o: C) -> C {
            let d = o.re * o.re + o.im * o.im;
            C::new(
                (self.re * o.re + self.im * o.im) / d,
                (self.im * o.re - self.re * o.im) / d,
            )
        }
    }
    impl Add for C {
        type Output = C;
        fn add(self, o: C) -> C {
            C::new(self.re + o.re, self.im + o.im)
        }
    }
    impl Sub for C {
        type Output = C;
        fn sub(self, o: C) -> C {
            C::new(self.re - o.re, self.im - o.im)
        }
    }
    impl Mul for C {
        type Output = C;
        fn mul(self, o: C) -> C {
            C::new(
                self.re * o.re - self.im * o.im,
                self.re * o.im + self.im * o.re,
            )
        }
    }

    fn frob(a: &[f64]) -> f64 {
        a.iter().map(|x| x * x).sum::<f64>().sqrt()
    }

    fn matmul(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
        let mut c = vec![0.0; n * n];
        for i in 0..n {
            for k in 0..n {
                let aik = a[i * n + k];
                for j in 0..n {
                    c[i * n + j] += aik * b[k * n + j];
                }
            }
        }
        c
    }

    /// Inverse by Gauss–Jordan elimination with partial pivoting.
    #[allow(clippy::needless_range_loop)]
    fn inverse(a: &[f64], n: usize) -> Vec<f64> {
        let mut m = a.to_vec();
        let mut inv = vec![0.0; n * n];
        for i in 0..n {
            inv[i * n + i] = 1.0;
        }
        for col in 0..n {
            let piv = (col..n)
                .max_by(|&i, &j| m[i * n + col].abs().total_cmp(&m[j * n + col].abs()))
                .unwrap();
            assert!(m[piv * n + col].abs() > 1e-12, "singular matrix in test");
            for j in 0..n {
                m.swap(col * n + j, piv * n + j);
                inv.swap(col * n + j, piv * n + j);
            }
            let d = m[col * n + col];
            for j in 0..n {
                m[col * n + j] /= d;
                inv[col * n + j] /= d;
            }
            for i in 0..n {
                if i != col {
                    let f = m[i * n + col];
                    if f != 0.0 {
                        for j in 0..n {
                            m[i * n + j] -= f * m[col * n + j];
                            inv[i * n + j] -= f * inv[col * n + j];
                        }
                    }
                }
            }
        }
        inv
    }

    /// `S · D · S⁻¹` for a random well-conditioned `S = I + 0.3·G/√n`.
    fn similarity(d: &[f64], n: usize, rng: &mut Rng) -> Vec<f64> {
        let mut s: Vec<f64> = rng
            .gauss_matrix(n)
            .iter()
            .map(|x| 0.3 * x / (n as f64).sqrt())
            .collect();
        for i in 0..n {
            s[i * n + i] += 1.0;
        }
        let sinv = inverse(&s, n);
        // Check the test's own inverse.
        let id = matmul(&s, &sinv, n);
        for i in 0..n {
            for j in 0..n {
                let e = if i == j { 1.0 } else { 0.0 };
                assert!((id[i * n + j] - e).abs() < 1e-12);
            }
        }
        matmul(&matmul(&s, d, n), &sinv, n)
    }

    /// Greedy matching of expected eigenvalues to computed ones; returns the largest error.
    fn max_match_error(got: &[(f64, f64)], want: &[(f64, f64)]) -> f64 {
        assert_eq!(got.len(), want.len(), "wrong number of eigenvalues");
        let mut used = vec![false; got.len()];
        let mut worst: f64 = 0.0;
        for &(wr, wi) in want {
            let (best, err) = got
                .iter()
                .enumerate()
                .filter(|(k, _)| !used[*k])
                .map(|(k, &(gr, gi))| (k, (gr - wr).hypot(gi - wi)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap();
            used[best] = true;
            worst = worst.max(err);
        }
        worst
    }

    fn assert_sorted_by_modulus(eig: &[(f64, f64)]) {
        for w in eig.windows(2) {
            assert!(
                w[0].0.hypot(w[0].1) >= w[1].0.hypot(w[1].1),
                "not sorted: {w:?}"
            );
        }
    }

    /// ‖(A − λI)v‖ / ‖A‖_F for v from two steps of inverse iteration, using a complex LU
    /// factorisation with partial pivoting of A − λI. Small ⇔ λ is an eigenvalue of a
    /// nearby matrix A + E with ‖E‖ equal to the residual.
    #[allow(clippy::needless_range_loop)]
    fn eigen_residual(a: &[f64], n: usize, lam: C, rng: &mut Rng) -> f64 {
        let norm = frob(a);
        let mut lu: Vec<C> = a.iter().map(|&x| C::new(x, 0.0)).collect();
        for i in 0..n {
            lu[i * n + i] = lu[i * n + i] - lam;
        }
        let mut perm: Vec<usize> = (0..n).collect();
        for k in 0..n {
            let piv = (k..n)
                .max_by(|&i, &j| lu[i * n + k].abs().total_cmp(&lu[j * n + k].abs()))
                .unwrap();
            if piv != k {
                for j in 0..n {
                    lu.swap(k * n + j, piv * n + j);
                }
                perm.swap(k, piv);
            }
            if lu[k * n + k].abs() < f64::EPSILON * norm {
                lu[k * n + k] = C::new(f64::EPSILON * norm, 0.0);
            }
            let d = lu[k * n + k];
            for i in k + 1..n {
                let f = lu[i * n + k].div(d);
                lu[i * n + k] = f;
                for j in k + 1..n {
                    lu[i * n + j] = lu[i * n + j] - f * lu[k * n + j];
                }
            }
        }
        let solve = |b: &[C]| -> Vec<C> {
            let mut x: Vec<C> = perm.iter().map(|&p| b[p]).collect();
            for i in 0..n {
                for j in 0..i {
                    x[i] = x[i] - lu[i * n + j] * x[j];
                }
            }
            for i in (0..n).rev() {
                for j in i + 1..n {
                    x[i] = x[i] - lu[i * n + j] * x[j];
                }
                x[i] = x[i].div(lu[i * n + i]);
            }
            x
        };
        let normalize = |x: Vec<C>| -> Vec<C> {
            let s = x
                .iter()
                .map(|c| c.re * c.re + c.im * c.im)
                .sum::<f64>()
                .sqrt();
            x.into_iter().map(|c| C::new(c.re / s, c.im / s)).collect()
        };
        let b: Vec<C> = (0..n).map(|_| C::new(rng.gauss(), rng.gauss())).collect();
        let v = normalize(solve(&normalize(b)));
        let v = normalize(solve(&v));
        // Residual computed directly from A, not from the factorisation.
        let mut res = 0.0;
        for i in 0..n {
            let mut r = C::new(0.0, 0.0) - lam * v[i];
            for j in 0..n {
                r = r + C::new(a[i * n + j], 0.0) * v[j];
            }
            res += r.re * r.re + r.im * r.im;
        }
        res.sqrt() / norm
    }

    /// Monic polynomial coefficients (highest degree first) of a product of factors,
    /// each factor given highest degree first.
    fn poly_product(factors: &[Vec<f64>]) -> Vec<f64> {
        let mut p = vec![1.0];
        for f in factors {
            let mut q = vec![0.0; p.len() + f.len() - 1];
            for (i, &a) in p.iter().enumerate() {
                for (j, &b) in f.iter().enumerate() {
                    q[i + j] += a * b;
                }
            }
            p = q;
        }
        p
    }

    /// Companion matrix of the monic polynomial `p` (highest degree first).
    fn companion(p: &[f64]) -> Vec<f64> {
        let n = p.len() - 1;
        let mut c = vec![0.0; n * n];
        for j in 0..n {
            c[j] = -p[j + 1] / p[0];
        }
        for i in 1..n {
            c[i * n + i - 1] = 1.0;
        }
        c
    }

    // ---------- tests ----------

    #[test]
    fn empty_and_one_by_one() {
        assert_eq!(eigenvalues(&[], 0), Ok(vec![]));
        assert_eq!(spectral_radius(&[], 0), Ok(0.0));
        assert_eq!(eigenvalues(&[-3.5], 1), Ok(vec![(-3.5, 0.0)]));
        assert_eq!(spectral_radius(&[-3.5], 1), Ok(3.5));
    }

    #[test]
    fn zero_matrix() {
        let eig = eigenvalues(&[0.0; 25], 5).unwrap();
        assert_eq!(eig, vec![(0.0, 0.0); 5]);
    }

    #[test]
    fn diagonal_matrix() {
        let d = [3.0, -1.0, 0.5, 2.0, -7.25, 0.0];
        let n = d.len();
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            a[i * n + i] = d[i];
        }
        let eig = eigenvalues(&a, n).unwrap();
        let want = [-7.25, 3.0, 2.0, -1.0, 0.5, 0.0];
        for (g, w) in eig.iter().zip(want) {
            assert_eq!(*g, (w, 0.0));
        }
        assert_eq!(spectral_radius(&a, n), Ok(7.25));
    }

    #[test]
    fn upper_triangular_matrix() {
        let mut rng = Rng(7);
        let d = [4.0, -3.0, 2.5, 1.0, -0.5, 0.25, 6.0, -5.5];
        let n = d.len();
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            a[i * n + i] = d[i];
            for j in i + 1..n {
                a[i * n + j] = 3.0 * rng.gauss();
            }
        }
        let eig = eigenvalues(&a, n).unwrap();
        assert_sorted_by_modulus(&eig);
        let mut want: Vec<f64> = d.to_vec();
        want.sort_by(|x, y| y.abs().total_cmp(&x.abs()));
        for (g, w) in eig.iter().zip(want) {
            assert!((g.0 - w).abs() < 1e-12 * 6.0, "{g:?} vs {w}");
            assert!(g.1.abs() < 1e-12, "{g:?}");
        }
    }

    #[test]
    fn rotation_scaling_two_by_two() {
        for &(a, b) in &[(0.3, 2.0), (-1.5, 0.25), (0.0, 1.0), (4.0, -3.0)] {
            let m = [a, -b, b, a];
            let eig = eigenvalues(&m, 2).unwrap();
            let bb: f64 = b;
            assert!((eig[0].0 - a).abs() < 1e-14 && (eig[0].1 - bb.abs()).abs() < 1e-14);
            assert!((eig[1].0 - a).abs() < 1e-14 && (eig[1].1 + bb.abs()).abs() < 1e-14);
            let rho = spectral_radius(&m, 2).unwrap();
            assert!((rho - a.hypot(b)).abs() < 1e-14);
        }
        // Real distinct pair: [[4,1],[2,3]] has eigenvalues 5 and 2.
        let eig = eigenvalues(&[4.0, 1.0, 2.0, 3.0], 2).unwrap();
        assert!((eig[0].0 - 5.0).abs() < 1e-14 && eig[0].1 == 0.0);
        assert!((eig[1].0 - 2.0).abs() < 1e-14 && eig[1].1 == 0.0);
    }

    #[test]
    fn companion_matrix_with_complex_pair() {
        // (x - 1)(x + 2)(x² + 1)(x - 0.5)
        let p = poly_product(&[
            vec![1.0, -1.0],
            vec![1.0, 2.0],
            vec![1.0, 0.0, 1.0],
            vec![1.0, -0.5],
        ]);
        assert_eq!(p.len(), 6);
        let a = companion(&p);
        let eig = eigenvalues(&a, 5).unwrap();
        assert_sorted_by_modulus(&eig);
        let want = [(1.0, 0.0), (-2.0, 0.0), (0.0, 1.0), (0.0, -1.0), (0.5, 0.0)];
        let err = max_match_error(&eig, &want);
        assert!(err < 1e-12, "max error {err}, got {eig:?}");
        assert!((eig[0].0 + 2.0).abs() < 1e-12);
        assert!((eig[4].0 - 0.5).abs() < 1e-12);
        assert!((spectral_radius(&a, 5).unwrap() - 2.0).abs() < 1e-12);
    }

    #[test]
    fn cyclic_permutation_roots_of_unity() {
        // Companion of x^n - 1: a cyclic shift, the classic case needing exceptional shifts.
        for n in 2..=40 {
            let mut p = vec![0.0; n + 1];
            p[0] = 1.0;
            p[n] = -1.0;
            let a = companion(&p);
            let eig = eigenvalues(&a, n).unwrap();
            let want: Vec<(f64, f64)> = (0..n)
                .map(|k| {
                    let t = 2.0 * std::f64::consts::PI * k as f64 / n as f64;
                    (t.cos(), t.sin())
                })
                .collect();
            let err = max_match_error(&eig, &want);
            assert!(err < 1e-10, "n = {n}: max error {err}");
        }
    }

    #[test]
    fn similarity_of_known_diagonal() {
        let mut rng = Rng(42);
        let d = [7.0, -5.0, 3.5, 2.0, -1.5, 1.0, 0.75, -0.5, 0.25, 0.1];
        let n = d.len();
        let mut dm = vec![0.0; n * n];
        for i in 0..n {
            dm[i * n + i] = d[i];
        }
        let a = similarity(&dm, n, &mut rng);
        let eig = eigenvalues(&a, n).unwrap();
        assert_sorted_by_modulus(&eig);
        for (g, w) in eig.iter().zip(d) {
            assert!((g.0 - w).abs() < 1e-10 * 7.0, "{g:?} vs {w}");
            assert!(g.1.abs() < 1e-10, "{g:?}");
        }
    }

    #[test]
    fn similarity_of_block_diagonal_with_complex_pairs() {
        let mut rng = Rng(3);
        let n = 7;
        let mut dm = vec![0.0; n * n];
        let blocks = [(0, 1.0, 2.0), (2, -0.5, 0.3)]; // [[a,-b],[b,a]] at (k,k)
        for &(k, a, b) in &blocks {
            dm[k * n + k] = a;
            dm[k * n + k + 1] = -b;
            dm[(k + 1) * n + k] = b;
            dm[(k + 1) * n + k + 1] = a;
        }
        for (k, v) in [(4, 3.0), (5, -4.0), (6, 0.2)] {
            dm[k * n + k] = v;
        }
        let a = similarity(&dm, n, &mut rng);
        let eig = eigenvalues(&a, n).unwrap();
        assert_sorted_by_modulus(&eig);
        let want = [
            (-4.0, 0.0),
            (3.0, 0.0),
            (1.0, 2.0),
            (1.0, -2.0),
            (-0.5, 0.3),
            (-0.5, -0.3),
            (0.2, 0.0),
        ];
        let err = max_match_error(&eig, &want);
        assert!(err < 1e-10, "max error {err}, got {eig:?}");
        // Order: -4, 3, then the pair 1 ± 2i (|.| = √5 < 3), so indices 2,3 are the pair.
        assert!((eig[0].0 + 4.0).abs() < 1e-10);
        assert!(eig[2].1 > 0.0 && eig[3].1 < 0.0);
    }

    #[test]
    fn badly_scaled_similarity_is_balanced() {
        // D·B·D⁻¹ with D spanning 16 orders of magnitude has the same eigenvalues as B.
        let mut rng = Rng(11);
        let d = [2.0, -1.0, 0.5, 4.0, -3.0, 1.5];
        let n = d.len();
        let mut dm = vec![0.0; n * n];
        for i in 0..n {
            dm[i * n + i] = d[i];
        }
        let b = similarity(&dm, n, &mut rng);
        let scales = [1e-8, 1.0, 1e8, 1e-4, 1e4, 1e2];
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = scales[i] * b[i * n + j] / scales[j];
            }
        }
        let eig = eigenvalues(&a, n).unwrap();
        let want: Vec<(f64, f64)> = d.iter().map(|&x| (x, 0.0)).collect();
        let err = max_match_error(&eig, &want);
        assert!(err < 1e-9, "max error {err}, got {eig:?}");
    }

    #[test]
    fn defective_jordan_block() {
        // S·J·S⁻¹ with J = Jordan block of eigenvalue 2 (size 3) ⊕ [-1]. Multiple
        // eigenvalues of a defective matrix are only accurate to ~ε^(1/3), but their
        // sum (the trace) stays accurate.
        let mut rng = Rng(5);
        let n = 4;
        let mut j = vec![0.0; n * n];
        j[0] = 2.0;
        j[1] = 1.0;
        j[n + 1] = 2.0;
        j[n + 2] = 1.0;
        j[2 * n + 2] = 2.0;
        j[3 * n + 3] = -1.0;
        let a = similarity(&j, n, &mut rng);
        let eig = eigenvalues(&a, n).unwrap();
        let want = [(2.0, 0.0), (2.0, 0.0), (2.0, 0.0), (-1.0, 0.0)];
        let err = max_match_error(&eig, &want);
        assert!(err < 1e-4, "max error {err}, got {eig:?}");
        let sum_re: f64 = eig.iter().map(|e| e.0).sum();
        let sum_im: f64 = eig.iter().map(|e| e.1).sum();
        assert!((sum_re - 5.0).abs() < 1e-12 && sum_im.abs() < 1e-12);
    }

    /// Checks shared by the random-matrix tests; `check_every` selects which eigenvalues
    /// get the (O(n³) each) inverse-iteration residual check.
    fn check_random_gaussian(n: usize, seed: u64, check_every: usize) -> Vec<(f64, f64)> {
        let mut rng = Rng(seed);
        let a = rng.gauss_matrix(n);
        let t0 = std::time::Instant::now();
        let eig = eigenvalues(&a, n).unwrap();
        eprintln!("eigenvalues of {n}x{n} Gaussian matrix: {:?}", t0.elapsed());
        assert_eq!(eig.len(), n);
        assert_sorted_by_modulus(&eig);
        let norm = frob(&a);

        // Trace = sum of eigenvalues; imaginary parts sum to zero.
        let trace: f64 = (0..n).map(|i| a[i * n + i]).sum();
        let sum_re: f64 = eig.iter().map(|e| e.0).sum();
        let sum_im: f64 = eig.iter().map(|e| e.1).sum();
        let scale = trace.abs().max(norm);
        assert!((sum_re - trace).abs() < 1e-8 * scale, "{sum_re} vs {trace}");
        assert!(sum_im.abs() < 1e-8 * scale);

        // Conjugate pairs: every eigenvalue with im > 0 has a partner (re, -im).
        let pos: Vec<_> = eig.iter().filter(|e| e.1 > 0.0).collect();
        let neg: Vec<_> = eig.iter().filter(|e| e.1 < 0.0).collect();
        assert_eq!(pos.len(), neg.len());
        let conj: Vec<(f64, f64)> = pos.iter().map(|e| (e.0, -e.1)).collect();
        let negv: Vec<(f64, f64)> = neg.iter().map(|e| **e).collect();
        assert!(max_match_error(&negv, &conj) < 1e-12 * norm);
        let n_real = n - 2 * pos.len();
        eprintln!("  {n_real} real eigenvalues, {} conjugate pairs", pos.len());

        // Each λ is an eigenvalue of a nearby matrix: ‖(A − λI)v‖ tiny relative to ‖A‖.
        let mut worst: f64 = 0.0;
        for (k, &(re, im)) in eig.iter().enumerate() {
            if k % check_every == 0 || k + 1 == n {
                let r = eigen_residual(&a, n, C::new(re, im), &mut rng);
                worst = worst.max(r);
            }
        }
        eprintln!("  worst relative residual {worst:e}");
        assert!(worst < 1e-12, "worst relative residual {worst:e}");

        // Negative control: shifted values are not eigenvalues, and the check notices.
        for &(re, im) in eig.iter().step_by(n / 5) {
            let r = eigen_residual(&a, n, C::new(re + 0.5, im + 0.25), &mut rng);
            assert!(r > 1e-6, "shifted value passed the residual check: {r:e}");
        }
        eig
    }

    #[test]
    fn random_gaussian_50() {
        check_random_gaussian(50, 2024, 1);
    }

    #[test]
    fn random_gaussian_200_and_circular_law() {
        let n = 200;
        let eig = check_random_gaussian(n, 99, 8);
        // Circular law: spectral radius of an N×N matrix with N(0,1) entries ≈ √N.
        let rho = eig[0].0.hypot(eig[0].1);
        let ratio = rho / (n as f64).sqrt();
        eprintln!("  spectral radius / sqrt(N) = {ratio}");
        assert!((ratio - 1.0).abs() < 0.15, "ratio {ratio}");
    }

    #[test]
    fn spectral_radius_scales_linearly() {
        let mut rng = Rng(123);
        let n = 50;
        let a = rng.gauss_matrix(n);
        let rho = spectral_radius(&a, n).unwrap();
        assert!(rho > 0.0);
        for c in [-2.5, 1e-3, 1e5, 0.75, -1.0] {
            let ca: Vec<f64> = a.iter().map(|x| c * x).collect();
            let rc = spectral_radius(&ca, n).unwrap();
            let want = c.abs() * rho;
            assert!((rc - want).abs() <= 1e-9 * want, "c = {c}: {rc} vs {want}");
        }
    }

    #[test]
    fn errors_and_messages() {
        let e = eigenvalues(&[0.0; 10], 3).unwrap_err();
        assert_eq!(e, EigenError::NotSquare { len: 10, n: 3 });
        assert_eq!(e.to_string(), "matrix has 10 entries, not 3×3 = 9");
        assert_eq!(
            spectral_radius(&[1.0, 2.0, 3.0], 2),
            Err(EigenError::NotSquare { len: 3, n: 2 })
        );
        assert_eq!(
            eigenvalues(&[1.0], 0),
            Err(EigenError::NotSquare { len: 1, n: 0 })
        );
        let huge = EigenError::NotSquare {
            len: 4,
            n: usize::MAX,
        };
        assert!(eigenvalues(&[0.0; 4], usize::MAX) == Err(huge.clone()));
        assert!(huge.to_string().contains("overflows"));

        let nan = eigenvalues(&[1.0, f64::NAN, 0.0, 1.0], 2).unwrap_err();
        assert_eq!(nan, EigenError::NoConvergence { n: 2 });
        assert!(nan
            .to_string()
            .contains("did not converge for a 2×2 matrix"));
        let inf = spectral_radius(&[1.0, f64::INFINITY, 0.0, 1.0], 2);
        assert_eq!(inf, Err(EigenError::NoConvergence { n: 2 }));

        let boxed: Box<dyn std::error::Error> = Box::new(e);
        assert!(boxed.to_string().starts_with("matrix has 10 entries"));
    }
}
