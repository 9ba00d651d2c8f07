//! Runs a kernel's elementwise loops compiled for 256-bit vectors (AVX2 and FMA) where the CPU
//! has them, chosen at run time: the crate is built for baseline x86-64, whose 128-bit SSE
//! loops ran the rate kernel's elementwise work at half the speed. The matrix products
//! dispatch on their own (the `gemm` crate, [`super::products`]).

use super::options::KernelPath;

/// Calls `f` inside a function compiled with AVX2 and FMA when `path` allows them and this
/// CPU has both, else directly. `f` and what it calls must be `#[inline(always)]` to be
/// compiled for the wide vectors.
#[inline(always)]
pub(super) fn with_wide_vectors<R>(path: KernelPath, f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if path.wide_loops() {
            #[target_feature(enable = "avx2,fma")]
            unsafe fn wide<R>(f: impl FnOnce() -> R) -> R {
                f()
            }
            // SAFETY: the CPU has AVX2 and FMA (`wide_loops` checks).
            return unsafe { wide(f) };
        }
    }
    f()
}
