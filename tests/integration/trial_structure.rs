//! Structure within and across trials: sequences (blocks) of trials whose params see the
//! earlier ones, durations drawn in `params` with the host's rounding, overlays inside an
//! epoch, and the error for reserved words used as map keys.

use std::path::Path;

use psychrnn::random::stream;
use psychrnn::script::{load_experiment, LoadOptions, Override};
use psychrnn::task::{
    draw_trial, generate_batch, generate_batch_with_threads, Batch, ConditionValue, Task,
};

use crate::harness::{psychrnn, repo, stderr, TempDir};

fn task_of(path: &Path) -> std::sync::Arc<psychrnn::script::ScriptTask> {
    load_experiment(path, &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .task
}

/// The task of `path` without input noise, so that inputs can be compared exactly.
fn noiseless_task_of(path: &Path) -> std::sync::Arc<psychrnn::script::ScriptTask> {
    let options = LoadOptions {
        overrides: vec![Override {
            path: "task.input_noise".into(),
            value: serde_norway::Value::Number(0.into()),
        }],
        ..LoadOptions::default()
    };
    load_experiment(path, &options)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .task
}

fn number(b: &Batch, i: usize, key: &str) -> f64 {
    match &b.conditions[i][key] {
        ConditionValue::Number(x) => *x,
        other => panic!("{key} is {other:?}"),
    }
}

/// Input channel `c` of trial `i` at step `t`.
fn input(b: &Batch, i: usize, t: usize, c: usize) -> f32 {
    b.inputs[(i * b.n_steps + t) * b.n_in + c]
}

#[test]
fn hierarchical_reasoning_switches_rules_in_hidden_blocks_reproducibly() {
    let task = noiseless_task_of(&repo().join("scripts/hierarchical_reasoning.rhai"));
    assert_eq!(task.sequence_length(), Some(60));
    let dt = task.shape().dt;
    let n = 150; // sequences 0 and 1 whole, and the start of sequence 2
    let b = generate_batch(task.as_ref(), 3, stream::TRAIN, 0, n).unwrap();
    let span = |i: usize, name: &str| {
        b.epochs[i]
            .iter()
            .find(|s| s.name == name)
            .map(|s| (s.start, s.end))
            .unwrap()
    };
    let mut switches = 0;
    let mut block_len = 0;
    for i in 0..n {
        let position = i % 60;
        let rule = number(&b, i, "rule");
        assert_eq!(number(&b, i, "position"), position as f64);
        // The rule is never an input: both rule inputs are on together in every trial.
        let (r0, r1) = span(i, "rule_target");
        for t in r0..r1 {
            assert_eq!((input(&b, i, t, 1), input(&b, i, t, 2)), (1.0, 1.0));
        }
        // Feedback: the previous trial's rule, until the first flash; none at position 0.
        let (flash, _) = span(i, "flash1");
        let feedback: Vec<f32> = (0..flash)
            .map(|t| input(&b, i, t, 5) + 2.0 * input(&b, i, t, 6))
            .collect();
        let after: f32 = (flash..b.n_steps)
            .map(|t| input(&b, i, t, 5) + input(&b, i, t, 6))
            .sum();
        assert_eq!(after, 0.0, "trial {i}: feedback after the first flash");
        if position == 0 {
            assert!(feedback.iter().all(|&f| f == 0.0), "trial {i}");
            assert_eq!(number(&b, i, "block_start"), 0.0);
            block_len = 1;
            continue;
        }
        let previous_rule = number(&b, i - 1, "rule");
        let shown = if previous_rule == 0.0 { 1.0 } else { 2.0 };
        assert!(
            feedback.iter().all(|&f| f == shown),
            "trial {i}: {feedback:?}"
        );
        let switched = rule != previous_rule;
        assert_eq!(
            number(&b, i, "block_start"),
            if switched { 1.0 } else { 0.0 }
        );
        if switched {
            // Unannounced: the only rule evidence the trial shows is the old rule.
            assert!(
                (10..=20).contains(&block_len) || switches == 0,
                "trial {i}: block of {block_len}"
            );
            switches += 1;
            block_len = 1;
        } else {
            block_len += 1;
            assert!(block_len <= 20, "trial {i}: block of {block_len}");
        }
        // The answer, computed here from the conditions: pro when (long) == rule.
        let (long, stimulus) = (number(&b, i, "long"), number(&b, i, "stimulus"));
        let choice = if (long == 1.0) == (rule == 1.0) {
            stimulus
        } else {
            1.0 - stimulus
        };
        let (d0, _) = span(i, "decision");
        let target = |c: usize| b.targets[(i * b.n_steps + d0) * b.n_out + c];
        assert_eq!(
            (target(3), target(4)),
            if choice == 0.0 {
                (1.0, 0.0)
            } else {
                (0.0, 1.0)
            }
        );
        // The delay drawn in params is the delay between the flashes, to the step.
        let (s0, s1) = span(i, "delay");
        assert_eq!((s1 - s0) as f64 * dt, number(&b, i, "interval"));
        // Long means longer than the median delay, 850 ms rounded up to whole steps; a
        // trial of exactly that delay is long or short at random.
        let (interval, mid) = (number(&b, i, "interval"), (850.0 / dt).ceil() * dt);
        if interval != mid {
            assert_eq!(long == 1.0, interval > mid, "trial {i}");
        }
    }
    assert!(switches >= 4, "{switches} switches in {n} trials");
    // Reproducible: the same seed gives the same trials on any thread count, another seed
    // other blocks.
    assert_eq!(
        generate_batch_with_threads(task.as_ref(), 3, stream::TRAIN, 0, n, 2).unwrap(),
        b
    );
    let other = generate_batch(task.as_ref(), 4, stream::TRAIN, 0, n).unwrap();
    let rules = |b: &Batch| (0..n).map(|i| number(b, i, "rule")).collect::<Vec<_>>();
    assert_ne!(rules(&other), rules(&b));
    // Batches continue the sequences: batch 1 of 50 rows is rows 50..100 of one batch of
    // 150, and a row drawn alone is the same trial.
    let next = generate_batch(task.as_ref(), 3, stream::TRAIN, 1, 50).unwrap();
    for i in 0..50 {
        assert_eq!(next.conditions[i], b.conditions[50 + i], "row {i}");
        assert_eq!(
            next.inputs[i * b.n_steps * b.n_in..(i + 1) * b.n_steps * b.n_in],
            b.inputs[(50 + i) * b.n_steps * b.n_in..(51 + i) * b.n_steps * b.n_in]
        );
    }
    let alone = draw_trial(task.as_ref(), 3, stream::TRAIN, 0, n, 77).unwrap();
    assert_eq!(alone.conditions, b.conditions[77]);
    assert_eq!(
        alone.targets,
        b.targets[77 * b.n_steps * b.n_out..78 * b.n_steps * b.n_out]
    );
}

#[test]
fn params_see_the_sequence_and_declaring_it_is_checked() {
    let dir = TempDir::new("trial-sequence");
    let script = |sequence: &str, params: &str| {
        format!(
            r#"experiment(#{{ task: #{{ inputs: ["a"], outputs: ["b"], duration: 100, {sequence}
    params: {params},
    trial: |p| [#{{ name: "x", input: p.count }}] }} }});"#
        )
    };
    // Each trial counts the trials before it in its sequence from the previous params.
    let p = dir.write(
        "count.rhai",
        &script(
            "sequence: #{ length: 4 },",
            "|rng, settings, seq| #{ count: if seq.position == 0 { 0 } else { seq.previous[-1].count + 1 }, seen: seq.previous.len(), length: seq.length }",
        ),
    );
    let b = generate_batch(task_of(&p).as_ref(), 0, stream::TRAIN, 1, 6).unwrap();
    // Batch 1 of 6 rows: global trials 6..12, positions 2, 3, 0, 1, 2, 3.
    let counts: Vec<f64> = (0..6).map(|i| number(&b, i, "count")).collect();
    assert_eq!(counts, [2.0, 3.0, 0.0, 1.0, 2.0, 3.0]);
    let seen: Vec<f64> = (0..6).map(|i| number(&b, i, "seen")).collect();
    assert_eq!(seen, counts);
    assert_eq!(number(&b, 0, "length"), 4.0);
    assert_eq!(b.inputs[3 * 10], 1.0);

    // A failure in an earlier trial of the sequence, drawn again for a later batch, names
    // that trial's position and the script's line.
    let p = dir.write(
        "fails.rhai",
        &script(
            "sequence: #{ length: 10 },",
            "|rng, settings, seq| { if seq.position == 1 { throw \"no block yet\"; } #{ count: 0 } }",
        ),
    );
    let err = generate_batch(task_of(&p).as_ref(), 0, stream::TRAIN, 1, 2)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "task `task`, trial 0: earlier trial at position 1 of its sequence (this trial depends on it): {}:2:59: no block yet (in task.params)",
            p.display()
        )
    );

    let check = |name: &str, text: &str| {
        let p = dir.write(name, text);
        let o = psychrnn(&["check", p.to_str().unwrap()]);
        stderr(&o)
    };
    let err = check(
        "two_args.rhai",
        &script("sequence: #{ length: 4 },", "|rng, settings| #{ count: 0 }"),
    );
    assert!(
        err.contains("task.params: the task declares a sequence, so params receives the sequence as its third argument: write `params: |rng, settings, seq| …` (it takes 2)"),
        "{err}"
    );
    let err = check(
        "no_seq.rhai",
        &script("", "|rng, settings, seq| #{ count: 0 }"),
    );
    assert!(
        err.contains(
            "params takes a third argument (the sequence) but the task declares no sequence"
        ),
        "{err}"
    );
    let err = check(
        "zero.rhai",
        &script(
            "sequence: #{ length: 0 },",
            "|rng, settings, seq| #{ count: 0 }",
        ),
    );
    assert!(
        err.contains("task.sequence.length: must be between 1 and 1000 trials, got 0"),
        "{err}"
    );
    let err = check(
        "typo.rhai",
        &script(
            "sequence: #{ lenght: 4 },",
            "|rng, settings, seq| #{ count: 0 }",
        ),
    );
    assert!(err.contains("lenght") && err.contains("length"), "{err}");
}

