//! Helpers shared by the integration tests: running the binary as a user does and reading
//! what it writes.
#![allow(dead_code)] // each test binary uses its own subset

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use candle_core::Tensor;

/// The repository root (the tests run the bundled scripts from there).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `psychrnn ARGS` in the repository root.
pub fn psychrnn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_psychrnn"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run psychrnn")
}

/// Standard output of a run that must have succeeded (its stderr in the panic otherwise).
pub fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every numeric array of an `.npz` as a tensor, sorted by name; pickled object entries
/// (`dale_ratio` without Dale, `transfer_function` in weights.npz), which candle cannot
/// read, are left out.
pub fn numeric_npz(path: &Path) -> Vec<(String, Tensor)> {
    let mut names: Vec<String> = psychrnn::model::read_npz(path)
        .unwrap()
        .into_iter()
        .filter(|(_, a)| matches!(a, psychrnn::model::NpyArray::Numeric(..)))
        .map(|(k, _)| k)
        .collect();
    names.sort();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let tensors = Tensor::read_npz_by_name(path, &refs).unwrap();
    names.into_iter().zip(tensors).collect()
}

/// Every numeric array of an `.npz`, as (shape, values in f64).
pub fn npz(path: &Path) -> HashMap<String, (Vec<usize>, Vec<f64>)> {
    numeric_npz(path)
        .into_iter()
        .map(|(k, t)| {
            let dims = t.dims().to_vec();
            let v = t
                .to_dtype(candle_core::DType::F64)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            (k, (dims, v))
        })
        .collect()
}
