//! `psychrnn test`, `report` and `fixedpoints` as a user runs them, checked against
//! independent computations from the saved weights.

use crate::harness::{npz, psychrnn, repo, TempDir};

use std::path::{Path, PathBuf};

use psychrnn::random::stream;
use psychrnn::script::{load_experiment, LoadOptions};
use psychrnn::task::generate_batch;

/// Trains a small perceptual-discrimination network into a fresh temporary folder: the folder
/// and the run directory in it.
fn small_run(name: &str) -> (TempDir, PathBuf) {
    let tmp = TempDir::new(&format!("report-{name}"));
    let dir = tmp.join("run");
    let o = psychrnn(&[
        "run",
        "scripts/perceptual_discrimination.rhai",
        "--quiet",
        "--out",
        dir.to_str().unwrap(),
        "--set",
        "model.n_rec=12",
        "--set",
        "train.iterations=150",
        "--set",
        "train.batch_size=32",
        "--set",
        "train.eval_every=50",
        "--set",
        "train.eval_trials=32",
        "--set",
        "train.test_trials=64",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (tmp, dir)
}

#[test]
fn test_writes_trials_that_match_the_task_and_the_weights() {
    let (_tmp, run) = small_run("test");
    let o = psychrnn(&["test", run.to_str().unwrap(), "-n", "20"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("20 fresh trials, accuracy"));
    let t = npz(&run.join("trials.npz"));
    let w = npz(&run.join("weights.npz"));
    assert_eq!(t["inputs"].0, [20, 200, 2]);
    assert_eq!(t["states"].0, [20, 200, 12]);
    assert_eq!(t["dt"].1, [10.0]);
    // The trials are batch 1 of the test stream: regenerate them independently.
    let loaded = load_experiment(
        &repo().join("scripts/perceptual_discrimination.rhai"),
        &LoadOptions::default(),
    )
    .unwrap();
    let batch = generate_batch(loaded.task.as_ref(), 0, stream::TEST, 1, 20).unwrap();
    let inputs: Vec<f64> = batch.inputs.iter().map(|&v| v as f64).collect();
    assert_eq!(t["inputs"].1, inputs);
    for (i, c) in batch.conditions.iter().enumerate() {
        let psychrnn::task::ConditionValue::Number(coh) = c["coherence"] else {
            panic!()
        };
        assert_eq!(t["condition_coherence"].1[i], coh);
    }
    // rates = relu(states); outputs = rates · W_outᵀ + b_out.
    let (states, rates, outputs) = (&t["states"].1, &t["rates"].1, &t["outputs"].1);
    assert!(states
        .iter()
        .zip(rates)
        .all(|(s, r)| (s.max(0.0) - r).abs() < 1e-6));
    let (w_out, b_out) = (&w["W_out"].1, &w["b_out"].1);
    for p in 0..20 * 200 {
        for o in 0..2 {
            let y: f64 = b_out[o]
                + (0..12)
                    .map(|j| w_out[o * 12 + j] * rates[p * 12 + j])
                    .sum::<f64>();
            assert!((y - outputs[p * 2 + o]).abs() < 1e-4, "output {p},{o}");
        }
    }
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        path.display()
    );
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

#[test]
fn run_writes_a_report_with_every_figure_and_fixedpoints_adds_to_it() {
    let (_tmp, run) = small_run("figures");
    let report = run.join("report");
    let index = std::fs::read_to_string(report.join("index.html")).unwrap();
    for stem in [
        "training",
        "trials",
        "psychometric",
        "weights",
        "spectrum",
        "population",
        "units",
    ] {
        assert!(
            index.contains(&format!("src=\"{stem}.png\"")),
            "{stem} missing from index.html"
        );
        let (w, h) = png_size(&report.join(format!("{stem}.png")));
        assert!(w >= 500 && h >= 350, "{stem}: {w}×{h}");
        let svg = std::fs::read_to_string(report.join(format!("{stem}.svg"))).unwrap();
        assert!(svg.starts_with("<svg"), "{stem}.svg");
    }
    let svg = |stem: &str| std::fs::read_to_string(report.join(format!("{stem}.svg"))).unwrap();
    assert!(svg("training").contains("iteration") && svg("training").contains("loss (log scale)"));
    assert!(
        svg("psychometric").contains("P(choose choice_1)")
            && svg("psychometric").contains("signed coherence")
    );
    assert!(
        svg("population").contains("PC1 (")
            // The key beside the plot: the condition once, then each level's value.
            && svg("population").contains("\nsigned coherence\n</text>")
            && svg("population").contains("\n-0.7\n</text>")
    );
    assert!(svg("units").contains("time (ms)"));
    assert!(index.contains("logistic fit: threshold"), "{index}");

    let o = psychrnn(&[
        "fixedpoints",
        run.to_str().unwrap(),
        "--input",
        "0,0",
        "--starts",
        "16",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let fp = npz(&run.join("fixed_points.npz"));
    let w = npz(&run.join("weights.npz"));
    let (k, n) = (fp["x"].0[0], fp["x"].0[1]);
    assert!(k >= 1, "at least one fixed point");
    // Each point is fixed under x ↦ (1−α)x + α(W_rec relu(x) + b_rec), α = 0.1, input 0.
    for p in 0..k {
        let x = &fp["x"].1[p * n..(p + 1) * n];
        let step: Vec<f64> = (0..n)
            .map(|i| {
                0.9 * x[i]
                    + 0.1
                        * (w["b_rec"].1[i]
                            + (0..n)
                                .map(|j| w["W_rec"].1[i * n + j] * x[j].max(0.0))
                                .sum::<f64>())
            })
            .collect();
        let q: f64 = 0.5
            * step
                .iter()
                .zip(x)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f64>();
        assert!(q < 1e-6, "point {p}: q = {q}");
        let radius = (0..n)
            .map(|i| fp["eigenvalues_re"].1[p * n + i].hypot(fp["eigenvalues_im"].1[p * n + i]))
            .fold(0.0, f64::max);
        assert_eq!(fp["stable"].1[p] == 1.0, radius < 1.0);
    }
    let index = std::fs::read_to_string(report.join("index.html")).unwrap();
    assert!(
        index.contains("fixed points of the dynamics with constant input [0, 0]"),
        "{index}"
    );

    let o = psychrnn(&["fixedpoints", run.to_str().unwrap(), "--input", "1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains(
        "--input has 1 values; the network has 2 input channels (evidence_0, evidence_1)"
    ));
}

#[test]
fn a_reaction_time_onset_adds_a_chronometric_curve() {
    let tmp = TempDir::new("report-rt");
    let dir = tmp.join("run");
    let o = psychrnn(&[
        "run",
        "scripts/perceptual_discrimination.rhai",
        "--quiet",
        "--out",
        dir.to_str().unwrap(),
        "--set",
        "model.n_rec=8",
        "--set",
        "train.iterations=20",
        "--set",
        "train.batch_size=16",
        "--set",
        "train.test_trials=64",
        "--set",
        "report.reaction_time_onset=onset",
        "--set",
        "report.reaction_time_threshold=0.3",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let index = std::fs::read_to_string(dir.join("report/index.html")).unwrap();
    assert!(index.contains("src=\"chronometric.png\""), "{index}");
    assert!(
        index.contains(
            "Mean time from onset until a choice output (choice_0, choice_1) first reaches 0.3"
        ),
        "{index}"
    );
    let svg = std::fs::read_to_string(dir.join("report/chronometric.svg")).unwrap();
    assert!(svg.contains("reaction time (ms)") && svg.contains("signed coherence"));
}

#[test]
fn report_settings_are_checked() {
    let tmp = TempDir::new("report-settings");
    let dir = tmp.join("out");
    let o = psychrnn(&[
        "run",
        "scripts/perceptual_discrimination.rhai",
        "--quiet",
        "--out",
        dir.join("bad").to_str().unwrap(),
        "--set",
        "report.psychometric=coherense",
        "--set",
        "train.iterations=2",
        "--set",
        "train.test_trials=8",
    ]);
    // A report setting naming no condition stops the run before it trains or writes anything.
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("config field `report.psychometric`: no condition `coherense`; the trials' conditions are: coherence, direction, onset, stimulus; did you mean `coherence`?"), "{err}");
    assert!(!dir.exists());
}
