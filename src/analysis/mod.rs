//! Analysis: pure functions over arrays (no I/O, no drawing), each checked against hand
//! computations in its tests.

pub mod behaviour_run;
pub mod chronometric;
pub mod conditions;
pub mod fixed_points;
pub mod go_nogo;
pub mod interval_timing;
pub mod lesion;
pub mod pca;
pub mod psychometric;
pub mod psychometric_matrix;
pub mod responses;
pub mod run_analysis;
pub mod slow_points;
pub mod task_variance;
pub mod tdr;
