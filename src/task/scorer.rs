//! `Scorer`: how a task decides whether the network got a trial right. A task map's `score`
//! field picks one (`#{ kind: "angle", … }`, usually from `psychrnn/scorers`); without one,
//! PsychRNN's argmax accuracy is used.
//!
//! Every scorer reads the network's outputs together with the trial's targets, mask,
//! conditions and epoch spans, and returns one verdict per trial plus summary metrics (d′ for
//! go/no-go).

use std::f64::consts::PI;

use serde::{Deserialize, Serialize};

use super::scoring::argmax_choices;
use super::{Batch, ConditionValue, EpochSpan, TaskShape};
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
    /// right when condition `go` is 1 and wrong when it is 0. Also reports hit rate,
    /// false-alarm rate and d′.
    GoNogo {
        /// The response output channel.
        channel: String,
        /// The epoch in which a response counts.
        epoch: String,
        /// Condition that is 1 on go trials and 0 on no-go trials.
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

/// What scoring a batch found.
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    /// One verdict per trial.
    pub correct: Vec<bool>,
    /// Named summary values (`hit_rate`, `false_alarm_rate`, `d_prime` for go/no-go).
    pub metrics: Vec<(String, f64)>,
}

impl Scores {
    /// The fraction of trials scored correct (0 for an empty batch).
    pub fn accuracy(&self) -> f64 {
        if self.correct.is_empty() {
            return 0.0;
        }
        self.correct.iter().filter(|&&c| c).count() as f64 / self.correct.len() as f64
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
}

impl TrialView<'_> {
    fn output(&self, step: usize, channel: usize) -> f64 {
        self.outputs[step * self.n_out + channel] as f64
    }

    fn condition(&self, name: &str) -> Result<f64, String> {
        let conditions = &self.batch.conditions[self.index];
        match conditions.get(name) {
            Some(ConditionValue::Number(x)) => Ok(*x),
            Some(ConditionValue::Text(s)) => Err(format!(
                "trial {}: condition `{name}` is the text \"{s}\", but the scorer needs a number",
                self.index
            )),
            None => Err(format!(
                "trial {}: no condition `{name}`; its conditions are: {}{}",
                self.index,
                conditions.keys().cloned().collect::<Vec<_>>().join(", "),
                suggestion(name, conditions.keys().map(String::as_str))
            )),
        }
    }

