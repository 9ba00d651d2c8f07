//! What can fail while building trials: [`TaskError`] for a task or a batch, [`TrialError`]
//! for one trial (the task and trial index are added by [`TaskError::Trial`]).

use super::{DistributionError, ScoreError};

/// Errors while building trials.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// A task field has an unusable value.
    #[error("task.{field}: {message}")]
    Shape {
        /// The task field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The task's scorer does not fit the task (a channel it does not have, a bad setting).
    #[error("task.score: {0}")]
    Score(#[source] ScoreError),
    /// One trial could not be built.
    #[error("task `{task}`, trial {trial}: {source}")]
    Trial {
        /// The task's name.
        task: String,
        /// Index of the trial within its batch.
        trial: usize,
        /// What is wrong (names the epoch and channel where it can).
        source: TrialError,
    },
    /// The batch-building thread ended before it sent the batch.
    #[error("trial generation stopped: the batch thread ended")]
    GeneratorStopped,
}

/// What is wrong with one trial; it names the epoch or step, and the channel, where it can.
#[derive(Debug, thiserror::Error)]
pub enum TrialError {
    /// The task's own code failed: a script error (located at file:line:col) or a native
    /// task's error.
    #[error(transparent)]
    Code(Box<dyn std::error::Error + Send + Sync>),
    /// One of the trial's arrays has the wrong number of values.
    #[error("{array} has {len} values, expected {expected} ({steps} steps × {channels} channels)")]
    ArraySize {
        /// `inputs`, `targets` or `mask`.
        array: &'static str,
        /// Values given.
        len: usize,
        /// Values expected: steps × channels.
        expected: usize,
        /// Steps per trial.
        steps: usize,
        /// Channels of the array.
        channels: usize,
    },
    /// A value is not a finite number.
    #[error(
        "{at}: {array} of channel {channel} ({name}) is {value}; values must be finite numbers"
    )]
    NotFinite {
        /// Where: `epoch 'NAME'` or `step I (t = T ms)`.
        at: String,
        /// `input`, `target` or `mask`.
        array: &'static str,
        /// Index of the channel.
        channel: usize,
        /// Name of the channel.
        name: String,
        /// The value.
        value: f32,
    },
    /// A mask weight is negative.
    #[error("{at}: mask of channel {channel} ({name}) is {value}; mask weights must be ≥ 0")]
    NegativeMask {
        /// Where: `epoch 'NAME'`.
        at: String,
        /// Index of the channel.
        channel: usize,
        /// Name of the channel.
        name: String,
        /// The weight.
        value: f32,
    },
    /// An epoch's duration is not a usable distribution.
    #[error("epoch '{epoch}': duration {source}")]
    Duration {
        /// The epoch's name.
        epoch: String,
        /// What is wrong with the distribution.
        source: DistributionError,
    },
    /// An overlay of an epoch is unusable (outside its epoch, a bad value).
    #[error("epoch '{epoch}', overlay '{overlay}': {message}")]
    Overlay {
        /// The epoch's name.
        epoch: String,
        /// The overlay's name.
        overlay: String,
        /// What is wrong.
        message: String,
    },
    /// A trial of a sequence depends on an earlier one of the same sequence, and drawing
    /// that earlier one failed.
    #[error(
        "earlier trial at position {position} of its sequence (this trial depends on it): {source}"
    )]
    Earlier {
        /// The earlier trial's position in its sequence.
        position: usize,
        /// Why it failed.
        source: Box<TrialError>,
    },
    /// The trial's description is unusable (no epochs, a wrong number of values, an unknown
    /// key, an epoch past the end of the trial, …); the message says which and what to do.
    #[error("{0}")]
    Description(String),
}
