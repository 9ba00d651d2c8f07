//! Functions scripts use to describe trials: `dist::…` distributions for epoch durations,
//! `channels`, `one_hot` and `ring_bump` for channel values.

use rhai::{Array, Dynamic, Engine, EvalAltResult, FuncRegistration, Module, INT};

use super::traced_time::{rhai_compare, Cmp};

use crate::task::{Distribution, MAX_CHANNELS};

type Fallible<T> = Result<T, Box<EvalAltResult>>;

/// A number from a script value (integers accepted); `what` names it in the error.
pub fn number(value: &Dynamic, what: &str) -> Fallible<f64> {
    if let Some(f) = value.clone().try_cast::<f64>() {
        return Ok(f);
    }
    if let Some(i) = value.clone().try_cast::<INT>() {
        return Ok(i as f64);
    }
    Err(format!(
        "{what} must be a number, got {} ({value})",
        value.type_name()
    )
    .into())
}

fn checked(d: Distribution) -> Fallible<Distribution> {
    d.validate()?;
    Ok(d)
}

/// Registers the `Distribution` type, the `dist` module, `ring_bump` and `channels`, each
/// function with its doc comment (`psychrnn doc` prints them; every example is evaluated by the
/// tests in `docs.rs`).
pub fn register(engine: &mut Engine) {
    engine.register_type_with_name::<Distribution>("Distribution");
    FuncRegistration::new("to_string")
        .with_comments([
            "/// The distribution as text, as `print` and `${…}` show it.",
            "/// Example: `dist::uniform(200, 600).to_string()` → `\"uniform(200, 600)\"`",
        ])
        .with_params_info(["distribution: &mut Distribution"])
        .register_into_engine(engine, |d: &mut Distribution| d.to_string());
    FuncRegistration::new("to_debug")
        .with_comments([
            "/// The distribution as text, as `debug` shows it (the same as `to_string`).",
            "/// Example: `dist::choice([100, 200]).to_debug()` → `\"choice([100, 200])\"`",
        ])
        .with_params_info(["distribution: &mut Distribution"])
        .register_into_engine(engine, |d: &mut Distribution| d.to_string());

    let mut dist = Module::new();
    FuncRegistration::new("constant")
        .with_comments([
            "/// An epoch duration that is always x ms.",
            "/// Example: `dist::constant(300)`",
        ])
        .with_params_info(["x"])
        .set_into_module(&mut dist, |v: Dynamic| {
            checked(Distribution::Constant(number(&v, "dist::constant(value)")?))
        });
    FuncRegistration::new("uniform")
        .with_comments([
            "/// An epoch duration drawn uniformly from [lo, hi) ms by the host.",
            "/// Example: `dist::uniform(200, 600)`",
        ])
        .with_params_info(["lo", "hi"])
        .set_into_module(&mut dist, |lo: Dynamic, hi: Dynamic| {
            checked(Distribution::Uniform {
                lo: number(&lo, "dist::uniform(lo, hi): lo")?,
                hi: number(&hi, "dist::uniform(lo, hi): hi")?,
            })
        });
    FuncRegistration::new("choice")
        .with_comments([
            "/// An epoch duration drawn from the values (ms), each equally likely.",
            "/// Example: `dist::choice([100, 200])`",
        ])
        .with_params_info(["values"])
        .set_into_module(&mut dist, |values: Array| {
            let v = values
                .iter()
                .map(|x| number(x, "dist::choice(values): every value"))
                .collect::<Fallible<Vec<f64>>>()?;
            checked(Distribution::Choice(v))
        });
    FuncRegistration::new("trunc_exp")
        .with_comments([
            "/// An epoch duration from an exponential with the given mean truncated to [min, max) ms.",
            "/// Example: `dist::trunc_exp(300, 100, 1000)`",
        ])
        .with_params_info(["mean", "min", "max"])
        .set_into_module(
            &mut dist,
            |mean: Dynamic, min: Dynamic, max: Dynamic| {
                checked(Distribution::TruncExp {
                    mean: number(&mean, "dist::trunc_exp(mean, min, max): mean")?,
                    min: number(&min, "dist::trunc_exp(mean, min, max): min")?,
                    max: number(&max, "dist::trunc_exp(mean, min, max): max")?,
                })
            },
        );
    FuncRegistration::new("trunc_exp")
        .with_comments([
            "/// An epoch duration from an exponential with the given mean truncated to [min, ∞) ms.",
            "/// Example: `dist::trunc_exp(300, 100)`",
        ])
        .with_params_info(["mean", "min"])
        .set_into_module(&mut dist, |mean: Dynamic, min: Dynamic| {
            checked(Distribution::TruncExp {
                mean: number(&mean, "dist::trunc_exp(mean, min): mean")?,
                min: number(&min, "dist::trunc_exp(mean, min): min")?,
                max: f64::INFINITY,
            })
        });
    engine.register_static_module("dist", dist.into());

    FuncRegistration::new("channels")
        .with_comments([
            "/// Channel names prefix_0 … prefix_{n−1}.",
            "/// Example: `channels(\"dir\", 3)` → `[\"dir_0\", \"dir_1\", \"dir_2\"]`",
        ])
        .with_params_info(["prefix", "n"])
        .register_into_engine(engine, |prefix: &str, n: INT| -> Fallible<Array> {
            let n = channel_count("channels(prefix, n)", n, 0)?;
            Ok((0..n)
                .map(|k| Dynamic::from(format!("{prefix}_{k}")))
                .collect())
        });
    FuncRegistration::new("one_hot")
        .with_comments([
            "/// n values, 1.0 at index i and 0.0 elsewhere (i from 0 to n−1).",
            "/// Example: `one_hot(2, 4)` → `[0.0, 0.0, 1.0, 0.0]`",
        ])
        .with_params_info(["i", "n"])
        .register_into_engine(engine, |i: INT, n: INT| -> Fallible<Array> {
            let n = channel_count("one_hot(i, n)", n, 1)?;
            let i = one_hot_index("one_hot(i, n)", i, n)?;
            Ok((0..n)
                .map(|k| Dynamic::from(if k == i { 1.0 } else { 0.0 }))
                .collect())
        });
    FuncRegistration::new("one_hot")
        .with_comments([
            "/// A channel map setting channel prefix_i (of prefix_0 … prefix_{n−1}, as `channels(prefix, n)` names them) to 1.0: the other channels of an epoch's input or target stay 0.",
            "/// Example: `one_hot(\"stim\", 1, 3)` → `#{ \"stim_1\": 1.0 }`",
        ])
        .with_params_info(["prefix", "i", "n"])
        .register_into_engine(engine, |prefix: &str, i: INT, n: INT| -> Fallible<rhai::Map> {
            let n = channel_count("one_hot(prefix, i, n)", n, 1)?;
            let i = one_hot_index("one_hot(prefix, i, n)", i, n)?;
            let mut m = rhai::Map::new();
            m.insert(format!("{prefix}_{i}").into(), Dynamic::from(1.0));
            Ok(m)
        });
    FuncRegistration::new("ring_bump")
        .with_comments([
            "/// A Gaussian bump over n channels with preferred angles 2πk/n: exp(−d²/(2·0.5²)), d the wrapped angle difference (radians).",
            "/// Example: `ring_bump(0.0, 4)[0]` → `1.0`",
        ])
        .with_params_info(["angle", "n"])
        .register_into_engine(engine, |angle: Dynamic, n: INT| {
            ring_bump(&angle, n, &Dynamic::from(0.5))
        });
    FuncRegistration::new("ring_bump")
        .with_comments([
            "/// The bump of `ring_bump(angle, n)` with the given width (radians) instead of 0.5.",
            "/// Example: `ring_bump(1.0, 8, 0.3)`",
        ])
        .with_params_info(["angle", "n", "width"])
        .register_into_engine(engine, |angle: Dynamic, n: INT, width: Dynamic| {
            ring_bump(&angle, n, &width)
        });
    FuncRegistration::new("yang_ring")
        .with_comments([
            "/// Yang et al. 2019's ring input over n channels with preferred angles 2πk/n: strength · 0.8 · exp(−½(8d/π)²), d the angle's difference from channel k's, wrapped to (−π, π] (radians). The stdlib's ring tasks build their inputs with it (their targets add 0.05).",
            "/// Example: `yang_ring(0.0, 4, 1.0)[0]` → `0.8`",
        ])
        .with_params_info(["angle", "n", "strength"])
        .register_into_engine(engine, |angle: Dynamic, n: INT, strength: Dynamic| {
            let call = "yang_ring(angle, n, strength)";
            let angle = number(&angle, "yang_ring(angle, n, strength): angle")?;
            let strength = number(&strength, "yang_ring(angle, n, strength): strength")?;
            let n = channel_count(call, n, 0)?;
            Ok::<_, Box<EvalAltResult>>(yang_ring(angle, n, strength))
        });
    FuncRegistration::new("latch_epochs")
        .with_comments([
            "/// The epochs of a latch (flip-flop) trial from each channel's pulses: `trains[c]` is channel c's [step, value] pairs in increasing step order (as `rng.pulse_train` draws them). Every step with a pulse is a one-step epoch named \"pulse\" whose input is the pulses' values (0 on channels without one); the steps between are epochs named \"hold\" with input 0, and a last \"hold\" without a duration fills the rest of the trial. The target of every epoch is each channel's latest pulse value, its mask 1 on the channels that have pulsed (0 before their first pulse). `dt` is the task's time step in ms.",
            "/// Example: `latch_epochs([[[2, 1.0]], []], 10.0).len()` → `3`",
        ])
        .with_params_info(["trains", "dt"])
        .register_into_engine(engine, |trains: Array, dt: Dynamic| -> Fallible<Array> {
            let dt = number(&dt, "latch_epochs(trains, dt): dt")?;
            latch_epochs(&trains, dt)
        });
}

