//! Slow points along a manifold (line attractors) and the linearisation around each, as in
//! Mante, Sussillo, Shenoy & Newsome 2013.
//!
//! [`find_slow_points`] minimises `q(x) = ½‖F(x) − x‖²` from many starts (Adam only, see
//! [`FixedPointOptions::newton`]) and stops each start as soon as `q` falls below the slow
//! threshold, so the kept points sample the slow manifold instead of collapsing onto its
//! exact fixed points. [`linearise`] gives the Jacobian's eigenvalues and the right and left
//! eigenvectors of the eigenvalue closest to 1 (the discrete map's; 0 in continuous time):
//! the right one points along the line, the left one (the "selection vector") says which
//! input moves the state along it. [`context_line_attractors`] runs both per context of a
//! trained context-dependent integration network and measures alignments with the
//! regression axes of [`crate::analysis::tdr`] and with the input weights.

use crate::analysis::fixed_points::{
    constant_input_drive, find_fixed_points, FixedPointOptions, FixedPointSearch, RateDynamics,
};
use crate::analysis::tdr::{condition, dot, tdr_of_trials, Tdr};
use crate::experiment::TdrSettings;
use crate::linalg::EigenError;
use crate::model::{RateRnnWeights, Transfer};
use crate::random::Rng;
use crate::run_dir::{ContextSlowPoints, SlowPointRecord, SlowPointsFile};
use crate::trials_file::TrialRecord;

/// Inverse-iteration sweeps for an eigenvector.
const INVERSE_ITERATIONS: usize = 30;

/// Why the slow points of a run could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SlowPointError {
    /// A `report.tdr` setting names something the trials lack.
    #[error("{0}")]
    Setting(String),
    /// The eigenvalues of a Jacobian could not be computed.
    #[error("eigenvalues of the Jacobian: {0}")]
    Eigen(#[from] EigenError),
    /// The regression axes could not be computed.
    #[error("targeted dimensionality reduction: {0}")]
    Tdr(#[from] crate::analysis::tdr::TdrError),
}

/// The linearisation of the map around a point.
#[derive(Debug, Clone, PartialEq)]
pub struct Linearisation {
    /// Eigenvalues `(re, im)` of the map's Jacobian, by descending modulus.
    pub eigenvalues: Vec<(f64, f64)>,
    /// The eigenvalue closest to 1 (continuous time: closest to 0), the slowest direction.
    pub slowest: (f64, f64),
    /// Unit right eigenvector of `slowest` (`J v = λ v`; for a complex `λ`, the eigenvector of
    /// its real part's nearest real shift, a direction in the slow plane).
    pub right: Vec<f64>,
    /// Unit left eigenvector of `slowest` (`lᵀ J = λ lᵀ`), the selection vector.
    pub left: Vec<f64>,
}

/// Linearises `dynamics` at `x`: eigenvalues of `J(x)` and the right and left eigenvectors of
/// the eigenvalue closest to 1, by inverse iteration on `J − μI` (`μ` its real part).
pub fn linearise(dynamics: &RateDynamics, x: &[f64]) -> Result<Linearisation, EigenError> {
    let n = dynamics.n();
    let jac = dynamics.jacobian(x);
    let eigenvalues = crate::linalg::eigenvalues(&jac, n)?;
    let slowest = eigenvalues
        .iter()
        .copied()
        .min_by(|a, b| {
            let da = (a.0 - 1.0).hypot(a.1);
            let db = (b.0 - 1.0).hypot(b.1);
            da.total_cmp(&db)
        })
        .unwrap_or((f64::NAN, 0.0));
    // A shift just off the eigenvalue keeps J − μI invertible while making the wanted
    // direction dominate within a few sweeps.
    let mu = slowest.0 + 1e-9 * (1.0 + slowest.0.abs());
    let mut transposed = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            transposed[j * n + i] = jac[i * n + j];
        }
    }
    let right = inverse_iteration(&jac, n, mu);
    let left = inverse_iteration(&transposed, n, mu);
    Ok(Linearisation {
        eigenvalues,
        slowest,
        right,
        left,
    })
}

