//! The library as an embedder uses it (examples/embed.rs): training a script into a run
//! directory, reopening it and redrawing its report without the command line.

use std::sync::atomic::AtomicBool;

use crate::harness::{npz, repo, TempDir};
use psychrnn::pipeline::{
    open_trained, prepare_run, Destination, PipelineError, Prepared, RunObserver, RunRequest,
    RunStart, SilentObserver,
};
use psychrnn::run_dir::RunDirError;
use psychrnn::script::Override;
use psychrnn::train::{HistoryRow, StopReason};

/// Remembers what the run told it.
#[derive(Default)]
struct Recorder {
    started: Vec<(usize, bool)>,
    rows: Vec<HistoryRow>,
    iterations: Vec<usize>,
    steps: Vec<String>,
}

impl RunObserver for Recorder {
    fn started(&mut self, start: &RunStart) {
        self.started.push((start.iteration, start.resumed));
    }
    fn iteration(&mut self, iteration: usize, _loss: f64) {
        self.iterations.push(iteration);
    }
    fn evaluated(&mut self, row: &HistoryRow) {
        self.rows.push(row.clone());
    }
    fn finishing(&mut self, step: &str) {
        self.steps.push(step.to_string());
    }
}

fn tiny_request(out: &std::path::Path) -> RunRequest {
    let mut request = RunRequest::new(repo().join("scripts/perceptual_discrimination.rhai"));
    request.destination = Destination::Dir {
        path: out.to_path_buf(),
        overwrite: false,
    };
    for s in [
        "model.n_rec=8",
        "train.iterations=6",
        "train.eval_every=3",
        "train.batch_size=8",
        "train.eval_trials=16",
        "train.test_trials=16",
    ] {
        request = request.set(s.parse::<Override>().unwrap());
    }
    request
}

#[test]
fn a_script_trains_reopens_and_reports_through_the_library() {
    let tmp = TempDir::new("embed");
    let out = tmp.path().join("run");
    let mut seen = Recorder::default();
    let Prepared::Ready(run) = prepare_run(&tiny_request(&out), &mut seen).unwrap() else {
        panic!("a new run is ready to train");
    };
    assert_eq!(run.config().model.n_rec, 8);
    let finished = run.train(&mut seen, &AtomicBool::new(false)).unwrap();
    assert!(
        finished.report_error.is_none(),
        "{:?}",
        finished.report_error
    );
    assert_eq!(seen.started, vec![(0, false)]);
    assert_eq!(seen.iterations.last(), Some(&6));
    assert_eq!(
        seen.steps.first().map(String::as_str),
        Some("testing on 16 fresh trials and writing files…")
    );
    // What the observer heard is what the files hold.
    let run_dir = &finished.run;
    let history = run_dir.read_history().unwrap();
    assert_eq!(history.len(), seen.rows.len());
    assert_eq!(
        history.iter().map(|r| r.iteration).collect::<Vec<_>>(),
        seen.rows.iter().map(|r| r.iteration).collect::<Vec<_>>()
    );
    let summary = run_dir.read_summary().unwrap().unwrap();
    assert_eq!(summary, finished.summary);
    assert_eq!(summary.iterations, 6);
    assert_eq!(summary.stop_reason, StopReason::Iterations);

    // Reopened, the network is the one weights.npz holds.
    let trained = open_trained(&out, None, &[], Default::default()).unwrap();
    assert_eq!(trained.unfinished_at, None);
    let w = trained.rate_weights("a test").unwrap();
    let saved = npz(&run_dir.weights());
    let (shape, w_rec) = &saved["W_rec"];
    assert_eq!(shape, &vec![8, 8]);
    let reopened: Vec<f64> = w.w_rec.iter().map(|&v| f64::from(v)).collect();
    assert_eq!(&reopened, w_rec);
    let trials = psychrnn::trials_file::TrialRecord::read(&run_dir.trials()).unwrap();

    // Fresh trials (`psychrnn test`): the same seed gives the same trials and outputs, another
    // seed others; the accuracy is the share of verdicts; the record round-trips its file.
    let fresh = trained.test_fresh_trials(12, 5).unwrap();
    let again = trained.test_fresh_trials(12, 5).unwrap();
    let other = trained.test_fresh_trials(12, 6).unwrap();
    assert_eq!(fresh.batch, again.batch);
    assert_eq!(fresh.evaluation.outputs, again.evaluation.outputs);
    assert_ne!(fresh.batch.inputs, other.batch.inputs);
    let e = &fresh.evaluation;
    assert_eq!(e.outputs.len(), 12 * fresh.batch.n_steps * 2);
    assert_eq!(e.correct.len(), 12);
    let share = e.correct.iter().filter(|&&c| c).count() as f64 / 12.0;
    assert!(
        (e.accuracy - share).abs() < 1e-12,
        "{} vs {share}",
        e.accuracy
    );
    let outputs = e.outputs.clone();
    let written = tmp.path().join("fresh.npz");
    fresh
        .into_record(psychrnn::task::Task::shape(trained.loaded.task.as_ref()))
        .write(&written)
        .unwrap();
    let read = psychrnn::trials_file::TrialRecord::read(&written).unwrap();
    assert_eq!(read.outputs, outputs);
    assert_eq!(read.n_trials, 12);
    drop(trained);
    std::fs::remove_dir_all(run_dir.report_dir()).unwrap();
    let index =
        psychrnn::report::write_report(run_dir, &summary_config(&out), &trials, Some(&w)).unwrap();
    assert!(index.ends_with("report/index.html") && index.exists());
    assert_eq!(
        run_dir.read_analysis().unwrap().unwrap().test_trials,
        16,
        "analysis.yaml counts the test trials"
    );
}

