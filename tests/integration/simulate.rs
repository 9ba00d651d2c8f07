//! `psychrnn simulate`: a trained network on fresh trials, with perturbations, checked against
//! a plain re-simulation from the saved weights.

use crate::harness::{psychrnn, TempDir};

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};

/// Every numeric array of an `.npz`, as (shape, values in f32: the files hold f32 states and
/// weights and small integers, so nothing is rounded).
fn npz(path: &Path) -> HashMap<String, (Vec<usize>, Vec<f32>)> {
    crate::harness::npz(path)
        .into_iter()
        .map(|(k, (dims, v))| (k, (dims, v.into_iter().map(|x| x as f32).collect())))
        .collect()
}

/// PsychRNN's equations from weights.npz (effective weights) for inputs [B, T, N_in],
/// relu, α = 0.1, no noise. Returns states [B, T, N].
fn resimulate(
    w: &HashMap<String, (Vec<usize>, Vec<f32>)>,
    inputs: &[f32],
    b: usize,
    t: usize,
    cut: Option<(usize, usize)>,
) -> Vec<f32> {
    let n = w["W_rec"].0[0];
    let n_in = w["W_in"].0[1];
    let mut w_rec = w["W_rec"].1.clone();
    if let Some((from, to)) = cut {
        w_rec[to * n + from] = 0.0;
    }
    let mut out = vec![0.0; b * t * n];
    for trial in 0..b {
        let mut x: Vec<f64> = w["init_state"].1.iter().map(|&v| v as f64).collect();
        for step in 0..t {
            let r: Vec<f64> = x.iter().map(|v| v.max(0.0)).collect();
            let u = &inputs[(trial * t + step) * n_in..(trial * t + step + 1) * n_in];
            x = (0..n)
                .map(|i| {
                    let mut d = w["b_rec"].1[i] as f64;
                    d += (0..n).map(|j| w_rec[i * n + j] as f64 * r[j]).sum::<f64>();
                    d += (0..n_in)
                        .map(|k| w["W_in"].1[i * n_in + k] as f64 * u[k] as f64)
                        .sum::<f64>();
                    0.9 * x[i] + 0.1 * d
                })
                .collect();
            for i in 0..n {
                out[(trial * t + step) * n + i] = x[i] as f32;
            }
        }
    }
    out
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn simulate_matches_a_plain_resimulation_with_and_without_perturbations() {
    let dir = TempDir::new("simulate");
    let run: PathBuf = dir.join("run");
    let run_s = run.to_str().unwrap();
    let o = psychrnn(&[
        "run",
        "scripts/perceptual_discrimination.rhai",
        "--out",
        run_s,
        "--quiet",
        "--set",
        "model.n_rec=6",
        "--set",
        "train.iterations=3",
        "--set",
        "train.batch_size=8",
        "--set",
        "train.eval_trials=8",
        "--set",
        "train.test_trials=8",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let weights = npz(&run.join("weights.npz"));

    let plain = dir.join("plain.npz");
    let o = psychrnn(&["simulate", run_s, "-n", "5", "-o", plain.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("5 trials simulated, accuracy"));
    let sim = npz(&plain);
    assert_eq!(sim["inputs"].0, [5, 200, 2]);
    assert_eq!(sim["states"].0, [5, 200, 6]);
    assert_eq!(sim["condition_coherence"].0, [5]);
    assert!(sim["condition_coherence"]
        .1
        .iter()
        .all(|c| [0.1f32, 0.3, 0.5, 0.7].iter().any(|v| (v - c).abs() < 1e-6)));
    let reference = resimulate(&weights, &sim["inputs"].1, 5, 200, None);
    assert!(
        max_diff(&sim["states"].1, &reference) < 1e-4,
        "states differ by {}",
        max_diff(&sim["states"].1, &reference)
    );
    let relu: Vec<f32> = sim["states"].1.iter().map(|v| v.max(0.0)).collect();
    assert_eq!(sim["rates"].1, relu);

    let cut = dir.join("cut.npz");
    assert!(psychrnn(&[
        "simulate",
        run_s,
        "-n",
        "5",
        "--cut",
        "2:4",
        "-o",
        cut.to_str().unwrap()
    ])
    .status
    .success());
    let cut_sim = npz(&cut);
    let reference = resimulate(&weights, &cut_sim["inputs"].1, 5, 200, Some((2, 4)));
    assert!(max_diff(&cut_sim["states"].1, &reference) < 1e-4);
    assert!(
        max_diff(&cut_sim["states"].1, &sim["states"].1) > 1e-6,
        "cutting a connection must change something"
    );

    // A per-step mask that removes the same connection at every step equals --cut.
    let mut mask = vec![1.0f32; 200 * 36];
    for step in 0..200 {
        mask[step * 36 + 4 * 6 + 2] = 0.0;
    }
    let mask_file = dir.join("mask.npz");
    Tensor::write_npz(
        &[(
            "connectivity",
            Tensor::from_vec(mask, (200, 6, 6), &Device::Cpu).unwrap(),
        )],
        &mask_file,
    )
    .unwrap();
    let masked = dir.join("masked.npz");
    let o = psychrnn(&[
        "simulate",
        run_s,
        "-n",
        "5",
        "--connectivity",
        mask_file.to_str().unwrap(),
        "-o",
        masked.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(max_diff(&npz(&masked)["states"].1, &cut_sim["states"].1) < 1e-6);

    // Silencing every unit leaves only the output bias.
    let silent = dir.join("silent.npz");
    assert!(psychrnn(&[
        "simulate",
        run_s,
        "-n",
        "2",
        "--silence",
        "0-5",
        "-o",
        silent.to_str().unwrap()
    ])
    .status
    .success());
    let b_out = &weights["b_out"].1;
    for (k, y) in npz(&silent)["outputs"].1.iter().enumerate() {
        assert!((y - b_out[k % 2]).abs() < 1e-6);
    }

    let o = psychrnn(&["simulate", run_s, "--silence", "4-9"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--silence `4-9`: units are 0..5"));
}

/// `simulate --inputs FILE` runs the network on the file's inputs (PsychRNN's
/// `run_trials(trial_input)`): fed a simulation's own inputs, targets and mask, it gives that
/// simulation's states and outputs, unscored; inputs that do not fit are refused, naming
/// what is wrong.
#[test]
fn simulate_runs_given_inputs_and_refuses_ones_that_do_not_fit() {
    let dir = TempDir::new("simulate-inputs");
    let run = dir.join("run");
    let run_s = run.to_str().unwrap();
    let o = psychrnn(&[
        "run",
        "scripts/perceptual_discrimination.rhai",
        "--out",
        run_s,
        "--quiet",
        "--set",
        "model.n_rec=6",
        "--set",
        "train.iterations=3",
        "--set",
        "train.batch_size=8",
        "--set",
        "train.eval_trials=8",
        "--set",
        "train.test_trials=8",
        "--set",
        "report.enabled=false",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let fresh = dir.join("fresh.npz");
    let o = psychrnn(&[
        "simulate",
        run_s,
        "-n",
        "4",
        "--noise",
        "0",
        "-o",
        fresh.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let again = dir.join("again.npz");
    let o = psychrnn(&[
        "simulate",
        run_s,
        "--inputs",
        fresh.to_str().unwrap(),
        "--noise",
        "0",
        "-o",
        again.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("4 given trials simulated (not scored)"));
    let (a, b) = (npz(&fresh), npz(&again));
    for key in ["inputs", "targets", "mask"] {
        assert_eq!(a[key], b[key], "{key}");
    }
    for key in ["states", "outputs"] {
        assert_eq!(a[key].0, b[key].0);
        assert!(max_diff(&a[key].1, &b[key].1) < 1e-6, "{key}");
    }
    assert!(!b.contains_key("correct"), "given trials are not scored");

    let wrong = dir.join("wrong.npz");
    let t = Tensor::zeros((2, 10, 3), candle_core::DType::F32, &Device::Cpu).unwrap();
    Tensor::write_npz(&[("inputs", &t)], &wrong).unwrap();
    let o = psychrnn(&["simulate", run_s, "--inputs", wrong.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr).trim(),
        format!(
            "error: --inputs {}: `inputs` has shape [2, 10, 3], expected [trials, steps, 2] with at least 1 trial and 1 to 100000 steps",
            wrong.display()
        )
    );
    let o = psychrnn(&[
        "simulate",
        run_s,
        "--inputs",
        wrong.to_str().unwrap(),
        "-n",
        "3",
    ]);
    assert_eq!(o.status.code(), Some(2), "--inputs with -n is refused");
}
