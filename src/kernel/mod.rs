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

/// The CPU code paths this machine takes, e.g. `x86_64 gemm:avx512f elementwise:avx2+fma`:
/// the matrix products (`gemm` picks AVX-512, AVX2/FMA or baseline kernels at run time) and the
/// kernels' elementwise loops ([`wide_vectors`]) add in different orders on different paths, so
/// runs agree bit for bit only between machines with the same paths (and thread count).
pub fn cpu_paths() -> String {
    #[cfg(target_arch = "x86_64")]
    {
        let avx512 = std::is_x86_feature_detected!("avx512f");
        let avx2 = std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
        let products = if avx512 {
            "avx512f"
        } else if avx2 {
            "avx2+fma"
        } else {
            "baseline"
        };
        let elementwise = if avx2 { "avx2+fma" } else { "baseline" };
        format!("x86_64 gemm:{products} elementwise:{elementwise}")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        format!("{} baseline", std::env::consts::ARCH)
    }
}
