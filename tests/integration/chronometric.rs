//! Reaction times read from a trained run's own outputs: only the choice outputs count (a
//! fixation output, high from the start, would make every reaction time 0 ms), checked
//! against trials.npz by a computation written here, and report choice channels by name.

use crate::harness::{npz, psychrnn, stderr, TempDir};
use psychrnn::run_dir::RunDir;

#[test]
fn reaction_times_come_from_the_choice_outputs_of_the_saved_trials() {
    let tmp = TempDir::new("chronometric");
    let dir = tmp.join("run");
    let o = psychrnn(&[
        "run",
        "scripts/reaction_time_discrimination.rhai",
        "--quiet",
        "--out",
        dir.to_str().unwrap(),
        "--set",
        "model.n_rec=16",
        "--set",
        "train.iterations=40",
        "--set",
        "train.test_trials=64",
        "--set",
        "report.reaction_time_threshold=0.3",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let analysis = RunDir::new(&dir).read_analysis().unwrap().unwrap();
    let chrono = analysis.chronometric.expect("a chronometric section");
    assert_eq!(chrono.channels, ["choice_0", "choice_1"]);

    // Independently, from trials.npz: outputs [B, T, 3] = (fixation, choice_0, choice_1).
    let trials = npz(&dir.join("trials.npz"));
    let (shape, out) = &trials["outputs"];
    let (b, t, n_out) = (shape[0], shape[1], shape[2]);
    assert_eq!(n_out, 3);
    let dt = trials["dt"].1[0];
    let onset = &trials["condition_fixation_duration"].1;
    let coherence = &trials["condition_coherence"].1;
    let direction = &trials["condition_direction"].1;
    let mut by_x: Vec<(f64, Vec<f64>, usize)> = Vec::new();
    for i in 0..b {
        let first = (0..t).find(|&s| {
            s as f64 * dt >= onset[i] && (1..3).any(|c| out[(i * t + s) * n_out + c] >= 0.3)
        });
        let x = if direction[i] == 0.0 {
            -coherence[i] + 0.0
        } else {
            coherence[i]
        };
        let k = match by_x.iter().position(|(v, _, _)| *v == x) {
            Some(k) => k,
            None => {
                by_x.push((x, vec![], 0));
                by_x.len() - 1
            }
        };
        match first {
            Some(s) => by_x[k].1.push(s as f64 * dt - onset[i]),
            None => by_x[k].2 += 1,
        }
    }
    by_x.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert_eq!(chrono.points.len(), by_x.len());
    for (p, (x, rts, silent)) in chrono.points.iter().zip(&by_x) {
        assert_eq!((p.value, p.n, p.no_response), (*x, rts.len(), *silent));
        let mean = (!rts.is_empty()).then(|| rts.iter().sum::<f64>() / rts.len() as f64);
        match (p.mean_rt, mean) {
            (Some(a), Some(b)) => assert!((a - b).abs() < 1e-9, "x = {x}: {a} vs {b}"),
            (a, b) => assert_eq!(a, b, "x = {x}"),
        }
    }
    assert_eq!(
        chrono.responded,
        by_x.iter().map(|(_, r, _)| r.len()).sum::<usize>()
    );
    // The fixation output starts high: counting it, nearly every reaction time would be 0.
    let responded: Vec<f64> = by_x.iter().flat_map(|(_, r, _)| r.clone()).collect();
    assert!(
        responded.iter().any(|&r| r > 0.0),
        "some reaction time is after the onset: {responded:?}"
    );
}

#[test]
fn a_report_channel_named_wrongly_is_refused_with_the_outputs_listed() {
    let o = psychrnn(&[
        "check",
        "scripts/reaction_time_discrimination.rhai",
        "--set",
        "report.choice_channels=[\"choice_0\", \"fixation\"]",
        "--set",
        "report.choice_channel=choice_1",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("config field `report.choice_channel`: is 2 (choice_1), which is not among report.choice_channels (1 = choice_0, 0 = fixation): the curve would count a choice that is never made"),
        "{}",
        stderr(&o)
    );
    let o = psychrnn(&[
        "check",
        "scripts/reaction_time_discrimination.rhai",
        "--set",
        "report.choice_channel=choice_1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}
