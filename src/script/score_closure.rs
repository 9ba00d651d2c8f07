//! A task's `score: |trial| …` closure: what it receives and what it may return.
//!
//! The closure gets one map per trial (channels named, values per step):
//!
//! ```rhai
//! #{
//!     index: 3,                                  // the trial's index in its batch
//!     dt: 10.0, steps: 150,                      // ms per step, steps per trial
//!     output: #{ fixation: [0.9, …], left: […], right: […] },   // one array per output channel
//!     target: #{ … }, mask: #{ … },              // the same shape
//!     conditions: #{ coherence: 0.2, … },        // the trial's conditions
//!     epochs: #{ stimulus: #{ start: 10, end: 60 }, … },       // steps, end exclusive (first of each name)
//!     epoch_list: [#{ name: "fixation", start: 0, end: 10 }, …], // every epoch, in order
//!     logits: false,                             // true under softmax cross-entropy
//! }
//! ```
//!
//! and returns `true`/`false` (right or wrong) or a credit in [0, 1]; anything else is an error
//! naming the script position, the trial and the value. Two native helpers, `mean_over` and
//! `first_above`, read a channel over an epoch span without a script loop (5–6 times faster).

use rhai::{Array, Dynamic, Engine, EvalAltResult, FuncRegistration, Map, INT};

type Fallible<T> = Result<T, Box<EvalAltResult>>;

/// The steps `span` (a map `#{ start, end }`, as in `trial.epochs`) covers in an array of
/// `len` values; an error when it is not such a map or does not fit.
fn span_range(span: &Map, len: usize, what: &str) -> Fallible<std::ops::Range<usize>> {
    let bound = |key: &str| -> Fallible<INT> {
        span.get(key)
            .and_then(|v| v.as_int().ok())
            .ok_or_else(|| format!("{what}: the span must be a map #{{ start, end }} of step numbers (as in trial.epochs), but its `{key}` is missing or not an integer").into())
    };
    let (start, end) = (bound("start")?, bound("end")?);
    if start < 0 || end < start || end as usize > len {
        return Err(
            format!("{what}: span {start}..{end} does not fit an array of {len} steps").into(),
        );
    }
    Ok(start as usize..end as usize)
}

/// The number in `values[t]`; an error naming the step when it is not one.
fn value_at(values: &Array, t: usize, what: &str) -> Fallible<f64> {
    let v = &values[t];
    v.as_float()
        .or_else(|_| v.as_int().map(|i| i as f64))
        .map_err(|_| format!("{what}: step {t} holds a {}, not a number", v.type_name()).into())
}

/// Registers `mean_over(values, span)` and `first_above(values, span, level)`, the native
/// readers of a channel's values over an epoch span for `score` closures.
pub(crate) fn register(engine: &mut Engine) {
    FuncRegistration::new("mean_over")
        .with_comments([
            "/// The mean of `values` (one number per step, e.g. `trial.output.left`) over the steps of",
            "/// `span` (`#{ start, end }`, end excluded, e.g. `trial.epochs.response`); an empty span is an error.",
            "/// Example: `mean_over([0.0, 1.0, 2.0, 4.0], #{ start: 1, end: 3 })` → `1.5`",
        ])
        .with_params_info(["values: Array", "span: Map"])
        .register_into_engine(engine, |values: Array, span: Map| -> Fallible<f64> {
            let what = "mean_over(values, span)";
            let steps = span_range(&span, values.len(), what)?;
            if steps.is_empty() {
                return Err(format!("{what}: the span has no steps").into());
            }
            let n = steps.len() as f64;
            let mut sum = 0.0;
            for t in steps {
                sum += value_at(&values, t, what)?;
            }
            Ok(sum / n)
        });
    FuncRegistration::new("first_above")
        .with_comments([
            "/// The first step of `span` (`#{ start, end }`) at which `values` exceeds `level`, or -1 when it",
            "/// never does (e.g. the response time: `first_above(trial.output.go, trial.epochs.response, 0.5)`).",
            "/// Example: `first_above([0.1, 0.7, 0.2, 0.9], #{ start: 2, end: 4 }, 0.5)` → `3`",
        ])
        .with_params_info(["values: Array", "span: Map", "level"])
        .register_into_engine(
            engine,
            |values: Array, span: Map, level: Dynamic| -> Fallible<INT> {
                let what = "first_above(values, span, level)";
                let level = super::task_api::number(&level, "first_above: level")?;
                for t in span_range(&span, values.len(), what)? {
                    if value_at(&values, t, what)? > level {
                        return Ok(t as INT);
                    }
                }
                Ok(-1)
            },
        );
}

