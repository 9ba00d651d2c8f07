//! Running a sweep on this machine: `jobs` runs at a time, each a `psychrnn run` child process
//! on one model thread with its output in `logs/NAME.log`. Runs already done are skipped; runs
//! started before resume from their checkpoints.

use std::collections::VecDeque;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use super::{run_arguments, run_state, RunState, SweepPlan, SweepRun};
use crate::run_dir::RunDir;

/// The exit status `psychrnn run` ends with when interrupted (resumable).
const INTERRUPTED: i32 = 130;

/// The process ids of the runs in progress, so a signal handler can pass a signal on to them.
#[derive(Debug, Default)]
pub struct RunningChildren(Mutex<Vec<u32>>);

impl RunningChildren {
    /// An empty registry (usable in a `static`).
    pub const fn new() -> Self {
        RunningChildren(Mutex::new(Vec::new()))
    }

    /// The process ids of the runs in progress now.
    pub fn pids(&self) -> Vec<u32> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Runs `command` to its end, registered while it runs.
    fn run(&self, mut command: Command) -> std::io::Result<std::process::ExitStatus> {
        // Spawned under the lock, so a signal handler never misses a child that started.
        let mut children = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut child = command.spawn()?;
        let pid = child.id();
        children.push(pid);
        drop(children);
        let status = child.wait();
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|&p| p != pid);
        status
    }
}

/// How one run of the sweep ended.
#[derive(Debug)]
pub enum SweepResult {
    /// Finished; its test accuracy from summary.yaml.
    Done {
        /// `final_accuracy`, if summary.yaml could be read.
        accuracy: Option<f64>,
    },
    /// Interrupted with its checkpoint written; it resumes when the sweep runs again.
    Interrupted,
    /// Exited with an error (`None`: killed by a signal); its log says why.
    Failed {
        /// The exit code.
        code: Option<i32>,
        /// Its log file.
        log: PathBuf,
    },
    /// Could not be started.
    NotStarted(std::io::Error),
}

/// Counts of the sweep's runs so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepTally {
    /// Runs in the sweep.
    pub total: usize,
    /// Finished (before this call or during it).
    pub done: usize,
    /// Failed.
    pub failed: usize,
    /// Interrupted.
    pub interrupted: usize,
}

/// Runs the sweep in `root` with the psychrnn binary `exe`, `jobs` runs at a time, until every
/// run has ended or `stop` is raised (then no new run starts). `children` holds the runs in
/// progress; `on_result` hears each run's end with the tally so far. Returns the final tally.
pub fn run_locally(
    plan: &SweepPlan,
    root: &Path,
    exe: &Path,
    jobs: usize,
    stop: &AtomicBool,
    children: &RunningChildren,
    on_result: &(dyn Fn(&SweepRun, &SweepResult, &SweepTally) + Sync),
) -> SweepTally {
    let todo: VecDeque<&SweepRun> = plan
        .runs
        .iter()
        .filter(|r| run_state(&SweepPlan::run_dir(root, r)) != RunState::Done)
        .collect();
    let tally = Mutex::new(SweepTally {
        total: plan.runs.len(),
        done: plan.runs.len() - todo.len(),
        ..SweepTally::default()
    });
    let queue = Mutex::new(todo);
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| loop {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let Some(run) = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front() else {
                    return;
                };
                let log_path = root.join("logs").join(format!("{}.log", run.name));
                let status = fs::File::create(&log_path).and_then(|log| {
                    let err = log.try_clone()?;
                    let mut command = Command::new(exe);
                    command
                        .args(run_arguments(plan, root, run))
                        .stdin(Stdio::null())
                        .stdout(log)
                        .stderr(err);
                    children.run(command)
                });
                let result = match status {
                    Ok(s) if s.success() => SweepResult::Done {
                        accuracy: RunDir::new(SweepPlan::run_dir(root, run))
                            .read_summary()
                            .ok()
                            .flatten()
                            .map(|s| s.final_accuracy),
                    },
                    Ok(s) if s.code() == Some(INTERRUPTED) => SweepResult::Interrupted,
                    Ok(s) => SweepResult::Failed {
                        code: s.code(),
                        log: log_path,
                    },
                    Err(e) => SweepResult::NotStarted(e),
                };
                let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
                match result {
                    SweepResult::Done { .. } => t.done += 1,
                    SweepResult::Interrupted => t.interrupted += 1,
                    _ => t.failed += 1,
                }
                on_result(run, &result, &t);
            });
        }
    });
    tally.into_inner().unwrap_or_else(|p| p.into_inner())
}
