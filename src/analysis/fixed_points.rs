//! Fixed points and slow points of a discrete-time rate RNN driven by a constant input.
//!
//! The network state `x ∈ ℝᴺ` evolves by the map
//! `F(x) = (1 − α) ⊙ x + α ⊙ (W_rec · f(x) + drive)`, with `drive = W_in·u + b_rec` for a
//! constant input `u`, `α = dt/τ` (shared or per unit) and transfer function `f`.
//!
//! - Speed: `q(x) = ½ ‖F(x) − x‖²`; fixed points have `q = 0`, slow points are local minima
//!   of `q` with small positive `q`.
//! - Jacobian of the map: `J(x) = ∂F/∂x = diag(1 − α) + diag(α) · W_rec · diag(f′(x))`.
//! - Gradient of the speed: `∇q(x) = (J(x) − I)ᵀ (F(x) − x)`.
//!
//! [`find_fixed_points`] minimises `q` from many starting states (Adam on `∇q`, helped by
//! damped Newton steps `x ← x − t (J − I)⁻¹ (F(x) − x)` that are kept only when they lower `q`
//! enough), keeps points with small `q`, removes duplicates and classifies each point by the
//! eigenvalues `λ` of `J`. These are eigenvalues of the *discrete* map: the point is stable
//! when every `|λ| < 1`. `F` is the Euler step (`α = dt/τ`) of the continuous-time network
//! `τ dx/dt = −x + W_rec f(x) + drive`, so with a shared `α` the continuous-time Jacobian
//! eigenvalues (in units of `1/τ`) are `λ_ct = (λ − 1)/α`, stable when `Re λ_ct < 0`.

use std::fmt;

use crate::model::RateRnnWeights;
use crate::random::Rng;
use crate::run_dir::FixedPointsFile;

/// Adam iterations between attempts of a damped Newton step during minimisation.
const NEWTON_PERIOD: usize = 100;
/// Maximum number of Newton steps used to polish a point at the end of minimisation.
const MAX_POLISH_STEPS: usize = 50;
/// Maximum step halvings in the Newton line search (smallest step fraction 2⁻¹⁰).
const MAX_HALVINGS: usize = 10;
/// Adam decay rate of the first-moment (mean gradient) estimate.
const ADAM_BETA1: f64 = 0.9;
/// Adam decay rate of the second-moment (squared gradient) estimate.
const ADAM_BETA2: f64 = 0.999;
/// Adam denominator guard.
const ADAM_EPS: f64 = 1e-8;

/// Inconsistent shapes in a [`RateDynamics`], reported by [`RateDynamics::validate`].
#[derive(Debug, Clone, PartialEq)]
pub enum FixedPointError {
    /// `w_rec.len()` is not `n * n`, where `n = drive.len()`.
    WeightShape {
        /// Length of `w_rec`.
        len: usize,
        /// Number of units (`drive.len()`).
        n: usize,
    },
    /// `alpha.len()` is neither 1 nor `n`.
    AlphaLength {
        /// Length of `alpha`.
        len: usize,
        /// Number of units (`drive.len()`).
        n: usize,
    },
}

impl fmt::Display for FixedPointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FixedPointError::WeightShape { len, n } => write!(
                f,
                "recurrent weights have {len} entries, but drive has {n} units, so {n}×{n} were expected"
            ),
            FixedPointError::AlphaLength { len, n } => write!(
                f,
                "alpha has {len} values; expected 1 (shared) or {n} (one per unit)"
            ),
        }
    }
}

impl std::error::Error for FixedPointError {}

/// A rate RNN with constant input, viewed as the map `F(x) = (1−α)⊙x + α⊙(W_rec·f(x) + drive)`.
#[derive(Debug, Clone, Copy)]
pub struct RateDynamics<'a> {
    /// `N`×`N` row-major effective recurrent weights (`w_rec[i * N + j]`: from unit `j` to `i`).
    pub w_rec: &'a [f64],
    /// `N` values: the constant `W_in·u + b_rec`. Its length defines `N`.
    pub drive: &'a [f64],
    /// `dt/τ`: one value shared by all units, or `N` values (one per unit).
    pub alpha: &'a [f64],
    /// Transfer function `f` (rate as a function of state).
    pub transfer: fn(f64) -> f64,
    /// Its derivative `f′`.
    pub transfer_derivative: fn(f64) -> f64,
}

impl<'a> RateDynamics<'a> {
    /// Number of units `N` (= `drive.len()`).
    pub fn n(&self) -> usize {
        self.drive.len()
    }

    /// Checks that `w_rec` is `N`×`N` and `alpha` has 1 or `N` values.
    pub fn validate(&self) -> Result<(), FixedPointError> {
        let n = self.n();
        if n.checked_mul(n) != Some(self.w_rec.len()) {
            return Err(FixedPointError::WeightShape {
                len: self.w_rec.len(),
                n,
            });
        }
        if self.alpha.len() != 1 && self.alpha.len() != n {
            return Err(FixedPointError::AlphaLength {
                len: self.alpha.len(),
                n,
            });
        }
        Ok(())
    }

    /// `α` of unit `i`.
    fn alpha_at(&self, i: usize) -> f64 {
        if self.alpha.len() == 1 {
            self.alpha[0]
        } else {
            self.alpha[i]
        }
    }

    fn check(&self, x: &[f64]) {
        if let Err(e) = self.validate() {
            panic!("invalid RateDynamics: {e}");
        }
        assert_eq!(
            x.len(),
            self.n(),
            "state has {} values but the network has {} units",
            x.len(),
            self.n()
        );
    }

    /// `h = W_rec · f(x) + drive`.
    fn recurrent_input(&self, x: &[f64]) -> Vec<f64> {
        let n = self.n();
        let fx: Vec<f64> = x.iter().map(|&v| (self.transfer)(v)).collect();
        (0..n)
            .map(|i| {
                let row = &self.w_rec[i * n..(i + 1) * n];
                self.drive[i] + row.iter().zip(&fx).map(|(w, r)| w * r).sum::<f64>()
            })
            .collect()
    }