use crate::task::{Batch, ConditionValue, EpochSpan, OutputReading, TaskShape};

/// The map the closure receives for trial `i` of `batch` with the network's `outputs`
/// ([B, T, N_out]).
pub(crate) fn trial_map(
    outputs: &[f32],
    batch: &Batch,
    shape: &TaskShape,
    i: usize,
    reading: OutputReading,
) -> Map {
    let (t, n) = (batch.n_steps, batch.n_out);
    let per = t * n;
    let channels = |values: &[f32]| -> Dynamic {
        let trial = &values[i * per..(i + 1) * per];
        let map: Map = shape
            .outputs
            .iter()
            .enumerate()
            .map(|(c, name)| {
                let series: Array = (0..t)
                    .map(|s| Dynamic::from_float(f64::from(trial[s * n + c])))
                    .collect();
                (name.as_str().into(), Dynamic::from_array(series))
            })
            .collect();
        Dynamic::from_map(map)
    };
    let conditions: Map = batch.conditions[i]
        .iter()
        .map(|(k, v)| {
            let value = match v {
                ConditionValue::Number(x) => Dynamic::from_float(*x),
                ConditionValue::Text(s) => Dynamic::from(s.clone()),
            };
            (k.as_str().into(), value)
        })
        .collect();
    let span = |e: &EpochSpan| {
        let mut m = Map::new();
        m.insert("start".into(), Dynamic::from_int(e.start as INT));
        m.insert("end".into(), Dynamic::from_int(e.end as INT));
        m
    };
    let mut epochs = Map::new();
    let mut epoch_list = Array::new();
    for e in &batch.epochs[i] {
        epochs
            .entry(e.name.as_str().into())
            .or_insert_with(|| Dynamic::from_map(span(e)));
        let mut m = span(e);
        m.insert("name".into(), Dynamic::from(e.name.clone()));
        epoch_list.push(Dynamic::from_map(m));
    }
    let mut m = Map::new();
    m.insert("index".into(), Dynamic::from_int(i as INT));
    m.insert("dt".into(), Dynamic::from_float(shape.dt));
    m.insert("steps".into(), Dynamic::from_int(t as INT));
    m.insert("output".into(), channels(outputs));
    m.insert("target".into(), channels(&batch.targets));
    m.insert("mask".into(), channels(&batch.mask));
    m.insert("conditions".into(), Dynamic::from_map(conditions));
    m.insert("epochs".into(), Dynamic::from_map(epochs));
    m.insert("epoch_list".into(), Dynamic::from_array(epoch_list));
    m.insert(
        "logits".into(),
        Dynamic::from_bool(reading == OutputReading::Logits),
    );
    m
}

