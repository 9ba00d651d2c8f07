//! Weight files in PsychRNN's `.npz` layout, readable with `numpy.load`.
//!
//! Keys and shapes (float32): `init_state` [1, N_rec], `W_in` [N_rec, N_in], `W_rec`
//! [N_rec, N_rec], `W_out` [N_out, N_rec], `b_rec` [N_rec], `b_out` [N_out], `Dale_rec` and
//! `Dale_out` [N_rec, N_rec], `input_connectivity`, `rec_connectivity`, `output_connectivity`.
//! Like PsychRNN, `W_in`, `W_rec` and `W_out` hold the effective (masked) matrices.

use std::path::Path;

use candle_core::{Device, Result, Tensor};

use super::RateRnnWeights;
use crate::run_dir::write_atomic_with;

fn identity(n: usize) -> Vec<f32> {
    let mut m = vec![0.0; n * n];
    for i in 0..n {
        m[i * n + i] = 1.0;
    }
    m
}

/// Writes `w` to `path` (atomically: a temporary file, then a rename).
/// Without Dale's principle `Dale_rec` and `Dale_out` are identities, as PsychRNN writes them.
pub fn write_weights_npz(path: &Path, w: &RateRnnWeights) -> Result<()> {
    let (i, n, o) = (w.n_in, w.n_rec, w.n_out);
    let cpu = Device::Cpu;
    let t = |d: &[f32], s: &[usize]| Tensor::from_slice(d, s, &cpu);
    let eye = identity(n);
    let entries = [
        ("init_state", t(&w.init_state, &[1, n])?),
        ("W_in", t(&w.w_in, &[n, i])?),
        ("W_rec", t(&w.w_rec, &[n, n])?),
        ("W_out", t(&w.w_out, &[o, n])?),
        ("b_rec", t(&w.b_rec, &[n])?),
        ("b_out", t(&w.b_out, &[o])?),
        ("Dale_rec", t(&eye, &[n, n])?),
        ("Dale_out", t(&eye, &[n, n])?),
        ("input_connectivity", t(&w.input_connectivity, &[n, i])?),
        ("rec_connectivity", t(&w.rec_connectivity, &[n, n])?),
        ("output_connectivity", t(&w.output_connectivity, &[o, n])?),
    ];
    write_atomic_with(path, |tmp| Tensor::write_npz(&entries, tmp))
}

/// Reads a weights file written by [`write_weights_npz`] (or by PsychRNN, float keys only).
pub fn read_weights_npz(path: &Path) -> Result<RateRnnWeights> {
    let names = [
        "init_state",
        "W_in",
        "W_rec",
        "W_out",
        "b_rec",
        "b_out",
        "input_connectivity",
        "rec_connectivity",
        "output_connectivity",
    ];
    let t = Tensor::read_npz_by_name(path, &names)?;
    let v = |k: usize| -> Result<Vec<f32>> {
        t[k].to_dtype(candle_core::DType::F32)?
            .flatten_all()?
            .to_vec1()
    };
    let (n, i) = t[1].dims2()?;
    let (o, _) = t[3].dims2()?;
    Ok(RateRnnWeights {
        n_in: i,
        n_rec: n,
        n_out: o,
        init_state: v(0)?,
        w_in: v(1)?,
        w_rec: v(2)?,
        w_out: v(3)?,
        b_rec: v(4)?,
        b_out: v(5)?,
        input_connectivity: v(6)?,
        rec_connectivity: v(7)?,
        output_connectivity: v(8)?,
    })
}
