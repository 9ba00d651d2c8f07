//! Reaction times and the chronometric curve.
//!
//! A trial's reaction time is the time from its response onset (a condition, in ms) to the
//! first step at which any output reaches `threshold`; trials that never reach it have none.

/// Reaction time of each trial in ms, or `None` when no output reached `threshold` after
/// `onsets[b]`. `outputs` is [B, T, N_out], `dt` the step in ms.
pub fn reaction_times(
    outputs: &[f32],
    n_trials: usize,
    n_steps: usize,
    n_out: usize,
    onsets: &[f64],
    dt: f64,
    threshold: f64,
) -> Vec<Option<f64>> {
    (0..n_trials)
        .map(|b| {
            let start = (onsets[b] / dt).ceil().max(0.0) as usize;
            (start..n_steps)
                .find(|&t| {
                    (0..n_out).any(|o| outputs[(b * n_steps + t) * n_out + o] as f64 >= threshold)
                })
                .map(|t| t as f64 * dt - onsets[b])
        })
        .collect()
}

/// Mean reaction time per distinct x (trials with a reaction time only): (x, mean, s.e.m., n).
pub fn chronometric_curve(x: &[f64], rt: &[Option<f64>]) -> Vec<(f64, f64, f64, usize)> {
    let mut levels: Vec<f64> = x.iter().cloned().filter(|v| !v.is_nan()).collect();
    levels.sort_by(f64::total_cmp);
    levels.dedup();
    levels
        .into_iter()
        .filter_map(|level| {
            let v: Vec<f64> = x
                .iter()
                .zip(rt)
                .filter(|(xi, _)| **xi == level)
                .filter_map(|(_, r)| *r)
                .collect();
            if v.is_empty() {
                return None;
            }
            let n = v.len() as f64;
            let mean = v.iter().sum::<f64>() / n;
            let var = if v.len() > 1 {
                v.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0)
            } else {
                0.0
            };
            Some((level, mean, (var / n).sqrt(), v.len()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reaction_times_and_curve_by_hand() {
        // 3 trials, 5 steps of 10 ms, 2 outputs.
        let outputs = [
            0., 0., 0.2, 0.9, 0.6, 0., 0., 0., 0.,
            0., // trial 0: channel 0 reaches 0.6 at step 2, but onset is 20 ms
            0., 0., 0., 0., 0., 0., 0., 0.7, 0., 0., // trial 1: channel 1 at step 3
            0., 0., 0., 0., 0., 0., 0., 0., 0., 0., // trial 2: never
        ];
        let rt = reaction_times(&outputs, 3, 5, 2, &[15.0, 0.0, 0.0], 10.0, 0.5);
        // Trial 0: first step ≥ 15 ms is step 2 (20 ms); 0.6 ≥ 0.5 there → 20 − 15 = 5 ms.
        assert_eq!(rt, [Some(5.0), Some(30.0), None]);
        let curve = chronometric_curve(&[1.0, 1.0, 2.0], &rt);
        assert_eq!(
            curve.len(),
            1,
            "the level with no reaction time is left out"
        );
        let (x, mean, sem, n) = curve[0];
        assert_eq!((x, mean, n), (1.0, 17.5, 2));
        // s.d. of {5, 30} = 17.678; s.e.m. = 12.5.
        assert!((sem - 12.5).abs() < 1e-9);
    }
}
