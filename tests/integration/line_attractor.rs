//! Mante et al. 2013's analyses through the CLI: the targeted dimensionality reduction in
//! `analysis.yaml` and `psychrnn fixedpoints --line-attractor`'s `slow_points.yaml`, read back
//! and checked against computations written here from trials.npz and weights.npz.

use crate::harness::{code, npz, psychrnn, stderr, stdout, TempDir};

use psychrnn::run_dir::RunDir;
use psychrnn::trials_file::TrialRecord;

/// A tiny context-dependent integration run (the bundled script, shrunk), tested.
fn tiny_cdi(tmp: &TempDir) -> std::path::PathBuf {
    let dir = tmp.join("run");
    let o = psychrnn(&[
        "run",
        "scripts/context_dependent_integration.rhai",
        "--quiet",
        "--out",
        dir.to_str().unwrap(),
        "--set",
        "model.n_rec=12",
        "--set",
        "train.iterations=20",
        "--set",
        "train.batch_size=16",
        "--set",
        "train.test_trials=160",
    ]);
    stdout(&o);
    dir
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn tdr_axes_and_slow_points_in_the_bundle_match_independent_computations() {
    let tmp = TempDir::new("line-attractor");
    let dir = tiny_cdi(&tmp);
    let o = psychrnn(&[
        "fixedpoints",
        dir.to_str().unwrap(),
        "--line-attractor",
        "--starts",
        "30",
        "--slow-q",
        "1e-4",
    ]);
    let out = stdout(&o);
    assert!(
        out.contains("context motion: ") && out.contains("context colour: "),
        "{out}"
    );
    assert!(out.contains("drawn on the regression-axes figure"), "{out}");
    let run = RunDir::new(&dir);
    let analysis = run.read_analysis().unwrap().unwrap();
    let tdr = analysis
        .tdr
        .expect("report.tdr is set in the bundled script");
    assert_eq!(
        tdr.axes,
        ["choice", "motion_coherence", "colour_coherence", "context"]
    );
    let trials = TrialRecord::read(&run.trials()).unwrap();
    let (b, t, n) = (trials.n_trials, trials.n_steps, trials.n_rec);
    // Orthonormal axes.
    for (i, a) in tdr.axis_vectors.iter().enumerate() {
        assert_eq!(a.len(), n);
        for (j, c) in tdr.axis_vectors.iter().enumerate() {
            assert!((dot(a, c) - f64::from(u8::from(i == j))).abs() < 1e-9);
        }
    }
    assert!(tdr
        .explained_variance
        .iter()
        .all(|v| (0.0..=1.0).contains(v)));
    assert!(tdr.explained_variance.iter().sum::<f64>() <= 1.0 + 1e-9);
    // One trajectory, recomputed: z-score every unit over all trials and steps, average the
    // group's correct trials, project.
    let rate = |k: usize, s: usize, i: usize| f64::from(trials.rates[(k * t + s) * n + i]);
    let mut mean = vec![0.0; n];
    let mut sd = vec![0.0; n];
    for i in 0..n {
        let vals: Vec<f64> = (0..b * t)
            .map(|r| f64::from(trials.rates[r * n + i]))
            .collect();
        mean[i] = vals.iter().sum::<f64>() / vals.len() as f64;
        sd[i] =
            (vals.iter().map(|v| (v - mean[i]).powi(2)).sum::<f64>() / vals.len() as f64).sqrt();
    }
    let traj = tdr
        .trajectories
        .iter()
        .find(|x| x.sorted_by == "colour")
        .unwrap();
    let context_code = trials.labels["context"]
        .iter()
        .position(|l| *l == traj.context)
        .unwrap() as f64;
    let members: Vec<usize> = (0..b)
        .filter(|&k| {
            trials.conditions["context"][k] == context_code
                && trials.conditions["choice"][k] == traj.choice
                && trials.conditions["colour_coherence"][k] == traj.evidence
                && (!tdr.correct_only || trials.correct.as_ref().unwrap()[k])
        })
        .collect();
    assert_eq!(members.len(), traj.trials);
    let s = t - 1;
    let z: Vec<f64> = (0..n)
        .map(|i| {
            let m = members.iter().map(|&k| rate(k, s, i)).sum::<f64>() / members.len() as f64;
            if sd[i] > 1e-7 * mean[i].abs() {
                (m - mean[i]) / sd[i]
            } else {
                0.0
            }
        })
        .collect();
    for (v, axis) in tdr.axis_vectors.iter().enumerate() {
        assert!(
            (traj.coordinates[s][v] - dot(axis, &z)).abs() < 1e-6,
            "axis {v}"
        );
    }

    // Slow points: q and the selection vector recomputed from weights.npz.
    let w = npz(&run.weights());
    let (w_rec, w_in, b_rec) = (&w["W_rec"].1, &w["W_in"].1, &w["b_rec"].1);
    let n_in = w["W_in"].0[1];
    let alpha = trials.dt / trials.tau.unwrap_or(100.0);
    let relu = |x: f64| x.max(0.0);
    let slow = run.read_slow_points().unwrap().unwrap();
    assert_eq!(slow.contexts.len(), 2);
    let mut checked = 0;
    let epochs = trials.epochs.as_ref().expect("the task names its epochs");
    let (stimulus, columns) = (epochs.column("stimulus").unwrap(), epochs.names.len());
    for c in &slow.contexts {
        assert_eq!(c.starts, 30);
        assert_eq!(c.input.len(), n_in);
        // The span of the choice axis over this context's stimulus-epoch states, recomputed.
        let context_code = trials.labels["context"]
            .iter()
            .position(|l| *l == c.context)
            .unwrap() as f64;
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        let mut steps = 0;
        for k in (0..b).filter(|&k| trials.conditions["context"][k] == context_code) {
            let (from, to) = (
                epochs.start[k * columns + stimulus],
                epochs.end[k * columns + stimulus],
            );
            for s in from as usize..to as usize {
                let z: Vec<f64> = (0..n)
                    .map(|i| {
                        if sd[i] > 1e-7 * mean[i].abs() {
                            (rate(k, s, i) - mean[i]) / sd[i]
                        } else {
                            0.0
                        }
                    })
                    .collect();
                let x = dot(&tdr.axis_vectors[0], &z);
                lo = lo.min(x);
                hi = hi.max(x);
                steps += 1;
            }
        }
        assert!(steps > 0);
        assert!(
            (c.stimulus_choice_range - (hi - lo)).abs() < 1e-6 * (hi - lo).max(1.0),
            "stimulus-epoch choice range {} vs {}",
            c.stimulus_choice_range,
            hi - lo
        );
        assert!(c.stimulus_choice_range <= c.choice_axis_range + 1e-9);
        // The zero-evidence input: fixation on, each evidence pair at 0.5, the context's cue.
        let cue = if c.context == "motion" {
            [1.0, 0.0]
        } else {
            [0.0, 1.0]
        };
        let want = [1.0, 0.5, 0.5, 0.5, 0.5, cue[0], cue[1]];
        for (g, w) in c.input.iter().zip(want) {
            assert!((g - w).abs() < 0.02, "{:?}", c.input);
        }
        for p in &c.points {
            let h: Vec<f64> = (0..n)
                .map(|i| {
                    b_rec[i]
                        + (0..n)
                            .map(|j| w_rec[i * n + j] * relu(p.state[j]))
                            .sum::<f64>()
                        + (0..n_in)
                            .map(|k| w_in[i * n_in + k] * c.input[k])
                            .sum::<f64>()
                })
                .collect();
            let q = 0.5
                * (0..n)
                    .map(|i| (alpha * (h[i] - p.state[i])).powi(2))
                    .sum::<f64>();
            assert!((q - p.q).abs() <= 1e-6 * q.max(1e-12), "q {} vs {q}", p.q);
            assert!(p.q < slow.slow_q);
            // lᵀ J = λ lᵀ with J = (1 − α) I + α W_rec diag(relu′(x)), for a real λ.
            let (lam, im) = p.slowest_eigenvalue;
            if im == 0.0 {
                for j in 0..n {
                    let d = if p.state[j] > 0.0 { 1.0 } else { 0.0 };
                    let lj: f64 = (1.0 - alpha) * p.left[j]
                        + alpha * d * (0..n).map(|i| p.left[i] * w_rec[i * n + j]).sum::<f64>();
                    assert!(
                        (lj - lam * p.left[j]).abs() < 1e-6,
                        "left eigenvector residual"
                    );
                }
                checked += 1;
            }
            assert!((p.slowest_continuous.unwrap().0 - (lam - 1.0) / alpha).abs() < 1e-9);
            assert!((0.0..=1.0 + 1e-12).contains(&p.left_motion_cos));
        }
    }
    assert!(
        checked > 0,
        "no slow point with a real slowest eigenvalue: {slow:?}"
    );
    // The report drew the figure.
    assert!(dir.join("report/tdr.png").exists());
}

#[test]
fn tdr_settings_are_checked_before_training_and_line_attractor_needs_them() {
    let tmp = TempDir::new("tdr-settings");
    let script = tmp.write(
        "cdi.rhai",
        r#"import "psychrnn/tasks" as tasks;
experiment(#{
    task: tasks::context_dependent_integration(#{ dt: 20.0 }),
    report: #{ tdr: #{ choice: "choise", motion: "motion_coherence", colour: "colour_coherence", context: "context" } },
});
"#,
    );
    let o = psychrnn(&["check", script.to_str().unwrap()]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("report.tdr.choice")
            && err.contains("no condition `choise`")
            && err.contains("colour_coherence, context, context_index"),
        "{err}"
    );
    // A run without report.tdr: --line-attractor says what to set.
    let dir = tmp.join("run");
    stdout(&psychrnn(&[
        "run",
        "scripts/perceptual_discrimination.rhai",
        "--quiet",
        "--out",
        dir.to_str().unwrap(),
        "--set",
        "model.n_rec=6",
        "--set",
        "train.iterations=5",
        "--set",
        "train.batch_size=8",
        "--set",
        "train.test_trials=16",
    ]));
    let o = psychrnn(&["fixedpoints", dir.to_str().unwrap(), "--line-attractor"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--line-attractor needs report.tdr"),
        "{}",
        stderr(&o)
    );
}
