//! `Scorer`: how a task decides whether the network got a trial right. A task map's `score`
//! field picks one (`#{ kind: "angle", … }`, usually from `psychrnn/scorers`) or is a script
//! closure (`score: |trial| …`, kind `script`); without one, PsychRNN's argmax accuracy is used.
//!
//! Every scorer reads the network's outputs together with the trial's targets, mask,
//! conditions and epoch spans, and returns one credit per trial (1 right, 0 wrong, or partial
//! credit from a closure) plus summary metrics (d′ for go/no-go). Under softmax cross-entropy
//! the outputs are logits, and a channel "responds" when it is the largest
//! ([`OutputReading::Logits`]), not when it exceeds a threshold.

use std::f64::consts::PI;

use serde::{Deserialize, Serialize};

use super::{argmax_channel, Batch, ConditionValue, EpochSpan, TaskShape};
use crate::did_you_mean::suggestion;

/// How one trial is scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Scorer {
    /// PsychRNN's rule: the argmax channel of the output equals that of the target. Without
    /// `epoch`, both are the mask-weighted means over the trial; with it, the plain means over
    /// every epoch of that name (each must be right).
    Argmax {
        /// Output channels compared (default: all).
        #[serde(default)]
        channels: Option<Vec<String>>,
        /// Score in this epoch (every epoch of this name) instead of by the mask.
        #[serde(default)]
        epoch: Option<String>,
    },
    /// An angle decoded from the outputs over `epoch` must lie within `tolerance` radians of
    /// condition `target`. With `fixation`, the trial must also release fixation in `epoch`
    /// (or hold it where condition `respond` is 0: a no-go trial).
    Angle {
        /// The ring of output channels (`ring`) or the (cos, sin) pair (`cos_sin`).
        channels: Vec<String>,
        /// `ring` (population vector over channels at 2πk/n) or `cos_sin`.
        #[serde(default)]
        decode: AngleDecode,
        /// Condition holding the correct angle in radians.
        target: String,
        /// Epoch whose mean output is decoded (the last epoch of that name).
        epoch: String,
        /// Largest accepted error in radians (default 0.2π, Yang et al. 2019).
        #[serde(default = "default_angle_tolerance")]
        tolerance: f64,
        /// Fixation output channel (Yang et al. 2019's rule), if the task has one.
        #[serde(default)]
        fixation: Option<String>,
        /// Fixation is held when that channel's mean over `epoch` exceeds this.
        #[serde(default = "half")]
        threshold: f64,
        /// Condition that is 0 on trials where the network must not respond (default: always
        /// respond).
        #[serde(default)]
        respond: Option<String>,
    },
    /// Fixation held: `channel` stays above `threshold` at every step of the named epochs.
    Fixation {
        /// The fixation output channel.
        channel: String,
        /// Epochs where fixation must be held (each trial must have at least one of them).
        epochs: Vec<String>,
        /// Level the output must stay above.
        #[serde(default = "half")]
        threshold: f64,
    },
    /// A produced interval: the first time after the start of epoch `from` that `channel`
    /// exceeds `threshold` must be within `tolerance` · t + `tolerance_ms` of condition
    /// `target` (t, in ms). Ready-set-go's rule (NeuroGym: 0.2 · t + 25 ms).
    Interval {
        /// The output channel whose crossing marks the response.
        channel: String,
        /// The epoch from whose first step the interval is timed.
        from: String,
        /// Condition holding the interval to produce, in ms.
        target: String,
        /// Crossing level.
        #[serde(default = "half")]
        threshold: f64,
        /// Relative tolerance.
        #[serde(default = "default_interval_tolerance")]
        tolerance: f64,
        /// Absolute tolerance in ms, added to the relative one.
        #[serde(default = "default_interval_tolerance_ms")]
        tolerance_ms: f64,
    },
    /// Go/no-go: a response is `channel` exceeding `threshold` anywhere in `epoch`; it is
    /// right when the trial's go `condition` is 1 and wrong when it is 0. Also reports hit rate,
    /// false-alarm rate and d′.
    GoNogo {
        /// The response output channel.
        channel: String,
        /// The epoch in which a response counts.
        epoch: String,
        /// Condition that is 1 on go trials and 0 on no-go trials (`condition` in scripts, since
        /// `go` is a Rhai keyword).
        #[serde(rename = "condition")]
        go: String,
        /// Response level.
        #[serde(default = "half")]
        threshold: f64,
    },
    /// The output has the target's sign on at least `min_fraction` of the (step, channel)
    /// entries where the mask is positive and the target is not 0 (memory of ±1 states, as in
    /// the flip-flop task).
    Sign {
        /// Output channels compared (default: all).
        #[serde(default)]
        channels: Option<Vec<String>>,
        /// Fraction of entries that must agree.
        #[serde(default = "default_min_fraction")]
        min_fraction: f64,
    },
    /// Right only when every scorer in `of` says so.
    All {
        /// The scorers combined.
        of: Vec<Scorer>,
    },
    /// NeuroGym's rule: the response is the first step of `epoch` (the first epoch of that
    /// name) where the largest of the `choices` outputs exceeds the `fixation` output (and
    /// `threshold`, when given); the trial is right when that choice is the answer. The answer
    /// is the choice whose target has the largest mean over the epoch, or, with `target`, the
    /// condition holding the answer's index in `choices`. No response is wrong.
    FirstResponse {
        /// The fixation output channel.
        fixation: String,
        /// The choice output channels.
        choices: Vec<String>,
        /// The epoch in which the response is looked for (NeuroGym's `decision`).
        epoch: String,
        /// Condition holding the index (0-based, into `choices`) of the right choice.
        #[serde(default)]
        target: Option<String>,
        /// A choice must also exceed this level to count as a response (outputs read as
        /// levels only; logits respond by being the largest).
        #[serde(default)]
        threshold: Option<f64>,
    },
    /// The task's own `score: |trial| …` closure; config.yaml records a closure as this kind
    /// (the closure itself stays in the script).
    Script {},
}

/// How scorers read the network's outputs; follows the loss the network is trained with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputReading {
    /// Outputs are levels (mean squared error, binary cross-entropy): a channel responds when
    /// it exceeds the scorer's threshold.
    Levels,
    /// Outputs are the logits of a softmax (softmax cross-entropy): a channel responds when it
    /// is the largest output at that step (or of the mean over an epoch), and a ring of
    /// channels is decoded from the softmax of its mean logits.
    Logits,
}

/// How [`Scorer::Angle`] reads an angle from output channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AngleDecode {
    /// Population vector: atan2(Σ o_k sin θ_k, Σ o_k cos θ_k) with θ_k = 2πk/n.
    #[default]
    Ring,
    /// Two channels holding (cos θ, sin θ): atan2(o_1, o_0).
    CosSin,
}

fn half() -> f64 {
    0.5
}
fn default_angle_tolerance() -> f64 {
    0.2 * PI
}
fn default_interval_tolerance() -> f64 {
    0.2
}
fn default_interval_tolerance_ms() -> f64 {
    25.0
}
fn default_min_fraction() -> f64 {
    0.9
}

impl Default for Scorer {
    fn default() -> Self {
        Scorer::ARGMAX
    }
}

/// Why a scorer cannot be used or cannot score a batch: the scorer's kind and the problem.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("score ({scorer}): {problem}")]
pub struct ScoreError {
    /// The scorer's `kind` (`argmax`, `angle`, …).
    pub scorer: &'static str,
    /// What is wrong.
    pub problem: ScoreProblem,
}

/// What is wrong with a scorer or with what it reads.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScoreProblem {
    /// A channel the scorer names is not an output of the task.
    #[error("{}no output channel `{channel}`; outputs: {}{}", field.map_or(String::new(), |f| format!("{f}: ")), outputs.join(", "), suggestion(channel, outputs.iter().map(String::as_str)))]
    UnknownChannel {
        /// The scorer field naming it (`channels`, `fixation`), when scoring.
        field: Option<&'static str>,
        /// The channel named.
        channel: String,
        /// The task's output channels.
        outputs: Vec<String>,
    },
    /// A setting of the scorer is out of range or empty; says which and what it must be.
    #[error("{0}")]
    Setting(String),
    /// One trial lacks what the scorer reads.
    #[error("trial {trial}: {problem}")]
    Trial {
        /// Index of the trial in its batch.
        trial: usize,
        /// What it lacks.
        problem: TrialProblem,
    },
}

/// What a trial lacks for its scorer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrialProblem {
    /// The condition is text where the scorer needs a number.
    #[error("condition `{name}` is the text \"{text}\", but the scorer needs a number")]
    TextCondition {
        /// The condition.
        name: String,
        /// Its text.
        text: String,
    },
    /// The trial has no condition of that name.
    #[error("no condition `{name}`; its conditions are: {}{}", conditions.join(", "), suggestion(name, conditions.iter().map(String::as_str)))]
    NoCondition {
        /// The condition named.
        name: String,
        /// The trial's conditions.
        conditions: Vec<String>,
    },
    /// The scorer needs an epoch but the task is written per step.
    #[error("the scorer needs epoch `{epoch}`, but the task describes its trials per step and has no epochs")]
    NoEpochs {
        /// The epoch named.
        epoch: String,
    },
    /// The trial has no epoch of that name.
    #[error("no epoch `{epoch}`; its epochs are: {}{}", epochs.join(", "), suggestion(epoch, epochs.iter().map(String::as_str)))]
    NoEpoch {
        /// The epoch named.
        epoch: String,
        /// The trial's epochs, in order.
        epochs: Vec<String>,
    },
    /// The task's `score` closure failed or returned something that is not a score; the
    /// message names the script position and what was returned.
    #[error("{0}")]
    Closure(String),
    /// The condition meant to hold a choice's index does not.
    #[error("condition `{name}` is {value}, but it must be the index (0 to {}) of the right choice in `choices`", choices - 1)]
    BadChoiceIndex {
        /// The condition.
        name: String,
        /// Its value.
        value: f64,
        /// How many choices there are.
        choices: usize,
    },
    /// The epoch has no steps, so the trial cannot be judged.
    #[error("epoch `{epoch}` has no steps (it lasts less than half a step), so the scorer cannot judge the trial; make it longer")]
    EmptyEpoch {
        /// The epoch.
        epoch: String,
    },
}

/// What scoring a batch found.
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    /// One verdict per trial: its credit is at least 0.5.
    pub correct: Vec<bool>,
    /// One credit per trial in [0, 1]: 1 right, 0 wrong; a closure scorer may give partial
    /// credit. Accuracy is their mean.
    pub credit: Vec<f64>,
    /// Named summary values (`hit_rate`, `false_alarm_rate`, `d_prime` for go/no-go).
    pub metrics: Vec<(String, f64)>,
}

impl Scores {
    /// Scores from one verdict per trial (credit 1 or 0).
    pub fn from_verdicts(correct: Vec<bool>, metrics: Vec<(String, f64)>) -> Self {
        let credit = correct.iter().map(|&c| if c { 1.0 } else { 0.0 }).collect();
        Scores {
            correct,
            credit,
            metrics,
        }
    }

    /// Scores from one credit in [0, 1] per trial (verdict: credit ≥ 0.5).
    pub fn from_credit(credit: Vec<f64>, metrics: Vec<(String, f64)>) -> Self {
        let correct = credit.iter().map(|&c| c >= 0.5).collect();
        Scores {
            correct,
            credit,
            metrics,
        }
    }