    /// Residual `F(x) − x = α ⊙ (W_rec·f(x) + drive − x)` (no shape checks).
    fn residual(&self, x: &[f64]) -> Vec<f64> {
        let h = self.recurrent_input(x);
        h.iter()
            .zip(x)
            .enumerate()
            .map(|(i, (hi, xi))| self.alpha_at(i) * (hi - xi))
            .collect()
    }

    /// Residual `r = F(x) − x`, speed `q = ½‖r‖²` and gradient `∇q = (J − I)ᵀ r`
    /// `= f′(x) ⊙ (W_recᵀ (α ⊙ r)) − α ⊙ r` (no shape checks).
    fn speed_and_gradient(&self, x: &[f64]) -> (Vec<f64>, f64, Vec<f64>) {
        let n = self.n();
        let r = self.residual(x);
        let q = 0.5 * r.iter().map(|v| v * v).sum::<f64>();
        let ar: Vec<f64> = r
            .iter()
            .enumerate()
            .map(|(i, v)| self.alpha_at(i) * v)
            .collect();
        // W_recᵀ (α ⊙ r), accumulated row by row of W_rec.
        let mut wt = vec![0.0; n];
        for (i, &a) in ar.iter().enumerate() {
            if a != 0.0 {
                for (acc, w) in wt.iter_mut().zip(&self.w_rec[i * n..(i + 1) * n]) {
                    *acc += a * w;
                }
            }
        }
        let grad = (0..n)
            .map(|j| (self.transfer_derivative)(x[j]) * wt[j] - ar[j])
            .collect();
        (r, q, grad)
    }

    /// One step of the map: `F(x) = (1 − α) ⊙ x + α ⊙ (W_rec · f(x) + drive)`.
    ///
    /// # Panics
    /// If `x.len() != N` or the shapes are inconsistent (see [`RateDynamics::validate`]).
    pub fn step(&self, x: &[f64]) -> Vec<f64> {
        self.check(x);
        let h = self.recurrent_input(x);
        h.iter()
            .zip(x)
            .enumerate()
            .map(|(i, (hi, xi))| {
                let a = self.alpha_at(i);
                (1.0 - a) * xi + a * hi
            })
            .collect()
    }

    /// Speed `q(x) = ½ ‖F(x) − x‖²` (0 exactly at a fixed point).
    ///
    /// # Panics
    /// If `x.len() != N` or the shapes are inconsistent (see [`RateDynamics::validate`]).
    pub fn speed(&self, x: &[f64]) -> f64 {
        self.check(x);
        0.5 * self.residual(x).iter().map(|v| v * v).sum::<f64>()
    }

    /// Jacobian of the map, `N`×`N` row-major:
    /// `J[i][j] = (1 − α_i) δ_ij + α_i · W_rec[i][j] · f′(x_j)`.
    ///
    /// # Panics
    /// If `x.len() != N` or the shapes are inconsistent (see [`RateDynamics::validate`]).
    pub fn jacobian(&self, x: &[f64]) -> Vec<f64> {
        self.check(x);
        let n = self.n();
        let dfx: Vec<f64> = x.iter().map(|&v| (self.transfer_derivative)(v)).collect();
        let mut j = vec![0.0; n * n];
        for i in 0..n {
            let a = self.alpha_at(i);
            let row = &mut j[i * n..(i + 1) * n];
            for ((jij, w), d) in row
                .iter_mut()
                .zip(&self.w_rec[i * n..(i + 1) * n])
                .zip(&dfx)
            {
                *jij = a * w * d;
            }
            row[i] += 1.0 - a;
        }
        j
    }
}

/// A fixed (or slow) point found by [`find_fixed_points`].
#[derive(Debug, Clone, PartialEq)]
pub struct FixedPoint {
    /// The state `x` (length `N`): of the merged hits, the one with the lowest `q`.
    pub x: Vec<f64>,
    /// Its speed `q(x) = ½‖F(x) − x‖²`.
    pub q: f64,
    /// Eigenvalues `(re, im)` of the map's Jacobian `J(x)`, by descending modulus
    /// (discrete-time; continuous-time `λ_ct = (λ − 1)/α`). Empty if the solver failed.
    pub eigenvalues: Vec<(f64, f64)>,
    /// `true` when every eigenvalue has modulus `< 1` (false if eigenvalues are missing).
    pub stable: bool,
    /// How many minimisations ended here (hits merged into this point, itself included).
    pub hits: usize,
}

/// Default of [`FixedPointOptions::merge_tolerance`]: hits closer than 5 % of the RMS norm of
/// the starting states are one point.
pub const DEFAULT_MERGE_TOLERANCE: f64 = 0.05;

/// Settings of [`find_fixed_points`].
#[derive(Debug, Clone, PartialEq)]
pub struct FixedPointOptions {
    /// Maximum Adam iterations per starting state (default 20 000).
    pub max_iterations: usize,
    /// Adam learning rate (default 0.01).
    pub learning_rate: f64,
    /// Stop minimising once `q` falls below this (default 1e-12).
    pub q_tolerance: f64,
    /// Keep only points with `q` below this (default 1e-6); larger values admit slow points.
    pub keep_q_below: f64,
    /// Hits closer than `merge_tolerance × scale` (Euclidean) are one point, the lower-`q` hit
    /// kept; `scale` is the RMS norm `√(mean ‖s‖²)` of the starting states (of the hits when
    /// every start is 0; 1 when those are 0 too). Default [`DEFAULT_MERGE_TOLERANCE`].
    pub merge_tolerance: f64,
    /// Use damped Newton steps (default true). Newton converges to exact roots of
    /// `F(x) = x`; a slow-point search turns it off so that minimisation stops where `q` first
    /// falls below `q_tolerance`, on a slow manifold, instead of sliding to its fixed points.
    pub newton: bool,
}

impl Default for FixedPointOptions {
    fn default() -> Self {
        FixedPointOptions {
            max_iterations: 20_000,
            learning_rate: 0.01,
            q_tolerance: 1e-12,
            keep_q_below: 1e-6,
            merge_tolerance: DEFAULT_MERGE_TOLERANCE,
            newton: true,
        }
    }
}

