//! Hand-written CPU kernels registered as candle custom ops.

mod fast_math;
mod gated_recurrence;
mod rate_recurrence;
mod readout;
mod wide_vectors;

pub use gated_recurrence::GatedRecurrence;
pub use rate_recurrence::{gemm_gflops, RateRecurrence, RecurrenceDims};
pub use readout::Readout;
