//! Script tasks: the bundled PerceptualDiscrimination script against PsychRNN's own
//! trial_function, imports, the shared rng, and batch reproducibility.

use std::path::{Path, PathBuf};

use psychrnn::random::{stream, Rng};
use psychrnn::script::{load_experiment, LoadOptions};
use psychrnn::task::{generate_batch, BatchPrefetcher, ConditionValue, Task};

use crate::harness::{repo, TempDir};

/// PsychRNN's `PerceptualDiscrimination.trial_function`, step by step, with the same draws
/// in the order the script makes them. Returns (inputs, targets, mask, coherence, direction).
#[allow(clippy::type_complexity)]
fn psychrnn_pd_trial(rng: &mut Rng) -> (Vec<f32>, Vec<f32>, Vec<f32>, f64, usize) {
    let (dt, t_total) = (10.0f64, 2000.0f64);
    let coherence = [0.1, 0.3, 0.5, 0.7][rng.below(4) as usize];
    let direction = rng.below(2) as usize;
    let onset = rng.uniform_range(0.0, t_total / 2.0);
    let stim_dur = rng.uniform_range(t_total / 8.0, 3.0 * t_total / 8.0);
    let noise_std = (2.0f64 * 0.01 * 10f64.sqrt() * dt.sqrt() * 0.1 * 0.1).sqrt();
    let (mut x, mut y, mut m) = (vec![], vec![], vec![]);
    for step in 0..200 {
        let t = step as f64 * dt;
        let mut xt = [rng.normal() * noise_std, rng.normal() * noise_std];
        let mut yt = [0.0, 0.0];
        if onset < t && t < onset + stim_dur {
            xt[direction] += 1.0 + coherence;
            xt[1 - direction] += 1.0;
        }
        if t > onset + stim_dur + 20.0 {
            yt[direction] = 1.0;
            yt[1 - direction] = 0.2;
        }
        let mt = if t < onset + stim_dur { 0.0 } else { 1.0 };
        x.extend(xt.map(|v| v as f32));
        y.extend(yt.map(|v| v as f32));
        m.extend([mt as f32; 2]);
    }
    (x, y, m, coherence, direction)
}

#[test]
fn perceptual_discrimination_script_reproduces_psychrnn_trials() {
    let loaded = load_experiment(
        &repo().join("scripts/perceptual_discrimination.rhai"),
        &LoadOptions::default(),
    )
    .unwrap();
    let task = loaded.task.clone();
    assert_eq!(task.shape().n_steps(), 200);
    let (seed, batch_index, n) = (13, 4, 32);
    let batch = generate_batch(task.as_ref(), seed, stream::TRAIN, batch_index, n).unwrap();
    let mut directions = [0; 2];
    for i in 0..n {
        let mut rng = Rng::derive(seed, &[stream::TRAIN, batch_index, i as u64]);
        let (x, y, m, coherence, direction) = psychrnn_pd_trial(&mut rng);
        let at = |v: &[f32], k: usize| v[i * 400 + k];
        for k in 0..400 {
            assert!(
                (at(&batch.inputs, k) - x[k]).abs() < 1e-6,
                "trial {i} input {k}"
            );
            assert_eq!(at(&batch.targets, k), y[k], "trial {i} target {k}");
            assert_eq!(at(&batch.mask, k), m[k], "trial {i} mask {k}");
        }
        let c = &batch.conditions[i];
        assert_eq!(c["coherence"], ConditionValue::Number(coherence));
        assert_eq!(c["direction"], ConditionValue::Number(direction as f64));
        assert!(c.contains_key("onset") && c.contains_key("stimulus"));
        directions[direction] += 1;
    }
    assert!(directions[0] > 0 && directions[1] > 0);
}

