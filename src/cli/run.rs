//! `psychrnn run`: train the experiment a script declares (or reproduce one from a run's
//! `config.yaml`, or resume an interrupted run) and write its run directory.

use std::cell::RefCell;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::anyhow;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::script_args::ScriptOptions;
use super::CliError;
use psychrnn::kernel::KernelOptions;
use psychrnn::pipeline::{prepare_run, Destination, Prepared, RunObserver, RunRequest, RunStart};
use psychrnn::run_dir::absolute;
use psychrnn::train::{HistoryRow, StopReason};

/// Arguments of `psychrnn run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The experiment script (.rhai), or a run's config.yaml to reproduce that run.
    pub script: Option<PathBuf>,
    /// How to resolve the script.
    #[command(flatten)]
    pub options: ScriptOptions,
    /// Run directory [default: runs/NAME with the experiment's NAME, or runs/NAME-2, … if taken].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the interrupted run in this directory from its last checkpoint.
    #[arg(long, value_name = "RUN_DIR", conflicts_with = "out")]
    pub resume: Option<PathBuf>,
    /// Replace the run already in --out.
    #[arg(long)]
    pub overwrite: bool,
    /// Print nothing but errors and the run directory.
    #[arg(long, short)]
    pub quiet: bool,
    /// Threads for the model's matrix products [default: all cores; RAYON_NUM_THREADS if set].
    /// Trial generation runs on threads of its own.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
}

/// Raised by Ctrl-C / SIGTERM: training stops at the end of the current iteration.
static STOP: AtomicBool = AtomicBool::new(false);

fn install_stop_handler() {
    // A second installation in the same process (tests) fails harmlessly.
    let _ = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            std::process::exit(super::ExitStatus::Interrupted.code());
        }
        eprintln!("\nstopping after this iteration (press Ctrl-C again to quit at once)");
    });
}

/// Prints what the run does: a progress bar on a terminal, one line per evaluation
/// otherwise, nothing but notes with `--quiet`.
struct Progress {
    quiet: bool,
    threads: usize,
    total: usize,
    bar: Option<ProgressBar>,
    staged: bool,
    last_eval: RefCell<String>,
    session_start: (std::time::Instant, usize),
    batch_size: f64,
}

impl Progress {
    fn new(quiet: bool, threads: usize) -> Self {
        Progress {
            quiet,
            threads,
            total: 0,
            bar: None,
            staged: false,
            last_eval: RefCell::new(String::new()),
            session_start: (std::time::Instant::now(), 0),
            batch_size: 1.0,
        }
    }
}

impl RunObserver for Progress {
    fn note(&mut self, text: &str) {
        eprintln!("note: {text}");
    }

    fn started(&mut self, start: &RunStart) {
        let config = &start.config;
        self.total = config.train.iterations;
        self.staged = start.staged;
        self.batch_size = config.train.batch_size as f64;
        self.session_start = (std::time::Instant::now(), start.iteration);
        if self.quiet {
            return;
        }
        let verb = if start.resumed {
            format!("resuming at iteration {}", start.iteration)
        } else {
            "training".into()
        };
        let threads = if self.threads == 1 {
            String::new()
        } else {
            format!(" on {} threads", self.threads)
        };
        outln!(
            "psychrnn {}: {} — {} units{threads}, {} iterations of {} trials, {verb} → {}",
            env!("CARGO_PKG_VERSION"),
            config.name,
            config.model.n_rec,
            config.train.iterations,
            config.train.batch_size,
            start.run.display()
        );
        self.bar = std::io::stdout().is_terminal().then(|| {
            let bar = ProgressBar::new(self.total as u64);
            bar.set_style(
                ProgressStyle::with_template("{bar:20} {pos}/{len} {msg} {elapsed}<{eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_position(start.iteration as u64);
            bar
        });
    }

    fn iteration(&mut self, i: usize, loss: f64) {
        if let Some(b) = &self.bar {
            let done = (i - self.session_start.1) as f64 * self.batch_size;
            let rate = done / self.session_start.0.elapsed().as_secs_f64().max(1e-9);
            b.set_message(format!(
                "loss {loss:.4} {} {rate:.0} trials/s",
                self.last_eval.borrow()
            ));
            b.set_position(i as u64);
        }
    }

    fn evaluated(&mut self, row: &HistoryRow) {
        let stage = if self.staged {
            format!("  stage {}", row.stage)
        } else {
            String::new()
        };
        *self.last_eval.borrow_mut() = format!("acc {:.3}{stage}", row.accuracy);
        if self.bar.is_none() && !self.quiet {
            outln!(
                "iter {:>6}/{}  loss {:.5}  eval loss {:.5}  accuracy {:.3}{stage}  {:>7.1}s",
                row.iteration,
                self.total,
                row.loss,
                row.eval_loss,
                row.accuracy,
                row.seconds
            );
        }
    }

    fn finishing(&mut self, step: &str) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
        if !self.quiet {
            outln!("{step}");
        }
    }
}

/// Runs `psychrnn run`.
pub fn execute(args: &RunArgs) -> Result<(), CliError> {
    let destination = match (&args.resume, &args.out) {
        (Some(dir), _) => Destination::Resume(dir.clone()),
        (None, Some(dir)) => Destination::Dir {
            path: dir.clone(),
            overwrite: args.overwrite,
        },
        (None, None) => Destination::New {
            parent: PathBuf::from("runs"),
        },
    };
    let threads = super::threads::for_run(args.threads.map(usize::from));
    let request = RunRequest {
        script: args.script.clone(),
        options: args.options.load_options(),
        destination,
        kernel: KernelOptions::with_threads(threads),
    };
    let mut progress = Progress::new(args.quiet, threads);
    let run = match prepare_run(&request, &mut progress).map_err(CliError::pipeline)? {
        Prepared::AlreadyFinished { run, reason } => {
            outln!(
                "{} already finished ({reason:?}); nothing to resume",
                run.root().display()
            );
            return Ok(());
        }
        Prepared::Ready(run) => run,
    };
    for note in run.build_notes() {
        eprintln!("note: {note}");
    }
    install_stop_handler();
    let test_trials = run.config().train.test_trials;
    let finished = run
        .train(&mut progress, &STOP)
        .map_err(CliError::pipeline)?;
    if let Some(b) = progress.bar.take() {
        b.finish_and_clear();
    }
    let (root, summary) = (finished.run.root(), &finished.summary);
    if let Some(e) = &finished.report_error {
        eprintln!("warning: the report could not be drawn: {e:#} (the run's other files are written; try psychrnn report {})", root.display());
    }
    if args.quiet {
        outln!("{}", root.display());
    } else {
        outln!(
            "done: test accuracy {:.3} on {test_trials} fresh trials after {} iterations ({:.1} s); files in {}",
            summary.final_accuracy,
            summary.iterations,
            summary.wall_seconds,
            root.display()
        );
        if let Some(by) = &summary.accuracy_by {
            let parts: Vec<String> = by
                .groups
                .iter()
                .map(|g| format!("{} {:.3} ({})", g.value, g.accuracy, g.trials))
                .collect();
            outln!("accuracy by {}: {}", by.condition, parts.join(", "));
        }
    }
    for w in &summary.warnings {
        eprintln!("warning: {w}");
    }
    if summary.stop_reason == StopReason::Interrupted {
        return Err(CliError::interrupted(anyhow!(
            "interrupted at iteration {}; checkpoint written. Resume with: psychrnn run --resume {}",
            summary.iterations,
            absolute(root).display()
        )));
    }
    Ok(())
}
