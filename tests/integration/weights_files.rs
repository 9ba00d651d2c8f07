//! Weight files: PsychRNN's own files load (pickled entries skipped and reported), and
//! psychrnn's files round-trip exactly.

use crate::harness::{psychrnn, repo, TempDir};

use std::path::{Path, PathBuf};

use candle_core::{DType, Device};
use psychrnn::model::{
    initial_weights, read_weights_npz, write_weights_npz, Constraints, ModelConfig, RateRnn,
    RateRnnOptions, RecordedTransfer, Transfer,
};

fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures").join(name)
}

#[test]
fn psychrnn_files_load_with_pickled_entries_reported() {
    let plain = read_weights_npz(&fixture("psychrnn_saved_weights.npz")).unwrap();
    let compressed = read_weights_npz(&fixture("psychrnn_saved_weights_compressed.npz")).unwrap();
    assert_eq!(
        plain, compressed,
        "np.savez and np.savez_compressed give the same weights"
    );
    let w = &plain.weights;
    assert_eq!((w.n_in, w.n_rec, w.n_out), (2, 4, 2));
    // numpy prints W_rec[0][1] of this fixture as -0.930468 and W_rec[3][2] as -2.5167596.
    assert!((w.w_rec[1] + 0.930468).abs() < 1e-6 && (w.w_rec[3 * 4 + 2] + 2.5167596).abs() < 1e-6);
    assert_eq!(
        w.rec_connectivity,
        [0., 1., 1., 1., 1., 0., 1., 1., 1., 1., 0., 1., 1., 1., 1., 0.]
    );
    assert_eq!(
        w.dale_ratio, None,
        "the pickled None of dale_ratio: no Dale"
    );
    assert_eq!(
        plain.transfer,
        RecordedTransfer::Known(Transfer::Relu),
        "the pickled tensorflow...gen_nn_ops.relu"
    );
    let ignored = plain.ignored.join("\n");
    assert!(
        !ignored.contains("dale_ratio") && !ignored.contains("transfer_function"),
        "{ignored}"
    );
    assert!(
        ignored.contains("W_rec/Adam_1 (optimizer state)"),
        "{ignored}"
    );
    assert!(!ignored.contains("Dale_rec"), "checked, so used: {ignored}");
}

#[test]
fn psychrnn_files_round_trip_exactly_with_dale() {
    let config = ModelConfig {
        n_rec: 10,
        dale_ratio: Some(0.8),
        autapses: false,
        ..ModelConfig::default()
    };
    let k = Constraints::from_config(&config, 3, 2).unwrap();
    let w = initial_weights(&config, &k, 4);
    let model = RateRnn::new(
        &w,
        &RateRnnOptions::new(0.1, 0.0, Transfer::Relu),
        DType::F32,
        &Device::Cpu,
    )
    .unwrap();
    let dir = TempDir::new("weights");
    let path = dir.join("w.npz");
    let saved = model.effective_weights().unwrap();
    write_weights_npz(&path, &saved, Transfer::Relu).unwrap();
    let loaded = read_weights_npz(&path).unwrap();
    assert_eq!(
        loaded.weights, saved,
        "every array and the Dale ratio come back"
    );
    assert!(loaded.ignored.is_empty(), "{:?}", loaded.ignored);
    assert_eq!(loaded.transfer, RecordedTransfer::Known(Transfer::Relu));
    // Loading the effective weights as raw weights gives the same effective weights.
    let again = RateRnn::new(
        &loaded.weights,
        &RateRnnOptions::new(0.1, 0.0, Transfer::Relu),
        DType::F32,
        &Device::Cpu,
    )
    .unwrap();
    assert_eq!(again.effective_weights().unwrap(), saved);
}

#[test]
fn a_run_can_start_from_a_psychrnn_file() {
    let tmp = TempDir::new("load-run");
    let out_dir = tmp.join("run");
    let out = out_dir.to_str().unwrap();
    // Relative to the current directory (the script's folder has no such file).
    let load = "model.load=tests/fixtures/psychrnn_saved_weights.npz".to_string();
    let common = [
        "--set",
        "train.iterations=2",
        "--set",
        "train.batch_size=4",
        "--set",
        "train.eval_trials=4",
        "--set",
        "train.test_trials=4",
        "--quiet",
    ];
    let mut args = vec![
        "run",
        "scripts/perceptual_discrimination.rhai",
        "--out",
        out,
        "--set",
        "model.n_rec=4",
        "--set",
        &load,
    ];
    args.extend_from_slice(&common);
    let o = psychrnn(&args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("note: ") && err.contains("not used: ") && err.contains("(optimizer state)"),
        "{err}"
    );
    let w = read_weights_npz(&Path::new(out).join("weights.npz"))
        .unwrap()
        .weights;
    assert_eq!(w.rec_connectivity[0], 0.0, "the file's masks are kept");
    std::fs::remove_dir_all(&out_dir).unwrap();

    let mut args = vec![
        "run",
        "scripts/perceptual_discrimination.rhai",
        "--out",
        out,
        "--set",
        "model.n_rec=5",
        "--set",
        &load,
    ];
    args.extend_from_slice(&common);
    let o = psychrnn(&args);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("config field `model.load`")
            && err.contains("N_rec = 4")
            && err.contains("N_rec = 5"),
        "{err}"
    );
    assert!(!out_dir.exists(), "nothing written for bad input");
}
