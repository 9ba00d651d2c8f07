//! Targeted dimensionality reduction (Mante, Sussillo, Shenoy & Newsome 2013).
//!
//! Each unit's rate is z-scored over all trials and time steps; then, at every time step `t`,
//! the z-scored rates of all trials are regressed on the task variables (e.g. choice, motion
//! coherence, colour coherence, context) plus a constant:
//! `z_{i,t}(k) = Σ_v β_{v,i,t} F_v(k) + β_{0,i,t}`, least squares over trials `k`.
//! For each variable `v` the coefficient vector `β_{v,t} ∈ ℝᴺ` at the time of its largest norm
//! is kept; these vectors, orthogonalised in the order given (QR, i.e. Gram–Schmidt), are the
//! regression axes. Population trajectories averaged per condition are projected on them.

use crate::experiment::TdrSettings;
use crate::run_dir::{TdrAnalysis, TdrTrajectory};
use crate::trials_file::TrialRecord;

/// Why the regression axes could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TdrError {
    /// A `report.tdr` setting names a condition or epoch the trials lack.
    #[error("{0}")]
    Setting(String),
    /// The rates array is not `trials × steps × units` long, or there is nothing to regress.
    #[error("rates have {len} values, expected {trials} trials × {steps} steps × {units} units (all > 0)")]
    Shape {
        /// Length of the rates array.
        len: usize,
        /// Trials.
        trials: usize,
        /// Time steps.
        steps: usize,
        /// Units.
        units: usize,
    },
    /// A regressor has a different number of values than there are trials.
    #[error("regressor `{name}` has {len} values, but there are {trials} trials")]
    RegressorLength {
        /// The regressor.
        name: String,
        /// Its length.
        len: usize,
        /// Trials.
        trials: usize,
    },
    /// A regressor value is NaN or infinite.
    #[error("regressor `{name}` is not finite in trial {trial}")]
    NotFinite {
        /// The regressor.
        name: String,
        /// The trial.
        trial: usize,
    },
    /// The regressors (with the constant) are linearly dependent over the trials, so their
    /// coefficients are not determined.
    #[error("regressor `{name}` is constant or a linear combination of the regressors before it over these trials, so its coefficients are not determined")]
    Collinear {
        /// The first regressor found dependent.
        name: String,
    },
    /// A coefficient vector at its maximum-norm time lies in the span of the axes before it.
    #[error("the coefficients of `{name}` at their largest norm lie in the span of the axes before it, so it has no axis of its own")]
    Degenerate {
        /// The regressor.
        name: String,
    },
}

/// The regression axes of [`regression_axes`].
#[derive(Debug, Clone, PartialEq)]
pub struct Tdr {
    /// The regressors, in the order given (the constant is not listed).
    pub names: Vec<String>,
    /// Per-unit mean of the rates (over trials and steps), used for z-scoring.
    pub unit_mean: Vec<f64>,
    /// Per-unit standard deviation of the rates; 0 for a silent unit (its z-score is 0).
    pub unit_std: Vec<f64>,
    /// `[V][T][N]` flattened: coefficient of regressor `v` for unit `i` at step `t`, at
    /// `(v * T + t) * N + i`.
    pub coefficients: Vec<f64>,
    /// `[V][T]`: the norm `‖β_{v,t}‖` over units.
    pub norms: Vec<Vec<f64>>,
    /// `[V]`: the step where each regressor's coefficient norm is largest.
    pub max_step: Vec<usize>,
    /// `[V][N]`: the orthonormal axes (QR of the maximum-norm coefficient vectors, in order).
    pub axes: Vec<Vec<f64>>,
    /// Number of steps `T`.
    pub steps: usize,
}

impl Tdr {
    /// Number of units `N`.
    pub fn units(&self) -> usize {
        self.unit_mean.len()
    }

