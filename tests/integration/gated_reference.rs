//! LSTM and GRU against plain-loop implementations of the textbook equations, gradients
//! against finite differences, and a short training run whose loss falls.

use std::path::PathBuf;

use candle_core::{DType, Device, Tensor};
use psychrnn::model::{Cell, GatedRnn, GatedWeights, LossKind, Network, Regularization};
use psychrnn::random::Rng;
use psychrnn::script::{load_experiment, LoadOptions};
use psychrnn::train::{masked_mse, train, TrainConfig};

fn weights(cell: Cell, n_in: usize, n: usize, n_out: usize, seed: u64) -> GatedWeights {
    let mut w = GatedWeights::initial(cell, n_in, n, n_out, seed);
    let mut rng = Rng::from_seed(seed + 100);
    for v in w
        .b_x
        .iter_mut()
        .chain(w.b_h.iter_mut())
        .chain(w.init_hidden.iter_mut())
        .chain(w.init_cell.iter_mut())
    {
        *v += (0.3 * rng.normal()) as f32;
    }
    if cell == Cell::Lstm {
        w.b_h.fill(0.0); // the LSTM has one bias
    }
    w
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The module-doc equations, unit by unit. Returns (states, outputs) [T][B][·].
#[allow(clippy::needless_range_loop)] // explicit indices are the point of a reference
fn naive(w: &GatedWeights, u: &[f32], t_len: usize, b_len: usize) -> (Vec<f64>, Vec<f64>) {
    let (ni, n, no) = (w.n_in, w.n_rec, w.n_out);
    let g = if w.cell == Cell::Lstm { 4 } else { 3 };
    let mut states = vec![0.0; t_len * b_len * n];
    let mut outputs = vec![0.0; t_len * b_len * no];
    for b in 0..b_len {
        let mut h: Vec<f64> = w.init_hidden.iter().map(|&v| v as f64).collect();
        let mut c: Vec<f64> = w.init_cell.iter().map(|&v| v as f64).collect();
        for t in 0..t_len {
            let x = &u[(t * b_len + b) * ni..(t * b_len + b + 1) * ni];
            // Pre-activations per gate row: input side (with b_x) and hidden side (with b_h).
            let mut px = vec![0.0; g * n];
            let mut ph = vec![0.0; g * n];
            for r in 0..g * n {
                px[r] = w.b_x[r] as f64
                    + (0..ni)
                        .map(|k| w.w_x[r * ni + k] as f64 * x[k] as f64)
                        .sum::<f64>();
                ph[r] =
                    w.b_h[r] as f64 + (0..n).map(|k| w.w_h[r * n + k] as f64 * h[k]).sum::<f64>();
            }
            let mut next = vec![0.0; n];
            for i in 0..n {
                match w.cell {
                    Cell::Lstm => {
                        let gate = |k: usize| px[k * n + i] + ph[k * n + i];
                        let (ig, fg, gg, og) = (
                            sigmoid(gate(0)),
                            sigmoid(gate(1)),
                            gate(2).tanh(),
                            sigmoid(gate(3)),
                        );
                        c[i] = fg * c[i] + ig * gg;
                        next[i] = og * c[i].tanh();
                    }
                    Cell::Gru => {
                        let r = sigmoid(px[i] + ph[i]);
                        let z = sigmoid(px[n + i] + ph[n + i]);
                        let cand = (px[2 * n + i] + r * ph[2 * n + i]).tanh();
                        next[i] = (1.0 - z) * cand + z * h[i];
                    }
                }
            }
            h = next;
            for i in 0..n {
                states[(t * b_len + b) * n + i] = h[i];
            }
            for o in 0..no {
                outputs[(t * b_len + b) * no + o] = w.b_out[o] as f64
                    + (0..n)
                        .map(|j| w.w_out[o * n + j] as f64 * h[j])
                        .sum::<f64>();
            }
        }
    }
    (states, outputs)
}

fn inputs(t: usize, b: usize, n_in: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng::from_seed(seed);
    (0..t * b * n_in)
        .map(|_| rng.uniform_range(-1.0, 1.0) as f32)
        .collect()
}

#[test]
fn forward_matches_the_textbook_equations() {
    let (n_in, n, n_out, t_len, b_len) = (3, 7, 2, 25, 4);
    let u = inputs(t_len, b_len, n_in, 1);
    for cell in [Cell::Lstm, Cell::Gru] {
        let w = weights(cell, n_in, n, n_out, 5);
        let model = GatedRnn::new(&w, Regularization::default(), DType::F32, &Device::Cpu).unwrap();
        let x = Tensor::from_slice(&u, (t_len, b_len, n_in), &Device::Cpu).unwrap();
        let sim = model.forward(&x, false).unwrap();
        let (s_ref, y_ref) = naive(&w, &u, t_len, b_len);
        let s: Vec<f32> = sim.states.flatten_all().unwrap().to_vec1().unwrap();
        let y: Vec<f32> = sim.outputs.flatten_all().unwrap().to_vec1().unwrap();
        let err = |a: &[f32], b: &[f64]| {
            a.iter()
                .zip(b)
                .map(|(a, b)| (*a as f64 - b).abs())
                .fold(0.0, f64::max)
        };
        assert!(
            err(&s, &s_ref) < 1e-5,
            "{cell:?} states differ by {}",
            err(&s, &s_ref)
        );
        assert!(
            err(&y, &y_ref) < 1e-5,
            "{cell:?} outputs differ by {}",
            err(&y, &y_ref)
        );
        assert!(s_ref.iter().any(|v| v.abs() > 0.05));
    }
}

#[test]
fn gradients_match_finite_differences() {
    let (n_in, n, n_out, t_len, b_len) = (2, 3, 2, 6, 2);
    let dev = Device::Cpu;
    let u = inputs(t_len, b_len, n_in, 2);
    let x = Tensor::from_slice(&u, (t_len, b_len, n_in), &dev)
        .unwrap()
        .to_dtype(DType::F64)
        .unwrap();
    let y = Tensor::from_slice(&inputs(t_len, b_len, n_out, 3), (t_len, b_len, n_out), &dev)
        .unwrap()
        .to_dtype(DType::F64)
        .unwrap();
    let mask = Tensor::ones((t_len, b_len, n_out), DType::F64, &dev).unwrap();
    for cell in [Cell::Lstm, Cell::Gru] {
        let w = weights(cell, n_in, n, n_out, 9);
        let reg = Regularization {
            l2_rec: 0.1,
            l1_in: 0.05,
            l2_firing_rate: 0.2,
            ..Regularization::default()
        };
        let model = GatedRnn::new(&w, reg, DType::F64, &dev).unwrap();
        let loss = |m: &GatedRnn| {
            let (sim, p) = m.run(&x, &mut Rng::from_seed(0), true).unwrap();
            (masked_mse(&sim.outputs, &y, &mask).unwrap() + p.unwrap()).unwrap()
        };
        let grads = loss(&model).backward().unwrap();
        for t in model.trainable() {
            let grad: Vec<f64> = grads
                .get(t.var.as_tensor())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let base: Vec<f64> = t.var.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
            let shape = t.var.as_tensor().shape().clone();
            for k in 0..base.len() {
                let at = |d: f64| {
                    let mut v = base.clone();
                    v[k] += d;
                    t.var
                        .set(&Tensor::from_vec(v, shape.clone(), &dev).unwrap())
                        .unwrap();
                    loss(&model).to_scalar::<f64>().unwrap()
                };
                let fd = (at(1e-6) - at(-1e-6)) / 2e-6;
                t.var
                    .set(&Tensor::from_vec(base.clone(), shape.clone(), &dev).unwrap())
                    .unwrap();
                assert!(
                    (fd - grad[k]).abs() <= 1e-6 + 1e-4 * fd.abs(),
                    "{cell:?} {}[{k}]: {} vs {fd}",
                    t.name,
                    grad[k]
                );
            }
        }
    }
}

#[test]
fn lstm_and_gru_train_on_a_script_task() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/perceptual_discrimination.rhai");
    let task = load_experiment(&path, &LoadOptions::default())
        .unwrap()
        .task;
    for cell in [Cell::Lstm, Cell::Gru] {
        let w = GatedWeights::initial(cell, 2, 16, 2, 4);
        let model = GatedRnn::new(&w, Regularization::default(), DType::F32, &Device::Cpu).unwrap();
        let config = TrainConfig {
            iterations: 60,
            batch_size: 16,
            learning_rate: 0.01,
            eval_every: 20,
            eval_trials: 32,
            ..TrainConfig::default()
        };
        let out = train(&model, task.clone(), &config, LossKind::Mse, 2, |_| {}).unwrap();
        let (first, last) = (out.history[0].loss, out.history[2].loss);
        assert!(last < 0.7 * first, "{cell:?}: loss {first} → {last}");
    }
}