    fn spans(&self, name: &str) -> Result<Vec<&EpochSpan>, String> {
        let epochs = &self.batch.epochs[self.index];
        let found: Vec<&EpochSpan> = epochs.iter().filter(|e| e.name == name).collect();
        if found.is_empty() {
            return Err(if epochs.is_empty() {
                format!(
                    "trial {}: the scorer needs epoch `{name}`, but the task describes its trials per step and has no epochs",
                    self.index
                )
            } else {
                format!(
                    "trial {}: no epoch `{name}`; its epochs are: {}{}",
                    self.index,
                    epochs
                        .iter()
                        .map(|e| e.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    suggestion(name, epochs.iter().map(|e| e.name.as_str()))
                )
            });
        }
        Ok(found)
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

/// Index of each named channel among `names`, or an error listing the valid names.
fn channel_indices(field: &str, wanted: &[String], names: &[String]) -> Result<Vec<usize>, String> {
    wanted
        .iter()
        .map(|w| {
            names.iter().position(|n| n == w).ok_or_else(|| {
                format!(
                    "{field}: no output channel `{w}`; outputs: {}{}",
                    names.join(", "),
                    suggestion(w, names.iter().map(String::as_str))
                )
            })
        })
        .collect()
}

fn all_or(
    field: &str,
    channels: &Option<Vec<String>>,
    names: &[String],
) -> Result<Vec<usize>, String> {
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
        1.383577518672690e2,
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
        }
    }

    /// Checks channel names and numbers against the task's shape.
    pub fn validate(&self, shape: &TaskShape) -> Result<(), String> {
        let field = format!("score ({})", self.kind());
        let outs = &shape.outputs;
        let positive = |what: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(format!("{field}: {what} must be a number ≥ 0, got {v}"))
            }
        };
        match self {
            Scorer::Argmax { channels, .. } => {
                let c = all_or(&field, channels, outs)?;
                if c.is_empty() {
                    return Err(format!("{field}: channels is empty"));
                }
            }
            Scorer::Angle {
                channels,
                decode,
                tolerance,
                fixation,
                ..
            } => {
                channel_indices(&field, channels, outs)?;
                if let Some(f) = fixation {
                    channel_indices(&field, std::slice::from_ref(f), outs)?;
                }
                match decode {
                    AngleDecode::Ring if channels.len() < 3 => {
                        return Err(format!(
                            "{field}: a ring needs at least 3 channels, got {}",
                            channels.len()
                        ))
                    }
                    AngleDecode::CosSin if channels.len() != 2 => {
                        return Err(format!(
                            "{field}: decode cos_sin needs exactly 2 channels (cos, sin), got {}",
                            channels.len()
                        ))
                    }
                    _ => {}
                }
                positive("tolerance", *tolerance)?;
            }
            Scorer::Fixation {
                channel, epochs, ..
            } => {
                channel_indices(&field, std::slice::from_ref(channel), outs)?;
                if epochs.is_empty() {
                    return Err(format!("{field}: epochs is empty"));
                }
            }
            Scorer::Interval {
                channel,
                tolerance,
                tolerance_ms,
                ..
            } => {
                channel_indices(&field, std::slice::from_ref(channel), outs)?;
                positive("tolerance", *tolerance)?;
                positive("tolerance_ms", *tolerance_ms)?;
            }
            Scorer::GoNogo { channel, .. } => {
                channel_indices(&field, std::slice::from_ref(channel), outs)?;
            }
            Scorer::Sign {
                channels,
                min_fraction,
            } => {
                all_or(&field, channels, outs)?;
                if !(0.0..=1.0).contains(min_fraction) {
                    return Err(format!(
                        "{field}: min_fraction must be between 0 and 1, got {min_fraction}"
                    ));
                }
            }
            Scorer::All { of } => {
                if of.is_empty() {
                    return Err(format!("{field}: `of` lists no scorers"));
                }
                for s in of {
                    s.validate(shape)?;
                }
            }
        }
        Ok(())
    }

    /// Scores every trial of `batch` given the network's `outputs` ([B, T, N_out]).
    pub fn score(
        &self,
        outputs: &[f32],
        batch: &Batch,
        shape: &TaskShape,
    ) -> Result<Scores, String> {
        assert_eq!(outputs.len(), batch.targets.len());
        let prefix = |m: String| format!("score ({}): {m}", self.kind());
        let per = batch.n_steps * batch.n_out;
        let view = |i: usize| TrialView {
            index: i,
            n_out: batch.n_out,
            outputs: &outputs[i * per..(i + 1) * per],
            targets: &batch.targets[i * per..(i + 1) * per],
            mask: &batch.mask[i * per..(i + 1) * per],
            batch,
        };
        let outs = &shape.outputs;
        let mut metrics = Vec::new();
        let correct: Vec<bool> = match self {
            Scorer::Argmax { channels, epoch } => {
                let c = all_or("channels", channels, outs).map_err(prefix)?;
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
                let c = channel_indices("channels", channels, outs).map_err(prefix)?;
                let f = match fixation {
                    Some(f) => Some(
                        channel_indices("fixation", std::slice::from_ref(f), outs)
                            .map_err(prefix)?[0],
                    ),
                    None => None,
                };
                (0..batch.n_trials)
                    .map(|i| {
                        let v = view(i);
                        let span = *v.spans(epoch)?.last().expect("spans is non-empty");
                        let must_respond = match respond {
                            Some(r) => v.condition(r)? != 0.0,
                            None => true,
                        };
                        let Some(ring) = v.mean_over(span, &c) else {
                            return Ok(false);
                        };
                        let fixating = match f {
                            Some(f) => {
                                v.mean_over(span, &[f]).expect("span is not empty")[0] > *threshold
                            }
                            None => false,
                        };
                        if !must_respond {
                            return Ok(match f {
                                Some(_) => fixating,
                                None => ring.iter().all(|&o| o < *threshold),
                            });
                        }
                        let decoded = decode_angle(*decode, &ring);
                        let err = wrap_angle(decoded - v.condition(target)?).abs();
                        Ok(err <= *tolerance && !fixating)
                    })
                    .collect::<Result<_, String>>()
                    .map_err(prefix)?
            }
            Scorer::Fixation {
                channel,
                epochs,
                threshold,
            } => {
                let c = channel_indices("channel", std::slice::from_ref(channel), outs)
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
                        Ok(spans
                            .iter()
                            .all(|s| (s.start..s.end).all(|t| v.output(t, c) > *threshold)))
                    })
                    .collect::<Result<_, String>>()
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
                let c = channel_indices("channel", std::slice::from_ref(channel), outs)
                    .map_err(prefix)?[0];
                (0..batch.n_trials)
                    .map(|i| {
                        let v = view(i);
                        let start = v.spans(from)?[0].start;
                        let want = v.condition(target)?;
                        Ok(
                            match (start..batch.n_steps).find(|&t| v.output(t, c) > *threshold) {
                                Some(t) => {
                                    let produced = (t - start) as f64 * shape.dt;
                                    (produced - want).abs() <= tolerance * want + tolerance_ms
                                }
                                None => false,
                            },
                        )
                    })
                    .collect::<Result<_, String>>()
                    .map_err(prefix)?
            }
            Scorer::GoNogo {
                channel,
                epoch,
                go,
                threshold,
            } => {
                let c = channel_indices("channel", std::slice::from_ref(channel), outs)
                    .map_err(prefix)?[0];
                let (mut hits, mut n_go, mut fas, mut n_nogo) = (0, 0, 0, 0);
                let verdicts = (0..batch.n_trials)
                    .map(|i| {
                        let v = view(i);
                        let is_go = v.condition(go)? != 0.0;
                        let responded = v
                            .spans(epoch)?
                            .iter()
                            .any(|s| (s.start..s.end).any(|t| v.output(t, c) > *threshold));
                        if is_go {
                            n_go += 1;
                            hits += responded as usize;
                        } else {
                            n_nogo += 1;
                            fas += responded as usize;
                        }
                        Ok(responded == is_go)
                    })
                    .collect::<Result<_, String>>()
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
                let c = all_or("channels", channels, outs).map_err(prefix)?;
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
                    let part = s.score(outputs, batch, shape)?;
                    for (a, p) in all.iter_mut().zip(&part.correct) {
                        *a &= p;
                    }
                    metrics.extend(part.metrics);
                }
                all
            }
        };
        Ok(Scores { correct, metrics })
    }
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