#[test]
fn durations_drawn_in_params_follow_the_hosts_rounding() {
    let dir = TempDir::new("trial-durations");
    // The same first draw from the trial's stream: by the host for the epoch, or in params.
    let host = dir.write(
        "host.rhai",
        r#"experiment(#{ task: #{ inputs: ["a"], outputs: ["b"], duration: 200,
    params: |rng| #{},
    trial: |p| [#{ name: "d", duration: dist::uniform(20, 70) }, #{ name: "rest", input: 1.0 }] } });"#,
    );
    let script = dir.write(
        "script.rhai",
        r#"experiment(#{ task: #{ inputs: ["a"], outputs: ["b"], duration: 200,
    params: |rng| #{ d: rng.duration(dist::uniform(20, 70)), raw: rng.sample(dist::uniform(20, 70)) },
    trial: |p| [#{ name: "odd", duration: 15 }, #{ name: "d", duration: p.d }, #{ name: "rest", input: 1.0 }] } });"#,
    );
    let (h, s) = (task_of(&host), task_of(&script));
    let hb = generate_batch(h.as_ref(), 5, stream::TRAIN, 0, 100).unwrap();
    let sb = generate_batch(s.as_ref(), 5, stream::TRAIN, 0, 100).unwrap();
    let mut raw_whole = 0;
    for i in 0..100 {
        let d = number(&sb, i, "d");
        // Rounded up to whole steps of dt = 10 ms, and the same as the host's rounding.
        assert_eq!(d % 10.0, 0.0, "{d}");
        assert_eq!(d, number(&hb, i, "d_duration"), "trial {i}");
        // An epoch given that duration lasts exactly d, even after a boundary off the grid.
        let span = sb.epochs[i].iter().find(|e| e.name == "d").unwrap();
        assert_eq!(span.start, 2);
        assert_eq!((span.end - span.start) as f64 * 10.0, d);
        let raw = number(&sb, i, "raw");
        assert!((20.0..70.0).contains(&raw));
        raw_whole += usize::from(raw % 10.0 == 0.0);
    }
    assert!(raw_whole < 5, "rng.sample does not round");
}

#[test]
fn overlays_set_channels_inside_their_epoch_and_outside_is_a_located_error() {
    let dir = TempDir::new("trial-overlays");
    let script = |onset: u32| {
        format!(
            r#"experiment(#{{ task: #{{ inputs: ["stim", "cue"], outputs: ["b"], duration: 1000,
    params: |rng| #{{}},
    trial: |p| [
        #{{ name: "fix", duration: 100 }},
        #{{ name: "stimulus", duration: 500, input: #{{ stim: 0.5 }},
           overlays: [#{{ name: "cue", onset: {onset}, duration: 100, input: #{{ cue: 1.0 }}, mask: 3.0 }}] }},
        #{{ name: "response", target: 1.0 }},
    ] }} }});"#
        )
    };
    let p = dir.write("cue.rhai", &script(200));
    let b = generate_batch(task_of(&p).as_ref(), 0, stream::TRAIN, 0, 1).unwrap();
    let cue: Vec<usize> = (0..100).filter(|&t| input(&b, 0, t, 1) == 1.0).collect();
    assert_eq!(cue, (30..40).collect::<Vec<_>>());
    let stim: Vec<usize> = (0..100).filter(|&t| input(&b, 0, t, 0) == 0.5).collect();
    assert_eq!(
        stim,
        (10..60).collect::<Vec<_>>(),
        "the stimulus stays on under the cue"
    );
    let heavy: Vec<usize> = (0..100).filter(|&t| b.mask[t] == 3.0).collect();
    assert_eq!(heavy, (30..40).collect::<Vec<_>>());
    // The epochs are still the three written.
    let names: Vec<&str> = b.epochs[0].iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["fix", "stimulus", "response"]);

    let p = dir.write("late.rhai", &script(450));
    let o = psychrnn(&["check", p.to_str().unwrap()]);
    let err = stderr(&o);
    let want = format!(
        "{}:6:12: epoch 'stimulus', overlay 'cue': it runs from 550 ms to 650 ms, past the end of its epoch at 600 ms (the epoch runs from 100 ms to 600 ms); an overlay must lie inside its epoch (in task.trial)",
        p.display()
    );
    assert!(err.contains(&want), "{err}");
}

