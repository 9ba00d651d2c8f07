//! The fused recurrence kernels against the reference candle-op paths: same states, outputs and
//! gradients on random rate networks with Dale's principle, masks, noise and per-unit τ, and
//! on random LSTMs and GRUs.

use candle_core::{DType, Device, Tensor};
use psychrnn::model::{
    initial_weights, Cell, Constraints, GatedRnn, GatedWeights, ModelConfig, RateRnn,
    RateRnnOptions, Regularization, Transfer,
};
use psychrnn::random::Rng;
use psychrnn::train::masked_mse;

use psychrnn::kernel::KernelOptions;

/// The fused kernels' options in the tests that split batches between two threads (the
/// count is passed to the network, nothing reads the environment).
fn two_threads() -> KernelOptions {
    KernelOptions::with_threads(2)
}

fn rel_diff(a: &Tensor, b: &Tensor) -> f32 {
    let a: Vec<f32> = a.flatten_all().unwrap().to_vec1().unwrap();
    let b: Vec<f32> = b.flatten_all().unwrap().to_vec1().unwrap();
    let scale = b.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-6);
    a.iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
        / scale
}

#[test]
fn fused_and_reference_paths_agree_on_states_outputs_and_gradients() {
    // Two model threads: the kernel splits the 12 trials between them.
    let (n, t, b) = (24, 40, 12);
    let dev = Device::Cpu;
    // Up to 8 inputs and outputs take the kernels' unrolled row-by-row sums, 9 to 16 inputs
    // a sum per input, more than 16 inputs and 8 outputs their matrix products.
    for (dale, transfer, per_unit, n_in, n_out) in [
        (None, Transfer::Relu, false, 3, 2),
        (None, Transfer::Relu, false, 12, 4),
        (Some(0.75), Transfer::Tanh, true, 3, 2),
        (Some(0.8), Transfer::Softplus, false, 3, 2),
        (None, Transfer::Sigmoid, false, 20, 10),
        (Some(0.8), Transfer::Linear, true, 17, 9),
    ] {
        let config = ModelConfig {
            n_rec: n,
            dale_ratio: dale,
            autapses: false,
            ..ModelConfig::default()
        };
        let mut k = Constraints::from_config(&config, n_in, n_out).unwrap();
        let mut rng = Rng::from_seed(3);
        for c in k.rec_connectivity.iter_mut() {
            if rng.uniform() < 0.3 {
                *c = 0.0;
            }
        }
        let mut w = initial_weights(&config, &k, 7);
        // Non-zero biases (they start at zero), so the forward pass's use of them is checked.
        let mut rng = Rng::from_seed(13);
        for v in w.b_rec.iter_mut().chain(w.b_out.iter_mut()) {
            *v = rng.uniform_range(-0.2, 0.2) as f32;
        }
        let mut options = RateRnnOptions::new(0.1, 0.1, transfer);
        options.kernel = two_threads();
        if per_unit {
            options.alpha = (0..n).map(|i| 0.05 + 0.01 * i as f64).collect();
        }
        let model = RateRnn::new(&w, &options, DType::F32, &dev).unwrap();
        let mut rng = Rng::from_seed(11);
        let u: Vec<f32> = (0..t * b * n_in)
            // Some inputs exactly zero, as in one-hot task inputs (the kernel skips them).
            .map(|_| match rng.uniform() < 0.3 {
                true => 0.0,
                false => rng.uniform_range(-1.0, 1.5) as f32,
            })
            .collect();
        let y: Vec<f32> = (0..t * b * n_out).map(|_| rng.uniform() as f32).collect();
        let inputs = Tensor::from_vec(u, (t, b, n_in), &dev).unwrap();
        let targets = Tensor::from_vec(y, (t, b, n_out), &dev).unwrap();
        let mask = Tensor::ones((t, b, n_out), DType::F32, &dev).unwrap();
        let noise = model.draw_noise(&mut Rng::from_seed(5), t, b).unwrap();
        let reference = model.forward(&inputs, noise.as_ref()).unwrap();
        // The op returns the outputs (states outside the graph), or the states with the
        // readout as an op of its own; the loss then also penalises the firing rates, so the
        // gradient through the states is checked.
        for states_in_graph in [false, true] {
            let fused = model
                .forward_fused(&inputs, noise.as_ref(), states_in_graph)
                .unwrap();
            let case = format!("{transfer:?} {dale:?} states in graph {states_in_graph}");
            assert!(
                rel_diff(&fused.states, &reference.states) < 1e-4,
                "{case}: states"
            );
            assert!(
                rel_diff(&fused.outputs, &reference.outputs) < 1e-4,
                "{case}: outputs"
            );
            let loss = |sim: &psychrnn::model::Simulation| {
                let mse = masked_mse(&sim.outputs, &targets, &mask).unwrap();
                if !states_in_graph {
                    return mse;
                }
                let rates = transfer.apply(&sim.states).unwrap();
                (mse + rates
                    .sqr()
                    .unwrap()
                    .mean_all()
                    .unwrap()
                    .affine(0.5, 0.0)
                    .unwrap())
                .unwrap()
            };
            let g_ref = loss(&reference).backward().unwrap();
            let g_fused = loss(&fused).backward().unwrap();
            for (name, var) in model.vars() {
                let (a, r) = (
                    g_fused.get(var.as_tensor()).unwrap(),
                    g_ref.get(var.as_tensor()).unwrap(),
                );
                let d = rel_diff(a, r);
                assert!(d < 1e-4, "{case}: gradient of {name} differs by {d}");
                assert!(
                    r.abs()
                        .unwrap()
                        .max_all()
                        .unwrap()
                        .to_scalar::<f32>()
                        .unwrap()
                        > 0.0,
                    "{name} has a gradient"
                );
            }
        }
    }
}

