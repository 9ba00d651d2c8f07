//! Traced time for the per-step form: `step: |t, p|` called with `t` as a value that records
//! what the closure does with it, so that one call stands for every step until a comparison
//! it made would come out differently.
//!
//! `t` is a [`TracedTime`]: affine arithmetic with numbers (`t + c`, `c + t`, `t - c`, `c - t`,
//! `t * c`, `c * t`, `t / c`, `-t`; `c` a FLOAT or an INT) gives another `TracedTime` that
//! remembers the operations in order, and a comparison with a number (`<`, `<=`, `>`, `>=`,
//! `==`, `!=`) returns its real outcome and records (operations, operator, operand). Every
//! operation is replayed in f64 exactly as Rhai computes it on a FLOAT (its comparisons are
//! epsilon-relative, see [`rhai_compare`]), so the recorded outcomes can be recomputed for
//! any other step's t. Any other use of t has no function and fails (`sin(t)`, `t % 100`,
//! `t.floor()`, `t + t`), turning it into a string fails (and marks the call), and the host
//! refuses a call whose result still holds a `TracedTime` (t as an output value): in all
//! those cases the trial is drawn by calling the closure at every step.
//!
//! Constructs that would treat a custom type differently from a FLOAT without failing are kept
//! out by the host before tracing is used at all (see [`source_allows_tracing`]): `switch`
//! (a custom type is not hashable, so it would take the default branch) and `try`/`catch`
//! (which could swallow the failure that makes a trial fall back). `type_of(t)` gives "f64" as
//! for a FLOAT, since the type is registered under that name.

use std::cell::RefCell;

use rhai::{Engine, EvalAltResult, Position, FLOAT, INT};

/// One arithmetic operation applied to t, with its operand as Rhai converts it to a FLOAT.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    /// x + c (or c + x: IEEE addition is commutative).
    Add(f64),
    /// x - c.
    Sub(f64),
    /// c - x.
    SubFrom(f64),
    /// x * c (or c * x).
    Mul(f64),
    /// x / c.
    Div(f64),
    /// -x.
    Neg,
}

/// The time a traced `step` call receives, and what it computed from it.
#[derive(Debug, Clone)]
pub struct TracedTime {
    value: f64,
    ops: Vec<Op>,
}

/// A comparison operator, as Rhai evaluates it on FLOATs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// One comparison a traced call made: `replay(ops, t) OP operand` (or `operand OP replay(…)`
/// when `traced_left` is false), and its outcome.
#[derive(Debug, Clone)]
struct Comparison {
    ops: Vec<Op>,
    cmp: Cmp,
    operand: f64,
    traced_left: bool,
    outcome: bool,
}

/// What one traced call recorded.
#[derive(Debug, Default)]
pub struct Trace {
    comparisons: Vec<Comparison>,
    /// Set when t was used in a way that does not fail but cannot be traced (made a string).
    spoiled: bool,
}

thread_local! {
    static TRACE: RefCell<Option<Trace>> = const { RefCell::new(None) };
}

fn replay(ops: &[Op], t: f64) -> f64 {
    let mut x = t;
    for op in ops {
        x = match *op {
            Op::Add(c) => x + c,
            Op::Sub(c) => x - c,
            Op::SubFrom(c) => c - x,
            Op::Mul(c) => x * c,
            Op::Div(c) => x / c,
            Op::Neg => -x,
        };
    }
    x
}

/// `x OP y` exactly as Rhai (not built `unchecked`) computes it for two FLOATs, or a FLOAT and
/// an INT converted to FLOAT: relative to the larger magnitude, with FLOAT::EPSILON as the
/// tolerance (rhai 1.27, `func/builtin.rs`, `impl_float!`).
pub(super) fn rhai_compare(cmp: Cmp, x: FLOAT, y: FLOAT) -> bool {
    let max = if x * y == 0.0 {
        1.0
    } else {
        x.abs().max(y.abs())
    };
    if max == 0.0 {
        return matches!(cmp, Cmp::Eq | Cmp::Ge | Cmp::Le);
    }
    match cmp {
        Cmp::Eq => (x - y).abs() / max <= FLOAT::EPSILON,
        Cmp::Ne => (x - y).abs() / max > FLOAT::EPSILON,
        Cmp::Gt => (x - y) / max > FLOAT::EPSILON,
        Cmp::Ge => (x - y) / max > -FLOAT::EPSILON,
        Cmp::Lt => (y - x) / max > FLOAT::EPSILON,
        Cmp::Le => (y - x) / max > -FLOAT::EPSILON,
    }
}

