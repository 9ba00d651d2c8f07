//! Reading a response from a trial's outputs the way the task's scorer reads it, and finding
//! the scorer parts (inside `all_of`) that say which channel, epoch and condition to read.

use crate::task::{OutputReading, Scorer};

/// Whether output `channel` responds at `step` of one trial's [T, C] `outputs`: above
/// `threshold` when outputs are levels, the largest channel when they are logits (the rule of
/// the task scorers).
pub fn responds(
    outputs: &[f32],
    n_out: usize,
    step: usize,
    channel: usize,
    threshold: f64,
    reading: OutputReading,
) -> bool {
    let row = &outputs[step * n_out..(step + 1) * n_out];
    match reading {
        OutputReading::Levels => f64::from(row[channel]) > threshold,
        OutputReading::Logits => row.iter().all(|&v| v <= row[channel]),
    }
}

/// `scorer` and, recursively, every scorer an `all_of` combines, in order.
pub fn scorer_parts(scorer: &Scorer) -> Vec<&Scorer> {
    match scorer {
        Scorer::All { of } => std::iter::once(scorer)
            .chain(of.iter().flat_map(scorer_parts))
            .collect(),
        other => vec![other],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_compare_with_the_threshold_and_logits_with_the_other_channels() {
        // Two steps, two channels.
        let out = [0.2f32, 0.7, 0.9, 0.1];
        assert!(responds(&out, 2, 0, 1, 0.5, OutputReading::Levels));
        assert!(!responds(&out, 2, 0, 0, 0.5, OutputReading::Levels));
        assert!(responds(&out, 2, 1, 0, 0.95, OutputReading::Logits));
        assert!(!responds(&out, 2, 1, 1, -5.0, OutputReading::Logits));
    }

    #[test]
    fn parts_reach_inside_all_of() {
        let inner = Scorer::GoNogo {
            channel: "r".into(),
            epoch: "e".into(),
            go: "g".into(),
            threshold: 0.5,
        };
        let s = Scorer::All {
            of: vec![
                Scorer::ARGMAX,
                Scorer::All {
                    of: vec![inner.clone()],
                },
            ],
        };
        let parts = scorer_parts(&s);
        assert_eq!(parts.len(), 4);
        assert_eq!(parts[3], &inner);
    }
}
