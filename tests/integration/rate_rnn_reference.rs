//! The rate RNN against a plain-loop reference: forward pass, effective weights, and gradients
//! against finite differences.

use candle_core::{DType, Device, Tensor};
use psychrnn::model::{Network, RateRnn, RateRnnOptions, RateRnnWeights, Regularization, Transfer};
use psychrnn::random::Rng;
use psychrnn::train::masked_mse;

/// Random weights with random 0/1 connectivity masks (about 70% connected).
fn random_weights(n_in: usize, n_rec: usize, n_out: usize, seed: u64) -> RateRnnWeights {
    random_weights_with(n_in, n_rec, n_out, seed, None)
}

fn random_weights_with(
    n_in: usize,
    n_rec: usize,
    n_out: usize,
    seed: u64,
    dale_ratio: Option<f64>,
) -> RateRnnWeights {
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
        dale_ratio,
    }
}

fn random_inputs(t: usize, b: usize, n_in: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng::from_seed(seed);
    (0..t * b * n_in)
        .map(|_| rng.uniform_range(-1.0, 1.5) as f32)
        .collect()
}

/// PsychRNN's equations, one unit at a time, in f64, with Dale's principle written out:
/// excitatory units (the first round(ratio·N)) project |w|, inhibitory ones −|w|, and only
/// excitatory units reach the outputs. `alpha[i]` is unit i's dt/τ.
/// Returns (states, outputs), both [T][B][·].
#[allow(clippy::needless_range_loop, clippy::too_many_arguments)] // explicit indices are the point of a reference
fn naive(
    w: &RateRnnWeights,
    alpha: &[f64],
    f: Transfer,
    u: &[f32],
    noise: &[f32],
    t_len: usize,
    b_len: usize,
) -> (Vec<f64>, Vec<f64>) {
    let (ni, n, no) = (w.n_in, w.n_rec, w.n_out);
    let n_exc = w.dale_ratio.map(|r| (r * n as f64).round() as usize);
    let masked = |v: &[f32], m: &[f32], k: usize| v[k] as f64 * m[k] as f64;
    let w_rec = |i: usize, j: usize| {
        let x = masked(&w.w_rec, &w.rec_connectivity, i * n + j);
        match n_exc {
            None => x,
            Some(e) if j < e => x.abs(),
            Some(_) => -x.abs(),
        }
    };
    let w_in = |i: usize, k: usize| {
        let x = masked(&w.w_in, &w.input_connectivity, i * ni + k);
        if n_exc.is_some() {
            x.abs()
        } else {
            x
        }
    };
    let w_out = |o: usize, j: usize| {
        let x = masked(&w.w_out, &w.output_connectivity, o * n + j);
        match n_exc {
            None => x,
            Some(e) if j < e => x.abs(),
            Some(_) => 0.0,
        }
    };
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
                    drive += w_rec(i, j) * r[j];
                }
                for k in 0..ni {
                    drive += w_in(i, k) * u[(t * b_len + b) * ni + k] as f64;
                }
                let a = alpha[if alpha.len() == 1 { 0 } else { i }];
                next[i] = (1.0 - a) * x[i] + a * drive + noise[(t * b_len + b) * n + i] as f64;
            }
            x = next;
            for i in 0..n {
                states[(t * b_len + b) * n + i] = x[i];
            }
            for o in 0..no {
                let mut y = w.b_out[o] as f64;
                for j in 0..n {
                    y += w_out(o, j) * f.apply_scalar(x[j]);
                }
                outputs[(t * b_len + b) * no + o] = y;
            }
        }
    }
    (states, outputs)
}

