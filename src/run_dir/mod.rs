//! The run directory: the one owner of a run's files. Every file a run holds is named here,
//! written atomically (temporary file, rename) through a typed definition, and read back
//! through the same definition; nothing else joins a run file's name or parses its text.
//!
//! | file | type | written by |
//! |---|---|---|
//! | `config.yaml` | [`RunRecord`] | `run`, before training |
//! | `script/` | copies of the script and its imported modules | `run`, before training |
//! | `history.csv` | [`crate::train::HistoryRow`] per line ([`history`]) | `run`, each evaluation |
//! | `checkpoint/` | [`crate::train::checkpoint`] | `run`, every `checkpoint_every` iterations or minute |
//! | `weights.npz`, `trials.npz` | [`crate::model`], [`crate::trials_file`] | `run` at the end, `test` |
//! | `stages/stage_<k>.npz` | [`crate::train::checkpoint::write_parameters`]: the parameters curriculum stage k ended with | `run`, when a stage ends |
//! | `summary.yaml` | [`RunSummary`], written last: it marks the run finished | `run` at the end |
//! | `analysis.yaml`, `analysis.npz` | [`AnalysisFile`]: the report's numbers | the report |
//! | `.lock` | [`RunLock`]: the process that owns the directory | every command that writes |

mod analysis;
mod behaviour_analysis;
mod bundle;
mod fixed_points;
pub mod history;
mod lock;
mod record;
mod slow_points;
mod summary;
mod tdr;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

pub use crate::atomic_file::{write_atomic, write_atomic_with};
pub use crate::experiment::is_plain_name;
pub use crate::format_version::FORMAT_VERSION;
pub use analysis::{
    AnalysisArrays, AnalysisFile, ChoiceFraction, ChronometricAnalysis, FixedPointLocation,
    FixedPointsAnalysis, PcaAnalysis, PsychometricAnalysis, ReactionTimePoint, StageAnalysis,
};
pub use behaviour_analysis::{
    ClusterCountSilhouette, GoNogoAnalysis, IntervalTimingAnalysis, MatrixCell, ProducedInterval,
    PsychometricMatrixAnalysis, TaskCluster, TaskVarianceAnalysis,
};
pub use bundle::{absolute, ScriptSource};
pub use fixed_points::FixedPointsFile;
pub use history::{read_history, write_history};
pub use lock::RunLock;
pub use record::{BundledFile, RecordError, RunRecord};
pub use slow_points::{ContextSlowPoints, SlowPointRecord, SlowPointsFile};
pub use summary::{AccuracyByCondition, ConditionAccuracy, ConditionLabel, RunSummary, StageStart};
pub use tdr::{TdrAnalysis, TdrTrajectory};

/// What can go wrong with a run directory.
#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// A file is there but its content is not what psychrnn writes.
    #[error("{}: {message}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The directory holds no run (no config.yaml).
    #[error("{} holds no run (no config.yaml); give the directory `psychrnn run` wrote", dir.display())]
    NotARun {
        /// The directory.
        dir: PathBuf,
    },
    /// Another process owns the directory.
    #[error("{} is in use by {holder}; wait for it to finish, or choose another directory", dir.display())]
    Busy {
        /// The directory.
        dir: PathBuf,
        /// Who holds it ("psychrnn process 1234").
        holder: String,
    },
    /// The directory already holds a run.
    #[error("{dir} already holds a run; choose another --out, pass --overwrite to replace it, or --resume {dir} to continue it", dir = dir.display())]
    Taken {
        /// The directory.
        dir: PathBuf,
    },
    /// A name that must be a plain file name is a path or empty.
    #[error("experiment name {name:?} cannot name a run directory: use letters, digits, '-', '_' and '.', not starting with '.'")]
    BadName {
        /// The name.
        name: String,
    },
}

impl RunDirError {
    fn io(path: &Path) -> impl FnOnce(io::Error) -> RunDirError + '_ {
        move |source| RunDirError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// True when the error is the user's to fix (exit status 2), not a failure of the system.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, RunDirError::Io { .. })
    }
}