/// Unit vector `v` maximising `‖(A − μI)⁻¹ v‖` by repeated solves (LU with partial pivoting;
/// a zero pivot is replaced by a tiny one, which only sharpens the iteration).
fn inverse_iteration(a: &[f64], n: usize, mu: f64) -> Vec<f64> {
    let mut lu = a.to_vec();
    for i in 0..n {
        lu[i * n + i] -= mu;
    }
    let scale = lu.iter().fold(0.0_f64, |m, v| m.max(v.abs())).max(1e-300);
    let mut perm: Vec<usize> = (0..n).collect();
    for k in 0..n {
        let piv = (k..n)
            .max_by(|&p, &q| lu[p * n + k].abs().total_cmp(&lu[q * n + k].abs()))
            .unwrap_or(k);
        if piv != k {
            for j in 0..n {
                lu.swap(k * n + j, piv * n + j);
            }
            perm.swap(k, piv);
        }
        if lu[k * n + k].abs() < f64::EPSILON * scale {
            lu[k * n + k] = f64::EPSILON * scale;
        }
        for i in k + 1..n {
            let f = lu[i * n + k] / lu[k * n + k];
            lu[i * n + k] = f;
            for j in k + 1..n {
                lu[i * n + j] -= f * lu[k * n + j];
            }
        }
    }
    let mut v: Vec<f64> = (0..n).map(|i| 1.0 + 0.01 * i as f64).collect();
    normalise(&mut v);
    for _ in 0..INVERSE_ITERATIONS {
        let mut y: Vec<f64> = perm.iter().map(|&p| v[p]).collect();
        for i in 0..n {
            let s: f64 = (0..i).map(|k| lu[i * n + k] * y[k]).sum();
            y[i] -= s;
        }
        for i in (0..n).rev() {
            let s: f64 = (i + 1..n).map(|k| lu[i * n + k] * y[k]).sum();
            y[i] = (y[i] - s) / lu[i * n + i];
        }
        if !normalise(&mut y) {
            break;
        }
        v = y;
    }
    // A fixed sign: the largest entry positive.
    let big = v
        .iter()
        .copied()
        .max_by(|a, b| a.abs().total_cmp(&b.abs()))
        .unwrap_or(1.0);
    if big < 0.0 {
        v.iter_mut().for_each(|x| *x = -*x);
    }
    v
}

/// Scales `v` to unit norm; false if its norm is 0 or not finite.
fn normalise(v: &mut [f64]) -> bool {
    let norm = dot(v, v).sqrt();
    if !(norm > 0.0 && norm.is_finite()) {
        return false;
    }
    v.iter_mut().for_each(|x| *x /= norm);
    true
}

/// `|cos|` of the angle between `a` and `b` (0 when either is 0).
pub fn abs_cos(a: &[f64], b: &[f64]) -> f64 {
    let d = (dot(a, a) * dot(b, b)).sqrt();
    if d > 0.0 {
        (dot(a, b) / d).abs()
    } else {
        0.0
    }
}

/// Settings of [`find_slow_points`].
#[derive(Debug, Clone, PartialEq)]
pub struct SlowPointOptions {
    /// A point is slow when `q = ½‖F(x) − x‖²` is below this (default 1e-6); each start stops
    /// as soon as it gets there.
    pub slow_q: f64,
    /// Maximum Adam iterations per start (default 5 000).
    pub max_iterations: usize,
    /// Slow points closer than this fraction of the RMS norm of the starts are one (default 0.01).
    pub merge_tolerance: f64,
}

impl Default for SlowPointOptions {
    fn default() -> Self {
        SlowPointOptions {
            slow_q: 1e-6,
            max_iterations: 5_000,
            merge_tolerance: 0.01,
        }
    }
}

/// Slow points of `dynamics` reached from `starts` (see the module docs).
pub fn find_slow_points(
    dynamics: &RateDynamics,
    starts: &[Vec<f64>],
    options: &SlowPointOptions,
) -> FixedPointSearch {
    find_fixed_points(
        dynamics,
        starts,
        &FixedPointOptions {
            max_iterations: options.max_iterations,
            q_tolerance: options.slow_q,
            keep_q_below: options.slow_q,
            merge_tolerance: options.merge_tolerance,
            newton: false,
            ..FixedPointOptions::default()
        },
    )
}

