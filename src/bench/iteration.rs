//! Timing one training iteration of a network on a fixed batch.

use std::path::Path;
use std::time::Instant;

use candle_core::{DType, Device, Tensor};

use super::BenchError;
use crate::kernel::KernelOptions;
use crate::memory;
use crate::model::{build_network_with, ModelConfig, ModelKind};
use crate::random::Rng;
use crate::task::TaskShape;
use crate::train::{gradient_step, new_optimizer, TrainConfig};

/// Trials in a benchmark batch.
pub const BATCH: usize = 64;

/// Input and output channels of the benchmark's networks.
pub const CHANNELS: usize = 2;

/// Blocks a timed run of iterations is split into; the fastest block's mean is reported.
pub(super) const TIMED_BLOCKS: usize = 5;

/// One network to time: kind, recurrent size, fused kernel or reference path, steps per trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BenchCase {
    /// Rate RNN, LSTM or GRU.
    pub kind: ModelKind,
    /// Recurrent units.
    pub n_rec: usize,
    /// The fused kernel (`true`) or the plain candle-ops reference path.
    pub fused: bool,
    /// Time steps per trial.
    pub steps: usize,
}

impl BenchCase {
    /// A rate RNN (ReLU) with `n_rec` units and the default 200 steps.
    pub fn rate(n_rec: usize, fused: bool) -> Self {
        BenchCase {
            kind: ModelKind::RateRnn,
            n_rec,
            fused,
            steps: 200,
        }
    }

    /// Iterations per measurement that keep it short and not too noisy: fewer for the slow
    /// large networks, more for the small ones (whose few-millisecond iterations are noisy).
    pub fn default_iterations(&self) -> usize {
        match self.n_rec {
            256.. => 5,
            100.. => 20,
            _ => 100,
        }
    }
}

/// What one measurement gave.
#[derive(Debug, Clone, Copy)]
pub struct IterationCost {
    /// Mean wall time of a training iteration, in the fastest block.
    pub ms: f64,
    /// The most heap memory an iteration had live beyond what was live before it (counted
    /// only after [`memory::start_counting`]; 0 otherwise).
    pub peak_bytes: usize,
}

/// Times `iterations` training iterations (forward, masked MSE, backward, Adam: the trainer's
/// own [`gradient_step`]) of `case` on one fixed random batch of [`BATCH`] trials with
/// [`CHANNELS`] inputs and outputs, after one warm-up iteration, with the kernel options
/// `kernel`: ms per iteration in the fastest of five blocks (on a shared machine the slower
/// blocks measure the neighbours). `watch` is called with the iteration and the live heap
/// after each.
pub fn measure_iteration(
    case: BenchCase,
    kernel: KernelOptions,
    iterations: usize,
    mut watch: impl FnMut(usize, usize),
) -> Result<IterationCost, BenchError> {
    let config = ModelConfig {
        kind: case.kind,
        n_rec: case.n_rec,
        fused: case.fused,
        ..ModelConfig::default()
    };
    let shape = TaskShape {
        inputs: (0..CHANNELS).map(|c| format!("in{c}")).collect(),
        outputs: (0..CHANNELS).map(|c| format!("out{c}")).collect(),
        dt: 10.0,
        tau: 100.0,
        duration: 10.0 * case.steps as f64,
    };
    let built = build_network_with(&config, &shape, 0, Path::new("."), kernel)?;
    let model = built.network.as_ref();
    let dev = Device::Cpu;
    let shape3 = (case.steps, BATCH, CHANNELS);
    let inputs = Tensor::rand(0f32, 1f32, shape3, &dev)?;
    let targets = Tensor::rand(0f32, 1f32, shape3, &dev)?;
    let mask = Tensor::ones(shape3, DType::F32, &dev)?;
    let train_config = TrainConfig::default();
    let mut optimizer = new_optimizer(model, &train_config)?;
    let trainable = model.trainable();
    let mut step = |i: usize| {
        gradient_step(
            model,
            &trainable,
            &mut optimizer,
            &train_config,
            config.loss,
            i,
            (&inputs, &targets, &mask),
            &mut Rng::from_seed(i as u64),
        )
    };
    step(1)?;
    let before = memory::heap_bytes();
    memory::reset_peak_heap();
    let iterations = iterations.max(1);
    let block = iterations.div_ceil(TIMED_BLOCKS);
    let mut best = f64::INFINITY;
    let mut done = 0;
    while done < iterations {
        let n = block.min(iterations - done);
        let start = Instant::now();
        for i in done..done + n {
            step(i + 2)?;
            watch(i + 1, memory::heap_bytes());
        }
        best = best.min(start.elapsed().as_secs_f64() * 1e3 / n as f64);
        done += n;
    }
    Ok(IterationCost {
        ms: best,
        peak_bytes: memory::peak_heap_bytes().saturating_sub(before),
    })
}

