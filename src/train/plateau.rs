//! `train.stop_on_plateau`: stop when evaluation accuracy has stopped rising.

use serde::{Deserialize, Serialize};

use super::config::MAX_ITERATIONS;
use super::HistoryRow;
use crate::config_error::ConfigError;

/// Stop training once `patience` evaluations in a row have not raised the accuracy more than
/// `min_gain` above the best one so far (Keras' `EarlyStopping` rule, on accuracy). Only the
/// evaluations of the current curriculum stage count.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plateau {
    /// Evaluations without a gain before training stops (at least 1).
    pub patience: usize,
    /// The rise over the best accuracy so far that counts as a gain (0 to 1; default 0: any
    /// rise counts).
    #[serde(default)]
    pub min_gain: f64,
}

impl Plateau {
    /// Checks the settings; the error names the field and its valid range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=MAX_ITERATIONS).contains(&self.patience) {
            return Err(ConfigError::new(
                "train.stop_on_plateau.patience",
                format!(
                    "must be a number of evaluations between 1 and {MAX_ITERATIONS}, got {}",
                    self.patience
                ),
            ));
        }
        if !(0.0..1.0).contains(&self.min_gain) {
            return Err(ConfigError::new(
                "train.stop_on_plateau.min_gain",
                format!("must be an accuracy gain in [0, 1), got {}", self.min_gain),
            ));
        }
        Ok(())
    }

    /// Whether the accuracies of `rows` (one stage's evaluations, in order) have plateaued:
    /// the last `patience` of them each stayed at or below the best before it plus `min_gain`.
    pub fn reached(&self, rows: &[HistoryRow]) -> bool {
        let Some((first, rest)) = rows.split_first() else {
            return false;
        };
        let mut best = first.accuracy;
        let mut without_gain = 0;
        for r in rest {
            if r.accuracy > best + self.min_gain {
                best = r.accuracy;
                without_gain = 0;
            } else {
                without_gain += 1;
            }
        }
        without_gain >= self.patience
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(accuracies: &[f64]) -> Vec<HistoryRow> {
        accuracies
            .iter()
            .enumerate()
            .map(|(k, &accuracy)| HistoryRow {
                iteration: 10 * (k + 1),
                trials_seen: 0,
                loss: 0.0,
                eval_loss: 0.0,
                accuracy,
                stage: "s".into(),
                seconds: 0.0,
            })
            .collect()
    }

    #[test]
    fn stops_after_patience_evaluations_without_a_gain_above_min_gain() {
        let p = Plateau {
            patience: 2,
            min_gain: 0.05,
        };
        assert!(!p.reached(&[]));
        assert!(!p.reached(&rows(&[0.5])));
        // Best 0.5; 0.52 and 0.55 are not more than 0.05 above it: two without a gain.
        assert!(!p.reached(&rows(&[0.5, 0.52])));
        assert!(p.reached(&rows(&[0.5, 0.52, 0.55])));
        // 0.56 is a gain (best becomes 0.56), so the count starts again.
        assert!(!p.reached(&rows(&[0.5, 0.52, 0.56, 0.6])));
        assert!(p.reached(&rows(&[0.5, 0.52, 0.56, 0.6, 0.61])));
        // A fall counts as no gain; the best stays the earlier peak.
        assert!(p.reached(&rows(&[0.9, 0.4, 0.94])));
        // min_gain 0: any rise is a gain, a repeat is not.
        let any = Plateau {
            patience: 1,
            min_gain: 0.0,
        };
        assert!(!any.reached(&rows(&[0.5, 0.51])));
        assert!(any.reached(&rows(&[0.5, 0.5])));
    }

    #[test]
    fn settings_are_checked_with_field_and_range() {
        let err = |p: Plateau| p.validate().unwrap_err().to_string();
        let e = err(Plateau {
            patience: 0,
            min_gain: 0.0,
        });
        assert!(
            e.contains("train.stop_on_plateau.patience") && e.contains("between 1 and"),
            "{e}"
        );
        for bad in [-0.1, 1.0, f64::NAN] {
            let e = err(Plateau {
                patience: 3,
                min_gain: bad,
            });
            assert!(
                e.contains("train.stop_on_plateau.min_gain") && e.contains("[0, 1)"),
                "{e}"
            );
        }
        assert!(Plateau {
            patience: 3,
            min_gain: 0.01
        }
        .validate()
        .is_ok());
        let e = serde_norway::from_str::<Plateau>("{patience: 3, min_gian: 0.1}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("min_gian"), "{e}");
    }
}
