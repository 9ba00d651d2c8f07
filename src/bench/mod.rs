//! Benchmarks behind `psychrnn bench`: what is measured, as numbers; the command line only
//! prints them as tables.
//!
//! - [`measure_iteration`]: ms per training iteration of a network (rate RNN, LSTM, GRU; fused
//!   kernel or reference path) on a fixed batch, its heap peak, and the arithmetic of its
//!   matrix products ([`product_flops`]) to compare with the GEMM rate.
//! - [`generation_ms`] and [`training_wait`]: ms per batch of a task's trials on a given
//!   number of threads, and the share of training time spent waiting for them.
//!
//! Every function measures on the calling thread with the [`crate::kernel::KernelOptions`] it
//! is given; none reads or writes the process environment. (candle's own products on the
//! reference path take their thread count from `RAYON_NUM_THREADS`; a caller comparing
//! thread counts in one process sets it, as the binary does.)

mod iteration;
mod trial_generation;

pub use iteration::{measure_iteration, product_flops, BenchCase, IterationCost, BATCH, CHANNELS};
pub use trial_generation::{
    generation_ms, training_wait, training_wait_as_configured, TrainingWait,
};

/// What can go wrong while measuring: building the network or the batch, or a training step.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The network could not be built from the case's settings.
    #[error(transparent)]
    Config(#[from] crate::config_error::ConfigError),
    /// A tensor operation failed (building the batch or the optimizer).
    #[error(transparent)]
    Tensor(#[from] candle_core::Error),
    /// A training step or session failed.
    #[error(transparent)]
    Train(Box<crate::train::TrainError>),
    /// A task's batch could not be built.
    #[error(transparent)]
    Task(#[from] crate::task::TaskError),
}

impl From<crate::train::TrainError> for BenchError {
    fn from(e: crate::train::TrainError) -> Self {
        BenchError::Train(Box::new(e))
    }
}
