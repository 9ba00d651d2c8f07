//! Weight files in PsychRNN's `.npz` layout, readable with `numpy.load`.
//!
//! Keys and shapes (float32): `init_state` [1, N_rec], `W_in` [N_rec, N_in], `W_rec`
//! [N_rec, N_rec], `W_out` [N_out, N_rec], `b_rec` [N_rec], `b_out` [N_out], `Dale_rec` and
//! `Dale_out` [N_rec, N_rec], `input_connectivity`, `rec_connectivity`, `output_connectivity`;
//! `dale_ratio` (a 0-d float64 with Dale's principle, else a pickled `None` as PsychRNN writes
//! it) and `transfer_function` (a pickled reference to TensorFlow's function, e.g.
//! `tensorflow.nn.tanh`, which PsychRNN restores with `np.load(..., allow_pickle=True)`). Like
//! PsychRNN, `W_in`, `W_rec` and `W_out` hold the effective matrices; loading them back as raw
//! weights is exact because applying masks, |·| and the Dale signs again changes nothing.
//!
//! Reading refuses what would silently change the network: non-finite values, a `dale_ratio`
//! whose `Dale_rec`/`Dale_out` say otherwise, an unreadable `dale_ratio`.

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::{Device, Tensor};

use super::pickled::{pickled_function_npy, pickled_none_npy, read_pickled_object, PickledObject};
use super::{Constraints, RateRnnWeights, Transfer};
use crate::atomic_file::write_atomic_with;

/// The TensorFlow function PsychRNN uses for `t`, as (module, dotted name).
pub fn tensorflow_function(t: Transfer) -> (&'static str, &'static str) {
    match t {
        Transfer::Relu => ("tensorflow", "nn.relu"),
        Transfer::Tanh => ("tensorflow", "nn.tanh"),
        Transfer::Sigmoid => ("tensorflow", "nn.sigmoid"),
        Transfer::Softplus => ("tensorflow", "nn.softplus"),
        Transfer::Linear => ("tensorflow", "identity"),
    }
}

/// The transfer function a pickled Python function stands for, from its name: `relu`, `tanh`,
/// `sigmoid`, `softplus` (TensorFlow's, numpy's or PsychRNN's own), `identity` or `linear`.
pub fn transfer_of_python_function(name: &str) -> Option<Transfer> {
    match name.rsplit('.').next().unwrap_or(name) {
        "relu" => Some(Transfer::Relu),
        "tanh" => Some(Transfer::Tanh),
        "sigmoid" => Some(Transfer::Sigmoid),
        "softplus" => Some(Transfer::Softplus),
        "identity" | "linear" => Some(Transfer::Linear),
        _ => None,
    }
}

fn diagonal(d: &[f32]) -> Vec<f32> {
    let n = d.len();
    let mut m = vec![0.0; n * n];
    for i in 0..n {
        m[i * n + i] = d[i];
    }
    m
}

/// Writes `w` of a network with transfer function `transfer` to `path` (atomically: a
/// temporary file, then a rename). `Dale_rec` and `Dale_out` are the diagonal matrices D_rec
/// and D_out (identities without Dale's principle, as PsychRNN writes them).
pub fn write_weights_npz(
    path: &Path,
    w: &RateRnnWeights,
    transfer: Transfer,
) -> candle_core::Result<()> {
    let (i, n, o) = (w.n_in, w.n_rec, w.n_out);
    let cpu = Device::Cpu;
    let t = |d: &[f32], s: &[usize]| Tensor::from_slice(d, s, &cpu);
    let k = w.constraints();
    let mut entries = vec![
        ("init_state", t(&w.init_state, &[1, n])?),
        ("W_in", t(&w.w_in, &[n, i])?),
        ("W_rec", t(&w.w_rec, &[n, n])?),
        ("W_out", t(&w.w_out, &[o, n])?),
        ("b_rec", t(&w.b_rec, &[n])?),
        ("b_out", t(&w.b_out, &[o])?),
        ("Dale_rec", t(&diagonal(&k.dale_rec()), &[n, n])?),
        ("Dale_out", t(&diagonal(&k.dale_out()), &[n, n])?),
        ("input_connectivity", t(&w.input_connectivity, &[n, i])?),
        ("rec_connectivity", t(&w.rec_connectivity, &[n, n])?),
        ("output_connectivity", t(&w.output_connectivity, &[o, n])?),
    ];
    let mut pickled = Vec::new();
    match w.dale_ratio {
        Some(r) => entries.push(("dale_ratio", Tensor::new(r, &cpu)?)),
        None => pickled.push(("dale_ratio", pickled_none_npy())),
    }
    let (module, name) = tensorflow_function(transfer);
    pickled.push(("transfer_function", pickled_function_npy(module, name)));
    write_atomic_with(path, |tmp| {
        crate::npz_file::write_npz_with_npy(&entries, &pickled, tmp)
    })
}