    /// The z-scored rates `(r − mean) / std` of one population state (0 for silent units).
    pub fn z_score(&self, rates: &[f64]) -> Vec<f64> {
        rates
            .iter()
            .zip(self.unit_mean.iter().zip(&self.unit_std))
            .map(|(r, (m, s))| if *s > 0.0 { (r - m) / s } else { 0.0 })
            .collect()
    }

    /// Coordinates of a z-scored state (or a direction in z-scored space) on each axis.
    pub fn project_z(&self, z: &[f64]) -> Vec<f64> {
        self.axes.iter().map(|a| dot(a, z)).collect()
    }

    /// Coordinates of a population rate vector on each axis (z-scored first).
    pub fn project_rates(&self, rates: &[f64]) -> Vec<f64> {
        self.project_z(&self.z_score(rates))
    }

    /// `[G][T][V]` flattened: the mean rate trajectory of each group of trials (indices into
    /// `rates`, a `[B, T, N]` array as given to [`regression_axes`]) projected on the axes.
    /// An empty group gives NaN coordinates (it has no mean).
    pub fn project_groups(&self, rates: &[f32], groups: &[Vec<usize>]) -> Vec<f64> {
        let (t, n) = (self.steps, self.units());
        let v = self.axes.len();
        let mut out = Vec::with_capacity(groups.len() * t * v);
        for g in groups {
            for s in 0..t {
                if g.is_empty() {
                    out.extend(std::iter::repeat_n(f64::NAN, v));
                    continue;
                }
                let mut mean = vec![0.0; n];
                for &k in g {
                    let row = &rates[(k * t + s) * n..(k * t + s + 1) * n];
                    for (m, r) in mean.iter_mut().zip(row) {
                        *m += f64::from(*r);
                    }
                }
                mean.iter_mut().for_each(|m| *m /= g.len() as f64);
                out.extend(self.project_rates(&mean));
            }
        }
        out
    }

    /// Fraction of the variance of the condition-averaged z-scored rates that lies along each
    /// axis: the rows are the mean z-scored state of each group at each step, centred over all
    /// rows; axis `v` explains `Σ (a_v · row)² / Σ ‖row‖²`. Empty groups are skipped.
    pub fn explained_variance(&self, rates: &[f32], groups: &[Vec<usize>]) -> Vec<f64> {
        let (t, n) = (self.steps, self.units());
        let mut rows: Vec<Vec<f64>> = Vec::new();
        for g in groups.iter().filter(|g| !g.is_empty()) {
            for s in 0..t {
                let mut mean = vec![0.0; n];
                for &k in g {
                    let row = &rates[(k * t + s) * n..(k * t + s + 1) * n];
                    for (m, r) in mean.iter_mut().zip(row) {
                        *m += f64::from(*r);
                    }
                }
                mean.iter_mut().for_each(|m| *m /= g.len() as f64);
                rows.push(self.z_score(&mean));
            }
        }
        if rows.is_empty() {
            return vec![0.0; self.axes.len()];
        }
        let mut centre = vec![0.0; n];
        for r in &rows {
            for (c, v) in centre.iter_mut().zip(r) {
                *c += v / rows.len() as f64;
            }
        }
        let centred: Vec<Vec<f64>> = rows
            .iter()
            .map(|r| r.iter().zip(&centre).map(|(v, c)| v - c).collect())
            .collect();
        let total: f64 = centred.iter().map(|r| dot(r, r)).sum();
        self.axes
            .iter()
            .map(|a| {
                if total > 0.0 {
                    centred.iter().map(|r| dot(a, r).powi(2)).sum::<f64>() / total
                } else {
                    0.0
                }
            })
            .collect()
    }
}

