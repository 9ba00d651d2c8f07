//! Hand-written CPU kernels registered as candle custom ops.

mod rate_recurrence;

pub use rate_recurrence::{gemm_gflops, RateRecurrence, TransferOp};
