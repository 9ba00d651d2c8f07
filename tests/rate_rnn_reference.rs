//! The rate RNN against a plain-loop reference: forward pass, effective weights, and gradients
//! against finite differences.

use candle_core::{DType, Device, Tensor};
use psychrnn::model::{RateRnn, RateRnnWeights, Transfer};
use psychrnn::random::Rng;
use psychrnn::train::masked_mse;

/// Random weights with random 0/1 connectivity masks (about 70% connected).
fn random_weights(n_in: usize, n_rec: usize, n_out: usize, seed: u64) -> RateRnnWeights {
    let mut rng = Rng::from_seed(seed);
    let mut normal = |n: usize, s: f64| {
        (0..n)
            .map(|_| (rng.normal() * s) as f32)
            .collect::<Vec<_>>()
    };
    let w_in = normal(n_rec * n_in, 0.5);
    let w_rec = normal(n_rec * n_rec, 1.2 / (n_rec as f64).sqrt());
    let w_out = normal(n_out * n_rec, 0.5);
    let b_rec = normal(n_rec, 0.1);
    let b_out = normal(n_out, 0.1);
    let init_state = normal(n_rec, 0.3);
    let mut rng = Rng::from_seed(seed + 1);
    let mut mask = |n: usize| {
        (0..n)
            .map(|_| if rng.uniform() < 0.7 { 1.0 } else { 0.0 })
            .collect::<Vec<f32>>()
    };
    RateRnnWeights {
        n_in,
        n_rec,
        n_out,
        w_in,
        w_rec,
        w_out,
        b_rec,
        b_out,
        init_state,
        input_connectivity: mask(n_rec * n_in),
        rec_connectivity: mask(n_rec * n_rec),
        output_connectivity: mask(n_out * n_rec),
    }
}

fn random_inputs(t: usize, b: usize, n_in: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng::from_seed(seed);
    (0..t * b * n_in)
        .map(|_| rng.uniform_range(-1.0, 1.5) as f32)
        .collect()
}

/// PsychRNN's equations, one unit at a time, in f64.
/// Returns (states, outputs), both [T][B][·].
#[allow(clippy::needless_range_loop)] // explicit indices are the point of a reference
fn naive(
    w: &RateRnnWeights,
    alpha: f64,
    f: Transfer,
    u: &[f32],
    noise: &[f32],
    t_len: usize,
    b_len: usize,
) -> (Vec<f64>, Vec<f64>) {
    let (ni, n, no) = (w.n_in, w.n_rec, w.n_out);
    let eff = |v: &[f32], m: &[f32], k: usize| v[k] as f64 * m[k] as f64;
    let mut states = vec![0.0; t_len * b_len * n];
    let mut outputs = vec![0.0; t_len * b_len * no];
    for b in 0..b_len {
        let mut x: Vec<f64> = w.init_state.iter().map(|&v| v as f64).collect();
        for t in 0..t_len {
            let r: Vec<f64> = x.iter().map(|&v| f.apply_scalar(v)).collect();
            let mut next = vec![0.0; n];
            for i in 0..n {
                let mut drive = w.b_rec[i] as f64;
                for j in 0..n {
                    drive += eff(&w.w_rec, &w.rec_connectivity, i * n + j) * r[j];
                }
                for k in 0..ni {
                    drive += eff(&w.w_in, &w.input_connectivity, i * ni + k)
                        * u[(t * b_len + b) * ni + k] as f64;
                }
                next[i] =
                    (1.0 - alpha) * x[i] + alpha * drive + noise[(t * b_len + b) * n + i] as f64;
            }
            x = next;
            for i in 0..n {
                states[(t * b_len + b) * n + i] = x[i];
            }
            for o in 0..no {
                let mut y = w.b_out[o] as f64;
                for j in 0..n {
                    y += eff(&w.w_out, &w.output_connectivity, o * n + j) * f.apply_scalar(x[j]);
                }
                outputs[(t * b_len + b) * no + o] = y;
            }
        }
    }
    (states, outputs)
}

