//! Declarative epochs: a trial as a sequence of named spans with constant values.
//!
//! Epoch `k` covers the time interval [start_k, end_k) in ms, epochs following each other from
//! t = 0, with lengths (fixed or drawn) used as given. Step `i` (time t = i·dt, PsychRNN's
//! convention) takes the values of the epoch whose interval contains t: every boundary falls on
//! the first step at or after it, the one rounding rule for fixed and drawn lengths. An epoch
//! without a duration lasts to the end of the trial; steps after the last epoch are padding
//! (input 0, target 0, mask 0). An epoch reaching past the trial's last step is an error.
//! The host fills the arrays: no script call per time step.

use crate::random::Rng;

use super::{Distribution, EpochSpan, TaskShape, TrialError};

/// Values that hold during one epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochValues {
    /// One value per input channel.
    pub input: Vec<f32>,
    /// One value per output channel.
    pub target: Vec<f32>,
    /// One loss weight per output channel.
    pub mask: Vec<f32>,
    /// Standard deviation of white noise added to every input channel at every step of this
    /// epoch; `None` uses the task's `input_noise`.
    pub input_noise: Option<f64>,
}

/// One named span of a trial.
#[derive(Debug, Clone, PartialEq)]
pub struct Epoch {
    /// Name, used in error messages and (later) in scoring.
    pub name: String,
    /// Length in ms, fixed or drawn by the host; `None` means "until the end of the trial"
    /// (last epoch only). Its boundaries fall on the first step at or after them.
    pub duration: Option<Distribution>,
    /// What holds during the epoch.
    pub values: EpochValues,
}

/// A period inside one epoch whose values replace some of the epoch's: a cue during a
/// stimulus, without splitting the stimulus by hand. It starts `onset` ms after its epoch's
/// start and lasts `duration` ms (to the epoch's end when `None`); its edges fall on the first
/// step at or after them, the rule of epoch boundaries. It must end within its epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct Overlay {
    /// Index of the epoch it lies in.
    pub epoch: usize,
    /// Name, used in error messages.
    pub name: String,
    /// Start in ms after the start of its epoch (≥ 0).
    pub onset: f64,
    /// Length in ms; `None` lasts to the end of its epoch.
    pub duration: Option<f64>,
    /// Input channels it sets, as (channel index, value); the others keep the epoch's values.
    pub input: Vec<(usize, f32)>,
    /// Output channels whose target it sets.
    pub target: Vec<(usize, f32)>,
    /// Output channels whose mask weight it sets.
    pub mask: Vec<(usize, f32)>,
}

/// One trial's arrays, [time, channel] row-major, and the epochs' lengths.
#[derive(Debug, Clone, PartialEq)]
pub struct FilledTrial {
    /// [n_steps × n_in].
    pub inputs: Vec<f32>,
    /// [n_steps × n_out].
    pub targets: Vec<f32>,
    /// [n_steps × n_out].
    pub mask: Vec<f32>,
    /// Length of each epoch in ms as used: its number of steps × dt (an open-ended last epoch
    /// gets what is left of the trial).
    pub durations: Vec<f64>,
    /// Each epoch's steps, in epoch order.
    pub spans: Vec<EpochSpan>,
}

/// The index of the first step at or after `ms` (step i is at t = i·dt): ceil(ms / dt), with a
/// tolerance of 1e-9 steps that absorbs sums like 0.1 + 0.2. The one rounding rule of time to
/// steps: every epoch boundary and overlay edge falls there, and `rng.duration` rounds its draw
/// up to `steps_at_or_after(ms, dt) · dt`, so an epoch that lasts a whole number of steps
/// lasts exactly that long wherever it starts.
pub fn steps_at_or_after(ms: f64, dt: f64) -> usize {
    (ms / dt - 1e-9).ceil().max(0.0) as usize
}

/// Checks that every value is finite (and every mask weight ≥ 0); names epoch and channel.
fn check_values(e: &Epoch, shape: &TaskShape) -> Result<(), TrialError> {
    let groups = [
        ("input", &e.values.input, &shape.inputs),
        ("target", &e.values.target, &shape.outputs),
        ("mask", &e.values.mask, &shape.outputs),
    ];
    for (what, values, names) in groups {
        for (c, v) in values.iter().enumerate() {
            if !v.is_finite() {
                return Err(TrialError::NotFinite {
                    at: format!("epoch '{}'", e.name),
                    array: what,
                    channel: c,
                    name: names[c].clone(),
                    value: *v,
                });
            }
            if what == "mask" && *v < 0.0 {
                return Err(TrialError::NegativeMask {
                    at: format!("epoch '{}'", e.name),
                    channel: c,
                    name: names[c].clone(),
                    value: *v,
                });
            }
        }
    }
    Ok(())
}

