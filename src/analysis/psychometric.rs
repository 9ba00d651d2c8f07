//! Psychometric curves: logistic fits and empirical choice fractions of binary choices.
//!
//! - Logistic model: `p(x) = σ(β₀ + β₁ x) = 1 / (1 + exp(−(β₀ + β₁ x)))`, with threshold
//!   (point of subjective equality) `x₅₀ = −β₀ / β₁`, where `p = 0.5`.
//! - [`fit_logistic`] maximises the log-likelihood `Σ_i [y_i ln p(x_i) + (1 − y_i) ln(1 − p(x_i))]`
//!   minus a tiny ridge penalty, by Newton's method (equivalently IRLS) with a backtracking
//!   line search. To make the fit independent of the units of `x`, it works on the
//!   standardised `z = (x − x̄)/s` (`s` the population standard deviation), fits
//!   `σ(a + b z)` with penalty `(λ/2)(a² + b²)`, `λ = 1e-6`, and maps back:
//!   `β₁ = b/s`, `β₀ = a − b x̄/s`. The ridge keeps the estimate finite for perfectly
//!   separable data (a network at 100 % accuracy), which then gets a steep slope and a
//!   threshold inside the gap between the two classes.
//! - [`fit_psychometric`] adds standard errors from the Fisher information and says whether
//!   the data are perfectly separable ([`Separation`]): then no maximum-likelihood estimate
//!   exists, the slope is the ridge's bound (a lower bound on any slope the data allow) and no
//!   standard error is given.
//! - [`choice_curve`] groups trials by distinct `x`; per group with `n` trials,
//!   `p = (number true)/n` and the binomial standard error `sem = √(p(1 − p)/n)`.

use std::fmt;

/// Ridge strength `λ` (in standardised coordinates) used by [`fit_logistic`].
const RIDGE: f64 = 1e-6;
/// Newton iteration cap of [`fit_logistic`].
const MAX_NEWTON: usize = 200;

/// Errors returned by [`fit_logistic`].
#[derive(Debug, Clone, PartialEq)]
pub enum AnalysisError {
    /// `x` and `y` have different lengths.
    LengthMismatch {
        /// Length of `x`.
        x_len: usize,
        /// Length of `y`.
        y_len: usize,
    },
    /// Fewer than two data points.
    TooFewPoints {
        /// Number of points that was passed.
        n: usize,
    },
    /// Every `x` has the same value, so the slope is not identifiable.
    ConstantX {
        /// The common value of `x`.
        value: f64,
    },
    /// Some `x` is NaN or infinite.
    NonFiniteX {
        /// Index of the first offending value.
        index: usize,
    },
}

impl fmt::Display for AnalysisError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnalysisError::LengthMismatch { x_len, y_len } => write!(
                f,
                "x has {x_len} values but y has {y_len}; they must have the same length"
            ),
            AnalysisError::TooFewPoints { n } => {
                write!(f, "a logistic fit needs at least 2 data points, got {n}")
            }
            AnalysisError::ConstantX { value } => write!(
                f,
                "all x values equal {value}, so a logistic slope cannot be fitted"
            ),
            AnalysisError::NonFiniteX { index } => {
                write!(f, "x[{index}] is NaN or infinite")
            }
        }
    }
}

impl std::error::Error for AnalysisError {}

/// Logistic psychometric function `p(x) = 1 / (1 + exp(−(intercept + slope·x)))`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Logistic {
    /// `β₀`: log-odds of choosing `true` at `x = 0`.
    pub intercept: f64,
    /// `β₁`: change in log-odds per unit of `x`.
    pub slope: f64,
}

impl Logistic {
    /// Probability `1 / (1 + exp(−(intercept + slope·x)))`, computed without overflow.
    pub fn p(&self, x: f64) -> f64 {
        sigmoid(self.intercept + self.slope * x)
    }

    /// `x` where `p(x) = 0.5`, i.e. `−intercept / slope` (±∞ or NaN when `slope = 0`).
    pub fn threshold(&self) -> f64 {
        -self.intercept / self.slope
    }
}

