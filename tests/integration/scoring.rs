//! Scoring as a user meets it: `score: |trial| …` closures used by every consumer of accuracy
//! (evaluation, `stop_at_accuracy`, curricula, `psychrnn test`, per-condition accuracy, the
//! report), their errors, NeuroGym's first-response rule, `train.stop_on_plateau` and the
//! chance-level warning.

use std::path::Path;

use psychrnn::run_dir::RunSummary;
use psychrnn::script::{load_experiment_source, LoadOptions};
use psychrnn::task::{generate_batch, OutputReading, Task};
use psychrnn::trials_file::TrialRecord;

use crate::harness::{psychrnn_in, stderr, stdout, TempDir};

/// A two-choice task (20 steps: stimulus 10, response 10) scored by `score` (a task-map
/// entry, e.g. `score: |trial| false,`), with `train` settings and an optional curriculum.
fn script(score: &str, train: &str, curriculum: &str) -> String {
    format!(
        r#"
let task = #{{
    name: "two_choice",
    inputs: ["a", "b"],
    outputs: ["left", "right"],
    dt: 10.0, tau: 100.0, duration: 200.0,
    params: |rng| #{{ side: rng.int(0, 1) }},
    trial: |p| {{
        let x = [0.0, 0.0];
        x[p.side] = 1.0;
        [
            #{{ name: "stimulus", duration: 100.0, input: x, mask: 0.0 }},
            #{{ name: "response", target: x }},
        ]
    }},
    {score}
}};
experiment(#{{
    task: task,
    model: #{{ n_rec: 6 }},
    train: #{{ iterations: 40, batch_size: 8, eval_every: 10, eval_trials: 16, test_trials: 32, {train} }},
    report: #{{ enabled: false, condition: "side" }},
    {curriculum}
}});
"#
    )
}

fn run(dir: &Path, name: &str, text: &str, extra: &[&str]) -> std::process::Output {
    let file = dir.join(format!("{name}.rhai"));
    std::fs::write(&file, text).unwrap();
    let out = dir.join(name);
    let mut args = vec![
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--overwrite",
    ];
    args.extend_from_slice(extra);
    psychrnn_in(dir, &args)
}

fn summary(run: &Path) -> RunSummary {
    serde_norway::from_str(&std::fs::read_to_string(run.join("summary.yaml")).unwrap()).unwrap()
}