/// Fills one trial's inputs, targets and mask from its epochs. Drawn epoch lengths come from
/// `rng` first (in epoch order), then input noise (step by step, channel by channel).
///
/// Lengths, fixed or drawn, are used as given in ms; an epoch boundary falls on the first step
/// at or after it (step i, at t = i·dt, belongs to the epoch whose [start, end) holds t:
/// PsychRNN's rule). An epoch that would reach past the trial's last step is an error
/// (nothing is cut), and so is a trial without epochs.
pub fn fill_epochs(
    shape: &TaskShape,
    epochs: &[Epoch],
    input_noise: f64,
    rng: &mut Rng,
) -> Result<FilledTrial, TrialError> {
    fill_epochs_overlaid(shape, epochs, &[], input_noise, rng)
}

/// [`fill_epochs`] with `overlays` laid over their epochs' values (before input noise, which
/// stays the epoch's). An overlay that starts before or ends after its epoch, or sets a
/// channel the task does not have or a non-finite value, is a [`TrialError::Overlay`].
pub fn fill_epochs_overlaid(
    shape: &TaskShape,
    epochs: &[Epoch],
    overlays: &[Overlay],
    input_noise: f64,
    rng: &mut Rng,
) -> Result<FilledTrial, TrialError> {
    let (n_steps, n_in, n_out) = (shape.n_steps(), shape.n_in(), shape.n_out());
    if epochs.is_empty() {
        return Err(TrialError::Description(
            "task.trial returned no epochs; a trial needs at least one epoch (e.g. [#{ name: \"response\", target: 1.0 }])"
                .into(),
        ));
    }
    let first_step_at = |ms: f64| steps_at_or_after(ms, shape.dt) as f64;
    let mut spans = Vec::with_capacity(epochs.len());
    let mut durations = Vec::with_capacity(epochs.len());
    let mut starts_ms = Vec::with_capacity(epochs.len());
    let mut end_ms = 0.0;
    let mut start = 0usize;
    for (k, e) in epochs.iter().enumerate() {
        let check = |what: &str, len: usize, want: usize, names: &[String]| {
            if len != want {
                Err(TrialError::Description(format!(
                    "epoch '{}': {what} has {len} values but the task has {want} channels ({})",
                    e.name,
                    names.join(", ")
                )))
            } else {
                Ok(())
            }
        };
        check("input", e.values.input.len(), n_in, &shape.inputs)?;
        check("target", e.values.target.len(), n_out, &shape.outputs)?;
        check("mask", e.values.mask.len(), n_out, &shape.outputs)?;
        check_values(e, shape)?;
        starts_ms.push(end_ms);
        let end = match &e.duration {
            Some(dist) => {
                dist.validate().map_err(|source| TrialError::Duration {
                    epoch: e.name.clone(),
                    source,
                })?;
                let d = match dist {
                    Distribution::Constant(d) => *d,
                    drawn => drawn.sample(rng),
                };
                if !(d.is_finite() && d >= 0.0) {
                    return Err(TrialError::Description(format!(
                        "epoch '{}': duration must be a non-negative number of ms, got {d}",
                        e.name
                    )));
                }
                end_ms += d;
                let end = first_step_at(end_ms);
                if end > n_steps as f64 {
                    return Err(TrialError::Description(format!(
                        "epoch '{}' ends at {end_ms} ms, after the end of the trial at {} ms (task.duration, {n_steps} steps of {} ms); shorten the epochs or lengthen the trial",
                        e.name, shape.duration, shape.dt
                    )));
                }
                end as usize
            }
            None if k + 1 == epochs.len() => n_steps,
            None => {
                return Err(TrialError::Description(format!(
                    "epoch '{}' has no duration, but only the last epoch may run to the end of the trial",
                    e.name
                )))
            }
        };
        if let Some(s) = e.values.input_noise {
            if !(s.is_finite() && s >= 0.0) {
                return Err(TrialError::Description(format!(
                    "epoch '{}': input_noise must be ≥ 0, got {s}",
                    e.name
                )));
            }
        }
        durations.push((end - start) as f64 * shape.dt);
        spans.push(EpochSpan {
            name: e.name.clone(),
            start,
            end,
        });
        start = end;
    }
    let mut placed = Vec::with_capacity(overlays.len());
    for o in overlays {
        placed.push(place_overlay(shape, epochs, &spans, &starts_ms, o)?);
    }
    let mut inputs = vec![0.0f32; n_steps * n_in];
    let mut targets = vec![0.0f32; n_steps * n_out];
    let mut mask = vec![0.0f32; n_steps * n_out];
    for (epoch, span) in epochs.iter().zip(&spans) {
        let v = &epoch.values;
        let (a, b) = (span.start, span.end);
        repeat_into(&mut inputs[a * n_in..b * n_in], &v.input);
        repeat_into(&mut targets[a * n_out..b * n_out], &v.target);
        repeat_into(&mut mask[a * n_out..b * n_out], &v.mask);
    }
    // Overlays over their epochs' values, then the noise, step by step and channel by channel
    // in step order (the order the noise has always been drawn in).
    for (o, steps) in overlays.iter().zip(&placed) {
        let span = &spans[o.epoch];
        for i in steps.start.max(span.start)..steps.end.min(span.end) {
            o.input.iter().for_each(|&(c, x)| inputs[i * n_in + c] = x);
            o.target
                .iter()
                .for_each(|&(c, x)| targets[i * n_out + c] = x);
            o.mask.iter().for_each(|&(c, x)| mask[i * n_out + c] = x);
        }
    }
    for (epoch, span) in epochs.iter().zip(&spans) {
        let noise = epoch.values.input_noise.unwrap_or(input_noise) as f32;
        if noise > 0.0 {
            for x in &mut inputs[span.start * n_in..span.end * n_in] {
                *x += rng.normal() as f32 * noise;
            }
        }
    }
    Ok(FilledTrial {
        inputs,
        targets,
        mask,
        durations,
        spans,
    })
}