/// `σ(t) = 1/(1 + e^{−t})`, evaluated so that `exp` never overflows.
fn sigmoid(t: f64) -> f64 {
    if t >= 0.0 {
        1.0 / (1.0 + (-t).exp())
    } else {
        let e = t.exp();
        e / (1.0 + e)
    }
}

/// `ln(1 + e^t)` without overflow.
fn softplus(t: f64) -> f64 {
    if t > 0.0 {
        t + (-t).exp().ln_1p()
    } else {
        t.exp().ln_1p()
    }
}

/// Penalised negative log-likelihood of `σ(a + b z)` on `(z, y)`.
fn objective(z: &[f64], y: &[bool], a: f64, b: f64) -> f64 {
    let nll: f64 = z
        .iter()
        .zip(y)
        .map(|(&zi, &yi)| {
            let eta = a + b * zi;
            // −ln σ(η) = softplus(−η); −ln(1 − σ(η)) = softplus(η).
            if yi {
                softplus(-eta)
            } else {
                softplus(eta)
            }
        })
        .sum();
    nll + 0.5 * RIDGE * (a * a + b * b)
}

/// Maximum-likelihood logistic fit of binary choices `y` against stimulus `x`.
///
/// Newton/IRLS with a `1e-6` ridge in standardised coordinates (see the module docs), at most
/// 200 iterations; always returns finite parameters, including for perfectly separable data.
/// If every `y` is the same, the slope is ≈ 0 and the threshold is meaningless.
///
/// Errors: [`AnalysisError::LengthMismatch`], [`AnalysisError::TooFewPoints`] (< 2 points),
/// [`AnalysisError::NonFiniteX`], [`AnalysisError::ConstantX`] (all `x` equal).
pub fn fit_logistic(x: &[f64], y: &[bool]) -> Result<Logistic, AnalysisError> {
    if x.len() != y.len() {
        return Err(AnalysisError::LengthMismatch {
            x_len: x.len(),
            y_len: y.len(),
        });
    }
    let n = x.len();
    if n < 2 {
        return Err(AnalysisError::TooFewPoints { n });
    }
    if let Some(index) = x.iter().position(|v| !v.is_finite()) {
        return Err(AnalysisError::NonFiniteX { index });
    }
    if x.iter().all(|&v| v == x[0]) {
        return Err(AnalysisError::ConstantX { value: x[0] });
    }

    // Standardise on u = x / max|x| ∈ [−1, 1], so no intermediate can overflow:
    // z = (u − ū)/s_u = (x − x̄)/s.
    let scale = x.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    let u: Vec<f64> = x.iter().map(|v| v / scale).collect();
    let mean_u = u.iter().sum::<f64>() / n as f64;
    let sd_u = (u.iter().map(|v| (v - mean_u).powi(2)).sum::<f64>() / n as f64).sqrt();
    if sd_u == 0.0 || !sd_u.is_finite() {
        // Distinct values so close that their spread is not representable.
        return Err(AnalysisError::ConstantX { value: x[0] });
    }
    let z: Vec<f64> = u.iter().map(|v| (v - mean_u) / sd_u).collect();

    let (mut a, mut b) = (0.0_f64, 0.0_f64);
    let mut obj = objective(&z, y, a, b);
    for _ in 0..MAX_NEWTON {
        // Gradient and Hessian of the penalised negative log-likelihood.
        let (mut ga, mut gb) = (RIDGE * a, RIDGE * b);
        let (mut haa, mut hab, mut hbb) = (RIDGE, 0.0, RIDGE);
        for (&zi, &yi) in z.iter().zip(y) {
            let p = sigmoid(a + b * zi);
            let r = p - if yi { 1.0 } else { 0.0 };
            let w = p * (1.0 - p);
            ga += r;
            gb += r * zi;
            haa += w;
            hab += w * zi;
            hbb += w * zi * zi;
        }
        // Newton step: solve H δ = −g (2×2, H positive definite thanks to the ridge).
        let det = haa * hbb - hab * hab;
        if det <= 0.0 || !det.is_finite() {
            break;
        }
        let da = -(hbb * ga - hab * gb) / det;
        let db = -(haa * gb - hab * ga) / det;
        let decrement = -(ga * da + gb * db); // gᵀH⁻¹g ≥ 0
        if decrement <= 1e-24 * (1.0 + obj) {
            break;
        }
        // Backtracking (Armijo) line search: guarantees descent of the convex objective.
        let mut t = 1.0;
        let mut accepted = false;
        for _ in 0..60 {
            let (na, nb) = (a + t * da, b + t * db);
            let nobj = objective(&z, y, na, nb);
            if nobj <= obj - 1e-4 * t * decrement {
                a = na;
                b = nb;
                obj = nobj;
                accepted = true;
                break;
            }
            t *= 0.5;
        }
        if !accepted || (t * da).abs() + (t * db).abs() <= 1e-15 * (1.0 + a.abs() + b.abs()) {
            break;
        }
    }
    // a + b z = a + b (x/scale − ū)/s_u.
    Ok(Logistic {
        intercept: a - b * mean_u / sd_u,
        slope: b / sd_u / scale,
    })
}

