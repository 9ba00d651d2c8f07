//! Distributions the host samples, e.g. for epoch durations (`dist::uniform(200, 600)`).

use std::fmt;

use crate::random::Rng;

/// Why a [`Distribution`]'s parameters are unusable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DistributionError {
    /// A parameter is NaN or infinite.
    #[error("{distribution}: {parameter} must be a finite number, got {value}")]
    NotFinite {
        /// The distribution as written (`uniform(0, inf)`).
        distribution: String,
        /// Which parameter (`lo`, `mean`, `every value`, …).
        parameter: &'static str,
        /// Its value.
        value: f64,
    },
    /// The parameters break a condition the distribution needs.
    #[error("{distribution}: needs {condition}")]
    Needs {
        /// The distribution as written.
        distribution: String,
        /// The condition (`lo ≤ hi`, `mean > 0`, …).
        condition: &'static str,
    },
}

/// A distribution over numbers (milliseconds, when it is a duration).
#[derive(Debug, Clone, PartialEq)]
pub enum Distribution {
    /// Always the same value.
    Constant(f64),
    /// Uniform on [lo, hi).
    Uniform {
        /// Lower bound.
        lo: f64,
        /// Upper bound.
        hi: f64,
    },
    /// One of the values, each equally likely.
    Choice(Vec<f64>),
    /// Exponential with the given mean, truncated to [min, max) (sampled by inverse CDF).
    TruncExp {
        /// Mean of the untruncated exponential.
        mean: f64,
        /// Lower bound.
        min: f64,
        /// Upper bound (may be infinite).
        max: f64,
    },
}

impl Distribution {
    /// Checks the parameters; the error says what is wrong and what is expected.
    pub fn validate(&self) -> Result<(), DistributionError> {
        let finite = |parameter: &'static str, value: f64| {
            if value.is_finite() {
                Ok(())
            } else {
                Err(DistributionError::NotFinite {
                    distribution: self.to_string(),
                    parameter,
                    value,
                })
            }
        };
        let needs = |condition: &'static str| DistributionError::Needs {
            distribution: self.to_string(),
            condition,
        };
        match self {
            Distribution::Constant(v) => finite("value", *v),
            Distribution::Uniform { lo, hi } => {
                finite("lo", *lo)?;
                finite("hi", *hi)?;
                if lo > hi {
                    return Err(needs("lo ≤ hi"));
                }
                Ok(())
            }
            Distribution::Choice(values) => {
                if values.is_empty() {
                    return Err(needs("at least one value"));
                }
                values.iter().try_for_each(|v| finite("every value", *v))
            }
            Distribution::TruncExp { mean, min, max } => {
                finite("mean", *mean)?;
                finite("min", *min)?;
                if *mean <= 0.0 {
                    return Err(needs("mean > 0"));
                }
                if max.is_nan() || min >= max {
                    return Err(needs("min < max"));
                }
                Ok(())
            }
        }
    }

    /// The smallest and largest values it can take.
    pub fn range(&self) -> (f64, f64) {
        match self {
            Distribution::Constant(v) => (*v, *v),
            Distribution::Uniform { lo, hi } => (*lo, *hi),
            Distribution::Choice(values) => values
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                    (a.min(v), b.max(v))
                }),
            Distribution::TruncExp { min, max, .. } => (*min, *max),
        }
    }

    /// One draw from `rng` (a constant draws nothing).
    pub fn sample(&self, rng: &mut Rng) -> f64 {
        match self {
            Distribution::Constant(v) => *v,
            Distribution::Uniform { lo, hi } => rng.uniform_range(*lo, *hi),
            Distribution::Choice(values) => values[rng.below(values.len() as u64) as usize],
            Distribution::TruncExp { mean, min, max } => trunc_exp(rng, *mean, *min, *max),
        }
    }
}

/// Exponential with mean `mean` truncated to [min, max), by inverse CDF.
pub fn trunc_exp(rng: &mut Rng, mean: f64, min: f64, max: f64) -> f64 {
    let a = (-min / mean).exp();
    let b = if max.is_finite() {
        (-max / mean).exp()
    } else {
        0.0
    };
    let u = rng.uniform();
    let x = -mean * (a - u * (a - b)).ln();
    x.clamp(min, if max.is_finite() { max } else { f64::MAX })
}

impl fmt::Display for Distribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Distribution::Constant(v) => write!(f, "{v}"),
            Distribution::Uniform { lo, hi } => write!(f, "uniform({lo}, {hi})"),
            Distribution::Choice(values) => {
                let v: Vec<String> = values.iter().map(|v| v.to_string()).collect();
                write!(f, "choice([{}])", v.join(", "))
            }
            Distribution::TruncExp { mean, min, max } => {
                write!(f, "trunc_exp({mean}, {min}, {max})")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trunc_exp_matches_the_truncated_exponential_cdf() {
        let (mean, min, max) = (200.0, 100.0, 600.0);
        let mut rng = Rng::from_seed(4);
        let n = 100_000;
        let xs: Vec<f64> = (0..n)
            .map(|_| trunc_exp(&mut rng, mean, min, max))
            .collect();
        assert!(xs.iter().all(|&x| (min..=max).contains(&x)));
        // P(X < 300) for the truncated law, computed independently.
        let cdf = |x: f64| (1.0 - (-(x - min) / mean).exp()) / (1.0 - (-(max - min) / mean).exp());
        let frac = xs.iter().filter(|&&x| x < 300.0).count() as f64 / n as f64;
        assert!((frac - cdf(300.0)).abs() < 0.01, "{frac} vs {}", cdf(300.0));
        let mean_unbounded = (0..n)
            .map(|_| trunc_exp(&mut rng, 50.0, 0.0, f64::INFINITY))
            .sum::<f64>()
            / n as f64;
        assert!((mean_unbounded - 50.0).abs() < 1.0, "{mean_unbounded}");
    }

    #[test]
    fn bad_bounds_are_reported() {
        assert_eq!(
            Distribution::Uniform { lo: 5.0, hi: 1.0 }
                .validate()
                .unwrap_err()
                .to_string(),
            "uniform(5, 1): needs lo ≤ hi"
        );
        assert!(Distribution::TruncExp {
            mean: -1.0,
            min: 0.0,
            max: 5.0
        }
        .validate()
        .is_err());
        assert_eq!(
            Distribution::Choice(vec![])
                .validate()
                .unwrap_err()
                .to_string(),
            "choice([]): needs at least one value"
        );
        assert_eq!(
            Distribution::Uniform {
                lo: 0.0,
                hi: f64::INFINITY
            }
            .validate()
            .unwrap_err()
            .to_string(),
            "uniform(0, inf): hi must be a finite number, got inf"
        );
        assert_eq!(
            Distribution::Choice(vec![3.0, 1.0, 2.0]).range(),
            (1.0, 3.0)
        );
    }
}
