//! Bad task definitions give errors that name the task, the trial, the field or channel, and
//! what was expected.

use std::path::PathBuf;

use psychrnn::random::stream;
use psychrnn::script::{load_experiment, LoadOptions};
use psychrnn::task::generate_batch;

use crate::harness::TempDir;

/// Writes a one-task script whose `trial` closure body is `trial` and returns the error
/// (loading or drawing a batch).
fn error_of(name: &str, task_extra: &str, params: &str, trial: &str) -> String {
    let dir = TempDir::new(&format!("validation-{name}"));
    let path: PathBuf = dir.join(format!("{name}.rhai"));
    let text = format!(
        "experiment(#{{ task: #{{ name: \"{name}\", inputs: [\"left\", \"right\"], outputs: [\"choice\"], duration: 100.0, {task_extra}\n  params: |rng| {params},\n  trial: |p| {trial} }} }});\n"
    );
    std::fs::write(&path, text).unwrap();
    let result = load_experiment(&path, &LoadOptions::default())
        .map_err(|e| e.to_string())
        .and_then(|l| {
            generate_batch(l.task.as_ref(), 0, stream::TRAIN, 0, 4).map_err(|e| e.to_string())
        });
    match result {
        Ok(_) => panic!("{name}: expected an error"),
        Err(e) => e,
    }
}

#[test]
fn wrong_number_of_channel_values() {
    let e = error_of(
        "lengths",
        "",
        "#{ x: 1 }",
        "[ #{ name: \"stim\", input: [1.0, 2.0, 3.0] } ]",
    );
    assert_eq!(
        e,
        "task `lengths`, trial 0: epoch 'stim': input: 3 values given but the task has 2 channels (left, right)"
    );
}

#[test]
fn nan_and_infinite_values() {
    let e = error_of(
        "nan",
        "",
        "#{ x: 0.0 }",
        "[ #{ name: \"stim\", input: [1.0, p.x / 0.0 - p.x / 0.0] } ]",
    );
    assert_eq!(e, "task `nan`, trial 0: epoch 'stim': input of channel 1 (right) is NaN; values must be finite numbers");
    let e = error_of(
        "inf",
        "",
        "#{ x: 1.0 }",
        "[ #{ name: \"resp\", target: [p.x / 0.0] } ]",
    );
    assert!(e.contains("target of channel 0 (choice) is inf"), "{e}");
}

#[test]
fn unknown_keys_and_channels_suggest_the_valid_ones() {
    let e = error_of(
        "keys",
        "",
        "#{ x: 1 }",
        "[ #{ name: \"stim\", inptu: [1.0, 0.0] } ]",
    );
    assert_eq!(
        e,
        "task `keys`, trial 0: epoch 0: unknown key `inptu`; valid keys: name, duration, input, target, mask, input_noise, overlays; did you mean `input`?"
    );
    let e = error_of(
        "channels",
        "",
        "#{ x: 1 }",
        "[ #{ name: \"stim\", input: #{ lfet: 1.0 } } ]",
    );
    assert_eq!(
        e,
        "task `channels`, trial 0: epoch 'stim': input: no channel named `lfet`; channels: left, right; did you mean `left`?"
    );
    let e = error_of("taskkeys", "input_nosie: 0.1,", "#{ x: 1 }", "[]");
    assert!(
        e.starts_with("config field `task.input_nosie`: unknown field `input_nosie`"),
        "{e}"
    );
    assert!(e.ends_with("did you mean `input_noise`?"), "{e}");
}

#[test]
fn missing_required_fields() {
    let dir = TempDir::new("validation-missing");
    let path = dir.join("missing.rhai");
    std::fs::write(
        &path,
        "experiment(#{ task: #{ inputs: [\"a\"], outputs: [\"b\"], params: |rng| #{}, trial: |p| [] } });\n",
    )
    .unwrap();
    let e = load_experiment(&path, &LoadOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert_eq!(e, "config field `task`: missing field `duration`");
}

#[test]
fn distributions_with_bad_bounds() {
    let e = error_of(
        "bounds",
        "",
        "#{ x: 1 }",
        "[ #{ name: \"delay\", duration: dist::uniform(500, 100) } ]",
    );
    assert!(e.starts_with("task `bounds`, trial 0: "), "{e}");
    assert!(e.contains("uniform(500, 100): needs lo ≤ hi"), "{e}");
    assert!(e.contains("bounds.rhai:3:"), "located in the script: {e}");
    let e = error_of("rngbounds", "", "#{ x: rng.int(5, 1) }", "[]");
    assert!(
        e.contains("int(lo, hi) needs lo ≤ hi, got lo = 5, hi = 1"),
        "{e}"
    );
    assert!(e.contains("(in task.params)"), "{e}");
    let e = error_of(
        "duration",
        "",
        "#{ x: 1 }",
        "[ #{ name: \"delay\", duration: \"long\" } ]",
    );
    assert!(
        e.contains("epoch 'delay': duration must be a number of ms or a distribution"),
        "{e}"
    );
}

#[test]
fn huge_allocations_stop_with_an_error() {
    let e = error_of(
        "huge",
        "",
        "{ let a = []; a.pad(100000000, 0.0); #{ n: a.len() } }",
        "[]",
    );
    assert!(e.starts_with("task `huge`, trial 0: "), "{e}");
    assert!(
        e.to_lowercase().contains("size of array") || e.contains("too large"),
        "{e}"
    );
}