#[test]
fn fused_and_reference_gated_networks_agree_on_states_outputs_and_gradients() {
    let (n, n_out, b) = (16, 2, 5);
    let dev = Device::Cpu;
    // 250 steps of 5 trials span two of the kernel's ∂W_h blocks (about 1024 trial rows each).
    // Up to 8 inputs take the unrolled input side, 9 to 16 a pass per input, more the matrix
    // products.
    for (cell, t, n_in) in [
        (Cell::Lstm, 30, 3),
        (Cell::Gru, 30, 3),
        (Cell::Lstm, 250, 3),
        (Cell::Gru, 250, 3),
        (Cell::Lstm, 40, 17),
        (Cell::Gru, 40, 11),
    ] {
        let mut w = GatedWeights::initial(cell, n_in, n, n_out, 4);
        // Non-zero biases and initial states, so every gradient path is exercised.
        let mut rng = Rng::from_seed(9);
        for v in w
            .b_x
            .iter_mut()
            .chain(w.b_h.iter_mut())
            .chain(w.init_hidden.iter_mut())
            .chain(w.init_cell.iter_mut())
        {
            *v += rng.uniform_range(-0.5, 0.5) as f32;
        }
        let mut reference = GatedRnn::new(&w, Regularization::default(), DType::F32, &dev).unwrap();
        reference.fused = false;
        let mut fused = GatedRnn::new(&w, Regularization::default(), DType::F32, &dev).unwrap();
        fused.fused = true;
        fused.kernel = two_threads();
        let u: Vec<f32> = (0..t * b * n_in)
            .map(|_| rng.uniform_range(-1.0, 1.5) as f32)
            .collect();
        let y: Vec<f32> = (0..t * b * n_out).map(|_| rng.uniform() as f32).collect();
        let inputs = Tensor::from_vec(u, (t, b, n_in), &dev).unwrap();
        let targets = Tensor::from_vec(y, (t, b, n_out), &dev).unwrap();
        let mask = Tensor::ones((t, b, n_out), DType::F32, &dev).unwrap();
        let (r, f) = (
            reference.forward(&inputs, true).unwrap(),
            fused.forward(&inputs, true).unwrap(),
        );
        assert!(rel_diff(&f.states, &r.states) < 1e-4, "{cell:?}: states");
        assert!(rel_diff(&f.outputs, &r.outputs) < 1e-4, "{cell:?}: outputs");
        let g_ref = masked_mse(&r.outputs, &targets, &mask)
            .unwrap()
            .backward()
            .unwrap();
        let g_fused = masked_mse(&f.outputs, &targets, &mask)
            .unwrap()
            .backward()
            .unwrap();
        let pairs = [
            ("W_x", &reference.w_x, &fused.w_x),
            ("W_h", &reference.w_h, &fused.w_h),
            ("b_x", &reference.b_x, &fused.b_x),
            ("b_h", &reference.b_h, &fused.b_h),
            ("init_hidden", &reference.init_hidden, &fused.init_hidden),
            ("init_cell", &reference.init_cell, &fused.init_cell),
            ("W_out", &reference.w_out, &fused.w_out),
            ("b_out", &reference.b_out, &fused.b_out),
        ];
        for (name, vr, vf) in pairs {
            let used = match cell {
                Cell::Lstm => name != "b_h",
                Cell::Gru => name != "init_cell",
            };
            if !used {
                continue;
            }
            let (gr, gf) = (
                g_ref.get(vr.as_tensor()).expect(name),
                g_fused.get(vf.as_tensor()).expect(name),
            );
            let d = rel_diff(gf, gr);
            assert!(d < 1e-4, "{cell:?}: gradient of {name} differs by {d}");
            let largest = gr
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(largest > 0.0, "{cell:?}: {name} has a gradient");
        }
    }
}