#[test]
fn prefetched_batches_equal_directly_generated_ones() {
    let loaded = load_experiment(
        &repo().join("scripts/perceptual_discrimination.rhai"),
        &LoadOptions::default(),
    )
    .unwrap();
    let task: std::sync::Arc<dyn Task> = loaded.task.clone();
    let mut prefetch = BatchPrefetcher::start(task.clone(), 9, stream::TRAIN, 2, 8, 2);
    for k in 2..5 {
        let direct = generate_batch(task.as_ref(), 9, stream::TRAIN, k, 8).unwrap();
        assert_eq!(prefetch.next_batch().unwrap(), direct);
    }
    let other = generate_batch(task.as_ref(), 9, stream::EVAL, 2, 8).unwrap();
    assert_ne!(
        other.inputs,
        generate_batch(task.as_ref(), 9, stream::TRAIN, 2, 8)
            .unwrap()
            .inputs
    );
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn closures_use_imported_modules_and_rng_is_shared_with_helpers() {
    let dir = TempDir::new("script-imports");
    let lab = dir.join("lab_library");
    std::fs::create_dir_all(&lab).unwrap();
    write(&lab, "timing.rhai", "/// A stimulus level from the lab's shared library.\nfn level(rng) { 2.0 + rng.uniform() }\n");
    let script = write(
        &dir.join("."),
        "exp.rhai",
        r#"
import "psychrnn/compat" as compat;
import "timing" as timing;
fn draw(rng) { rng.uniform() }
experiment(#{
    task: #{
        inputs: ["a"], outputs: ["b"], duration: 30.0,
        params: |rng| #{ first: draw(rng), second: draw(rng), level: timing::level(rng), noise: compat::input_noise_std(10.0, 0.1) },
        trial: |p| [ #{ name: "only", input: p.level, target: [p.first] } ],
    },
});
"#,
    );
    // Without the lab folder on the search path the import fails and lists where it looked.
    let err = load_experiment(&script, &LoadOptions::default())
        .err()
        .expect("import must fail")
        .to_string();
    assert!(err.contains("exp.rhai:3:8"), "{err}");
    assert!(err.contains("timing not found; searched:"), "{err}");
    assert!(
        err.contains(&dir.join("timing.rhai").display().to_string()),
        "{err}"
    );

    let options = LoadOptions {
        lib_dirs: vec![lab.clone()],
        ..LoadOptions::default()
    };
    let loaded = load_experiment(&script, &options).unwrap();
    let batch = generate_batch(loaded.task.as_ref(), 1, stream::TRAIN, 0, 3).unwrap();
    let mut rng = Rng::derive(1, &[stream::TRAIN, 0, 0]);
    let (first, second, level) = (rng.uniform(), rng.uniform(), 2.0 + rng.uniform());
    let c = &batch.conditions[0];
    assert_eq!(c["first"], ConditionValue::Number(first));
    assert_eq!(
        c["second"],
        ConditionValue::Number(second),
        "the helper must advance the same stream"
    );
    assert_eq!(c["level"], ConditionValue::Number(level));
    assert_eq!(batch.inputs[0], level as f32);
    assert_eq!(batch.targets[0], first as f32);
}

#[test]
fn a_script_that_declares_nothing_says_what_to_do() {
    let dir = TempDir::new("script-nothing");
    let p = write(&dir, "empty.rhai", "let x = 1;\n");
    let err = load_experiment(&p, &LoadOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.ends_with(
            "the script declares no experiment: call experiment(#{ task: …, model: …, train: … })"
        ),
        "{err}"
    );
    let p = write(&dir, "notask.rhai", "experiment(#{ task: #{ inputs: [\"a\"], outputs: [\"b\"], duration: 10.0, trial: |p| [] } });\n");
    let err = load_experiment(&p, &LoadOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("task.params is missing; it should be a closure like |rng|"),
        "{err}"
    );
}

#[test]
fn endless_loops_in_trial_closures_are_stopped() {
    let dir = TempDir::new("script-loop");
    let p = write(
        &dir,
        "spin.rhai",
        "experiment(#{ task: #{ inputs: [\"a\"], outputs: [\"b\"], duration: 10.0, params: |rng| { loop { } }, trial: |p| [] } });\n",
    );
    let loaded = load_experiment(&p, &LoadOptions::default()).unwrap();
    let err = generate_batch(loaded.task.as_ref(), 0, stream::TRAIN, 0, 1)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("task `task`, trial 0: "), "{err}");
    assert!(
        err.contains("spin.rhai") && err.contains("endless loop") && err.contains("in task.params"),
        "{err}"
    );
}

/// A per-step closure's bad return value is reported with the trial, the step and its time,
/// and what was wrong.
#[test]
fn per_step_errors_name_the_step_and_what_is_wrong() {
    let dir = TempDir::new("script-step_errors");
    for (name, step, expected) in [
        (
            "shape.rhai",
            "|t, p| if t < 20.0 { [0.0, 0.0, 1.0] } else { 3.0 }",
            "step 2 (t = 20 ms): task.step must return [input, target, mask], got f64",
        ),
        (
            "channels.rhai",
            "|t, p| [[1.0, 2.0], 0.0, 1.0]",
            "step 0 (t = 0 ms): input: 2 values given but the task has 1 channels (a)",
        ),
        (
            "finite.rhai",
            "|t, p| if t > 30.0 { [0.0, 1.0 / 0.0, 1.0] } else { [0.0, 0.0, 1.0] }",
            "step 4 (t = 40 ms): target of channel 0 (b) is inf; values must be finite numbers",
        ),
    ] {
        let p = write(
            &dir,
            name,
            &format!(
                "experiment(#{{ task: #{{ inputs: [\"a\"], outputs: [\"b\"], dt: 10.0, duration: 100.0, params: |rng| #{{}}, step: {step} }} }});\n"
            ),
        );
        let loaded = load_experiment(&p, &LoadOptions::default()).unwrap();
        let err = generate_batch(loaded.task.as_ref(), 0, stream::TRAIN, 0, 1)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("task `task`, trial 0: "), "{name}: {err}");
        assert!(err.contains(expected), "{name}: {err}");
    }
}

