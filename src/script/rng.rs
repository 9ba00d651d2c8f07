//! The seeded random generator scripts draw trial parameters from (`rng` in `params: |rng| …`).

use std::sync::{Arc, Mutex};

use rhai::{Array, Dynamic, Engine, EvalAltResult, FuncRegistration, INT};

use crate::random::Rng;

/// A script's handle on one trial's random stream. Copies share the stream, so passing `rng`
/// into a helper function and drawing there advances the same sequence.
#[derive(Debug, Clone)]
pub struct ScriptRng {
    stream: Arc<Mutex<Rng>>,
    /// The task's time step in ms, for `rng.duration` (`None` outside a task).
    dt: Option<f64>,
}

impl ScriptRng {
    /// Wraps a stream (no time step: `rng.duration` is an error).
    pub fn new(rng: Rng) -> Self {
        ScriptRng {
            stream: Arc::new(Mutex::new(rng)),
            dt: None,
        }
    }

    /// Wraps a stream of a task whose time step is `dt` ms, so that `rng.duration` rounds
    /// to its steps.
    pub fn with_dt(rng: Rng, dt: f64) -> Self {
        ScriptRng {
            stream: Arc::new(Mutex::new(rng)),
            dt: Some(dt),
        }
    }

    /// The stream's current state (after whatever the script drew).
    pub fn state(&self) -> Rng {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Rng> {
        self.stream.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// `items` in an order drawn from `rng` (Fisher–Yates: every order equally likely).
fn shuffled(rng: &mut Rng, mut items: Array) -> Array {
    for i in (1..items.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        items.swap(i, j);
    }
    items
}

use super::task_api::number;
use crate::task::{steps_at_or_after, Distribution};

type Fallible<T> = Result<T, Box<EvalAltResult>>;

/// The most elements `rng.permutation(n)` makes.
pub const MAX_DRAWN_ITEMS: usize = 100_000;

/// Registers the `Rng` type and its methods with `engine`, each with its doc comment
/// (`psychrnn doc` prints them; every example is evaluated by the tests in `docs.rs`).
pub fn register(engine: &mut Engine) {
    engine.register_type_with_name::<ScriptRng>("Rng");
    FuncRegistration::new("uniform")
        .with_comments([
            "/// A uniform draw on [0, 1) from the trial's stream.",
            "/// Example: `rng.uniform()`",
        ])
        .with_params_info(["rng: &mut Rng"])
        .register_into_engine(engine, |r: &mut ScriptRng| r.lock().uniform());
    FuncRegistration::new("uniform")
        .with_comments([
            "/// A uniform draw on [lo, hi).",
            "/// Example: `rng.uniform(1, 2.5)`",
        ])
        .with_params_info(["rng: &mut Rng", "lo", "hi"])
        .register_into_engine(
            engine,
            |r: &mut ScriptRng, lo: Dynamic, hi: Dynamic| -> Fallible<f64> {
                let (lo, hi) = (
                    number(&lo, "uniform(lo, hi): lo")?,
                    number(&hi, "uniform(lo, hi): hi")?,
                );
                if hi < lo {
                    return Err(
                        format!("uniform(lo, hi) needs lo ≤ hi, got lo = {lo}, hi = {hi}").into(),
                    );
                }
                Ok(r.lock().uniform_range(lo, hi))
            },
        );
    FuncRegistration::new("normal")
        .with_comments(["/// A standard normal draw.", "/// Example: `rng.normal()`"])
        .with_params_info(["rng: &mut Rng"])
        .register_into_engine(engine, |r: &mut ScriptRng| r.lock().normal());
    FuncRegistration::new("normal")
        .with_comments([
            "/// A normal draw with the given mean and standard deviation.",
            "/// Example: `rng.normal(0, 2)`",
        ])
        .with_params_info(["rng: &mut Rng", "mean", "std"])
        .register_into_engine(
            engine,
            |r: &mut ScriptRng, mean: Dynamic, std: Dynamic| -> Fallible<f64> {
                let (mean, std) = (
                    number(&mean, "normal(mean, std): mean")?,
                    number(&std, "normal(mean, std): std")?,
                );
                if std < 0.0 {
                    return Err(format!("normal(mean, std) needs std ≥ 0, got {std}").into());
                }
                Ok(mean + std * r.lock().normal())
            },
        );
    FuncRegistration::new("int")
        .with_comments([
            "/// A uniform integer in lo..=hi (both ends included).",
            "/// Example: `rng.int(0, 3)`",
        ])
        .with_params_info(["rng: &mut Rng", "lo", "hi"])
        .register_into_engine(
            engine,
            |r: &mut ScriptRng, lo: INT, hi: INT| -> Fallible<INT> {
                if hi < lo {
                    return Err(
                        format!("int(lo, hi) needs lo ≤ hi, got lo = {lo}, hi = {hi}").into(),
                    );
                }
                let span = (hi - lo) as u64 + 1;
                Ok(lo + r.lock().below(span) as INT)
            },
        );
    FuncRegistration::new("choice")
        .with_comments([
            "/// One element of the array, each equally likely.",
            "/// Example: `rng.choice([1, 2, 3])`",
        ])
        .with_params_info(["rng: &mut Rng", "array"])
        .register_into_engine(
            engine,
            |r: &mut ScriptRng, items: Array| -> Fallible<Dynamic> {
                if items.is_empty() {
                    return Err("choice(array) needs a non-empty array".into());
                }
                let i = r.lock().below(items.len() as u64) as usize;
                Ok(items[i].clone())
            },
        );
    FuncRegistration::new("trunc_exp")
        .with_comments([
            "/// An exponential draw with the given mean, truncated to [min, max).",
            "/// Example: `rng.trunc_exp(200, 100, 600)`",
        ])
        .with_params_info(["rng: &mut Rng", "mean", "min", "max"])
        .register_into_engine(
            engine,
            |r: &mut ScriptRng, mean: Dynamic, min: Dynamic, max: Dynamic| -> Fallible<f64> {
                let d = Distribution::TruncExp {
                    mean: number(&mean, "trunc_exp(mean, min, max): mean")?,
                    min: number(&min, "trunc_exp(mean, min, max): min")?,
                    max: number(&max, "trunc_exp(mean, min, max): max")?,
                };
                d.validate()?;
                Ok(d.sample(&mut r.lock()))
            },
        );
    FuncRegistration::new("bernoulli")
        .with_comments([
            "/// true with probability p.",
            "/// Example: `rng.bernoulli(0.3)`",
        ])
        .with_params_info(["rng: &mut Rng", "p"])
        .register_into_engine(engine, |r: &mut ScriptRng, p: Dynamic| -> Fallible<bool> {
            let p = number(&p, "bernoulli(p): p")?;
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("bernoulli(p) needs 0 ≤ p ≤ 1, got {p}").into());
            }
            Ok(r.lock().uniform() < p)
        });
    FuncRegistration::new("geometric")
        .with_comments([
            "/// How many failures come before the first success in repeated bernoulli(p) draws, drawn in one step as ⌊ln(1 − U) / ln(1 − p)⌋ with U = rng.uniform() (the same arithmetic as writing that formula in the script, so the same value); capped at 2^53. The gaps between events that happen at each step with probability p (Poisson pulses, clicks). Needs 0 < p ≤ 1.",
            "/// Example: `rng.geometric(0.02)`",
        ])
        .with_params_info(["rng: &mut Rng", "p"])
        .register_into_engine(engine, |r: &mut ScriptRng, p: Dynamic| -> Fallible<INT> {
            let p = number(&p, "geometric(p): p")?;
            if !(p > 0.0 && p <= 1.0) {
                return Err(format!("geometric(p) needs 0 < p ≤ 1, got {p}").into());
            }
            Ok(geometric_gap(r.lock().uniform(), p))
        });
    FuncRegistration::new("pulse_train")
        .with_comments([
            "/// The pulses of an event that happens at each of steps 0 … steps−1 independently with probability p, each with a value drawn from `values`: an array of [step, value] pairs in step order. Drawn exactly as the loop `t = −1; loop { t += 1 + rng.geometric(p); if t >= steps { break } pulses.push([t, rng.choice(values)]) }` draws them (the same values, in one call); no draws at all when 1 − p rounds to 1 (p = 0 included). Needs steps ≥ 0, 0 ≤ p ≤ 1, a non-empty `values`, and gives at most 100000 pulses.",
            "/// Example: `rng.pulse_train(100, 1.0, [-1.0, 1.0]).len()` → `100`",
        ])
        .with_params_info(["rng: &mut Rng", "steps", "p", "values"])
        .register_into_engine(
            engine,
            |r: &mut ScriptRng, steps: INT, p: Dynamic, values: Array| -> Fallible<Array> {
                let p = number(&p, "pulse_train(steps, p, values): p")?;
                pulse_train(&mut r.lock(), steps, p, &values)
            },
        );
    FuncRegistration::new("sample")
        .with_comments([
            "/// One draw from a `dist::` distribution, exactly as the host draws an epoch duration (not rounded).",
            "/// Example: `rng.sample(dist::uniform(300, 700))`",
        ])
        .with_params_info(["rng: &mut Rng", "distribution"])
        .register_into_engine(engine, |r: &mut ScriptRng, d: Distribution| -> Fallible<f64> {
            d.validate()?;
            Ok(d.sample(&mut r.lock()))
        });
    FuncRegistration::new("duration")
        .with_comments([
            "/// A duration drawn from a `dist::` distribution (or a number of ms), rounded up to whole steps of the task's dt: ceil(ms / dt) · dt, the rule every epoch boundary follows, so an epoch given this duration lasts exactly this long and the answer can use it. Only in task.params.",
            "/// Example: `rng.duration(dist::choice([530, 850, 1170]))`",
        ])
        .with_params_info(["rng: &mut Rng", "distribution"])
        .register_into_engine(engine, |r: &mut ScriptRng, d: Dynamic| -> Fallible<f64> {
            let d = match number(&d, "rng.duration(distribution)") {
                Ok(x) => Distribution::Constant(x),
                Err(e) => d.try_cast::<Distribution>().ok_or(e)?,
            };
            d.validate()?;
            let Some(dt) = r.dt else {
                return Err("rng.duration needs the task's dt: call it in task.params".into());
            };
            let ms = d.sample(&mut r.lock());
            if !(ms.is_finite() && ms >= 0.0) {
                return Err(format!("rng.duration: a duration must be ≥ 0 ms, drew {ms} from {d}").into());
            }
            Ok(steps_at_or_after(ms, dt) as f64 * dt)
        });
    FuncRegistration::new("shuffle")
        .with_comments([
            "/// The array's elements in an order drawn from the trial's stream (every order equally likely).",
            "/// Example: `rng.shuffle([\"a\", \"b\", \"c\"]).len()` → `3`",
        ])
        .with_params_info(["rng: &mut Rng", "array"])
        .register_into_engine(engine, |r: &mut ScriptRng, items: Array| {
            shuffled(&mut r.lock(), items)
        });
    FuncRegistration::new("permutation")
        .with_comments([
            "/// The integers 0 … n−1 in an order drawn from the trial's stream.",
            "/// Example: `rng.permutation(4).len()` → `4`",
        ])
        .with_params_info(["rng: &mut Rng", "n"])
        .register_into_engine(engine, |r: &mut ScriptRng, n: INT| -> Fallible<Array> {
            let n = usize::try_from(n)
                .ok()
                .filter(|&n| n <= MAX_DRAWN_ITEMS)
                .ok_or_else(|| {
                    format!("permutation(n) needs n between 0 and {MAX_DRAWN_ITEMS}, got {n}")
                })?;
            let items = (0..n as INT).map(Dynamic::from).collect();
            Ok(shuffled(&mut r.lock(), items))
        });
    FuncRegistration::new("choose")
        .with_comments([
            "/// k different elements of the array (without replacement), in drawn order.",
            "/// Example: `rng.choose([0, 1, 2, 3], 2).len()` → `2`",
        ])
        .with_params_info(["rng: &mut Rng", "array", "k"])
        .register_into_engine(
            engine,
            |r: &mut ScriptRng, items: Array, k: INT| -> Fallible<Array> {
                let n = items.len();
                let k = usize::try_from(k).ok().filter(|&k| k <= n).ok_or_else(|| {
                    format!("choose(array, k) needs 0 ≤ k ≤ {n} (the array's length), got {k}")
                })?;
                let mut rng = r.lock();
                let mut items = items;
                // The first k steps of Fisher–Yates from the front.
                for i in 0..k {
                    let j = i + rng.below((n - i) as u64) as usize;
                    items.swap(i, j);
                }
                items.truncate(k);
                Ok(items)
            },
        );
    FuncRegistration::new("choice")
        .with_comments([
            "/// One element of the array, element i with probability weights[i] / sum(weights).",
            "/// Example: `rng.choice([\"A\", \"B\"], [0.0, 2.0])` → `\"B\"`",
        ])
        .with_params_info(["rng: &mut Rng", "array", "weights"])
        .register_into_engine(
            engine,
            |r: &mut ScriptRng, items: Array, weights: Array| -> Fallible<Dynamic> {
                if items.is_empty() || items.len() != weights.len() {
                    return Err(format!(
                        "choice(array, weights) needs a non-empty array and one weight per element, got {} elements and {} weights",
                        items.len(),
                        weights.len()
                    )
                    .into());
                }
                let w = weights
                    .iter()
                    .map(|x| number(x, "choice(array, weights): every weight"))
                    .collect::<Fallible<Vec<f64>>>()?;
                let total: f64 = w.iter().sum();
                if w.iter().any(|&x| !(x.is_finite() && x >= 0.0)) || !(total > 0.0 && total.is_finite()) {
                    return Err(format!(
                        "choice(array, weights) needs finite weights ≥ 0 with a positive sum, got {w:?}"
                    )
                    .into());
                }
                let u = r.lock().uniform() * total;
                let mut acc = 0.0;
                for (i, x) in w.iter().enumerate() {
                    acc += x;
                    if u < acc {
                        return Ok(items[i].clone());
                    }
                }
                // Rounding can leave u at the total: the last element with weight > 0.
                let last = w.iter().rposition(|&x| x > 0.0).unwrap_or(0);
                Ok(items[last].clone())
            },
        );
}

/// The pulses of `rng.pulse_train(steps, p, values)`: [step, value] pairs in step order, drawn
/// gap, value, gap, value, … as the script loop its documentation gives draws them.
fn pulse_train(rng: &mut Rng, steps: INT, p: f64, values: &Array) -> Fallible<Array> {
    let call = "pulse_train(steps, p, values)";
    if steps < 0 {
        return Err(format!("{call} needs steps ≥ 0, got {steps}").into());
    }
    if !(0.0..=1.0).contains(&p) {
        return Err(format!("{call} needs 0 ≤ p ≤ 1, got {p}").into());
    }
    if values.is_empty() {
        return Err(format!("{call} needs a non-empty array of values").into());
    }
    let mut pulses = Array::new();
    // As a script guarding its loop with `if ln(1.0 - p) < 0.0`: p too small to change 1 − p
    // (p = 0 included) never pulses, and draws nothing.
    if (1.0 - p).ln() == 0.0 {
        return Ok(pulses);
    }
    let mut t: INT = -1;
    loop {
        // t < steps ≤ INT::MAX and the gap ≤ 2^53, so this cannot overflow past the check.
        t = t.saturating_add(1 + geometric_gap(rng.uniform(), p));
        if t >= steps {
            return Ok(pulses);
        }
        if pulses.len() == MAX_DRAWN_ITEMS {
            return Err(format!(
                "{call}: more than {MAX_DRAWN_ITEMS} pulses (steps = {steps}, p = {p}); draw fewer steps or a smaller p"
            )
            .into());
        }
        let value = values[rng.below(values.len() as u64) as usize].clone();
        pulses.push(Dynamic::from_array(vec![Dynamic::from(t), value]));
    }
}

/// The largest gap `rng.geometric` returns: beyond it a step count means "never" anyway, and
/// adding it to a step index cannot overflow.
pub const MAX_GEOMETRIC_GAP: INT = 1 << 53;

/// ⌊ln(1 − u) / ln(1 − p)⌋ for a uniform draw `u` in [0, 1), capped at [`MAX_GEOMETRIC_GAP`]
/// (also when 1 − p rounds to 1, where the quotient is infinite).
fn geometric_gap(u: f64, p: f64) -> INT {
    let log_q = (1.0 - p).ln();
    if log_q == 0.0 {
        return MAX_GEOMETRIC_GAP;
    }
    // Both logarithms are ≤ 0, so the quotient is ≥ 0 (−0.0 when u = 0 or p = 1).
    let gap = ((1.0 - u).ln() / log_q).floor();
    if gap >= MAX_GEOMETRIC_GAP as f64 {
        MAX_GEOMETRIC_GAP
    } else {
        gap as INT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        let mut engine = Engine::new();
        register(&mut engine);
        super::super::task_api::register(&mut engine);
        engine
    }

    fn eval<T: Clone + Send + Sync + 'static>(rng: &ScriptRng, code: &str) -> T {
        let mut scope = rhai::Scope::new();
        scope.push("rng", rng.clone());
        engine()
            .eval_with_scope::<T>(&mut scope, code)
            .unwrap_or_else(|e| panic!("{code}: {e}"))
    }