/// Reads the YAML file `path` as a `T`; `None` when it does not exist.
fn read_yaml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, RunDirError> {
    if !path.exists() {
        return Ok(None);
    }
    let text = fs::read_to_string(path).map_err(RunDirError::io(path))?;
    serde_norway::from_str(&text)
        .map(Some)
        .map_err(|e| RunDirError::Malformed {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

/// Writes `value` as the YAML file `path`, atomically.
fn write_yaml<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), RunDirError> {
    let yaml = serde_norway::to_string(value).map_err(|e| RunDirError::Malformed {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    write_atomic(path, yaml.as_bytes()).map_err(RunDirError::io(path))
}

/// A run's directory and the names of the files in it.
#[derive(Debug, Clone)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// Names `root` as the run directory (nothing is created yet).
    ///
    /// ```
    /// use psychrnn::run_dir::RunDir;
    /// let run = RunDir::new("runs/pd");
    /// assert_eq!(run.weights(), std::path::Path::new("runs/pd/weights.npz"));
    /// assert_eq!(run.trials(), std::path::Path::new("runs/pd/trials.npz"));
    /// assert!(!run.holds_run(), "nothing is created until a run writes there");
    /// ```
    pub fn new(root: impl Into<PathBuf>) -> Self {
        RunDir { root: root.into() }
    }

    /// Claims a new directory for experiment `name` under `base`: `base/name`, or `name-2`,
    /// `name-3`, … when taken. The directory is created atomically (`mkdir` fails when it
    /// exists), so runs started together never share one.
    pub fn claim_new(base: &Path, name: &str) -> Result<Self, RunDirError> {
        if !is_plain_name(name) {
            return Err(RunDirError::BadName { name: name.into() });
        }
        fs::create_dir_all(base).map_err(RunDirError::io(base))?;
        for k in 1.. {
            let dir = if k == 1 {
                base.join(name)
            } else {
                base.join(format!("{name}-{k}"))
            };
            match fs::create_dir(&dir) {
                Ok(()) => return Ok(RunDir::new(dir)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(RunDirError::io(&dir)(e)),
            }
        }
        unreachable!("the loop returns")
    }

    /// Creates the directory (and parents).
    pub fn create(&self) -> Result<(), RunDirError> {
        fs::create_dir_all(&self.root).map_err(RunDirError::io(&self.root))
    }

    /// Takes ownership of the directory for this process (see [`RunLock`]); the directory
    /// must exist.
    pub fn lock(&self) -> Result<RunLock, RunDirError> {
        RunLock::take(&self.root.join(".lock"), &self.root)
    }

    /// True if the directory already holds a run's files.
    pub fn holds_run(&self) -> bool {
        self.config().exists() || self.weights().exists() || self.history().exists()
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// `config.yaml`: the fully resolved experiment.
    pub fn config(&self) -> PathBuf {
        self.root.join("config.yaml")
    }
    /// `weights.npz`: PsychRNN-compatible weights.
    pub fn weights(&self) -> PathBuf {
        self.root.join("weights.npz")
    }
    /// `history.csv`: one row per evaluation.
    pub fn history(&self) -> PathBuf {
        self.root.join("history.csv")
    }
    /// `summary.yaml`: the outcome of the run.
    pub fn summary(&self) -> PathBuf {
        self.root.join("summary.yaml")
    }
    /// `checkpoint/`: the state to resume from.
    pub fn checkpoint(&self) -> PathBuf {
        self.root.join("checkpoint")
    }
    /// `trials.npz`: the test trials with the network's activity.
    pub fn trials(&self) -> PathBuf {
        self.root.join("trials.npz")
    }
    /// `stages/`: the parameters each curriculum stage but the last ended with.
    pub fn stages_dir(&self) -> PathBuf {
        self.root.join("stages")
    }
    /// `stages/stage_<k>.npz`: the trainable parameters at the end of curriculum stage `k`
    /// (0-based; named by index, as a stage's name may be any text).
    pub fn stage_parameters(&self, k: usize) -> PathBuf {
        self.stages_dir().join(format!("stage_{k}.npz"))
    }
    /// `fixed_points.npz`: what `psychrnn fixedpoints` found.
    pub fn fixed_points(&self) -> PathBuf {
        self.root.join("fixed_points.npz")
    }
    /// `simulation.npz`: what `psychrnn simulate` wrote by default.
    pub fn simulation(&self) -> PathBuf {
        self.root.join("simulation.npz")
    }
    /// `report/`: the figures and index.html.
    pub fn report_dir(&self) -> PathBuf {
        self.root.join("report")
    }
    /// `script/`: copies of the script and the modules it imported.
    pub fn script_dir(&self) -> PathBuf {
        self.root.join("script")
    }

    /// Reads `config.yaml`, saying what is missing or malformed.
    pub fn read_record(&self) -> Result<RunRecord, RunDirError> {
        let path = self.config();
        if !path.exists() {
            return Err(RunDirError::NotARun {
                dir: self.root.clone(),
            });
        }
        let text = fs::read_to_string(&path).map_err(RunDirError::io(&path))?;
        RunRecord::from_yaml(&text).map_err(|e| RunDirError::Malformed {
            path,
            message: e.to_string(),
        })
    }

    /// Writes `config.yaml`.
    pub fn write_record(&self, record: &RunRecord) -> Result<(), RunDirError> {
        let path = self.config();
        write_atomic(&path, record.to_yaml().as_bytes()).map_err(RunDirError::io(&path))
    }

    /// Reads `summary.yaml`; `None` while the run has not finished.
    pub fn read_summary(&self) -> Result<Option<RunSummary>, RunDirError> {
        read_yaml(&self.summary())
    }

    /// Writes `summary.yaml` (last of a run's files: it marks the run finished).
    pub fn write_summary(&self, summary: &RunSummary) -> Result<(), RunDirError> {
        write_yaml(&self.summary(), summary)
    }

    /// Reads history.csv (empty before the first evaluation).
    pub fn read_history(&self) -> Result<Vec<crate::train::HistoryRow>, RunDirError> {
        read_history(&self.history())
    }

    /// Writes history.csv.
    pub fn write_history(&self, rows: &[crate::train::HistoryRow]) -> Result<(), RunDirError> {
        write_history(&self.history(), rows)
    }

    /// Removes what a killed process left while writing: temporary files and the temporary
    /// checkpoint folder, here and in `report/`. Call it only while holding the lock.
    /// Returns how many it removed.
    pub fn remove_leftovers(&self) -> Result<usize, RunDirError> {
        let mut removed = 0;
        for dir in [self.root.clone(), self.report_dir(), self.stages_dir()] {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !crate::atomic_file::is_temporary_name(&name) {
                    continue;
                }
                let path = entry.path();
                let gone = if path.is_dir() {
                    fs::remove_dir_all(&path)
                } else {
                    fs::remove_file(&path)
                };
                gone.map_err(RunDirError::io(&path))?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Removes the files of a run held here (for `--overwrite`), including what the analyses
    /// wrote of the old network (fixed and slow points, a simulation), so none of it is shown
    /// with the new one; other files stay.
    pub fn clear(&self) -> Result<(), RunDirError> {
        for f in [
            self.config(),
            self.weights(),
            self.history(),
            self.summary(),
            self.trials(),
            self.analysis(),
            self.analysis_arrays(),
            self.fixed_points(),
            self.slow_points(),
            self.simulation(),
        ] {
            if f.exists() {
                fs::remove_file(&f).map_err(RunDirError::io(&f))?;
            }
        }
        for d in [
            self.checkpoint(),
            self.root.join(".checkpoint-old"),
            self.script_dir(),
            self.stages_dir(),
        ] {
            if d.exists() {
                fs::remove_dir_all(&d).map_err(RunDirError::io(&d))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(label: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("psychrnn-rundir-{label}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn claim_new_skips_taken_directories_and_refuses_paths() {
        let base = scratch("claim");
        let first = RunDir::claim_new(&base, "pd").unwrap();
        assert_eq!(first.root(), base.join("pd"));
        // Even an empty directory counts as taken: another process may be about to fill it.
        assert_eq!(
            RunDir::claim_new(&base, "pd").unwrap().root(),
            base.join("pd-2")
        );
        assert_eq!(
            RunDir::claim_new(&base, "pd").unwrap().root(),
            base.join("pd-3")
        );
        for bad in ["", "../x", "/abs", "a/b", ".hidden", "..", "a\\b"] {
            let e = RunDir::claim_new(&base, bad).unwrap_err();
            assert!(matches!(e, RunDirError::BadName { .. }), "{bad}: {e}");
        }
        assert!(is_plain_name("Yang_multitask-2.v1"));
        assert!(is_plain_name("décision"));
        fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn claims_from_many_threads_never_share_a_directory() {
        let base = scratch("race");
        let dirs: Vec<PathBuf> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| RunDir::claim_new(&base, "x").unwrap().root().to_path_buf()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let unique: std::collections::BTreeSet<_> = dirs.iter().collect();
        assert_eq!(unique.len(), 8, "{dirs:?}");
        fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_second_lock_is_refused_with_the_holder_and_freed_on_drop() {
        let base = scratch("lock");
        let run = RunDir::new(&base);
        run.create().unwrap();
        let held = run.lock().unwrap();
        let e = run.lock().unwrap_err().to_string();
        assert!(
            e.contains(&format!(
                "is in use by psychrnn process {}",
                std::process::id()
            )),
            "{e}"
        );
        drop(held);
        run.lock().unwrap();
        fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn leftovers_are_removed_and_real_files_kept() {
        let base = scratch("leftovers");
        let run = RunDir::new(&base);
        fs::create_dir_all(base.join("report")).unwrap();
        fs::create_dir_all(base.join(".checkpoint-tmp-42")).unwrap();
        fs::write(base.join(".checkpoint-tmp-42/tensors.npz"), b"half").unwrap();
        fs::write(base.join(".trials.tmp-42.npz"), b"half").unwrap();
        fs::write(base.join("report/.index.tmp-42.html"), b"half").unwrap();
        fs::write(base.join("history.csv"), b"kept").unwrap();
        fs::write(base.join(".lock"), b"").unwrap();
        assert_eq!(run.remove_leftovers().unwrap(), 3);
        let mut left: Vec<String> = fs::read_dir(&base)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [".lock", "history.csv", "report"]);
        assert_eq!(fs::read_dir(base.join("report")).unwrap().count(), 0);
        fs::remove_dir_all(&base).unwrap();
    }
}