/// How the two choices are arranged along `x`, which decides whether the logistic fit's
/// maximum-likelihood estimate exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Separation {
    /// The choices overlap in `x`: the estimate exists and its standard errors are meaningful.
    Overlapping,
    /// Perfectly separable: some threshold puts every `true` on one side and every `false` on
    /// the other (ties at the threshold allowed). The likelihood keeps growing as the slope
    /// grows, so the fitted slope is only where the ridge stops it: a lower bound.
    Separable,
    /// Every trial made the same choice: neither slope nor threshold is identified.
    OneChoice,
}

impl Separation {
    /// Classifies choices `y` against `x` (pairs beyond the shorter slice are ignored).
    ///
    /// In one dimension the estimate exists exactly when the classes overlap:
    /// `max(x | false) > min(x | true)` and `max(x | true) > min(x | false)`.
    pub fn of(x: &[f64], y: &[bool]) -> Separation {
        let (mut t_lo, mut t_hi) = (f64::INFINITY, f64::NEG_INFINITY);
        let (mut f_lo, mut f_hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for (&xi, &yi) in x.iter().zip(y) {
            if yi {
                t_lo = t_lo.min(xi);
                t_hi = t_hi.max(xi);
            } else {
                f_lo = f_lo.min(xi);
                f_hi = f_hi.max(xi);
            }
        }
        if t_lo > t_hi || f_lo > f_hi {
            Separation::OneChoice
        } else if f_hi <= t_lo || t_hi <= f_lo {
            Separation::Separable
        } else {
            Separation::Overlapping
        }
    }
}

/// A logistic fit with what a reader needs to trust it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PsychometricFit {
    /// The fitted curve (maximum likelihood, or the ridge-bounded fit when not overlapping).
    pub logistic: Logistic,
    /// Standard error of the intercept: `√(I⁻¹)₀₀`, `I` the Fisher information (the Hessian
    /// of the negative log-likelihood, `Σ p(1 − p) [1 x; x x²]`) at the estimate. `None`
    /// unless the choices overlap (the estimate does not exist otherwise).
    pub intercept_se: Option<f64>,
    /// Standard error of the slope, `√(I⁻¹)₁₁`; `None` unless the choices overlap.
    pub slope_se: Option<f64>,
    /// Number of trials fitted.
    pub trials: usize,
    /// Whether the estimate exists (see [`Separation`]).
    pub separation: Separation,
}

