//! Weight files never silently change the network, and command-line counts and values are
//! checked while the command line is read: bad input exits with status 2, says what is wrong
//! and where, and writes nothing.

use crate::harness::{psychrnn, repo, stderr, TempDir};

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use candle_core::{Device, Tensor};
use psychrnn::model::{
    initial_weights, read_weights_npz, write_weights_npz, Constraints, ModelConfig,
    RecordedTransfer, Transfer,
};

const SCRIPT: &str = "scripts/perceptual_discrimination.rhai";
const TINY: [&str; 10] = [
    "--set",
    "train.iterations=2",
    "--set",
    "train.batch_size=4",
    "--set",
    "train.eval_trials=4",
    "--set",
    "train.test_trials=4",
    "--quiet",
    "--overwrite",
];

fn fixture(name: &str) -> String {
    repo()
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

/// `psychrnn run SCRIPT --out OUT` on a tiny budget with `--set` for each of `settings`.
fn run_with(out: &Path, settings: &[String]) -> Output {
    let out = out.display().to_string();
    let mut args = vec!["run", SCRIPT, "--out", &out];
    for s in settings {
        args.push("--set");
        args.push(s);
    }
    args.extend_from_slice(&TINY);
    psychrnn(&args)
}

fn set(pairs: &[&str]) -> Vec<String> {
    pairs.iter().map(|s| s.to_string()).collect()
}

/// Exit status 2 and a message holding every one of `parts`.
fn refused(o: &Output, parts: &[&str]) -> String {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    for p in parts {
        assert!(err.contains(p), "missing `{p}` in: {err}");
    }
    err
}

fn config_yaml(run: &Path) -> String {
    std::fs::read_to_string(run.join("config.yaml")).unwrap()
}

/// Initial weights of a rate RNN with 2 inputs, `n` units and 2 outputs.
fn tiny_weights(n: usize, dale_ratio: Option<f64>) -> psychrnn::model::RateRnnWeights {
    let config = ModelConfig {
        n_rec: n,
        dale_ratio,
        ..ModelConfig::default()
    };
    let k = Constraints::from_config(&config, 2, 2).unwrap();
    initial_weights(&config, &k, 1)
}

/// An `.npz` with only PsychRNN's numeric arrays (as PsychRNN before 1.0 saved, and as a
/// user builds with numpy), plus `extra` entries.
fn plain_npz(path: &Path, n: usize, extra: &[(&str, Tensor)]) {
    let w = tiny_weights(n, None);
    let cpu = Device::Cpu;
    let t = |v: &[f32], s: &[usize]| Tensor::from_slice(v, s, &cpu).unwrap();
    let mut entries = vec![
        ("W_in", t(&w.w_in, &[n, 2])),
        ("W_rec", t(&w.w_rec, &[n, n])),
        ("W_out", t(&w.w_out, &[2, n])),
        ("b_rec", t(&w.b_rec, &[n])),
        ("b_out", t(&w.b_out, &[2])),
        ("init_state", t(&w.init_state, &[1, n])),
    ];
    entries.extend(extra.iter().map(|(k, v)| (*k, v.clone())));
    Tensor::write_npz(&entries, path).unwrap();
}

fn diag(d: &[f32]) -> Tensor {
    let n = d.len();
    let mut m = vec![0.0f32; n * n];
    for i in 0..n {
        m[i * n + i] = d[i];
    }
    Tensor::from_vec(m, (n, n), &Device::Cpu).unwrap()
}

#[test]
fn a_tanh_psychrnn_file_loads_as_tanh_and_config_records_its_dale_ratio() {
    let dir = TempDir::new("trust-tanh");
    let run = dir.join("run");
    let load = format!(
        "model.load={}",
        fixture("psychrnn_saved_weights_tanh_dale.npz")
    );
    let o = run_with(&run, &set(&["model.n_rec=5", &load]));
    assert!(o.status.success(), "{}", stderr(&o));
    let yaml = config_yaml(&run);
    assert!(yaml.contains("transfer_function: tanh"), "{yaml}");
    assert!(yaml.contains("dale_ratio: 0.8"), "{yaml}");
    let saved = read_weights_npz(&run.join("weights.npz")).unwrap();
    assert_eq!(saved.transfer, RecordedTransfer::Known(Transfer::Tanh));
    assert_eq!(saved.weights.dale_ratio, Some(0.8));
    // Rerunning from config.yaml (every value now explicit) agrees with the file.
    let again = dir.join("again");
    let o = psychrnn(&[
        "run",
        run.join("config.yaml").to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn settings_that_contradict_a_loaded_file_are_errors_naming_both_values() {
    let dir = TempDir::new("trust-contradict");
    let file = fixture("psychrnn_saved_weights_tanh_dale.npz");
    let load = format!("model.load={file}");
    let run = dir.join("run");
    let cases: [(&str, &[&str]); 4] = [
        (
            "model.dale_ratio=0.5",
            &[
                "model.dale_ratio",
                "is 0.5 but",
                "psychrnn_saved_weights_tanh_dale.npz has Dale_rec for ratio 0.8",
                "remove the setting or make them agree",
            ],
        ),
        (
            "model.transfer_function=relu",
            &[
                "model.transfer_function",
                "is relu but",
                "records transfer_function tanh",
            ],
        ),
        (
            "model.autapses=false",
            &["model.autapses", "is false but", "self-connections"],
        ),
        (
            "model.n_rec=4",
            &[
                "model.load",
                "N_rec = 5",
                "N_rec = 4",
                "set model.n_rec = 5",
            ],
        ),
    ];
    for (setting, message) in cases {
        let mut settings = set(&[&load, setting]);
        if setting != "model.n_rec=4" {
            settings.push("model.n_rec=5".into());
        }
        refused(&run_with(&run, &settings), message);
        assert!(!run.exists(), "{setting}: nothing written");
    }
    // Dale's principle asked of a file trained without it.
    let plain = dir.join("plain.npz");
    let cpu = Device::Cpu;
    plain_npz(
        &plain,
        4,
        &[("dale_ratio", Tensor::new(0.0f64, &cpu).unwrap())],
    );
    let settings = set(&[
        &format!("model.load={}", plain.display()),
        "model.n_rec=4",
        "model.transfer_function=relu",
        "model.dale_ratio=0.75",
    ]);
    refused(
        &run_with(&run, &settings),
        &[
            "model.dale_ratio",
            "is 0.75 but",
            "without Dale's principle",
        ],
    );
    assert!(!run.exists());
}

#[test]
fn non_finite_values_in_a_loaded_file_are_refused_naming_file_array_and_index() {
    let dir = TempDir::new("trust-nan");
    let run = dir.join("run");
    for (array, value, index) in [
        ("W_rec", f32::NAN, "W_rec[1, 2]"),
        ("b_rec", f32::INFINITY, "b_rec[3]"),
    ] {
        let mut w = tiny_weights(4, None);
        match array {
            "W_rec" => w.w_rec[4 + 2] = value,
            _ => w.b_rec[3] = value,
        }
        let file = dir.join(format!("{array}.npz"));
        write_weights_npz(&file, &w, Transfer::Relu).unwrap();
        let settings = set(&[&format!("model.load={}", file.display()), "model.n_rec=4"]);
        let shown = if value.is_nan() { "NaN" } else { "inf" };
        refused(
            &run_with(&run, &settings),
            &[
                &format!("{array}.npz"),
                &format!("`{array}` holds {shown} at {index}"),
                "non-finite",
            ],
        );
        assert!(!run.exists(), "{array}: no run trained from it");
    }
}

#[test]
fn psychrnn_weights_files_round_trip_the_transfer_function() {
    let dir = TempDir::new("trust-roundtrip");
    for t in [
        Transfer::Relu,
        Transfer::Tanh,
        Transfer::Sigmoid,
        Transfer::Softplus,
        Transfer::Linear,
    ] {
        let file = dir.join("w.npz");
        write_weights_npz(&file, &tiny_weights(4, Some(0.75)), t).unwrap();
        let back = read_weights_npz(&file).unwrap();
        assert_eq!(back.transfer, RecordedTransfer::Known(t));
        assert_eq!(back.weights.dale_ratio, Some(0.75));
    }
    // A run's own weights.npz, loaded with nothing set, gives the same network kind.
    let first = dir.join("first");
    let o = run_with(
        &first,
        &set(&["model.n_rec=4", "model.transfer_function=softplus"]),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let load = format!("model.load={}", first.join("weights.npz").display());
    let second = dir.join("second");
    let o = run_with(&second, &set(&["model.n_rec=4", &load]));
    assert!(o.status.success(), "{}", stderr(&o));
    let yaml = config_yaml(&second);
    assert!(yaml.contains("transfer_function: softplus"), "{yaml}");
    assert!(
        yaml.contains("dale_ratio: null"),
        "no Dale in the file: {yaml}"
    );
}

#[test]
fn a_file_that_does_not_record_its_transfer_function_needs_the_setting() {
    let dir = TempDir::new("trust-unrecorded");
    let file = dir.join("old.npz");
    plain_npz(&file, 4, &[]);
    let load = format!("model.load={}", file.display());
    let run = dir.join("run");
    refused(
        &run_with(&run, &set(&[&load, "model.n_rec=4"])),
        &[
            "model.transfer_function",
            "does not record its transfer function",
            "relu, tanh, sigmoid, softplus, linear",
        ],
    );
    assert!(!run.exists());
    let o = run_with(
        &run,
        &set(&[&load, "model.n_rec=4", "model.transfer_function=tanh"]),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(config_yaml(&run).contains("transfer_function: tanh"));
}

#[test]
fn dale_matrices_that_disagree_with_the_ratio_are_refused_and_old_files_take_theirs() {
    let dir = TempDir::new("trust-dale");
    let run = dir.join("run");
    let cpu = Device::Cpu;
    // PsychRNN truncates 0.625 · 4 = 2.5 to 2 excitatory units; psychrnn rounds to 3.
    let file = dir.join("truncated.npz");
    plain_npz(
        &file,
        4,
        &[
            ("dale_ratio", Tensor::new(0.625f64, &cpu).unwrap()),
            ("Dale_rec", diag(&[1., 1., -1., -1.])),
        ],
    );
    let settings = set(&[
        &format!("model.load={}", file.display()),
        "model.n_rec=4",
        "model.transfer_function=relu",
    ]);
    refused(
        &run_with(&run, &settings),
        &[
            "truncated.npz",
            "`Dale_rec` does not match dale_ratio 0.625",
            "round(0.625 · 4) = 3",
            "Dale_rec[2, 2] is -1",
        ],
    );
    assert!(!run.exists());
    // A file from before PsychRNN 1.0: no dale_ratio, but Dale_rec says 3 of 4 excitatory.
    let old = dir.join("old.npz");
    plain_npz(&old, 4, &[("Dale_rec", diag(&[1., 1., 1., -1.]))]);
    let settings = set(&[
        &format!("model.load={}", old.display()),
        "model.n_rec=4",
        "model.transfer_function=relu",
    ]);
    let o = run_with(&run, &settings);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("marks 3 of 4 units excitatory"),
        "{}",
        stderr(&o)
    );
    assert!(config_yaml(&run).contains("dale_ratio: 0.75"));
}

/// A trained tiny run with trials.npz and fixed_points.npz, shared by the flag tests.
fn trained_run() -> &'static Path {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| {
        let run = TempDir::for_the_process("trust-flags").join("run");
        let o = run_with(&run, &set(&["model.n_rec=4"]));
        assert!(o.status.success(), "{}", stderr(&o));
        let r = run.to_str().unwrap();
        assert!(psychrnn(&["test", r, "-n", "4"]).status.success());
        let o = psychrnn(&["fixedpoints", r, "--starts", "2"]);
        assert!(o.status.success(), "{}", stderr(&o));
        run
    })
}

#[test]
fn simulate_and_test_refuse_bad_counts_and_noise_and_write_nothing() {
    let run = trained_run();
    let r = run.to_str().unwrap();
    let out = run.join("simulation.npz");
    let o = out.to_str().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (&["--noise", "nan"], "must be a finite number ≥ 0, got nan"),
        (&["--noise=-1"], "got -1"),
        (&["-n", "0"], "0 is not in 1..=100000"),
        (&["-n", "100001"], "100001 is not in 1..=100000"),
        (&["--cut", "7"], "expected FROM:TO"),
    ];
    for (flags, message) in cases {
        let mut args = vec!["simulate", r, "-o", o];
        args.extend_from_slice(flags);
        refused(&psychrnn(&args), &[message]);
        assert!(!out.exists(), "{flags:?}: nothing written");
    }
    let trials = std::fs::read(run.join("trials.npz")).unwrap();
    refused(
        &psychrnn(&["test", r, "-n", "0"]),
        &["'--trials <TRIALS>'", "0 is not in 1..=100000"],
    );
    assert_eq!(std::fs::read(run.join("trials.npz")).unwrap(), trials);
}

#[test]
fn fixedpoints_refuses_bad_inputs_and_keeps_a_good_fixed_points_file() {
    let run = trained_run();
    let r = run.to_str().unwrap();
    let good = std::fs::read(run.join("fixed_points.npz")).unwrap();
    for (flags, message) in [
        (["--input", "nan,0"], "must be a finite number, got nan"),
        (["--input", "1,inf"], "got inf"),
        (["--starts", "0"], "0 is not in 1..=10000"),
        (
            ["--keep-q-below", "0"],
            "must be a finite number > 0, got 0",
        ),
    ] {
        let mut args = vec!["fixedpoints", r];
        args.extend_from_slice(&flags);
        refused(&psychrnn(&args), &[message]);
        assert_eq!(
            std::fs::read(run.join("fixed_points.npz")).unwrap(),
            good,
            "{flags:?}: fixed_points.npz unchanged"
        );
    }
}

#[test]
fn trials_counts_and_lib_folders_are_checked() {
    let dir = TempDir::new("trust-trials");
    let png = dir.join("t.png");
    let p = png.to_str().unwrap();
    refused(
        &psychrnn(&["trials", SCRIPT, "-n", "0", "-o", p]),
        &["0 is not in 1..=100"],
    );
    refused(
        &psychrnn(&["trials", SCRIPT, "-n", "100000", "-o", p]),
        &["100000 is not in 1..=100"],
    );
    refused(
        &psychrnn(&["trials", SCRIPT, "--lib", "/nonexistent", "-o", p]),
        &["'--lib <DIR>'", "/nonexistent", "no such directory"],
    );
    refused(
        &psychrnn(&["check", SCRIPT, "--lib", "Cargo.toml"]),
        &["Cargo.toml", "is not a directory"],
    );
    assert!(!png.exists(), "nothing drawn");
}

#[test]
fn sweep_counts_and_grids_are_checked_before_anything_is_written() {
    let dir = TempDir::new("trust-sweep");
    let out = dir.join("sweep");
    let o = out.to_str().unwrap();
    let cases: [(&[&str], &str); 7] = [
        (&["--seeds", "0"], "0 is not in 1..=10000"),
        (&["--seeds", "2", "--jobs", "0"], "0 is not in 1..=1024"),
        (
            &["--grid", "model.n_rec=4,5", "--grid", "model.n_rec=6"],
            "--grid model.n_rec is given twice",
        ),
        (
            &["--grid", "model.n_rec=4,4"],
            "--grid model.n_rec lists 4 twice",
        ),
        (
            &["--grid", "model.n_rec=4,5", "--set", "model.n_rec=6"],
            "model.n_rec is both a --grid axis and a --set setting",
        ),
        (
            &["--seeds", "2", "--first-seed", "18446744073709551615"],
            "runs past the largest seed",
        ),
        (
            &["--seeds", "2", "--slurm", "--time", "1:2:3:4"],
            "expected a SLURM time limit",
        ),
    ];
    for (flags, message) in cases {
        let mut args = vec!["sweep", SCRIPT, "--out", o];
        args.extend_from_slice(flags);
        refused(&psychrnn(&args), &[message]);
        assert!(!out.exists(), "{flags:?}: no sweep folder");
    }
}

#[test]
fn bench_sizes_and_counts_of_zero_are_errors() {
    for (flags, message) in [
        (["--sizes", "0"], "0 is not in 1..=4096"),
        (["--threads", "0"], "0 is not in 1..=1024"),
        (["--iterations", "0"], "0 is not in 1..=100000"),
    ] {
        let mut args = vec!["bench", "--model"];
        args.extend_from_slice(&flags);
        refused(&psychrnn(&args), &[message]);
    }
}