/// `Σ aᵢ bᵢ`.
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Computes the regression axes from `rates` (`[B, T, N]` flattened, `B` trials) and one
/// `(name, values)` regressor per task variable (`B` values each; a constant is added).
///
/// Errors when the shapes disagree, a value is not finite, the regressors are collinear over
/// the trials, or a maximum-norm coefficient vector has no component orthogonal to the axes
/// before it.
pub fn regression_axes(
    rates: &[f32],
    trials: usize,
    steps: usize,
    units: usize,
    regressors: &[(String, Vec<f64>)],
) -> Result<Tdr, TdrError> {
    let (b, t, n) = (trials, steps, units);
    if b == 0 || t == 0 || n == 0 || rates.len() != b * t * n {
        return Err(TdrError::Shape {
            len: rates.len(),
            trials: b,
            steps: t,
            units: n,
        });
    }
    for (name, values) in regressors {
        if values.len() != b {
            return Err(TdrError::RegressorLength {
                name: name.clone(),
                len: values.len(),
                trials: b,
            });
        }
        if let Some(k) = values.iter().position(|v| !v.is_finite()) {
            return Err(TdrError::NotFinite {
                name: name.clone(),
                trial: k,
            });
        }
    }
    // z-scoring per unit over every trial and step.
    let count = (b * t) as f64;
    let mut unit_mean = vec![0.0; n];
    for row in rates.chunks(n) {
        for (m, r) in unit_mean.iter_mut().zip(row) {
            *m += f64::from(*r) / count;
        }
    }
    let mut unit_std = vec![0.0; n];
    for row in rates.chunks(n) {
        for ((s, r), m) in unit_std.iter_mut().zip(row).zip(&unit_mean) {
            *s += (f64::from(*r) - m).powi(2) / count;
        }
    }
    // Below float noise of the mean: silent.
    for (s, m) in unit_std.iter_mut().zip(&unit_mean) {
        *s = s.sqrt();
        if *s <= 1e-7 * m.abs().max(1e-30) {
            *s = 0.0;
        }
    }

    // Design matrix [B, P]: the constant, then the regressors (so a dependence is reported
    // at the regressor that causes it).
    let v = regressors.len();
    let p = v + 1;
    let design: Vec<f64> = (0..b)
        .flat_map(|k| {
            std::iter::once(1.0).chain(regressors.iter().map(move |(_, values)| values[k]))
        })
        .collect();
    // Normal equations XᵀX β = Xᵀ z, with XᵀX inverted once (Cholesky; a small pivot names
    // the first dependent regressor).
    let mut gram = vec![0.0; p * p];
    for k in 0..b {
        let row = &design[k * p..(k + 1) * p];
        for i in 0..p {
            for j in 0..p {
                gram[i * p + j] += row[i] * row[j];
            }
        }
    }
    let chol = cholesky(&gram, p).map_err(|col| TdrError::Collinear {
        name: match col {
            0 => "constant".into(),
            c => regressors[c - 1].0.clone(),
        },
    })?;

    let mut coefficients = vec![0.0; v * t * n];
    let mut xtz = vec![0.0; p * n];
    let mut z = vec![0.0; n];
    for s in 0..t {
        xtz.fill(0.0);
        for k in 0..b {
            let row = &rates[(k * t + s) * n..(k * t + s + 1) * n];
            for ((zi, r), (m, sd)) in z.iter_mut().zip(row).zip(unit_mean.iter().zip(&unit_std)) {
                *zi = if *sd > 0.0 {
                    (f64::from(*r) - m) / sd
                } else {
                    0.0
                };
            }
            for i in 0..p {
                let x = design[k * p + i];
                for (acc, zi) in xtz[i * n..(i + 1) * n].iter_mut().zip(&z) {
                    *acc += x * zi;
                }
            }
        }
        for unit in 0..n {
            let rhs: Vec<f64> = (0..p).map(|i| xtz[i * n + unit]).collect();
            let beta = cholesky_solve(&chol, p, &rhs);
            for r in 0..v {
                coefficients[(r * t + s) * n + unit] = beta[r + 1];
            }
        }
    }

    let norms: Vec<Vec<f64>> = (0..v)
        .map(|r| {
            (0..t)
                .map(|s| {
                    let c = &coefficients[(r * t + s) * n..(r * t + s + 1) * n];
                    dot(c, c).sqrt()
                })
                .collect()
        })
        .collect();
    let max_step: Vec<usize> = norms
        .iter()
        .map(|row| {
            row.iter()
                .enumerate()
                .fold((0, f64::NEG_INFINITY), |best, (s, &x)| {
                    if x > best.1 {
                        (s, x)
                    } else {
                        best
                    }
                })
                .0
        })
        .collect();

    // Gram–Schmidt (twice, for accuracy) in the given order: QR's Q.
    let mut axes: Vec<Vec<f64>> = Vec::with_capacity(v);
    for (r, &s) in max_step.iter().enumerate() {
        let raw = coefficients[(r * t + s) * n..(r * t + s + 1) * n].to_vec();
        let raw_norm = dot(&raw, &raw).sqrt();
        let mut a = raw;
        for _ in 0..2 {
            for q in &axes {
                let c = dot(q, &a);
                a.iter_mut().zip(q).for_each(|(x, y)| *x -= c * y);
            }
        }
        let norm = dot(&a, &a).sqrt();
        if norm.is_nan() || norm <= 1e-9 * raw_norm || raw_norm == 0.0 {
            return Err(TdrError::Degenerate {
                name: regressors[r].0.clone(),
            });
        }
        a.iter_mut().for_each(|x| *x /= norm);
        axes.push(a);
    }

    Ok(Tdr {
        names: regressors.iter().map(|(name, _)| name.clone()).collect(),
        unit_mean,
        unit_std,
        coefficients,
        norms,
        max_step,
        axes,
        steps: t,
    })
}