/// What [`find_fixed_points`] found: the distinct points and how they were merged.
#[derive(Debug, Clone, PartialEq)]
pub struct FixedPointSearch {
    /// Distinct points, by increasing `q`.
    pub points: Vec<FixedPoint>,
    /// Minimisations that ended with `q < keep_q_below` (before merging).
    pub raw_hits: usize,
    /// The distance under which hits were merged: `merge_tolerance × scale`.
    pub merge_distance: f64,
}

/// A trained rate network held at a constant input, as [`RateDynamics`] needs it: W_rec in
/// f64 and the drive `b_rec + W_in · input`. `input` has one value per input channel.
pub fn constant_input_drive(w: &RateRnnWeights, input: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let w_rec = w.w_rec.iter().map(|&v| f64::from(v)).collect();
    let drive = (0..w.n_rec)
        .map(|i| {
            f64::from(w.b_rec[i])
                + (0..w.n_in)
                    .map(|k| f64::from(w.w_in[i * w.n_in + k]) * input[k])
                    .sum::<f64>()
        })
        .collect();
    (w_rec, drive)
}

/// `count` starting states for the search, drawn uniformly (seeded) from `states`, recorded
/// states of `n` units each (`[P, N]` flattened, e.g. trials.npz's `states`).
pub fn starts_from_states(states: &[f32], n: usize, count: usize, seed: u64) -> Vec<Vec<f64>> {
    let points = states.len().checked_div(n).unwrap_or(0);
    if points == 0 {
        return Vec::new();
    }
    let mut rng = Rng::from_seed(seed);
    (0..count)
        .map(|_| {
            let p = rng.below(points as u64) as usize;
            states[p * n..(p + 1) * n]
                .iter()
                .map(|&v| f64::from(v))
                .collect()
        })
        .collect()
}

/// The search result as `fixed_points.npz` holds it, for the constant `input` it was run with.
pub fn points_file(search: &FixedPointSearch, input: &[f64]) -> FixedPointsFile {
    FixedPointsFile {
        x: search.points.iter().map(|p| p.x.clone()).collect(),
        q: search.points.iter().map(|p| p.q).collect(),
        stable: search.points.iter().map(|p| p.stable).collect(),
        // A point whose eigenvalue solver failed has none: NaN keeps the file rectangular.
        eigenvalues: search
            .points
            .iter()
            .map(|p| match p.eigenvalues.len() == p.x.len() {
                true => p.eigenvalues.clone(),
                false => vec![(f64::NAN, f64::NAN); p.x.len()],
            })
            .collect(),
        hits: Some(search.points.iter().map(|p| p.hits).collect()),
        raw_hits: Some(search.raw_hits),
        merge_distance: Some(search.merge_distance),
        input: input.to_vec(),
    }
}

/// RMS norm `√(mean ‖v‖²)` of `vectors` (0 for none).
fn rms_norm(vectors: &[&[f64]]) -> f64 {
    if vectors.is_empty() {
        return 0.0;
    }
    let sum: f64 = vectors
        .iter()
        .map(|v| v.iter().map(|x| x * x).sum::<f64>())
        .sum();
    (sum / vectors.len() as f64).sqrt()
}

/// Merges hits `(x, q)` sorted by increasing `q`: each joins the first kept point closer
/// than `distance`, else becomes a new point. Returns (x, q, hits) per distinct point.
pub fn merge_hits(hits: Vec<(Vec<f64>, f64)>, distance: f64) -> Vec<(Vec<f64>, f64, usize)> {
    let mut kept: Vec<(Vec<f64>, f64, usize)> = Vec::new();
    for (x, q) in hits {
        let near = kept.iter_mut().find(|(y, _, _)| {
            let d2: f64 = x.iter().zip(y.iter()).map(|(a, b)| (a - b) * (a - b)).sum();
            d2.sqrt() < distance
        });
        match near {
            Some(k) => k.2 += 1,
            None => kept.push((x, q, 1)),
        }
    }
    kept
}

/// Finds fixed and slow points of `dynamics` by minimising `q` from each state in `starts`.
///
/// Per start: Adam on `∇q = (J − I)ᵀ(F(x) − x)` with `options.learning_rate`, until
/// `q < q_tolerance` or `max_iterations`; every 100 iterations (and right after a successful
/// one) a damped Newton step on `F(x) − x = 0` is tried and kept only if it lowers `q` by a
/// sufficient amount (skipped when `J − I` is numerically singular); at the end, Newton steps
/// polish the point to machine precision when they keep lowering `q`. Then hits with
/// `q < keep_q_below` are merged when closer than `merge_tolerance` × the RMS norm of the
/// starts (keeping the lower `q`; see [`FixedPointOptions::merge_tolerance`]), and the result
/// is sorted by increasing `q`, each with the eigenvalues of the discrete map's Jacobian and
/// its stability (all `|λ| < 1`).
///
/// Never panics on bad input: finds nothing if the dynamics are inconsistent (check with
/// [`RateDynamics::validate`]); starts of the wrong length or with NaN/infinite values are
/// skipped.
pub fn find_fixed_points(
    dynamics: &RateDynamics,
    starts: &[Vec<f64>],
    options: &FixedPointOptions,
) -> FixedPointSearch {
    if dynamics.validate().is_err() {
        return FixedPointSearch {
            points: Vec::new(),
            raw_hits: 0,
            merge_distance: 0.0,
        };
    }
    let n = dynamics.n();
    let usable: Vec<&Vec<f64>> = starts
        .iter()
        .filter(|s| s.len() == n && s.iter().all(|v| v.is_finite()))
        .collect();
    let mut candidates: Vec<(Vec<f64>, f64)> = usable
        .iter()
        .map(|s| minimise(dynamics, s, options))
        .filter(|(x, q)| *q < options.keep_q_below && x.iter().all(|v| v.is_finite()))
        .collect();
    candidates.sort_by(|a, b| a.1.total_cmp(&b.1));
    let raw_hits = candidates.len();

    let start_refs: Vec<&[f64]> = usable.iter().map(|s| s.as_slice()).collect();
    let hit_refs: Vec<&[f64]> = candidates.iter().map(|(x, _)| x.as_slice()).collect();
    let scale = [rms_norm(&start_refs), rms_norm(&hit_refs)]
        .into_iter()
        .find(|s| *s > 0.0 && s.is_finite())
        .unwrap_or(1.0);
    let merge_distance = options.merge_tolerance * scale;

    let points = merge_hits(candidates, merge_distance)
        .into_iter()
        .map(|(x, q, hits)| {
            let jac = dynamics.jacobian(&x);
            let (eigenvalues, stable) = match crate::linalg::eigenvalues(&jac, n) {
                Ok(ev) => {
                    let stable = ev.iter().all(|&(re, im)| re.hypot(im) < 1.0);
                    (ev, stable)
                }
                Err(_) => (Vec::new(), false),
            };
            FixedPoint {
                x,
                q,
                eigenvalues,
                stable,
                hits,
            }
        })
        .collect();
    FixedPointSearch {
        points,
        raw_hits,
        merge_distance,
    }
}