/// A weights file that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("weights file {path}: {message}")]
pub struct WeightsError {
    /// The file.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// A numeric array: its shape and its values in row-major order.
pub type Shaped = (Vec<usize>, Vec<f64>);

/// One array read from an `.npy` entry.
#[derive(Debug, Clone, PartialEq)]
pub enum NpyArray {
    /// A numeric array (any float, integer or bool dtype, converted), with its shape.
    Numeric(Vec<usize>, Vec<f64>),
    /// A pickled Python object (`dtype=object`): what a 0-d one holds.
    Object(PickledObject),
    /// A fixed-width unicode array (`<U…`, as `trials.npz` holds names and labels), with its
    /// shape.
    Text(Vec<usize>, Vec<String>),
}

use crate::npz_file::NpyError;

/// Parses one `.npy` file ([`crate::npz_file::parse_npy`]) into what weights files hold:
/// numbers as f64, text, and what a 0-d pickled object says.
pub fn parse_npy(bytes: &[u8]) -> Result<NpyArray, NpyError> {
    use crate::npz_file::ArrayValues;
    let array = crate::npz_file::parse_npy(bytes)?;
    Ok(match array.values {
        ArrayValues::Object(payload) => NpyArray::Object(if array.shape.is_empty() {
            read_pickled_object(&payload)
                .unwrap_or_else(|e| PickledObject::Other(format!("an unreadable pickle ({e})")))
        } else {
            PickledObject::Other("an object array of more than one element".into())
        }),
        ArrayValues::Text(text) => NpyArray::Text(array.shape, text),
        _ => {
            let values = array.to_f64().expect("numbers");
            NpyArray::Numeric(array.shape, values)
        }
    })
}

/// Every entry of an `.npz` file (stored or deflate-compressed, as `np.savez` and
/// `np.savez_compressed` write them), by name without `.npy`.
pub fn read_npz(path: &Path) -> Result<BTreeMap<String, NpyArray>, WeightsError> {
    crate::npz_file::read_npz_with(path, parse_npy).map_err(|e| WeightsError {
        path: path.display().to_string(),
        message: e.detail(),
    })
}

/// What a weights file says about its transfer function.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordedTransfer {
    /// The file records this one.
    Known(Transfer),
    /// The file has no (or a `None`) `transfer_function` entry: PsychRNN before 1.0 and
    /// psychrnn before it wrote one.
    NotRecorded,
    /// The file records a function psychrnn does not know, described.
    Unknown(String),
}

/// Weights read from a file, with what was not used.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedWeights {
    /// The weights (masks all ones where the file has none), with the file's Dale ratio.
    pub weights: RateRnnWeights,
    /// The transfer function the file records.
    pub transfer: RecordedTransfer,
    /// Entries not used, each with the reason.
    pub ignored: Vec<String>,
    /// What was read in a way the user should know (e.g. a Dale ratio taken from `Dale_rec`).
    pub notes: Vec<String>,
}

/// The weights file records another transfer function than the run's settings name.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", format!("the weights file records transfer function {recorded:?} but the run's settings say {configured:?}; the run directory is inconsistent").to_lowercase())]
pub struct TransferMismatch {
    /// The file's.
    pub recorded: Transfer,
    /// The settings'.
    pub configured: Transfer,
}

