//! Chance level: the accuracy of a network that ignores its inputs, and the warning a run gets
//! when its test accuracy is no better.

use crate::task::{Batch, OutputReading, ScoreError, Task};

/// How far above chance level a test accuracy must be not to be reported as at chance.
pub const CHANCE_MARGIN: f64 = 0.05;

/// The accuracy `task`'s scorer gives outputs that ignore the inputs: every trial of `batch`
/// answered with the mean target over all of its trials, per step and channel (for a balanced
/// two-choice task 0.5; for a task whose answer never depends on the inputs, 1).
pub fn chance_accuracy(
    task: &dyn Task,
    batch: &Batch,
    reading: OutputReading,
) -> Result<f64, ScoreError> {
    let per = batch.n_steps * batch.n_out;
    let mut mean = vec![0.0f64; per];
    for trial in batch.targets.chunks(per.max(1)) {
        for (m, &t) in mean.iter_mut().zip(trial) {
            *m += f64::from(t);
        }
    }
    let n = batch.n_trials.max(1) as f64;
    let mean: Vec<f32> = mean.iter().map(|m| (m / n) as f32).collect();
    let outputs: Vec<f32> = (0..batch.n_trials)
        .flat_map(|_| mean.iter().copied())
        .collect();
    Ok(task.score(&outputs, batch, reading)?.accuracy())
}

/// The warning for a test `accuracy` that is not [`CHANCE_MARGIN`] above `chance` (from
/// [`chance_accuracy`]), or `None`.
pub fn chance_warning(accuracy: f64, chance: f64) -> Option<String> {
    (accuracy < (chance + CHANCE_MARGIN).min(1.0)).then(|| {
        format!(
            "test accuracy {accuracy:.3} is not above chance level: outputs that ignore the inputs (the mean target at every step) score {chance:.3}. The network has not learned the task; try another train.learning_rate, more train.iterations or another seed"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::Rng;
    use crate::task::{ConditionValue, EpochSpan, Scorer, TaskShape, Trial, TrialError};

    /// Two choices over 2 steps; `answers[i]` is trial i's right channel.
    struct Fixed {
        shape: TaskShape,
    }
    impl Task for Fixed {
        fn name(&self) -> &str {
            "fixed"
        }
        fn shape(&self) -> &TaskShape {
            &self.shape
        }
        fn trial(&self, _: &mut Rng) -> Result<Trial, TrialError> {
            unreachable!("the tests build their batches by hand")
        }
    }

    fn batch(answers: &[usize]) -> Batch {
        let mut b = Batch::empty(answers.len(), 2, 1, 2);
        for (i, &a) in answers.iter().enumerate() {
            for t in 0..2 {
                b.targets[(i * 2 + t) * 2 + a] = 1.0;
                b.mask[(i * 2 + t) * 2] = 1.0;
                b.mask[(i * 2 + t) * 2 + 1] = 1.0;
            }
            b.conditions[i].insert("a".into(), ConditionValue::Number(a as f64));
            b.epochs[i] = vec![EpochSpan {
                name: "all".into(),
                start: 0,
                end: 2,
            }];
        }
        b
    }

    #[test]
    fn chance_is_what_the_mean_target_scores() {
        let task = Fixed {
            shape: TaskShape {
                inputs: vec!["x".into()],
                outputs: vec!["a".into(), "b".into()],
                dt: 10.0,
                tau: 100.0,
                duration: 20.0,
            },
        };
        assert_eq!(Scorer::default(), *task.scorer());
        // Balanced: the mean target ties, argmax takes channel a, right on half the trials.
        let b = batch(&[0, 1, 0, 1]);
        assert_eq!(
            chance_accuracy(&task, &b, OutputReading::Levels).unwrap(),
            0.5
        );
        // 3 of 4 answer b: the mean target says b, right on 3 of 4.
        let b = batch(&[1, 1, 0, 1]);
        assert_eq!(
            chance_accuracy(&task, &b, OutputReading::Logits).unwrap(),
            0.75
        );
        // Always a: chance is 1.
        let b = batch(&[0, 0, 0]);
        assert_eq!(
            chance_accuracy(&task, &b, OutputReading::Levels).unwrap(),
            1.0
        );
    }

    #[test]
    fn warns_within_the_margin_of_chance_only() {
        let w = chance_warning(0.52, 0.5).expect("at chance");
        assert!(
            w.starts_with("test accuracy 0.520 is not above chance level"),
            "{w}"
        );
        assert!(
            w.contains("score 0.500") && w.contains("train.learning_rate"),
            "{w}"
        );
        assert!(chance_warning(0.549, 0.5).is_some());
        assert!(chance_warning(0.55, 0.5).is_none());
        assert!(chance_warning(0.9, 0.5).is_none());
        // A task anything solves: a perfect run is not "at chance".
        assert!(chance_warning(1.0, 1.0).is_none());
        assert!(chance_warning(0.97, 1.0).is_some());
    }
}