fn history_accuracies(run: &Path) -> Vec<f64> {
    std::fs::read_to_string(run.join("history.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(4).unwrap().parse().unwrap())
        .collect()
}

#[test]
fn an_always_wrong_closure_is_the_accuracy_everywhere() {
    let dir = TempDir::new("score-wrong");
    let text = script("score: |trial| false,", "stop_at_accuracy: 0.01", "");
    let o = run(&dir, "wrong", &text, &["--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = dir.join("wrong");
    // Evaluation and stop_at_accuracy: every evaluation 0, so training ran to the end.
    assert_eq!(history_accuracies(&r), [0.0; 4]);
    let s = summary(&r);
    assert_eq!(s.stop_reason, psychrnn::train::StopReason::Iterations);
    assert_eq!(s.iterations, 40);
    // The test and the per-condition table.
    assert_eq!(s.final_accuracy, 0.0);
    let by = s.accuracy_by.expect("report.condition is set");
    assert_eq!(by.groups.len(), 2);
    assert!(by.groups.iter().all(|g| g.accuracy == 0.0), "{by:?}");
    // trials.npz holds the closure's verdicts, and its accuracy (the report's) is 0.
    let trials = TrialRecord::read(&r.join("trials.npz")).unwrap();
    assert_eq!(trials.correct, Some(vec![false; 32]));
    assert_eq!(trials.accuracy(), 0.0);
    // config.yaml says the closure scores.
    let config = std::fs::read_to_string(r.join("config.yaml")).unwrap();
    assert!(config.contains("  score:\n    kind: script\n"), "{config}");
    // `psychrnn test` scores with the closure too.
    let t = psychrnn_in(&dir, &["test", r.to_str().unwrap(), "--trials", "24"]);
    assert!(t.status.success(), "{}", stderr(&t));
    assert!(
        stdout(&t).contains("24 fresh trials, accuracy 0.000"),
        "{}",
        stdout(&t)
    );

    // The same run scored by argmax (the closure replaced with --set) reaches 0.01 at once:
    // so it is the closure that kept the run from stopping.
    let o = run(
        &dir,
        "argmax",
        &text,
        &["--quiet", "--set", "task.score.kind=argmax"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let s = summary(&dir.join("argmax"));
    assert_eq!(s.stop_reason, psychrnn::train::StopReason::AccuracyReached);
    assert_eq!(s.iterations, 10);
}

#[test]
fn a_stage_scored_always_wrong_never_advances() {
    let dir = TempDir::new("score-stage");
    let stage = |score: &str| {
        let stage_task = "#{ name: \"two_choice\", inputs: [\"a\", \"b\"], outputs: [\"left\", \"right\"], dt: 10.0, tau: 100.0, duration: 200.0, params: |rng| #{ side: rng.int(0, 1) }, trial: task.trial, SCORE }".replace("SCORE", score);
        format!(
            "curriculum: [ #{{ name: \"first\", advance: 0.01, task: {stage_task} }}, #{{ name: \"second\" }} ],"
        )
    };
    for (name, score, stages) in [
        ("never", "score: |t| false", 1),
        ("always", "score: |t| true", 2),
    ] {
        let text = script("", "", &stage(score));
        let o = run(&dir, name, &text, &["--quiet"]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let s = summary(&dir.join(name));
        assert_eq!(s.stages.len(), stages, "{name}: {:?}", s.stages);
        if stages == 2 {
            // Advanced at the first evaluation.
            assert_eq!(s.stages[1].began_at_iteration, 11);
        }
    }
}

#[test]
fn partial_credit_is_averaged_per_trial_and_per_condition() {
    let dir = TempDir::new("score-credit");
    let text = script(
        "score: |trial| if trial.conditions.side == 0 { 0.25 } else { 1 },",
        "",
        "",
    );
    let o = run(&dir, "credit", &text, &["--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = dir.join("credit");
    let trials = TrialRecord::read(&r.join("trials.npz")).unwrap();
    let side = &trials.conditions["side"];
    let credit = trials.credit.clone().expect("partial credit is recorded");
    let want: Vec<f64> = side
        .iter()
        .map(|&s| if s == 0.0 { 0.25 } else { 1.0 })
        .collect();
    assert_eq!(credit, want);
    let zeros = side.iter().filter(|&&s| s == 0.0).count();
    assert!(zeros > 0 && zeros < side.len(), "{side:?}");
    let mean = want.iter().sum::<f64>() / want.len() as f64;
    let s = summary(&r);
    assert!(
        (s.final_accuracy - mean).abs() < 1e-12,
        "{}",
        s.final_accuracy
    );
    assert!((trials.accuracy() - mean).abs() < 1e-12);
    // Verdicts: credit ≥ 0.5.
    assert_eq!(
        trials.correct.unwrap(),
        want.iter().map(|&c| c >= 0.5).collect::<Vec<_>>()
    );
    let by = s.accuracy_by.unwrap();
    let groups: Vec<(f64, usize)> = by.groups.iter().map(|g| (g.accuracy, g.trials)).collect();
    assert_eq!(groups, [(0.25, zeros), (1.0, side.len() - zeros)]);
}

#[test]
fn the_closure_gets_named_channels_steps_epochs_and_conditions() {
    // The closure's credit is the mean `right` target over the response epoch (1 when the
    // answer is right, 0 when left), checked against the trials' own targets; and it checks
    // the shape of what it receives, returning false when anything is off.
    let text = script(
        r#"score: |trial| {
            let ok = trial.dt == 10.0 && trial.steps == 20 && trial.output.left.len() == 20
                && trial.mask.right.len() == 20 && trial.epoch_list.len() == 2
                && trial.epoch_list[0].name == "stimulus" && trial.epochs.stimulus.end == 10
                && trial.epochs.response.start == 10 && trial.epochs.response.end == 20
                && !trial.logits && trial.conditions.side == trial.target.right[15];
            if !ok { return false; }
            mean_over(trial.target.right, trial.epochs.response)
        },"#,
        "",
        "",
    );
    let loaded =
        load_experiment_source("t.rhai", &text, Path::new("."), &LoadOptions::default()).unwrap();
    let task = loaded.task.as_ref();
    let b = generate_batch(task, 5, 0, 0, 40).unwrap();
    let outputs = vec![0.0f32; b.targets.len()];
    let scores = task.score(&outputs, &b, OutputReading::Levels).unwrap();
    let want: Vec<f64> = (0..40)
        .map(|i| f64::from(b.targets[(i * 20 + 15) * 2 + 1]))
        .collect();
    assert!(want.contains(&0.0) && want.contains(&1.0));
    assert_eq!(scores.credit, want);
    // Under softmax cross-entropy the closure is told the outputs are logits.
    let text = script("score: |trial| trial.logits,", "", "");
    let loaded =
        load_experiment_source("t.rhai", &text, Path::new("."), &LoadOptions::default()).unwrap();
    let s = loaded
        .task
        .score(&outputs, &b, OutputReading::Logits)
        .unwrap();
    assert_eq!(s.accuracy(), 1.0);
}

#[test]
fn a_bad_score_names_the_script_position_the_trial_and_the_value() {
    let dir = TempDir::new("score-bad");
    for (score, wants) in [
        (
            "score: |trial| 1.5,",
            &[
                "error: task `two_choice`: score (script): trial 0: ",
                "s.rhai:16:5: task.score returned the number 1.5; return true (right), false (wrong) or a credit between 0 and 1",
            ][..],
        ),
        (
            "score: |trial| if trial.index == 3 { \"yes\" } else { true },",
            &["score (script): trial 3: ", "s.rhai:16:5: task.score returned \"yes\" (a string)"],
        ),
        (
            "score: |trial| 0.0 / 0.0,",
            &["trial 0: ", "task.score returned the number NaN"],
        ),
        (
            "score: |trial| trial.output.lft[0] > 0.5,",
            &["trial 0: ", "s.rhai:16:", "(in task.score)"],
        ),
    ] {
        let file = dir.write("s.rhai", &script(score, "", ""));
        let o = psychrnn_in(&dir, &["check", file.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{score}: {}", stderr(&o));
        for want in wants {
            assert!(stderr(&o).contains(want), "{score}: {}", stderr(&o));
        }
    }
    // A `kind: "script"` map without a closure cannot score.
    let file = dir.write("s.rhai", &script("score: #{ kind: \"script\" },", "", ""));
    let o = psychrnn_in(&dir, &["check", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("kind `script` is scored by the task's `score: |trial| …` closure"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn first_response_from_the_library_checks_its_channels() {
    let dir = TempDir::new("score-first");
    let text = script(
        "score: scorers::first_response(\"fix\", [\"left\", \"right\"], \"response\"),",
        "",
        "",
    );
    let file = dir.write(
        "f.rhai",
        &format!("import \"psychrnn/scorers\" as scorers;\n{text}"),
    );
    let o = psychrnn_in(&dir, &["check", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o)
            .contains("score (first_response): no output channel `fix`; outputs: left, right"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_run_whose_accuracy_cannot_rise_stops_on_the_plateau() {
    let dir = TempDir::new("score-plateau");
    let text = script(
        "score: |trial| false,",
        "stop_on_plateau: #{ patience: 2, min_gain: 0.01 }",
        "",
    );
    let o = run(&dir, "flat", &text, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The first evaluation sets the best; two more without a gain stop the run.
    let r = dir.join("flat");
    assert_eq!(history_accuracies(&r), [0.0; 3]);
    let s = summary(&r);
    assert_eq!(s.stop_reason, psychrnn::train::StopReason::Plateau);
    assert_eq!(s.iterations, 30);
    assert!(
        stdout(&o).contains("training stopped: plateau (the last 2 evaluations did not raise the accuracy more than 0.01 above its best)"),
        "{}",
        stdout(&o)
    );
    let text = std::fs::read_to_string(r.join("summary.yaml")).unwrap();
    assert!(text.contains("stop_reason: plateau"), "{text}");
    // Bad settings name the field and the valid range.
    for (set, want) in [
        (
            "train.stop_on_plateau.patience=0",
            "config field `train.stop_on_plateau.patience`: must be a number of evaluations between 1 and",
        ),
        (
            "train.stop_on_plateau.min_gain=1.5",
            "config field `train.stop_on_plateau.min_gain`: must be an accuracy gain in [0, 1), got 1.5",
        ),
    ] {
        let o = run(&dir, "bad", &script("", "stop_on_plateau: #{ patience: 3 }", ""), &["--set", set]);
        assert_eq!(o.status.code(), Some(2), "{set}");
        assert!(stderr(&o).contains(want), "{set}: {}", stderr(&o));
    }
}

#[test]
fn a_run_at_chance_level_says_so() {
    let dir = TempDir::new("score-chance");
    // The stimulus carries nothing (inputs 0), so the network answers every trial alike: at
    // chance. The chance level is what the mean target scores, computed here from the test
    // trials themselves.
    let blind = script("", "", "").replace("input: x, mask: 0.0", "input: 0.0, mask: 0.0");
    let o = run(&dir, "chance", &blind, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = dir.join("chance");
    let trials = TrialRecord::read(&r.join("trials.npz")).unwrap();
    let (b, t, n) = (trials.n_trials, trials.n_steps, trials.n_out);
    let mut mean = vec![0.0f64; t * n];
    for trial in trials.targets.chunks(t * n) {
        for (m, &x) in mean.iter_mut().zip(trial) {
            *m += f64::from(x) / b as f64;
        }
    }
    // PsychRNN's argmax on mask-weighted sums; ties go to the first channel.
    let pick = |values: &dyn Fn(usize) -> f64, i: usize| {
        let sum = |c: usize| -> f64 {
            (0..t)
                .map(|s| values(s * n + c) * f64::from(trials.mask[(i * t + s) * n + c]))
                .sum()
        };
        if sum(1) > sum(0) {
            1
        } else {
            0
        }
    };
    let right = (0..b)
        .filter(|&i| {
            pick(&|k| mean[k], i) == pick(&|k| f64::from(trials.targets[i * t * n + k]), i)
        })
        .count();
    let chance = right as f64 / b as f64;
    let s = summary(&r);
    assert_eq!(s.chance_accuracy, Some(chance));
    assert!(s.final_accuracy < chance + 0.05, "{}", s.final_accuracy);
    let want = format!(
        "test accuracy {:.3} is not above chance level: outputs that ignore the inputs (the mean target at every step) score {chance:.3}",
        s.final_accuracy
    );
    assert_eq!(s.warnings.len(), 1);
    assert!(s.warnings[0].starts_with(&want), "{:?}", s.warnings);
    assert!(
        stderr(&o).contains(&format!("warning: {want}")),
        "{}",
        stderr(&o)
    );
    // A closure that says "always right" is far above chance: no warning.
    let o = run(
        &dir,
        "right",
        &script("score: |trial| true,", "", ""),
        &["--set", "train.iterations=0"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let s = summary(&dir.join("right"));
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    assert!(!stderr(&o).contains("warning:"), "{}", stderr(&o));
}

#[test]
fn the_readme_closure_scores_the_perceptual_discrimination_task() {
    let readme = std::fs::read_to_string(crate::harness::repo().join("README.md")).unwrap();
    let closure = readme
        .split("```rhai\n")
        .map(|b| b.split("```").next().unwrap())
        .find(|b| b.starts_with("score: |trial|"))
        .expect("README shows a score closure");
    let script = std::fs::read_to_string(
        crate::harness::repo().join("scripts/perceptual_discrimination.rhai"),
    )
    .unwrap();
    let text = script.replacen(
        "    },\n    model: #{",
        &format!("{closure}    }},\n    model: #{{"),
        1,
    );
    assert_ne!(text, script);
    let loaded =
        load_experiment_source("pd.rhai", &text, Path::new("."), &LoadOptions::default()).unwrap();
    let task = loaded.task.as_ref();
    let b = generate_batch(task, 2, 0, 0, 64).unwrap();
    // Outputs equal to the targets choose the direction: all right. Swapped channels: all
    // wrong. Both agree with the built-in argmax.
    let swapped: Vec<f32> = b.targets.chunks(2).flat_map(|c| [c[1], c[0]]).collect();
    for (outputs, want) in [(&b.targets, 1.0), (&swapped, 0.0)] {
        let closure = task.score(outputs, &b, OutputReading::Levels).unwrap();
        assert_eq!(closure.accuracy(), want);
        let argmax = psychrnn::task::Scorer::ARGMAX
            .score(outputs, &b, task.shape(), OutputReading::Levels)
            .unwrap();
        assert_eq!(closure.correct, argmax.correct);
    }
}

#[test]
fn stop_at_accuracy_waits_for_the_last_stage_and_an_evaluation_of_it() {
    // Stage "first" advances at its first evaluation (iteration 10); every evaluation scores
    // 1, so stop_at_accuracy 0.5 would have stopped the run there, on the first stage's
    // accuracy. It must stop at the first evaluation of the last stage instead: iteration 20.
    let dir = TempDir::new("score-stop-stage");
    let stage_task = "#{ name: \"two_choice\", inputs: [\"a\", \"b\"], outputs: [\"left\", \"right\"], dt: 10.0, tau: 100.0, duration: 200.0, params: |rng| #{ side: rng.int(0, 1) }, trial: task.trial, score: |t| true }";
    let curriculum = format!(
        "curriculum: [ #{{ name: \"first\", advance: 0.01, task: {stage_task} }}, #{{ name: \"second\", task: {stage_task} }} ],"
    );
    let text = script("", "stop_at_accuracy: 0.5", &curriculum);
    let o = run(&dir, "stages", &text, &["--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = summary(&dir.join("stages"));
    assert_eq!(s.stages.len(), 2, "{:?}", s.stages);
    assert_eq!(s.stages[1].began_at_iteration, 11);
    assert_eq!(s.stop_reason, psychrnn::train::StopReason::AccuracyReached);
    assert_eq!(s.iterations, 20);
    // Without a curriculum the one task is the last stage: it stops at the first evaluation.
    let single = script("score: |t| true,", "stop_at_accuracy: 0.5", "");
    let o = run(&dir, "single", &single, &["--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = summary(&dir.join("single"));
    assert_eq!(
        (s.stop_reason, s.iterations),
        (psychrnn::train::StopReason::AccuracyReached, 10)
    );
}