impl LoadedWeights {
    /// The transfer function to run these weights with, given the one a run's settings name:
    /// the file's when it records one (an error when the two differ), else `configured`.
    pub fn transfer_agreeing_with(
        &self,
        configured: Transfer,
    ) -> Result<Transfer, TransferMismatch> {
        match &self.transfer {
            RecordedTransfer::Known(t) if *t != configured => Err(TransferMismatch {
                recorded: *t,
                configured,
            }),
            RecordedTransfer::Known(t) => Ok(*t),
            _ => Ok(configured),
        }
    }
}

/// `[3, 2]` for flat index 11 of shape [4, 3].
fn index_text(flat: usize, shape: &[usize]) -> String {
    let mut rest = flat;
    let mut parts = vec![0; shape.len()];
    for (d, &n) in shape.iter().enumerate().rev() {
        if n > 0 {
            parts[d] = rest % n;
            rest /= n;
        }
    }
    let parts: Vec<String> = parts.iter().map(usize::to_string).collect();
    format!("[{}]", parts.join(", "))
}

/// The diagonal of an [n, n] matrix entry, or why it is not a diagonal matrix.
fn diagonal_of(key: &str, (shape, v): &Shaped, n: usize) -> Result<Vec<f64>, String> {
    if shape.as_slice() != [n, n] {
        return Err(format!("`{key}` has shape {shape:?}, expected [{n}, {n}]"));
    }
    if let Some(k) = (0..n * n).find(|&k| k / n != k % n && v[k] != 0.0) {
        return Err(format!(
            "`{key}` is not diagonal ({key}{} = {})",
            index_text(k, shape),
            v[k]
        ));
    }
    Ok((0..n).map(|i| v[i * n + i]).collect())
}