fn summary_config(out: &std::path::Path) -> psychrnn::experiment::ExperimentConfig {
    psychrnn::run_dir::RunDir::new(out)
        .read_record()
        .unwrap()
        .experiment
}

#[test]
fn a_stopped_run_keeps_its_checkpoint_and_resumes_to_the_end() {
    let tmp = TempDir::new("embed-stop");
    let out = tmp.path().join("run");
    let Prepared::Ready(run) = prepare_run(&tiny_request(&out), &mut SilentObserver).unwrap()
    else {
        panic!("a new run is ready to train");
    };
    // Raised before the first iteration: the run stops after it, checkpointed.
    let finished = run
        .train(&mut SilentObserver, &AtomicBool::new(true))
        .unwrap();
    assert_eq!(finished.summary.stop_reason, StopReason::Interrupted);
    assert!(finished.summary.iterations < 6);
    let resume = RunRequest {
        script: None,
        options: Default::default(),
        destination: Destination::Resume(out.clone()),
        kernel: Default::default(),
    };
    let mut seen = Recorder::default();
    let Prepared::Ready(run) = prepare_run(&resume, &mut seen).unwrap() else {
        panic!("an interrupted run is ready to resume");
    };
    let finished = run.train(&mut seen, &AtomicBool::new(false)).unwrap();
    assert_eq!(seen.started.len(), 1);
    assert!(seen.started[0].1, "told it resumed");
    assert_eq!(finished.summary.iterations, 6);
    assert_eq!(finished.summary.stop_reason, StopReason::Iterations);
    // A finished run has nothing to resume.
    assert!(matches!(
        prepare_run(&resume, &mut SilentObserver).unwrap(),
        Prepared::AlreadyFinished { .. }
    ));
}

#[test]
fn pipeline_errors_say_what_is_wrong_and_whose_to_fix() {
    let tmp = TempDir::new("embed-errors");
    let missing = RunRequest::new(tmp.path().join("no-such-script.rhai"));
    let e = prepare_run(&missing, &mut SilentObserver).err().unwrap();
    assert!(matches!(e, PipelineError::Load(_)), "{e:?}");
    assert!(e.is_bad_input());
    assert!(e.to_string().contains("no-such-script.rhai"), "{e}");

    let out = tmp.path().join("run");
    let Prepared::Ready(run) = prepare_run(&tiny_request(&out), &mut SilentObserver).unwrap()
    else {
        panic!("a new run is ready to train");
    };
    drop(run);
    // The directory now holds a run (config.yaml): a second run there is refused.
    let e = prepare_run(&tiny_request(&out), &mut SilentObserver)
        .err()
        .unwrap();
    assert!(
        matches!(e, PipelineError::RunDir(RunDirError::Taken { .. })),
        "{e:?}"
    );
    assert!(e.is_bad_input());
    assert!(e.to_string().contains("--overwrite"), "{e}");
}