/// Minimises `q` from `start`; returns the final state and its speed.
fn minimise(dyn_: &RateDynamics, start: &[f64], options: &FixedPointOptions) -> (Vec<f64>, f64) {
    let n = dyn_.n();
    let mut x = start.to_vec();
    let mut m = vec![0.0; n];
    let mut v = vec![0.0; n];
    let mut t = 0i32; // Adam step count since the last reset
    let mut newton_streak = false;
    for it in 0..options.max_iterations {
        let (r, q, g) = dyn_.speed_and_gradient(&x);
        if !q.is_finite() || q < options.q_tolerance {
            break;
        }
        if options.newton && (newton_streak || it % NEWTON_PERIOD == 0) {
            if let Some(xn) = newton_step(dyn_, &x, &r, q) {
                x = xn;
                m.fill(0.0);
                v.fill(0.0);
                t = 0;
                newton_streak = true;
                continue;
            }
            newton_streak = false;
        }
        t = t.saturating_add(1);
        let c1 = 1.0 - ADAM_BETA1.powi(t);
        let c2 = 1.0 - ADAM_BETA2.powi(t);
        for (((xi, mi), vi), gi) in x.iter_mut().zip(&mut m).zip(&mut v).zip(&g) {
            *mi = ADAM_BETA1 * *mi + (1.0 - ADAM_BETA1) * gi;
            *vi = ADAM_BETA2 * *vi + (1.0 - ADAM_BETA2) * gi * gi;
            *xi -= options.learning_rate * (*mi / c1) / ((*vi / c2).sqrt() + ADAM_EPS);
        }
    }
    // Polish with Newton steps while they keep lowering q.
    let polish_steps = if options.newton { MAX_POLISH_STEPS } else { 0 };
    for _ in 0..polish_steps {
        let r = dyn_.residual(&x);
        let q = 0.5 * r.iter().map(|v| v * v).sum::<f64>();
        if q == 0.0 || !q.is_finite() {
            break;
        }
        match newton_step(dyn_, &x, &r, q) {
            Some(xn) => x = xn,
            None => break,
        }
    }
    let r = dyn_.residual(&x);
    let q = 0.5 * r.iter().map(|v| v * v).sum::<f64>();
    (x, q)
}

/// Damped Newton step for `F(x) − x = 0`: `d = (J − I)⁻¹ r`, then `x − s·d` for the largest
/// `s ∈ {1, ½, …, 2⁻¹⁰}` with `q(x − s d) ≤ (1 − 10⁻⁴·2s) q` (Armijo; `∇q·d = 2q`).
/// Returns `None` if `J − I` is numerically singular or no step length is accepted.
fn newton_step(dyn_: &RateDynamics, x: &[f64], r: &[f64], q: f64) -> Option<Vec<f64>> {
    let n = dyn_.n();
    let mut a = dyn_.jacobian(x);
    for i in 0..n {
        a[i * n + i] -= 1.0;
    }
    let mut d = r.to_vec();
    if !solve_in_place(&mut a, &mut d, n) {
        return None;
    }
    let mut s = 1.0;
    for _ in 0..=MAX_HALVINGS {
        let xn: Vec<f64> = x.iter().zip(&d).map(|(xi, di)| xi - s * di).collect();
        let rn = dyn_.residual(&xn);
        let qn = 0.5 * rn.iter().map(|v| v * v).sum::<f64>();
        if qn.is_finite() && qn <= (1.0 - 2e-4 * s) * q {
            return Some(xn);
        }
        s *= 0.5;
    }
    None
}

