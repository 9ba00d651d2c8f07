//! Interval timing (ready-set-go): the least-squares line of produced against target
//! intervals, whose slope below 1 is regression to the mean of the prior (Jazayeri & Shadlen
//! 2010), with its standard error and confidence interval.

use crate::task::normal_quantile;

/// The least-squares line y = intercept + slope · x.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LineFit {
    /// Points fitted.
    pub n: usize,
    /// Slope.
    pub slope: f64,
    /// Intercept.
    pub intercept: f64,
    /// Standard error of the slope, √(s² / Σ(x − x̄)²) with s² = RSS/(n − 2).
    pub slope_se: f64,
}

impl LineFit {
    /// The two-sided 95% confidence interval of the slope (Student t, n − 2 degrees of
    /// freedom).
    pub fn slope_ci95(&self) -> (f64, f64) {
        let half = student_t_quantile(0.975, (self.n - 2) as f64) * self.slope_se;
        (self.slope - half, self.slope + half)
    }
}

/// The least-squares line through `(x, y)`; `None` with fewer than 3 points or when every x
/// is the same (no slope is determined).
pub fn fit_line(x: &[f64], y: &[f64]) -> Option<LineFit> {
    let n = x.len().min(y.len());
    if n < 3 {
        return None;
    }
    let mx = x[..n].iter().sum::<f64>() / n as f64;
    let my = y[..n].iter().sum::<f64>() / n as f64;
    let (mut sxx, mut sxy) = (0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxx += (a - mx) * (a - mx);
        sxy += (a - mx) * (b - my);
    }
    if sxx <= 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let rss: f64 = x
        .iter()
        .zip(y)
        .map(|(a, b)| (b - intercept - slope * a).powi(2))
        .sum();
    Some(LineFit {
        n,
        slope,
        intercept,
        slope_se: (rss / (n - 2) as f64 / sxx).sqrt(),
    })
}

/// The `p` quantile of Student's t with `df` degrees of freedom, by the Cornish–Fisher
/// expansion in 1/df (Abramowitz & Stegun 26.7.5): for p = 0.975 it is 0.004 low at 3 degrees
/// of freedom, within 3e-4 from 5 and 1e-5 from 10, exact as df → ∞.
pub fn student_t_quantile(p: f64, df: f64) -> f64 {
    let z = normal_quantile(p);
    let (z3, z5, z7, z9) = (z.powi(3), z.powi(5), z.powi(7), z.powi(9));
    z + (z3 + z) / (4.0 * df)
        + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * df * df)
        + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / (384.0 * df.powi(3))
        + (79.0 * z9 + 776.0 * z7 + 1482.0 * z5 - 1920.0 * z3 - 945.0 * z) / (92160.0 * df.powi(4))
}

/// (target, n, mean, sample s.d.) of the produced intervals of each distinct target, sorted.
pub fn produced_by_target(target: &[f64], produced: &[f64]) -> Vec<(f64, usize, f64, f64)> {
    let mut levels: Vec<f64> = target.to_vec();
    levels.sort_by(f64::total_cmp);
    levels.dedup();
    levels
        .into_iter()
        .map(|level| {
            let v: Vec<f64> = target
                .iter()
                .zip(produced)
                .filter(|(t, _)| **t == level)
                .map(|(_, p)| *p)
                .collect();
            let n = v.len();
            let mean = v.iter().sum::<f64>() / n as f64;
            let sd = if n > 1 {
                (v.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
            } else {
                0.0
            };
            (level, n, mean, sd)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_and_its_standard_error_match_the_textbook_formulas() {
        // x = 1..5, y = 2, 4, 5, 4, 5: slope 0.6, intercept 2.2, RSS 2.4, Sxx 10
        // (numpy.polyfit; scipy.stats.linregress gives stderr 0.282842…).
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [2.0, 4.0, 5.0, 4.0, 5.0];
        let f = fit_line(&x, &y).unwrap();
        assert!((f.slope - 0.6).abs() < 1e-12);
        assert!((f.intercept - 2.2).abs() < 1e-12);
        assert!((f.slope_se - (2.4f64 / 3.0 / 10.0).sqrt()).abs() < 1e-12);
        // t(0.975, 3) = 3.182446 (scipy.stats.t.ppf); the expansion gives 3.1786 there.
        let (lo, hi) = f.slope_ci95();
        assert!((hi - lo - 2.0 * 3.182_446 * f.slope_se).abs() < 2.0 * 0.005 * f.slope_se);
        assert!(fit_line(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).is_none());
        assert!(fit_line(&[1.0, 2.0], &[1.0, 2.0]).is_none());
    }

    #[test]
    fn t_quantiles_match_tables() {
        // scipy.stats.t.ppf(0.975, df)
        for (df, want) in [
            (5.0, 2.570_582),
            (10.0, 2.228_139),
            (30.0, 2.042_272),
            (500.0, 1.964_720),
        ] {
            let got = student_t_quantile(0.975, df);
            assert!((got - want).abs() < 3e-4, "df {df}: {got} vs {want}");
        }
    }

    #[test]
    fn produced_intervals_are_grouped_by_target() {
        let g = produced_by_target(&[600.0, 500.0, 600.0], &[640.0, 520.0, 560.0]);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0], (500.0, 1, 520.0, 0.0));
        assert_eq!(g[1].0, 600.0);
        assert_eq!(g[1].1, 2);
        assert!((g[1].2 - 600.0).abs() < 1e-12);
        assert!((g[1].3 - 3200f64.sqrt()).abs() < 1e-9);
    }
}
