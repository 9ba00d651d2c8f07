//! The whole way from a script to a finished run directory, as library calls: what
//! `psychrnn run` does ([`training`]) and how the commands that reopen a run get its trained
//! network ([`trained`]). Nothing here prints: progress and notes go to a [`RunObserver`].
//!
//! ```no_run
//! use psychrnn::pipeline::{prepare_run, Prepared, RunRequest, SilentObserver};
//! use std::sync::atomic::AtomicBool;
//!
//! let request = RunRequest::new("scripts/perceptual_discrimination.rhai").out("runs/pd");
//! let mut observer = SilentObserver;
//! let stop = AtomicBool::new(false);
//! if let Prepared::Ready(run) = prepare_run(&request, &mut observer)? {
//!     let finished = run.train(&mut observer, &stop)?;
//!     println!("test accuracy {:.3}", finished.summary.final_accuracy);
//! }
//! # Ok::<(), psychrnn::pipeline::PipelineError>(())
//! ```

pub mod stages;
pub mod trained;
pub mod training;

pub use trained::{open_trained, FreshTrials, TrainedRun};
pub use training::{
    prepare_run, Destination, FinishedRun, Prepared, RunObserver, RunRequest, RunStart,
    SilentObserver, TrainingRun,
};

use crate::experiment::ConfigError;
use crate::run_dir::RunDirError;
use crate::script::LoadError;
use crate::task::TaskError;
use crate::train::TrainError;
use crate::validation::ValidationError;

/// What can stop a run from being prepared, trained or reopened.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The script could not be run or its experiment resolved.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A run's recorded script could not be loaded.
    #[error("{0} (give the task script with --script)")]
    RecordedScript(LoadError),
    /// The experiment failed validation before any work.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// A setting is wrong (the model could not be built, the curriculum not made).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The task could not draw its first trials.
    #[error(transparent)]
    Task(#[from] TaskError),
    /// A run file could not be read or written, or the directory is taken or busy.
    #[error(transparent)]
    RunDir(#[from] RunDirError),
    /// The run cannot go on as asked (a resumed script changed, no checkpoint yet, a command
    /// that needs a rate RNN): the message says what to do.
    #[error("{0}")]
    Refused(String),
    /// A checkpoint could not be read.
    #[error(transparent)]
    Checkpoint(#[from] crate::train::checkpoint::CheckpointError),
    /// The curriculum could not give its first stage's task.
    #[error(transparent)]
    Curriculum(#[from] crate::train::CurriculumError),
    /// The script failed during training (a curriculum rule, a stage's trials, a scorer).
    #[error("{error}\n(the run stopped at iteration {iteration}; fix the script and train again: psychrnn run {script} --out {run} --overwrite)")]
    ScriptFailed {
        /// What failed.
        error: Box<TrainError>,
        /// The iteration it failed at.
        iteration: usize,
        /// The script, as given.
        script: String,
        /// The run directory.
        run: String,
    },
    /// Training diverged (a NaN or infinite loss or weight).
    #[error("{error}; {kept}")]
    Diverged {
        /// What went non-finite.
        error: Box<TrainError>,
        /// Which checkpoint is kept.
        kept: String,
    },
    /// Training failed for another reason.
    #[error(transparent)]
    Train(Box<TrainError>),
    /// A tensor operation or a file written through candle failed.
    #[error(transparent)]
    Tensor(#[from] candle_core::Error),
    /// A file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: std::path::PathBuf,
        /// What failed.
        source: candle_core::Error,
    },
}

impl From<TrainError> for PipelineError {
    fn from(e: TrainError) -> Self {
        PipelineError::Train(Box::new(e))
    }
}

impl PipelineError {
    /// True when the user can fix the cause (the script, a setting, a file, a flag): exit
    /// status 2. False for failures of the run itself (exit status 1).
    pub fn is_bad_input(&self) -> bool {
        match self {
            PipelineError::RunDir(e) => e.is_bad_input(),
            PipelineError::Diverged { .. }
            | PipelineError::Train(_)
            | PipelineError::Tensor(_)
            | PipelineError::Write { .. } => false,
            _ => true,
        }
    }
}

/// The `--set` overrides a run was made with (config.yaml's `overrides`), parsed.
pub fn recorded_overrides(
    record: &crate::run_dir::RunRecord,
) -> Result<Vec<crate::script::Override>, PipelineError> {
    record
        .overrides
        .iter()
        .map(|t| t.parse::<crate::script::Override>())
        .collect::<Result<_, _>>()
        .map_err(|m| PipelineError::Refused(format!("config.yaml overrides: {m}")))
}