/// One pulse of a latch train: its step, channel and value.
struct LatchPulse {
    step: INT,
    channel: usize,
    value: f64,
}

/// The epochs `latch_epochs(trains, dt)` documents, as the epoch maps a script would write.
fn latch_epochs(trains: &Array, dt: f64) -> Fallible<Array> {
    let call = "latch_epochs(trains, dt)";
    if !(dt > 0.0 && dt.is_finite()) {
        return Err(format!("{call} needs dt > 0 ms, got {dt}").into());
    }
    let channels = channel_count(call, trains.len() as INT, 1)?;
    let mut pulses = Vec::new();
    for (c, train) in trains.iter().enumerate() {
        let train = train.read_lock::<Array>().ok_or_else(|| {
            format!(
                "{call}: trains[{c}] must be an array of [step, value] pairs, got {}",
                train.type_name()
            )
        })?;
        let mut last = -1;
        for (k, pulse) in train.iter().enumerate() {
            let at = || format!("{call}: trains[{c}][{k}]");
            let pair = pulse
                .read_lock::<Array>()
                .filter(|pair| pair.len() == 2)
                .ok_or_else(|| format!("{}: must be a [step, value] pair, got {pulse}", at()))?;
            let step = pair[0]
                .as_int()
                .map_err(|t| format!("{}: the step must be an integer, got {t}", at()))?;
            if step < 0 {
                return Err(format!(
                    "{}: a step must be ≥ 0 (the trial's steps count from 0), got {step}",
                    at()
                )
                .into());
            }
            if step <= last {
                return Err(format!(
                    "{}: steps must increase within a channel, got {step} after {last}",
                    at()
                )
                .into());
            }
            let value = number(&pair[1], &format!("{}: the value", at()))?;
            last = step;
            pulses.push(LatchPulse {
                step,
                channel: c,
                value,
            });
        }
    }
    // Stable: channels of one step stay in channel order.
    pulses.sort_by_key(|p| p.step);
    let floats = |v: &[f64]| -> Dynamic {
        v.iter()
            .map(|&x| Dynamic::from(x))
            .collect::<Array>()
            .into()
    };
    let epoch =
        |name: &str, duration: Option<f64>, input: Option<&[f64]>, state: &[f64], mask: &[f64]| {
            let mut m = rhai::Map::new();
            m.insert("name".into(), name.into());
            if let Some(ms) = duration {
                m.insert("duration".into(), Dynamic::from(ms));
            }
            if let Some(input) = input {
                m.insert("input".into(), floats(input));
            }
            m.insert("target".into(), floats(state));
            m.insert("mask".into(), floats(mask));
            Dynamic::from_map(m)
        };
    let mut state = vec![0.0; channels];
    let mut mask = vec![0.0; channels];
    let mut epochs = Array::new();
    // The first step not yet described.
    let mut t: INT = 0;
    let mut i = 0;
    while i < pulses.len() {
        let step = pulses[i].step;
        if step > t {
            epochs.push(epoch(
                "hold",
                Some((step - t) as f64 * dt),
                None,
                &state,
                &mask,
            ));
        }
        let mut input = vec![0.0; channels];
        while i < pulses.len() && pulses[i].step == step {
            let p = &pulses[i];
            input[p.channel] = p.value;
            state[p.channel] = p.value;
            mask[p.channel] = 1.0;
            i += 1;
        }
        epochs.push(epoch("pulse", Some(dt), Some(&input), &state, &mask));
        t = step + 1;
    }
    epochs.push(epoch("hold", None, None, &state, &mask));
    Ok(epochs)
}