/// The per-context input at zero evidence and the input direction of each evidence stream:
/// over the `stimulus_epoch` steps of the context's trials, each input channel is fitted by
/// least squares as `a + b·motion + c·colour`; `a` is the input at zero evidence and `b`, `c`
/// (one value per channel) the input per unit of motion and colour evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceInputs {
    /// Input at zero evidence, one value per input channel.
    pub zero: Vec<f64>,
    /// Input per unit of motion evidence, one value per input channel.
    pub motion: Vec<f64>,
    /// Input per unit of colour evidence, one value per input channel.
    pub colour: Vec<f64>,
}

/// [`EvidenceInputs`] from `trials` (indices `members`) in their `epoch` steps.
fn evidence_inputs(
    trials: &TrialRecord,
    members: &[usize],
    epoch: &str,
    motion: &[f64],
    colour: &[f64],
) -> Result<EvidenceInputs, SlowPointError> {
    let (t, m) = (trials.n_steps, trials.n_in);
    let spans = trials
        .epochs
        .as_ref()
        .map(|e| e.spans())
        .ok_or_else(|| SlowPointError::Setting("report.tdr.stimulus_epoch: the trials record no epochs (write the task with named epochs)".into()))?;
    let mut gram = [[0.0; 3]; 3];
    let mut rhs = vec![[0.0; 3]; m];
    let mut rows = 0usize;
    for &k in members {
        let span = spans[k].iter().find(|s| s.name == epoch).ok_or_else(|| {
            let mut names: Vec<&str> = spans[k].iter().map(|s| s.name.as_str()).collect();
            names.dedup();
            SlowPointError::Setting(format!(
                "report.tdr.stimulus_epoch: trial {k} has no epoch `{epoch}`; its epochs are: {}",
                names.join(", ")
            ))
        })?;
        for s in span.start..span.end.min(t) {
            let x = [motion[k], colour[k], 1.0];
            for i in 0..3 {
                for j in 0..3 {
                    gram[i][j] += x[i] * x[j];
                }
            }
            let u = &trials.inputs[(k * t + s) * m..(k * t + s + 1) * m];
            for (r, &v) in rhs.iter_mut().zip(u) {
                for i in 0..3 {
                    r[i] += x[i] * f64::from(v);
                }
            }
            rows += 1;
        }
    }
    let inverse = invert3(&gram).ok_or_else(|| {
        SlowPointError::Setting(format!(
            "report.tdr: the motion and colour evidence do not vary independently over the {rows} `{epoch}` steps of a context, so the input at zero evidence is not determined"
        ))
    })?;
    let mut out = EvidenceInputs {
        zero: vec![0.0; m],
        motion: vec![0.0; m],
        colour: vec![0.0; m],
    };
    for (c, r) in rhs.iter().enumerate() {
        let coef: Vec<f64> = (0..3).map(|i| dot(&inverse[i], r)).collect();
        out.motion[c] = coef[0];
        out.colour[c] = coef[1];
        out.zero[c] = coef[2];
    }
    Ok(out)
}

/// Inverse of a symmetric 3×3 matrix by cofactors (None when nearly singular).
fn invert3(a: &[[f64; 3]; 3]) -> Option<[[f64; 3]; 3]> {
    let c = |i: usize, j: usize| {
        let (r0, r1) = ((i + 1) % 3, (i + 2) % 3);
        let (c0, c1) = ((j + 1) % 3, (j + 2) % 3);
        a[r0][c0] * a[r1][c1] - a[r0][c1] * a[r1][c0]
    };
    let det = a[0][0] * c(0, 0) + a[0][1] * c(0, 1) + a[0][2] * c(0, 2);
    let size = a.iter().flatten().fold(0.0_f64, |m, v| m.max(v.abs()));
    if det.is_nan() || det.abs() <= 1e-12 * size.powi(3) {
        return None;
    }
    let mut inv = [[0.0; 3]; 3];
    for (i, row) in inv.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = c(j, i) / det;
        }
    }
    Some(inv)
}

/// `W_in · u`: an input direction `u` (one value per channel) in state space.
fn input_vector(w: &RateRnnWeights, u: &[f64]) -> Vec<f64> {
    (0..w.n_rec)
        .map(|i| {
            (0..w.n_in)
                .map(|k| f64::from(w.w_in[i * w.n_in + k]) * u[k])
                .sum()
        })
        .collect()
}

