//! Training: losses, optimizers, curricula, and the loop that runs them over prefetched batches.

mod chance;
pub mod checkpoint;
mod config;
pub mod curriculum;
mod loss;
mod optimizer;
mod plateau;
mod trainer;

pub use chance::{chance_accuracy, chance_warning, CHANCE_MARGIN};
pub use config::{
    Clipping, OptimizerKind, Schedule, TrainConfig, MAX_BATCH_SIZE, MAX_ITERATIONS, MAX_TEST_TRIALS,
};
pub use curriculum::{
    threshold_rule, Advance, Curriculum, CurriculumError, CurriculumState, Decision, SingleTask,
    StageConfig,
};
pub use loss::{loss, masked_binary_cross_entropy, masked_mse, masked_softmax_cross_entropy};
pub use optimizer::{clip_by_norm, clip_global, Adam, Optimizer, Sgd};
pub use plateau::Plateau;
pub use trainer::{
    batch_tensors, evaluate, evaluate_behaviour, evaluation_chunk_trials, gradient_step,
    new_optimizer, train, train_session, Evaluation, HistoryRow, Hooks, StopReason, TrainError,
    TrainOutcome, TrainState,
};
