//! `psychrnn check`, `trials`, `doc` and `bench` as a user runs them.

use std::path::Path;

use crate::harness::{command, psychrnn, repo, stdout, TempDir};

#[test]
fn check_describes_channels_epochs_conditions_and_shapes() {
    let out = stdout(&psychrnn(&[
        "check",
        "scripts/perceptual_discrimination.rhai",
    ]));
    assert!(
        out.contains("task `perceptual_discrimination` (epoch form)"),
        "{out}"
    );
    assert!(out.contains("inputs  (2): evidence_0, evidence_1"), "{out}");
    assert!(out.contains("duration 2000 ms = 200 steps"), "{out}");
    let stimulus = out
        .lines()
        .find(|l| l.trim_start().starts_with("stimulus "))
        .expect(&out);
    // Stimulus lengths are drawn from U(250, 750) ms.
    let span: Vec<f64> = stimulus
        .split_whitespace()
        .nth(1)
        .unwrap()
        .split('–')
        .map(|v| v.parse().unwrap())
        .collect();
    assert!(
        span[0] >= 250.0 && span[1] <= 750.0 && span[0] < span[1],
        "{stimulus}"
    );
    assert!(out.lines().any(|l| l.trim() == "gap       20 ms"), "{out}");
    assert!(out.contains("coherence  0.1, 0.3, 0.5, 0.7"), "{out}");
    assert!(out.contains("direction  0, 1"), "{out}");
    assert!(
        out.contains("batch: inputs [64, 200, 2], targets [64, 200, 2], mask [64, 200, 2]"),
        "{out}"
    );
    assert!(out.contains("generated in"), "{out}");

    let out = stdout(&psychrnn(&[
        "check",
        "scripts/perceptual_discrimination_steps.rhai",
        "-n",
        "4",
    ]));
    assert!(
        out.contains("(per-step form)") && !out.contains("epochs (over"),
        "{out}"
    );
    assert!(out.contains("batch: inputs [4, 200, 2]"), "{out}");

    let o = psychrnn(&[
        "check",
        "scripts/perceptual_discrimination.rhai",
        "--set",
        "task.duraton=5",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("did you mean `duration`?"));
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

#[test]
fn trials_draws_png_and_svg_with_conditions_and_epochs() {
    let dir = TempDir::new("tools-trials");
    let png = dir.join("t.png");
    let out = stdout(&psychrnn(&[
        "trials",
        "scripts/perceptual_discrimination.rhai",
        "-n",
        "3",
        "-o",
        png.to_str().unwrap(),
    ]));
    assert!(
        out.contains("3 trials of `perceptual_discrimination`"),
        "{out}"
    );
    assert_eq!(
        png_size(&std::fs::read(&png).unwrap()),
        // Three trial rows of 230 pixels under a header: the note (22), one key row of
        // 18 for the two inputs and one for the two outputs, and 6 below.
        (1100, 3 * 230 + 22 + 2 * 18 + 6)
    );

    let svg = dir.join("t.svg");
    stdout(&psychrnn(&[
        "trials",
        "tests/tasks/romo_epochs.rhai",
        "-n",
        "2",
        "-o",
        svg.to_str().unwrap(),
    ]));
    let text = std::fs::read_to_string(&svg).unwrap();
    for needle in [
        "trial 0: choice=",
        "f1=",
        "stimulus_1",
        "decision",
        "f_pos",
        "f1_greater",
        "time (ms)",
    ] {
        assert!(text.contains(needle), "{needle} missing from the SVG");
    }
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "no temporary files left: {names:?}");

    let o = psychrnn(&[
        "trials",
        "scripts/perceptual_discrimination.rhai",
        "-o",
        "trials.pdf",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("trials.pdf: figures are written as .png or .svg"));
    assert!(!Path::new(&repo().join("trials.pdf")).exists());
}

#[test]
fn doc_lists_builtins_the_stdlib_and_module_files() {
    let out = stdout(&psychrnn(&["doc"]));
    assert!(out.contains("== built-in =="), "{out}");
    assert!(
        out.contains("  rng.trunc_exp(mean, min, max)\n      An exponential draw"),
        "{out}"
    );
    assert!(out.contains("  dist::uniform(lo, hi)"), "{out}");
    assert!(out.contains("== psychrnn/compat =="), "{out}");
    assert!(
        out.contains("  fn input_noise_std(dt, stim_noise)\n      Standard deviation"),
        "{out}"
    );

    let out = stdout(&psychrnn(&["doc", "tests/tasks/romo_common.rhai"]));
    assert!(
        out.contains("== tests/tasks/romo_common.rhai ==\nShared by romo_epochs.rhai"),
        "{out}"
    );
    assert!(
        out.contains("  fn params(rng, T)\n      Draws one trial"),
        "{out}"
    );

    let o = psychrnn(&["doc", "psychrnn/tasks_that_do_not_exist"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("not in the standard library, which has: psychrnn/compat"));
}

#[test]
fn bench_reports_generation_and_training_measurements() {
    let out = stdout(&psychrnn(&["bench", "--batches", "2", "--iterations", "3"]));
    for form in ["epochs", "per-step"] {
        let gen = out
            .lines()
            .find(|l| l.trim_start().starts_with(form) && l.matches(" ms").count() == 3);
        assert!(gen.is_some(), "{form} generation line missing:\n{out}");
        let train = out
            .lines()
            .find(|l| l.trim_start().starts_with(form) && l.contains("ms per iteration"));
        assert!(
            train.is_some_and(|l| l.contains("% of it waiting for trials")),
            "{out}"
        );
    }
    assert!(out.contains("per-step form / epoch form:"), "{out}");
}

/// `bench --scripts` measures each script at its own batch and network size and names its
/// form of trial; the sizes in each row are the script's, read back from what it declares.
#[test]
fn bench_scripts_measures_each_script_at_its_own_sizes() {
    let dir = TempDir::new("bench-scripts");
    let script = dir.join("small.rhai");
    std::fs::write(
        &script,
        r#"experiment(#{ name: "small", task: #{ inputs: ["a", "b", "c"], outputs: ["y"],
  dt: 10.0, tau: 100.0, duration: 120.0, params: |rng| #{ x: rng.uniform(0.0, 1.0) },
  trial: |p| [#{ name: "all", input: [p.x, 0.0, 1.0], target: [p.x] }] },
  model: #{ n_rec: 7 }, train: #{ batch_size: 16 } });
"#,
    )
    .unwrap();
    let steps_script = repo().join("scripts/perceptual_discrimination_steps.rhai");
    let out = stdout(&psychrnn(&[
        "bench",
        "--scripts",
        script.to_str().unwrap(),
        steps_script.to_str().unwrap(),
        "--batches",
        "2",
        "--iterations",
        "2",
    ]));
    let row = |name: &str| -> Vec<String> {
        let line = out
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no row for {name}:\n{out}"));
        line.split_whitespace().map(str::to_string).collect()
    };
    // name, form, batch, steps, in, out, units, then three times in ms and the waiting share.
    let small = row("small.rhai");
    assert_eq!(small[1..7], ["epochs", "16", "12", "3", "1", "7"], "{out}");
    let steps = row("perceptual_discrimination_steps.rhai");
    assert_eq!(
        steps[1..8],
        ["per-step,", "traced", "64", "200", "2", "2", "50"],
        "{out}"
    );
    for cells in [&small[7..], &steps[8..]] {
        let ms: Vec<f64> = cells
            .chunks(2)
            .take(3)
            .map(|c| {
                assert_eq!(c[1], "ms", "{out}");
                c[0].parse().unwrap()
            })
            .collect();
        assert!(ms.iter().all(|&m| m > 0.0 && m.is_finite()), "{out}");
        let waiting: f64 = cells[6].trim_end_matches('%').parse().unwrap();
        assert!((0.0..=100.0).contains(&waiting), "{out}");
    }
    assert!(out.contains("training waits for trials"), "{out}");
}

#[test]
fn modules_are_found_along_psychrnn_path_and_lib() {
    let dir = TempDir::new("tools-path");
    let lab = dir.join("other_lab");
    std::fs::create_dir_all(&lab).unwrap();
    std::fs::write(
        lab.join("cues.rhai"),
        "/// Cue strength.\nfn strength() { 0.75 }\n",
    )
    .unwrap();
    let script = dir.join("exp.rhai");
    std::fs::write(
        &script,
        "import \"cues\" as cues;\nexperiment(#{ task: #{ inputs: [\"a\"], outputs: [\"b\"], duration: 50.0,\n  params: |rng| #{ s: cues::strength() }, trial: |p| [ #{ name: \"cue\", input: p.s } ] } });\n",
    )
    .unwrap();
    let run = |env: Option<&Path>, extra: &[&str]| {
        let mut cmd = command(&repo(), &["check", script.to_str().unwrap(), "-n", "2"]);
        cmd.args(extra);
        if let Some(p) = env {
            cmd.env("PSYCHRNN_PATH", p);
        }
        cmd.output().unwrap()
    };
    let missing = run(None, &[]);
    assert_eq!(missing.status.code(), Some(2));
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(
        err.contains("exp.rhai:1:8: module cues not found; searched:"),
        "{err}"
    );
    assert!(
        err.contains(&dir.join("cues.rhai").display().to_string()),
        "{err}"
    );
    let by_env = stdout(&run(Some(&lab), &[]));
    assert!(by_env.contains("s  0.75"), "{by_env}");
    let by_flag = stdout(&run(None, &["--lib", lab.to_str().unwrap()]));
    assert!(by_flag.contains("s  0.75"), "{by_flag}");
}

#[test]
fn bench_model_reports_both_paths_threads_gated_networks_and_memory() {
    let out = stdout(&psychrnn(&["bench", "--model", "--sizes", "8"]));
    assert!(out.contains("GEMM 1024³ on 1 thread(s)"), "{out}");
    assert!(out.contains("GEMM 1024³ on 2 thread(s)"), "{out}");
    for threads in ["1", "2"] {
        let row = out
            .lines()
            .find(|l| l.split_whitespace().take(2).eq([threads, "8"]))
            .expect(&out);
        // reference, fused, arithmetic bound; speed-up, share of GEMM, fused over arithmetic,
        // peak heap.
        assert_eq!(row.matches(" ms").count(), 3, "{row}");
        assert_eq!(row.matches('x').count(), 2, "{row}");
        assert!(
            row.contains('x') && row.contains('%') && row.ends_with("MiB"),
            "{row}"
        );
    }
    // The products' FLOP per row of the batch per unit at N = 8 with 2 inputs and 2 outputs:
    // gates · (6N + 4·2) + 6·2, one gate for the rate RNN.
    let flops = |gates: f64| gates * (6.0 * 8.0 + 8.0) + 12.0;
    for (threads, kind, gates) in [
        ("1", "lstm", 4.0),
        ("1", "gru", 3.0),
        ("2", "lstm", 4.0),
        ("2", "gru", 3.0),
    ] {
        let row = out
            .lines()
            .find(|l| l.split_whitespace().take(3).eq([threads, kind, "8"]) && !l.contains('%'))
            .expect(&out);
        // reference, fused, arithmetic; speed-up, ratio to the rate RNN, that ratio per FLOP,
        // fused over arithmetic.
        assert_eq!(row.matches(" ms").count(), 3, "{row}");
        assert_eq!(row.matches('x').count(), 4, "{row}");
        let ratios: Vec<f64> = row
            .split_whitespace()
            .filter_map(|w| w.strip_suffix('x'))
            .map(|w| w.parse().unwrap())
            .collect();
        let expected = ratios[1] * flops(1.0) / flops(gates);
        assert!(
            (ratios[2] - expected).abs() < 0.1,
            "{row}: per FLOP {expected}"
        );
        // The arithmetic: the gated products (200 steps × 64 trials × 8 units × FLOP per
        // unit) at the GEMM rate printed for this thread count; the last ratio is fused over it.
        let gemm: f64 = out
            .split(&format!("GEMM 1024³ on {threads} thread(s): "))
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .expect(&out)
            .parse()
            .unwrap();
        let ms: Vec<f64> = row
            .split(" ms")
            .filter_map(|p| p.split_whitespace().last()?.parse().ok())
            .collect();
        let arithmetic = 200.0 * 64.0 * 8.0 * flops(gates) / gemm / 1e6;
        // Printed to 0.01 ms (the GEMM rate to 0.1 GFLOP/s): allow that rounding.
        assert!(
            (ms[2] - arithmetic).abs() <= 0.005 + arithmetic * 0.06 / gemm,
            "{row}: arithmetic {arithmetic} ms at {gemm} GFLOP/s"
        );
        assert!(
            (ratios[3] - ms[1] / ms[2]).abs() <= 0.006 + ratios[3] * (0.05 / ms[1] + 0.005 / ms[2]),
            "{row}: {ms:?}"
        );
    }
    // Run-style iterations (fresh batches, the trainer) next to the fixed batch, for every
    // kind and thread count: both times, their ratio (checked against the two times), the
    // session's mean and the share spent waiting.
    let run_style = out.split("run-style iterations").nth(1).expect(&out);
    for threads in ["1", "2"] {
        for kind in ["rate", "lstm", "gru"] {
            let row = run_style
                .lines()
                .find(|l| l.split_whitespace().take(3).eq([threads, kind, "8"]))
                .expect(run_style);
            let ms: Vec<f64> = row
                .split(" ms")
                .filter_map(|p| p.split_whitespace().last()?.parse().ok())
                .collect();
            let ratio: f64 = row
                .split_whitespace()
                .find_map(|w| w.strip_suffix('x'))
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(ms.len(), 3, "{row}");
            // The times are printed to 0.1 ms: the ratio of the printed times may be off by
            // that rounding.
            let rounding = ratio * (0.05 / ms[0] + 0.05 / ms[1]);
            assert!(
                (ratio - ms[1] / ms[0]).abs() <= 0.006 + rounding,
                "{row}: {ms:?}"
            );
            assert!(row.ends_with('%'), "{row}");
        }
    }
    // Peak memory grows by the same amount per step × trial × unit from 100 to 200 steps as
    // from 200 to 400.
    let factor: f64 = out
        .split("differ by a factor ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect(&out)
        .parse()
        .unwrap();
    assert!((1.0..1.1).contains(&factor), "{factor}");
    // The live heap does not grow from iteration 10 to 200.
    let growth: i64 = out
        .split("after 200 ")
        .nth(1)
        .and_then(|s| s.split('(').nth(1))
        .and_then(|s| s.split_whitespace().next())
        .expect(&out)
        .parse()
        .unwrap();
    assert!(growth.abs() < 64 * 1024, "{growth} bytes");
}