/// `i` as an index below `n`, or an error naming `call`.
fn one_hot_index(call: &str, i: INT, n: usize) -> Fallible<usize> {
    match usize::try_from(i) {
        Ok(k) if k < n => Ok(k),
        _ => Err(format!("{call} needs 0 ≤ i < n = {n}, got i = {i}").into()),
    }
}

/// `n` as a channel count between `min` and [`MAX_CHANNELS`], or an error naming `call`.
fn channel_count(call: &str, n: INT, min: usize) -> Fallible<usize> {
    match usize::try_from(n) {
        Ok(k) if (min..=MAX_CHANNELS).contains(&k) => Ok(k),
        _ => Err(format!(
            "{call} needs n between {min} and {MAX_CHANNELS} (a task's most channels), got {n}"
        )
        .into()),
    }
}

/// A Gaussian bump over `n` channels whose preferred angles are 2πk/n: channel k gets
/// exp(−d²/(2·width²)), d the angle difference wrapped to [−π, π] (radians).
fn ring_bump(angle: &Dynamic, n: INT, width: &Dynamic) -> Fallible<Array> {
    let angle = number(angle, "ring_bump(angle, n, width): angle")?;
    let width = number(width, "ring_bump(angle, n, width): width")?;
    let n = channel_count("ring_bump(angle, n, width)", n, 1)?;
    if !(width > 0.0 && width.is_finite()) {
        return Err(format!("ring_bump(angle, n, width) needs width > 0, got {width}").into());
    }
    let tau = std::f64::consts::TAU;
    Ok((0..n)
        .map(|k| {
            let pref = tau * k as f64 / n as f64;
            let d = (angle - pref + std::f64::consts::PI).rem_euclid(tau) - std::f64::consts::PI;
            Dynamic::from((-d * d / (2.0 * width * width)).exp())
        })
        .collect())
}