/// One pass of `m` on `x` with the masked MSE against `y` and its backward pass: the states
/// and each trainable parameter's gradient.
fn mse_run(
    m: &GatedRnn,
    x: &Tensor,
    y: &Tensor,
    mask: &Tensor,
) -> (Vec<f32>, Vec<(&'static str, Vec<f32>)>) {
    let (sim, _) = m.run(x, &mut Rng::from_seed(0), true).unwrap();
    let g = masked_mse(&sim.outputs, y, mask)
        .unwrap()
        .backward()
        .unwrap();
    let states = sim.states.flatten_all().unwrap().to_vec1().unwrap();
    let grads = m
        .trainable()
        .iter()
        .map(|t| {
            let grad = g.get(t.var.as_tensor()).unwrap();
            (t.name, grad.flatten_all().unwrap().to_vec1().unwrap())
        })
        .collect();
    (states, grads)
}

/// The fused kernel keeps its large buffers (gate activations, ∂ of the pre-activations) from
/// one training pass to the next: gradients over passes on different inputs must be the same,
/// bit for bit, as those of a network whose buffers are freed before every pass. (The stash
/// zeroes what it hands out, checked in its unit tests; with stale values left in, this test
/// still passed, so the kernel writes every value it reads back.)
#[test]
fn kept_kernel_buffers_give_the_gradients_of_fresh_ones() {
    // Large enough to be kept: 40 steps × 32 trials × 80 units × 3–5 values ≥ 2^18.
    let (n_in, n, n_out, t_len, b_len) = (2, 80, 2, 40, 32);
    let dev = Device::Cpu;
    let mask = Tensor::ones((t_len, b_len, n_out), DType::F32, &dev).unwrap();
    for cell in [Cell::Lstm, Cell::Gru] {
        let w = weights(cell, n_in, n, n_out, 4);
        let kept = GatedRnn::new(&w, Regularization::default(), DType::F32, &dev).unwrap();
        let fresh = GatedRnn::new(&w, Regularization::default(), DType::F32, &dev).unwrap();
        assert!(kept.fused && fresh.fused);
        for pass in 0..3u64 {
            let tensor = |seed: u64, c: usize| {
                Tensor::from_slice(&inputs(t_len, b_len, c, seed), (t_len, b_len, c), &dev).unwrap()
            };
            let (x, y) = (tensor(10 + pass, n_in), tensor(20 + pass, n_out));
            fresh.release_buffers();
            assert_eq!(fresh.kept_buffer_values(), 0);
            let (a, b) = (
                mse_run(&kept, &x, &y, &mask).1,
                mse_run(&fresh, &x, &y, &mask).1,
            );
            assert_eq!(a, b, "{cell:?}, pass {pass}");
            assert!(
                kept.kept_buffer_values() >= t_len * b_len * n * 3,
                "{cell:?}: the backward pass kept its buffers ({} values)",
                kept.kept_buffer_values()
            );
        }
        kept.release_buffers();
        assert_eq!(kept.kept_buffer_values(), 0);
    }
}

/// With two model threads the fused kernel splits the batch between them: the states are those
/// of one thread bit for bit (each trial's arithmetic is unchanged), and the gradients, summed
/// over the two parts, agree to rounding.
#[test]
fn a_batch_split_between_threads_gives_the_one_thread_results() {
    let (n_in, n, n_out, t_len, b_len) = (3, 24, 2, 15, 13);
    let dev = Device::Cpu;
    let x = Tensor::from_slice(&inputs(t_len, b_len, n_in, 5), (t_len, b_len, n_in), &dev).unwrap();
    let y =
        Tensor::from_slice(&inputs(t_len, b_len, n_out, 6), (t_len, b_len, n_out), &dev).unwrap();
    let mask = Tensor::ones((t_len, b_len, n_out), DType::F32, &dev).unwrap();
    for cell in [Cell::Lstm, Cell::Gru] {
        let w = weights(cell, n_in, n, n_out, 7);
        let run = |threads: usize| {
            let mut m = GatedRnn::new(&w, Regularization::default(), DType::F32, &dev).unwrap();
            m.kernel = psychrnn::kernel::KernelOptions::with_threads(threads);
            mse_run(&m, &x, &y, &mask)
        };
        let (one, two) = (run(1), run(2));
        assert_eq!(one.0, two.0, "{cell:?}: states");
        assert_eq!(one.1.len(), two.1.len());
        for ((name, a), (_, b)) in one.1.iter().zip(&two.1) {
            assert_eq!(a.len(), b.len(), "{cell:?} {name}");
            assert!(a.iter().any(|&g| g != 0.0), "{cell:?} {name}: all zero");
            for (u, v) in a.iter().zip(b) {
                assert!(
                    (u - v).abs() <= 1e-6 + 1e-5 * u.abs(),
                    "{cell:?}: {u} vs {v}"
                );
            }
        }
    }
}