/// How many starts [`context_line_attractors`] samples per context by default.
pub const DEFAULT_STARTS_PER_CONTEXT: usize = 200;

/// Slow points of a trained network in each context of a context-dependent integration task,
/// linearised and measured against the regression axes and the input weights.
///
/// Per context value (of `settings.context`): the input is held at the context's zero-evidence
/// input (see [`EvidenceInputs`]); `starts` states are drawn (seeded) from the
/// `settings.stimulus_epoch` steps of that context's trials; slow points are found by
/// [`find_slow_points`] and each is linearised. Recorded per point: its rates' coordinates on
/// the regression axes, the slowest eigenvalue (discrete and, with one shared α, continuous
/// time in units of 1/τ), `|cos|` of the right eigenvector (mapped to z-scored rate space,
/// `f′(x) ⊙ v / σ`) with the choice axis and with the context's line (first PC of its points),
/// and `|cos|` of the left eigenvector with the motion and colour input vectors `W_in·b`.
#[allow(clippy::too_many_arguments)]
pub fn context_line_attractors(
    w: &RateRnnWeights,
    alpha: &[f64],
    transfer: Transfer,
    trials: &TrialRecord,
    settings: &TdrSettings,
    options: &SlowPointOptions,
    starts: usize,
    seed: u64,
) -> Result<SlowPointsFile, SlowPointError> {
    let tdr = tdr_of_trials(trials, settings)?;
    let n = w.n_rec;
    let motion = condition(trials, "report.tdr.motion", &settings.motion)?;
    let colour = condition(trials, "report.tdr.colour", &settings.colour)?;
    let context = condition(trials, "report.tdr.context", &settings.context)?;
    let levels = crate::analysis::conditions::levels(context);
    let spans = trials.epochs.as_ref().map(|e| e.spans());
    let mut rng = Rng::from_seed(seed);
    let mut contexts = Vec::new();
    for &level in &levels {
        let members: Vec<usize> = (0..trials.n_trials)
            .filter(|&k| context[k] == level)
            .collect();
        let evidence = evidence_inputs(trials, &members, &settings.stimulus_epoch, motion, colour)?;
        let (w_rec, drive) = constant_input_drive(w, &evidence.zero);
        let dynamics = RateDynamics {
            w_rec: &w_rec,
            drive: &drive,
            alpha,
            transfer: transfer.function(),
            transfer_derivative: transfer.derivative(),
        };
        // Starts: states of the stimulus epoch of this context's trials.
        let mut pool: Vec<(usize, usize)> = Vec::new();
        for &k in &members {
            if let Some(span) = spans
                .as_ref()
                .and_then(|s| s[k].iter().find(|e| e.name == settings.stimulus_epoch))
            {
                pool.extend((span.start..span.end.min(trials.n_steps)).map(|s| (k, s)));
            }
        }
        let start_states: Vec<Vec<f64>> = (0..starts)
            .filter(|_| !pool.is_empty())
            .map(|_| {
                let (k, s) = pool[rng.below(pool.len() as u64) as usize];
                let at = (k * trials.n_steps + s) * n;
                trials.states[at..at + n]
                    .iter()
                    .map(|&v| f64::from(v))
                    .collect()
            })
            .collect();
        let search = find_slow_points(&dynamics, &start_states, options);
        let motion_input = input_vector(w, &evidence.motion);
        let colour_input = input_vector(w, &evidence.colour);

        let rates_of =
            |x: &[f64]| -> Vec<f64> { x.iter().map(|&v| (transfer.function())(v)).collect() };
        let z_points: Vec<Vec<f64>> = search
            .points
            .iter()
            .map(|p| tdr.z_score(&rates_of(&p.x)))
            .collect();
        let line = first_component(&z_points);
        let line_direction = line.as_ref().map(|l| l.0.clone());

        let mut points = Vec::new();
        for (p, z) in search.points.iter().zip(&z_points) {
            let lin = linearise(&dynamics, &p.x)?;
            let mut direction: Vec<f64> = (0..n)
                .map(|i| {
                    let s = tdr.unit_std[i];
                    if s > 0.0 {
                        (transfer.derivative())(p.x[i]) * lin.right[i] / s
                    } else {
                        0.0
                    }
                })
                .collect();
            normalise(&mut direction);
            let continuous = (alpha.len() == 1)
                .then(|| ((lin.slowest.0 - 1.0) / alpha[0], lin.slowest.1 / alpha[0]));
            points.push(SlowPointRecord {
                q: p.q,
                coordinates: tdr.project_z(z),
                slowest_eigenvalue: lin.slowest,
                slowest_continuous: continuous,
                second_eigenvalue_modulus: second_slowest_modulus(&lin.eigenvalues, lin.slowest),
                right_direction: tdr.project_z(&direction),
                right_choice_cos: abs_cos(&direction, &tdr.axes[0]),
                right_line_cos: line_direction.as_ref().map(|d| abs_cos(&direction, d)),
                left_motion_cos: abs_cos(&lin.left, &motion_input),
                left_colour_cos: abs_cos(&lin.left, &colour_input),
                left: lin.left,
                state: p.x.clone(),
            });
        }
        let choice_coords: Vec<f64> = points.iter().map(|p| p.coordinates[0]).collect();
        let extent = choice_coords
            .iter()
            .fold(None, |acc: Option<(f64, f64)>, &c| {
                Some(acc.map_or((c, c), |(lo, hi)| (lo.min(c), hi.max(c))))
            });
        let label = trials
            .labels
            .get(&settings.context)
            .and_then(|l| l.get(level as usize).cloned())
            .unwrap_or_else(|| format!("{level}"));
        contexts.push(ContextSlowPoints {
            context: label,
            value: level,
            input: evidence.zero,
            motion_input: evidence.motion,
            colour_input: evidence.colour,
            starts: start_states.len(),
            raw_hits: search.raw_hits,
            merge_distance: search.merge_distance,
            first_pc_fraction: line.as_ref().map(|l| l.1),
            line_choice_cos: line_direction.as_ref().map(|d| abs_cos(d, &tdr.axes[0])),
            choice_extent: extent.map(|(lo, hi)| hi - lo),
            choice_axis_range: tdr_choice_range(&tdr, trials),
            stimulus_choice_range: stimulus_choice_range(&tdr, trials, &pool),
            points,
        });
    }
    Ok(SlowPointsFile {
        format_version: crate::run_dir::FORMAT_VERSION,
        axes: tdr.names.clone(),
        slow_q: options.slow_q,
        contexts,
    })
}