/// [`fit_logistic`] plus standard errors from the Fisher information and a check for
/// separable data (see [`PsychometricFit`]). Same errors as [`fit_logistic`].
///
/// ```
/// use psychrnn::analysis::psychometric::fit_psychometric;
/// // Choices that overlap around x = 0: a finite fit with standard errors.
/// let x = [-2.0, -1.0, -1.0, 0.0, 0.0, 1.0, 1.0, 2.0];
/// let y = [false, false, true, false, true, false, true, true];
/// let fit = fit_psychometric(&x, &y).unwrap();
/// assert_eq!(fit.trials, 8);
/// assert!(fit.logistic.slope > 0.0 && fit.slope_se.is_some());
/// // Symmetric data: the threshold (P = 0.5) is at 0.
/// assert!(fit.logistic.threshold().abs() < 1e-6);
/// ```
pub fn fit_psychometric(x: &[f64], y: &[bool]) -> Result<PsychometricFit, AnalysisError> {
    let logistic = fit_logistic(x, y)?;
    let separation = Separation::of(x, y);
    let (intercept_se, slope_se) = if separation == Separation::Overlapping {
        standard_errors(x, &logistic)
    } else {
        (None, None)
    };
    Ok(PsychometricFit {
        logistic,
        intercept_se,
        slope_se,
        trials: x.len(),
        separation,
    })
}

/// `√diag(I⁻¹)` for the fit `l` on `x`, computed in the standardised `z = (x − x̄)/s` (so no
/// `x²` overflows) and mapped back with `β₀ = a − b x̄/s`, `β₁ = b/s`:
/// `Var β₀ = Var a − 2 (x̄/s) Cov(a, b) + (x̄/s)² Var b`, `Var β₁ = Var b / s²`.
fn standard_errors(x: &[f64], l: &Logistic) -> (Option<f64>, Option<f64>) {
    let n = x.len() as f64;
    let scale = x.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    let u: Vec<f64> = x.iter().map(|v| v / scale).collect();
    let mean_u = u.iter().sum::<f64>() / n;
    let sd_u = (u.iter().map(|v| (v - mean_u).powi(2)).sum::<f64>() / n).sqrt();
    let (mut haa, mut hab, mut hbb) = (0.0, 0.0, 0.0);
    for (&xi, &ui) in x.iter().zip(&u) {
        let p = l.p(xi);
        let w = p * (1.0 - p);
        let zi = (ui - mean_u) / sd_u;
        haa += w;
        hab += w * zi;
        hbb += w * zi * zi;
    }
    let det = haa * hbb - hab * hab;
    if !(det > 0.0 && det.is_finite()) {
        return (None, None);
    }
    let (var_a, cov_ab, var_b) = (hbb / det, -hab / det, haa / det);
    let m = mean_u / sd_u;
    let var_b0 = var_a - 2.0 * m * cov_ab + m * m * var_b;
    let se_b1 = var_b.sqrt() / sd_u / scale;
    let ok = |v: f64| (v.is_finite() && v >= 0.0).then_some(v);
    (ok(var_b0.max(0.0).sqrt()), ok(se_b1))
}

/// One point of an empirical psychometric curve: all trials sharing one stimulus value.
#[derive(Debug, Clone, PartialEq)]
pub struct ChoicePoint {
    /// The stimulus value.
    pub x: f64,
    /// Number of trials with this value.
    pub n: usize,
    /// Fraction of those trials with `y = true`.
    pub p: f64,
    /// Binomial standard error `√(p(1 − p)/n)`.
    pub sem: f64,
}

