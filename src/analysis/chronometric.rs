//! Reaction times and the chronometric curve.
//!
//! A trial's reaction time is the time from its response onset (a condition, in ms) to the
//! first step at which one of the *choice* outputs reaches `threshold`; other outputs (a
//! fixation output, which is high from the start) never count. Trials that never reach it have
//! none, and the curve counts them per level instead of dropping them.

/// Reaction time of each trial in ms, or `None` when none of the outputs `channels` reached
/// `threshold` after `onsets[b]`. `outputs` is [B, T, N_out], `dt` the step in ms.
#[allow(clippy::too_many_arguments)]
pub fn reaction_times(
    outputs: &[f32],
    n_trials: usize,
    n_steps: usize,
    n_out: usize,
    channels: &[usize],
    onsets: &[f64],
    dt: f64,
    threshold: f64,
) -> Vec<Option<f64>> {
    (0..n_trials)
        .map(|b| {
            let start = (onsets[b] / dt).ceil().max(0.0) as usize;
            (start..n_steps)
                .find(|&t| {
                    channels
                        .iter()
                        .any(|&o| outputs[(b * n_steps + t) * n_out + o] as f64 >= threshold)
                })
                .map(|t| t as f64 * dt - onsets[b])
        })
        .collect()
}

/// The reaction times of the trials at one x value.
#[derive(Debug, Clone, PartialEq)]
pub struct ReactionTimeLevel {
    /// The x value.
    pub value: f64,
    /// Mean reaction time (ms) of the trials that responded; `None` when none did.
    pub mean_rt: Option<f64>,
    /// Its standard error (sample s.d./√n; 0 for one trial); `None` when none responded.
    pub sem: Option<f64>,
    /// Trials that responded.
    pub responded: usize,
    /// Trials that never responded.
    pub no_response: usize,
}

/// Reaction times per distinct x (NaN x values are left out), every level listed, including
/// those where no trial responded.
pub fn chronometric_curve(x: &[f64], rt: &[Option<f64>]) -> Vec<ReactionTimeLevel> {
    let mut levels: Vec<f64> = x.iter().cloned().filter(|v| !v.is_nan()).collect();
    levels.sort_by(f64::total_cmp);
    levels.dedup();
    levels
        .into_iter()
        .map(|level| {
            let at: Vec<Option<f64>> = x
                .iter()
                .zip(rt)
                .filter(|(xi, _)| **xi == level)
                .map(|(_, r)| *r)
                .collect();
            let v: Vec<f64> = at.iter().filter_map(|r| *r).collect();
            let no_response = at.len() - v.len();
            if v.is_empty() {
                return ReactionTimeLevel {
                    value: level,
                    mean_rt: None,
                    sem: None,
                    responded: 0,
                    no_response,
                };
            }
            let n = v.len() as f64;
            let mean = v.iter().sum::<f64>() / n;
            let var = if v.len() > 1 {
                v.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0)
            } else {
                0.0
            };
            ReactionTimeLevel {
                value: level,
                mean_rt: Some(mean),
                sem: Some((var / n).sqrt()),
                responded: v.len(),
                no_response,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reaction_times_and_curve_by_hand() {
        // 3 trials, 5 steps of 10 ms, 2 outputs.
        #[rustfmt::skip]
        let outputs = [
            0., 0., 0.2, 0.9, 0.6, 0., 0., 0., 0., 0., // trial 0: channel 0 reaches 0.6 at step 2, onset 15 ms
            0., 0., 0., 0., 0., 0., 0., 0.7, 0., 0., // trial 1: channel 1 at step 3
            0., 0., 0., 0., 0., 0., 0., 0., 0., 0., // trial 2: never
        ];
        let rt = reaction_times(&outputs, 3, 5, 2, &[0, 1], &[15.0, 0.0, 0.0], 10.0, 0.5);
        // Trial 0: first step ≥ 15 ms is step 2 (20 ms); 0.6 ≥ 0.5 there → 20 − 15 = 5 ms.
        assert_eq!(rt, [Some(5.0), Some(30.0), None]);
        let curve = chronometric_curve(&[1.0, 1.0, 2.0], &rt);
        assert_eq!(curve.len(), 2, "the level with no reaction time is listed");
        let first = &curve[0];
        assert_eq!(
            (
                first.value,
                first.mean_rt,
                first.responded,
                first.no_response
            ),
            (1.0, Some(17.5), 2, 0)
        );
        // s.d. of {5, 30} = 17.678; s.e.m. = 12.5.
        assert!((first.sem.unwrap() - 12.5).abs() < 1e-9);
        assert_eq!(
            curve[1],
            ReactionTimeLevel {
                value: 2.0,
                mean_rt: None,
                sem: None,
                responded: 0,
                no_response: 1
            }
        );
    }

    #[test]
    fn a_fixation_output_high_from_the_start_is_not_a_response() {
        // 4 trials, 30 steps of 20 ms, outputs [fixation, choice_0, choice_1]. Fixation is 1.0
        // at every step; choice channel c of trial b ramps up from step r_b by 0.1 per step.
        let (b, t, n_out, dt) = (4, 30, 3, 20.0);
        let ramps = [(1, 5), (2, 12), (1, 20), (2, 40)]; // (channel, first step of the ramp)
        let onsets = [40.0, 100.0, 0.0, 0.0];
        let mut outputs = vec![0.0f32; b * t * n_out];
        for (i, &(channel, from)) in ramps.iter().enumerate() {
            for s in 0..t {
                outputs[(i * t + s) * n_out] = 1.0;
                if s >= from {
                    outputs[(i * t + s) * n_out + channel] = 0.1 * (s - from + 1) as f32;
                }
            }
        }
        let rt = reaction_times(&outputs, b, t, n_out, &[1, 2], &onsets, dt, 0.45);
        // Independently: the ramp passes 0.45 on its 5th step, from + 4, whatever the onset
        // (all onsets are before the ramps); trial 3's ramp starts after the last step.
        let expected: Vec<Option<f64>> = ramps
            .iter()
            .zip(&onsets)
            .map(|(&(_, from), onset)| {
                let step = from + 4;
                (step < t).then(|| step as f64 * dt - onset)
            })
            .collect();
        assert_eq!(rt, expected);
        assert_eq!(rt, [Some(140.0), Some(220.0), Some(480.0), None]);
        // Counting the fixation output, every trial would respond at its onset.
        let with_fixation = reaction_times(&outputs, b, t, n_out, &[0, 1, 2], &onsets, dt, 0.45);
        assert_eq!(with_fixation, [Some(0.0), Some(0.0), Some(0.0), Some(0.0)]);
    }
}
