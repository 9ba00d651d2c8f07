//! The kernels' matrix products: f32 GEMM through the `gemm` crate, on the threads and the
//! vector code [`KernelOptions`] give.

use super::options::{has_avx2_fma, KernelOptions, KernelPath};

/// How many threads a product of `m × k` by `k × n` gets: the options' count once the product
/// is large enough to pay for the hand-off (measured on 2 cores: a 64 × 256 × 256 product,
/// 4 M multiply-adds, is no faster on two threads). The caller runs it inside
/// [`KernelOptions::install`], so the threads are that pool's.
fn parallelism(kernel: KernelOptions, m: usize, n: usize, k: usize) -> gemm::Parallelism {
    if kernel.threads > 1 && m * n * k >= 1 << 23 {
        gemm::Parallelism::Rayon(kernel.threads)
    } else {
        gemm::Parallelism::None
    }
}

/// `gemm`'s kernels for one vector width, called directly (`gemm::gemm` always takes the
/// widest this CPU has): `$simd` from `gemm_common::simd`, `$module` from
/// `gemm_f32::microkernel`, `$lanes` f32 values per vector, `$parallelism` the threads.
macro_rules! gemm_with {
    ($simd:expr, $module:ident, $lanes:expr, $parallelism:expr; $($arg:expr),*) => {{
        use gemm_f32::microkernel::$module::f32 as ukr;
        gemm_common::gemm::gemm_basic_generic::<
            _,
            f32,
            { $lanes },
            { ukr::MR_DIV_N * $lanes },
            { ukr::NR },
            { ukr::MR_DIV_N },
            { ukr::H_M },
            { ukr::H_N },
        >($simd, $($arg),*, |a, b, c| a * b + c, &ukr::UKR, &ukr::H_UKR, false, $parallelism)
    }};
}

/// out (m × n, row-major) = (accumulate ? out : 0) + a · b, with a and b given by strides.
#[allow(clippy::too_many_arguments)]
pub(super) fn gemm_f32(
    kernel: KernelOptions,
    m: usize,
    n: usize,
    k: usize,
    out: &mut [f32],
    accumulate: bool,
    a: &[f32],
    a_rs: isize,
    a_cs: isize,
    b: &[f32],
    b_rs: isize,
    b_cs: isize,
) {
    assert!(out.len() >= m * n);
    let parallelism = parallelism(kernel, m, n, k);
    let dst = out.as_mut_ptr();
    let beta = if accumulate { 1.0 } else { 0.0 };
    // SAFETY: the strides describe in-bounds elements of `a` (m × k), `b` (k × n) and `out`
    // (m × n), checked by the callers' shapes; a narrower path's vector type is built only
    // where this CPU has its instructions (`try_new` checks them).
    unsafe {
        match kernel.path {
            KernelPath::Widest => gemm::gemm(
                m,
                n,
                k,
                dst,
                1,
                n as isize,
                accumulate,
                a.as_ptr(),
                a_cs,
                a_rs,
                b.as_ptr(),
                b_cs,
                b_rs,
                beta,
                1.0,
                false,
                false,
                false,
                parallelism,
            ),
            KernelPath::Avx2 if has_avx2_fma() => {
                #[cfg(target_arch = "x86_64")]
                {
                    use gemm_common::simd::MixedSimd;
                    let simd = <gemm_common::simd::V3 as MixedSimd<f32, f32, f32, f32>>::try_new()
                        .expect("AVX2 and FMA (checked)");
                    gemm_with!(
                        simd, fma, 8, parallelism; m, n, k, dst, 1, n as isize, accumulate, a.as_ptr(), a_cs,
                        a_rs, b.as_ptr(), b_cs, b_rs, beta, 1.0, false, false, false
                    )
                }
            }
            KernelPath::Avx2 | KernelPath::Baseline => gemm_with!(
                gemm_common::simd::Scalar,
                scalar,
                1,
                parallelism;
                m,
                n,
                k,
                dst,
                1,
                n as isize,
                accumulate,
                a.as_ptr(),
                a_cs,
                a_rs,
                b.as_ptr(),
                b_cs,
                b_rs,
                beta,
                1.0,
                false,
                false,
                false
            ),
        }
    }
}

/// This machine's f32 GEMM rate in GFLOP/s on `threads` threads, measured on an
/// `n`×`n`×`n` product (best of ten: a shared machine's slower runs measure the neighbours).
pub fn gemm_gflops(n: usize, threads: usize) -> f64 {
    let kernel = KernelOptions::with_threads(threads);
    let a: Vec<f32> = (0..n * n).map(|i| (i % 7) as f32 * 0.1).collect();
    let b: Vec<f32> = (0..n * n).map(|i| (i % 5) as f32 * 0.1).collect();
    let mut c = vec![0.0f32; n * n];
    let mut best = f64::INFINITY;
    kernel.install(|| {
        for _ in 0..10 {
            let start = std::time::Instant::now();
            gemm_f32(
                kernel, n, n, n, &mut c, false, &a, n as isize, 1, &b, n as isize, 1,
            );
            best = best.min(start.elapsed().as_secs_f64());
        }
    });
    2.0 * (n as f64).powi(3) / best / 1e9
}