/// A training step's loss through the fused kernel skips the states (no loss term reads them):
/// the outputs, the regularisation term and every gradient still match the reference path,
/// with weight penalties and noise on, and the firing-rate penalty takes the states path.
#[test]
fn loss_without_states_matches_the_reference_path() {
    use psychrnn::model::Network;
    let (n, t, b, n_in, n_out) = (20, 30, 10, 3, 2);
    let dev = Device::Cpu;
    let config = ModelConfig {
        n_rec: n,
        dale_ratio: Some(0.8),
        ..ModelConfig::default()
    };
    let k = Constraints::from_config(&config, n_in, n_out).unwrap();
    let w = initial_weights(&config, &k, 4);
    let mut rng = Rng::from_seed(21);
    let u: Vec<f32> = (0..t * b * n_in).map(|_| rng.uniform() as f32).collect();
    let y: Vec<f32> = (0..t * b * n_out).map(|_| rng.uniform() as f32).collect();
    let inputs = Tensor::from_vec(u, (t, b, n_in), &dev).unwrap();
    let targets = Tensor::from_vec(y, (t, b, n_out), &dev).unwrap();
    let mask = Tensor::ones((t, b, n_out), DType::F32, &dev).unwrap();
    for l2_firing_rate in [0.0, 0.3] {
        let mut options = RateRnnOptions::new(0.1, 0.05, Transfer::Relu);
        options.kernel = two_threads();
        options.fused = false;
        options.regularization = Regularization {
            l1_rec: 0.01,
            l2_out: 0.02,
            l2_firing_rate,
            ..Regularization::default()
        };
        let reference = RateRnn::new(&w, &options, DType::F32, &dev).unwrap();
        options.fused = true;
        let fused = RateRnn::new(&w, &options, DType::F32, &dev).unwrap();
        // The same noise draws for both: the same seed.
        let (r_out, r_pen) = reference
            .run_for_loss(&inputs, &mut Rng::from_seed(8))
            .unwrap();
        let (f_out, f_pen) = fused.run_for_loss(&inputs, &mut Rng::from_seed(8)).unwrap();
        let case = format!("l2_firing_rate {l2_firing_rate}");
        assert!(rel_diff(&f_out, &r_out) < 1e-4, "{case}: outputs");
        let (r_pen, f_pen) = (r_pen.expect("a penalty"), f_pen.expect("a penalty"));
        assert!(rel_diff(&f_pen, &r_pen) < 1e-5, "{case}: penalty");
        let total =
            |out: &Tensor, pen: &Tensor| (masked_mse(out, &targets, &mask).unwrap() + pen).unwrap();
        let g_ref = total(&r_out, &r_pen).backward().unwrap();
        let g_fused = total(&f_out, &f_pen).backward().unwrap();
        for ((name, vr), (_, vf)) in reference.vars().into_iter().zip(fused.vars()) {
            let (gr, gf) = (
                g_ref.get(vr.as_tensor()).expect(name),
                g_fused.get(vf.as_tensor()).expect(name),
            );
            let d = rel_diff(gf, gr);
            assert!(d < 1e-4, "{case}: gradient of {name} differs by {d}");
        }
    }
}