fn argmax_trial(v: &TrialView, channels: &[usize], epoch: Option<&str>) -> Result<bool, String> {
    let steps = v.outputs.len() / v.n_out;
    let pick = |values: &[f32], t0: usize, t1: usize, mask: Option<&[f32]>| -> usize {
        let mut best = 0;
        let mut best_sum = f64::NEG_INFINITY;
        for (k, &c) in channels.iter().enumerate() {
            let sum: f64 = (t0..t1)
                .map(|t| {
                    let at = t * v.n_out + c;
                    values[at] as f64 * mask.map_or(1.0, |m| m[at] as f64)
                })
                .sum();
            if k == 0 || sum > best_sum {
                best = k;
                best_sum = sum;
            }
        }
        best
    };
    match epoch {
        None => {
            if channels.len() == v.n_out {
                let a = argmax_choices(v.outputs, v.mask, 1, steps, v.n_out)[0];
                let b = argmax_choices(v.targets, v.mask, 1, steps, v.n_out)[0];
                return Ok(a == b);
            }
            Ok(pick(v.outputs, 0, steps, Some(v.mask)) == pick(v.targets, 0, steps, Some(v.mask)))
        }
        Some(name) => Ok(v.spans(name)?.iter().filter(|s| s.end > s.start).all(|s| {
            pick(v.outputs, s.start, s.end, None) == pick(v.targets, s.start, s.end, None)
        })),
    }
}
