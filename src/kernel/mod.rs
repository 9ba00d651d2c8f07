//! Hand-written CPU kernels registered as candle custom ops.

/// Calls `$f::<K>(args)` with K = `$count` (1 to 8): loops over a few inputs or outputs,
/// unrolled so the loop over units runs in one vectorised pass.
macro_rules! with_small_count {
    ($count:expr, $f:ident($($arg:expr),*)) => {
        match $count {
            1 => $f::<1>($($arg),*),
            2 => $f::<2>($($arg),*),
            3 => $f::<3>($($arg),*),
            4 => $f::<4>($($arg),*),
            5 => $f::<5>($($arg),*),
            6 => $f::<6>($($arg),*),
            7 => $f::<7>($($arg),*),
            8 => $f::<8>($($arg),*),
            _ => unreachable!("an unrolled loop over {} values", $count),
        }
    };
}

/// The most values a [`with_small_count`] loop unrolls.
const SMALL_COUNT_MAX: usize = 8;

mod fast_math;
mod gated_recurrence;
mod rate_recurrence;
mod readout;
mod wide_vectors;

pub use gated_recurrence::GatedRecurrence;
pub use rate_recurrence::{gemm_gflops, RateRecurrence, RecurrenceDims};
pub use readout::Readout;
