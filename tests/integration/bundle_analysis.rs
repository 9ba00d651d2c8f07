//! The analysis as data: `analysis.yaml` and `analysis.npz` written by the report, honest
//! psychometric fits (standard errors, separable data flagged) and fixed points merged
//! relative to the state's scale.

use crate::harness::{npz, psychrnn, stderr, stdout, TempDir};

use std::path::PathBuf;

use psychrnn::analysis::fixed_points::{
    find_fixed_points, FixedPointOptions, RateDynamics, DEFAULT_MERGE_TOLERANCE,
};
use psychrnn::analysis::psychometric::{fit_psychometric, Logistic, Separation};
use psychrnn::random::Rng;
use psychrnn::run_dir::{RunDir, FORMAT_VERSION};

/// Negative log-likelihood of `σ(b0 + b1 x)`, written directly in the original units.
fn nll(x: &[f64], y: &[bool], b0: f64, b1: f64) -> f64 {
    x.iter()
        .zip(y)
        .map(|(&xi, &yi)| {
            let p = 1.0 / (1.0 + (-(b0 + b1 * xi)).exp());
            -if yi { p.ln() } else { (1.0 - p).ln() }
        })
        .sum()
}

#[test]
fn standard_errors_match_the_inverse_of_a_finite_difference_hessian() {
    // 3000 synthetic choices from a known logistic (x in 0..40, like a coherence in %).
    let truth = Logistic {
        intercept: -1.2,
        slope: 0.08,
    };
    let mut rng = Rng::from_seed(17);
    let x: Vec<f64> = (0..3000).map(|_| 40.0 * rng.uniform()).collect();
    let y: Vec<bool> = x.iter().map(|&v| rng.uniform() < truth.p(v)).collect();
    let fit = fit_psychometric(&x, &y).unwrap();
    assert_eq!(fit.separation, Separation::Overlapping);
    assert_eq!(fit.trials, 3000);
    let (b0, b1) = (fit.logistic.intercept, fit.logistic.slope);

    // Central second differences of the NLL at the estimate, steps scaled to each parameter.
    let (h0, h1) = (1e-3, 1e-3 / 40.0);
    let f = |d0: f64, d1: f64| nll(&x, &y, b0 + d0, b1 + d1);
    let f00 = (f(h0, 0.0) - 2.0 * f(0.0, 0.0) + f(-h0, 0.0)) / (h0 * h0);
    let f11 = (f(0.0, h1) - 2.0 * f(0.0, 0.0) + f(0.0, -h1)) / (h1 * h1);
    let f01 = (f(h0, h1) - f(h0, -h1) - f(-h0, h1) + f(-h0, -h1)) / (4.0 * h0 * h1);
    let det = f00 * f11 - f01 * f01;
    let (se0, se1) = ((f11 / det).sqrt(), (f00 / det).sqrt());
    let (got0, got1) = (fit.intercept_se.unwrap(), fit.slope_se.unwrap());
    assert!(
        (got0 / se0 - 1.0).abs() < 1e-3,
        "intercept s.e. {got0} vs {se0}"
    );
    assert!(
        (got1 / se1 - 1.0).abs() < 1e-3,
        "slope s.e. {got1} vs {se1}"
    );
    // The estimate is the likelihood's maximum (the gradient vanishes there) ...
    let g1 = (f(0.0, h1) - f(0.0, -h1)) / (2.0 * h1);
    assert!(g1.abs() < 1e-2 * se1.recip(), "slope gradient {g1}");
    // ... and the truth lies within a few standard errors of it.
    assert!((b0 - truth.intercept).abs() < 4.0 * got0, "{b0} ± {got0}");
    assert!((b1 - truth.slope).abs() < 4.0 * got1, "{b1} ± {got1}");
}

#[test]
fn separable_choices_are_flagged_and_get_no_standard_errors() {
    // A network at 100 %: every negative x chooses false, every positive true.
    let x: Vec<f64> = [-0.7, -0.5, -0.3, -0.1, 0.1, 0.3, 0.5, 0.7]
        .iter()
        .cycle()
        .take(64)
        .copied()
        .collect();
    let y: Vec<bool> = x.iter().map(|&v| v > 0.0).collect();
    let fit = fit_psychometric(&x, &y).unwrap();
    assert_eq!(fit.separation, Separation::Separable);
    assert_eq!((fit.intercept_se, fit.slope_se), (None, None));
    assert!(fit.logistic.slope > 10.0, "{fit:?}");

    // One error at each of x = ±0.1: the choices overlap, the fit is an ordinary MLE.
    let mut noisy = y.clone();
    noisy[3] = true; // x = −0.1
    noisy[4] = false; // x = 0.1
    let fit = fit_psychometric(&x, &noisy).unwrap();
    assert_eq!(fit.separation, Separation::Overlapping);
    assert!(fit.slope_se.unwrap().is_finite() && fit.intercept_se.unwrap().is_finite());

    // All the same choice.
    let fit = fit_psychometric(&x, &vec![true; x.len()]).unwrap();
    assert_eq!(fit.separation, Separation::OneChoice);
    assert_eq!(fit.slope_se, None);
}

