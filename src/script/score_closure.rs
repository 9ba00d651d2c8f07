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
//! naming the script position, the trial and the value.

use rhai::{Array, Dynamic, Map, INT};

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
        assert!(text.contains("\"yes\"") && text.contains("string"), "{text}");
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
            (get(&go, "start").cast::<INT>(), get(&go, "end").cast::<INT>()),
            (0, 1)
        );
        let list = get(&m, "epoch_list").cast::<Array>();
        assert_eq!(list.len(), 2);
        let second = list[1].clone().cast::<Map>();
        assert_eq!(get(&second, "start").cast::<INT>(), 2);
        assert_eq!(get(&second, "name").into_string().unwrap(), "go");
    }
}