/// The regression axes of `trials` for `settings` (the four conditions, in order).
pub fn tdr_of_trials(trials: &TrialRecord, settings: &TdrSettings) -> Result<Tdr, TdrError> {
    let regressors = settings
        .regressors()
        .iter()
        .map(|(field, name)| condition(trials, field, name).map(|v| (name.to_string(), v.to_vec())))
        .collect::<Result<Vec<_>, _>>()?;
    regression_axes(
        &trials.rates,
        trials.n_trials,
        trials.n_steps,
        trials.n_rec,
        &regressors,
    )
}

/// The values of condition `name`, or an error naming `field` and the recorded conditions.
pub(crate) fn condition<'t>(
    trials: &'t TrialRecord,
    field: &str,
    name: &str,
) -> Result<&'t [f64], TdrError> {
    trials
        .condition_named(field, name)
        .map_err(TdrError::Setting)
}

/// The TDR section of `analysis.yaml`: the axes of [`tdr_of_trials`], the variance they
/// explain over the conditions (every distinct combination of the four regressors), and per
/// context the mean trajectories of its correct trials (all trials when none is known correct) sorted by
/// (choice, motion) and by (choice, colour), as Mante et al.'s Fig. 5.
pub fn analyse_tdr(trials: &TrialRecord, settings: &TdrSettings) -> Result<TdrAnalysis, TdrError> {
    let tdr = tdr_of_trials(trials, settings)?;
    let (b, t) = (trials.n_trials, trials.n_steps);
    let choice = condition(trials, "report.tdr.choice", &settings.choice)?;
    let motion = condition(trials, "report.tdr.motion", &settings.motion)?;
    let colour = condition(trials, "report.tdr.colour", &settings.colour)?;
    let context = condition(trials, "report.tdr.context", &settings.context)?;
    let key = |k: usize| [choice[k], motion[k], colour[k], context[k]];
    let mut combos: Vec<[f64; 4]> = (0..b).map(key).collect();
    combos.sort_by(|x, y| x.partial_cmp(y).unwrap_or(std::cmp::Ordering::Equal));
    combos.dedup();
    let groups: Vec<Vec<usize>> = combos
        .iter()
        .map(|c| (0..b).filter(|&k| key(k) == *c).collect())
        .collect();
    let explained = tdr.explained_variance(&trials.rates, &groups);

    // Correct trials only, as Mante et al.; all trials when no verdicts or none is correct.
    let correct_only = trials
        .correct
        .as_ref()
        .is_some_and(|c| c.iter().any(|&ok| ok));
    let correct = |k: usize| !correct_only || trials.correct.as_ref().is_some_and(|c| c[k]);
    let mut trajectories = Vec::new();
    for level in crate::analysis::conditions::levels(context) {
        let label = trials
            .labels
            .get(&settings.context)
            .and_then(|l| l.get(level as usize).cloned())
            .unwrap_or_else(|| format!("{level}"));
        for (sorted_by, evidence) in [("motion", motion), ("colour", colour)] {
            for &ch in &crate::analysis::conditions::levels(choice) {
                for &e in &crate::analysis::conditions::levels(evidence) {
                    let members: Vec<usize> = (0..b)
                        .filter(|&k| {
                            context[k] == level && choice[k] == ch && evidence[k] == e && correct(k)
                        })
                        .collect();
                    if members.is_empty() {
                        continue;
                    }
                    let flat = tdr.project_groups(&trials.rates, std::slice::from_ref(&members));
                    trajectories.push(TdrTrajectory {
                        context: label.clone(),
                        sorted_by: sorted_by.into(),
                        choice: ch,
                        evidence: e,
                        trials: members.len(),
                        coordinates: flat.chunks(tdr.axes.len()).map(<[f64]>::to_vec).collect(),
                    });
                }
            }
        }
    }
    let stimulus_steps = trials.epochs.as_ref().and_then(|e| {
        e.spans()
            .first()
            .and_then(|s| s.iter().find(|x| x.name == settings.stimulus_epoch))
            .map(|s| (s.start, s.end.min(t)))
    });
    if trials.epochs.is_some() && stimulus_steps.is_none() {
        let names: Vec<String> = trials
            .epochs
            .as_ref()
            .map(|e| e.names.clone())
            .unwrap_or_default();
        return Err(TdrError::Setting(format!(
            "report.tdr.stimulus_epoch: no epoch `{}`; the trials' epochs are: {}",
            settings.stimulus_epoch,
            names.join(", ")
        )));
    }
    Ok(TdrAnalysis {
        axes: tdr.names.clone(),
        max_norm_time_ms: tdr.max_step.iter().map(|&s| s as f64 * trials.dt).collect(),
        max_norm: tdr
            .max_step
            .iter()
            .enumerate()
            .map(|(v, &s)| tdr.norms[v][s])
            .collect(),
        explained_variance: explained,
        stimulus_steps,
        correct_only,
        axis_vectors: tdr.axes.clone(),
        trajectories,
    })
}