/// First principal component of `points` (unit vector) and the fraction of their variance on
/// it, by power iteration on the K×K Gram matrix of the centred points (robust for a few
/// nearly coincident points in many dimensions). `None` with fewer than 2 points or no spread.
fn first_component(points: &[Vec<f64>]) -> Option<(Vec<f64>, f64)> {
    let k = points.len();
    if k < 2 {
        return None;
    }
    let n = points[0].len();
    let mean: Vec<f64> = (0..n)
        .map(|i| points.iter().map(|p| p[i]).sum::<f64>() / k as f64)
        .collect();
    let centred: Vec<Vec<f64>> = points
        .iter()
        .map(|p| p.iter().zip(&mean).map(|(a, m)| a - m).collect())
        .collect();
    let gram: Vec<Vec<f64>> = centred
        .iter()
        .map(|a| centred.iter().map(|b| dot(a, b)).collect())
        .collect();
    let total: f64 = (0..k).map(|i| gram[i][i]).sum();
    if total <= 0.0 || !total.is_finite() {
        return None;
    }
    let mut u: Vec<f64> = (0..k).map(|i| 1.0 + 0.1 * i as f64).collect();
    normalise(&mut u);
    let mut top = 0.0;
    for _ in 0..500 {
        let mut next: Vec<f64> = gram.iter().map(|row| dot(row, &u)).collect();
        top = dot(&next, &u);
        if !normalise(&mut next) {
            return None;
        }
        u = next;
    }
    let mut direction: Vec<f64> = (0..n)
        .map(|i| centred.iter().zip(&u).map(|(c, w)| c[i] * w).sum())
        .collect();
    normalise(&mut direction).then_some((direction, (top / total).clamp(0.0, 1.0)))
}

/// Modulus of the eigenvalue closest to 1 after `slowest` (its conjugate excluded): how far
/// the next direction is from marginal.
fn second_slowest_modulus(eigenvalues: &[(f64, f64)], slowest: (f64, f64)) -> f64 {
    eigenvalues
        .iter()
        .filter(|e| !(e.0 == slowest.0 && e.1.abs() == slowest.1.abs()))
        .map(|e| e.0.hypot(e.1))
        .fold(0.0, f64::max)
}