/// Empirical choice fractions per distinct `x` (exact equality), sorted by increasing `x`.
///
/// Pairs are formed with `zip`, so values beyond the shorter of `x` and `y` are ignored;
/// empty input gives an empty vector. `−0.0` and `0.0` form one group; NaNs sort last.
pub fn choice_curve(x: &[f64], y: &[bool]) -> Vec<ChoicePoint> {
    let mut pairs: Vec<(f64, bool)> = x.iter().copied().zip(y.iter().copied()).collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: Vec<ChoicePoint> = Vec::new();
    let mut i = 0;
    while i < pairs.len() {
        let xi = pairs[i].0;
        let same = |v: f64| v == xi || v.total_cmp(&xi).is_eq();
        let mut j = i;
        let mut hits = 0usize;
        while j < pairs.len() && same(pairs[j].0) {
            hits += usize::from(pairs[j].1);
            j += 1;
        }
        let n = j - i;
        let p = hits as f64 / n as f64;
        out.push(ChoicePoint {
            x: xi,
            n,
            p,
            sem: (p * (1.0 - p) / n as f64).sqrt(),
        });
        i = j;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logistic_function_and_threshold_by_hand() {
        let l = Logistic {
            intercept: -1.0,
            slope: 2.0,
        };
        assert_eq!(l.threshold(), 0.5);
        assert!((l.p(0.5) - 0.5).abs() < 1e-15);
        // p(0) = 1/(1 + e) and p(1) = 1/(1 + e^{-1}) = e/(1 + e).
        let e = std::f64::consts::E;
        assert!((l.p(0.0) - 1.0 / (1.0 + e)).abs() < 1e-15);
        assert!((l.p(1.0) - e / (1.0 + e)).abs() < 1e-15);
        // No overflow far in the tails.
        assert_eq!(l.p(-1e6), 0.0);
        assert_eq!(l.p(1e6), 1.0);
        assert!(l.p(-300.0) > 0.0); // η = −601: e^{−601} ≈ 1e-261 is still representable
    }

    #[test]
    fn two_level_design_matches_closed_form() {
        // x = 0: 1 of 4 true; x = 1: 3 of 4 true. Two parameters, two levels: the MLE
        // reproduces the observed fractions, so β₀ = logit(1/4) = −ln 3 and
        // β₀ + β₁ = logit(3/4) = ln 3, i.e. β₁ = 2 ln 3.
        let x = [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0];
        let y = [true, false, false, false, true, true, false, true];
        let fit = fit_logistic(&x, &y).unwrap();
        let ln3 = 3f64.ln();
        assert!((fit.intercept + ln3).abs() < 1e-5, "{fit:?}");
        assert!((fit.slope - 2.0 * ln3).abs() < 1e-5, "{fit:?}");
        assert!((fit.threshold() - 0.5).abs() < 1e-5);
        assert!((fit.p(0.0) - 0.25).abs() < 1e-6 && (fit.p(1.0) - 0.75).abs() < 1e-6);
    }

    #[test]
    fn standard_errors_of_two_level_design_match_closed_form() {
        // With two levels the estimates reproduce the fractions, and logit(p̂₀) = β₀ and
        // logit(p̂₁) = β₀ + β₁ are independent with variances 1/(n p (1 − p)) each:
        // Var β₀ = 1/(4·¼·¾) = 4/3, Var β₁ = 4/3 + 4/3 = 8/3.
        let x = [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0];
        let y = [true, false, false, false, true, true, false, true];
        let fit = fit_psychometric(&x, &y).unwrap();
        assert_eq!(fit.separation, Separation::Overlapping);
        assert_eq!(fit.trials, 8);
        let (se0, se1) = (fit.intercept_se.unwrap(), fit.slope_se.unwrap());
        assert!((se0 - (4.0f64 / 3.0).sqrt()).abs() < 1e-5, "{fit:?}");
        assert!((se1 - (8.0f64 / 3.0).sqrt()).abs() < 1e-5, "{fit:?}");
        // Shifting and scaling x: x' = 10 x + 5 gives β₁' = β₁/10, so SE(β₁') = SE(β₁)/10.
        let xs: Vec<f64> = x.iter().map(|v| 10.0 * v + 5.0).collect();
        let fit2 = fit_psychometric(&xs, &y).unwrap();
        assert!(
            (fit2.slope_se.unwrap() * 10.0 - se1).abs() < 1e-5,
            "{fit2:?}"
        );
    }

    #[test]
    fn separation_is_classified_exactly() {
        let x = [-2.0, -1.0, 0.0, 1.0, 2.0];
        // Complete, either direction.
        assert_eq!(
            Separation::of(&x, &[false, false, false, true, true]),
            Separation::Separable
        );
        assert_eq!(
            Separation::of(&x, &[true, true, false, false, false]),
            Separation::Separable
        );
        // Quasi-complete: both choices only at the shared value x = 0.
        let xq = [-1.0, 0.0, 0.0, 1.0];
        assert_eq!(
            Separation::of(&xq, &[false, false, true, true]),
            Separation::Separable
        );
        assert_eq!(
            Separation::of(&x, &[false, true, false, true, true]),
            Separation::Overlapping
        );
        assert_eq!(Separation::of(&x, &[true; 5]), Separation::OneChoice);
        let fit = fit_psychometric(&x, &[false, false, false, true, true]).unwrap();
        assert_eq!((fit.intercept_se, fit.slope_se), (None, None));
    }

    #[test]
    fn recovers_known_logistic_from_20000_samples() {
        let truth = Logistic {
            intercept: -1.5,
            slope: 2.0,
        };
        let mut rng = crate::random::Rng::from_seed(0x9E37_79B9_7F4A_7C15);
        let n = 20_000;
        let mut x = Vec::with_capacity(n);
        let mut y = Vec::with_capacity(n);
        for _ in 0..n {
            let xi = -3.0 + 6.0 * rng.uniform();
            x.push(xi);
            y.push(rng.uniform() < truth.p(xi));
        }
        let fit = fit_logistic(&x, &y).unwrap();
        assert!(
            (fit.intercept / truth.intercept - 1.0).abs() < 0.05,
            "intercept {} vs {}",
            fit.intercept,
            truth.intercept
        );
        assert!(
            (fit.slope / truth.slope - 1.0).abs() < 0.05,
            "slope {} vs {}",
            fit.slope,
            truth.slope
        );
        assert!((fit.threshold() - 0.75).abs() < 0.05);
        // Score equations of the (unpenalised) likelihood hold at the MLE:
        // Σ (y − p) = 0 and Σ (y − p) x = 0, up to the tiny ridge.
        let (mut s0, mut s1) = (0.0, 0.0);
        for (&xi, &yi) in x.iter().zip(&y) {
            let r = f64::from(u8::from(yi)) - fit.p(xi);
            s0 += r;
            s1 += r * xi;
        }
        assert!(s0.abs() < 1e-4 && s1.abs() < 1e-4, "score ({s0}, {s1})");
    }

    #[test]
    fn separable_data_gives_finite_steep_fit_with_threshold_in_gap() {
        // Symmetric: boundary at 0 by symmetry.
        let x = [-2.0, -1.0, 1.0, 2.0];
        let y = [false, false, true, true];
        let fit = fit_logistic(&x, &y).unwrap();
        assert!(fit.slope.is_finite() && fit.intercept.is_finite());
        assert!(fit.slope > 5.0, "{fit:?}");
        assert!(fit.threshold().abs() < 1e-6, "{fit:?}");
        assert!(fit.p(-1.0) < 1e-3 && fit.p(1.0) > 1.0 - 1e-3);

        // Asymmetric, like a network at 100 % accuracy: y = (x ≥ 6) on x = 0..=10, in large units.
        let x: Vec<f64> = (0..=10).map(|i| 1000.0 * i as f64).collect();
        let y: Vec<bool> = (0..=10).map(|i| i >= 6).collect();
        let fit = fit_logistic(&x, &y).unwrap();
        assert!(fit.slope.is_finite() && fit.intercept.is_finite());
        let t = fit.threshold();
        assert!(t > 5000.0 && t < 6000.0, "threshold {t}");
        assert!((t - 5500.0).abs() < 100.0, "threshold {t}");
        assert!(
            fit.p(5000.0) < 1e-3 && fit.p(6000.0) > 1.0 - 1e-3,
            "{fit:?}"
        );
        // Slope scales with the units: ×1000 in x means ÷1000 in slope.
        let xs: Vec<f64> = x.iter().map(|v| v / 1000.0).collect();
        let fit2 = fit_logistic(&xs, &y).unwrap();
        assert!((fit2.slope / (fit.slope * 1000.0) - 1.0).abs() < 1e-6);
        assert!((fit2.threshold() * 1000.0 - t).abs() < 1e-3);
    }

    #[test]
    fn extreme_x_ranges_do_not_overflow() {
        // x spanning ±1e308 (x − x̄ alone would overflow) and tiny x both give the same fit in
        // rescaled units: the threshold sits in the gap between the classes.
        let y = [false, false, true, true];
        for unit in [1e308, 1e-300] {
            let x = [-unit, -0.5 * unit, 0.5 * unit, unit];
            let fit = fit_logistic(&x, &y).unwrap();
            assert!(
                fit.intercept.is_finite() && fit.slope.is_finite(),
                "{fit:?}"
            );
            assert!(fit.slope > 0.0);
            assert!((fit.threshold() / unit).abs() < 1e-6, "{fit:?}");
        }
    }

    #[test]
    fn all_same_choice_is_finite() {
        let fit = fit_logistic(&[0.0, 1.0, 2.0, 3.0], &[true; 4]).unwrap();
        assert!(fit.intercept.is_finite() && fit.slope.is_finite());
        assert!(fit.p(1.5) > 0.999);
    }

    #[test]
    fn choice_curve_by_hand() {
        let x = [1.0, 0.0, 1.0, 2.0, -0.0, 1.0];
        let y = [true, false, false, true, true, true];
        let c = choice_curve(&x, &y);
        assert_eq!(c.len(), 3);
        // x = 0 (0.0 and −0.0): 1 of 2 → p = 0.5, sem = √(0.25/2).
        assert_eq!(c[0].x, 0.0);
        assert_eq!(c[0].n, 2);
        assert_eq!(c[0].p, 0.5);
        assert!((c[0].sem - 0.125f64.sqrt()).abs() < 1e-15);
        // x = 1: 2 of 3 → p = 2/3, sem = √((2/3)(1/3)/3) = √(2/27).
        assert_eq!((c[1].x, c[1].n), (1.0, 3));
        assert!((c[1].p - 2.0 / 3.0).abs() < 1e-15);
        assert!((c[1].sem - (2.0f64 / 27.0).sqrt()).abs() < 1e-15);
        // x = 2: 1 of 1 → p = 1, sem = 0.
        assert_eq!(
            c[2],
            ChoicePoint {
                x: 2.0,
                n: 1,
                p: 1.0,
                sem: 0.0
            }
        );
        assert!(choice_curve(&[], &[]).is_empty());
        // Extra x without a matching y is ignored.
        assert_eq!(choice_curve(&[3.0, 4.0], &[false]).len(), 1);
    }

    #[test]
    fn errors_and_messages() {
        let e = fit_logistic(&[1.0, 2.0, 3.0], &[true, false]).unwrap_err();
        assert_eq!(e, AnalysisError::LengthMismatch { x_len: 3, y_len: 2 });
        assert_eq!(
            e.to_string(),
            "x has 3 values but y has 2; they must have the same length"
        );
        let e = fit_logistic(&[1.0], &[true]).unwrap_err();
        assert_eq!(e, AnalysisError::TooFewPoints { n: 1 });
        assert_eq!(
            e.to_string(),
            "a logistic fit needs at least 2 data points, got 1"
        );
        assert_eq!(
            fit_logistic(&[], &[]),
            Err(AnalysisError::TooFewPoints { n: 0 })
        );
        let e = fit_logistic(&[2.5, 2.5, 2.5], &[true, false, true]).unwrap_err();
        assert_eq!(e, AnalysisError::ConstantX { value: 2.5 });
        assert_eq!(
            e.to_string(),
            "all x values equal 2.5, so a logistic slope cannot be fitted"
        );
        let e = fit_logistic(&[0.0, f64::NAN], &[true, false]).unwrap_err();
        assert_eq!(e, AnalysisError::NonFiniteX { index: 1 });
        assert_eq!(e.to_string(), "x[1] is NaN or infinite");
        let boxed: Box<dyn std::error::Error> = Box::new(e);
        assert!(boxed.to_string().contains("NaN"));
    }
}