/// The values of `yang_ring(angle, n, strength)`, computed as the stdlib's Rhai form of it
/// computed them, operation for operation, so its tasks' trials stay the same: Rhai promotes
/// the INTs to FLOAT where they meet a FLOAT, compares FLOATs relative to their size
/// ([`rhai_compare`]) and raises to an INT power with `powf` (glibc's `pow`, whose result can
/// differ from `x * x` by an ulp; `black_box` keeps the compiler from folding it into one).
fn yang_ring(angle: f64, n: usize, strength: f64) -> Array {
    let pi = std::f64::consts::PI;
    let two_pi = 2.0 * pi;
    (0..n)
        .map(|k| {
            let mut r = (angle - two_pi * k as f64 / n as f64) % two_pi;
            if rhai_compare(Cmp::Lt, r, 0.0) {
                r += two_pi;
            }
            let d = if rhai_compare(Cmp::Gt, r, pi) {
                r - two_pi
            } else {
                r
            };
            let square = (8.0 * d / pi).powf(std::hint::black_box(2.0));
            Dynamic::from(strength * 0.8 * (-0.5 * square).exp())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stdlib's ring input as it was written in Rhai before `yang_ring` replaced it.
    const RHAI_RING_INPUT: &str = r#"
        fn ring_input(angle, n, strength) {
            let pi = PI();
            let two_pi = 2.0 * pi;
            let out = [];
            for k in 0..n {
                let r = (angle - two_pi * k / n) % two_pi;
                if r < 0.0 { r += two_pi; }
                let d = if r > pi { r - two_pi } else { r };
                out.push(strength * 0.8 * exp(-0.5 * (8.0 * d / pi) ** 2));
            }
            out
        }
    "#;

    #[test]
    fn yang_ring_gives_the_values_of_its_rhai_form_bit_for_bit() {
        let mut engine = Engine::new();
        register(&mut engine);
        let ast = engine.compile(RHAI_RING_INPUT).unwrap();
        let mut rng = crate::random::Rng::from_seed(11);
        let mut cases = 0;
        for n in (1..=40).chain([64, 100, 256]) {
            // Random angles, the channels' own angles (where r lands on 0 or π, the epsilon
            // comparisons' edge), and angles off by a few ulps of them.
            let mut angles: Vec<f64> = (0..12).map(|_| rng.uniform_range(-10.0, 10.0)).collect();
            for k in [0, 1, n / 2, n - 1] {
                let a = 2.0 * std::f64::consts::PI * k as f64 / n as f64;
                angles.extend([a, -a, a + std::f64::consts::PI, a - std::f64::consts::PI]);
                angles.extend([f64::from_bits(a.to_bits() + 3), a * (1.0 - 1e-16)]);
            }
            for &angle in &angles {
                for strength in [1.0, 0.35, 2.5] {
                    let args = (angle, n as INT, strength);
                    let script: Array = engine
                        .call_fn(&mut rhai::Scope::new(), &ast, "ring_input", args)
                        .unwrap();
                    let native = yang_ring(angle, n, strength);
                    assert_eq!(script.len(), native.len());
                    for (k, (a, b)) in script.iter().zip(&native).enumerate() {
                        let (a, b) = (a.as_float().unwrap(), b.as_float().unwrap());
                        assert_eq!(
                            a.to_bits(),
                            b.to_bits(),
                            "angle {angle:e}, n {n}, strength {strength}, channel {k}: script {a:e}, native {b:e}"
                        );
                        cases += 1;
                    }
                }
            }
        }
        assert!(cases > 100_000, "{cases}");
        // Through the engine, INT arguments promoted as the script promoted them.
        let v: Array = engine.eval("yang_ring(0, 4, 1)").unwrap();
        assert_eq!(v[0].as_float().unwrap(), 0.8);
        let e = engine
            .eval::<Array>("yang_ring(0.0, -1, 1.0)")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("yang_ring(angle, n, strength) needs n between 0 and 4096"),
            "{e}"
        );
        let e = engine
            .eval::<Array>("yang_ring(\"up\", 8, 1.0)")
            .unwrap_err()
            .to_string();
        assert!(e.contains("yang_ring(angle, n, strength): angle"), "{e}");
    }

    #[test]
    fn ring_bump_peaks_at_the_preferred_channel_and_wraps() {
        let mut engine = Engine::new();
        register(&mut engine);
        let v: Array = engine.eval("ring_bump(PI() / 2.0, 8, 0.5)").unwrap();
        let v: Vec<f64> = v.into_iter().map(|x| x.cast::<f64>()).collect();
        assert!((v[2] - 1.0).abs() < 1e-12, "{v:?}");
        let d = std::f64::consts::FRAC_PI_4;
        assert!((v[1] - (-d * d / 0.5).exp()).abs() < 1e-12);
        assert!((v[1] - v[3]).abs() < 1e-12);
        // Angle 0 and 2π are the same point; channel 7 (at 7π/4) neighbours channel 0.
        let w: Array = engine.eval("ring_bump(2.0 * PI(), 8)").unwrap();
        let w: Vec<f64> = w.into_iter().map(|x| x.cast::<f64>()).collect();
        assert!((w[0] - 1.0).abs() < 1e-12 && (w[7] - w[1]).abs() < 1e-12);
        let e = engine
            .eval::<Array>("ring_bump(0.0, 0)")
            .unwrap_err()
            .to_string();
        assert!(e.contains("needs n between 1 and 4096"), "{e}");
        let e = engine
            .eval::<Array>("ring_bump(1.0, 100000000)")
            .unwrap_err()
            .to_string();
        assert!(e.contains("got 100000000"), "{e}");
        let e = engine
            .eval::<Array>("channels(\"d\", 100000000)")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("channels(prefix, n) needs n between 0 and 4096"),
            "{e}"
        );
        let e = engine
            .eval::<Distribution>("dist::uniform(5, 1)")
            .unwrap_err()
            .to_string();
        assert!(e.contains("uniform(5, 1): needs lo ≤ hi"), "{e}");
        let v: Array = engine.eval("one_hot(1, 3)").unwrap();
        let v: Vec<f64> = v.into_iter().map(|x| x.cast::<f64>()).collect();
        assert_eq!(v, [0.0, 1.0, 0.0]);
        let m: rhai::Map = engine.eval("one_hot(\"dir\", 2, 3)").unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m["dir_2"].clone().cast::<f64>(), 1.0);
        for code in ["one_hot(3, 3)", "one_hot(\"dir\", -1, 3)"] {
            let e = engine.eval::<rhai::Dynamic>(code).unwrap_err().to_string();
            assert!(e.contains("needs 0 ≤ i < n = 3"), "{code}: {e}");
        }
        let d: Distribution = engine.eval("dist::trunc_exp(200, 100)").unwrap();
        assert_eq!(
            d,
            Distribution::TruncExp {
                mean: 200.0,
                min: 100.0,
                max: f64::INFINITY
            }
        );
    }

    /// The flip-flop trial as the task library wrote it before `latch_epochs` (pulses encoded
    /// as sortable integers, epochs built in the script), beside the native call.
    const LATCH_IN_SCRIPT: &str = r#"
        let trains = [];
        for c in 0..bits { trains.push(rng.pulse_train(steps, p, [-1.0, 1.0])); }
        let keys = [];
        for c in 0..bits {
            for q in trains[c] { keys.push((q[0] * bits + c) * 2 + if q[1] > 0.0 { 1 } else { 0 }); }
        }
        keys.sort();
        let zeros = [];
        for c in 0..bits { zeros.push(0.0); }
        let state = zeros; let mask = zeros; let epochs = [];
        let pulse = zeros; let step = -1; let t = 0;
        for key in keys {
            let s = key / (2 * bits);
            if s != step {
                if step >= 0 {
                    epochs.push(#{ name: "pulse", duration: dt, input: pulse, target: state, mask: mask });
                    t = step + 1;
                }
                if s > t {
                    epochs.push(#{ name: "hold", duration: (s - t) * dt, target: state, mask: mask });
                }
                pulse = zeros;
                step = s;
            }
            let c = (key / 2) % bits;
            let value = if key % 2 == 1 { 1.0 } else { -1.0 };
            pulse[c] = value; state[c] = value; mask[c] = 1.0;
        }
        if step >= 0 {
            epochs.push(#{ name: "pulse", duration: dt, input: pulse, target: state, mask: mask });
        }
        epochs.push(#{ name: "hold", target: state, mask: mask });
        [latch_epochs(trains, dt), epochs]
    "#;

    #[test]
    fn latch_epochs_are_the_epochs_the_script_wrote() {
        let mut engine = Engine::new();
        register(&mut engine);
        super::super::rng::register(&mut engine);
        let mut seen = 0;
        for (bits, p, dt) in [
            (3, 0.02, 10.0),
            (1, 0.3, 20.0),
            (4, 0.1, 5.0),
            (2, 1.0, 10.0),
        ] {
            let rng = super::super::rng::ScriptRng::new(crate::random::Rng::from_seed(bits));
            for _ in 0..30 {
                let mut scope = rhai::Scope::new();
                scope.push("rng", rng.clone());
                scope.push("bits", bits as INT);
                scope.push("steps", 60 as INT);
                scope.push("p", p);
                scope.push("dt", dt);
                let both: Array = engine.eval_with_scope(&mut scope, LATCH_IN_SCRIPT).unwrap();
                let (native, written) = (format!("{:?}", both[0]), format!("{:?}", both[1]));
                assert_eq!(native, written, "bits {bits}, p {p}");
                seen += both[0].clone().cast::<Array>().len();
            }
        }
        assert!(seen > 500, "{seen} epochs");
        for (bad, message) in [
            (
                "latch_epochs([[[3, 1.0], [2, 1.0]]], 10.0)",
                "trains[0][1]: steps must increase within a channel, got 2 after 3",
            ),
            (
                "latch_epochs([[[3, 1.0]], [3]], 10.0)",
                "trains[1][0]: must be a [step, value] pair, got 3",
            ),
            (
                "latch_epochs([[[1.5, 1.0]]], 10.0)",
                "trains[0][0]: the step must be an integer, got f64",
            ),
            (
                "latch_epochs([[[1, \"up\"]]], 10.0)",
                "trains[0][0]: the value must be a number",
            ),
            (
                "latch_epochs([[[-3, 1.0]]], 10.0)",
                "trains[0][0]: a step must be ≥ 0 (the trial's steps count from 0), got -3",
            ),
            (
                "latch_epochs([5], 10.0)",
                "trains[0] must be an array of [step, value] pairs, got i64",
            ),
            ("latch_epochs([], 10.0)", "needs n between 1 and"),
            ("latch_epochs([[]], 0.0)", "needs dt > 0 ms, got 0"),
        ] {
            let e = engine.eval::<Array>(bad).unwrap_err().to_string();
            assert!(e.contains(message), "{bad}: {e}");
        }
    }
}