/// Range of the choice-axis coordinate over the recorded states at `steps` (trial, step): the
/// stretch of the choice axis one context's stimulus-epoch trajectories cover, which a line
/// attractor integrating that epoch's evidence should span (0 with no steps).
fn stimulus_choice_range(tdr: &Tdr, trials: &TrialRecord, steps: &[(usize, usize)]) -> f64 {
    let n = trials.n_rec;
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &(k, s) in steps {
        let at = (k * trials.n_steps + s) * n;
        let r: Vec<f64> = trials.rates[at..at + n]
            .iter()
            .map(|&v| f64::from(v))
            .collect();
        let c = dot(&tdr.axes[0], &tdr.z_score(&r));
        lo = lo.min(c);
        hi = hi.max(c);
    }
    if hi >= lo {
        hi - lo
    } else {
        0.0
    }
}

/// Range of the choice-axis coordinate over every recorded state (the trajectories' spread),
/// for comparing a line's extent with it.
fn tdr_choice_range(tdr: &Tdr, trials: &TrialRecord) -> f64 {
    let n = trials.n_rec;
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for row in trials.rates.chunks(n) {
        let r: Vec<f64> = row.iter().map(|&v| f64::from(v)).collect();
        let c = dot(&tdr.axes[0], &tdr.z_score(&r));
        lo = lo.min(c);
        hi = hi.max(c);
    }
    if hi >= lo {
        hi - lo
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tanh(x: f64) -> f64 {
        x.tanh()
    }
    fn dtanh(x: f64) -> f64 {
        1.0 - x.tanh().powi(2)
    }

    #[test]
    fn first_component_of_points_on_a_line_with_a_little_spread() {
        // Points t·d + e with e ⊥ d: variance t² on d, e² across.
        let d = [0.6, 0.8, 0.0];
        let e = [0.0, 0.0, 1.0];
        let ts = [-2.0, -1.0, 0.0, 1.0, 2.0];
        let es = [0.1, -0.1, 0.0, -0.1, 0.1];
        let pts: Vec<Vec<f64>> = ts
            .iter()
            .zip(&es)
            .map(|(t, s)| (0..3).map(|i| t * d[i] + s * e[i]).collect())
            .collect();
        let (dir, frac) = first_component(&pts).unwrap();
        assert!((abs_cos(&dir, &d) - 1.0).abs() < 1e-6, "{dir:?}");
        // Σt² = 10 along d, Σs² = 0.04 across, Σts = 0 (uncorrelated, both centred).
        assert!((frac - 10.0 / 10.04).abs() < 1e-6, "{frac}");
        assert!(first_component(&pts[..1]).is_none());
    }

    #[test]
    fn analytic_jacobian_matches_finite_differences() {
        let n = 5;
        let mut rng = Rng::from_seed(11);
        let w: Vec<f64> = (0..n * n).map(|_| 0.6 * rng.normal()).collect();
        let drive: Vec<f64> = (0..n).map(|_| 0.3 * rng.normal()).collect();
        let alpha: Vec<f64> = (0..n).map(|i| 0.1 + 0.05 * i as f64).collect();
        let d = RateDynamics {
            w_rec: &w,
            drive: &drive,
            alpha: &alpha,
            transfer: tanh,
            transfer_derivative: dtanh,
        };
        let x: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
        let jac = d.jacobian(&x);
        let h = 1e-6;
        for j in 0..n {
            let mut xp = x.clone();
            let mut xm = x.clone();
            xp[j] += h;
            xm[j] -= h;
            let (fp, fm) = (d.step(&xp), d.step(&xm));
            for i in 0..n {
                let fd = (fp[i] - fm[i]) / (2.0 * h);
                assert!(
                    (jac[i * n + j] - fd).abs() < 1e-8,
                    "J[{i}][{j}] {} vs {fd}",
                    jac[i * n + j]
                );
            }
        }
    }

    #[test]
    fn linearisation_of_a_planted_line_attractor() {
        // Linear network x ← (1 − α) x + α (W x + d) with W = u uᵀ + 0.3 (I − u uᵀ) + s wᵀ
        // where wᵀ u = 0: W u = u, so J = (1 − α) I + α W has eigenvalue 1 (the line, along u)
        // and 1 − 0.7α elsewhere. The left eigenvector l of eigenvalue 1 satisfies lᵀ W = lᵀ:
        // with W = P + 0.3(I − P) + s wᵀ (P = u uᵀ), l = u + c w works with
        // uᵀ s wᵀ + c(0.3 wᵀ + (wᵀ s) wᵀ) = c wᵀ, i.e. c = (uᵀ s)/(0.7 − wᵀ s).
        let n = 4;
        let u = [0.5, 0.5, 0.5, 0.5];
        let wv = [0.5, -0.5, 0.5, -0.5];
        let s = [0.2, 0.1, 0.0, -0.1];
        let mut w = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                let p = u[i] * u[j];
                let id = f64::from(u8::from(i == j));
                w[i * n + j] = p + 0.3 * (id - p) + s[i] * wv[j];
            }
        }
        let alpha = 0.2;
        let d = RateDynamics {
            w_rec: &w,
            drive: &[0.0; 4],
            alpha: &[alpha],
            transfer: |x| x,
            transfer_derivative: |_| 1.0,
        };
        let lin = linearise(&d, &[0.3, -0.2, 0.1, 0.0]).unwrap();
        assert!(
            (lin.slowest.0 - 1.0).abs() < 1e-12 && lin.slowest.1.abs() < 1e-12,
            "{:?}",
            lin.slowest
        );
        assert!(
            (abs_cos(&lin.right, &u) - 1.0).abs() < 1e-9,
            "{:?}",
            lin.right
        );
        let us = dot(&u, &s);
        let c = us / (0.7 - dot(&wv, &s));
        let l_want: Vec<f64> = u.iter().zip(&wv).map(|(a, b)| a + c * b).collect();
        assert!(
            (abs_cos(&lin.left, &l_want) - 1.0).abs() < 1e-9,
            "{:?} vs {l_want:?}",
            lin.left
        );
        // The left vector differs from the right one (non-normal W).
        assert!(abs_cos(&lin.left, &lin.right) < 0.999);
        // Residuals: J v = v and lᵀ J = lᵀ.
        let jac = d.jacobian(&[0.0; 4]);
        for i in 0..n {
            let jv: f64 = (0..n).map(|j| jac[i * n + j] * lin.right[j]).sum();
            let lj: f64 = (0..n).map(|j| lin.left[j] * jac[j * n + i]).sum();
            assert!((jv - lin.right[i]).abs() < 1e-9 && (lj - lin.left[i]).abs() < 1e-9);
        }
    }

    #[test]
    fn slow_points_sample_an_approximate_line_instead_of_collapsing() {
        // Two units: x₁ leaks slowly toward 0 (rate ε), x₂ relaxes fast to 0. Along x₁ the
        // speed is tiny, so every start stops on the x₂ = 0 line where q first drops below the
        // threshold; with Newton (the fixed-point search) all collapse onto the origin.
        let eps = 1e-4;
        let w = [1.0 - eps, 0.0, 0.0, 0.0];
        let d = RateDynamics {
            w_rec: &w,
            drive: &[0.0, 0.0],
            alpha: &[0.1],
            transfer: |x| x,
            transfer_derivative: |_| 1.0,
        };
        let starts: Vec<Vec<f64>> = (0..9).map(|i| vec![-2.0 + 0.5 * i as f64, 1.0]).collect();
        let slow = find_slow_points(
            &d,
            &starts,
            &SlowPointOptions {
                slow_q: 1e-8,
                ..SlowPointOptions::default()
            },
        );
        assert!(slow.points.len() >= 7, "{:?}", slow.points);
        for p in &slow.points {
            // q = ½ (α ε x₁)² + ½ (α x₂)² < 1e-8.
            let q = 0.5 * (0.1 * eps * p.x[0]).powi(2) + 0.5 * (0.1 * p.x[1]).powi(2);
            assert!((q - p.q).abs() < 1e-15 && p.q < 1e-8);
            assert!(p.x[1].abs() < 2e-3, "{p:?}");
        }
        let exact = find_fixed_points(&d, &starts, &FixedPointOptions::default());
        assert_eq!(exact.points.len(), 1, "{:?}", exact.points);
    }
}
