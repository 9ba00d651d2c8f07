//! Everything knowable about an experiment is refused by `psychrnn check` and at the start of
//! `psychrnn run`, with exit status 2, a message saying what and where, and no run directory:
//! epoch timing, channel names, counts and sizes, report and scorer settings, memory.

use std::path::Path;
use std::process::Output;

use crate::harness::{psychrnn, repo, stderr, stdout, TempDir};

/// A small valid experiment: 2 inputs, 1 output, 100 ms at dt 10 (10 steps), a fixation epoch
/// and a decision epoch to the end of the trial.
const BASE: &str = r#"experiment(#{
    name: "t",
    task: #{
        inputs: ["a", "b"],
        outputs: ["y"],
        dt: 10.0,
        duration: 100.0,
        params: |rng| #{ c: rng.choice([0, 1]), coherence: rng.choice([0.1, 0.5]) },
        trial: |p| [
            #{ name: "fix", duration: 50.0, mask: 0.0 },
            #{ name: "decision", target: 1.0 },
        ],
    },
    model: #{ n_rec: 4 },
    train: #{ iterations: 2, batch_size: 4, eval_every: 1, eval_trials: 4, test_trials: 4 },
});
"#;

/// BASE with each `(from, to)` replacement made (each `from` must occur).
fn variant(replacements: &[(&str, &str)]) -> String {
    let mut text = BASE.to_string();
    for (from, to) in replacements {
        assert!(text.contains(from), "BASE has no `{from}`");
        text = text.replacen(from, to, 1);
    }
    text
}

/// Writes `text` as `NAME.rhai` in a fresh folder and runs `psychrnn check` on it.
fn check(name: &str, text: &str, extra: &[&str]) -> (Output, TempDir) {
    let dir = TempDir::new(&format!("trust-{name}"));
    let script = dir.join(format!("{name}.rhai"));
    std::fs::write(&script, text).unwrap();
    let mut args = vec!["check", script.to_str().unwrap()];
    args.extend_from_slice(extra);
    (psychrnn(&args), dir)
}

/// The folder holds only the script: nothing was written beside it.
fn only_script(dir: &Path) {
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].ends_with(".rhai"), "{names:?}");
}