#[test]
fn forward_matches_naive_loops_for_every_transfer_function_with_dale_and_per_unit_tau() {
    let (n_in, n_rec, n_out, t_len, b_len) = (3, 20, 2, 30, 4);
    let u = random_inputs(t_len, b_len, n_in, 7);
    let dev = Device::Cpu;
    let per_unit: Vec<f64> = (0..n_rec).map(|i| 0.05 + 0.01 * i as f64).collect();
    for (dale, alpha) in [
        (None, vec![0.1]),
        (Some(0.75), vec![0.1]),
        (Some(0.8), per_unit),
    ] {
        let w = random_weights_with(n_in, n_rec, n_out, 42, dale);
        for f in [
            Transfer::Relu,
            Transfer::Tanh,
            Transfer::Sigmoid,
            Transfer::Softplus,
            Transfer::Linear,
        ] {
            let mut options = RateRnnOptions::new(0.1, 0.05, f);
            options.alpha = alpha.clone();
            let model = RateRnn::new(&w, &options, DType::F32, &dev).unwrap();
            let noise = model
                .draw_noise(&mut Rng::from_seed(9), t_len, b_len)
                .unwrap()
                .unwrap();
            let noise_host: Vec<f32> = noise.flatten_all().unwrap().to_vec1().unwrap();
            // Noise std of unit i is sqrt(2 α_i σ²).
            let a0 = alpha[0];
            let unit0: Vec<f64> = noise_host
                .iter()
                .step_by(n_rec)
                .map(|&v| v as f64)
                .collect();
            let got_std = (unit0.iter().map(|v| v * v).sum::<f64>() / unit0.len() as f64).sqrt();
            let expected_std = (2.0 * a0 * 0.05f64 * 0.05).sqrt();
            assert!(
                (got_std / expected_std - 1.0).abs() < 0.3,
                "noise std {got_std} vs {expected_std}"
            );
            let inputs = Tensor::from_slice(&u, (t_len, b_len, n_in), &dev).unwrap();
            let sim = model.forward(&inputs, Some(&noise)).unwrap();
            let states: Vec<f32> = sim.states.flatten_all().unwrap().to_vec1().unwrap();
            let outputs: Vec<f32> = sim.outputs.flatten_all().unwrap().to_vec1().unwrap();
            let (s_ref, y_ref) = naive(&w, &alpha, f, &u, &noise_host, t_len, b_len);
            // Within 1e-5, relative to the value once it exceeds 1 (f32 arithmetic).
            let err = |a: &[f32], b: &[f64]| {
                a.iter()
                    .zip(b)
                    .map(|(a, b)| (*a as f64 - b).abs() / b.abs().max(1.0))
                    .fold(0.0, f64::max)
            };
            let (max_s, max_y) = (err(&states, &s_ref), err(&outputs, &y_ref));
            assert!(max_s < 1e-5, "{f:?} {dale:?}: states differ by {max_s}");
            assert!(max_y < 1e-5, "{f:?} {dale:?}: outputs differ by {max_y}");
            assert!(
                s_ref.iter().any(|v| v.abs() > 0.1),
                "the reference must not be trivial"
            );
        }
    }
}

#[test]
fn saved_effective_weights_are_masked() {
    let w = random_weights(2, 6, 2, 3);
    let model = RateRnn::new(
        &w,
        &RateRnnOptions::new(0.1, 0.0, Transfer::Relu),
        DType::F32,
        &Device::Cpu,
    )
    .unwrap();
    let e = model.effective_weights().unwrap();
    for k in 0..w.w_rec.len() {
        assert_eq!(e.w_rec[k], w.w_rec[k] * w.rec_connectivity[k]);
    }
    for k in 0..w.w_in.len() {
        assert_eq!(e.w_in[k], w.w_in[k] * w.input_connectivity[k]);
    }
    assert!(w.rec_connectivity.contains(&0.0) && e.w_rec.contains(&0.0));
}

fn loss_of(model: &RateRnn, inputs: &Tensor, targets: &Tensor, mask: &Tensor) -> Tensor {
    // The same noise draws every call.
    let (sim, penalty) = model.run(inputs, &mut Rng::from_seed(2), true).unwrap();
    let loss = masked_mse(&sim.outputs, targets, mask).unwrap();
    (loss + penalty.unwrap()).unwrap()
}

