//! The seeded random generator scripts draw trial parameters from (`rng` in `params: |rng| …`).

use std::sync::{Arc, Mutex};

use rhai::{Array, Dynamic, Engine, EvalAltResult, INT};

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

/// Registers the `Rng` type and its methods with `engine`.
pub fn register(engine: &mut Engine) {
    engine.register_type_with_name::<ScriptRng>("Rng");
    engine.register_fn("uniform", |r: &mut ScriptRng| r.lock().uniform());
    engine.register_fn(
        "uniform",
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
    engine.register_fn("normal", |r: &mut ScriptRng| r.lock().normal());
    engine.register_fn(
        "normal",
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
    engine.register_fn(
        "int",
        |r: &mut ScriptRng, lo: INT, hi: INT| -> Fallible<INT> {
            if hi < lo {
                return Err(format!("int(lo, hi) needs lo ≤ hi, got lo = {lo}, hi = {hi}").into());
            }
            let span = (hi - lo) as u64 + 1;
            Ok(lo + r.lock().below(span) as INT)
        },
    );
    engine.register_fn(
        "choice",
        |r: &mut ScriptRng, items: Array| -> Fallible<Dynamic> {
            if items.is_empty() {
                return Err("choice(array) needs a non-empty array".into());
            }
            let i = r.lock().below(items.len() as u64) as usize;
            Ok(items[i].clone())
        },
    );
    engine.register_fn(
        "trunc_exp",
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
    engine.register_fn(
        "bernoulli",
        |r: &mut ScriptRng, p: Dynamic| -> Fallible<bool> {
            let p = number(&p, "bernoulli(p): p")?;
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("bernoulli(p) needs 0 ≤ p ≤ 1, got {p}").into());
            }
            Ok(r.lock().uniform() < p)
        },
    );
}