/// Reads a rate RNN weights file written by psychrnn or by PsychRNN (`model.save`).
/// `dale_ratio` and `transfer_function` are read whether plain or pickled; a file without
/// `dale_ratio` (PsychRNN before 1.0) takes it from `Dale_rec`. Optimizer slots and other
/// entries are listed in `ignored`. Non-finite values, a Dale ratio that `Dale_rec` or
/// `Dale_out` contradict, and inconsistent shapes are errors.
pub fn read_weights_npz(path: &Path) -> Result<LoadedWeights, WeightsError> {
    let entries = read_npz(path)?;
    let fail = |message: String| WeightsError {
        path: path.display().to_string(),
        message,
    };
    let numeric = |key: &str| -> Result<Option<Shaped>, WeightsError> {
        match entries.get(key) {
            None => Ok(None),
            Some(NpyArray::Object(_)) => Err(fail(format!(
                "`{key}` is a pickled object, expected numbers"
            ))),
            Some(NpyArray::Text(..)) => Err(fail(format!("`{key}` is text, expected numbers"))),
            Some(NpyArray::Numeric(s, v)) => {
                if let Some(k) = v.iter().position(|x| !x.is_finite()) {
                    return Err(fail(format!(
                        "`{key}` holds {} at {key}{}; a network cannot start from non-finite values",
                        v[k],
                        index_text(k, s)
                    )));
                }
                Ok(Some((s.clone(), v.clone())))
            }
        }
    };
    let required = |key: &str| -> Result<Shaped, WeightsError> {
        numeric(key)?.ok_or_else(|| {
            fail(format!(
                "has no `{key}`; a rate RNN weights file needs W_in, W_rec, W_out, b_rec, b_out and init_state (it has: {})",
                entries.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })
    };
    let (s_rec, w_rec) = required("W_rec")?;
    let (s_in, w_in) = required("W_in")?;
    let (s_out, w_out) = required("W_out")?;
    if s_rec.len() != 2
        || s_rec[0] != s_rec[1]
        || s_in.len() != 2
        || s_out.len() != 2
        || s_in[0] != s_rec[0]
        || s_out[1] != s_rec[0]
    {
        return Err(fail(format!(
            "inconsistent shapes: W_in {s_in:?}, W_rec {s_rec:?}, W_out {s_out:?}"
        )));
    }
    let (n_in, n, n_out) = (s_in[1], s_rec[0], s_out[0]);
    let f32s = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect::<Vec<f32>>();
    let sized = |key: &str, want: usize| -> Result<Vec<f32>, WeightsError> {
        let (_, v) = required(key)?;
        if v.len() != want {
            return Err(fail(format!(
                "`{key}` has {} values, expected {want}",
                v.len()
            )));
        }
        Ok(f32s(v))
    };
    let mask = |key: &str, want: usize| -> Result<Vec<f32>, WeightsError> {
        match numeric(key)? {
            None => Ok(vec![1.0; want]),
            Some((_, v)) if v.len() == want => Ok(f32s(v)),
            Some((_, v)) => Err(fail(format!(
                "`{key}` has {} values, expected {want}",
                v.len()
            ))),
        }
    };
    let mut notes = Vec::new();
    // PsychRNN applies Dale's principle iff the ratio is truthy: 0 turns it off.
    let ratio = |x: f64| -> Result<Option<f64>, WeightsError> {
        if x == 0.0 {
            Ok(None)
        } else if x.is_finite() && x > 0.0 && x <= 1.0 {
            Ok(Some(x))
        } else {
            Err(fail(format!(
                "`dale_ratio` is {x}; expected the fraction of excitatory units in (0, 1], or None"
            )))
        }
    };
    let dale_rec = numeric("Dale_rec")?;
    let dale_ratio = match entries.get("dale_ratio") {
        Some(NpyArray::Numeric(_, v)) if v.len() == 1 => ratio(v[0])?,
        Some(NpyArray::Numeric(s, _)) => {
            return Err(fail(format!(
                "`dale_ratio` has shape {s:?}, expected one number"
            )))
        }
        Some(NpyArray::Object(PickledObject::None)) => None,
        Some(NpyArray::Object(PickledObject::Number(x))) => ratio(*x)?,
        Some(NpyArray::Text(..)) => {
            return Err(fail(
                "`dale_ratio` is text; expected a number or None".into(),
            ))
        }
        Some(NpyArray::Object(other)) => {
            return Err(fail(format!(
                "`dale_ratio` is {other:?}; expected a number or None"
            )))
        }
        None => match &dale_rec {
            None => None,
            Some(d) => {
                let signs = diagonal_of("Dale_rec", d, n).map_err(fail)?;
                let e = signs.iter().take_while(|&&s| s == 1.0).count();
                if e == n {
                    None
                } else if e == 0 || signs[e..].iter().any(|&s| s != -1.0) {
                    return Err(fail(format!(
                        "has no `dale_ratio` and its `Dale_rec` diagonal is not excitatory units (+1) followed by inhibitory ones (−1): {signs:?}"
                    )));
                } else {
                    let r = e as f64 / n as f64;
                    notes.push(format!(
                        "{} has no dale_ratio (a PsychRNN file from before 1.0); its Dale_rec marks {e} of {n} units excitatory, so Dale's principle applies with dale_ratio {r}",
                        path.display()
                    ));
                    Some(r)
                }
            }
        },
    };
    let constraints = Constraints {
        dale_ratio,
        ..Constraints::unconstrained(n_in, n, n_out)
    };
    if let (Some(r), Some(e)) = (dale_ratio, constraints.n_excitatory()) {
        for (key, want, inhibitory) in [
            ("Dale_rec", constraints.dale_rec(), "−1"),
            ("Dale_out", constraints.dale_out(), "0"),
        ] {
            let Some(m) = numeric(key)? else { continue };
            let got = diagonal_of(key, &m, n).map_err(fail)?;
            if let Some(u) = (0..n).find(|&u| got[u] != want[u] as f64) {
                return Err(fail(format!(
                    "`{key}` does not match dale_ratio {r}: psychrnn makes the first round({r} · {n}) = {e} units excitatory (1) and the rest inhibitory ({inhibitory}), but {key}[{u}, {u}] is {}; fix dale_ratio or {key} in the file",
                    got[u]
                )));
            }
        }
    }
    let transfer = match entries.get("transfer_function") {
        None | Some(NpyArray::Object(PickledObject::None)) => RecordedTransfer::NotRecorded,
        Some(NpyArray::Object(PickledObject::Function { module, name })) => {
            match transfer_of_python_function(name) {
                Some(t) => RecordedTransfer::Known(t),
                None => RecordedTransfer::Unknown(format!("{module}.{name}")),
            }
        }
        Some(NpyArray::Object(PickledObject::Other(what))) => {
            RecordedTransfer::Unknown(what.clone())
        }
        Some(other) => RecordedTransfer::Unknown(format!("{other:?}")),
    };
    let used = [
        "W_in",
        "W_rec",
        "W_out",
        "b_rec",
        "b_out",
        "init_state",
        "input_connectivity",
        "rec_connectivity",
        "output_connectivity",
        "dale_ratio",
        "transfer_function",
        "Dale_rec",
        "Dale_out",
    ];
    let mut ignored = Vec::new();
    for (key, value) in &entries {
        if used.contains(&key.as_str()) {
            continue;
        }
        let why = match (key.as_str(), value) {
            (k, _) if k.contains("/Adam") => "optimizer state",
            (_, NpyArray::Object(_)) => "a pickled Python object",
            _ => "not a rate RNN parameter",
        };
        ignored.push(format!("{key} ({why})"));
    }
    Ok(LoadedWeights {
        weights: RateRnnWeights {
            n_in,
            n_rec: n,
            n_out,
            w_in: f32s(w_in),
            w_rec: f32s(w_rec),
            w_out: f32s(w_out),
            b_rec: sized("b_rec", n)?,
            b_out: sized("b_out", n_out)?,
            init_state: sized("init_state", n)?,
            input_connectivity: mask("input_connectivity", n * n_in)?,
            rec_connectivity: mask("rec_connectivity", n * n)?,
            output_connectivity: mask("output_connectivity", n_out * n)?,
            dale_ratio,
        },
        transfer,
        ignored,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transfer_mismatch_names_both_in_lower_case() {
        let e = TransferMismatch {
            recorded: Transfer::Tanh,
            configured: Transfer::Relu,
        };
        assert_eq!(
            e.to_string(),
            "the weights file records transfer function tanh but the run's settings say relu; the run directory is inconsistent"
        );
    }

    use crate::npz_file::npy_for_test as npy;

    #[test]
    fn parses_dtypes_orders_and_objects() {
        let f4: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(
            parse_npy(&npy("<f4", false, "(2, 3)", &f4)).unwrap(),
            NpyArray::Numeric(vec![2, 3], vec![1., 2., 3., 4., 5., 6.])
        );
        // Fortran order: column-major data for [[1, 2, 3], [4, 5, 6]].
        let col: Vec<u8> = [1.0f64, 4.0, 2.0, 5.0, 3.0, 6.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(
            parse_npy(&npy("<f8", true, "(2, 3)", &col)).unwrap(),
            NpyArray::Numeric(vec![2, 3], vec![1., 2., 3., 4., 5., 6.])
        );
        assert_eq!(
            parse_npy(&npy("|b1", false, "(2,)", &[1, 0])).unwrap(),
            NpyArray::Numeric(vec![2], vec![1., 0.])
        );
        assert_eq!(
            parse_npy(&npy("<f8", false, "()", &0.8f64.to_le_bytes())).unwrap(),
            NpyArray::Numeric(vec![], vec![0.8])
        );
        assert_eq!(
            parse_npy(&npy("|O", false, "()", b"\x80\x03N.")).unwrap(),
            NpyArray::Object(PickledObject::Other("not a numpy array".into()))
        );
        assert_eq!(
            parse_npy(&npy("<c8", false, "(1,)", &[0; 8])).unwrap_err(),
            NpyError::Unsupported("unsupported dtype `<c8`".into())
        );
        assert!(parse_npy(b"nope").is_err());
    }
}
