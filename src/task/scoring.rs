//! Scoring: PsychRNN's accuracy, the argmax over channels of the mask-weighted mean output.

/// For each trial of a [B, T, C] array, the channel with the largest mean over time of
/// `values ⊙ mask` (ties go to the lowest channel, like numpy's argmax).
pub fn argmax_choices(
    values: &[f32],
    mask: &[f32],
    n_trials: usize,
    n_steps: usize,
    n_channels: usize,
) -> Vec<usize> {
    assert_eq!(values.len(), n_trials * n_steps * n_channels);
    assert_eq!(mask.len(), values.len());
    (0..n_trials)
        .map(|b| {
            let mut sums = vec![0.0f64; n_channels];
            for t in 0..n_steps {
                let o = (b * n_steps + t) * n_channels;
                for c in 0..n_channels {
                    sums[c] += values[o + c] as f64 * mask[o + c] as f64;
                }
            }
            let mut best = 0;
            for c in 1..n_channels {
                if sums[c] > sums[best] {
                    best = c;
                }
            }
            best
        })
        .collect()
}

/// PsychRNN's accuracy: the fraction of trials where the argmax channel of the masked mean
/// output equals that of the masked mean target. Arrays are [B, T, C].
pub fn argmax_accuracy(
    outputs: &[f32],
    targets: &[f32],
    mask: &[f32],
    n_trials: usize,
    n_steps: usize,
    n_channels: usize,
) -> f64 {
    if n_trials == 0 {
        return 0.0;
    }
    let chosen = argmax_choices(outputs, mask, n_trials, n_steps, n_channels);
    let truth = argmax_choices(targets, mask, n_trials, n_steps, n_channels);
    let correct = chosen.iter().zip(&truth).filter(|(a, b)| a == b).count();
    correct as f64 / n_trials as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracy_by_hand() {
        // 2 trials, 2 steps, 2 channels. Mask hides step 0.
        let mask = [0., 0., 1., 1., 0., 0., 1., 1.];
        let targets = [0., 0., 1.0, 0.2, 0., 0., 0.2, 1.0];
        // trial 0: step 0 would say channel 1 but is masked; step 1 says channel 0 → correct.
        // trial 1: step 1 says channel 0 → wrong.
        let outputs = [0., 9., 0.7, 0.3, 0., 0., 0.6, 0.5];
        assert_eq!(argmax_choices(&outputs, &mask, 2, 2, 2), vec![0, 0]);
        assert_eq!(argmax_accuracy(&outputs, &targets, &mask, 2, 2, 2), 0.5);
    }
}
