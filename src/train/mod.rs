//! Training: the loss, the optimizer and the loop that runs them over prefetched batches.

mod config;
mod loss;
mod optimizer;
mod trainer;

pub use config::TrainConfig;
pub use loss::masked_mse;
pub use optimizer::{clip_by_norm, Adam};
pub use trainer::{
    batch_tensors, evaluate, train, Evaluation, HistoryRow, StopReason, TrainError, TrainOutcome,
};
