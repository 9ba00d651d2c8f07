//! The classic results' analyses on tiny trained networks: go/no-go d′, produced intervals
//! (ready-set-go), the psychometric matrix (Romo) and task variance (Yang), each recomputed
//! here from the run's trials.npz by a direct loop and compared with analysis.yaml.

use crate::harness::{psychrnn, stderr, stdout, TempDir};

use psychrnn::run_dir::{AnalysisFile, RunDir};
use psychrnn::trials_file::TrialRecord;

/// Trains `script` from scripts/ with `sets` (tiny sizes) into a fresh folder; returns the
/// folder, the analysis and the test trials.
fn run(script: &str, sets: &[&str]) -> (TempDir, AnalysisFile, TrialRecord) {
    let dir = TempDir::new("classic");
    let out = dir.join("run");
    let path = crate::harness::repo().join("scripts").join(script);
    let mut args = vec![
        "run",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "-q",
    ];
    for s in sets {
        args.push("--set");
        args.push(s);
    }
    let o = psychrnn(&args);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let run = RunDir::new(&out);
    let analysis = run.read_analysis().unwrap().expect("analysis.yaml");
    let trials = TrialRecord::read(&run.trials()).unwrap();
    (dir, analysis, trials)
}

fn out(t: &TrialRecord, i: usize, step: usize, channel: usize) -> f64 {
    f64::from(t.outputs[(i * t.n_steps + step) * t.n_out + channel])
}

/// (start, end) of trial i's first epoch called `name`.
fn epoch(t: &TrialRecord, i: usize, name: &str) -> (usize, usize) {
    let e = t.epochs.as_ref().unwrap();
    let c = e.column(name).unwrap();
    let k = i * e.n_columns() + c;
    (e.start[k] as usize, e.end[k] as usize)
}