#[test]
fn forward_matches_naive_loops_for_every_transfer_function() {
    let (n_in, n_rec, n_out, t_len, b_len) = (3, 20, 2, 30, 4);
    let w = random_weights(n_in, n_rec, n_out, 42);
    let u = random_inputs(t_len, b_len, n_in, 7);
    let alpha = 0.1;
    let dev = Device::Cpu;
    for f in [
        Transfer::Relu,
        Transfer::Tanh,
        Transfer::Sigmoid,
        Transfer::Softplus,
        Transfer::Linear,
    ] {
        let model = RateRnn::new(&w, alpha, 0.05, f, DType::F32, &dev).unwrap();
        let noise = model
            .draw_noise(&mut Rng::from_seed(9), t_len, b_len)
            .unwrap()
            .unwrap();
        let noise_host: Vec<f32> = noise.flatten_all().unwrap().to_vec1().unwrap();
        let expected_std = (2.0 * alpha * 0.05f64 * 0.05).sqrt();
        let got_std = (noise_host.iter().map(|&v| (v as f64).powi(2)).sum::<f64>()
            / noise_host.len() as f64)
            .sqrt();
        assert!(
            (got_std / expected_std - 1.0).abs() < 0.1,
            "noise std {got_std} vs {expected_std}"
        );
        let inputs = Tensor::from_slice(&u, (t_len, b_len, n_in), &dev).unwrap();
        let sim = model.forward(&inputs, Some(&noise)).unwrap();
        let states: Vec<f32> = sim.states.flatten_all().unwrap().to_vec1().unwrap();
        let outputs: Vec<f32> = sim.outputs.flatten_all().unwrap().to_vec1().unwrap();
        let (s_ref, y_ref) = naive(&w, alpha, f, &u, &noise_host, t_len, b_len);
        let max_s = states
            .iter()
            .zip(&s_ref)
            .map(|(a, b)| (*a as f64 - b).abs())
            .fold(0.0, f64::max);
        let max_y = outputs
            .iter()
            .zip(&y_ref)
            .map(|(a, b)| (*a as f64 - b).abs())
            .fold(0.0, f64::max);
        assert!(max_s < 1e-5, "{f:?}: states differ by {max_s}");
        assert!(max_y < 1e-5, "{f:?}: outputs differ by {max_y}");
        // The reference must not be trivially zero.
        assert!(s_ref.iter().any(|v| v.abs() > 0.1));
    }
}

#[test]
fn saved_effective_weights_are_masked() {
    let w = random_weights(2, 6, 2, 3);
    let model = RateRnn::new(&w, 0.1, 0.0, Transfer::Relu, DType::F32, &Device::Cpu).unwrap();
    let e = model.effective_weights().unwrap();
    for k in 0..w.w_rec.len() {
        assert_eq!(e.w_rec[k], w.w_rec[k] * w.rec_connectivity[k]);
    }
    for k in 0..w.w_in.len() {
        assert_eq!(e.w_in[k], w.w_in[k] * w.input_connectivity[k]);
    }
    assert!(w.rec_connectivity.contains(&0.0) && e.w_rec.contains(&0.0));
}

fn loss_of(
    model: &RateRnn,
    inputs: &Tensor,
    noise: &Tensor,
    targets: &Tensor,
    mask: &Tensor,
) -> Tensor {
    let sim = model.forward(inputs, Some(noise)).unwrap();
    masked_mse(&sim.outputs, targets, mask).unwrap()
}

#[test]
fn gradients_match_finite_differences() {
    let (n_in, n_rec, n_out, t_len, b_len) = (2, 5, 2, 8, 3);
    let dev = Device::Cpu;
    for f in [Transfer::Relu, Transfer::Tanh] {
        let w = random_weights(n_in, n_rec, n_out, 11);
        let model = RateRnn::new(&w, 0.2, 0.1, f, DType::F64, &dev).unwrap();
        let u = random_inputs(t_len, b_len, n_in, 5);
        let inputs = Tensor::from_slice(&u, (t_len, b_len, n_in), &dev)
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap();
        let noise = model
            .draw_noise(&mut Rng::from_seed(2), t_len, b_len)
            .unwrap()
            .unwrap();
        let targets_host = random_inputs(t_len, b_len, n_out, 6);
        let targets = Tensor::from_slice(&targets_host, (t_len, b_len, n_out), &dev)
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap();
        let mut rng = Rng::from_seed(8);
        let mask_host: Vec<f64> = (0..t_len * b_len * n_out)
            .map(|_| if rng.uniform() < 0.6 { 1.0 } else { 0.0 })
            .collect();
        let mask = Tensor::from_slice(&mask_host, (t_len, b_len, n_out), &dev).unwrap();
        let grads = loss_of(&model, &inputs, &noise, &targets, &mask)
            .backward()
            .unwrap();
        let mut checked = 0;
        for (name, var) in model.vars() {
            let grad: Vec<f64> = grads
                .get(var.as_tensor())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let base: Vec<f64> = var.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
            let shape = var.as_tensor().shape().clone();
            let h = 1e-6;
            for k in 0..base.len() {
                let at = |delta: f64| {
                    let mut v = base.clone();
                    v[k] += delta;
                    var.set(&Tensor::from_vec(v, shape.clone(), &dev).unwrap())
                        .unwrap();
                    loss_of(&model, &inputs, &noise, &targets, &mask)
                        .to_scalar::<f64>()
                        .unwrap()
                };
                let fd = (at(h) - at(-h)) / (2.0 * h);
                var.set(&Tensor::from_vec(base.clone(), shape.clone(), &dev).unwrap())
                    .unwrap();
                let err = (fd - grad[k]).abs();
                assert!(
                    err <= 1e-6 + 1e-4 * fd.abs(),
                    "{f:?} {name}[{k}]: autograd {} vs finite difference {fd}",
                    grad[k]
                );
                checked += 1;
            }
        }
        assert_eq!(
            checked,
            n_rec + n_rec * n_in + n_rec * n_rec + n_out * n_rec + n_rec + n_out
        );
    }
}