/// Solves `a · y = b` in place (`b` becomes `y`) by Gaussian elimination with partial pivoting.
/// Returns `false` if a pivot is below `n · ε · max|a|` (numerically singular) or the solution
/// is not finite.
fn solve_in_place(a: &mut [f64], b: &mut [f64], n: usize) -> bool {
    let amax = a.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    if amax == 0.0 || !amax.is_finite() {
        return false;
    }
    let tiny = (n as f64) * f64::EPSILON * amax;
    for k in 0..n {
        let (mut piv, mut best) = (k, a[k * n + k].abs());
        for i in k + 1..n {
            let v = a[i * n + k].abs();
            if v > best {
                piv = i;
                best = v;
            }
        }
        if best <= tiny {
            return false;
        }
        if piv != k {
            for j in 0..n {
                a.swap(k * n + j, piv * n + j);
            }
            b.swap(k, piv);
        }
        let (top, rest) = a.split_at_mut((k + 1) * n);
        let pivot_row = &top[k * n..];
        let akk = pivot_row[k];
        for (off, row) in rest.chunks_exact_mut(n).enumerate() {
            let f = row[k] / akk;
            if f != 0.0 {
                for (x, p) in row[k..].iter_mut().zip(&pivot_row[k..]) {
                    *x -= f * p;
                }
                b[k + 1 + off] -= f * b[k];
            }
        }
    }
    for k in (0..n).rev() {
        let s: f64 = (k + 1..n).map(|j| a[k * n + j] * b[j]).sum();
        b[k] = (b[k] - s) / a[k * n + k];
    }
    b.iter().all(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::random::Rng;

    fn gauss_vec(rng: &mut Rng, n: usize, scale: f64) -> Vec<f64> {
        (0..n).map(|_| scale * rng.normal()).collect()
    }

    fn tanh(x: f64) -> f64 {
        x.tanh()
    }
    fn dtanh(x: f64) -> f64 {
        let t = x.tanh();
        1.0 - t * t
    }
    fn identity(x: f64) -> f64 {
        x
    }
    fn one(_: f64) -> f64 {
        1.0
    }

    /// Max over expected values of the distance to the nearest obtained eigenvalue, and the
    /// same with roles swapped (so multiplicities must agree roughly).
    fn eig_match_error(got: &[(f64, f64)], want: &[(f64, f64)]) -> f64 {
        assert_eq!(got.len(), want.len());
        let near = |a: &[(f64, f64)], b: &[(f64, f64)]| {
            a.iter()
                .map(|p| {
                    b.iter()
                        .map(|w| (p.0 - w.0).hypot(p.1 - w.1))
                        .fold(f64::INFINITY, f64::min)
                })
                .fold(0.0, f64::max)
        };
        near(got, want).max(near(want, got))
    }

    #[test]
    fn step_speed_jacobian_by_hand_with_per_unit_alpha() {
        // Linear 2-unit net, α = (0.1, 0.5), W = [[0.2, 0.6], [−0.3, 0.4]], drive (1, −0.5).
        let w = [0.2, 0.6, -0.3, 0.4];
        let drive = [1.0, -0.5];
        let alpha = [0.1, 0.5];
        let dynamics = RateDynamics {
            w_rec: &w,
            drive: &drive,
            alpha: &alpha,
            transfer: identity,
            transfer_derivative: one,
        };
        assert_eq!(dynamics.n(), 2);
        // At x = (1, 2): W x + drive = (1.4 + 1, 0.5 − 0.5) = (2.4, 0);
        // F = (0.9·1 + 0.1·2.4, 0.5·2 + 0.5·0) = (1.14, 1).
        let f = dynamics.step(&[1.0, 2.0]);
        assert!(
            (f[0] - 1.14).abs() < 1e-15 && (f[1] - 1.0).abs() < 1e-15,
            "{f:?}"
        );
        // q = ½ (0.14² + 1²) = 0.5098.
        assert!((dynamics.speed(&[1.0, 2.0]) - 0.5098).abs() < 1e-15);
        // J = [[0.9 + 0.1·0.2, 0.1·0.6], [0.5·(−0.3), 0.5 + 0.5·0.4]].
        let j = dynamics.jacobian(&[1.0, 2.0]);
        let want = [0.92, 0.06, -0.15, 0.7];
        for (g, w) in j.iter().zip(want) {
            assert!((g - w).abs() < 1e-15, "{j:?}");
        }

        // Fixed point solves (I − W) x = drive (α drops out): Cramer's rule on
        // [[0.8, −0.6], [0.3, 0.6]] x = (1, −0.5), det = 0.66.
        let x_star = [
            (1.0 * 0.6 - (-0.6) * (-0.5)) / 0.66,
            (0.8 * (-0.5) - 0.3 * 1.0) / 0.66,
        ];
        let starts = vec![vec![5.0, 5.0], vec![-3.0, 1.0], vec![0.0, 0.0]];
        let fps = find_fixed_points(&dynamics, &starts, &FixedPointOptions::default()).points;
        assert_eq!(fps.len(), 1, "{fps:?}");
        let fp = &fps[0];
        assert!((fp.x[0] - x_star[0]).abs() < 1e-12 && (fp.x[1] - x_star[1]).abs() < 1e-12);
        assert!(fp.q < 1e-28);
        // Eigenvalues of the constant J: roots of λ² − tr λ + det.
        let (tr, det): (f64, f64) = (0.92 + 0.7, 0.92 * 0.7 + 0.06 * 0.15);
        let disc = (tr * tr - 4.0 * det).sqrt();
        let want = [((tr + disc) / 2.0, 0.0), ((tr - disc) / 2.0, 0.0)];
        assert!(
            eig_match_error(&fp.eigenvalues, &want) < 1e-12,
            "{:?}",
            fp.eigenvalues
        );
        assert!(fp.stable);

        // A shared α given as one value equals the same α repeated per unit.
        let shared = RateDynamics {
            alpha: &[0.3],
            ..dynamics
        };
        let repeated = RateDynamics {
            alpha: &[0.3, 0.3],
            ..dynamics
        };
        let x = [0.7, -1.3];
        assert_eq!(shared.step(&x), repeated.step(&x));
        assert_eq!(shared.jacobian(&x), repeated.jacobian(&x));
    }

    #[test]
    fn jacobian_matches_central_differences_on_random_tanh_network() {
        let n = 6;
        let mut rng = Rng::from_seed(77);
        let w = gauss_vec(&mut rng, n * n, 1.5 / (n as f64).sqrt());
        let drive = gauss_vec(&mut rng, n, 0.5);
        let per_unit: Vec<f64> = (0..n).map(|_| 0.05 + 0.9 * rng.uniform()).collect();
        for alpha in [vec![0.2], per_unit] {
            let dynamics = RateDynamics {
                w_rec: &w,
                drive: &drive,
                alpha: &alpha,
                transfer: tanh,
                transfer_derivative: dtanh,
            };
            for _ in 0..3 {
                let x = gauss_vec(&mut rng, n, 1.0);
                let j = dynamics.jacobian(&x);
                let h = 1e-6;
                for col in 0..n {
                    let mut xp = x.clone();
                    let mut xm = x.clone();
                    xp[col] += h;
                    xm[col] -= h;
                    let (fp, fm) = (dynamics.step(&xp), dynamics.step(&xm));
                    for row in 0..n {
                        let fd = (fp[row] - fm[row]) / (2.0 * h);
                        let an = j[row * n + col];
                        assert!((fd - an).abs() < 1e-8, "J[{row}][{col}]: {an} vs fd {fd}");
                    }
                }
                // The internal gradient of q matches central differences of speed().
                let (_, q, g) = dynamics.speed_and_gradient(&x);
                assert!((q - dynamics.speed(&x)).abs() < 1e-15);
                for k in 0..n {
                    let mut xp = x.clone();
                    let mut xm = x.clone();
                    xp[k] += h;
                    xm[k] -= h;
                    let fd = (dynamics.speed(&xp) - dynamics.speed(&xm)) / (2.0 * h);
                    assert!((fd - g[k]).abs() < 1e-8, "∇q[{k}]: {} vs fd {fd}", g[k]);
                }
            }
        }
    }

    /// W = Q B Qᵀ with Q = I − 2vvᵀ/‖v‖² (orthogonal) and block-diagonal B with known
    /// eigenvalues; returns (W, Q, B) as row-major 6×6 matrices and B's eigenvalues.
    #[allow(clippy::type_complexity)]
    fn known_spectrum_matrix(
        pa: f64,
        pb: f64,
        last: f64,
    ) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<(f64, f64)>) {
        let n = 6;
        let v = [1.0, -2.0, 0.5, 3.0, -1.0, 2.0];
        let vv: f64 = v.iter().map(|x| x * x).sum();
        let mut q = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                q[i * n + j] = f64::from(u8::from(i == j)) - 2.0 * v[i] * v[j] / vv;
            }
        }
        let mut b = vec![0.0; n * n];
        // [[pa, −pb], [pb, pa]]: pa ± pb·i;  [[−0.5, 0.2], [−0.2, −0.5]]: −0.5 ± 0.2i.
        b[0] = pa;
        b[1] = -pb;
        b[n] = pb;
        b[n + 1] = pa;
        b[2 * n + 2] = -0.5;
        b[2 * n + 3] = 0.2;
        b[3 * n + 2] = -0.2;
        b[3 * n + 3] = -0.5;
        b[4 * n + 4] = -0.2;
        b[5 * n + 5] = last;
        let eig = vec![
            (pa, pb),
            (pa, -pb),
            (-0.5, 0.2),
            (-0.5, -0.2),
            (-0.2, 0.0),
            (last, 0.0),
        ];
        let mut qb = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                qb[i * n + j] = (0..n).map(|k| q[i * n + k] * b[k * n + j]).sum();
            }
        }
        let mut w = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                w[i * n + j] = (0..n).map(|k| qb[i * n + k] * q[j * n + k]).sum();
            }
        }
        (w, q, b, eig)
    }

    /// x = Q (I − B)⁻¹ Qᵀ d, inverting I − B block by block (2×2 blocks, then scalars).
    fn linear_fixed_point(q: &[f64], b: &[f64], d: &[f64]) -> Vec<f64> {
        let n = 6;
        let qt_d: Vec<f64> = (0..n)
            .map(|i| (0..n).map(|k| q[k * n + i] * d[k]).sum())
            .collect();
        let mut y = vec![0.0; n];
        for blk in [0, 2] {
            let (p, r) = (1.0 - b[blk * n + blk], -b[blk * n + blk + 1]);
            let (s, t) = (-b[(blk + 1) * n + blk], 1.0 - b[(blk + 1) * n + blk + 1]);
            let det = p * t - r * s;
            y[blk] = (t * qt_d[blk] - r * qt_d[blk + 1]) / det;
            y[blk + 1] = (-s * qt_d[blk] + p * qt_d[blk + 1]) / det;
        }
        for k in [4, 5] {
            y[k] = qt_d[k] / (1.0 - b[k * n + k]);
        }
        (0..n)
            .map(|i| (0..n).map(|k| q[i * n + k] * y[k]).sum())
            .collect()
    }

    #[test]
    fn linear_network_has_unique_fixed_point_with_known_spectrum() {
        let n = 6;
        let alpha = 0.2;
        let drive = [0.5, -1.0, 2.0, 0.0, 1.5, -0.7];
        // J's eigenvalues are 0.8 + 0.2 μ. Cases: all |·| < 1 (stable); real μ = 1.5 gives
        // 1.1 (a saddle); μ = 0.5 ± 3i gives 0.9 ± 0.6i, real part < 1 but modulus √1.17 > 1.
        for (pa, pb, last, want_stable) in [
            (0.3, 0.4, 0.7, true),
            (0.3, 0.4, 1.5, false),
            (0.5, 3.0, 0.7, false),
        ] {
            let (w, q, b, eig_w) = known_spectrum_matrix(pa, pb, last);
            let dynamics = RateDynamics {
                w_rec: &w,
                drive: &drive,
                alpha: &[alpha],
                transfer: identity,
                transfer_derivative: one,
            };
            let x_star = linear_fixed_point(&q, &b, &drive);
            // Sanity of the independent solution: (I − W) x* = drive.
            for i in 0..n {
                let lhs = x_star[i] - (0..n).map(|j| w[i * n + j] * x_star[j]).sum::<f64>();
                assert!((lhs - drive[i]).abs() < 1e-12);
            }
            let mut rng = Rng::from_seed(5);
            let starts: Vec<Vec<f64>> = (0..8).map(|_| gauss_vec(&mut rng, n, 3.0)).collect();
            let fps = find_fixed_points(&dynamics, &starts, &FixedPointOptions::default()).points;
            assert_eq!(fps.len(), 1, "expected one deduplicated point, got {fps:?}");
            let fp = &fps[0];
            for (g, want) in fp.x.iter().zip(&x_star) {
                assert!((g - want).abs() < 1e-10, "{:?} vs {x_star:?}", fp.x);
            }
            assert!(fp.q < 1e-20, "q = {}", fp.q);
            // Eigenvalues of (1 − α) I + α W are (1 − α) + α μ for μ ∈ spec(W).
            let want: Vec<(f64, f64)> = eig_w
                .iter()
                .map(|&(re, im)| (1.0 - alpha + alpha * re, alpha * im))
                .collect();
            let err = eig_match_error(&fp.eigenvalues, &want);
            assert!(err < 1e-12, "eigenvalues {:?} vs {want:?}", fp.eigenvalues);
            assert_eq!(fp.stable, want_stable);
        }
    }

    /// Positive root of x = 2 tanh(x), by bisection on [1, 3] (g(1) > 0 > g(3)).
    fn bisect_two_tanh() -> f64 {
        let g = |x: f64| 2.0 * x.tanh() - x;
        let (mut lo, mut hi) = (1.0_f64, 3.0_f64);
        assert!(g(lo) > 0.0 && g(hi) < 0.0);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if g(mid) > 0.0 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    }

    #[test]
    fn bistable_unit_has_three_fixed_points() {
        // x ← 0.9 x + 0.1 · 2 tanh(x): fixed points 0 and ±x*, x* = 2 tanh(x*).
        let dynamics = RateDynamics {
            w_rec: &[2.0],
            drive: &[0.0],
            alpha: &[0.1],
            transfer: tanh,
            transfer_derivative: dtanh,
        };
        let x_star = bisect_two_tanh();
        assert!((x_star - 1.915_008).abs() < 1e-5);
        let starts: Vec<Vec<f64>> = (0..=40).map(|i| vec![-4.0 + 0.2 * i as f64]).collect();
        let mut fps = find_fixed_points(&dynamics, &starts, &FixedPointOptions::default()).points;
        assert_eq!(fps.len(), 3, "{fps:?}");
        for w in fps.windows(2) {
            assert!(w[0].q <= w[1].q, "not sorted by q");
        }
        fps.sort_by(|a, b| a.x[0].total_cmp(&b.x[0]));
        let want_x = [-x_star, 0.0, x_star];
        // J = 0.9 + 0.2 (1 − tanh² x): 1.1 at 0; at ±x*, tanh x* = x*/2.
        let lam_star = 0.9 + 0.2 * (1.0 - x_star * x_star / 4.0);
        let want_lam = [lam_star, 1.1, lam_star];
        let want_stable = [true, false, true];
        for (i, fp) in fps.iter().enumerate() {
            assert!((fp.x[0] - want_x[i]).abs() < 1e-12, "{fp:?}");
            assert!(fp.q < 1e-28, "{fp:?}");
            assert_eq!(fp.eigenvalues.len(), 1);
            assert!((fp.eigenvalues[0].0 - want_lam[i]).abs() < 1e-12, "{fp:?}");
            assert_eq!(fp.eigenvalues[0].1, 0.0);
            assert_eq!(fp.stable, want_stable[i]);
        }
    }

    #[test]
    fn slow_point_is_kept_only_with_a_loose_threshold() {
        // x ← 0.9 x + 0.1 (2 tanh x + 0.6). g(x) = 2 tanh x − x + 0.6 has one root (x ≈ 2.4)
        // and, at x = −c with c = acosh √2 = ln(1 + √2) (where g′ = 2 sech² − 1 = 0), a local
        // minimum g(−c) = −√2 + c + 0.6 ≈ 0.067 > 0: a slow point with q = ½ (0.1 g(−c))².
        let dynamics = RateDynamics {
            w_rec: &[2.0],
            drive: &[0.6],
            alpha: &[0.1],
            transfer: tanh,
            transfer_derivative: dtanh,
        };
        let c = (1.0 + 2f64.sqrt()).ln();
        let g_min = 0.6 + c - 2f64.sqrt();
        let q_slow = 0.5 * (0.1 * g_min) * (0.1 * g_min);
        let starts = vec![vec![-1.5], vec![-0.6], vec![3.0]];

        let strict = find_fixed_points(&dynamics, &starts, &FixedPointOptions::default()).points;
        assert_eq!(strict.len(), 1, "{strict:?}");
        let root = strict[0].x[0];
        assert!((2.0 * root.tanh() - root + 0.6).abs() < 1e-13 && root > 2.0);

        let loose = FixedPointOptions {
            keep_q_below: 1e-4,
            ..FixedPointOptions::default()
        };
        let fps = find_fixed_points(&dynamics, &starts, &loose).points;
        assert_eq!(fps.len(), 2, "{fps:?}");
        assert!((fps[0].x[0] - root).abs() < 1e-12 && fps[0].q < 1e-28);
        let slow = &fps[1];
        eprintln!("slow point {slow:?}, expected x = {}, q = {q_slow}", -c);
        assert!((slow.x[0] + c).abs() < 1e-3, "{slow:?}");
        assert!((slow.q - q_slow).abs() < 1e-3 * q_slow, "{slow:?}");
        // Its Jacobian 0.9 + 0.2 sech²(−c) = 0.9 + 0.1 = 1.0 (a ghost: marginal).
        assert!((slow.eigenvalues[0].0 - 1.0).abs() < 1e-3);
    }

    #[test]
    fn bad_input_gives_empty_or_skips_and_validate_reports() {
        let w = [1.0, 0.0, 0.0];
        let bad_w = RateDynamics {
            w_rec: &w,
            drive: &[0.0, 0.0],
            alpha: &[0.1],
            transfer: tanh,
            transfer_derivative: dtanh,
        };
        let e = bad_w.validate().unwrap_err();
        assert_eq!(e, FixedPointError::WeightShape { len: 3, n: 2 });
        assert_eq!(
            e.to_string(),
            "recurrent weights have 3 entries, but drive has 2 units, so 2×2 were expected"
        );
        assert!(
            find_fixed_points(&bad_w, &[vec![0.0, 0.0]], &FixedPointOptions::default())
                .points
                .is_empty()
        );

        let bad_alpha = RateDynamics {
            w_rec: &[0.5, 0.0, 0.0, 0.5],
            alpha: &[0.1, 0.2, 0.3],
            ..bad_w
        };
        let e = bad_alpha.validate().unwrap_err();
        assert_eq!(e, FixedPointError::AlphaLength { len: 3, n: 2 });
        assert_eq!(
            e.to_string(),
            "alpha has 3 values; expected 1 (shared) or 2 (one per unit)"
        );
        let boxed: Box<dyn std::error::Error> = Box::new(e);
        assert!(boxed.to_string().starts_with("alpha has 3"));

        // Good dynamics (x ← 0.9x + 0.1·0.5 tanh x: only x = 0): malformed starts are skipped.
        let good = RateDynamics {
            alpha: &[0.1],
            ..bad_alpha
        };
        assert_eq!(good.validate(), Ok(()));
        let starts = vec![vec![1.0], vec![f64::NAN, 0.0], vec![0.3, -0.2]];
        let fps = find_fixed_points(&good, &starts, &FixedPointOptions::default()).points;
        assert_eq!(fps.len(), 1);
        assert!(fps[0].x.iter().all(|v| v.abs() < 1e-12) && fps[0].stable);
        // 0.9 + 0.1·0.5 = 0.95, twice.
        assert!(eig_match_error(&fps[0].eigenvalues, &[(0.95, 0.0), (0.95, 0.0)]) < 1e-12);
        assert!(find_fixed_points(&good, &[], &FixedPointOptions::default())
            .points
            .is_empty());
    }

    #[test]
    fn hits_merge_relative_to_the_state_scale() {
        // Three locations 10 apart in a state of norm ~10, each hit 0.01–0.1 off (far more
        // than a fixed 1e-3, far less than 5 % of the scale): three points, hits counted.
        let centres = [[10.0, 0.0], [0.0, 10.0], [-10.0, 0.0]];
        let mut hits = Vec::new();
        for k in 0..30 {
            let c = centres[k % 3];
            let off = 0.01 + 0.003 * k as f64;
            hits.push((vec![c[0] + off, c[1] - off], 1e-6 * k as f64));
        }
        let merged = merge_hits(hits.clone(), 0.05 * 10.0);
        assert_eq!(merged.len(), 3, "{merged:?}");
        assert_eq!(merged.iter().map(|m| m.2).collect::<Vec<_>>(), [10, 10, 10]);
        // The lowest-q hit of each location is the one kept.
        assert_eq!(merged[0].1, 0.0);
        assert_eq!(merge_hits(hits, 1e-3).len(), 30);
        assert_eq!(rms_norm(&[&[3.0, 4.0], &[0.0, 0.0]]), 12.5f64.sqrt());
    }

    /// Random 50-unit tanh network (W ~ N(0, gain²/N), drive ~ N(0, 0.09), α = 0.1) searched
    /// from 32 random starts; prints the run time and checks every kept point independently.
    fn fifty_unit_search(gain: f64, seed: u64, options: &FixedPointOptions) -> Vec<FixedPoint> {
        let n = 50;
        let mut rng = Rng::from_seed(seed);
        let w = gauss_vec(&mut rng, n * n, gain / (n as f64).sqrt());
        let drive = gauss_vec(&mut rng, n, 0.3);
        let dynamics = RateDynamics {
            w_rec: &w,
            drive: &drive,
            alpha: &[0.1],
            transfer: tanh,
            transfer_derivative: dtanh,
        };
        let starts: Vec<Vec<f64>> = (0..32).map(|_| gauss_vec(&mut rng, n, 1.0)).collect();
        let t0 = std::time::Instant::now();
        let search = find_fixed_points(&dynamics, &starts, options);
        let fps = search.points.clone();
        assert_eq!(fps.iter().map(|p| p.hits).sum::<usize>(), search.raw_hits);
        let elapsed = t0.elapsed();
        eprintln!(
            "fixed points: 50-unit tanh network (gain {gain}), 32 starts, max_iterations {}: \
             {elapsed:?}, {} points kept ({} stable), q = {:?}",
            options.max_iterations,
            fps.len(),
            fps.iter().filter(|f| f.stable).count(),
            fps.iter().map(|f| f.q).collect::<Vec<_>>()
        );
        for fp in &fps {
            assert!(fp.q < options.keep_q_below);
            // Independent check of the fixed-point equation x = W tanh(x) + drive:
            // ‖F(x) − x‖ = α‖h − x‖ must equal √(2q).
            let res: f64 = (0..n)
                .map(|i| {
                    let h: f64 =
                        drive[i] + (0..n).map(|j| w[i * n + j] * fp.x[j].tanh()).sum::<f64>();
                    (h - fp.x[i]).powi(2)
                })
                .sum::<f64>()
                .sqrt();
            assert!((0.1 * res - (2.0 * fp.q).sqrt()).abs() < 1e-12);
            assert_eq!(fp.eigenvalues.len(), n);
            let rho = fp.eigenvalues[0].0.hypot(fp.eigenvalues[0].1);
            assert_eq!(fp.stable, rho < 1.0);
        }
        for (i, a) in fps.iter().enumerate() {
            for b in &fps[i + 1..] {
                let d2: f64 = a.x.iter().zip(&b.x).map(|(p, q)| (p - q) * (p - q)).sum();
                assert!(d2.sqrt() >= search.merge_distance, "duplicates kept");
            }
        }
        fps
    }

    #[test]
    fn fifty_unit_network_from_32_starts_timing() {
        // Gain 0.9: one attracting fixed point, found from every start within a few steps.
        let fps = fifty_unit_search(0.9, 99, &FixedPointOptions::default());
        assert_eq!(fps.len(), 1);
        assert!(fps[0].stable && fps[0].q < 1e-28);
        // Gain 1.5: unstable fixed point(s) plus slow regions where Adam uses every iteration;
        // capped at 2 000 iterations here to keep unoptimised test builds quick.
        let short = FixedPointOptions {
            max_iterations: 2_000,
            ..FixedPointOptions::default()
        };
        let fps = fifty_unit_search(1.5, 1234, &short);
        assert!(!fps.is_empty());
    }

    /// Worst case with default options (every start that lands in a slow region runs all
    /// 20 000 Adam iterations): about 1 s optimised, ~30 s unoptimised, hence ignored.
    /// Run with `cargo test --release -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn fifty_unit_chaotic_network_default_options_timing() {
        let fps = fifty_unit_search(1.5, 1234, &FixedPointOptions::default());
        assert!(!fps.is_empty());
    }
}