#[test]
fn reserved_words_as_keys_say_how_to_quote_them() {
    let dir = TempDir::new("trial-reserved");
    let cases = [
        ("go.rhai", "let p = #{ go: 1.0 };\n", "1:12: 'go' is a reserved keyword; to use it as a map key, quote it: #{ \"go\": 1.0 }, and read it as p[\"go\"]"),
        ("match.rhai", "let p = #{};\nlet x = p.match;\n", "2:11: 'match' is a reserved keyword; to use it as a map key, quote it: #{ \"match\": 1.0 }, and read it as p[\"match\"]"),
        ("switch.rhai", "let p = #{ switch: 1.0 };\n", "1:12: Expecting '}' to end this object map literal (`switch` is a Rhai keyword; to use it as a map key, quote it: #{ \"switch\": 1.0 }, and read it as p[\"switch\"])"),
    ];
    for (name, text, want) in cases {
        let p = dir.write(name, text);
        let err = stderr(&psychrnn(&["check", p.to_str().unwrap()]));
        assert_eq!(
            err.trim_end(),
            format!("error: {}:{want}", p.display()),
            "{name}"
        );
    }
    // Quoted, the keys work.
    let p = dir.write(
        "quoted.rhai",
        r#"experiment(#{ task: #{ inputs: ["go"], outputs: ["match"], duration: 100,
    params: |rng| #{ "go": 1.0 },
    trial: |p| [#{ input: #{ "go": p["go"] }, target: #{ "match": 1.0 } }] } });"#,
    );
    let b = generate_batch(task_of(&p).as_ref(), 0, stream::TRAIN, 0, 1).unwrap();
    assert_eq!(b.inputs[0], 1.0);
}
