//! The masked argmax PsychRNN scores with: which output channel a trial chose.
//!
//! [`argmax_channel`] is the one implementation; [`argmax_choices`] applies it to every trial
//! of a batch, the argmax scorer to an epoch or the whole trial, and the report to the
//! channels it compares.

use std::ops::Range;

/// For one trial's [T, C] row-major `values`, the position in `channels` of the channel whose
/// sum over `steps` of `values` (times `mask`, when given) is largest. Ties and NaN sums go to
/// the first listed channel (numpy's argmax rule); `channels` must not be empty. A sum ranks
/// like a mean over the same steps, so this is also the argmax of the (masked) mean.
pub fn argmax_channel(
    values: &[f32],
    mask: Option<&[f32]>,
    n_channels: usize,
    steps: Range<usize>,
    channels: &[usize],
) -> usize {
    let mut best = 0;
    let mut best_sum = f64::NEG_INFINITY;
    for (k, &c) in channels.iter().enumerate() {
        let mut sum = 0.0f64;
        for t in steps.clone() {
            let at = t * n_channels + c;
            sum += values[at] as f64 * mask.map_or(1.0, |m| m[at] as f64);
        }
        if k == 0 || sum > best_sum {
            best = k;
            best_sum = sum;
        }
    }
    best
}

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
    let per = n_steps * n_channels;
    let all: Vec<usize> = (0..n_channels).collect();
    (0..n_trials)
        .map(|b| {
            let trial = b * per..(b + 1) * per;
            argmax_channel(
                &values[trial.clone()],
                Some(&mask[trial]),
                n_channels,
                0..n_steps,
                &all,
            )
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

    /// Against a plain reading of the rule: sums by hand, first of the largest wins.
    #[test]
    fn channel_among_a_subset_by_hand() {
        // 3 steps × 3 channels, one trial.
        let values = [
            1.0, 5.0, 2.0, //
            1.0, -9.0, 2.0, //
            4.0, 1.0, 0.0,
        ];
        let mask = [
            1.0, 1.0, 1.0, //
            0.0, 0.0, 0.0, //
            1.0, 1.0, 1.0,
        ];
        // Masked sums over all steps: c0 = 1 + 4 = 5, c1 = 5 + 1 = 6, c2 = 2 + 0 = 2.
        assert_eq!(argmax_channel(&values, Some(&mask), 3, 0..3, &[0, 1, 2]), 1);
        // Among [2, 0] only: c2 = 2, c0 = 5 → position 1 (channel 0).
        assert_eq!(argmax_channel(&values, Some(&mask), 3, 0..3, &[2, 0]), 1);
        // Unmasked, steps 1..3: c0 = 5, c1 = -8, c2 = 2.
        assert_eq!(argmax_channel(&values, None, 3, 1..3, &[0, 1, 2]), 0);
        // Equal sums go to the first listed, whichever channel that is.
        let tie = [3.0, 3.0];
        assert_eq!(argmax_channel(&tie, None, 2, 0..1, &[1, 0]), 0);
        assert_eq!(argmax_channel(&tie, None, 2, 0..1, &[0, 1]), 0);
        // A NaN sum first listed keeps its place; a later NaN never wins.
        let nan = [f32::NAN, 1.0];
        assert_eq!(argmax_channel(&nan, None, 2, 0..1, &[0, 1]), 0);
        assert_eq!(argmax_channel(&nan, None, 2, 0..1, &[1, 0]), 0);
    }
}
