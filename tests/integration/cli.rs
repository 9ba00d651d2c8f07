//! `psychrnn run` as a user runs it: files written, errors reported, runs reproducible.

use std::path::{Path, PathBuf};
use std::process::Output;

use psychrnn::run_dir::RunRecord;

use crate::harness::{numeric_npz, psychrnn_in, repo, stderr, TempDir};

fn script() -> PathBuf {
    repo().join("scripts/perceptual_discrimination.rhai")
}

const TINY: &[&str] = &[
    "--set",
    "model.n_rec=8",
    "--set",
    "train.iterations=6",
    "--set",
    "train.eval_every=3",
    "--set",
    "train.batch_size=8",
    "--set",
    "train.eval_trials=16",
    "--set",
    "train.test_trials=16",
    "--quiet",
];

fn run_tiny(cwd: &Path, out: &str, extra: &[&str]) -> Output {
    let s = script();
    let mut args = vec!["run", s.to_str().unwrap(), "--out", out];
    args.extend_from_slice(TINY);
    args.extend_from_slice(extra);
    psychrnn_in(cwd, &args)
}

#[test]
fn run_writes_config_weights_history_and_summary() {
    let dir = TempDir::new("cli-files");
    let o = run_tiny(&dir, "run", &["--seed", "3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = dir.join("run");

    let record: RunRecord =
        serde_norway::from_str(&std::fs::read_to_string(run.join("config.yaml")).unwrap()).unwrap();
    assert_eq!(record.experiment.seed, 3);
    assert_eq!(record.experiment.model.n_rec, 8);
    assert_eq!(record.experiment.train.iterations, 6);
    assert_eq!(
        record.experiment.train.learning_rate, 0.001,
        "script value kept"
    );
    assert_eq!(
        record.experiment.train.clip_grad_norm,
        Some(1.0),
        "default made explicit"
    );
    assert_eq!(record.experiment.task.duration, 2000.0);
    assert_eq!(record.overrides[0], "model.n_rec=8");
    assert_eq!(record.script_sha256.len(), 64);
    // Every imported module is recorded with the hash of its source.
    use sha2::Digest;
    let compat = std::fs::read(repo().join("stdlib/psychrnn/compat.rhai")).unwrap();
    assert_eq!(record.imports.len(), 1);
    assert_eq!(record.imports[0].module, "psychrnn/compat");
    assert_eq!(
        record.imports[0].sha256,
        format!("{:x}", sha2::Sha256::digest(&compat))
    );
    let config_text = std::fs::read_to_string(run.join("config.yaml")).unwrap();
    assert!(
        config_text.contains("stop_at_accuracy: null"),
        "{config_text}"
    );

    let weights = numeric_npz(&run.join("weights.npz"));
    let shapes: Vec<(String, Vec<usize>)> = weights
        .iter()
        .map(|(k, t)| (k.clone(), t.dims().to_vec()))
        .collect();
    let expect = |k: &str, s: &[usize]| (k.to_string(), s.to_vec());
    assert_eq!(
        shapes,
        vec![
            expect("Dale_out", &[8, 8]),
            expect("Dale_rec", &[8, 8]),
            expect("W_in", &[8, 2]),
            expect("W_out", &[2, 8]),
            expect("W_rec", &[8, 8]),
            expect("b_out", &[2]),
            expect("b_rec", &[8]),
            expect("init_state", &[1, 8]),
            expect("input_connectivity", &[8, 2]),
            expect("output_connectivity", &[2, 8]),
            expect("rec_connectivity", &[8, 8]),
        ]
    );
    let b_rec: Vec<f32> = weights[6].1.to_vec1().unwrap();
    assert!(
        b_rec.iter().any(|&v| v != 0.0),
        "b_rec starts at 0 and must have trained"
    );

    let history = std::fs::read_to_string(run.join("history.csv")).unwrap();
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(
        lines[0],
        "iteration,trials_seen,loss,eval_loss,accuracy,stage,seconds"
    );
    assert_eq!(lines.len(), 3, "{history}");
    assert!(
        lines[1].starts_with("3,24,") && lines[2].starts_with("6,48,"),
        "{history}"
    );
    for line in &lines[1..] {
        let acc: f64 = line.split(',').nth(4).unwrap().parse().unwrap();
        assert!((0.0..=1.0).contains(&acc));
    }

    let summary: serde_norway::Value =
        serde_norway::from_str(&std::fs::read_to_string(run.join("summary.yaml")).unwrap())
            .unwrap();
    assert_eq!(summary["iterations"].as_u64(), Some(6));
    assert_eq!(summary["test_trials"].as_u64(), Some(16));
    assert!(summary["wall_seconds"].as_f64().unwrap() > 0.0);
    let acc = summary["final_accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc));
    // Only the run's files: no temporary file left behind.
    let mut names: Vec<String> = std::fs::read_dir(&run)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ".lock",
            "analysis.npz",
            "analysis.yaml",
            "checkpoint",
            "config.yaml",
            "history.csv",
            "report",
            "script",
            "summary.yaml",
            "trials.npz",
            "weights.npz"
        ]
    );
}

#[test]
fn same_seed_gives_bit_identical_weights_and_another_seed_does_not() {
    let dir = TempDir::new("cli-seed");
    for (out, seed) in [("a", "5"), ("b", "5"), ("c", "6")] {
        let o = run_tiny(
            &dir,
            out,
            &["--seed", seed, "--set", "model.rec_noise=0.05"],
        );
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let bits = |run: &str| -> Vec<(String, Vec<u32>)> {
        numeric_npz(&dir.join(run).join("weights.npz"))
            .into_iter()
            .map(|(k, t)| {
                (
                    k,
                    t.flatten_all()
                        .unwrap()
                        .to_vec1::<f32>()
                        .unwrap()
                        .iter()
                        .map(|v| v.to_bits())
                        .collect(),
                )
            })
            .collect()
    };
    assert_eq!(bits("a"), bits("b"));
    assert_ne!(bits("a"), bits("c"));
}

#[test]
fn default_run_directory_never_overwrites_an_earlier_run() {
    let dir = TempDir::new("cli-default-out");
    let s = script();
    for _ in 0..2 {
        let mut args = vec!["run", s.to_str().unwrap()];
        args.extend_from_slice(TINY);
        let o = psychrnn_in(&dir, &args);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    assert!(dir
        .join("runs/perceptual_discrimination/weights.npz")
        .is_file());
    assert!(dir
        .join("runs/perceptual_discrimination-2/weights.npz")
        .is_file());
    // An explicit --out that holds a run is refused.
    let o = run_tiny(&dir, "runs/perceptual_discrimination", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("already holds a run"), "{}", stderr(&o));
}

fn write_script(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const TASK_HEAD: &str = r#"
let task = #{
    inputs: ["a"], outputs: ["b"], duration: 100.0,
    params: |rng| #{ x: rng.uniform() },
    trial: |p| [ #{ name: "only", input: [p.x], target: [1.0] } ],
};
"#;

#[test]
fn syntax_error_reports_file_line_column_and_writes_nothing() {
    let dir = TempDir::new("cli-syntax");
    let p = write_script(
        &dir,
        "bad.rhai",
        "let a = 1;\nlet b = (2 + ;\nexperiment(#{});\n",
    );
    let o = psychrnn_in(&dir, &["run", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("bad.rhai:2:"), "{err}");
    assert!(!dir.join("runs").exists(), "nothing may be written");
}

#[test]
fn runtime_error_inside_a_trial_closure_is_located_and_writes_nothing() {
    let dir = TempDir::new("cli-runtime");
    let text = r#"
experiment(#{
    task: #{
        inputs: ["a"], outputs: ["b"], duration: 100.0,
        params: |rng| #{ n: rng.int(1, 3) },
        trial: |p| {
            let y = 10 / (p.n - p.n);
            [ #{ name: "only" } ]
        },
    },
});
"#;
    let p = write_script(&dir, "oops.rhai", text);
    let o = psychrnn_in(&dir, &["run", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("oops.rhai:7:"), "{err}");
    assert!(err.contains("Division by zero"), "{err}");
    assert!(err.contains("in task.trial"), "{err}");
    assert!(err.contains("trial 0"), "{err}");
    assert!(!dir.join("runs").exists());
}

#[test]
fn bad_settings_name_the_field_and_the_valid_choices() {
    let dir = TempDir::new("cli-settings");
    let p = write_script(
        &dir,
        "ok.rhai",
        &format!("{TASK_HEAD}\nexperiment(#{{ task: task }});\n"),
    );
    let run = |extra: &[&str]| {
        let mut args = vec!["run", p.to_str().unwrap()];
        args.extend_from_slice(extra);
        psychrnn_in(&dir, &args)
    };
    let o = run(&["--set", "model.n_recc=3"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains(
            "config field `model.n_recc`: unknown field `n_recc`, expected one of `kind`, `n_rec`"
        ),
        "{err}"
    );

    let o = run(&["--set", "model.transfer_function=relux"]);
    let err = stderr(&o);
    assert!(
        err.contains("model.transfer_function")
            && err.contains("`relu`, `tanh`, `sigmoid`, `softplus`, `linear`"),
        "{err}"
    );

    let o = run(&["--set", "modle.n_rec=3"]);
    assert!(
        stderr(&o).contains("valid keys: name, seed, task, model, train, curriculum, report"),
        "{}",
        stderr(&o)
    );

    let o = run(&["--set", "n_rec"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("expected section.key=value"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.join("runs").exists());
}

#[test]
fn every_subcommand_has_help() {
    let dir = TempDir::new("cli-help");
    let o = psychrnn_in(&dir, &["run", "--help"]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    for flag in ["--out", "--seed", "--set", "--quiet", "--lib"] {
        assert!(text.contains(flag), "{flag} missing from:\n{text}");
    }
    assert!(psychrnn_in(&dir, &["--help"]).status.success());
}

#[test]
fn threads_option_splits_the_batch_with_the_same_training_result() {
    let dir = TempDir::new("cli-threads");
    for (out, threads) in [("one", "1"), ("two", "2")] {
        let o = run_tiny(
            &dir,
            out,
            &["--threads", threads, "--set", "model.rec_noise=0.05"],
        );
        assert!(o.status.success(), "{}", stderr(&o));
    }
    // The threads share the batch; only the order of ∂W_rec's sum differs.
    let weights = |run: &str| numeric_npz(&dir.join(run).join("weights.npz"));
    for ((k, a), (_, b)) in weights("one").into_iter().zip(weights("two")) {
        let a: Vec<f32> = a.flatten_all().unwrap().to_vec1().unwrap();
        let b: Vec<f32> = b.flatten_all().unwrap().to_vec1().unwrap();
        let scale = a.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
        let diff = a
            .iter()
            .zip(&b)
            .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(diff / scale < 1e-4, "{k} differs by {diff}");
    }
    // The run records the count it used, for reproducing it exactly.
    for (run, threads) in [("one", 1), ("two", 2)] {
        let summary = std::fs::read_to_string(dir.join(run).join("summary.yaml")).unwrap();
        assert!(
            summary.contains(&format!("\nmodel_threads: {threads}\n")),
            "{summary}"
        );
    }
    let s = script();
    let o = psychrnn_in(&dir, &["run", s.to_str().unwrap(), "--threads", "0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--threads"), "{}", stderr(&o));
}

#[test]
fn summary_reports_accuracy_by_the_report_condition() {
    let dir = TempDir::new("cli-by-condition");
    let o = run_tiny(&dir, "r", &["--set", "report.condition=coherence"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(dir.join("r/summary.yaml")).unwrap();
    let summary: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    assert_eq!(
        summary["accuracy_by"]["condition"].as_str(),
        Some("coherence"),
        "{text}"
    );
    let groups = summary["accuracy_by"]["groups"].as_sequence().expect(&text);
    // PsychRNN's coherences, in order, each with its trials; together the whole test batch,
    // and their weighted accuracy is the overall one.
    let values: Vec<f64> = groups
        .iter()
        .map(|g| g["value"].as_f64().unwrap())
        .collect();
    assert_eq!(values, vec![0.1, 0.3, 0.5, 0.7], "{text}");
    let trials: Vec<u64> = groups
        .iter()
        .map(|g| g["trials"].as_u64().unwrap())
        .collect();
    assert_eq!(trials.iter().sum::<u64>(), 16);
    let weighted: f64 = groups
        .iter()
        .map(|g| g["accuracy"].as_f64().unwrap() * g["trials"].as_f64().unwrap())
        .sum::<f64>()
        / 16.0;
    let overall = summary["final_accuracy"].as_f64().unwrap();
    assert!(
        (weighted - overall).abs() < 1e-12,
        "{weighted} vs {overall}"
    );
    // trials.npz keeps the scorer's verdict on each of those trials.
    let (_, correct) = numeric_npz(&dir.join("r/trials.npz"))
        .into_iter()
        .find(|(k, _)| k == "correct")
        .expect("a `correct` entry");
    assert_eq!(correct.dtype(), candle_core::DType::U8, "numpy bool");
    let correct: Vec<f64> = correct
        .to_dtype(candle_core::DType::F64)
        .unwrap()
        .to_vec1()
        .unwrap();
    assert_eq!(correct.len(), 16);
    assert!(correct.iter().all(|&v| v == 0.0 || v == 1.0));
    assert!((correct.iter().sum::<f64>() / 16.0 - overall).abs() < 1e-12);
}