#[test]
fn gradients_match_finite_differences_with_dale_tau_per_unit_and_penalties() {
    let (n_in, n_rec, n_out, t_len, b_len) = (2, 5, 2, 8, 3);
    let dev = Device::Cpu;
    for (f, dale) in [
        (Transfer::Relu, None),
        (Transfer::Tanh, Some(0.6)),
        (Transfer::Softplus, Some(0.8)),
    ] {
        let w = random_weights_with(n_in, n_rec, n_out, 11, dale);
        let mut options = RateRnnOptions::new(0.2, 0.1, f);
        options.alpha = vec![0.2, 0.1, 0.3, 0.15, 0.25];
        options.regularization = Regularization {
            l1_in: 0.01,
            l1_rec: 0.02,
            l1_out: 0.03,
            l2_in: 0.04,
            l2_rec: 0.05,
            l2_out: 0.06,
            l2_firing_rate: 0.07,
        };
        let model = RateRnn::new(&w, &options, DType::F64, &dev).unwrap();
        let u = random_inputs(t_len, b_len, n_in, 5);
        let inputs = Tensor::from_slice(&u, (t_len, b_len, n_in), &dev)
            .unwrap()
            .to_dtype(DType::F64)
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
        let grads = loss_of(&model, &inputs, &targets, &mask)
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
                    loss_of(&model, &inputs, &targets, &mask)
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

#[test]
fn penalties_match_a_hand_computation() {
    // One input, two units (one excitatory, one inhibitory), one output.
    let w = RateRnnWeights {
        n_in: 1,
        n_rec: 2,
        n_out: 1,
        w_in: vec![-1.0, 2.0],
        w_rec: vec![0.5, -1.0, 2.0, 3.0],
        w_out: vec![4.0, -5.0],
        b_rec: vec![0.0, 0.0],
        b_out: vec![0.0],
        init_state: vec![1.0, -1.0],
        input_connectivity: vec![1.0, 1.0],
        rec_connectivity: vec![1.0, 1.0, 0.0, 1.0],
        output_connectivity: vec![1.0, 1.0],
        dale_ratio: Some(0.5),
    };
    let mut options = RateRnnOptions::new(1.0, 0.0, Transfer::Relu);
    options.regularization = Regularization {
        l1_in: 1.0,
        l1_rec: 10.0,
        l1_out: 100.0,
        l2_in: 1000.0,
        l2_rec: 1e4,
        l2_out: 1e5,
        l2_firing_rate: 1e6,
    };
    let model = RateRnn::new(&w, &options, DType::F64, &Device::Cpu).unwrap();
    // One step, one trial, input 0: x_1 = W_rec_eff relu(x_0) = [0.5·1, 0] (entry (1,0) masked).
    let inputs = Tensor::zeros((1, 1, 1), DType::F64, &Device::Cpu).unwrap();
    let (_, penalty) = model.run(&inputs, &mut Rng::from_seed(0), true).unwrap();
    let got = penalty.unwrap().to_scalar::<f64>().unwrap();
    // Effective: W_in |·| = [1, 2]; W_rec = [[0.5, −1], [0, −3]]; W_out = [4, 0].
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let expected = 1.0 * mean(&[1.0, 2.0])
        + 10.0 * mean(&[0.5, 1.0, 0.0, 3.0])
        + 100.0 * mean(&[4.0, 0.0])
        + 1000.0 * mean(&[1.0, 4.0])
        + 1e4 * mean(&[0.25, 1.0, 0.0, 9.0])
        + 1e5 * mean(&[16.0, 0.0])
        + 1e6 * mean(&[0.25, 0.0]);
    assert!(
        (got - expected).abs() < 1e-9 * expected,
        "{got} vs {expected}"
    );
}
