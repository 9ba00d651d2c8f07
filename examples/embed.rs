//! Embedding psychrnn: train a bundled script into a run directory, then redraw its report
//! and read its results back, through public library calls only (what `psychrnn run` and
//! `psychrnn report` do, without the command line).
//!
//! Run: `cargo run --release --example embed [OUT_DIR]` (default `runs/embed-example`).

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use psychrnn::pipeline::{
    open_trained, prepare_run, Destination, Prepared, RunObserver, RunRequest, RunStart,
};
use psychrnn::report::write_report;
use psychrnn::script::Override;
use psychrnn::train::HistoryRow;
use psychrnn::trials_file::TrialRecord;

/// Prints one line per evaluation.
struct Lines;

impl RunObserver for Lines {
    fn started(&mut self, start: &RunStart) {
        println!(
            "training {} into {}",
            start.config.name,
            start.run.display()
        );
    }
    fn evaluated(&mut self, row: &HistoryRow) {
        println!(
            "iteration {:>4}: accuracy {:.3}",
            row.iteration, row.accuracy
        );
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("runs/embed-example"), PathBuf::from);
    // A small network for a quick example; every setting a script has can be overridden.
    let mut request = RunRequest::new("scripts/perceptual_discrimination.rhai");
    request.destination = Destination::Dir {
        path: out.clone(),
        overwrite: true,
    };
    for setting in [
        "model.n_rec=20",
        "train.iterations=40",
        "train.eval_every=20",
    ] {
        request = request.set(setting.parse::<Override>()?);
    }
    let stop = AtomicBool::new(false);
    let finished = match prepare_run(&request, &mut Lines)? {
        Prepared::Ready(run) => run.train(&mut Lines, &stop)?,
        Prepared::AlreadyFinished { run, .. } => {
            return Err(format!("{} is already finished", run.root().display()).into())
        }
    };
    println!(
        "test accuracy {:.3} after {} iterations",
        finished.summary.final_accuracy, finished.summary.iterations
    );

    // Reopen the run as `psychrnn report` does and redraw its report.
    let trained = open_trained(&out, None, &[], Default::default())?;
    let trials = TrialRecord::read(&trained.run.trials())?;
    let weights = trained.rate_weights("embed")?;
    let index = write_report(
        &trained.run,
        &trained.record.experiment,
        &trials,
        Some(&weights),
    )?;
    let analysis = trained
        .run
        .read_analysis()?
        .expect("the report wrote analysis.yaml");
    println!(
        "report: {}; {} test trials analysed, accuracy {:.3}",
        index.display(),
        analysis.test_trials,
        analysis.accuracy
    );
    Ok(())
}
