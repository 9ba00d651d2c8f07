//! Hand-written CPU kernels registered as candle custom ops.

mod cell;
mod transfer;

pub use cell::Cell;
pub use transfer::Transfer;

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

/// Binds `$slope` to f′ as a function of f's value r = f(x) (ReLU: 1 where r > 0; tanh:
/// 1 − r²; sigmoid: r(1 − r); softplus: σ(x) = 1 − e^{−r}; linear: 1) and evaluates `$body`
/// with it, one monomorphic loop per transfer function.
macro_rules! with_slope {
    ($transfer:expr, $slope:ident => $body:expr) => {
        match $transfer {
            Transfer::Relu => {
                let $slope = |r: f32| if r > 0.0 { 1.0 } else { 0.0 };
                $body
            }
            Transfer::Linear => {
                let $slope = |_: f32| 1.0;
                $body
            }
            Transfer::Tanh => {
                let $slope = |r: f32| 1.0 - r * r;
                $body
            }
            Transfer::Sigmoid => {
                let $slope = |r: f32| r * (1.0 - r);
                $body
            }
            Transfer::Softplus => {
                let $slope = |r: f32| -(-r).exp_m1();
                $body
            }
        }
    };
}

mod buffer_stash;
mod fast_math;
mod gated_recurrence;
mod host;
mod input_drive;
mod options;
mod products;
mod rate_recurrence;
mod readout;
mod transfer_loops;
mod wide_vectors;

pub use buffer_stash::BufferStash;
pub use gated_recurrence::GatedRecurrence;
pub use options::{thread_pool, KernelOptions, KernelPath};
pub use products::gemm_gflops;
pub use rate_recurrence::{RateRecurrence, RecurrenceDims};
pub use readout::Readout;

/// The CPU code paths this machine takes, e.g. `x86_64 gemm:avx512f elementwise:avx2+fma`:
/// the matrix products (`gemm` picks AVX-512, AVX2/FMA or baseline kernels at run time) and the
/// kernels' elementwise loops (`wide_vectors`) add in different orders on different paths, so
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

/// The fused kernels on each vector path and thread count against the reference candle ops.
#[cfg(test)]
mod path_tests {
    use candle_core::{DType, Device, Tensor, Var};

    use super::{KernelOptions, KernelPath};
    use crate::model::{
        initial_weights, Cell, Constraints, GatedRnn, GatedWeights, ModelConfig, Network, RateRnn,
        RateRnnOptions, Regularization, Transfer,
    };
    use crate::random::Rng;

    /// The paths this CPU can take (a narrower path than the CPU has is always available).
    const PATHS: [KernelPath; 3] = [KernelPath::Widest, KernelPath::Avx2, KernelPath::Baseline];

    /// Relative tolerance of a fused result against the reference (both f32; the paths sum
    /// in other orders, the reference in candle's).
    const TOLERANCE: f32 = 2e-4;

    /// The outputs and every parameter's gradient of L = Σ c ⊙ y, flattened, in a fixed order.
    fn outputs_and_grads(network: &dyn Network, inputs: &Tensor, c: &Tensor) -> Vec<Vec<f32>> {
        let (sim, _) = network.run(inputs, &mut Rng::from_seed(5), true).unwrap();
        let loss = (&sim.outputs * c).unwrap().sum_all().unwrap();
        let grads = loss.backward().unwrap();
        let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let mut all = vec![flat(&sim.outputs), flat(&sim.states)];
        for v in network.trainable() {
            let var: &Var = v.var;
            all.push(flat(
                grads.get(var).expect("a gradient for every parameter"),
            ));
        }
        all
    }