/// Lower-triangular `L` with `L Lᵀ = a` (`p`×`p`, row-major). `Err(column)` when a pivot falls
/// below `1e-10 ×` that diagonal entry (the column is dependent on the ones before it).
fn cholesky(a: &[f64], p: usize) -> Result<Vec<f64>, usize> {
    let mut l = vec![0.0_f64; p * p];
    for j in 0..p {
        let d = a[j * p + j] - (0..j).map(|k| l[j * p + k].powi(2)).sum::<f64>();
        if d.is_nan() || d <= 1e-10 * a[j * p + j].abs() {
            return Err(j);
        }
        let d = d.sqrt();
        l[j * p + j] = d;
        for i in j + 1..p {
            let s = a[i * p + j] - (0..j).map(|k| l[i * p + k] * l[j * p + k]).sum::<f64>();
            l[i * p + j] = s / d;
        }
    }
    Ok(l)
}

/// Solves `L Lᵀ x = rhs`.
fn cholesky_solve(l: &[f64], p: usize, rhs: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; p];
    for i in 0..p {
        y[i] = (rhs[i] - (0..i).map(|k| l[i * p + k] * y[k]).sum::<f64>()) / l[i * p + i];
    }
    let mut x = vec![0.0; p];
    for i in (0..p).rev() {
        x[i] = (y[i] - (i + 1..p).map(|k| l[k * p + i] * x[k]).sum::<f64>()) / l[i * p + i];
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::Rng;

    /// Coefficients against an independent computation: two-pass z-scoring and the normal
    /// equations per (step, unit) solved by Gauss–Jordan elimination.
    #[test]
    #[allow(clippy::needless_range_loop)]
    fn coefficients_match_a_naive_normal_equations_solve() {
        let (b, t, n) = (40, 3, 4);
        let mut rng = Rng::from_seed(3);
        let choice: Vec<f64> = (0..b)
            .map(|k| if k % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        let motion: Vec<f64> = (0..b).map(|_| rng.uniform() - 0.5).collect();
        let context: Vec<f64> = (0..b).map(|k| f64::from(u8::from(k % 3 == 0))).collect();
        let mut rates = vec![0f32; b * t * n];
        for k in 0..b {
            for s in 0..t {
                for i in 0..n {
                    let v = 0.3 * choice[k] * (s + 1) as f64 - 0.7 * motion[k] * i as f64
                        + 0.2 * context[k]
                        + 0.05 * rng.normal()
                        + i as f64;
                    rates[(k * t + s) * n + i] = v as f32;
                }
            }
        }
        let regs = vec![
            ("choice".to_string(), choice.clone()),
            ("motion".to_string(), motion.clone()),
            ("context".to_string(), context.clone()),
        ];
        let tdr = regression_axes(&rates, b, t, n, &regs).unwrap();
        // Independent: z-score by two-pass mean/std, build the normal equations per (t, unit),
        // and solve by Gaussian elimination.
        for i in 0..n {
            let vals: Vec<f64> = (0..b * t).map(|r| f64::from(rates[r * n + i])).collect();
            let mean = vals.iter().sum::<f64>() / vals.len() as f64;
            let sd =
                (vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / vals.len() as f64).sqrt();
            assert!((tdr.unit_mean[i] - mean).abs() < 1e-9);
            assert!((tdr.unit_std[i] - sd).abs() < 1e-9);
            for s in 0..t {
                let x: Vec<[f64; 4]> = (0..b)
                    .map(|k| [choice[k], motion[k], context[k], 1.0])
                    .collect();
                let y: Vec<f64> = (0..b)
                    .map(|k| (f64::from(rates[(k * t + s) * n + i]) - mean) / sd)
                    .collect();
                let mut a = [[0.0; 5]; 4];
                for k in 0..b {
                    for r in 0..4 {
                        for c in 0..4 {
                            a[r][c] += x[k][r] * x[k][c];
                        }
                        a[r][4] += x[k][r] * y[k];
                    }
                }
                for c in 0..4 {
                    let piv = (c..4).max_by(|&p, &q| a[p][c].abs().total_cmp(&a[q][c].abs()));
                    a.swap(c, piv.unwrap());
                    for r in 0..4 {
                        if r != c {
                            let f = a[r][c] / a[c][c];
                            for k in c..5 {
                                a[r][k] -= f * a[c][k];
                            }
                        }
                    }
                }
                for r in 0..3 {
                    let want = a[r][4] / a[r][r];
                    let got = tdr.coefficients[(r * t + s) * n + i];
                    assert!((got - want).abs() < 1e-9, "v{r} t{s} u{i}: {got} vs {want}");
                }
            }
        }
        // The planted choice effect grows with t: its norm is largest at the last step.
        assert_eq!(tdr.max_step[0], t - 1);
        // Orthonormal axes, the first along the raw max-norm choice coefficients.
        for (p, a) in tdr.axes.iter().enumerate() {
            for (q, c) in tdr.axes.iter().enumerate() {
                let want = f64::from(u8::from(p == q));
                assert!((dot(a, c) - want).abs() < 1e-12);
            }
        }
        let raw = &tdr.coefficients[(t - 1) * n..t * n];
        let cos = dot(raw, &tdr.axes[0]) / dot(raw, raw).sqrt();
        assert!((cos - 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_planted_direction_is_recovered_and_explains_the_condition_variance() {
        // Rates = 1 + 0.5 · choice · d with a fixed unit direction d, no noise: the choice
        // axis is ±d and explains all the variance of the condition means.
        let (b, t, n) = (20, 2, 3);
        let d = [0.6, 0.0, -0.8];
        let choice: Vec<f64> = (0..b).map(|k| if k < 10 { 1.0 } else { -1.0 }).collect();
        let mut motion: Vec<f64> = (0..b).map(|k| (k % 5) as f64 - 2.0).collect();
        motion[0] = 0.5;
        let mut rates = vec![0f32; b * t * n];
        for k in 0..b {
            for s in 0..t {
                for i in 0..n {
                    rates[(k * t + s) * n + i] = (1.0 + 0.5 * choice[k] * d[i]) as f32;
                }
            }
        }
        // Unit 1 is silent: its std is 0 and z-score 0. Unit 0/2 z-scores = ±sign(d_i) choice.
        let regs = vec![
            ("choice".to_string(), choice.clone()),
            ("motion".to_string(), motion),
        ];
        let tdr = regression_axes(&rates, b, t, n, &regs).unwrap();
        assert_eq!(tdr.unit_std[1], 0.0);
        let want = [1.0 / 2f64.sqrt(), 0.0, -1.0 / 2f64.sqrt()];
        for (a, w) in tdr.axes[0].iter().zip(want) {
            assert!((a - w).abs() < 1e-6, "{:?}", tdr.axes[0]);
        }
        let groups = vec![(0..10).collect::<Vec<_>>(), (10..20).collect()];
        let ev = tdr.explained_variance(&rates, &groups);
        assert!((ev[0] - 1.0).abs() < 1e-9 && ev[1].abs() < 1e-6, "{ev:?}");
        // Projection of the group means: ±√2 on the choice axis (z = ±1 on two units).
        let proj = tdr.project_groups(&rates, &groups);
        assert_eq!(proj.len(), 2 * t * 2);
        assert!((proj[0] - 2f64.sqrt()).abs() < 1e-6 && (proj[t * 2] + 2f64.sqrt()).abs() < 1e-6);
    }

    #[test]
    fn collinear_and_malformed_regressors_are_named() {
        let (b, t, n) = (6, 1, 2);
        let rates: Vec<f32> = (0..b * t * n).map(|v| v as f32).collect();
        let a = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let twice: Vec<f64> = a.iter().map(|v| 2.0 * v + 1.0).collect();
        let e = regression_axes(
            &rates,
            b,
            t,
            n,
            &[("a".into(), a.clone()), ("b".into(), twice)],
        )
        .unwrap_err();
        assert_eq!(e, TdrError::Collinear { name: "b".into() });
        let e = regression_axes(&rates, b, t, n, &[("c".into(), vec![1.0; 6])]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "regressor `c` is constant or a linear combination of the regressors before it over these trials, so its coefficients are not determined"
        );
        let e = regression_axes(&rates, b, t, n, &[("a".into(), vec![1.0; 5])]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "regressor `a` has 5 values, but there are 6 trials"
        );
        let mut nan = a.clone();
        nan[4] = f64::NAN;
        let e = regression_axes(&rates, b, t, n, &[("a".into(), nan)]).unwrap_err();
        assert_eq!(e.to_string(), "regressor `a` is not finite in trial 4");
        let e = regression_axes(&rates[1..], b, t, n, &[("a".into(), a)]).unwrap_err();
        assert!(matches!(e, TdrError::Shape { len: 11, .. }));
    }
}