/// The credit a closure's return `value` gives: `true` 1, `false` 0, or a number in [0, 1];
/// otherwise what was returned, for the message.
pub(crate) fn credit(value: &Dynamic) -> Result<f64, String> {
    if let Some(b) = value.clone().try_cast::<bool>() {
        return Ok(if b { 1.0 } else { 0.0 });
    }
    let number = value
        .clone()
        .try_cast::<f64>()
        .or_else(|| value.clone().try_cast::<INT>().map(|i| i as f64));
    match number {
        Some(x) if (0.0..=1.0).contains(&x) => Ok(x),
        Some(x) => Err(format!("the number {x}")),
        None => Err(format!("{value:?} (a {})", value.type_name())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::Conditions;

    #[test]
    fn credit_accepts_bools_and_numbers_in_range_only() {
        assert_eq!(credit(&Dynamic::from_bool(true)), Ok(1.0));
        assert_eq!(credit(&Dynamic::from_bool(false)), Ok(0.0));
        assert_eq!(credit(&Dynamic::from_float(0.25)), Ok(0.25));
        assert_eq!(credit(&Dynamic::from_int(1)), Ok(1.0));
        assert_eq!(
            credit(&Dynamic::from_float(1.5)),
            Err("the number 1.5".into())
        );
        assert_eq!(credit(&Dynamic::from_int(-1)), Err("the number -1".into()));
        assert_eq!(
            credit(&Dynamic::from_float(f64::NAN)),
            Err("the number NaN".into())
        );
        let text = credit(&Dynamic::from("yes")).unwrap_err();
        assert!(
            text.contains("\"yes\"") && text.contains("string"),
            "{text}"
        );
        assert!(credit(&Dynamic::UNIT).unwrap_err().contains("()"));
    }

    #[test]
    fn trial_map_names_channels_steps_and_epochs() {
        let shape = TaskShape {
            inputs: vec!["in".into()],
            outputs: vec!["a".into(), "b".into()],
            dt: 20.0,
            tau: 100.0,
            duration: 60.0,
        };
        let mut batch = Batch::empty(2, 3, 1, 2);
        // Trial 1, step s, channel c holds 10·s + c (outputs), 100 + … (targets).
        let outputs: Vec<f32> = (0..12)
            .map(|k| {
                let (trial, s, c) = (k / 6, (k / 2) % 3, k % 2);
                if trial == 1 {
                    (10 * s + c) as f32
                } else {
                    -1.0
                }
            })
            .collect();
        for (k, x) in batch.targets.iter_mut().enumerate() {
            *x = 100.0 + outputs[k];
        }
        let mut c = Conditions::new();
        c.insert("coh".into(), ConditionValue::Number(0.5));
        c.insert("rule".into(), ConditionValue::Text("anti".into()));
        batch.conditions[1] = c;
        batch.epochs[1] = vec![
            EpochSpan {
                name: "go".into(),
                start: 0,
                end: 1,
            },
            EpochSpan {
                name: "go".into(),
                start: 2,
                end: 3,
            },
        ];
        let m = trial_map(&outputs, &batch, &shape, 1, OutputReading::Logits);
        let get = |m: &Map, k: &str| m.get(k).unwrap().clone();
        let channel = |section: &str, ch: &str| -> Vec<f64> {
            get(&get(&m, section).cast::<Map>(), ch)
                .cast::<Array>()
                .into_iter()
                .map(|x| x.cast::<f64>())
                .collect()
        };
        assert_eq!(channel("output", "a"), [0.0, 10.0, 20.0]);
        assert_eq!(channel("output", "b"), [1.0, 11.0, 21.0]);
        assert_eq!(channel("target", "b"), [101.0, 111.0, 121.0]);
        assert_eq!(channel("mask", "a"), [0.0, 0.0, 0.0]);
        assert_eq!(get(&m, "index").cast::<INT>(), 1);
        assert_eq!(get(&m, "steps").cast::<INT>(), 3);
        assert_eq!(get(&m, "dt").cast::<f64>(), 20.0);
        assert!(get(&m, "logits").cast::<bool>());
        let conditions = get(&m, "conditions").cast::<Map>();
        assert_eq!(get(&conditions, "coh").cast::<f64>(), 0.5);
        assert_eq!(get(&conditions, "rule").into_string().unwrap(), "anti");
        // `epochs` holds the first epoch of each name, `epoch_list` all of them.
        let go = get(&get(&m, "epochs").cast::<Map>(), "go").cast::<Map>();
        assert_eq!(
            (
                get(&go, "start").cast::<INT>(),
                get(&go, "end").cast::<INT>()
            ),
            (0, 1)
        );
        let list = get(&m, "epoch_list").cast::<Array>();
        assert_eq!(list.len(), 2);
        let second = list[1].clone().cast::<Map>();
        assert_eq!(get(&second, "start").cast::<INT>(), 2);
        assert_eq!(get(&second, "name").into_string().unwrap(), "go");
    }
}
