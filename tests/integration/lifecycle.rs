//! The training lifecycle: interrupt and resume bit-identically, reproduce from config.yaml,
//! curricula, stopping rules, NaN handling, and never mixing two runs in one directory.

use crate::harness::{command, psychrnn, repo, stderr, weights_bits, TempDir};

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

use psychrnn::model::build_network;
use psychrnn::script::{load_experiment, LoadOptions};
use psychrnn::task::Task;
use psychrnn::train::checkpoint::{read_checkpoint, write_checkpoint};
use psychrnn::train::{new_optimizer, train_session, Hooks, StopReason, TrainState};

fn history_without_seconds(run: &Path) -> Vec<String> {
    std::fs::read_to_string(run.join("history.csv"))
        .unwrap()
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_string())
        .collect()
}

const SMALL: &[&str] = &[
    "--set",
    "model.n_rec=8",
    "--set",
    "model.rec_noise=0.05",
    "--set",
    "train.batch_size=16",
    "--set",
    "train.eval_every=50",
    "--set",
    "train.eval_trials=16",
    "--set",
    "train.test_trials=16",
    "--set",
    "train.checkpoint_every=25",
    "--set",
    "train.iterations=3000",
];

#[test]
fn sigint_then_resume_gives_the_weights_of_an_uninterrupted_run() {
    let dir = TempDir::new("life-sigint");
    let (full, cut) = (dir.join("full"), dir.join("cut"));
    let script = "scripts/perceptual_discrimination.rhai";
    let mut args = vec!["run", script, "--quiet", "--out", full.to_str().unwrap()];
    args.extend_from_slice(SMALL);
    assert!(psychrnn(&args).status.success());

    let mut args = vec!["run", script, "--quiet", "--out", cut.to_str().unwrap()];
    args.extend_from_slice(SMALL);
    let child = command(&repo(), &args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once the first checkpoint exists.
    let state = cut.join("checkpoint/state.yaml");
    for _ in 0..400 {
        if state.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(state.exists(), "no checkpoint appeared");
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("Resume with: psychrnn run --resume"), "{err}");
    let summary = std::fs::read_to_string(cut.join("summary.yaml")).unwrap();
    assert!(summary.contains("stop_reason: interrupted"), "{summary}");

    let o = psychrnn(&["run", "--resume", cut.to_str().unwrap(), "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        weights_bits(&full.join("weights.npz")),
        weights_bits(&cut.join("weights.npz")),
        "resumed weights differ"
    );
    assert_eq!(
        history_without_seconds(&full),
        history_without_seconds(&cut)
    );
    let o = psychrnn(&["run", "--resume", cut.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("nothing to resume"));
}

#[test]
fn config_yaml_reproduces_a_run_and_accepts_overrides() {
    let dir = TempDir::new("life-repro");
    let (a, b, c) = (dir.join("a"), dir.join("b"), dir.join("c"));
    let o = psychrnn(&[
        "run",
        "scripts/perceptual_discrimination.rhai",
        "--quiet",
        "--out",
        a.to_str().unwrap(),
        "--seed",
        "4",
        "--set",
        "model.n_rec=6",
        "--set",
        "train.iterations=20",
        "--set",
        "train.batch_size=8",
        "--set",
        "train.eval_trials=8",
        "--set",
        "train.test_trials=8",
        "--set",
        "train.optimizer=sgd",
        "--set",
        "train.lr_schedule=cosine",
        "--set",
        "train.clipping=global",
        "--set",
        "train.learning_rate=0.05",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let config = a.join("config.yaml");
    assert!(psychrnn(&[
        "run",
        config.to_str().unwrap(),
        "--quiet",
        "--out",
        b.to_str().unwrap()
    ])
    .status
    .success());
    assert_eq!(
        weights_bits(&a.join("weights.npz")),
        weights_bits(&b.join("weights.npz"))
    );
    let o = psychrnn(&[
        "run",
        config.to_str().unwrap(),
        "--quiet",
        "--out",
        c.to_str().unwrap(),
        "--set",
        "train.iterations=21",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_ne!(
        weights_bits(&a.join("weights.npz")),
        weights_bits(&c.join("weights.npz"))
    );
    let text = std::fs::read_to_string(c.join("config.yaml")).unwrap();
    assert!(
        text.contains("iterations: 21")
            && text.contains("seed: 4")
            && text.contains("optimizer: sgd"),
        "{text}"
    );

    let o = psychrnn(&[
        "run",
        config.to_str().unwrap(),
        "--out",
        c.to_str().unwrap(),
        "--set",
        "train.iterations=5",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("already holds a run"), "{}", stderr(&o));
    let o = psychrnn(&[
        "run",
        config.to_str().unwrap(),
        "--quiet",
        "--out",
        c.to_str().unwrap(),
        "--overwrite",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        weights_bits(&a.join("weights.npz")),
        weights_bits(&c.join("weights.npz")),
        "--overwrite replaced the run"
    );

    let o = psychrnn(&[
        "run",
        config.to_str().unwrap(),
        "--set",
        "train.iteratons=5",
    ]);
    assert!(
        stderr(&o).contains("did you mean `iterations`?"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_nan_loss_stops_with_advice_and_keeps_the_last_checkpoint() {
    let dir = TempDir::new("life-nan");
    let run = dir.join("r");
    let o = psychrnn(&[
        "run",
        "scripts/perceptual_discrimination.rhai",
        "--quiet",
        "--out",
        run.to_str().unwrap(),
        "--set",
        "train.learning_rate=1000000",
        "--set",
        "train.clip_grad_norm=null",
        "--set",
        "train.checkpoint_every=1",
        "--set",
        "model.transfer_function=linear",
        "--set",
        "train.batch_size=8",
        "--set",
        "model.n_rec=8",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("the loss became") && err.contains("learning rate"),
        "{err}"
    );
    assert!(err.contains("the last good checkpoint (iteration"), "{err}");
    assert!(run.join("checkpoint/tensors.npz").exists());
}

/// Runs `script` into `run` and returns history.csv and the stage of each row.
fn run_stages(script: &Path, run: &Path) -> (String, Vec<String>) {
    let o = psychrnn(&[
        "run",
        script.to_str().unwrap(),
        "--quiet",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let history = std::fs::read_to_string(run.join("history.csv")).unwrap();
    let stages = history
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(5).unwrap().to_string())
        .collect();
    (history, stages)
}

#[test]
fn curricula_advance_record_stages_and_validate_settings() {
    let dir = TempDir::new("life-curriculum");
    let script = dir.join("c.rhai");
    std::fs::write(
        &script,
        r#"
experiment(#{
    task: #{
        inputs: ["a"], outputs: ["b"], duration: 50.0,
        settings: #{ level: 1.0 },
        params: |rng, s| #{ level: s.level },
        trial: |p| [ #{ name: "only", input: p.level, target: p.level } ],
    },
    curriculum: [
        #{ name: "first", settings: #{ level: 0.5 }, advance: #{ accuracy: 0.0, consecutive: 2 } },
        #{ name: "second", advance: |s| if s.accuracies.len() >= 3 { "stop" } else { #{ level: 2.0 * s.settings.level } } },
    ],
    model: #{ n_rec: 4 },
    train: #{ iterations: 100, batch_size: 4, eval_every: 5, eval_trials: 4, test_trials: 4 },
});
"#,
    )
    .unwrap();
    let run = dir.join("r");
    let (history, stages) = run_stages(&script, &run);
    // Two evaluations meet the threshold in "first"; "second" stops on its third evaluation.
    assert_eq!(
        stages,
        ["first", "first", "second", "second", "second"],
        "{history}"
    );
    let summary = std::fs::read_to_string(run.join("summary.yaml")).unwrap();
    assert!(summary.contains("stop_reason: curriculum"), "{summary}");
    assert!(
        summary.contains("- name: second\n  began_at_iteration: 11"),
        "{summary}"
    );

    // Stage settings must exist in the task's settings.
    let bad = dir.join("bad.rhai");
    std::fs::write(
        &bad,
        std::fs::read_to_string(&script)
            .unwrap()
            .replace("settings: #{ level: 0.5 }", "settings: #{ levle: 0.5 }"),
    )
    .unwrap();
    let o = psychrnn(&[
        "run",
        bad.to_str().unwrap(),
        "--out",
        dir.join("bad").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("curriculum[0]")
            && err.contains("task setting `levle` does not exist")
            && err.contains("did you mean `level`?"),
        "{err}"
    );
    assert!(!dir.join("bad").exists());
}

#[test]
fn the_library_resumes_a_curriculum_and_sgd_bit_identically() {
    let path = repo().join("scripts/curriculum_coherence.rhai");
    let options = LoadOptions {
        overrides: [
            "model.n_rec=6",
            "train.batch_size=8",
            "train.eval_every=5",
            "train.eval_trials=8",
            "train.iterations=60",
            "train.optimizer=sgd",
            "train.learning_rate=0.05",
            "model.rec_noise=0.05",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect(),
        ..LoadOptions::default()
    };
    let loaded = load_experiment(&path, &options).unwrap();
    let config = loaded.config.clone();
    let curriculum = loaded.curriculum().unwrap();
    let dir = TempDir::new("life-library");
    let build = || {
        build_network(
            &config.model,
            loaded.task.shape(),
            config.seed,
            Path::new("."),
        )
        .unwrap()
        .network
    };
    // `interval`: also checkpoint by time; Duration::ZERO checkpoints after every iteration,
    // which must not change where training ends up.
    let run = |stop_at: Option<usize>, resume: bool, interval: Option<std::time::Duration>| {
        let model = build();
        let mut checkpoints = 0;
        let mut optimizer = new_optimizer(model.as_ref(), &config.train).unwrap();
        let mut state = if resume {
            read_checkpoint(&dir.join("checkpoint"), model.as_ref(), &mut optimizer).unwrap()
        } else {
            TrainState::new(curriculum.as_ref())
        };
        let stop = AtomicBool::new(false);
        let outcome = train_session(
            model.as_ref(),
            curriculum.as_ref(),
            &config.train,
            config.model.loss,
            config.seed,
            &mut state,
            &mut optimizer,
            Hooks {
                on_row: &mut |_| {},
                on_iteration: &mut |i, _| {
                    if Some(i) == stop_at {
                        stop.store(true, Ordering::SeqCst);
                    }
                },
                on_checkpoint: &mut |s, o| {
                    checkpoints += 1;
                    write_checkpoint(&dir.join("checkpoint"), model.as_ref(), s, o)
                },
                on_stage_end: &mut |_, _| Ok(()),
                checkpoint_interval: interval,
                stop: &stop,
            },
        )
        .unwrap();
        if let (Some(std::time::Duration::ZERO), Some(k)) = (interval, stop_at) {
            assert_eq!(checkpoints, k + 1, "one per iteration and one at the stop");
        }
        let bits: Vec<Vec<u32>> = model
            .trainable()
            .iter()
            .map(|t| {
                t.var
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap()
                    .iter()
                    .map(|x| x.to_bits())
                    .collect()
            })
            .collect();
        (outcome, bits, state)
    };
    let (whole, whole_bits, whole_state) = run(None, false, None);
    let (first, _, _) = run(Some(23), false, Some(std::time::Duration::ZERO));
    assert_eq!(first.stop_reason, StopReason::Interrupted);
    assert_eq!(first.iterations, 23);
    let (rest, rest_bits, rest_state) = run(None, true, None);
    assert_eq!(rest.iterations, whole.iterations);
    assert_eq!(rest_bits, whole_bits, "weights after resume");
    assert_eq!(rest_state.curriculum, whole_state.curriculum);
    assert!(
        whole_state.curriculum.stage_starts.len() >= 2,
        "the curriculum advanced: {:?}",
        whole_state.curriculum
    );
    let strip = |h: &[psychrnn::train::HistoryRow]| {
        h.iter()
            .map(|r| {
                (
                    r.iteration,
                    r.loss.to_bits(),
                    r.accuracy.to_bits(),
                    r.stage.clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&rest.history), strip(&whole.history));
}

#[test]
fn a_wall_time_cap_stops_training() {
    let dir = TempDir::new("life-time");
    let run = dir.join("r");
    let o = psychrnn(&[
        "run",
        "scripts/perceptual_discrimination.rhai",
        "--quiet",
        "--out",
        run.to_str().unwrap(),
        "--set",
        "train.max_seconds=0.3",
        "--set",
        "train.iterations=100000",
        "--set",
        "model.n_rec=8",
        "--set",
        "train.batch_size=8",
        "--set",
        "train.test_trials=8",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary = std::fs::read_to_string(run.join("summary.yaml")).unwrap();
    assert!(summary.contains("stop_reason: time_limit"), "{summary}");
}

#[test]
fn a_stage_can_train_a_task_of_its_own() {
    let dir = TempDir::new("life-stage-task");
    let text = r#"
let short = #{
    inputs: ["a"], outputs: ["b"], duration: 30.0,
    params: |rng| #{ kind: "short" },
    trial: |p| [ #{ name: "only", input: 1.0, target: 1.0 } ],
};
experiment(#{
    task: #{
        inputs: ["a"], outputs: ["b"], duration: 80.0,
        params: |rng| #{ kind: "long" },
        trial: |p| [ #{ name: "only", input: 0.5, target: 0.5 } ],
    },
    curriculum: [ #{ name: "short", task: short, advance: 0.0 }, #{ name: "long" } ],
    model: #{ n_rec: 4 },
    train: #{ iterations: 20, batch_size: 4, eval_every: 5, eval_trials: 4, test_trials: 4 },
});
"#;
    let script = dir.join("s.rhai");
    std::fs::write(&script, text).unwrap();
    let run = dir.join("r");
    let (history, stages) = run_stages(&script, &run);
    assert_eq!(stages, ["short", "long", "long", "long"], "{history}");
    let config = std::fs::read_to_string(run.join("config.yaml")).unwrap();
    assert!(
        config.contains("duration: 30.0"),
        "the stage's task data is recorded:\n{config}"
    );

    std::fs::write(
        &script,
        text.replace(
            r#"inputs: ["a"], outputs: ["b"], duration: 30.0"#,
            r#"inputs: ["x"], outputs: ["b"], duration: 30.0"#,
        ),
    )
    .unwrap();
    let o = psychrnn(&[
        "run",
        script.to_str().unwrap(),
        "--out",
        dir.join("bad").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(
            "config field `curriculum[0].task`: a stage's task must have the main task's inputs"
        ),
        "{}",
        stderr(&o)
    );
}