    /// The mean credit: the fraction of trials scored correct when every credit is 0 or 1
    /// (0 for an empty batch).
    pub fn accuracy(&self) -> f64 {
        if self.credit.is_empty() {
            return 0.0;
        }
        self.credit.iter().sum::<f64>() / self.credit.len() as f64
    }
}

/// One trial's arrays as the scorers see them.
struct TrialView<'a> {
    index: usize,
    n_out: usize,
    outputs: &'a [f32],
    targets: &'a [f32],
    mask: &'a [f32],
    batch: &'a Batch,
    reading: OutputReading,
}

impl TrialView<'_> {
    fn output(&self, step: usize, channel: usize) -> f64 {
        self.outputs[step * self.n_out + channel] as f64
    }

    /// Whether `channel` is the largest output at `step` (ties go to the first channel).
    fn is_largest(&self, step: usize, channel: usize) -> bool {
        let all: Vec<usize> = (0..self.n_out).collect();
        argmax_channel(self.outputs, None, self.n_out, step..step + 1, &all) == channel
    }

    /// Whether `channel` responds at `step`: above `threshold` (levels) or the largest
    /// output (logits).
    fn responds(&self, step: usize, channel: usize, threshold: f64) -> bool {
        match self.reading {
            OutputReading::Levels => self.output(step, channel) > threshold,
            OutputReading::Logits => self.is_largest(step, channel),
        }
    }

    /// Whether `channel` responds on average over `span` (which has steps): its mean above
    /// `threshold` (levels), or the largest mean output (logits).
    fn responds_on_average(&self, span: &EpochSpan, channel: usize, threshold: f64) -> bool {
        match self.reading {
            OutputReading::Levels => {
                self.mean_over(span, &[channel]).expect("span has steps")[0] > threshold
            }
            OutputReading::Logits => {
                let all: Vec<usize> = (0..self.n_out).collect();
                argmax_channel(self.outputs, None, self.n_out, span.start..span.end, &all)
                    == channel
            }
        }
    }

    /// `problem` as a problem of this trial.
    fn problem(&self, problem: TrialProblem) -> ScoreProblem {
        ScoreProblem::Trial {
            trial: self.index,
            problem,
        }
    }

    fn condition(&self, name: &str) -> Result<f64, ScoreProblem> {
        let conditions = &self.batch.conditions[self.index];
        match conditions.get(name) {
            Some(ConditionValue::Number(x)) => Ok(*x),
            Some(ConditionValue::Text(s)) => Err(self.problem(TrialProblem::TextCondition {
                name: name.to_string(),
                text: s.clone(),
            })),
            None => Err(self.problem(TrialProblem::NoCondition {
                name: name.to_string(),
                conditions: conditions.keys().cloned().collect(),
            })),
        }
    }

    fn spans(&self, name: &str) -> Result<Vec<&EpochSpan>, ScoreProblem> {
        let epochs = &self.batch.epochs[self.index];
        let found: Vec<&EpochSpan> = epochs.iter().filter(|e| e.name == name).collect();
        if found.is_empty() {
            let epoch = name.to_string();
            return Err(self.problem(if epochs.is_empty() {
                TrialProblem::NoEpochs { epoch }
            } else {
                TrialProblem::NoEpoch {
                    epoch,
                    epochs: epochs.iter().map(|e| e.name.clone()).collect(),
                }
            }));
        }
        Ok(found)
    }

    /// The epochs named `name` that have steps; an error when the trial has none (a scorer
    /// over an epoch without steps would count the trial right or wrong by default).
    fn spans_with_steps(&self, name: &str) -> Result<Vec<&EpochSpan>, ScoreProblem> {
        let found: Vec<&EpochSpan> = self
            .spans(name)?
            .into_iter()
            .filter(|s| s.end > s.start)
            .collect();
        if found.is_empty() {
            return Err(self.no_steps(name));
        }
        Ok(found)
    }

    fn no_steps(&self, name: &str) -> ScoreProblem {
        self.problem(TrialProblem::EmptyEpoch {
            epoch: name.to_string(),
        })
    }

    /// Mean output of each of `channels` over `span` (None when the span is empty).
    fn mean_over(&self, span: &EpochSpan, channels: &[usize]) -> Option<Vec<f64>> {
        if span.end <= span.start {
            return None;
        }
        let n = (span.end - span.start) as f64;
        Some(
            channels
                .iter()
                .map(|&c| {
                    (span.start..span.end)
                        .map(|t| self.output(t, c))
                        .sum::<f64>()
                        / n
                })
                .collect(),
        )
    }
}

/// Index of each named channel among `names`, or an error listing the valid names; `field`
/// names the scorer field in the message (none while validating).
fn channel_indices(
    field: Option<&'static str>,
    wanted: &[String],
    names: &[String],
) -> Result<Vec<usize>, ScoreProblem> {
    wanted
        .iter()
        .map(|w| {
            names
                .iter()
                .position(|n| n == w)
                .ok_or_else(|| ScoreProblem::UnknownChannel {
                    field,
                    channel: w.clone(),
                    outputs: names.to_vec(),
                })
        })
        .collect()
}

fn all_or(
    field: Option<&'static str>,
    channels: &Option<Vec<String>>,
    names: &[String],
) -> Result<Vec<usize>, ScoreProblem> {
    match channels {
        Some(c) => channel_indices(field, c, names),
        None => Ok((0..names.len()).collect()),
    }
}

/// The angle in (−π, π] equal to `a` modulo 2π.
pub fn wrap_angle(a: f64) -> f64 {
    let r = a.rem_euclid(2.0 * PI);
    if r > PI {
        r - 2.0 * PI
    } else {
        r
    }
}

/// Φ⁻¹, the standard normal quantile (Acklam's rational approximation, |error| < 1.2e-9).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.38357751867269e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    let low = 0.02425;
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    if p < low {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - low {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -normal_quantile(1.0 - p)
    }
}

/// d′ = Φ⁻¹(hit rate) − Φ⁻¹(false-alarm rate), with the log-linear correction
/// (hits + 0.5)/(go trials + 1) so that perfect rates stay finite.
pub fn d_prime(hits: usize, go_trials: usize, false_alarms: usize, nogo_trials: usize) -> f64 {
    let rate = |k: usize, n: usize| (k as f64 + 0.5) / (n as f64 + 1.0);
    normal_quantile(rate(hits, go_trials)) - normal_quantile(rate(false_alarms, nogo_trials))
}

impl Scorer {
    /// PsychRNN's argmax over all channels, weighted by the mask.
    pub const ARGMAX: Scorer = Scorer::Argmax {
        channels: None,
        epoch: None,
    };

