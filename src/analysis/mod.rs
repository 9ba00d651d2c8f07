//! Analysis: pure functions over arrays (no I/O, no drawing), each checked against hand
//! computations in its tests.

pub mod chronometric;
pub mod conditions;
pub mod fixed_points;
pub mod lesion;
pub mod pca;
pub mod psychometric;
pub mod run_analysis;
pub mod slow_points;
pub mod tdr;