impl Comparison {
    fn outcome_at(&self, t: f64) -> bool {
        let x = replay(&self.ops, t);
        if self.traced_left {
            rhai_compare(self.cmp, x, self.operand)
        } else {
            rhai_compare(self.cmp, self.operand, x)
        }
    }
}

impl TracedTime {
    /// The time `t` (ms), with no operations applied yet.
    pub fn new(t: f64) -> Self {
        TracedTime {
            value: t,
            ops: Vec::new(),
        }
    }

    fn then(&self, op: Op) -> Self {
        let mut ops = self.ops.clone();
        ops.push(op);
        TracedTime {
            value: replay(&[op], self.value),
            ops,
        }
    }

    fn compare(&self, cmp: Cmp, operand: f64, traced_left: bool) -> bool {
        let outcome = if traced_left {
            rhai_compare(cmp, self.value, operand)
        } else {
            rhai_compare(cmp, operand, self.value)
        };
        TRACE.with(|t| {
            if let Some(trace) = t.borrow_mut().as_mut() {
                trace.comparisons.push(Comparison {
                    ops: self.ops.clone(),
                    cmp,
                    operand,
                    traced_left,
                    outcome,
                });
            }
        });
        outcome
    }
}

/// Runs `f` with a fresh trace on this thread and returns its result with what it recorded.
pub fn traced<R>(f: impl FnOnce() -> R) -> (R, Trace) {
    TRACE.with(|t| *t.borrow_mut() = Some(Trace::default()));
    let r = f();
    let trace = TRACE.with(|t| t.borrow_mut().take()).unwrap_or_default();
    (r, trace)
}

impl Trace {
    /// Whether the call used t in a way that does not fail but cannot be traced.
    pub fn spoiled(&self) -> bool {
        self.spoiled
    }

    /// Whether every recorded comparison has the same outcome at time `t`.
    pub fn holds_at(&self, t: f64) -> bool {
        self.comparisons
            .iter()
            .all(|c| c.outcome_at(t) == c.outcome)
    }
}

fn untraceable(what: &str) -> Box<EvalAltResult> {
    TRACE.with(|t| {
        if let Some(trace) = t.borrow_mut().as_mut() {
            trace.spoiled = true;
        }
    });
    Box::new(EvalAltResult::ErrorRuntime(
        format!("t cannot be used in {what} while traced").into(),
        Position::NONE,
    ))
}

/// Registers [`TracedTime`] (under the name "f64", what `type_of` gives for a FLOAT) and its
/// operations.
pub fn register(engine: &mut Engine) {
    engine.register_type_with_name::<TracedTime>("f64");
    type T = TracedTime;
    macro_rules! arith {
        ($c:ty) => {
            engine.register_fn("+", |a: &mut T, c: $c| a.then(Op::Add(c as f64)));
            engine.register_fn("+", |c: $c, a: T| a.then(Op::Add(c as f64)));
            engine.register_fn("-", |a: &mut T, c: $c| a.then(Op::Sub(c as f64)));
            engine.register_fn("-", |c: $c, a: T| a.then(Op::SubFrom(c as f64)));
            engine.register_fn("*", |a: &mut T, c: $c| a.then(Op::Mul(c as f64)));
            engine.register_fn("*", |c: $c, a: T| a.then(Op::Mul(c as f64)));
            engine.register_fn("/", |a: &mut T, c: $c| a.then(Op::Div(c as f64)));
        };
    }
    arith!(FLOAT);
    arith!(INT);
    engine.register_fn("-", |a: &mut T| a.then(Op::Neg));
    engine.register_fn("+", |a: &mut T| a.clone());
    macro_rules! compare {
        ($c:ty, $($name:literal => $cmp:expr),*) => {$(
            engine.register_fn($name, |a: &mut T, c: $c| a.compare($cmp, c as f64, true));
            engine.register_fn($name, |c: $c, a: T| a.compare($cmp, c as f64, false));
        )*};
    }
    compare!(FLOAT, "<" => Cmp::Lt, "<=" => Cmp::Le, ">" => Cmp::Gt, ">=" => Cmp::Ge,
        "==" => Cmp::Eq, "!=" => Cmp::Ne);
    compare!(INT, "<" => Cmp::Lt, "<=" => Cmp::Le, ">" => Cmp::Gt, ">=" => Cmp::Ge,
        "==" => Cmp::Eq, "!=" => Cmp::Ne);
    for name in ["<", "<=", ">", ">=", "==", "!=", "+", "-", "*", "/"] {
        engine.register_fn(name, |_: &mut T, _: T| -> Result<T, Box<EvalAltResult>> {
            Err(untraceable("an operation with itself"))
        });
    }
    for name in ["to_string", "to_debug", "print", "debug"] {
        engine.register_fn(
            name,
            |_: &mut T| -> Result<rhai::ImmutableString, Box<EvalAltResult>> {
                Err(untraceable("a string"))
            },
        );
    }
}