/// Positive root of x = 2 tanh(x), by bisection.
fn root_of_two_tanh() -> f64 {
    let (mut lo, mut hi) = (1.0_f64, 3.0_f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if 2.0 * mid.tanh() > mid {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

#[test]
fn a_network_with_three_fixed_points_gives_three_after_merging_many_hits() {
    // Unit 0 is bistable (x0 = 2 tanh x0: 0 and ±x*); units 1 and 2 follow it through
    // contractions (self weights 0.3 and 0.2 < 1), so each x0 fixes one (x1, x2):
    // exactly three fixed points. The nearest slow region (x0 ≈ ±0.88) has q ≈ 1.4e-3,
    // above the loose threshold used here.
    let w = [
        2.0, 0.0, 0.0, //
        0.5, 0.3, 0.0, //
        -0.4, 0.0, 0.2,
    ];
    let dynamics = RateDynamics {
        w_rec: &w,
        drive: &[0.0, 0.0, 0.0],
        alpha: &[0.1],
        transfer: f64::tanh,
        transfer_derivative: |x| 1.0 - x.tanh().powi(2),
    };
    let mut rng = Rng::from_seed(3);
    let starts: Vec<Vec<f64>> = (0..300)
        .map(|_| (0..3).map(|_| 3.0 * rng.normal()).collect())
        .collect();
    let options = FixedPointOptions {
        keep_q_below: 1e-4,
        ..FixedPointOptions::default()
    };
    let search = find_fixed_points(&dynamics, &starts, &options);
    assert_eq!(search.points.len(), 3, "{:?}", search.points);
    assert!(search.raw_hits > 250, "raw hits {}", search.raw_hits);
    assert_eq!(
        search.points.iter().map(|p| p.hits).sum::<usize>(),
        search.raw_hits
    );
    // The merge distance is the tolerance times the RMS norm of the starts.
    let rms = (starts
        .iter()
        .map(|s| s.iter().map(|v| v * v).sum::<f64>())
        .sum::<f64>()
        / starts.len() as f64)
        .sqrt();
    assert!((search.merge_distance - DEFAULT_MERGE_TOLERANCE * rms).abs() < 1e-12);
    // The three locations, independently: x0 from bisection, x1 and x2 by iterating their
    // contractions.
    let x_star = root_of_two_tanh();
    let mut got: Vec<f64> = search.points.iter().map(|p| p.x[0]).collect();
    got.sort_by(f64::total_cmp);
    for (g, want) in got.iter().zip([-x_star, 0.0, x_star]) {
        assert!((g - want).abs() < 1e-9, "{got:?}");
    }
    for p in &search.points {
        let (mut x1, mut x2) = (0.0_f64, 0.0_f64);
        for _ in 0..200 {
            x1 = 0.5 * p.x[0].tanh() + 0.3 * x1.tanh();
            x2 = -0.4 * p.x[0].tanh() + 0.2 * x2.tanh();
        }
        assert!(
            (p.x[1] - x1).abs() < 1e-9 && (p.x[2] - x2).abs() < 1e-9,
            "{p:?}"
        );
        // Stable at ±x*, a saddle at 0.
        assert_eq!(p.stable, p.x[0].abs() > 1.0, "{p:?}");
    }
}

/// A tiny trained run with `report.condition` set: its temporary folder and the run
/// directory in it.
fn tiny_run(name: &str) -> (TempDir, PathBuf) {
    let tmp = TempDir::new(&format!("analysis-{name}"));
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
        "train.iterations=30",
        "--set",
        "train.batch_size=16",
        "--set",
        "train.test_trials=96",
        "--set",
        "report.condition=coherence",
    ]);
    stdout(&o);
    (tmp, dir)
}

#[test]
fn a_run_writes_analysis_yaml_that_agrees_with_summary_and_its_arrays() {
    let (_tmp, dir) = tiny_run("yaml");
    let run = RunDir::new(&dir);
    let analysis = run.read_analysis().unwrap().expect("analysis.yaml written");
    let summary = run.read_summary().unwrap().expect("summary.yaml written");
    assert_eq!(analysis.format_version, FORMAT_VERSION);
    assert_eq!(analysis.test_trials, 96);
    assert_eq!(analysis.accuracy, summary.final_accuracy);

    // Accuracy per condition: exactly what summary.yaml says.
    let by = analysis.accuracy_by.as_ref().expect("accuracy_by");
    assert_eq!(by.condition, "coherence");
    assert_eq!(Some(by), summary.accuracy_by.as_ref());
    assert_eq!(by.groups.iter().map(|g| g.trials).sum::<usize>(), 96);

    // The psychometric fit: trials, the flag and its note agree, the points cover the trials.
    let psy = analysis.psychometric.as_ref().expect("psychometric");
    assert_eq!(psy.trials, 96);
    assert_eq!(psy.choice_name, "choice_1");
    assert_eq!(psy.separable, psy.slope_se.is_none());
    assert_eq!(psy.separable, psy.note.is_some());
    assert_eq!(psy.points.iter().map(|p| p.trials).sum::<usize>(), 96);
    assert!((psy.threshold + psy.intercept / psy.slope).abs() < 1e-12);
    let index = std::fs::read_to_string(dir.join("report/index.html")).unwrap();
    let caption = format!("logistic fit: threshold {:.3}", psy.threshold);
    assert!(index.contains(&caption), "{index}");
    if psy.separable {
        assert!(index.contains("(separable data: a lower bound)"), "{index}");
    } else {
        let se = format!("± {:.2} (s.e.)", psy.slope_se.unwrap());
        assert!(index.contains(&se), "{index}");
    }

    // PCA: ratios in decreasing order, the arrays orthonormal and the projection's shape.
    let pca = analysis.pca.as_ref().expect("pca");
    assert_eq!((pca.units, pca.observations), (8, 96 * 200));
    let ratio = &pca.explained_variance_ratio;
    assert_eq!(ratio.len(), 8);
    assert!(ratio.windows(2).all(|w| w[0] >= w[1]));
    assert!((ratio.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    let arrays = npz(&dir.join(&pca.arrays));
    let (shape, comps) = &arrays["pca_components"];
    assert_eq!(shape, &[8, 8]);
    for i in 0..8 {
        for j in 0..8 {
            let dot: f64 = (0..8).map(|u| comps[i * 8 + u] * comps[j * 8 + u]).sum();
            let want = if i == j { 1.0 } else { 0.0 };
            assert!((dot - want).abs() < 1e-9, "components {i}·{j} = {dot}");
        }
    }
    assert_eq!(arrays["pca_mean"].0, [8]);
    assert_eq!(pca.projected_by.as_deref(), Some("coherence"));
    let levels = arrays["pca_levels"].1.clone();
    assert_eq!(
        levels,
        by.groups
            .iter()
            .map(|g| g.value.to_string().parse::<f64>().unwrap())
            .collect::<Vec<_>>()
    );
    assert_eq!(arrays["pca_projection"].0, [levels.len(), 200, 8]);
    assert!(analysis.fixed_points.is_none());

    // fixedpoints adds what it found, raw hits and distinct points, to analysis.yaml.
    let r = dir.to_str().unwrap();
    let o = psychrnn(&["fixedpoints", r, "--starts", "12", "--keep-q-below", "1e-4"]);
    let out = stdout(&o);
    assert!(out.contains("distinct fixed or slow points"), "{out}");
    let fp = run.read_analysis().unwrap().unwrap().fixed_points.unwrap();
    let saved = npz(&dir.join("fixed_points.npz"));
    assert_eq!(fp.count, saved["x"].0[0]);
    assert_eq!(fp.points.len(), fp.count);
    assert_eq!(Some(saved["raw_hits"].1[0] as usize), fp.raw_hits);
    assert_eq!(
        fp.points.iter().map(|p| p.hits.unwrap()).sum::<usize>(),
        fp.raw_hits.unwrap()
    );
    assert!(out.contains(&format!("from {} hits of 12 starts", fp.raw_hits.unwrap())));
    assert!(fp
        .points
        .iter()
        .all(|p| p.state.len() == 8 && p.pc.is_some()));

    // A merge tolerance that is not a positive number is refused and nothing changes.
    let before = std::fs::read(run.analysis()).unwrap();
    let o = psychrnn(&["fixedpoints", r, "--merge-tolerance", "0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--merge-tolerance")
            && stderr(&o).contains("must be a finite number > 0"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(run.analysis()).unwrap(), before);
}

#[test]
fn a_text_condition_is_grouped_by_its_labels_as_in_summary_yaml() {
    let tmp = TempDir::new("analysis-text");
    let dir = tmp.join("run");
    let o = psychrnn(&[
        "run",
        "scripts/yang_multitask.rhai",
        "--quiet",
        "--out",
        dir.to_str().unwrap(),
        "--set",
        "model.n_rec=8",
        "--set",
        "train.iterations=2",
        "--set",
        "train.batch_size=8",
        "--set",
        // Enough for every one of the 13 tasks to get the 2 trials its task variance needs.
        "train.test_trials=200",
    ]);
    stdout(&o);
    let run = RunDir::new(&dir);
    let analysis = run.read_analysis().unwrap().unwrap();
    let summary = run.read_summary().unwrap().unwrap();
    let by = analysis.accuracy_by.expect("accuracy_by");
    assert_eq!(by.condition, "task");
    // Task names (text), not their codes in trials.npz.
    assert!(by
        .groups
        .iter()
        .all(|g| matches!(g.value, psychrnn::run_dir::ConditionLabel::Text(_))));
    assert_eq!(Some(&by), summary.accuracy_by.as_ref());
}
