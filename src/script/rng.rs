//! The seeded random generator scripts draw trial parameters from (`rng` in `params: |rng| …`).

use std::sync::{Arc, Mutex};

use rhai::{Array, Dynamic, Engine, EvalAltResult, FuncRegistration, INT};

use crate::random::Rng;

/// A script's handle on one trial's random stream. Copies share the stream, so passing `rng`
/// into a helper function and drawing there advances the same sequence.
#[derive(Debug, Clone)]
pub struct ScriptRng(Arc<Mutex<Rng>>);

impl ScriptRng {
    /// Wraps a stream.
    pub fn new(rng: Rng) -> Self {
        ScriptRng(Arc::new(Mutex::new(rng)))
    }

    /// The stream's current state (after whatever the script drew).
    pub fn state(&self) -> Rng {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Rng> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

use super::task_api::number;
use crate::task::Distribution;

type Fallible<T> = Result<T, Box<EvalAltResult>>;

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
}
