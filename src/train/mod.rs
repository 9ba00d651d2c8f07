//! Training: the loss, the optimizer and the loop that runs them over prefetched batches.

mod config;
mod loss;
mod optimizer;
mod trainer;

pub use config::TrainConfig;
pub use loss::{loss, masked_binary_cross_entropy, masked_mse, masked_softmax_cross_entropy};
pub use optimizer::{clip_by_norm, Adam};
pub use trainer::{
    batch_tensors, evaluate, train, Evaluation, HistoryRow, StopReason, TrainError, TrainOutcome,
};