    fn ints(a: Array) -> Vec<INT> {
        a.into_iter().map(|x| x.cast::<INT>()).collect()
    }

    #[test]
    fn shuffle_and_permutation_draw_every_order_equally_often() {
        let rng = ScriptRng::new(Rng::from_seed(2));
        let mut counts = std::collections::BTreeMap::new();
        for k in 0..6000 {
            let code = if k % 2 == 0 {
                "rng.shuffle([0, 1, 2])"
            } else {
                "rng.permutation(3)"
            };
            *counts.entry(ints(eval(&rng, code))).or_insert(0) += 1;
        }
        assert_eq!(counts.len(), 6, "{counts:?}");
        for (order, c) in &counts {
            let mut sorted = order.clone();
            sorted.sort();
            assert_eq!(sorted, [0, 1, 2]);
            assert!((850..1150).contains(c), "{counts:?}");
        }
    }

    #[test]
    fn choose_draws_distinct_elements_each_equally_likely() {
        let rng = ScriptRng::new(Rng::from_seed(3));
        let mut counts = [0; 5];
        for _ in 0..5000 {
            let mut got = ints(eval(&rng, "rng.choose([0, 1, 2, 3, 4], 2)"));
            got.iter().for_each(|&x| counts[x as usize] += 1);
            got.dedup();
            assert_eq!(got.len(), 2);
        }
        // Each element is in 2/5 of the draws.
        assert!(
            counts.iter().all(|&c| (1850..2150).contains(&c)),
            "{counts:?}"
        );
        let e = engine()
            .eval_with_scope::<Array>(
                &mut {
                    let mut s = rhai::Scope::new();
                    s.push("rng", rng.clone());
                    s
                },
                "rng.choose([1, 2], 3)",
            )
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("choose(array, k) needs 0 ≤ k ≤ 2 (the array's length), got 3"),
            "{e}"
        );
    }

    #[test]
    fn geometric_is_the_formula_written_in_the_script_and_has_the_geometric_mean() {
        // The same stream, drawn natively and by the formula in the script: equal draws.
        let native = ScriptRng::new(Rng::from_seed(9));
        let written = ScriptRng::new(Rng::from_seed(9));
        let n = 20_000;
        let mut sum = 0.0;
        for _ in 0..n {
            let a: INT = eval(&native, "rng.geometric(0.1)");
            let b: INT = eval(
                &written,
                "floor(ln(1.0 - rng.uniform()) / ln(1.0 - 0.1)).to_int()",
            );
            assert_eq!(a, b);
            sum += a as f64;
        }
        // Failures before the first success: mean (1 − p) / p = 9, standard error 9.5 / √n.
        let mean = sum / n as f64;
        assert!((mean - 9.0).abs() < 0.25, "{mean}");
        // p = 1 always succeeds at once; a p too small to change 1 − p never does.
        assert_eq!(eval::<INT>(&native, "rng.geometric(1.0)"), 0);
        assert_eq!(
            eval::<INT>(&native, "rng.geometric(1e-300)"),
            MAX_GEOMETRIC_GAP
        );
        for bad in ["0.0", "1.5", "-0.1"] {
            let mut scope = rhai::Scope::new();
            scope.push("rng", native.clone());
            let e = engine()
                .eval_with_scope::<INT>(&mut scope, &format!("rng.geometric({bad})"))
                .unwrap_err()
                .to_string();
            assert!(e.contains("geometric(p) needs 0 < p ≤ 1"), "{bad}: {e}");
        }
    }

    #[test]
    fn weighted_choice_follows_the_weights() {
        let rng = ScriptRng::new(Rng::from_seed(4));
        let n = 8000;
        let b = (0..n)
            .filter(|_| eval::<INT>(&rng, "rng.choice([0, 1], [1, 3])") == 1)
            .count();
        let frac = b as f64 / n as f64;
        assert!((frac - 0.75).abs() < 0.02, "{frac}");
    }

    #[test]
    fn duration_rounds_the_same_draw_up_to_whole_steps() {
        for seed in 0..50 {
            let rng = ScriptRng::with_dt(Rng::from_seed(seed), 20.0);
            let d: f64 = eval(&rng, "rng.duration(dist::uniform(100, 300))");
            let raw = Rng::from_seed(seed).uniform_range(100.0, 300.0);
            assert_eq!(d, (raw / 20.0).ceil() * 20.0, "drew {raw}");
            let fixed: f64 = eval(&rng, "rng.duration(850)");
            assert_eq!(fixed, 860.0);
        }
        let e = engine()
            .eval_with_scope::<f64>(
                &mut {
                    let mut s = rhai::Scope::new();
                    s.push("rng", ScriptRng::new(Rng::from_seed(0)));
                    s
                },
                "rng.duration(dist::uniform(1, 2))",
            )
            .unwrap_err()
            .to_string();
        assert!(e.contains("rng.duration needs the task's dt"), "{e}");
    }

    /// The script loop `rng.pulse_train` stands for, written out in Rhai.
    const PULSE_LOOP: &str = r#"
        let pulses = [];
        if ln(1.0 - p) < 0.0 {
            let t = -1;
            loop {
                t += 1 + rng.geometric(p);
                if t >= steps { break; }
                pulses.push([t, rng.choice(values)]);
            }
        }
        pulses
    "#;

    #[test]
    fn pulse_train_draws_what_its_script_loop_draws() {
        let engine = engine();
        for (seed, p, steps) in [
            (0, 0.02, 200),
            (1, 0.3, 50),
            (2, 0.999, 40),
            (3, 1e-300, 10),
        ] {
            let native = ScriptRng::new(Rng::from_seed(seed));
            let written = ScriptRng::new(Rng::from_seed(seed));
            for _ in 0..20 {
                let mut scope = rhai::Scope::new();
                scope.push("rng", native.clone());
                let a: Array = engine
                    .eval_with_scope(
                        &mut scope,
                        &format!("rng.pulse_train({steps}, {p:e}, [-1.0, 0.5, 1.0])"),
                    )
                    .unwrap();
                let mut scope = rhai::Scope::new();
                scope.push("rng", written.clone());
                scope.push("p", p);
                scope.push("steps", steps as INT);
                scope.push(
                    "values",
                    vec![Dynamic::from(-1.0), Dynamic::from(0.5), Dynamic::from(1.0)],
                );
                let b: Array = engine.eval_with_scope(&mut scope, PULSE_LOOP).unwrap();
                assert_eq!(format!("{a:?}"), format!("{b:?}"), "seed {seed}, p {p}");
                // Both streams are left at the same place.
                assert_eq!(native.state().uniform(), written.state().uniform());
            }
        }
        // p = 1 pulses at every step; p = 0 never, and draws nothing.
        let rng = ScriptRng::new(Rng::from_seed(9));
        let all: Array = eval(&rng, "rng.pulse_train(30, 1.0, [1.0])");
        let steps: Vec<INT> = all
            .iter()
            .map(|p| p.clone().cast::<Array>()[0].as_int().unwrap())
            .collect();
        assert_eq!(steps, (0..30).collect::<Vec<INT>>());
        let before = rng.state().uniform();
        let none: Array = eval(&rng, "rng.pulse_train(30, 0.0, [1.0])");
        assert!(none.is_empty());
        assert_eq!(rng.state().uniform(), before);
        for (bad, message) in [
            ("rng.pulse_train(-1, 0.5, [1.0])", "needs steps ≥ 0, got -1"),
            (
                "rng.pulse_train(10, 1.5, [1.0])",
                "needs 0 ≤ p ≤ 1, got 1.5",
            ),
            (
                "rng.pulse_train(10, 0.5, [])",
                "needs a non-empty array of values",
            ),
            (
                "rng.pulse_train(200000, 1.0, [1.0])",
                "more than 100000 pulses",
            ),
        ] {
            let mut scope = rhai::Scope::new();
            scope.push("rng", ScriptRng::new(Rng::from_seed(0)));
            let e = engine
                .eval_with_scope::<Array>(&mut scope, bad)
                .unwrap_err()
                .to_string();
            assert!(e.contains(message), "{bad}: {e}");
        }
    }
}
