//! The lengths a script task's epochs get over a batch's trials (what `psychrnn check` prints).

use super::ScriptTask;
use crate::random::{stream, Rng};
use crate::task::{Distribution, TrialError};

/// One epoch name's lengths over the trials drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochLengths {
    /// The epoch's name.
    pub name: String,
    /// Its shortest length, in ms.
    pub min_ms: f64,
    /// Its longest length, in ms.
    pub max_ms: f64,
    /// How many of the trials have it.
    pub trials: usize,
    /// The distribution its length is drawn from (`None` for a constant length).
    pub drawn: Option<Distribution>,
    /// Whether it lasts to the end of the trial (no duration of its own).
    pub open_ended: bool,
}

/// The lengths of every epoch (by name, in first-seen order) over trials 0..n of training
/// batch 0 under `seed`, drawn from the same streams as that batch; empty for the per-step
/// form.
pub fn epoch_lengths(
    task: &ScriptTask,
    seed: u64,
    n: usize,
) -> Result<Vec<EpochLengths>, TrialError> {
    let mut lengths: Vec<EpochLengths> = Vec::new();
    for i in 0..n {
        let mut rng = Rng::derive(seed, &[stream::TRAIN, 0, i as u64]);
        let Some(spans) = task.epoch_spans(&mut rng)? else {
            return Ok(Vec::new());
        };
        for (e, d) in &spans {
            let at = match lengths.iter().position(|l| l.name == e.name) {
                Some(at) => at,
                None => {
                    lengths.push(EpochLengths {
                        name: e.name.clone(),
                        min_ms: f64::INFINITY,
                        max_ms: f64::NEG_INFINITY,
                        trials: 0,
                        drawn: match &e.duration {
                            Some(Distribution::Constant(_)) | None => None,
                            Some(dist) => Some(dist.clone()),
                        },
                        open_ended: e.duration.is_none(),
                    });
                    lengths.len() - 1
                }
            };
            let l = &mut lengths[at];
            l.min_ms = l.min_ms.min(*d);
            l.max_ms = l.max_ms.max(*d);
            l.trials += 1;
        }
    }
    Ok(lengths)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::script::{load_experiment_source, LoadOptions};

    #[test]
    fn lengths_match_the_trials_drawn_one_by_one() {
        let text = r#"
            let task = #{
                name: "t", inputs: ["a"], outputs: ["b"], dt: 10.0, tau: 100.0, duration: 1000.0,
                params: |rng| #{ late: rng.uniform(0.0, 1.0) < 0.5 },
                trial: |p| {
                    let e = [#{ name: "fix", duration: dist::uniform(100.0, 300.0) },
                             #{ name: "stim", duration: 200.0 }];
                    if p.late { e.push(#{ name: "late", duration: 100.0 }); }
                    e.push(#{ name: "rest" });
                    e
                },
            };
            experiment(#{ task: task, seed: 7 })
        "#;
        let loaded =
            load_experiment_source("t.rhai", text, Path::new("."), &LoadOptions::default())
                .unwrap();
        let n = 40;
        let lengths = epoch_lengths(&loaded.task, 7, n).unwrap();
        let names: Vec<&str> = lengths.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["fix", "stim", "late", "rest"]);
        // Independently: draw each trial's spans from its own stream and fold by hand.
        let (mut fix, mut late) = (Vec::new(), 0);
        for i in 0..n {
            let mut rng = Rng::derive(7, &[stream::TRAIN, 0, i as u64]);
            let spans = loaded.task.epoch_spans(&mut rng).unwrap().unwrap();
            fix.push(spans[0].1);
            late += spans.iter().filter(|(e, _)| e.name == "late").count();
        }
        let min = fix.iter().copied().fold(f64::INFINITY, f64::min);
        let max = fix.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert_eq!((lengths[0].min_ms, lengths[0].max_ms), (min, max));
        assert!(min < max && lengths[0].drawn.is_some());
        assert_eq!(lengths[1].drawn, None);
        assert_eq!((lengths[1].min_ms, lengths[1].max_ms), (200.0, 200.0));
        assert_eq!(lengths[2].trials, late);
        assert!(0 < late && late < n);
        assert!(lengths[3].open_ended && !lengths[0].open_ended);
        assert_eq!(lengths[3].trials, n);
    }
}