    fn max_rel_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
        a.iter()
            .zip(b)
            .map(|(x, y)| {
                let scale = y.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
                x.iter()
                    .zip(y)
                    .fold(0.0f32, |m, (p, q)| m.max((p - q).abs() / scale))
            })
            .fold(0.0, f32::max)
    }

    fn bits(a: &[Vec<f32>]) -> Vec<u32> {
        a.iter().flatten().map(|v| v.to_bits()).collect()
    }

    /// Random task inputs [T, B, I] (some exactly zero, as one-hot inputs are) and loss
    /// weights [T, B, O].
    fn data(t: usize, b: usize, i: usize, o: usize) -> (Tensor, Tensor) {
        let mut rng = Rng::from_seed(21);
        let u: Vec<f32> = (0..t * b * i)
            .map(|_| match rng.uniform() < 0.3 {
                true => 0.0,
                false => rng.uniform_range(-1.0, 1.0) as f32,
            })
            .collect();
        let c: Vec<f32> = (0..t * b * o)
            .map(|_| rng.uniform_range(-1.0, 1.0) as f32)
            .collect();
        let dev = Device::Cpu;
        (
            Tensor::from_vec(u, (t, b, i), &dev).unwrap(),
            Tensor::from_vec(c, (t, b, o), &dev).unwrap(),
        )
    }

    /// Every (path, threads) result against the reference; the same twice bit for bit; and
    /// the baseline path, where this CPU has wider vectors, not bit-identical to the widest
    /// (the switch takes other code).
    fn check_paths(run: impl Fn(Option<KernelOptions>) -> Vec<Vec<f32>>, what: &str) {
        let reference = run(None);
        let widest = run(Some(KernelOptions::default()));
        for path in PATHS {
            for threads in [1, 3] {
                let kernel = KernelOptions { threads, path };
                let first = run(Some(kernel));
                let diff = max_rel_diff(&first, &reference);
                assert!(
                    diff < TOLERANCE,
                    "{what}, {kernel:?}: {diff:e} from the reference"
                );
                assert_eq!(
                    bits(&first),
                    bits(&run(Some(kernel))),
                    "{what}, {kernel:?}: two runs differ"
                );
                if path == KernelPath::Baseline && threads == 1 && super::options::has_avx2_fma() {
                    assert_ne!(
                        bits(&first),
                        bits(&widest),
                        "{what}: the forced baseline path gave the widest path's bits"
                    );
                }
            }
        }
    }

    /// The rate RNN with α per unit and noise, with 3 inputs (the unrolled input drive) and
    /// 20 inputs with 10 outputs (the input drive and readout as matrix products).
    #[test]
    fn rate_kernel_on_every_path_matches_the_reference() {
        for (n_in, n_out) in [(3, 2), (20, 10)] {
            let (t, b, n) = (30, 16, 40);
            let config = ModelConfig {
                n_rec: n,
                dale_ratio: Some(0.8),
                ..ModelConfig::default()
            };
            let k = Constraints::from_config(&config, n_in, n_out).unwrap();
            let w = initial_weights(&config, &k, 4);
            let (inputs, c) = data(t, b, n_in, n_out);
            let run = |kernel: Option<KernelOptions>| {
                let options = RateRnnOptions {
                    alpha: (0..n).map(|u| 0.1 + 0.002 * u as f64).collect(),
                    fused: kernel.is_some(),
                    kernel: kernel.unwrap_or_default(),
                    ..RateRnnOptions::new(0.1, 0.05, Transfer::Tanh)
                };
                let model = RateRnn::new(&w, &options, DType::F32, &Device::Cpu).unwrap();
                outputs_and_grads(&model, &inputs, &c)
            };
            check_paths(run, &format!("rate RNN, {n_in} inputs, {n_out} outputs"));
        }
    }

    /// LSTM and GRU with 64 units (W_h products over 256 and 192 columns).
    #[test]
    fn gated_kernels_on_every_path_match_the_reference() {
        for cell in [Cell::Lstm, Cell::Gru] {
            let (t, b, n_in, n, n_out) = (20, 8, 3, 64, 2);
            let mut w = GatedWeights::initial(cell, n_in, n, n_out, 6);
            let mut rng = Rng::from_seed(9);
            for v in w.b_x.iter_mut().chain(w.b_h.iter_mut()) {
                *v += rng.uniform_range(-0.3, 0.3) as f32;
            }
            let (inputs, c) = data(t, b, n_in, n_out);
            let run = |kernel: Option<KernelOptions>| {
                let mut model =
                    GatedRnn::new(&w, Regularization::default(), DType::F32, &Device::Cpu).unwrap();
                model.fused = kernel.is_some();
                model.kernel = kernel.unwrap_or_default();
                outputs_and_grads(&model, &inputs, &c)
            };
            check_paths(run, &format!("{cell:?}"));
        }
    }
}