/// Fills `dst` with copies of `pattern` end to end (`dst.len()` a multiple of its length), in a
/// few doubling copies: one copy per step cost a library call for every two or three values.
fn repeat_into(dst: &mut [f32], pattern: &[f32]) {
    let n = pattern.len();
    if n == 0 || dst.is_empty() {
        return;
    }
    dst[..n].copy_from_slice(pattern);
    let mut filled = n;
    while filled < dst.len() {
        let k = filled.min(dst.len() - filled);
        dst.copy_within(0..k, filled);
        filled += k;
    }
}

/// The steps an overlay covers, after checking it lies in its epoch and its values are usable.
fn place_overlay(
    shape: &TaskShape,
    epochs: &[Epoch],
    spans: &[EpochSpan],
    starts_ms: &[f64],
    o: &Overlay,
) -> Result<std::ops::Range<usize>, TrialError> {
    let Some(epoch) = epochs.get(o.epoch) else {
        return Err(TrialError::Description(format!(
            "overlay '{}' names epoch {} but the trial has {} epochs",
            o.name,
            o.epoch,
            epochs.len()
        )));
    };
    let fail = |message: String| TrialError::Overlay {
        epoch: epoch.name.clone(),
        overlay: o.name.clone(),
        message,
    };
    if !(o.onset.is_finite() && o.onset >= 0.0) {
        return Err(fail(format!(
            "onset must be a number of ms ≥ 0 after the epoch's start, got {}",
            o.onset
        )));
    }
    if let Some(d) = o.duration {
        if !(d.is_finite() && d >= 0.0) {
            return Err(fail(format!(
                "duration must be a number of ms ≥ 0, got {d}"
            )));
        }
    }
    let span = &spans[o.epoch];
    let epoch_start = starts_ms[o.epoch];
    let epoch_end = span.end as f64 * shape.dt;
    let start_ms = epoch_start + o.onset;
    let start = steps_at_or_after(start_ms, shape.dt);
    let (end, end_ms) = match o.duration {
        None => (span.end, epoch_end),
        Some(d) => (steps_at_or_after(start_ms + d, shape.dt), start_ms + d),
    };
    if start > span.end || end > span.end {
        return Err(fail(format!(
            "it runs from {start_ms} ms to {end_ms} ms, past the end of its epoch at {epoch_end} ms (the epoch runs from {} ms to {epoch_end} ms); an overlay must lie inside its epoch",
            span.start as f64 * shape.dt
        )));
    }
    let groups = [
        ("input", &o.input, &shape.inputs),
        ("target", &o.target, &shape.outputs),
        ("mask", &o.mask, &shape.outputs),
    ];
    for (what, values, names) in groups {
        for &(c, v) in values.iter() {
            let Some(name) = names.get(c) else {
                return Err(fail(format!(
                    "{what} channel {c} does not exist; the task has {} ({})",
                    names.len(),
                    names.join(", ")
                )));
            };
            if !v.is_finite() || (what == "mask" && v < 0.0) {
                return Err(fail(format!(
                    "{what} of channel {c} ({name}) is {v}; values must be finite (mask weights ≥ 0)"
                )));
            }
        }
    }
    Ok(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeat_into_is_the_pattern_end_to_end() {
        for n in 1..5 {
            let pattern: Vec<f32> = (0..n).map(|c| c as f32 + 0.5).collect();
            for steps in [0, 1, 2, 3, 7, 8, 200] {
                let mut got = vec![-1.0f32; steps * n];
                repeat_into(&mut got, &pattern);
                let want: Vec<f32> = (0..steps * n).map(|k| pattern[k % n]).collect();
                assert_eq!(got, want, "n {n}, steps {steps}");
            }
        }
    }

    fn shape() -> TaskShape {
        TaskShape {
            inputs: vec!["a".into(), "b".into()],
            outputs: vec!["y".into()],
            dt: 10.0,
            tau: 100.0,
            duration: 100.0,
        }
    }

    fn epoch(name: &str, duration: Option<f64>, input: [f32; 2], mask: f32) -> Epoch {
        Epoch {
            name: name.into(),
            duration: duration.map(Distribution::Constant),
            values: EpochValues {
                input: input.to_vec(),
                target: vec![mask * 2.0],
                mask: vec![mask],
                input_noise: None,
            },
        }
    }

    #[test]
    fn steps_take_the_epoch_containing_their_time() {
        // fixation [0, 25) → steps 0,1,2; stimulus [25, 55) → steps 3,4,5; rest → 6..9.
        let e = [
            epoch("fix", Some(25.0), [0.0, 0.0], 0.0),
            epoch("stim", Some(30.0), [1.0, 2.0], 0.0),
            epoch("resp", None, [0.0, 0.0], 1.0),
        ];
        let f = fill_epochs(&shape(), &e, 0.0, &mut Rng::from_seed(0)).unwrap();
        let (x, y, m) = (f.inputs, f.targets, f.mask);
        // Lengths as used: whole steps (the boundary at 25 ms falls on step 3, at 30 ms).
        assert_eq!(f.durations, [30.0, 30.0, 40.0]);
        let a: Vec<f32> = x.chunks(2).map(|r| r[0]).collect();
        assert_eq!(a, [0., 0., 0., 1., 1., 1., 0., 0., 0., 0.]);
        assert_eq!(m, [0., 0., 0., 0., 0., 0., 1., 1., 1., 1.]);
        assert_eq!(y[6], 2.0);
    }

    #[test]
    fn spans_give_each_epoch_the_steps_it_filled() {
        let e = [
            epoch("fix", Some(25.0), [0.0, 0.0], 0.0),
            epoch("stim", Some(30.0), [1.0, 2.0], 0.0),
            epoch("gap", Some(0.0), [0.0, 0.0], 0.0),
            epoch("resp", None, [0.0, 0.0], 1.0),
        ];
        let f = fill_epochs(&shape(), &e, 0.0, &mut Rng::from_seed(0)).unwrap();
        let spans: Vec<(&str, usize, usize)> = f
            .spans
            .iter()
            .map(|s| (s.name.as_str(), s.start, s.end))
            .collect();
        assert_eq!(
            spans,
            [
                ("fix", 0, 3),
                ("stim", 3, 6),
                ("gap", 6, 6),
                ("resp", 6, 10)
            ]
        );
        // The spans agree with the arrays: the stimulus input is on exactly in its span.
        let on: Vec<usize> = (0..10).filter(|&i| f.inputs[2 * i] == 1.0).collect();
        assert_eq!(on, (3..6).collect::<Vec<_>>());
    }

    #[test]
    fn steps_after_the_last_epoch_are_padding() {
        let e = [epoch("only", Some(40.0), [1.0, 1.0], 1.0)];
        let f = fill_epochs(&shape(), &e, 0.0, &mut Rng::from_seed(0)).unwrap();
        let (x, m) = (f.inputs, f.mask);
        assert_eq!(m, [1., 1., 1., 1., 0., 0., 0., 0., 0., 0.]);
        assert_eq!(&x[8..], &[0.0; 12]);
    }

    #[test]
    fn noise_has_the_requested_std_and_only_inside_epochs() {
        let mut s = shape();
        s.duration = 100_000.0;
        let e = [epoch("stim", Some(50_000.0), [1.0, 1.0], 1.0)];
        let x = fill_epochs(&s, &e, 0.5, &mut Rng::from_seed(1))
            .unwrap()
            .inputs;
        let inside: Vec<f64> = x[..10_000].iter().map(|&v| v as f64 - 1.0).collect();
        let var = inside.iter().map(|v| v * v).sum::<f64>() / inside.len() as f64;
        assert!((var.sqrt() - 0.5).abs() < 0.02, "std {}", var.sqrt());
        assert!(x[10_000..].iter().all(|&v| v == 0.0));
    }

    #[test]
    fn wrong_channel_count_names_epoch_and_channels() {
        let mut e = epoch("stim", Some(10.0), [1.0, 1.0], 1.0);
        e.values.input.push(3.0);
        let err = fill_epochs(&shape(), &[e], 0.0, &mut Rng::from_seed(0))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "epoch 'stim': input has 3 values but the task has 2 channels (a, b)"
        );
    }

    #[test]
    fn drawn_durations_follow_the_boundary_rule_and_come_from_the_trial_stream() {
        let mut e = [
            epoch("delay", None, [0.0, 0.0], 0.0),
            epoch("resp", None, [1.0, 1.0], 1.0),
        ];
        e[0].duration = Some(Distribution::Uniform { lo: 20.0, hi: 70.0 });
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..200 {
            let f = fill_epochs(&shape(), &e, 0.0, &mut Rng::from_seed(seed)).unwrap();
            let d = f.durations[0];
            assert_eq!(d % 10.0, 0.0, "{d}");
            assert!((20.0..=70.0).contains(&d));
            // The response starts at the first step at or after the drawn delay.
            let first_resp = f.mask.iter().position(|&m| m == 1.0).unwrap();
            assert_eq!(first_resp, (d / 10.0) as usize);
            let mut again = Rng::from_seed(seed);
            // Drawn, not rounded: the boundary falls on the first step at or after it, as a
            // fixed length's does.
            let drawn = Distribution::Uniform { lo: 20.0, hi: 70.0 }.sample(&mut again);
            assert_eq!(d, (drawn / 10.0).ceil() * 10.0, "drawn {drawn}");
            seen.insert(d as i64);
        }
        assert_eq!(seen, [30, 40, 50, 60, 70].into_iter().collect(), "{seen:?}");
    }

    #[test]
    fn non_finite_values_and_negative_masks_name_the_channel() {
        let mut e = epoch("stim", Some(10.0), [1.0, f32::NAN], 1.0);
        let err = fill_epochs(&shape(), &[e.clone()], 0.0, &mut Rng::from_seed(0))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "epoch 'stim': input of channel 1 (b) is NaN; values must be finite numbers"
        );
        e.values.input[1] = 0.0;
        e.values.mask[0] = -1.0;
        let err = fill_epochs(&shape(), &[e], 0.0, &mut Rng::from_seed(0))
            .unwrap_err()
            .to_string();
        assert!(err.contains("mask of channel 0 (y) is -1"), "{err}");
    }

    #[test]
    fn boundaries_fall_on_the_first_step_at_or_after_them() {
        // Boundaries at 14, 30 and 44 ms fall on steps 2, 3 and 5.
        let e = [
            epoch("a", Some(14.0), [0.0, 0.0], 0.0),
            epoch("b", Some(16.0), [0.0, 0.0], 0.0),
            epoch("c", Some(14.0), [0.0, 0.0], 0.0),
        ];
        let f = fill_epochs(&shape(), &e, 0.0, &mut Rng::from_seed(0)).unwrap();
        let spans: Vec<(usize, usize)> = f.spans.iter().map(|s| (s.start, s.end)).collect();
        assert_eq!(spans, [(0, 2), (2, 3), (3, 5)]);
        assert_eq!(f.durations, [20.0, 10.0, 20.0]);
    }

    #[test]
    fn an_epoch_ending_after_the_trial_is_an_error_not_cut() {
        let e = [
            epoch("fix", Some(60.0), [0.0, 0.0], 0.0),
            epoch("decision", Some(50.0), [0.0, 0.0], 1.0),
        ];
        let err = fill_epochs(&shape(), &e, 0.0, &mut Rng::from_seed(0))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "epoch 'decision' ends at 110 ms, after the end of the trial at 100 ms"
            ),
            "{err}"
        );
        // Reaching past the last step's time (90 ms) but not past its end is fine, and so is
        // ending exactly at the end of the trial.
        let e = [
            epoch("fix", Some(60.0), [0.0, 0.0], 0.0),
            epoch("decision", Some(35.0), [0.0, 0.0], 1.0),
        ];
        assert!(fill_epochs(&shape(), &e, 0.0, &mut Rng::from_seed(0)).is_ok());
        let e = [
            epoch("fix", Some(60.0), [0.0, 0.0], 0.0),
            epoch("decision", Some(40.0), [0.0, 0.0], 1.0),
        ];
        assert!(fill_epochs(&shape(), &e, 0.0, &mut Rng::from_seed(0)).is_ok());
    }

    #[test]
    fn a_trial_without_epochs_is_an_error() {
        let err = fill_epochs(&shape(), &[], 0.0, &mut Rng::from_seed(0))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("task.trial returned no epochs"), "{err}");
    }

    #[test]
    fn open_ended_epoch_must_be_last() {
        let e = [
            epoch("a", None, [0.0, 0.0], 0.0),
            epoch("b", Some(1.0), [0.0, 0.0], 0.0),
        ];
        let err = fill_epochs(&shape(), &e, 0.0, &mut Rng::from_seed(0))
            .unwrap_err()
            .to_string();
        assert!(err.contains("only the last epoch"), "{err}");
    }

    #[test]
    fn overlays_replace_only_their_channels_and_must_lie_in_their_epoch() {
        // Epoch "stim" covers steps 2..7 (15 ms → step 2, 15 + 50 = 65 ms → step 7).
        let e = [
            epoch("fix", Some(15.0), [0.0, 0.0], 0.0),
            epoch("stim", Some(50.0), [1.0, 2.0], 1.0),
        ];
        let cue = Overlay {
            epoch: 1,
            name: "cue".into(),
            onset: 20.0,
            duration: None,
            input: vec![(1, 5.0)],
            target: vec![],
            mask: vec![(0, 0.0)],
        };
        let f = fill_epochs_overlaid(
            &shape(),
            &e,
            std::slice::from_ref(&cue),
            0.0,
            &mut Rng::from_seed(0),
        )
        .unwrap();
        // Onset 15 + 20 = 35 ms → step 4; no duration: to the epoch's end (step 7).
        let b: Vec<f32> = f.inputs.chunks(2).map(|r| r[1]).collect();
        assert_eq!(b, [0., 0., 2., 2., 5., 5., 5., 0., 0., 0.]);
        let a: Vec<f32> = f.inputs.chunks(2).map(|r| r[0]).collect();
        assert_eq!(a, [0., 0., 1., 1., 1., 1., 1., 0., 0., 0.]);
        assert_eq!(f.mask, [0., 0., 1., 1., 0., 0., 0., 0., 0., 0.]);
        assert_eq!(f.spans.len(), 2);
        let late = Overlay {
            duration: Some(40.0),
            ..cue
        };
        let err =
            fill_epochs_overlaid(&shape(), &e, &[late], 0.0, &mut Rng::from_seed(0)).unwrap_err();
        assert!(matches!(err, TrialError::Overlay { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "epoch 'stim', overlay 'cue': it runs from 35 ms to 75 ms, past the end of its epoch at 70 ms (the epoch runs from 20 ms to 70 ms); an overlay must lie inside its epoch"
        );
    }
}