/// Whether a script's sources (the script and every module it imported) are free of the
/// constructs that would treat a traced t differently from a FLOAT without failing: `switch`
/// and `try`/`catch` (as words anywhere, comments included: a false alarm only costs speed).
pub fn source_allows_tracing(source: &str) -> bool {
    let words = source.split(|c: char| !(c.is_alphanumeric() || c == '_'));
    !words
        .into_iter()
        .any(|w| matches!(w, "switch" | "try" | "catch"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_follow_rhai_on_floats_and_ints() {
        let engine = {
            let mut e = Engine::new();
            register(&mut e);
            e
        };
        // Every operator, both sides, FLOAT and INT operands, near the epsilon boundary too.
        let values = [0.0, 1.0, 10.0, 10.000000000000002, 1e-300, -3.0, 1e16];
        let operands = ["0.0", "0", "10", "10.0", "-3", "1e16", "1e-300"];
        for t in values {
            for op in ["<", "<=", ">", ">=", "==", "!="] {
                for c in operands {
                    for left in [true, false] {
                        let expr = if left {
                            format!("x {op} {c}")
                        } else {
                            format!("{c} {op} x")
                        };
                        let mut scope = rhai::Scope::new();
                        scope.push("x", t);
                        let plain: bool = engine.eval_with_scope(&mut scope, &expr).unwrap();
                        let mut scope = rhai::Scope::new();
                        scope.push("x", TracedTime::new(t));
                        let (got, trace) =
                            traced(|| engine.eval_with_scope::<bool>(&mut scope, &expr).unwrap());
                        assert_eq!(got, plain, "{expr} at x = {t}");
                        assert_eq!(trace.comparisons.len(), 1);
                        assert!(trace.holds_at(t));
                    }
                }
            }
        }
    }

    #[test]
    fn arithmetic_replays_bit_for_bit() {
        let mut engine = Engine::new();
        register(&mut engine);
        let expr = "-(1990 - ((0.1 + x) * 3 - 0.7) / 1.3) * 0.3 + 2";
        for t in [0.0, 10.0, 1990.0, 0.1, 123.456] {
            let mut scope = rhai::Scope::new();
            scope.push("x", t);
            let plain: f64 = engine.eval_with_scope(&mut scope, expr).unwrap();
            // The traced value compared with the plain result: equal exactly, and the
            // comparison replays the same at t and flips just beside it.
            let mut scope = rhai::Scope::new();
            scope.push("x", TracedTime::new(t));
            scope.push("y", plain);
            let (eq, trace) = traced(|| {
                engine
                    .eval_with_scope::<bool>(&mut scope, &format!("{expr} == y"))
                    .unwrap()
            });
            assert!(eq);
            let c = &trace.comparisons[0];
            assert_eq!(replay(&c.ops, t).to_bits(), plain.to_bits());
        }
    }

    #[test]
    fn other_uses_fail_or_spoil() {
        let mut engine = Engine::new();
        register(&mut engine);
        for expr in [
            "sin(x)",
            "x % 100",
            "x + x",
            "x < x",
            "x.floor()",
            "to_int(x)",
            "`${x}`",
            "\"a\" + x",
            "1.0 / x",
            "x ** 2",
            "if x { 1 } else { 2 }",
            "[1.0, 2.0][x]",
        ] {
            let mut scope = rhai::Scope::new();
            scope.push("x", TracedTime::new(10.0));
            let (r, trace) = traced(|| engine.eval_with_scope::<rhai::Dynamic>(&mut scope, expr));
            assert!(
                r.is_err() || trace.spoiled(),
                "{expr} should fail or spoil the trace, got {:?}",
                r.map(|v| v.type_name())
            );
        }
        // type_of gives what a FLOAT gives.
        let mut scope = rhai::Scope::new();
        scope.push("x", TracedTime::new(10.0));
        let name: rhai::ImmutableString = engine.eval_with_scope(&mut scope, "type_of(x)").unwrap();
        assert_eq!(name, "f64");
    }

    #[test]
    fn sources_with_switch_or_catch_are_not_traced() {
        assert!(source_allows_tracing("let x = t < 5.0; // switched off"));
        assert!(!source_allows_tracing("switch t { 0.0 => 1, _ => 2 }"));
        assert!(!source_allows_tracing("try { sin(t) } catch { 0.0 }"));
    }

    use crate::random::Rng;
    use crate::script::{load_experiment, load_experiment_source, LoadOptions, ScriptTask};
    use crate::task::generate_batch;
    use std::path::Path;

    fn bits(a: &[Vec<f32>; 3]) -> Vec<Vec<u32>> {
        a.iter()
            .map(|v| v.iter().map(|x| x.to_bits()).collect())
            .collect()
    }

    /// Traced and per-step arrays of `trials` trials of `task`: equal bit for bit wherever
    /// the trace was used; returns how many trials were traced.
    fn compare(task: &ScriptTask, trials: u64, what: &str) -> u64 {
        let mut traced_count = 0;
        for k in 0..trials {
            let rng = Rng::derive(7, &[k]);
            let plain = task.step_arrays_for(&mut rng.clone(), false).unwrap();
            match (task.step_arrays_for(&mut rng.clone(), true), plain) {
                (None, _) => {}
                (Some(Ok(traced)), Ok(plain)) => {
                    assert_eq!(bits(&traced), bits(&plain), "{what}: trial {k}");
                    traced_count += 1;
                }
                (Some(traced), plain) => panic!(
                    "{what}: trial {k}: traced {:?}, per step {:?}",
                    traced.map(|_| ()),
                    plain.map(|_| ())
                ),
            }
        }
        traced_count
    }

    #[test]
    fn bundled_and_ported_step_tasks_trace_every_trial_bit_for_bit() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        for file in [
            "scripts/perceptual_discrimination_steps.rhai",
            "tests/tasks/romo_steps.rhai",
            "tests/tasks/mtc_steps.rhai",
        ] {
            let loaded = load_experiment(&repo.join(file), &LoadOptions::default()).unwrap();
            assert!(loaded.task.step_tracing(), "{file}");
            assert_eq!(compare(&loaded.task, 60, file), 60, "{file}");
            // Whole batches, noise included, with and without tracing.
            let off = Arc::new(loaded.task.as_ref().clone().with_step_tracing(false));
            for b in 0..2 {
                let a = generate_batch(loaded.task.as_ref(), 3, 1, b, 16).unwrap();
                let c = generate_batch(off.as_ref(), 3, 1, b, 16).unwrap();
                assert_eq!(a.inputs, c.inputs, "{file}");
                assert_eq!(a.targets, c.targets, "{file}");
                assert_eq!(a.mask, c.mask, "{file}");
            }
        }
    }
    use std::sync::Arc;

    fn task_with(prelude: &str, params: &str, step: &str) -> ScriptTask {
        let script = format!(
            r#"{prelude}
            experiment(#{{ task: #{{ name: "t", inputs: ["a"], outputs: ["b"],
            dt: 10.0, tau: 100.0, duration: 200.0,
            params: {params},
            step: {step} }} }});"#
        );
        let loaded =
            load_experiment_source("t.rhai", &script, Path::new("."), &LoadOptions::default())
                .unwrap_or_else(|e| panic!("{step}: {e}"));
        loaded.task.as_ref().clone()
    }

    const PARAMS: &str = "|rng| #{ on: rng.uniform(0.0, 150.0), k: rng.int(1, 5) }";

    #[test]
    fn closures_that_trace_match_calling_every_step() {
        for step in [
            "|t, p| { let x = if p.on < t && t < p.on + 30.0 { 1.0 } else { 0.0 }; [x, x, 1.0] }",
            "|t, p| [if t >= 100 { 1 } else { 0 }, if 50 < t { 1.0 } else { 0.0 }, 1.0]",
            "|t, p| [if t - p.k * 10 > 20 { 1.0 } else { 0.0 }, 0.0, if -t < -50 { 1.0 } else { 0.0 }]",
            "|t, p| [if (t + 0.1) * 3 > p.on && t / 7 <= 20 { p.on } else { 0.0 }, 0.0, 1.0]",
            "|t, p| [if t == 50.000000000000001 { 1.0 } else { 0.0 }, if t != 100 { 1.0 } else { 2.0 }, 1.0]",
            "|t, p| [if 2 - t > -100 && 3 * t <= 300.0 { 1.0 } else { 0.0 }, 0.0, 1.0]",
            "|t, p| { let u = t; u += 10.0; u *= 2; [if u > 150 { 1.0 } else { 0.0 }, 0.0, 1.0] }",
            "|t, p| [if type_of(t) == \"f64\" && t > p.on { 1.0 } else { 0.0 }, 0.0, 1.0]",
            "|t, p| [if t in [50.0, 100.0] { 1.0 } else { 0.0 }, 0.0, 1.0]",
            "|t, p| [if [t] == [50.0] { 1.0 } else { 0.0 }, 0.0, 1.0]",
            "|t, p| [[t, 1.0].len() * 1.0, 0.0, 1.0]",
        ] {
            let task = task_with("", PARAMS, step);
            assert_eq!(compare(&task, 30, step), 30, "{step} should be traced");
        }
    }

    #[test]
    fn closures_that_cannot_be_traced_fall_back_never_differ() {
        let cases = [
            (
                "",
                PARAMS,
                "|t, p| switch t { 50.0 => [1.0, 1.0, 1.0], _ => [0.0, 0.0, 1.0] }",
            ),
            (
                "",
                PARAMS,
                "|t, p| { let x = 0.5; try { x = sin(t); } catch { x = 0.5; } [x, 0.0, 1.0] }",
            ),
            (
                "",
                PARAMS,
                "|t, p| [if `${t}` == \"50.0\" { 1.0 } else { 0.0 }, 0.0, 1.0]",
            ),
            (
                "",
                PARAMS,
                "|t, p| [if (\"\" + t) == \"50.0\" { 1.0 } else { 0.0 }, 0.0, 1.0]",
            ),
            (
                "",
                PARAMS,
                "|t, p| [if t.to_string() == \"50.0\" { 1.0 } else { 0.0 }, 0.0, 1.0]",
            ),
            ("", PARAMS, "|t, p| { print(t); [0.0, 0.0, 1.0] }"),
            ("", PARAMS, "|t, p| [sin(t), 0.0, 1.0]"),
            (
                "",
                PARAMS,
                "|t, p| [if t % 20 == 0 { 1.0 } else { 0.0 }, 0.0, 1.0]",
            ),
            (
                "",
                PARAMS,
                "|t, p| [if (t / 10).floor() == 5.0 { 1.0 } else { 0.0 }, 0.0, 1.0]",
            ),
            ("", PARAMS, "|t, p| [t / 1000.0, 0.0, 1.0]"),
            ("", PARAMS, "|t, p| [#{ a: t }, 0.0, 1.0]"),
            (
                "",
                PARAMS,
                "|t, p| [if [t] == [t] { 1.0 } else { 0.0 }, 0.0, 1.0]",
            ),
            (
                "",
                PARAMS,
                "|t, p| [if t.is_float() { 1.0 } else { 0.0 }, 0.0, 1.0]",
            ),
            (
                "",
                PARAMS,
                "|t, p| [if t + t > 100 { 1.0 } else { 0.0 }, 0.0, 1.0]",
            ),
            (
                "",
                PARAMS,
                "|t, p| [if max(t, 50.0) > 60 { 1.0 } else { 0.0 }, 0.0, 1.0]",
            ),
            (
                "",
                PARAMS,
                "|t, p| [if 100.0 / t > 1 { 1.0 } else { 0.0 }, 0.0, 1.0]",
            ),
            // State carried from call to call: a shared cell and a generator in the params,
            // a captured variable the closure changes.
            (
                "",
                "|rng| { let n = [0]; #{ f: || { n[0] += 1; n[0] } } }",
                "|t, p| [p.f.call() * 1.0, 0.0, 1.0]",
            ),
            (
                "",
                "|rng| #{ r: rng }",
                "|t, p| [p.r.uniform(0.0, 1.0), 0.0, 1.0]",
            ),
            (
                "let count = 0;",
                PARAMS,
                "|t, p| { count += 1; [count * 1.0, 0.0, 1.0] }",
            ),
        ];
        for (prelude, params, step) in cases {
            let task = task_with(prelude, params, step);
            // Whatever was traced matched (checked inside); the batches are the same as well.
            compare(&task, 20, step);
            let off = task.clone().with_step_tracing(false);
            let a = generate_batch(&task, 1, 1, 0, 8);
            let b = generate_batch(&off, 1, 1, 0, 8);
            match (a, b) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(
                        (a.inputs, a.targets, a.mask),
                        (b.inputs, b.targets, b.mask),
                        "{step}"
                    )
                }
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{step}"),
                (a, b) => panic!("{step}: {:?} vs {:?}", a.is_ok(), b.is_ok()),
            }
        }
        // The constructs tracing must never meet keep it off for the whole task.
        for step in [
            "|t, p| switch t { 50.0 => [1.0, 1.0, 1.0], _ => [0.0, 0.0, 1.0] }",
            "|t, p| { let x = 0.5; try { x = sin(t); } catch { x = 0.5; } [x, 0.0, 1.0] }",
        ] {
            assert!(!task_with("", PARAMS, step).step_tracing(), "{step}");
        }
    }
}