/// The op made `without_states` returns the same outputs and keeps no states; the default op
/// keeps X [T·B·N].
#[test]
fn recurrence_without_states_keeps_none() {
    use psychrnn::kernel::RateRecurrence;
    let (n, t, b, n_in, n_out) = (6, 5, 4, 2, 2);
    let dev = Device::Cpu;
    let mut rng = Rng::from_seed(2);
    let mut draw = |len: usize| -> Vec<f32> {
        (0..len)
            .map(|_| rng.uniform_range(-0.5, 0.5) as f32)
            .collect()
    };
    let u = Tensor::from_vec(draw(t * b * n_in), (t, b, n_in), &dev).unwrap();
    let p = Tensor::from_vec(draw(n * (n + n_in + 2)), (n, n + n_in + 2), &dev).unwrap();
    let q = Tensor::from_vec(draw(n_out * (n + 1)), (n_out, n + 1), &dev).unwrap();
    let keeping = RateRecurrence::new(vec![0.2], Transfer::Tanh, None, KernelOptions::default());
    let dropping = RateRecurrence::new(vec![0.2], Transfer::Tanh, None, KernelOptions::default())
        .without_states();
    let y_keep = u.apply_op3(&p, &q, keeping.clone()).unwrap();
    let y_drop = u.apply_op3(&p, &q, dropping.clone()).unwrap();
    assert_eq!(
        y_keep.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
        y_drop.flatten_all().unwrap().to_vec1::<f32>().unwrap()
    );
    assert_eq!(keeping.take_states().map(|x| x.len()), Some(t * b * n));
    assert_eq!(dropping.take_states(), None);
}

/// A network that notes the name of the thread each training step's forward pass runs on.
struct ThreadNoting {
    inner: Box<dyn psychrnn::model::Network + Send + Sync>,
    threads: std::sync::Mutex<Vec<String>>,
}

impl psychrnn::model::Network for ThreadNoting {
    fn trainable(&self) -> Vec<psychrnn::model::TrainableVar<'_>> {
        self.inner.trainable()
    }
    fn run(
        &self,
        inputs: &Tensor,
        noise_rng: &mut Rng,
        track: bool,
    ) -> candle_core::Result<(psychrnn::model::Simulation, Option<Tensor>)> {
        self.inner.run(inputs, noise_rng, track)
    }
    fn run_for_loss(
        &self,
        inputs: &Tensor,
        noise_rng: &mut Rng,
    ) -> candle_core::Result<(Tensor, Option<Tensor>)> {
        let name = std::thread::current().name().unwrap_or("").to_string();
        self.threads.lock().unwrap().push(name);
        self.inner.run_for_loss(inputs, noise_rng)
    }
    fn rates(&self, states: &Tensor) -> candle_core::Result<Tensor> {
        self.inner.rates(states)
    }
    fn dtype(&self) -> DType {
        self.inner.dtype()
    }
    fn n_rec(&self) -> usize {
        self.inner.n_rec()
    }
    fn device(&self) -> Device {
        self.inner.device()
    }
    fn write_npz(&self, path: &std::path::Path) -> candle_core::Result<()> {
        self.inner.write_npz(path)
    }
    fn kernel_options(&self) -> KernelOptions {
        self.inner.kernel_options()
    }
}

#[test]
fn training_steps_run_on_the_kernels_thread_pool() {
    let path = crate::harness::repo().join("scripts/perceptual_discrimination.rhai");
    let overrides = ["model.n_rec=8", "train.batch_size=8", "train.iterations=3"];
    let options = psychrnn::script::LoadOptions {
        overrides: overrides.iter().map(|s| s.parse().unwrap()).collect(),
        ..Default::default()
    };
    let loaded = psychrnn::script::load_experiment(&path, &options).unwrap();
    for (threads, pool) in [(1, false), (2, true)] {
        let built = psychrnn::model::build_network_with(
            &loaded.config.model,
            psychrnn::task::Task::shape(loaded.task.as_ref()),
            0,
            std::path::Path::new("."),
            KernelOptions::with_threads(threads),
        )
        .unwrap();
        let model = ThreadNoting {
            inner: built.network,
            threads: Default::default(),
        };
        assert_eq!(
            psychrnn::model::Network::kernel_options(&model).threads,
            threads
        );
        let config = psychrnn::train::TrainConfig {
            iterations: 3,
            batch_size: 8,
            eval_every: 3,
            eval_trials: 8,
            ..psychrnn::train::TrainConfig::default()
        };
        let kind = loaded.config.model.loss;
        psychrnn::train::train(&model, loaded.task.clone(), &config, kind, 0, |_| {}).unwrap();
        let names = model.threads.lock().unwrap().clone();
        assert_eq!(names.len(), 3, "one forward pass per iteration: {names:?}");
        for name in names {
            // One thread runs on the caller (the test's own thread); more run in the pool.
            assert_eq!(
                name.starts_with("psychrnn-model-"),
                pool,
                "{threads} threads: {name}"
            );
        }
    }
}