    /// The scorer's name as written in `kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            Scorer::Argmax { .. } => "argmax",
            Scorer::Angle { .. } => "angle",
            Scorer::Fixation { .. } => "fixation",
            Scorer::Interval { .. } => "interval",
            Scorer::GoNogo { .. } => "go_nogo",
            Scorer::Sign { .. } => "sign",
            Scorer::All { .. } => "all",
            Scorer::FirstResponse { .. } => "first_response",
            Scorer::Script { .. } => "script",
        }
    }

    /// Checks channel names and numbers against the task's shape.
    pub fn validate(&self, shape: &TaskShape) -> Result<(), ScoreError> {
        match self {
            // A nested scorer's error names that scorer.
            Scorer::All { of } if !of.is_empty() => of.iter().try_for_each(|s| s.validate(shape)),
            _ => self.check(shape).map_err(|problem| ScoreError {
                scorer: self.kind(),
                problem,
            }),
        }
    }

    /// [`Self::validate`] for one scorer (the scorers inside `all` are checked by
    /// [`Self::validate`]).
    fn check(&self, shape: &TaskShape) -> Result<(), ScoreProblem> {
        let outs = &shape.outputs;
        let positive = |what: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(ScoreProblem::Setting(format!(
                    "{what} must be a number ≥ 0, got {v}"
                )))
            }
        };
        match self {
            Scorer::Argmax { channels, .. } => {
                let c = all_or(None, channels, outs)?;
                if c.is_empty() {
                    return Err(ScoreProblem::Setting("channels is empty".into()));
                }
            }
            Scorer::Angle {
                channels,
                decode,
                tolerance,
                fixation,
                ..
            } => {
                channel_indices(None, channels, outs)?;
                if let Some(f) = fixation {
                    channel_indices(None, std::slice::from_ref(f), outs)?;
                }
                match decode {
                    AngleDecode::Ring if channels.len() < 3 => {
                        return Err(ScoreProblem::Setting(format!(
                            "a ring needs at least 3 channels, got {}",
                            channels.len()
                        )))
                    }
                    AngleDecode::CosSin if channels.len() != 2 => {
                        return Err(ScoreProblem::Setting(format!(
                            "decode cos_sin needs exactly 2 channels (cos, sin), got {}",
                            channels.len()
                        )))
                    }
                    _ => {}
                }
                positive("tolerance", *tolerance)?;
            }
            Scorer::Fixation {
                channel, epochs, ..
            } => {
                channel_indices(None, std::slice::from_ref(channel), outs)?;
                if epochs.is_empty() {
                    return Err(ScoreProblem::Setting("epochs is empty".into()));
                }
            }
            Scorer::Interval {
                channel,
                tolerance,
                tolerance_ms,
                ..
            } => {
                channel_indices(None, std::slice::from_ref(channel), outs)?;
                positive("tolerance", *tolerance)?;
                positive("tolerance_ms", *tolerance_ms)?;
            }
            Scorer::GoNogo { channel, .. } => {
                channel_indices(None, std::slice::from_ref(channel), outs)?;
            }
            Scorer::Sign {
                channels,
                min_fraction,
            } => {
                all_or(None, channels, outs)?;
                if !(0.0..=1.0).contains(min_fraction) {
                    return Err(ScoreProblem::Setting(format!(
                        "min_fraction must be between 0 and 1, got {min_fraction}"
                    )));
                }
            }
            Scorer::All { of } => {
                if of.is_empty() {
                    return Err(ScoreProblem::Setting("`of` lists no scorers".into()));
                }
            }
            Scorer::FirstResponse {
                fixation,
                choices,
                threshold,
                ..
            } => {
                channel_indices(None, std::slice::from_ref(fixation), outs)?;
                channel_indices(None, choices, outs)?;
                if choices.is_empty() {
                    return Err(ScoreProblem::Setting("choices is empty".into()));
                }
                if choices.contains(fixation) {
                    return Err(ScoreProblem::Setting(format!(
                        "choices lists the fixation channel `{fixation}`; list only the choice outputs"
                    )));
                }
                if let Some(t) = threshold {
                    if !t.is_finite() {
                        return Err(ScoreProblem::Setting(format!(
                            "threshold must be a number, got {t}"
                        )));
                    }
                }
            }
            Scorer::Script {} => {}
        }
        Ok(())
    }

    /// Scores every trial of `batch` given the network's `outputs` ([B, T, N_out]), read as
    /// `reading` says (see [`OutputReading`]).
    pub fn score(
        &self,
        outputs: &[f32],
        batch: &Batch,
        shape: &TaskShape,
        reading: OutputReading,
    ) -> Result<Scores, ScoreError> {
        assert_eq!(outputs.len(), batch.targets.len());
        let prefix = |problem: ScoreProblem| ScoreError {
            scorer: self.kind(),
            problem,
        };
        let per = batch.n_steps * batch.n_out;
        let view = |i: usize| TrialView {
            index: i,
            n_out: batch.n_out,
            outputs: &outputs[i * per..(i + 1) * per],
            targets: &batch.targets[i * per..(i + 1) * per],
            mask: &batch.mask[i * per..(i + 1) * per],
            batch,
            reading,
        };
        let outs = &shape.outputs;
        let mut metrics = Vec::new();
        let correct: Vec<bool> = match self {
            Scorer::Argmax { channels, epoch } => {
                let c = all_or(Some("channels"), channels, outs).map_err(prefix)?;
                (0..batch.n_trials)
                    .map(|i| argmax_trial(&view(i), &c, epoch.as_deref()).map_err(prefix))
                    .collect::<Result<_, _>>()?
            }
            Scorer::Angle {
                channels,
                decode,
                target,
                epoch,
                tolerance,
                fixation,
                threshold,
                respond,
            } => {
                let c = channel_indices(Some("channels"), channels, outs).map_err(prefix)?;
                let f = match fixation {
                    Some(f) => Some(
                        channel_indices(Some("fixation"), std::slice::from_ref(f), outs)
                            .map_err(prefix)?[0],
                    ),
                    None => None,
                };
                (0..batch.n_trials)
                    .map(|i| {
                        let v = view(i);
                        let span = *v.spans(epoch)?.last().expect("spans is non-empty");
                        if span.end <= span.start {
                            return Err(v.no_steps(epoch));
                        }
                        let must_respond = match respond {
                            Some(r) => v.condition(r)? != 0.0,
                            None => true,
                        };
                        let Some(mut ring) = v.mean_over(span, &c) else {
                            return Ok(false);
                        };
                        let fixating = match f {
                            Some(f) => v.responds_on_average(span, f, *threshold),
                            None => false,
                        };
                        if !must_respond {
                            return Ok(match (f, reading) {
                                (Some(_), _) => fixating,
                                (None, OutputReading::Levels) => {
                                    ring.iter().all(|&o| o < *threshold)
                                }
                                (None, OutputReading::Logits) => {
                                    !c.iter().any(|&k| v.responds_on_average(span, k, *threshold))
                                }
                            });
                        }
                        if reading == OutputReading::Logits && *decode == AngleDecode::Ring {
                            ring = softmax(&ring);
                        }
                        let decoded = decode_angle(*decode, &ring);
                        let err = wrap_angle(decoded - v.condition(target)?).abs();
                        Ok(err <= *tolerance && !fixating)
                    })
                    .collect::<Result<_, ScoreProblem>>()
                    .map_err(prefix)?
            }
            Scorer::Fixation {
                channel,
                epochs,
                threshold,
            } => {
                let c = channel_indices(Some("channel"), std::slice::from_ref(channel), outs)
                    .map_err(prefix)?[0];
                (0..batch.n_trials)
                    .map(|i| {
                        let v = view(i);
                        let spans: Vec<&EpochSpan> = batch.epochs[i]
                            .iter()
                            .filter(|e| epochs.contains(&e.name))
                            .collect();
                        if spans.is_empty() {
                            // Name the first missing epoch, with the trial's epochs.
                            v.spans(&epochs[0])?;
                        }
                        if spans.iter().all(|s| s.end <= s.start) {
                            return Err(v.no_steps(&spans[0].name));
                        }
                        Ok(spans
                            .iter()
                            .all(|s| (s.start..s.end).all(|t| v.responds(t, c, *threshold))))
                    })
                    .collect::<Result<_, ScoreProblem>>()
                    .map_err(prefix)?
            }
            Scorer::Interval {
                channel,
                from,
                target,
                threshold,
                tolerance,
                tolerance_ms,
            } => {
                let c = channel_indices(Some("channel"), std::slice::from_ref(channel), outs)
                    .map_err(prefix)?[0];
                (0..batch.n_trials)
                    .map(|i| {
                        let v = view(i);
                        let start = v.spans(from)?[0].start;
                        if start >= batch.n_steps {
                            return Err(v.no_steps(from));
                        }
                        let want = v.condition(target)?;
                        Ok(
                            match (start..batch.n_steps).find(|&t| v.responds(t, c, *threshold)) {
                                Some(t) => {
                                    let produced = (t - start) as f64 * shape.dt;
                                    (produced - want).abs() <= tolerance * want + tolerance_ms
                                }
                                None => false,
                            },
                        )
                    })
                    .collect::<Result<_, ScoreProblem>>()
                    .map_err(prefix)?
            }
            Scorer::GoNogo {
                channel,
                epoch,
                go,
                threshold,
            } => {
                let c = channel_indices(Some("channel"), std::slice::from_ref(channel), outs)
                    .map_err(prefix)?[0];
                let (mut hits, mut n_go, mut fas, mut n_nogo) = (0, 0, 0, 0);
                let verdicts = (0..batch.n_trials)
                    .map(|i| {
                        let v = view(i);
                        let is_go = v.condition(go)? != 0.0;
                        let responded = v
                            .spans_with_steps(epoch)?
                            .iter()
                            .any(|s| (s.start..s.end).any(|t| v.responds(t, c, *threshold)));
                        if is_go {
                            n_go += 1;
                            hits += responded as usize;
                        } else {
                            n_nogo += 1;
                            fas += responded as usize;
                        }
                        Ok(responded == is_go)
                    })
                    .collect::<Result<_, ScoreProblem>>()
                    .map_err(prefix)?;
                let rate = |k: usize, n: usize| {
                    if n == 0 {
                        f64::NAN
                    } else {
                        k as f64 / n as f64
                    }
                };
                metrics.push(("hit_rate".into(), rate(hits, n_go)));
                metrics.push(("false_alarm_rate".into(), rate(fas, n_nogo)));
                metrics.push(("d_prime".into(), d_prime(hits, n_go, fas, n_nogo)));
                verdicts
            }
            Scorer::Sign {
                channels,
                min_fraction,
            } => {
                let c = all_or(Some("channels"), channels, outs).map_err(prefix)?;
                (0..batch.n_trials)
                    .map(|i| {
                        let v = view(i);
                        let (mut agree, mut total) = (0usize, 0usize);
                        for t in 0..batch.n_steps {
                            for &k in &c {
                                let at = t * batch.n_out + k;
                                if v.mask[at] > 0.0 && v.targets[at] != 0.0 {
                                    total += 1;
                                    agree +=
                                        ((v.outputs[at] > 0.0) == (v.targets[at] > 0.0)) as usize;
                                }
                            }
                        }
                        total == 0 || agree as f64 >= min_fraction * total as f64
                    })
                    .collect()
            }
            Scorer::All { of } => {
                let mut all = vec![true; batch.n_trials];
                for s in of {
                    let part = s.score(outputs, batch, shape, reading)?;
                    for (a, p) in all.iter_mut().zip(&part.correct) {
                        *a &= p;
                    }
                    metrics.extend(part.metrics);
                }
                all
            }
            Scorer::FirstResponse {
                fixation,
                choices,
                epoch,
                target,
                threshold,
            } => {
                let f = channel_indices(Some("fixation"), std::slice::from_ref(fixation), outs)
                    .map_err(prefix)?[0];
                let c = channel_indices(Some("choices"), choices, outs).map_err(prefix)?;
                (0..batch.n_trials)
                    .map(|i| {
                        let v = view(i);
                        let span = v.spans_with_steps(epoch)?[0];
                        let answer = match target {
                            Some(name) => {
                                let k = v.condition(name)?;
                                if !(k >= 0.0 && k.fract() == 0.0 && (k as usize) < c.len()) {
                                    return Err(v.problem(TrialProblem::BadChoiceIndex {
                                        name: name.clone(),
                                        value: k,
                                        choices: c.len(),
                                    }));
                                }
                                k as usize
                            }
                            None => argmax_channel(
                                v.targets,
                                None,
                                v.n_out,
                                span.start..span.end,
                                &c,
                            ),
                        };
                        Ok(first_response(&v, span, f, &c, *threshold) == Some(answer))
                    })
                    .collect::<Result<_, ScoreProblem>>()
                    .map_err(prefix)?
            }
            Scorer::Script {} => {
                return Err(prefix(ScoreProblem::Setting(
                    "kind `script` is scored by the task's `score: |trial| …` closure, and this task has none; write the closure in the task map".into(),
                )))
            }
        };
        Ok(Scores::from_verdicts(correct, metrics))
    }
}

/// NeuroGym's response rule: the position in `choices` of the first choice, in the steps of
/// `span`, whose output is the largest of the choices and exceeds the fixation output `f` (and
/// `threshold`, if given, when outputs are levels); `None` when the network never responds.
fn first_response(
    v: &TrialView,
    span: &EpochSpan,
    f: usize,
    choices: &[usize],
    threshold: Option<f64>,
) -> Option<usize> {
    (span.start..span.end).find_map(|t| {
        let k = argmax_channel(v.outputs, None, v.n_out, t..t + 1, choices);
        let o = v.output(t, choices[k]);
        let above = match (v.reading, threshold) {
            (OutputReading::Levels, Some(level)) => o > level,
            _ => true,
        };
        (o > v.output(t, f) && above).then_some(k)
    })
}

