//! Per-stage behaviour of a curriculum: the parameters each stage ended with are saved in the
//! run, run on the final test trials, and the report's per-stage psychometric curves come from
//! them. Checked against an independent run stopped where the first stage ended.

use crate::harness::{psychrnn, stderr, stdout, TempDir};

use psychrnn::run_dir::RunDir;
use psychrnn::trials_file::TrialRecord;

/// A stage name with the characters a file name or a CSV line would trip on.
const ODD_STAGE: &str = "coh: 0.7, «strong» <1>";

fn script(dir: &TempDir) -> std::path::PathBuf {
    dir.write(
        "staged.rhai",
        &format!(
            r#"
experiment(#{{
    task: #{{
        name: "pd", inputs: ["e0", "e1"], outputs: ["c0", "c1"],
        dt: 20.0, tau: 100.0, duration: 400.0, input_noise: 0.1,
        settings: #{{ coherences: [0.05, 0.1, 0.2, 0.4] }},
        params: |rng, s| #{{ coherence: rng.choice(s.coherences), direction: rng.int(0, 1) }},
        trial: |p| {{
            let x = [1.0, 1.0];
            x[p.direction] += p.coherence;
            let y = [0.2, 0.2];
            y[p.direction] = 1.0;
            [ #{{ name: "stimulus", duration: 200.0, input: x, mask: 0.0 }},
              #{{ name: "response", input: x, target: y }} ]
        }},
    }},
    curriculum: [
        #{{ name: "{ODD_STAGE}", settings: #{{ coherences: [0.4] }}, advance: #{{ accuracy: 0.0, consecutive: 2 }} }},
        #{{ name: "all" }},
    ],
    model: #{{ n_rec: 10 }},
    train: #{{ iterations: 40, batch_size: 16, eval_every: 10, eval_trials: 16, test_trials: 64 }},
    report: #{{ psychometric: "coherence", psychometric_sign: "direction" }},
}});
"#
        ),
    )
}

fn run(script: &std::path::Path, out: &std::path::Path, extra: &[&str]) {
    let mut args = vec![
        "run",
        script.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    stdout(&psychrnn(&args));
}

#[test]
fn each_stage_is_saved_run_on_the_test_trials_and_drawn_as_its_own_psychometric_curve() {
    let dir = TempDir::new("stages");
    let script = script(&dir);
    let full = dir.join("full");
    run(&script, &full, &[]);

    // The first stage ends at its second evaluation (iteration 20); only it is saved, as the
    // last stage's network is weights.npz.
    let run_dir = RunDir::new(&full);
    assert!(run_dir.stage_parameters(0).is_file());
    assert!(!run_dir.stage_parameters(1).exists());
    let record = TrialRecord::read(&run_dir.trials()).unwrap();
    let stages = record
        .stages
        .as_ref()
        .expect("stage behaviour in trials.npz");
    assert_eq!(
        stages.stages,
        [(ODD_STAGE.to_string(), 20), ("all".to_string(), 40)]
    );
    let len = record.n_trials * record.n_steps * record.n_out;
    assert_eq!(stages.outputs.len(), len);

    // Independently: the same run stopped at iteration 20 is the network stage 0 ended with,
    // tested on the same trials with the same noise.
    let short = dir.join("short");
    run(&script, &short, &["--set", "train.iterations=20"]);
    let short_record = TrialRecord::read(&RunDir::new(&short).trials()).unwrap();
    assert_eq!(short_record.inputs, record.inputs, "the same test trials");
    assert_eq!(stages.outputs_of(0, len), &short_record.outputs[..]);
    assert_ne!(stages.outputs_of(0, len), &record.outputs[..]);

    let analysis = run_dir.read_analysis().unwrap().expect("analysis.yaml");
    let short_analysis = RunDir::new(&short).read_analysis().unwrap().unwrap();
    let by_stage = analysis.stages.as_ref().expect("stages in analysis.yaml");
    assert_eq!(by_stage.len(), 2);
    assert_eq!(by_stage[0].stage, ODD_STAGE);
    assert_eq!(by_stage[0].ended_at_iteration, 20);
    assert_eq!(by_stage[0].accuracy, short_analysis.accuracy);
    assert_eq!(by_stage[0].psychometric, short_analysis.psychometric);
    assert_eq!(by_stage[1].psychometric, analysis.psychometric);
    assert_eq!(by_stage[1].accuracy, analysis.accuracy);
    // The fraction at each level is counted from the stage's outputs: the channel with the
    // larger sum over the scored (mask 1) steps, PsychRNN's rule.
    let psy = by_stage[0].psychometric.as_ref().unwrap();
    let out = stages.outputs_of(0, len);
    let (t, c) = (record.n_steps, record.n_out);
    for point in &psy.points {
        let (mut n, mut chose_1) = (0, 0);
        for i in 0..record.n_trials {
            let coherence = record.conditions["coherence"][i];
            let signed = if record.conditions["direction"][i] == 0.0 {
                -coherence + 0.0
            } else {
                coherence
            };
            if signed == point.x {
                n += 1;
                let sum = |channel: usize| -> f64 {
                    (0..t)
                        .map(|s| (i * t + s) * c + channel)
                        .map(|at| out[at] as f64 * record.mask[at] as f64)
                        .sum()
                };
                if sum(1) > sum(0) {
                    chose_1 += 1;
                }
            }
        }
        assert_eq!(n, point.trials, "level {}", point.x);
        assert_eq!(
            chose_1 as f64 / n as f64,
            point.p_choice,
            "level {}",
            point.x
        );
    }

    let html = std::fs::read_to_string(full.join("report/index.html")).unwrap();
    assert!(html.contains("Psychometric curve by curriculum stage"));
    assert!(full.join("report/psychometric_stages.png").is_file());

    // `psychrnn test` draws fresh trials and runs every stage on them too.
    stdout(&psychrnn(&["test", full.to_str().unwrap(), "-n", "32"]));
    let retested = TrialRecord::read(&run_dir.trials()).unwrap();
    let again = retested.stages.expect("stages after psychrnn test");
    assert_eq!(again.stages.len(), 2);
    assert_eq!(again.outputs.len(), 32 * record.n_steps * record.n_out);

    // A run without a stage's parameters (begun by an older psychrnn) says so and leaves the
    // stage out rather than showing a wrong curve.
    std::fs::remove_file(run_dir.stage_parameters(0)).unwrap();
    let o = psychrnn(&["test", full.to_str().unwrap(), "-n", "32"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "curriculum stage '{ODD_STAGE}' (ended at iteration 20): no "
        )),
        "{}",
        stderr(&o)
    );
    assert!(TrialRecord::read(&run_dir.trials())
        .unwrap()
        .stages
        .is_none());

    // Overwritten by a run that never leaves its first stage, the folder keeps no stage of
    // the old one.
    stdout(&psychrnn(&[
        "run",
        script.to_str().unwrap(),
        "--out",
        full.to_str().unwrap(),
        "--overwrite",
        "--set",
        "train.iterations=10",
    ]));
    assert!(!run_dir.stages_dir().exists());
    let analysis = run_dir.read_analysis().unwrap().unwrap();
    assert!(analysis.stages.is_none());
}