/// The FLOP of one training iteration's matrix products for a benchmark case (batch
/// [`BATCH`], [`CHANNELS`] inputs and outputs): the recurrence 2·T·B·N² forward and 4·T·B·N²
/// backward (∂W_rec and the step-to-step product), the input drive 2·T·B·N·N_in and ∂W_in,
/// the readout 2·T·B·N·N_out and its two backward products; the recurrence and input terms
/// once per gate for the LSTM (4) and GRU (3).
///
/// ```
/// use psychrnn::bench::{product_flops, BenchCase};
/// // 200 steps × 64 trials × 50 units × (6·50 + 4·2 + 6·2)
/// assert_eq!(product_flops(&BenchCase::rate(50, true)), 200.0 * 64.0 * 50.0 * 320.0);
/// ```
pub fn product_flops(case: &BenchCase) -> f64 {
    let (rows, n) = ((case.steps * BATCH) as f64, case.n_rec as f64);
    let channels = CHANNELS as f64;
    // Pre-activations per unit: one for the rate RNN, one per gate for the LSTM and GRU.
    let gates = match case.kind {
        ModelKind::RateRnn => 1.0,
        ModelKind::Lstm => 4.0,
        ModelKind::Gru => 3.0,
    };
    rows * n * (gates * (6.0 * n + 4.0 * channels) + 6.0 * channels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_measurement_trains_the_case_it_names() {
        // Two iterations of a tiny network on each path and kind: finite, positive times.
        for kind in [ModelKind::RateRnn, ModelKind::Lstm, ModelKind::Gru] {
            for fused in [false, true] {
                let case = BenchCase {
                    kind,
                    n_rec: 4,
                    fused,
                    steps: 3,
                };
                let mut seen = Vec::new();
                let cost =
                    measure_iteration(case, KernelOptions::default(), 2, |i, _| seen.push(i))
                        .unwrap();
                assert!(
                    cost.ms.is_finite() && cost.ms > 0.0,
                    "{case:?}: {}",
                    cost.ms
                );
                assert_eq!(seen, vec![1, 2], "{case:?}");
            }
        }
    }

    #[test]
    fn product_flops_counts_each_gate() {
        // Independent count for N = 10, T = 5: per row, the rate RNN has 6N² + 4N·2 + 6N·2.
        let case = |kind| BenchCase {
            kind,
            n_rec: 10,
            fused: true,
            steps: 5,
        };
        let rows = 5.0 * BATCH as f64;
        let rate = rows * (6.0 * 100.0 + 4.0 * 10.0 * 2.0 + 6.0 * 10.0 * 2.0);
        let lstm = rows * (4.0 * (6.0 * 100.0 + 4.0 * 10.0 * 2.0) + 6.0 * 10.0 * 2.0);
        let gru = rows * (3.0 * (6.0 * 100.0 + 4.0 * 10.0 * 2.0) + 6.0 * 10.0 * 2.0);
        assert_eq!(product_flops(&case(ModelKind::RateRnn)), rate);
        assert_eq!(product_flops(&case(ModelKind::Lstm)), lstm);
        assert_eq!(product_flops(&case(ModelKind::Gru)), gru);
    }
}