/// The softmax of `x`.
fn softmax(x: &[f64]) -> Vec<f64> {
    let max = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = x.iter().map(|v| (v - max).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.iter().map(|v| v / sum).collect()
}

/// The angle [`Scorer::Angle`] reads from mean outputs.
pub fn decode_angle(decode: AngleDecode, outputs: &[f64]) -> f64 {
    match decode {
        AngleDecode::CosSin => outputs[1].atan2(outputs[0]),
        AngleDecode::Ring => {
            let n = outputs.len() as f64;
            let (mut s, mut c) = (0.0, 0.0);
            for (k, o) in outputs.iter().enumerate() {
                let theta = 2.0 * PI * k as f64 / n;
                s += o * theta.sin();
                c += o * theta.cos();
            }
            s.atan2(c)
        }
    }
}

fn argmax_trial(
    v: &TrialView,
    channels: &[usize],
    epoch: Option<&str>,
) -> Result<bool, ScoreProblem> {
    let steps = v.outputs.len() / v.n_out;
    let pick = |values: &[f32], t0: usize, t1: usize, mask: Option<&[f32]>| {
        argmax_channel(values, mask, v.n_out, t0..t1, channels)
    };
    match epoch {
        None => {
            Ok(pick(v.outputs, 0, steps, Some(v.mask)) == pick(v.targets, 0, steps, Some(v.mask)))
        }
        Some(name) => Ok(v.spans_with_steps(name)?.iter().all(|s| {
            pick(v.outputs, s.start, s.end, None) == pick(v.targets, s.start, s.end, None)
        })),
    }
}

#[cfg(test)]
mod tests {
    //! Every expected value here is worked out by hand (see the comments) or by a method
    //! unrelated to the implementation's (bisection on a series for erf instead of Acklam's
    //! rational approximation; explicit loops instead of `argmax_choices`).

    use super::*;
    use crate::task::{argmax_accuracy, Conditions};
    use std::f64::consts::SQRT_2;
    use std::ops::Range;

    const DT: f64 = 10.0;

    // ---------- helpers ----------

    fn shape_of(outputs: Vec<String>, n_steps: usize) -> TaskShape {
        TaskShape {
            inputs: vec!["in".into()],
            outputs,
            dt: DT,
            tau: 100.0,
            duration: n_steps as f64 * DT,
        }
    }

    fn shape(outputs: &[&str], n_steps: usize) -> TaskShape {
        shape_of(outputs.iter().map(|s| s.to_string()).collect(), n_steps)
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn ring_names() -> Vec<String> {
        (0..8).map(|k| format!("r{k}")).collect()
    }

    fn span(name: &str, start: usize, end: usize) -> EpochSpan {
        EpochSpan {
            name: name.into(),
            start,
            end,
        }
    }

    fn conds(pairs: &[(&str, f64)]) -> Conditions {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), ConditionValue::Number(*v)))
            .collect()
    }

    /// A zero batch of `n_trials` trials shaped like `shape`, and zero outputs for it.
    fn blank(shape: &TaskShape, n_trials: usize) -> (Batch, Vec<f32>) {
        let b = Batch::empty(n_trials, shape.n_steps(), shape.n_in(), shape.n_out());
        let outputs = vec![0.0; b.targets.len()];
        (b, outputs)
    }

    fn at(b: &Batch, trial: usize, step: usize, channel: usize) -> usize {
        (trial * b.n_steps + step) * b.n_out + channel
    }

    /// Sets `channel` of `trial` to `value` at every step of `steps`.
    fn fill(
        buf: &mut [f32],
        b: &Batch,
        trial: usize,
        steps: Range<usize>,
        channel: usize,
        value: f32,
    ) {
        for t in steps {
            buf[at(b, trial, t, channel)] = value;
        }
    }

    fn fill_targets(b: &mut Batch, trial: usize, steps: Range<usize>, channel: usize, value: f32) {
        let idx: Vec<usize> = steps.map(|t| at(b, trial, t, channel)).collect();
        idx.into_iter().for_each(|k| b.targets[k] = value);
    }

    fn fill_mask(b: &mut Batch, trial: usize, steps: Range<usize>, channel: usize, value: f32) {
        let idx: Vec<usize> = steps.map(|t| at(b, trial, t, channel)).collect();
        idx.into_iter().for_each(|k| b.mask[k] = value);
    }

    fn score(s: &Scorer, outputs: &[f32], b: &Batch, sh: &TaskShape) -> Scores {
        s.validate(sh).expect("valid scorer");
        s.score(outputs, b, sh, OutputReading::Levels)
            .expect("scoring succeeds")
    }

    fn metric(scores: &Scores, name: &str) -> f64 {
        scores
            .metrics
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no metric {name} in {:?}", scores.metrics))
            .1
    }

    /// erf from its everywhere-convergent series with terms of one sign:
    /// erf(x) = 2/√π · e^(−x²) · Σₙ 2ⁿ x^(2n+1) / (1·3·5···(2n+1)).
    fn erf_series(x: f64) -> f64 {
        let (mut term, mut sum, mut n) = (x, x, 0u32);
        while term.abs() > 1e-18 * sum.abs() {
            n += 1;
            term *= 2.0 * x * x / f64::from(2 * n + 1);
            sum += term;
        }
        2.0 / PI.sqrt() * (-x * x).exp() * sum
    }

    /// Φ⁻¹(p) by bisection on Φ(z) = (1 + erf(z/√2))/2.
    fn quantile_by_bisection(p: f64) -> f64 {
        let (mut lo, mut hi) = (-12.0f64, 12.0f64);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if 0.5 * (1.0 + erf_series(mid / SQRT_2)) < p {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    }

    // ---------- normal_quantile, d_prime, wrap_angle ----------

    #[test]
    fn reference_quantile_matches_published_table() {
        // Standard normal quantiles as tabulated (Abramowitz & Stegun 26.2; R's qnorm).
        for (p, z) in [
            (0.5, 0.0),
            (0.975, 1.959963984540054),
            (0.95, 1.6448536269514722),
            (0.75, 0.6744897501960817),
            (0.01, -2.326347874040841),
            (0.8413447460685429, 1.0), // Φ(1)
        ] {
            assert!((quantile_by_bisection(p) - z).abs() < 1e-9, "p = {p}");
        }
    }

    #[test]
    fn normal_quantile_known_values_and_symmetry() {
        assert!(normal_quantile(0.5).abs() < 1e-12);
        assert!((normal_quantile(0.975) - 1.959963985).abs() < 1e-6);
        assert!((normal_quantile(0.01) - -2.326347874).abs() < 1e-6);
        assert!((normal_quantile(0.025) - -1.959963985).abs() < 1e-6);
        assert!((normal_quantile(0.99) - 2.326347874).abs() < 1e-6);
        assert_eq!(normal_quantile(0.0), f64::NEG_INFINITY);
        assert_eq!(normal_quantile(1.0), f64::INFINITY);
        // Every region of the approximation (tails below 0.02425 and above 0.97575, and the
        // centre) against bisection, and Φ⁻¹(1 − p) = −Φ⁻¹(p).
        let mut p = 1e-4;
        while p < 1.0 - 1e-4 {
            let z = normal_quantile(p);
            assert!((z - quantile_by_bisection(p)).abs() < 1e-7, "p = {p}");
            assert!((z + normal_quantile(1.0 - p)).abs() < 1e-8, "p = {p}");
            p += 0.00731;
        }
        for p in [0.02425, 0.024249, 0.024251, 0.97575] {
            assert!((normal_quantile(p) - quantile_by_bisection(p)).abs() < 1e-7);
        }
    }

    #[test]
    fn d_prime_uses_log_linear_rates() {
        // Rates (45 + 0.5)/(50 + 1) and (5 + 0.5)/(50 + 1).
        let want = quantile_by_bisection(45.5 / 51.0) - quantile_by_bisection(5.5 / 51.0);
        assert!((d_prime(45, 50, 5, 50) - want).abs() < 1e-6);
        // 5.5/51 = 1 − 45.5/51, so d′ is twice one quantile: Φ⁻¹(0.89216) ≈ 1.2377.
        assert!((want - 2.0 * quantile_by_bisection(45.5 / 51.0)).abs() < 1e-9);
        assert!((want - 2.4754).abs() < 1e-3);
        // Equal rates give 0; perfect rates stay finite: Φ⁻¹(50.5/51) − Φ⁻¹(0.5/51).
        assert!(d_prime(10, 20, 10, 20).abs() < 1e-9);
        let perfect = d_prime(50, 50, 0, 50);
        assert!(perfect.is_finite());
        let want = quantile_by_bisection(50.5 / 51.0) - quantile_by_bisection(0.5 / 51.0);
        assert!((perfect - want).abs() < 1e-6);
    }

    #[test]
    fn wrap_angle_maps_into_half_open_interval() {
        assert!((wrap_angle(1.5 * PI) - -0.5 * PI).abs() < 1e-12);
        assert!((wrap_angle(-1.5 * PI) - 0.5 * PI).abs() < 1e-12);
        assert!((wrap_angle(PI) - PI).abs() < 1e-12);
        assert!((wrap_angle(-PI) - PI).abs() < 1e-12, "−π maps to +π");
        assert_eq!(wrap_angle(0.0), 0.0);
        assert!((wrap_angle(0.3 + 6.0 * PI) - 0.3).abs() < 1e-12);
        assert!((wrap_angle(-0.3 - 4.0 * PI) - -0.3).abs() < 1e-12);
        let mut a = -20.0;
        while a < 20.0 {
            let w = wrap_angle(a);
            assert!(w > -PI && w <= PI, "wrap_angle({a}) = {w}");
            // Same angle: same cosine and sine.
            assert!((w.cos() - a.cos()).abs() < 1e-12 && (w.sin() - a.sin()).abs() < 1e-12);
            a += 0.0917;
        }
    }

    // ---------- angle ----------

    /// 0.5 + 0.5·cos(θₖ − centre) at θₖ = 2πk/8. Its population vector points exactly at
    /// `centre`: Σₖ cos(θₖ − c)·e^{iθₖ} = (8/2)·e^{ic}, and the constant part sums to 0.
    fn bump(centre: f64) -> Vec<f64> {
        (0..8)
            .map(|k| 0.5 + 0.5 * (2.0 * PI * k as f64 / 8.0 - centre).cos())
            .collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn angle(
        channels: Vec<String>,
        decode: AngleDecode,
        target: &str,
        epoch: &str,
        tolerance: f64,
        fixation: Option<&str>,
        respond: Option<&str>,
    ) -> Scorer {
        Scorer::Angle {
            channels,
            decode,
            target: target.into(),
            epoch: epoch.into(),
            tolerance,
            fixation: fixation.map(Into::into),
            threshold: 0.5,
            respond: respond.map(Into::into),
        }
    }

    /// Writes a bump centred at `centre` into the ring channels (1..=8) of `steps`.
    fn put_bump(buf: &mut [f32], b: &Batch, trial: usize, steps: Range<usize>, centre: f64) {
        let v = bump(centre);
        for t in steps {
            for (k, x) in v.iter().enumerate() {
                buf[at(b, trial, t, 1 + k)] = *x as f32;
            }
        }
    }

    #[test]
    fn an_epoch_without_steps_is_an_error_for_every_scorer_that_reads_it() {
        // Trial 0's `response` is empty (steps 10..10): no scorer may count it right or wrong.
        let sh = shape(&["fix", "y"], 10);
        let (mut b, o) = blank(&sh, 1);
        b.epochs[0] = vec![span("fixation", 0, 10), span("response", 10, 10)];
        b.conditions[0] = conds(&[("go", 1.0), ("angle", 0.0)]);
        let scorers = [
            Scorer::Argmax {
                channels: None,
                epoch: Some("response".into()),
            },
            Scorer::GoNogo {
                channel: "y".into(),
                epoch: "response".into(),
                go: "go".into(),
                threshold: 0.5,
            },
            Scorer::Fixation {
                channel: "fix".into(),
                epochs: names(&["response"]),
                threshold: 0.5,
            },
        ];
        for s in scorers {
            let err = s
                .score(&o, &b, &sh, OutputReading::Levels)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("trial 0: epoch `response` has no steps"),
                "{}: {err}",
                s.kind()
            );
        }
        let ring = ring_names();
        let sh = shape_of([vec!["fix".to_string()], ring.clone()].concat(), 10);
        let (mut b, o) = blank(&sh, 1);
        b.epochs[0] = vec![span("fixation", 0, 10), span("response", 10, 10)];
        b.conditions[0] = conds(&[("angle", 0.0)]);
        let s = angle(
            ring,
            AngleDecode::Ring,
            "angle",
            "response",
            0.6,
            None,
            None,
        );
        let err = s
            .score(&o, &b, &sh, OutputReading::Levels)
            .unwrap_err()
            .to_string();
        assert!(err.contains("epoch `response` has no steps"), "{err}");
    }

    #[test]
    fn decode_angle_by_hand() {
        let d = decode_angle(AngleDecode::Ring, &bump(1.0));
        assert!((d - 1.0).abs() < 1e-12);
        let d = decode_angle(AngleDecode::Ring, &bump(-2.5));
        assert!((d - -2.5).abs() < 1e-12);
        // One active channel k = 2 of 8 sits at 2π·2/8 = π/2.
        let mut one = vec![0.0; 8];
        one[2] = 0.7;
        assert!((decode_angle(AngleDecode::Ring, &one) - PI / 2.0).abs() < 1e-12);
        // Channels 1 and 2 equally active: halfway between π/4 and π/2.
        one[1] = 0.7;
        assert!((decode_angle(AngleDecode::Ring, &one) - 3.0 * PI / 8.0).abs() < 1e-12);
        // Channel 5 of 8 is at 5π/4, i.e. −3π/4.
        let mut five = vec![0.0; 8];
        five[5] = 1.0;
        assert!((decode_angle(AngleDecode::Ring, &five) - -0.75 * PI).abs() < 1e-12);
        // (cos, sin) pairs, in every quadrant.
        for a in [0.4f64, 2.0, -2.5, -0.9] {
            let d = decode_angle(AngleDecode::CosSin, &[0.3 * a.cos(), 0.3 * a.sin()]);
            assert!((d - a).abs() < 1e-12, "{a}");
        }
    }

    /// 9 outputs (fix, r0..r7), 10 steps: fixation 0..4, stimulus 4..6, response 6..10.
    fn ring_shape() -> TaskShape {
        let mut outs = vec!["fix".to_string()];
        outs.extend(ring_names());
        shape_of(outs, 10)
    }

    fn ring_epochs() -> Vec<EpochSpan> {
        vec![
            span("fixation", 0, 4),
            span("stimulus", 4, 6),
            span("response", 6, 10),
        ]
    }

    #[test]
    fn angle_ring_decodes_the_response_epoch_mean() {
        let sh = ring_shape();
        let targets = [1.1, 1.0 + PI / 2.0, 1.0 + 2.0 * PI - 0.15, 0.75, 1.0];
        let (mut b, mut o) = blank(&sh, targets.len());
        // Perturbations that cancel in pairs, so only the epoch mean is a clean bump.
        let d = [0.3, -0.2, 0.1, 0.25, -0.3, 0.05, 0.2, -0.15];
        let e = [-0.1, 0.4, -0.35, 0.0, 0.15, -0.25, 0.3, 0.1];
        let centre = bump(1.0);
        for (i, &target) in targets.iter().enumerate() {
            b.epochs[i] = ring_epochs();
            b.conditions[i] = conds(&[("theta", target), ("coherence", 0.5)]);
            // Before the response the outputs point elsewhere (−2 rad); fixation is high
            // throughout, which is ignored without `fixation`.
            put_bump(&mut o, &b, i, 0..6, -2.0);
            fill(&mut o, &b, i, 0..10, 0, 1.0);
            for k in 0..8 {
                o[at(&b, i, 6, 1 + k)] = (centre[k] + d[k]) as f32;
                o[at(&b, i, 7, 1 + k)] = (centre[k] - d[k]) as f32;
                o[at(&b, i, 8, 1 + k)] = (centre[k] + e[k]) as f32;
                o[at(&b, i, 9, 1 + k)] = (centre[k] - e[k]) as f32;
            }
        }
        let s = angle(
            ring_names(),
            AngleDecode::Ring,
            "theta",
            "response",
            0.2,
            None,
            None,
        );
        // 1.1: off by 0.1 → right; 1 + π/2: off by π/2 → wrong; 1 + 2π − 0.15: off by 0.15
        // once wrapped → right; 0.75: off by 0.25 → wrong; 1.0 → right.
        assert_eq!(
            score(&s, &o, &b, &sh).correct,
            [true, false, true, false, true]
        );
        // The decoded angle is 1.0 to within 1e-6 (the outputs are f32).
        let s = angle(
            ring_names(),
            AngleDecode::Ring,
            "theta",
            "response",
            1e-6,
            None,
            None,
        );
        assert_eq!(
            score(&s, &o, &b, &sh).correct,
            [false, false, false, false, true]
        );
        for target in [1.0 + 3e-6, 1.0 - 3e-6] {
            b.conditions[4] = conds(&[("theta", target)]);
            assert!(!score(&s, &o, &b, &sh).correct[4]);
        }
    }

    #[test]
    fn angle_uses_the_last_epoch_of_that_name() {
        let sh = ring_shape();
        let (mut b, mut o) = blank(&sh, 2);
        for (i, target) in [1.0, -2.0].into_iter().enumerate() {
            b.epochs[i] = vec![
                span("response", 0, 3),
                span("delay", 3, 6),
                span("response", 6, 10),
            ];
            b.conditions[i] = conds(&[("theta", target)]);
            put_bump(&mut o, &b, i, 0..3, -2.0);
            put_bump(&mut o, &b, i, 6..10, 1.0);
        }
        let s = angle(
            ring_names(),
            AngleDecode::Ring,
            "theta",
            "response",
            0.2,
            None,
            None,
        );
        assert_eq!(score(&s, &o, &b, &sh).correct, [true, false]);
    }

    #[test]
    fn angle_cos_sin_wraps_the_error() {
        let sh = shape(&["fix", "cos", "sin"], 10);
        let (mut b, mut o) = blank(&sh, 3);
        // (decoded, target): 3.0 vs −3.0 differ by 2π − 6 ≈ 0.2832 once wrapped.
        for (i, (decoded, target)) in [(3.0f64, -3.0), (-2.0, -2.0), (0.5, -0.5)]
            .into_iter()
            .enumerate()
        {
            b.epochs[i] = ring_epochs();
            b.conditions[i] = conds(&[("theta", target)]);
            fill(&mut o, &b, i, 6..10, 1, (0.7 * decoded.cos()) as f32);
            fill(&mut o, &b, i, 6..10, 2, (0.7 * decoded.sin()) as f32);
            // Before the response: (cos, sin) of the opposite angle.
            fill(&mut o, &b, i, 0..6, 1, -(decoded.cos() as f32));
            fill(&mut o, &b, i, 0..6, 2, -(decoded.sin() as f32));
        }
        let ch = names(&["cos", "sin"]);
        let s = angle(
            ch.clone(),
            AngleDecode::CosSin,
            "theta",
            "response",
            0.3,
            None,
            None,
        );
        assert_eq!(score(&s, &o, &b, &sh).correct, [true, true, false]);
        let s = angle(
            ch,
            AngleDecode::CosSin,
            "theta",
            "response",
            0.25,
            None,
            None,
        );
        assert_eq!(score(&s, &o, &b, &sh).correct, [false, true, false]);
    }

    #[test]
    fn angle_with_fixation_and_respond() {
        let sh = ring_shape();
        // (go, fixation output at the 4 response steps, target)
        let trials: [(f64, [f32; 4], f64); 6] = [
            (1.0, [0.9; 4], 1.0),             // holds fixation when it must answer → wrong
            (0.0, [0.9; 4], 1.0),             // holds it on a no-go trial → right
            (1.0, [0.1; 4], 1.0),             // releases and points right → right
            (0.0, [0.1; 4], 1.0),             // releases on a no-go trial → wrong
            (1.0, [0.9, 0.9, 0.0, 0.0], 1.0), // mean 0.45 ≤ 0.5: released → right
            (1.0, [0.1; 4], 1.0 + PI / 2.0),  // releases but points wrong → wrong
        ];
        let (mut b, mut o) = blank(&sh, trials.len());
        for (i, (go, fix, target)) in trials.iter().enumerate() {
            b.epochs[i] = ring_epochs();
            b.conditions[i] = conds(&[("go", *go), ("theta", *target)]);
            fill(&mut o, &b, i, 0..6, 0, 0.9);
            for (k, f) in fix.iter().enumerate() {
                o[at(&b, i, 6 + k, 0)] = *f;
            }
            put_bump(&mut o, &b, i, 6..10, 1.0);
        }
        let s = angle(
            ring_names(),
            AngleDecode::Ring,
            "theta",
            "response",
            0.2,
            Some("fix"),
            Some("go"),
        );
        assert_eq!(
            score(&s, &o, &b, &sh).correct,
            [false, true, true, false, true, false]
        );
    }

    #[test]
    fn angle_no_go_without_fixation_channel_needs_quiet_ring() {
        let sh = ring_shape();
        let (mut b, mut o) = blank(&sh, 3);
        for i in 0..3 {
            b.epochs[i] = ring_epochs();
            b.conditions[i] = conds(&[("go", if i == 2 { 1.0 } else { 0.0 }), ("theta", 1.0)]);
        }
        for k in 1..9 {
            fill(&mut o, &b, 0, 6..10, k, 0.2); // quiet: every ring channel below 0.5
        }
        put_bump(&mut o, &b, 1, 6..10, 1.0); // answers on a no-go trial
        put_bump(&mut o, &b, 2, 6..10, 1.0); // answers on a go trial
        let s = angle(
            ring_names(),
            AngleDecode::Ring,
            "theta",
            "response",
            0.2,
            None,
            Some("go"),
        );
        assert_eq!(score(&s, &o, &b, &sh).correct, [true, false, true]);
    }

    #[test]
    fn angle_missing_condition_names_it_and_lists_the_trials_conditions() {
        let sh = ring_shape();
        let (mut b, mut o) = blank(&sh, 2);
        for i in 0..2 {
            b.epochs[i] = ring_epochs();
            put_bump(&mut o, &b, i, 6..10, 1.0);
        }
        b.conditions[0] = conds(&[("direction", 1.0)]);
        b.conditions[1] = conds(&[("theta", 1.0), ("coherence", 0.5)]);
        let s = angle(
            ring_names(),
            AngleDecode::Ring,
            "direction",
            "response",
            0.2,
            None,
            None,
        );
        let err = s
            .score(&o, &b, &sh, OutputReading::Levels)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("score (angle): "), "{err}");
        assert!(err.contains("trial 1"), "{err}");
        assert!(err.contains("no condition `direction`"), "{err}");
        assert!(err.contains("coherence, theta"), "{err}");
        // A near miss gets a suggestion.
        b.conditions[0] = conds(&[("theta", 1.0)]);
        let s = angle(
            ring_names(),
            AngleDecode::Ring,
            "thetaa",
            "response",
            0.2,
            None,
            None,
        );
        let err = s
            .score(&o, &b, &sh, OutputReading::Levels)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no condition `thetaa`") && err.contains("did you mean `theta`?"),
            "{err}"
        );
        // A text condition is refused with its value.
        b.conditions[0].insert("label".into(), ConditionValue::Text("left".into()));
        let s = angle(
            ring_names(),
            AngleDecode::Ring,
            "label",
            "response",
            0.2,
            None,
            None,
        );
        let err = s
            .score(&o, &b, &sh, OutputReading::Levels)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`label`") && err.contains("\"left\"") && err.contains("number"),
            "{err}"
        );
    }

    #[test]
    fn angle_missing_epoch_names_it_and_lists_the_trials_epochs() {
        let sh = ring_shape();
        let (mut b, o) = blank(&sh, 2);
        for i in 0..2 {
            b.epochs[i] = ring_epochs();
            b.conditions[i] = conds(&[("theta", 1.0)]);
        }
        let s = angle(
            ring_names(),
            AngleDecode::Ring,
            "theta",
            "respons",
            0.2,
            None,
            None,
        );
        let err = s
            .score(&o, &b, &sh, OutputReading::Levels)
            .unwrap_err()
            .to_string();
        assert!(err.contains("trial 0"), "{err}");
        assert!(err.contains("no epoch `respons`"), "{err}");
        assert!(err.contains("fixation, stimulus, response"), "{err}");
        assert!(err.contains("did you mean `response`?"), "{err}");
        // A task written per step has no epochs at all.
        b.epochs[0].clear();
        let s = angle(
            ring_names(),
            AngleDecode::Ring,
            "theta",
            "response",
            0.2,
            None,
            None,
        );
        let err = s
            .score(&o, &b, &sh, OutputReading::Levels)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`response`") && err.contains("no epochs"),
            "{err}"
        );
    }

    // ---------- fixation ----------

    #[test]
    fn fixation_dips_count_only_in_listed_epochs() {
        let sh = shape(&["out", "fix"], 10);
        let s = Scorer::Fixation {
            channel: "fix".into(),
            epochs: names(&["fixation", "delay"]),
            threshold: 0.5,
        };
        let full = vec![
            span("fixation", 0, 3),
            span("stimulus", 3, 5),
            span("delay", 5, 7),
            span("response", 7, 10),
        ];
        let (mut b, mut o) = blank(&sh, 6);
        for i in 0..6 {
            b.epochs[i] = full.clone();
            fill(&mut o, &b, i, 0..7, 1, 0.8); // held until the response
        }
        o[at(&b, 1, 6, 1)] = 0.3; // one step of the delay
        o[at(&b, 2, 0, 1)] = 0.49; // the first step of fixation
        fill(&mut o, &b, 3, 3..5, 1, 0.0); // dips in the (unlisted) stimulus epoch…
        fill(&mut o, &b, 3, 7..10, 1, 0.0); // …and in the response: fine
        b.epochs[4] = vec![span("fixation", 0, 7), span("response", 7, 10)]; // no delay: fine
        o[at(&b, 5, 2, 1)] = 0.5; // at the threshold is not above it
        fill(&mut o, &b, 1, 0..10, 0, 0.0); // the other channel does not matter
        assert_eq!(
            score(&s, &o, &b, &sh).correct,
            [true, false, false, true, true, false]
        );
        // A trial with none of the listed epochs is an error naming one of them.
        b.epochs[2] = vec![span("go", 0, 10)];
        let err = s
            .score(&o, &b, &sh, OutputReading::Levels)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("score (fixation): trial 2"), "{err}");
        assert!(err.contains("`fixation`") && err.contains("go"), "{err}");
    }

    // ---------- interval ----------

    #[test]
    fn interval_window_is_relative_plus_absolute() {
        let sh = shape(&["fix", "resp"], 60);
        // "set" starts at step 5; a crossing k steps later produces k · 10 ms.
        // Target 200 ms → window 0.2·200 + 25 = 65 ms; target 100 ms → 45 ms.
        let cases: [(f64, Option<usize>, bool); 8] = [
            (200.0, Some(26), true),  // 260: off by 60
            (200.0, Some(27), false), // 270: off by 70
            (200.0, Some(14), true),  // 140: off by 60
            (200.0, Some(13), false), // 130: off by 70
            (200.0, None, false),     // never crosses
            (200.0, Some(20), true),  // 200, after an early crossing during "ready"
            (100.0, Some(15), false), // 150: off by 50 > 45
            (100.0, Some(14), true),  // 140: off by 40
        ];
        let (mut b, mut o) = blank(&sh, cases.len());
        for (i, (target, k, _)) in cases.iter().enumerate() {
            b.epochs[i] = vec![
                span("fixation", 0, 3),
                span("ready", 3, 5),
                span("set", 5, 60),
            ];
            b.conditions[i] = conds(&[("t_s", *target)]);
            fill(&mut o, &b, i, 0..60, 0, 1.0); // fixation channel high: must be ignored
                                                // A ramp that exceeds 0.5 first at step 5 + k.
            if let Some(k) = k {
                for t in 5..60 {
                    o[at(&b, i, t, 1)] =
                        (0.5 + 0.05 * (t as f32 - (5 + k) as f32 + 0.5)).clamp(0.0, 1.0);
                }
            } else {
                fill(&mut o, &b, i, 0..60, 1, 0.5); // exactly at the threshold: no crossing
            }
        }
        fill(&mut o, &b, 5, 1..4, 1, 1.0); // before "set": not counted
        let s = Scorer::Interval {
            channel: "resp".into(),
            from: "set".into(),
            target: "t_s".into(),
            threshold: 0.5,
            tolerance: 0.2,
            tolerance_ms: 25.0,
        };
        let want: Vec<bool> = cases.iter().map(|c| c.2).collect();
        assert_eq!(score(&s, &o, &b, &sh).correct, want);
        // With no tolerance only the exact interval (trial 5: 20 steps = 200 ms) is right.
        let exact = Scorer::Interval {
            channel: "resp".into(),
            from: "set".into(),
            target: "t_s".into(),
            threshold: 0.5,
            tolerance: 0.0,
            tolerance_ms: 0.0,
        };
        assert_eq!(
            score(&exact, &o, &b, &sh).correct,
            [false, false, false, false, false, true, false, false]
        );
        // With dt = 20 ms the same 20 steps are 400 ms.
        let mut slow = sh.clone();
        slow.dt = 20.0;
        slow.tau = 200.0;
        assert!(!score(&exact, &o, &b, &slow).correct[5]);
    }

    // ---------- go/no-go ----------

    fn go_nogo() -> Scorer {
        Scorer::GoNogo {
            channel: "go_out".into(),
            epoch: "response".into(),
            go: "go".into(),
            threshold: 0.5,
        }
    }

    /// 4 trials, 10 steps: fixation 0..5, response 5..10; outputs (fix, go_out).
    fn go_nogo_batch(go: [f64; 4]) -> (TaskShape, Batch, Vec<f32>) {
        let sh = shape(&["fix", "go_out"], 10);
        let (mut b, o) = blank(&sh, 4);
        for (i, g) in go.iter().enumerate() {
            b.epochs[i] = vec![span("fixation", 0, 5), span("response", 5, 10)];
            b.conditions[i] = conds(&[("go", *g)]);
        }
        (sh, b, o)
    }

    #[test]
    fn go_nogo_verdicts_and_rates() {
        let (sh, b, mut o) = go_nogo_batch([1.0, 1.0, 1.0, 0.0]);
        fill(&mut o, &b, 0, 0..10, 0, 1.0); // fixation channel high everywhere: ignored
        o[at(&b, 0, 7, 1)] = 0.9; // go, responds → hit
        o[at(&b, 1, 2, 1)] = 0.9; // go, responds only before the epoch → miss
        o[at(&b, 2, 9, 1)] = 0.51; // go, responds at the last step → hit
        o[at(&b, 3, 4, 1)] = 0.9; // no-go, quiet in the epoch → correct rejection
        o[at(&b, 3, 5, 1)] = 0.5; // (at the threshold is no response)
        let s = score(&go_nogo(), &o, &b, &sh);
        assert_eq!(s.correct, [true, false, true, true]);
        assert!((metric(&s, "hit_rate") - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(metric(&s, "false_alarm_rate"), 0.0);
        // Φ⁻¹((2 + ½)/(3 + 1)) − Φ⁻¹((0 + ½)/(1 + 1)) = Φ⁻¹(0.625) − Φ⁻¹(0.25)
        // = 0.3186393639643752 + 0.6744897501960817 (tabulated quantiles).
        assert!((metric(&s, "d_prime") - 0.9931291141604569).abs() < 1e-6);
        let by_bisection = quantile_by_bisection(0.625) - quantile_by_bisection(0.25);
        assert!((by_bisection - 0.9931291141604569).abs() < 1e-9);

        // The no-go trial now responds: a false alarm.
        o[at(&b, 3, 8, 1)] = 0.7;
        let s = score(&go_nogo(), &o, &b, &sh);
        assert_eq!(s.correct, [true, false, true, false]);
        assert_eq!(metric(&s, "false_alarm_rate"), 1.0);
        // Φ⁻¹(0.625) − Φ⁻¹(1.5/2 = 0.75) = 0.3186393639643752 − 0.6744897501960817.
        assert!((metric(&s, "d_prime") - -0.3558503862317065).abs() < 1e-6);
    }

    #[test]
    fn go_nogo_any_epoch_of_that_name_counts_and_empty_class_is_nan() {
        let sh = shape(&["fix", "go_out"], 10);
        let (mut b, mut o) = blank(&sh, 3);
        for i in 0..3 {
            b.epochs[i] = vec![
                span("response", 0, 3),
                span("delay", 3, 6),
                span("response", 6, 10),
            ];
            b.conditions[i] = conds(&[("go", 1.0)]);
        }
        o[at(&b, 0, 1, 1)] = 0.9; // in the first response epoch
        o[at(&b, 1, 4, 1)] = 0.9; // only in the delay
        o[at(&b, 2, 8, 1)] = 0.9; // only in the second response epoch
        let s = score(&go_nogo(), &o, &b, &sh);
        assert_eq!(s.correct, [true, false, true]);
        assert!((metric(&s, "hit_rate") - 2.0 / 3.0).abs() < 1e-12);
        assert!(metric(&s, "false_alarm_rate").is_nan());
    }

    // ---------- argmax ----------

    #[test]
    fn argmax_epoch_every_epoch_of_that_name_must_be_right() {
        let sh = shape(&["a", "b", "c"], 10);
        let (mut b, mut o) = blank(&sh, 4);
        // Targets: a during fixation and delay, b in the first response, c in the second.
        for i in 0..4 {
            b.epochs[i] = vec![
                span("fixation", 0, 2),
                span("response", 2, 5),
                span("delay", 5, 7),
                span("response", 7, 10),
            ];
            fill_targets(&mut b, i, 0..2, 0, 1.0);
            fill_targets(&mut b, i, 2..5, 1, 1.0);
            fill_targets(&mut b, i, 5..7, 0, 1.0);
            fill_targets(&mut b, i, 7..10, 2, 1.0);
            // The mask is zero everywhere: the epoch rule does not use it.
            // Outside the response epochs the outputs favour c, which must not matter.
            fill(&mut o, &b, i, 0..2, 2, 5.0);
            fill(&mut o, &b, i, 5..7, 2, 5.0);
        }
        let first = 2..5;
        let second = 7..10;
        fill(&mut o, &b, 0, first.clone(), 1, 0.8); // right…
        fill(&mut o, &b, 0, second.clone(), 2, 0.8); // …and right
        fill(&mut o, &b, 1, first.clone(), 1, 0.8); // right…
        fill(&mut o, &b, 1, second.clone(), 1, 0.8); // …then wrong
        fill(&mut o, &b, 2, first.clone(), 0, 0.8); // wrong…
        fill(&mut o, &b, 2, second.clone(), 2, 0.8); // …then right
                                                     // Trial 3, first epoch: b = (0.6, 0.6, 0.1) and a = (0.1, 0.1, 0.9): a wins one step
                                                     // but b has the larger mean (1.3/3 vs 1.1/3).
        for (t, (av, bv)) in [(0.1, 0.6), (0.1, 0.6), (0.9, 0.1)].into_iter().enumerate() {
            o[at(&b, 3, 2 + t, 0)] = av;
            o[at(&b, 3, 2 + t, 1)] = bv;
        }
        fill(&mut o, &b, 3, second, 2, 0.8);
        let s = Scorer::Argmax {
            channels: None,
            epoch: Some("response".into()),
        };
        assert_eq!(score(&s, &o, &b, &sh).correct, [true, false, false, true]);
        // A missing epoch is an error listing the trial's epochs.
        let s = Scorer::Argmax {
            channels: None,
            epoch: Some("go".into()),
        };
        let err = s
            .score(&o, &b, &sh, OutputReading::Levels)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no epoch `go`") && err.contains("fixation, response, delay, response"),
            "{err}"
        );
    }

    #[test]
    fn argmax_without_epoch_is_psychrnns_masked_rule() {
        // By hand: 2 channels, 3 steps; the mask hides step 0.
        let sh = shape(&["left", "right"], 3);
        let (mut b, mut o) = blank(&sh, 2);
        for i in 0..2 {
            fill_mask(&mut b, i, 1..3, 0, 1.0);
            fill_mask(&mut b, i, 1..3, 1, 1.0);
            fill_targets(&mut b, i, 0..3, 0, 1.0); // answer: left
        }
        // Trial 0: a huge "right" at the masked step, "left" afterwards → right.
        o[at(&b, 0, 0, 1)] = 100.0;
        fill(&mut o, &b, 0, 1..3, 0, 0.6);
        fill(&mut o, &b, 0, 1..3, 1, 0.4);
        // Trial 1: a huge "left" at the masked step, "right" afterwards → wrong.
        o[at(&b, 1, 0, 0)] = 100.0;
        fill(&mut o, &b, 1, 1..3, 0, 0.4);
        fill(&mut o, &b, 1, 1..3, 1, 0.6);
        assert_eq!(score(&Scorer::ARGMAX, &o, &b, &sh).correct, [true, false]);

        // Pseudo-random batches: the same verdicts as an explicit masked-sum argmax, and the
        // same accuracy as `argmax_accuracy`.
        let sh = shape(&["a", "b", "c"], 10);
        let (mut b, mut o) = blank(&sh, 12);
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32
        };
        for x in o.iter_mut() {
            *x = next();
        }
        for x in b.targets.iter_mut() {
            *x = next();
        }
        for x in b.mask.iter_mut() {
            *x = if next() < 0.3 { 0.0 } else { 1.0 };
        }
        let choice = |v: &[f32], m: &[f32], i: usize| {
            let mut sums = [0.0f64; 3];
            for t in 0..10 {
                for (c, s) in sums.iter_mut().enumerate() {
                    let k = (i * 10 + t) * 3 + c;
                    *s += f64::from(v[k]) * f64::from(m[k]);
                }
            }
            let max = sums.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            sums.iter().position(|&s| s == max).unwrap()
        };
        let want: Vec<bool> = (0..12)
            .map(|i| choice(&o, &b.mask, i) == choice(&b.targets, &b.mask, i))
            .collect();
        assert!(want.contains(&true) && want.contains(&false));
        let s = score(&Scorer::ARGMAX, &o, &b, &sh);
        assert_eq!(s.correct, want);
        assert_eq!(
            s.accuracy(),
            argmax_accuracy(&o, &b.targets, &b.mask, 12, 10, 3)
        );
        assert!(s.metrics.is_empty());
    }

    #[test]
    fn argmax_channel_subset_ignores_other_channels() {
        let sh = shape(&["a", "b", "c"], 4);
        let (mut b, mut o) = blank(&sh, 2);
        for i in 0..2 {
            b.mask.iter_mut().for_each(|m| *m = 1.0);
            fill_targets(&mut b, i, 0..4, 0, 1.0); // answer: a
            fill_targets(&mut b, i, 0..4, 1, 9.0); // b is the largest target, unscored
            fill(&mut o, &b, i, 0..4, 1, 9.0); // and the largest output, unscored
        }
        fill(&mut o, &b, 0, 0..4, 0, 0.7); // a > c → right
        fill(&mut o, &b, 0, 0..4, 2, 0.2);
        fill(&mut o, &b, 1, 0..4, 0, 0.2); // c > a → wrong
        fill(&mut o, &b, 1, 0..4, 2, 0.7);
        // Step 0 of both trials is masked; there c is huge in trial 0 and a in trial 1,
        // which would flip both verdicts if it counted.
        for i in 0..2 {
            for c in 0..3 {
                fill_mask(&mut b, i, 0..1, c, 0.0);
            }
        }
        o[at(&b, 0, 0, 2)] = 50.0;
        o[at(&b, 1, 0, 0)] = 50.0;
        let s = Scorer::Argmax {
            channels: Some(names(&["a", "c"])),
            epoch: None,
        };
        assert_eq!(score(&s, &o, &b, &sh).correct, [true, false]);
    }

    // ---------- sign ----------

    #[test]
    fn sign_min_fraction_boundary() {
        let sh = shape(&["x", "y"], 10);
        let (mut b, mut o) = blank(&sh, 4);
        // Counted entries of x: steps 0..4 (mask 1, target ±1). Steps 4..6 have target 0 and
        // steps 6..10 mask 0: outputs there have the wrong sign and must not count.
        let signs = [1.0f32, -1.0, 1.0, -1.0];
        for i in 0..4 {
            for (t, s) in signs.iter().enumerate() {
                fill_targets(&mut b, i, t..t + 1, 0, if i == 3 { 0.0 } else { *s });
                o[at(&b, i, t, 0)] = 0.3 * s;
            }
            fill_mask(&mut b, i, 0..6, 0, 1.0);
            fill_targets(&mut b, i, 6..10, 0, 1.0);
            fill(&mut o, &b, i, 4..10, 0, -0.3);
            // y: mask 1, target +1, output negative everywhere.
            fill_mask(&mut b, i, 0..10, 1, 1.0);
            fill_targets(&mut b, i, 0..10, 1, 1.0);
            fill(&mut o, &b, i, 0..10, 1, -0.3);
        }
        o[at(&b, 0, 1, 0)] = 0.2; // trial 0: 3 of 4 agree
        o[at(&b, 1, 0, 0)] = -0.2; // trial 1: 2 of 4 agree
        o[at(&b, 1, 3, 0)] = 0.2;
        // trial 2: 4 of 4; trial 3: no counted entries (vacuously right).
        let sign = |min_fraction: f64, channels: Option<&[&str]>| Scorer::Sign {
            channels: channels.map(names),
            min_fraction,
        };
        let run = |s: Scorer| score(&s, &o, &b, &sh).correct;
        assert_eq!(run(sign(0.75, Some(&["x"]))), [true, false, true, true]);
        assert_eq!(run(sign(0.76, Some(&["x"]))), [false, false, true, true]);
        assert_eq!(run(sign(0.5, Some(&["x"]))), [true, true, true, true]);
        assert_eq!(run(sign(1.0, Some(&["x"]))), [false, false, true, true]);
        // All channels: y adds 10 disagreeing entries (trial 0: 3 of 14; trial 2: 4 of 14;
        // trial 3: 0 of 10).
        assert_eq!(run(sign(0.25, None)), [false, false, true, false]);
        assert_eq!(run(sign(0.0, None)), [true, true, true, true]);
    }

    // ---------- all ----------

    #[test]
    fn all_needs_every_part_and_keeps_their_metrics() {
        let (sh, b, mut o) = go_nogo_batch([1.0, 1.0, 0.0, 0.0]);
        for i in 0..4 {
            fill(&mut o, &b, i, 0..5, 0, 0.9); // fixation held…
        }
        o[at(&b, 1, 3, 0)] = 0.1; // …except in trial 1
        o[at(&b, 3, 3, 0)] = 0.1; // and trial 3
        o[at(&b, 0, 6, 1)] = 0.9; // trial 0: go, responds → right
        o[at(&b, 1, 6, 1)] = 0.9; // trial 1: go, responds → right
        o[at(&b, 2, 6, 1)] = 0.9; // trial 2: no-go, responds → wrong
        o[at(&b, 3, 6, 1)] = 0.9; // trial 3: no-go, responds → wrong
        let fixation = Scorer::Fixation {
            channel: "fix".into(),
            epochs: names(&["fixation"]),
            threshold: 0.5,
        };
        let alone = score(&go_nogo(), &o, &b, &sh);
        assert_eq!(alone.correct, [true, true, false, false]);
        assert_eq!(
            score(&fixation, &o, &b, &sh).correct,
            [true, false, true, false]
        );
        let all = Scorer::All {
            of: vec![fixation.clone(), go_nogo()],
        };
        let s = score(&all, &o, &b, &sh);
        assert_eq!(s.correct, [true, false, false, false]);
        assert_eq!(s.accuracy(), 0.25);
        assert_eq!(s.metrics, alone.metrics);
        assert_eq!(metric(&s, "hit_rate"), 1.0);
        assert_eq!(metric(&s, "false_alarm_rate"), 1.0);
        // Nested: the argmax part adds no metrics and its own verdicts.
        let nested = Scorer::All {
            of: vec![Scorer::ARGMAX, all],
        };
        let s = score(&nested, &o, &b, &sh);
        assert_eq!(s.correct, [true, false, false, false]); // all-zero targets: argmax says 0 twice
        assert_eq!(s.metrics.len(), 3);
        // A failing part's error comes through with its own kind.
        let broken = Scorer::All {
            of: vec![
                go_nogo(),
                Scorer::Fixation {
                    channel: "fix".into(),
                    epochs: names(&["hold"]),
                    threshold: 0.5,
                },
            ],
        };
        let err = broken
            .score(&o, &b, &sh, OutputReading::Levels)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("score (fixation)") && err.contains("`hold`"),
            "{err}"
        );
    }

    // ---------- first response ----------

    fn first_response_scorer(target: Option<&str>, threshold: Option<f64>) -> Scorer {
        Scorer::FirstResponse {
            fixation: "fix".into(),
            choices: names(&["left", "right"]),
            epoch: "decision".into(),
            target: target.map(str::to_string),
            threshold,
        }
    }

    #[test]
    fn first_response_is_the_first_choice_above_fixation_in_the_epoch() {
        // 8 steps: fixation 0..4, decision 4..8; outputs (fix, left, right); the answer
        // (largest target in the decision epoch) is `right` in every trial.
        let sh = shape(&["fix", "left", "right"], 8);
        let (mut b, mut o) = blank(&sh, 6);
        for i in 0..6 {
            b.epochs[i] = vec![span("fixation", 0, 4), span("decision", 4, 8)];
            fill_targets(&mut b, i, 4..8, 2, 1.0);
            fill(&mut o, &b, i, 0..8, 0, 0.8); // fixation output 0.8 throughout
            b.conditions[i] = conds(&[("answer", 1.0)]);
        }
        // Trial 0: right rises above fixation at step 5 → responds right → correct.
        fill(&mut o, &b, 0, 5..8, 2, 0.9);
        // Trial 1: left first (step 4), right later (step 6) → responds left → wrong.
        o[at(&b, 1, 4, 1)] = 0.85;
        fill(&mut o, &b, 1, 6..8, 2, 0.95);
        // Trial 2: a choice above fixation before the decision epoch does not count; inside
        // it, right at step 7 → correct.
        o[at(&b, 2, 2, 1)] = 0.99;
        o[at(&b, 2, 7, 2)] = 0.81;
        // Trial 3: never above fixation (equal is not above) → no response → wrong.
        fill(&mut o, &b, 3, 4..8, 2, 0.8);
        // Trial 4: both above fixation at step 6, right the larger → correct.
        o[at(&b, 4, 6, 1)] = 0.9;
        o[at(&b, 4, 6, 2)] = 0.95;
        // Trial 5: fixation drops to 0 at step 5, where left 0.1 > right 0.05 → left → wrong.
        o[at(&b, 5, 5, 0)] = 0.0;
        o[at(&b, 5, 5, 1)] = 0.1;
        o[at(&b, 5, 5, 2)] = 0.05;
        let s = first_response_scorer(None, None);
        assert_eq!(
            score(&s, &o, &b, &sh).correct,
            [true, false, true, false, true, false]
        );
        // The answer from a condition gives the same verdicts here.
        let by_condition = first_response_scorer(Some("answer"), None);
        assert_eq!(
            score(&by_condition, &o, &b, &sh).correct,
            [true, false, true, false, true, false]
        );
        // A threshold of 0.92: trial 0's 0.9 and trial 2's 0.81 no longer respond; trial 1's
        // left 0.85 neither, so its right 0.95 at step 6 is the response (now right); trial
        // 4's 0.95 still responds; trial 5's left 0.1 does not, so it has no response.
        let high = first_response_scorer(None, Some(0.92));
        assert_eq!(
            score(&high, &o, &b, &sh).correct,
            [false, true, false, false, true, false]
        );
        // As logits the threshold is ignored (a channel responds by being the largest).
        assert_eq!(
            high.score(&o, &b, &sh, OutputReading::Logits)
                .unwrap()
                .correct,
            [true, false, true, false, true, false]
        );
        // A condition that is no index of a choice is an error naming it.
        b.conditions[3] = conds(&[("answer", 2.0)]);
        let err = by_condition
            .score(&o, &b, &sh, OutputReading::Levels)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "score (first_response): trial 3: condition `answer` is 2, but it must be the index (0 to 1) of the right choice in `choices`"
        );
        // Validation: choices must not hold the fixation channel.
        let bad = Scorer::FirstResponse {
            fixation: "fix".into(),
            choices: names(&["fix", "left"]),
            epoch: "decision".into(),
            target: None,
            threshold: None,
        };
        assert!(bad
            .validate(&sh)
            .unwrap_err()
            .to_string()
            .contains("choices lists the fixation channel `fix`"));
    }

    // ---------- softmax logits ----------

    #[test]
    fn logits_below_one_half_with_the_right_argmax_score_correct() {
        // A softmax network's logits: every output below 0.5 (even negative), the right
        // channel the largest. Read as levels (MSE), nothing crosses 0.5; read as logits,
        // the largest channel responds.
        let sh = shape(&["fix", "go_out"], 10);
        let (mut b, mut o) = blank(&sh, 2);
        for i in 0..2 {
            b.epochs[i] = vec![span("fixation", 0, 5), span("response", 5, 10)];
            b.conditions[i] = conds(&[("go", 1.0), ("t", 50.0)]);
            fill_targets(&mut b, i, 0..5, 0, 1.0);
            fill_targets(&mut b, i, 5..10, 1, 1.0);
            b.mask.iter_mut().for_each(|m| *m = 1.0);
        }
        // Trial 0 right: fixation largest while fixating, go_out largest in the response.
        fill(&mut o, &b, 0, 0..5, 0, 0.3);
        fill(&mut o, &b, 0, 0..5, 1, -1.0);
        fill(&mut o, &b, 0, 5..10, 0, -2.0);
        fill(&mut o, &b, 0, 5..10, 1, 0.1);
        // Trial 1 wrong: go_out never the largest.
        fill(&mut o, &b, 1, 0..10, 0, 0.2);
        fill(&mut o, &b, 1, 0..10, 1, 0.1);
        assert!(o.iter().all(|&x| x < 0.5));
        let fixation = Scorer::Fixation {
            channel: "fix".into(),
            epochs: names(&["fixation"]),
            threshold: 0.5,
        };
        let go = Scorer::GoNogo {
            channel: "go_out".into(),
            epoch: "response".into(),
            go: "go".into(),
            threshold: 0.5,
        };
        let both = Scorer::All {
            of: vec![fixation.clone(), go.clone()],
        };
        let read = |s: &Scorer, r: OutputReading| s.score(&o, &b, &sh, r).unwrap().correct;
        assert_eq!(read(&fixation, OutputReading::Levels), [false, false]);
        assert_eq!(read(&fixation, OutputReading::Logits), [true, true]);
        assert_eq!(read(&go, OutputReading::Levels), [false, false]);
        assert_eq!(read(&go, OutputReading::Logits), [true, false]);
        assert_eq!(read(&both, OutputReading::Logits), [true, false]);
        // Interval: go_out first the largest at step 5, 50 ms after `fixation` starts at 0
        // (target 50 ms); never as levels.
        let interval = Scorer::Interval {
            channel: "go_out".into(),
            from: "fixation".into(),
            target: "t".into(),
            threshold: 0.5,
            tolerance: 0.0,
            tolerance_ms: 0.0,
        };
        assert_eq!(read(&interval, OutputReading::Logits), [true, false]);
        assert_eq!(read(&interval, OutputReading::Levels), [false, false]);
        // Argmax already compares the largest channel: the same either way.
        assert_eq!(
            read(&Scorer::ARGMAX, OutputReading::Levels),
            read(&Scorer::ARGMAX, OutputReading::Logits)
        );
    }

    #[test]
    fn a_ring_of_logits_is_decoded_from_its_softmax() {
        // Ring of 4 channels at 0, π/2, π, 3π/2 with mean logits (0, 0, −3, 0.5): the raw
        // population vector is atan2(0 − 0.5, 0 + 3) ≈ −0.165, the softmax weights p give
        // atan2(p1 − p3, p0 − p2), a larger error.
        let sh = shape(&["r0", "r1", "r2", "r3"], 2);
        let (mut b, mut o) = blank(&sh, 1);
        b.epochs[0] = vec![span("response", 0, 2)];
        b.conditions[0] = conds(&[("theta", 0.0)]);
        let logits = [0.0f32, 0.0, -3.0, 0.5];
        for (c, &l) in logits.iter().enumerate() {
            fill(&mut o, &b, 0, 0..2, c, l);
        }
        let e: Vec<f64> = logits.iter().map(|&l| f64::from(l).exp()).collect();
        let sum: f64 = e.iter().sum();
        let p: Vec<f64> = e.iter().map(|x| x / sum).collect();
        let softmax_angle = (p[1] - p[3]).atan2(p[0] - p[2]);
        let raw_angle = (0.0f64 - 0.5).atan2(0.0 + 3.0);
        assert!((softmax_angle - raw_angle).abs() > 0.1);
        // A tolerance between the two errors tells which one was decoded.
        let tolerance = (softmax_angle.abs() + raw_angle.abs()) / 2.0;
        let s = angle(
            names(&["r0", "r1", "r2", "r3"]),
            AngleDecode::Ring,
            "theta",
            "response",
            tolerance,
            None,
            None,
        );
        let levels = s.score(&o, &b, &sh, OutputReading::Levels).unwrap();
        let logits_read = s.score(&o, &b, &sh, OutputReading::Logits).unwrap();
        assert_eq!(
            (levels.correct[0], logits_read.correct[0]),
            (
                raw_angle.abs() <= tolerance,
                softmax_angle.abs() <= tolerance
            )
        );
        assert_ne!(levels.correct, logits_read.correct);
    }

    // ---------- validate and YAML ----------

    #[test]
    fn validate_names_channels_and_counts() {
        let sh = shape(&["fixation", "left", "right"], 10);
        let err = go_nogo().validate(&sh).unwrap_err().to_string();
        assert!(
            err.contains("`go_out`") && err.contains("fixation, left, right"),
            "{err}"
        );
        let s = Scorer::GoNogo {
            channel: "rigth".into(),
            epoch: "response".into(),
            go: "go".into(),
            threshold: 0.5,
        };
        let err = s.validate(&sh).unwrap_err().to_string();
        assert!(err.starts_with("score (go_nogo)"), "{err}");
        assert!(err.contains("outputs: fixation, left, right"), "{err}");
        assert!(err.contains("did you mean `right`?"), "{err}");
        // score() checks the names too.
        let (b, o) = blank(&sh, 1);
        assert!(s
            .score(&o, &b, &sh, OutputReading::Levels)
            .unwrap_err()
            .to_string()
            .contains("did you mean `right`?"));

        let ring2 = angle(
            names(&["left", "right"]),
            AngleDecode::Ring,
            "theta",
            "response",
            0.2,
            None,
            None,
        );
        let err = ring2.validate(&sh).unwrap_err().to_string();
        assert!(err.contains("at least 3") && err.contains("got 2"), "{err}");
        let ring3 = angle(
            names(&["fixation", "left", "right"]),
            AngleDecode::Ring,
            "theta",
            "response",
            0.2,
            None,
            None,
        );
        assert!(ring3.validate(&sh).is_ok());
        let cs3 = angle(
            names(&["fixation", "left", "right"]),
            AngleDecode::CosSin,
            "theta",
            "response",
            0.2,
            None,
            None,
        );
        assert!(cs3
            .validate(&sh)
            .unwrap_err()
            .to_string()
            .contains("exactly 2"));
        let cs2 = angle(
            names(&["left", "right"]),
            AngleDecode::CosSin,
            "theta",
            "response",
            0.2,
            None,
            None,
        );
        assert!(cs2.validate(&sh).is_ok());
        let bad_fix = angle(
            names(&["left", "right"]),
            AngleDecode::CosSin,
            "theta",
            "response",
            0.2,
            Some("fixaton"),
            None,
        );
        assert!(bad_fix
            .validate(&sh)
            .unwrap_err()
            .to_string()
            .contains("did you mean `fixation`?"));
        let negative = angle(
            names(&["left", "right"]),
            AngleDecode::CosSin,
            "theta",
            "response",
            -0.1,
            None,
            None,
        );
        assert!(negative
            .validate(&sh)
            .unwrap_err()
            .to_string()
            .contains("tolerance"));

        let no_epochs = Scorer::Fixation {
            channel: "fixation".into(),
            epochs: vec![],
            threshold: 0.5,
        };
        assert!(no_epochs
            .validate(&sh)
            .unwrap_err()
            .to_string()
            .contains("epochs is empty"));
        let sign = Scorer::Sign {
            channels: None,
            min_fraction: 1.5,
        };
        assert!(sign
            .validate(&sh)
            .unwrap_err()
            .to_string()
            .contains("min_fraction"));
        assert!(Scorer::All { of: vec![] }.validate(&sh).is_err());
        // A bad part inside `all` is found.
        let all = Scorer::All {
            of: vec![Scorer::ARGMAX, go_nogo()],
        };
        assert!(all
            .validate(&sh)
            .unwrap_err()
            .to_string()
            .contains("`go_out`"));
        assert!(Scorer::ARGMAX.validate(&sh).is_ok());
    }

    #[test]
    fn yaml_kinds_and_defaults() {
        let err = serde_norway::from_str::<Scorer>(
            "{kind: angel, channels: [a, b], target: t, epoch: e}",
        )
        .unwrap_err()
        .to_string()
        .to_string();
        assert!(err.contains("angel"), "{err}");
        for kind in [
            "argmax", "angle", "fixation", "interval", "go_nogo", "sign", "all",
        ] {
            assert!(
                err.contains(&format!("`{kind}`")),
                "{kind} missing from: {err}"
            );
        }
        // Defaults: ring decoding, 0.2π tolerance, 0.5 threshold, always respond.
        let s: Scorer = serde_norway::from_str(
            "{kind: angle, channels: [a, b, c], target: theta, epoch: response}",
        )
        .unwrap();
        assert_eq!(
            s,
            Scorer::Angle {
                channels: names(&["a", "b", "c"]),
                decode: AngleDecode::Ring,
                target: "theta".into(),
                epoch: "response".into(),
                tolerance: 0.2 * PI,
                fixation: None,
                threshold: 0.5,
                respond: None,
            }
        );
        let s: Scorer =
            serde_norway::from_str("{kind: interval, channel: go, from: set, target: t_p}")
                .unwrap();
        assert_eq!(
            s,
            Scorer::Interval {
                channel: "go".into(),
                from: "set".into(),
                target: "t_p".into(),
                threshold: 0.5,
                tolerance: 0.2,
                tolerance_ms: 25.0,
            }
        );
        let s: Scorer = serde_norway::from_str("{kind: sign}").unwrap();
        assert_eq!(
            s,
            Scorer::Sign {
                channels: None,
                min_fraction: 0.9
            }
        );
        let s: Scorer = serde_norway::from_str("kind: all\nof:\n  - kind: argmax\n  - {kind: angle, channels: [c, s], decode: cos_sin, target: t, epoch: e}").unwrap();
        assert_eq!(s.kind(), "all");
        assert_eq!(Scorer::default(), Scorer::ARGMAX);
        // A misspelt field is refused.
        let err = serde_norway::from_str::<Scorer>(
            "{kind: fixation, channel: f, epochs: [a], treshold: 0.4}",
        )
        .unwrap_err()
        .to_string()
        .to_string();
        assert!(err.contains("treshold"), "{err}");
    }
}