/// Φ⁻¹ by bisection on the error function's series (independent of the library's rational
/// approximation).
fn probit(p: f64) -> f64 {
    let phi = |x: f64| {
        // Φ(x) = ½ + φ(x)·Σ x^(2k+1)/(1·3·…·(2k+1)) (Marsaglia 2004).
        let (mut term, mut sum) = (x, x);
        for k in 1..200 {
            term *= x * x / (2 * k + 1) as f64;
            sum += term;
        }
        0.5 + sum * (-x * x / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt()
    };
    let (mut lo, mut hi) = (-10.0, 10.0);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if phi(mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

#[test]
fn go_nogo_rates_and_d_prime_match_the_trials() {
    let (_dir, a, t) = run(
        "go_nogo.rhai",
        &[
            "train.iterations=30",
            "model.n_rec=16",
            "train.stop_at_accuracy=null",
        ],
    );
    let g = a.go_nogo.expect("go_nogo section");
    let r = t.output_names.iter().position(|n| n == "response").unwrap();
    let (mut hits, mut go, mut fas, mut nogo) = (0, 0, 0, 0);
    for i in 0..t.n_trials {
        let (s, e) = epoch(&t, i, "response");
        let responded = (s..e).any(|step| out(&t, i, step, r) > 0.5);
        if t.conditions["go_trial"][i] == 1.0 {
            go += 1;
            hits += usize::from(responded);
        } else {
            nogo += 1;
            fas += usize::from(responded);
        }
    }
    assert_eq!(
        (g.go_trials, g.hits, g.nogo_trials, g.false_alarms),
        (go, hits, nogo, fas)
    );
    assert_eq!(g.hit_rate, Some(hits as f64 / go as f64));
    assert_eq!(g.false_alarm_rate, Some(fas as f64 / nogo as f64));
    let rate = |k: usize, n: usize| (k as f64 + 0.5) / (n as f64 + 1.0);
    let want = probit(rate(hits, go)) - probit(rate(fas, nogo));
    assert!((g.d_prime - want).abs() < 1e-6, "{} vs {want}", g.d_prime);
}

#[test]
fn produced_intervals_and_their_regression_match_the_trials() {
    let (dir, a, t) = run(
        "ready_set_go.rhai",
        &[
            "train.iterations=100",
            "model.n_rec=64",
            // Without the script's noise 100 iterations already give crossings to fit.
            "model.rec_noise=0",
            "train.stop_at_accuracy=null",
        ],
    );
    let timing = a.interval_timing.expect("interval_timing section");
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for i in 0..t.n_trials {
        let (set, _) = epoch(&t, i, "set");
        if let Some(step) = (set..t.n_steps).find(|&s| out(&t, i, s, 0) > 0.5) {
            x.push(t.conditions["produce"][i]);
            y.push((step - set) as f64 * t.dt);
        }
    }
    assert_eq!(timing.responded, x.len());
    assert!(
        x.len() >= 3,
        "too few crossings to test the fit: {}",
        x.len()
    );
    // Normal equations solved directly: [n Σx; Σx Σx²] [a b]ᵀ = [Σy Σxy]ᵀ.
    let n = x.len() as f64;
    let (sx, sy) = (x.iter().sum::<f64>(), y.iter().sum::<f64>());
    let sxx: f64 = x.iter().map(|v| v * v).sum();
    let sxy: f64 = x.iter().zip(&y).map(|(a, b)| a * b).sum();
    let det = n * sxx - sx * sx;
    let slope = (n * sxy - sx * sy) / det;
    let intercept = (sxx * sy - sx * sxy) / det;
    assert!(
        (timing.slope - slope).abs() < 1e-9 * slope.abs().max(1.0),
        "{} vs {slope}",
        timing.slope
    );
    assert!((timing.intercept - intercept).abs() < 1e-6 * intercept.abs().max(1.0));
    let bias = y.iter().zip(&x).map(|(p, q)| p - q).sum::<f64>() / n;
    assert!((timing.mean_bias - bias).abs() < 1e-9 * bias.abs().max(1.0));
    assert!(timing.slope_ci95.0 < timing.slope && timing.slope < timing.slope_ci95.1);
    assert!(dir.join("run/report/interval_timing.png").exists());
}

#[test]
fn the_psychometric_matrix_matches_the_trials() {
    let (dir, a, t) = run(
        "romo_discrimination.rhai",
        &[
            "train.iterations=20",
            "model.n_rec=16",
            "train.stop_at_accuracy=null",
        ],
    );
    let m = a.psychometric_matrix.expect("psychometric_matrix section");
    assert_eq!(m.choice, "f1_greater");
    let total: usize = m.cells.iter().map(|c| c.trials).sum();
    assert_eq!(total, t.n_trials);
    for cell in &m.cells {
        let (mut n, mut chose) = (0, 0);
        for i in 0..t.n_trials {
            if t.conditions["f1"][i] != cell.x || t.conditions["f2"][i] != cell.y {
                continue;
            }
            n += 1;
            // The choice: the larger mask-weighted mean of the two outputs (first on ties).
            let mean = |c: usize| -> f64 {
                (0..t.n_steps)
                    .map(|s| {
                        out(&t, i, s, c) * f64::from(t.mask[(i * t.n_steps + s) * t.n_out + c])
                    })
                    .sum()
            };
            chose += usize::from(mean(0) >= mean(1));
        }
        assert_eq!(cell.trials, n);
        assert_eq!(cell.p_choice, chose as f64 / n as f64, "cell {cell:?}");
    }
    // Romo's pairs: f1 − f2 = ±8 Hz only.
    assert!(
        m.cells.iter().all(|c| (c.x - c.y).abs() == 8.0),
        "{:?}",
        m.cells
    );
    assert!(dir.join("run/report/psychometric_matrix.png").exists());
}

#[test]
fn task_variance_matches_a_direct_computation_and_clusters_partition_the_active_units() {
    let (dir, a, t) = run(
        "yang_multitask.rhai",
        &[
            "train.iterations=10",
            "model.n_rec=12",
            "train.eval_every=10",
            "train.eval_trials=64",
        ],
    );
    let v = a.task_variance.expect("task_variance section");
    assert_eq!(v.tasks.len(), 13);
    let labels = &t.labels["task"];
    let n = t.n_rec;
    for (k, task) in v.tasks.iter().enumerate() {
        let code = labels.iter().position(|l| l == task).unwrap() as f64;
        let members: Vec<usize> = (0..t.n_trials)
            .filter(|&i| t.conditions["task"][i] == code)
            .collect();
        assert_eq!(v.trials_per_task[k], members.len());
        let window = |i: usize| (epoch(&t, i, "fixation").1, epoch(&t, i, "response").1);
        let steps = members
            .iter()
            .map(|&i| window(i).1 - window(i).0)
            .min()
            .unwrap();
        for u in 0..n {
            let mut sum = 0.0;
            for s in 0..steps {
                let values: Vec<f64> = members
                    .iter()
                    .map(|&i| f64::from(t.rates[(i * t.n_steps + window(i).0 + s) * n + u]))
                    .collect();
                let mean = values.iter().sum::<f64>() / values.len() as f64;
                sum += values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / values.len() as f64;
            }
            let want = sum / steps as f64;
            let got = v.variance[u][k];
            assert!(
                (got - want).abs() <= 1e-9 * want.max(1e-12),
                "unit {u} task {task}: {got} vs {want}"
            );
        }
    }
    let mut clustered: Vec<usize> = v.clusters.iter().flat_map(|c| c.units.clone()).collect();
    clustered.sort();
    let active: Vec<usize> = (0..n)
        .filter(|&u| v.variance[u].iter().sum::<f64>() > v.threshold)
        .collect();
    assert_eq!(clustered, active);
    assert_eq!(v.clusters.len(), v.n_clusters);
    // The silhouette of the reported clusters, recomputed from the max-normalised variances
    // (scikit-learn's definition: a unit alone in its cluster scores 0).
    let normalised = |u: usize| -> Vec<f64> {
        let max = v.variance[u].iter().cloned().fold(0.0, f64::max);
        v.variance[u].iter().map(|x| x / max).collect()
    };
    let distance = |a: usize, b: usize| -> f64 {
        let (x, y) = (normalised(a), normalised(b));
        x.iter()
            .zip(&y)
            .map(|(p, q)| (p - q).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let mut total = 0.0;
    for (k, cluster) in v.clusters.iter().enumerate() {
        for &u in &cluster.units {
            if cluster.units.len() == 1 {
                continue;
            }
            let mean_to = |c: &psychrnn::run_dir::TaskCluster| {
                let others: Vec<usize> = c.units.iter().copied().filter(|&w| w != u).collect();
                others.iter().map(|&w| distance(u, w)).sum::<f64>() / others.len() as f64
            };
            let a_u = mean_to(cluster);
            let b_u = v
                .clusters
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != k)
                .map(|(_, c)| mean_to(c))
                .fold(f64::INFINITY, f64::min);
            total += (b_u - a_u) / a_u.max(b_u);
        }
    }
    let want = total / active.len() as f64;
    assert!(
        (v.silhouette - want).abs() < 1e-9,
        "{} vs {want}",
        v.silhouette
    );
    // Every number of clusters from 2 to min(29, units − 1) was tried; the chosen one scores
    // highest, and it is not the last tried unless the search could not go further.
    let tried: Vec<usize> = v
        .silhouette_by_clusters
        .iter()
        .map(|c| c.clusters)
        .collect();
    assert_eq!(tried, (2..=29.min(active.len() - 1)).collect::<Vec<_>>());
    let chosen = v
        .silhouette_by_clusters
        .iter()
        .find(|c| c.clusters == v.n_clusters)
        .unwrap();
    assert_eq!(chosen.silhouette, v.silhouette);
    assert!(v
        .silhouette_by_clusters
        .iter()
        .all(|c| c.silhouette <= v.silhouette));
    assert!(!v.at_search_limit);
    assert!(dir.join("run/report/task_variance.png").exists());
    assert!(dir.join("run/report/task_variance_silhouette.png").exists());
}

#[test]
fn a_cluster_count_at_the_end_of_the_search_is_reported_as_a_bound() {
    let (dir, a, _) = run(
        "yang_multitask.rhai",
        &[
            "train.iterations=2",
            "model.n_rec=12",
            "train.eval_every=2",
            "report.task_variance.max_clusters=2",
        ],
    );
    let v = a.task_variance.expect("task_variance section");
    // With only 2 clusters allowed the search ends where it starts: 2 is the limit.
    assert_eq!(v.n_clusters, 2);
    assert_eq!(v.silhouette_by_clusters.len(), 1);
    assert!(v.at_search_limit);
    let warning = "is largest at 2 clusters, the most tried, so the number of clusters is a bound, not a finding (raise report.task_variance.max_clusters";
    let summary = std::fs::read_to_string(dir.join("run/summary.yaml")).unwrap();
    assert!(summary.contains(warning), "{summary}");
    let html = std::fs::read_to_string(dir.join("run/report/index.html")).unwrap();
    assert!(html.contains(warning));
    // Fewer than 2 is refused before training, naming the field.
    let o = psychrnn(&[
        "check",
        crate::harness::repo()
            .join("scripts/yang_multitask.rhai")
            .to_str()
            .unwrap(),
        "--set",
        "report.task_variance.max_clusters=1",
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("report.task_variance.max_clusters")
            && stderr(&o).contains("must be at least 2"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn analysis_settings_that_name_what_the_task_lacks_are_refused_before_training() {
    let dir = TempDir::new("classic-settings");
    let script = |report: &str| {
        format!(
            "import \"psychrnn/tasks\" as tasks;\nexperiment(#{{ task: tasks::delayed_discrimination(#{{}}), train: #{{ iterations: 1 }}, report: {report} }});\n"
        )
    };
    let p = dir.write(
        "a.rhai",
        &script("#{ psychometric_matrix: #{ x: \"f1\", y: \"f2\", choice: \"f1_larger\" } }"),
    );
    let o = psychrnn(&["check", p.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("`report.psychometric_matrix.choice`: no output channel `f1_larger`; the outputs are: f1_greater, f1_smaller"),
        "{}",
        stderr(&o)
    );
    let p = dir.write(
        "b.rhai",
        &script("#{ psychometric_matrix: #{ x: \"f1\", y: \"freq2\", choice: \"f1_greater\" } }"),
    );
    let o = psychrnn(&["check", p.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("`report.psychometric_matrix.y`: no condition `freq2`"),
        "{}",
        stderr(&o)
    );
    let p = dir.write(
        "c.rhai",
        &script("#{ task_variance: #{ condition: \"rule\" } }"),
    );
    let o = psychrnn(&["check", p.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("`report.task_variance.condition`: no condition `rule`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn an_analysis_the_test_trials_cannot_give_is_left_out_with_why_and_the_report_still_drawn() {
    // 8 test trials over 13 tasks: some task has at most one trial, so no task variance.
    let (dir, a, _) = run(
        "yang_multitask.rhai",
        &[
            "train.iterations=2",
            "model.n_rec=8",
            "train.eval_every=2",
            "train.eval_trials=8",
            "train.test_trials=8",
        ],
    );
    assert!(a.task_variance.is_none());
    assert_eq!(a.omitted.len(), 1, "{:?}", a.omitted);
    assert!(
        a.omitted[0].starts_with("task variance: task `")
            && a.omitted[0].contains("task variance needs at least 2")
            && a.omitted[0].ends_with("the analysis is left out"),
        "{}",
        a.omitted[0]
    );
    let folder = dir.join("run");
    let summary = std::fs::read_to_string(folder.join("summary.yaml")).unwrap();
    assert!(summary.contains("task variance: task `"), "{summary}");
    let html = std::fs::read_to_string(folder.join("report/index.html")).unwrap();
    assert!(html.contains("task variance needs at least 2"));
    assert!(folder.join("report/trials.png").is_file());

    // An untrained ready-set-go network never crosses the threshold: no line, and why.
    let (_dir, a, _) = run(
        "ready_set_go.rhai",
        &[
            "train.iterations=0",
            "model.n_rec=8",
            "train.test_trials=16",
        ],
    );
    assert!(a.interval_timing.is_none());
    let note = a
        .omitted
        .iter()
        .find(|n| n.starts_with("interval timing: "))
        .unwrap_or_else(|| panic!("{:?}", a.omitted));
    assert!(
        note.contains("of 16 test trials crossed 0.5 on `go` after `set`")
            && note.contains("needs at least 3 responses at 2 or more targets"),
        "{note}"
    );
}