/// `psychrnn check` refuses `text` with exit status 2 and a message containing `expected`.
fn refused(name: &str, text: &str, expected: &str) -> String {
    let (o, dir) = check(name, text, &[]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{name}: {err}");
    assert!(
        err.contains(expected),
        "{name}: expected `{expected}` in:\n{err}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    only_script(&dir);
    err
}

/// `psychrnn run --out DIR/run` refuses `text` with exit status 2 and `expected`, and leaves
/// no run directory.
fn run_refused(name: &str, text: &str, expected: &str) {
    let dir = TempDir::new(&format!("trust-{name}"));
    let script = dir.join(format!("{name}.rhai"));
    std::fs::write(&script, text).unwrap();
    let out = dir.join("run");
    let o = psychrnn(&[
        "run",
        script.to_str().unwrap(),
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{name}: {err}");
    assert!(
        err.contains(expected),
        "{name}: expected `{expected}` in:\n{err}"
    );
    assert!(!out.exists(), "{name}: a run directory was created");
    only_script(&dir);
}

// ---------- positive controls ----------

#[test]
fn the_base_script_passes_and_check_says_what_it_validated() {
    let (o, dir) = check("base", BASE, &["-n", "4"]);
    let out = stdout(&o);
    assert!(
        out.contains("validated: 128 sampled trials of each of 1 stage(s)"),
        "{out}"
    );
    only_script(&dir);
}

#[test]
fn every_bundled_script_passes_check() {
    let mut checked = 0;
    for entry in std::fs::read_dir(repo().join("scripts")).unwrap() {
        let path = entry.unwrap().path();
        let o = psychrnn(&["check", path.to_str().unwrap(), "-n", "2"]);
        assert!(o.status.success(), "{}: {}", path.display(), stderr(&o));
        checked += 1;
    }
    assert!(checked >= 10, "{checked} scripts");
}

#[test]
fn every_stdlib_task_passes_check() {
    let tasks = [
        "perceptual_discrimination",
        "reaction_time_discrimination",
        "context_dependent_integration",
        "go_nogo",
        "delayed_discrimination",
        "match_to_category",
        "delayed_match_to_sample",
        "delayed_non_match_to_sample",
        "n_back",
        "flip_flop",
        "continuous_report",
        "saccade",
        "pro_saccade",
        "anti_saccade",
        "ready_set_go",
        "yang_multitask",
    ];
    let dir = TempDir::new("trust-stdlib");
    for t in tasks {
        let script = dir.join(format!("{t}.rhai"));
        std::fs::write(
            &script,
            format!("import \"psychrnn/tasks\" as tasks;\nexperiment(#{{ name: \"{t}\", task: tasks::{t}(#{{}}) }});\n"),
        )
        .unwrap();
        let o = psychrnn(&["check", script.to_str().unwrap(), "-n", "2"]);
        assert!(o.status.success(), "{t}: {}", stderr(&o));
    }
}

#[test]
fn an_epoch_ending_exactly_at_the_end_of_the_trial_is_fine() {
    let text = variant(&[(
        r#"#{ name: "decision", target: 1.0 }"#,
        r#"#{ name: "decision", duration: 50.0, target: 1.0 }"#,
    )]);
    let (o, _dir) = check("exact-end", &text, &["-n", "2"]);
    stdout(&o);
}

// ---------- epoch timing ----------

#[test]
fn an_epoch_overrunning_every_trial_names_epoch_trial_end_and_duration() {
    let text = variant(&[(
        r#"#{ name: "fix", duration: 50.0, mask: 0.0 }"#,
        r#"#{ name: "fix", duration: 60.0, mask: 0.0 }, #{ name: "late", duration: 50.0, target: 1.0 }"#,
    )]);
    refused(
        "overrun",
        &text,
        "task `task`: 128 of 128 sampled trials fail; the first is trial 0: epoch 'late' ends at 110 ms, after the end of the trial at 100 ms",
    );
}

#[test]
fn a_rare_overrun_is_found_and_counted() {
    // About one trial in ten has a 60 ms decision after 50 ms of fixation.
    let text = variant(&[
        (
            "params: |rng| #{",
            "params: |rng| #{ long: rng.bernoulli(0.1),",
        ),
        (
            r#"#{ name: "decision", target: 1.0 }"#,
            r#"#{ name: "decision", duration: if p.long { 60.0 } else { 40.0 }, target: 1.0 }"#,
        ),
    ]);
    let err = refused(
        "rare-overrun",
        &text,
        "epoch 'decision' ends at 110 ms, after the end of the trial at 100 ms",
    );
    let failed: usize = err
        .split("task `task`: ")
        .nth(1)
        .and_then(|s| s.split(" of 128 sampled trials fail").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {err}"));
    assert!((1..64).contains(&failed), "{failed} of 128: {err}");
}

#[test]
fn a_drawn_duration_overrunning_some_trials_is_an_error() {
    let text = variant(&[(
        r#"#{ name: "decision", target: 1.0 }"#,
        r#"#{ name: "decision", duration: dist::uniform(10.0, 90.0), target: 1.0 }"#,
    )]);
    refused("drawn-overrun", &text, "of 128 sampled trials fail");
}

#[test]
fn a_trial_with_no_epochs_is_an_error() {
    let text = variant(&[(
        r#"trial: |p| [
            #{ name: "fix", duration: 50.0, mask: 0.0 },
            #{ name: "decision", target: 1.0 },
        ],"#,
        "trial: |p| [],",
    )]);
    refused(
        "no-epochs",
        &text,
        "trial 0: task.trial returned no epochs; a trial needs at least one epoch",
    );
}

#[test]
fn a_sliver_of_an_epoch_without_a_step_is_not_scored() {
    // Fixation [0, 96) holds steps 0..9 (t = 0..90 ms); the decision [96, 100) holds no step
    // time, so it has no steps, and the scorer reads it.
    let text = variant(&[
        (
            r#"#{ name: "fix", duration: 50.0, mask: 0.0 },
            #{ name: "decision", target: 1.0 },"#,
            r#"#{ name: "fix", duration: 96.0, mask: 1.0 },
            #{ name: "decision", duration: 4.0, target: 1.0 },"#,
        ),
        (
            r#"trial: |p| ["#,
            r#"score: #{ kind: "argmax", epoch: "decision" },
        trial: |p| ["#,
        ),
    ]);
    refused(
        "sliver",
        &text,
        "score (argmax): trial 0: epoch `decision` has no steps",
    );
}

#[test]
fn a_scored_epoch_with_no_steps_is_an_error() {
    let text = variant(&[
        (
            r#"#{ name: "decision", target: 1.0 }"#,
            r#"#{ name: "decision", duration: 0.0, target: 1.0 }, #{ name: "after" }"#,
        ),
        (
            r#"trial: |p| ["#,
            r#"score: #{ kind: "go_nogo", channel: "y", epoch: "decision", condition: "c" },
        trial: |p| ["#,
        ),
    ]);
    refused(
        "empty-scored",
        &text,
        "score (go_nogo): trial 0: epoch `decision` has no steps",
    );
}

#[test]
fn a_mask_that_weights_nothing_is_an_error() {
    let text = variant(&[(
        r#"#{ name: "decision", target: 1.0 }"#,
        r#"#{ name: "decision", target: 1.0, mask: 0.0 }"#,
    )]);
    refused(
        "no-mask",
        &text,
        "task `task`: the mask weights none of the targets in 128 sampled trials",
    );
}

#[test]
fn a_per_step_task_whose_mask_weights_nothing_is_an_error() {
    let text = variant(&[(
        r#"trial: |p| [
            #{ name: "fix", duration: 50.0, mask: 0.0 },
            #{ name: "decision", target: 1.0 },
        ],"#,
        "step: |t, p| [[0.0, 0.0], [1.0], [0.0]],",
    )]);
    refused(
        "no-mask-steps",
        &text,
        "the mask weights none of the targets",
    );
}

// ---------- channel names ----------

#[test]
fn duplicate_input_names_are_refused() {
    let text = variant(&[(r#"inputs: ["a", "b"]"#, r#"inputs: ["a", "a"]"#)]);
    refused(
        "dup-inputs",
        &text,
        "config field `task.inputs`: channel name `a` is used twice (channels 0 and 1); channel names must be unique",
    );
}

#[test]
fn empty_output_names_are_refused() {
    let text = variant(&[(r#"outputs: ["y"]"#, r#"outputs: ["y", ""]"#)]);
    refused(
        "empty-output",
        &text,
        "config field `task.outputs`: channel 1 has an empty name",
    );
}

// ---------- the experiment itself ----------

#[test]
fn a_second_experiment_call_is_an_error_at_its_position() {
    let text = format!("{BASE}{BASE}");
    let second_line = BASE.lines().count() + 1;
    let name = "twice";
    refused(
        name,
        &text,
        &format!("{name}.rhai:{second_line}:1: experiment() is called a second time (the first call is at line 1, column 1)"),
    );
}

#[test]
fn a_path_as_experiment_name_is_refused() {
    for (k, bad) in ["../../x", "/tmp/abs", "", ".hidden", "a b"]
        .iter()
        .enumerate()
    {
        let text = variant(&[(r#"name: "t""#, &format!("name: {bad:?}"))]);
        refused(
            &format!("name-{k}"),
            &text,
            &format!("config field `name`: {bad:?} is not a plain name"),
        );
    }
}

#[test]
fn a_run_with_a_path_as_name_writes_nothing() {
    let text = variant(&[(r#"name: "t""#, r#"name: "../../x""#)]);
    run_refused("run-name", &text, "is not a plain name");
}

// ---------- counts and sizes ----------

#[test]
fn a_huge_duration_is_a_range_error() {
    let text = variant(&[("duration: 100.0", "duration: 1e12")]);
    refused(
        "huge-duration",
        &text,
        "config field `task.duration`: a trial must have between 1 and 100000 steps, but duration 1000000000000 ms / dt 10 ms gives 100000000000",
    );
}

#[test]
fn a_huge_network_is_a_range_error() {
    let text = variant(&[("n_rec: 4", "n_rec: 1000000")]);
    refused(
        "huge-n-rec",
        &text,
        "config field `model.n_rec`: must be between 1 and 16384, got 1000000",
    );
}

#[test]
fn a_huge_batch_written_as_a_float_is_a_range_error() {
    let text = variant(&[("batch_size: 4", "batch_size: 1e8")]);
    refused(
        "huge-batch",
        &text,
        "config field `train.batch_size`: must be between 1 and 65536, got 100000000",
    );
}

#[test]
fn a_huge_test_set_is_a_range_error() {
    let text = variant(&[("test_trials: 4", "test_trials: 1e9")]);
    refused(
        "huge-test",
        &text,
        "config field `train.test_trials`: must be between 1 and 1000000, got 1000000000",
    );
}

#[test]
fn too_many_iterations_are_a_range_error() {
    // 0 is allowed (an untrained network is tested and reported); above the limit is not.
    let text = variant(&[("iterations: 2", "iterations: 100000001")]);
    refused(
        "many-iterations",
        &text,
        "config field `train.iterations`: must be between 0 and 100000000, got 100000001",
    );
}

#[test]
fn a_run_too_large_for_memory_is_refused_before_allocating() {
    // Each setting is in range, but the test set would hold 10^6 trials × 10^5 steps.
    let text = variant(&[
        ("duration: 100.0", "duration: 1000000.0"),
        ("test_trials: 4", "test_trials: 1000000"),
    ]);
    let err = refused("memory", &text, "the experiment needs ");
    assert!(err.contains("GiB, this machine has "), "{err}");
    assert!(
        err.contains("psychrnn plans for at most 50% of it"),
        "{err}"
    );
    assert!(
        err.contains(
            "the largest part is the test set (trials.npz): 1000000 trials × 100000 steps"
        ) && err.ends_with("lower train.test_trials\n"),
        "{err}"
    );
}

#[test]
fn a_run_too_large_for_memory_writes_nothing() {
    let text = variant(&[
        ("duration: 100.0", "duration: 1000000.0"),
        ("batch_size: 4", "batch_size: 65536"),
        ("n_rec: 4", "n_rec: 16384"),
    ]);
    run_refused("run-memory", &text, "the experiment needs ");
}

#[test]
fn ring_bump_with_a_huge_channel_count_is_an_error() {
    let text = format!("let x = ring_bump(1.0, 100000000);\n{BASE}");
    refused(
        "ring-bump",
        &text,
        "ring_bump(angle, n, width) needs n between 1 and 4096 (a task's most channels), got 100000000",
    );
}

#[test]
fn channels_with_a_huge_count_is_an_error() {
    let text = format!("let x = channels(\"d\", 100000000);\n{BASE}");
    refused(
        "channels",
        &text,
        "channels(prefix, n) needs n between 0 and 4096 (a task's most channels), got 100000000",
    );
}

#[test]
fn a_huge_sparse_mask_is_an_error() {
    let text = variant(&[(
        "n_rec: 4",
        "n_rec: 4, rec_connectivity: sparse_mask(1e5, 1e5, 0.5, 1)",
    )]);
    refused(
        "sparse-mask",
        &text,
        "sparse_mask: rows must be at most 16384 (model.n_rec's limit), got 100000",
    );
    let text = variant(&[(
        "n_rec: 4",
        "n_rec: 4, rec_connectivity: sparse_mask(2000, 2000, 0.5, 1)",
    )]);
    refused(
        "sparse-mask-big",
        &text,
        "sparse_mask: a 2000 × 2000 mask is larger than a script may build",
    );
}

#[test]
fn check_trials_out_of_range_names_the_flag() {
    let (o, _dir) = check("trials-flag", BASE, &["-n", "100000"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--trials must be between 1 and 65536, got 100000"),
        "{}",
        stderr(&o)
    );
}

// ---------- report and scorer settings ----------

#[test]
fn a_choice_channel_beyond_the_outputs_is_refused() {
    let text = variant(&[(
        "model: #{",
        r#"report: #{ psychometric: "coherence", choice_channel: 3 }, model: #{"#,
    )]);
    refused(
        "choice-channel",
        &text,
        "config field `report.choice_channel`: must be an output channel between 0 and 0 (0 = y), got 3",
    );
}

#[test]
fn a_report_condition_typo_is_refused_with_a_suggestion() {
    let text = variant(&[(
        "model: #{",
        r#"report: #{ condition: "coherense" }, model: #{"#,
    )]);
    refused(
        "report-condition",
        &text,
        "config field `report.condition`: no condition `coherense`; the trials' conditions are: c, coherence; did you mean `coherence`?",
    );
}

#[test]
fn a_report_typo_stops_run_before_training() {
    let text = variant(&[(
        "model: #{",
        r#"report: #{ psychometric: "coherense", choice_channel: 0 }, model: #{"#,
    )]);
    run_refused(
        "run-report",
        &text,
        "config field `report.psychometric`: no condition `coherense`",
    );
}

#[test]
fn a_text_condition_on_the_psychometric_axis_is_refused() {
    let text = variant(&[
        ("params: |rng| #{", r#"params: |rng| #{ side: "left","#),
        (
            "model: #{",
            r#"report: #{ psychometric: "side", choice_channel: 0 }, model: #{"#,
        ),
    ]);
    refused(
        "text-condition",
        &text,
        "config field `report.psychometric`: condition `side` is text, but the report needs a number",
    );
}

#[test]
fn a_scorer_epoch_typo_is_refused_with_a_suggestion() {
    let text = variant(&[(
        r#"trial: |p| ["#,
        r#"score: #{ kind: "argmax", epoch: "decison" },
        trial: |p| ["#,
    )]);
    refused(
        "scorer-epoch",
        &text,
        "score (argmax): trial 0: no epoch `decison`; its epochs are: fix, decision; did you mean `decision`?",
    );
}

#[test]
fn a_scorer_condition_typo_is_refused_with_a_suggestion() {
    let text = variant(&[(
        r#"trial: |p| ["#,
        r#"score: #{ kind: "go_nogo", channel: "y", epoch: "decision", condition: "cc" },
        trial: |p| ["#,
    )]);
    refused(
        "scorer-condition",
        &text,
        "score (go_nogo): trial 0: no condition `cc`",
    );
}

#[test]
fn a_run_whose_trials_overrun_writes_nothing() {
    let text = variant(&[(
        r#"#{ name: "decision", target: 1.0 }"#,
        r#"#{ name: "decision", duration: 60.0, target: 1.0 }"#,
    )]);
    run_refused(
        "run-overrun",
        &text,
        "epoch 'decision' ends at 110 ms, after the end of the trial at 100 ms",
    );
}