/// Loads a script and draws one batch.
fn batch_of(path: &Path, seed: u64, n: usize) -> psychrnn::task::Batch {
    let loaded = load_experiment(path, &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    generate_batch(loaded.task.as_ref(), seed, stream::TRAIN, 0, n)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn epoch_and_per_step_forms_give_the_same_batches_for_psychrnns_three_tasks() {
    let tasks = repo().join("tests/tasks");
    let pairs = [
        (
            repo().join("scripts/perceptual_discrimination.rhai"),
            repo().join("scripts/perceptual_discrimination_steps.rhai"),
        ),
        (
            tasks.join("romo_epochs.rhai"),
            tasks.join("romo_steps.rhai"),
        ),
        (tasks.join("mtc_epochs.rhai"), tasks.join("mtc_steps.rhai")),
    ];
    for (epochs, steps) in pairs {
        let a = batch_of(&epochs, 21, 24);
        let b = batch_of(&steps, 21, 24);
        let name = steps.display();
        assert_eq!(
            (a.n_steps, a.n_in, a.n_out),
            (b.n_steps, b.n_in, b.n_out),
            "{name}"
        );
        assert_eq!(a.conditions, b.conditions, "{name}");
        assert_eq!(a.targets, b.targets, "{name}");
        assert_eq!(a.mask, b.mask, "{name}");
        let max_diff = a
            .inputs
            .iter()
            .zip(&b.inputs)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(max_diff < 1e-6, "{name}: inputs differ by {max_diff}");
        // The batches are not trivial: targets and masked steps exist, inputs vary.
        assert!(a.mask.contains(&1.0) && a.mask.contains(&0.0), "{name}");
        assert!(a.targets.contains(&1.0), "{name}");
    }
}

#[test]
fn romo_trials_follow_psychrnns_protocol() {
    let b = batch_of(&repo().join("tests/tasks/romo_epochs.rhai"), 3, 16);
    for i in 0..16 {
        let c = &b.conditions[i];
        let num = |k: &str| match &c[k] {
            ConditionValue::Number(x) => *x,
            other => panic!("{k}: {other:?}"),
        };
        let (f1, f2, choice) = (num("f1"), num("f2"), num("choice") as usize);
        assert_eq!(choice, if f1 > f2 { 0 } else { 1 });
        assert_eq!((f1 - f2).abs(), 8.0);
        let decision_start = num("onset") + num("stim1") + num("delay") + num("stim2");
        for t in 0..200 {
            let time = t as f64 * 10.0;
            let m = b.mask[(i * 200 + t) * 2];
            let inside = time >= decision_start && time < decision_start + num("decision");
            assert_eq!(m, if inside { 1.0 } else { 0.0 }, "trial {i} step {t}");
            if inside {
                assert_eq!(b.targets[(i * 200 + t) * 2 + choice], 1.0);
            }
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_batch_on_any_number_of_threads() {
    let loaded = load_experiment(
        &repo().join("tests/tasks/romo_epochs.rhai"),
        &LoadOptions::default(),
    )
    .unwrap();
    let one = psychrnn::task::generate_batch_with_threads(
        loaded.task.as_ref(),
        5,
        stream::TRAIN,
        1,
        37,
        1,
    )
    .unwrap();
    for threads in [2, 3, 8] {
        let many = psychrnn::task::generate_batch_with_threads(
            loaded.task.as_ref(),
            5,
            stream::TRAIN,
            1,
            37,
            threads,
        )
        .unwrap();
        assert_eq!(one, many, "{threads} threads");
    }
}

#[test]
fn drawn_epoch_durations_are_recorded_as_conditions() {
    let dir = TempDir::new("script-durations");
    let p = write(
        &dir,
        "delay.rhai",
        r#"
experiment(#{ task: #{ inputs: ["a"], outputs: ["b"], duration: 1000.0,
    params: |rng| #{ side: rng.int(0, 1) },
    trial: |p| [
        #{ name: "stimulus", duration: 100, input: [1.0], mask: 0.0 },
        #{ name: "delay", duration: dist::trunc_exp(200, 100, 500), mask: 0.0 },
        #{ name: "response", target: [1.0] },
    ] } });
"#,
    );
    let b = batch_of(&p, 0, 50);
    for i in 0..50 {
        let ConditionValue::Number(d) = b.conditions[i]["delay_duration"] else {
            panic!()
        };
        assert!((100.0..=500.0).contains(&d) && d % 10.0 == 0.0, "{d}");
        let first_response = (0..100).find(|&t| b.mask[i * 100 + t] == 1.0).unwrap();
        assert_eq!(first_response as f64 * 10.0, 100.0 + d);
        assert!(
            !b.conditions[i].contains_key("stimulus_duration"),
            "fixed durations are not conditions"
        );
    }
}
