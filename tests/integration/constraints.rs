//! Biological constraints hold exactly before and after training.

use std::path::PathBuf;
use std::sync::Arc;

use candle_core::{DType, Device};
use psychrnn::model::{
    initial_weights, Constraints, ModelConfig, RateRnn, RateRnnOptions, RateRnnWeights, Trainable,
    Transfer,
};
use psychrnn::script::{load_experiment, LoadOptions};
use psychrnn::task::Task;
use psychrnn::train::{train, TrainConfig};

fn task() -> Arc<dyn Task> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/perceptual_discrimination.rhai");
    load_experiment(&path, &LoadOptions::default())
        .unwrap()
        .task
}

fn short_training() -> TrainConfig {
    TrainConfig {
        iterations: 30,
        batch_size: 16,
        learning_rate: 0.01,
        eval_every: 30,
        eval_trials: 16,
        ..TrainConfig::default()
    }
}

/// Builds, trains and returns (initial raw weights, trained model, constraints).
fn trained(config: &ModelConfig, trainable: Trainable) -> (RateRnnWeights, RateRnn, Constraints) {
    let k = Constraints::from_config(config, 2, 2).unwrap();
    let w0 = initial_weights(config, &k, 3);
    let options = RateRnnOptions {
        trainable,
        fixed: [
            k.fixed_w_in.clone(),
            k.fixed_w_rec.clone(),
            k.fixed_w_out.clone(),
        ],
        ..RateRnnOptions::new(0.1, 0.05, Transfer::Relu)
    };
    let model = RateRnn::new(&w0, &options, DType::F32, &Device::Cpu).unwrap();
    train(&model, task(), &short_training(), config.loss, 1, |_| {}).unwrap();
    (w0, model, k)
}

fn changed(a: &[f32], b: &[f32]) -> usize {
    a.iter()
        .zip(b)
        .filter(|(x, y)| x.to_bits() != y.to_bits())
        .count()
}

#[test]
fn dale_signs_and_masks_hold_after_training() {
    let n = 10;
    // Two regions of 5 units: within-region connections only, no autapses.
    let rec: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            (0..n)
                .map(|j| if (i < 5) == (j < 5) { 1.0 } else { 0.0 })
                .collect()
        })
        .collect();
    let input: Vec<Vec<f64>> = (0..n)
        .map(|i| vec![if i < 5 { 1.0 } else { 0.0 }, 1.0])
        .collect();
    let config = ModelConfig {
        n_rec: n,
        dale_ratio: Some(0.8),
        autapses: false,
        rec_connectivity: Some(rec),
        input_connectivity: Some(input),
        ..ModelConfig::default()
    };
    let k0 = Constraints::from_config(&config, 2, 2).unwrap();
    let w0 = initial_weights(&config, &k0, 3);
    let (before_in, before_rec, before_out) = k0.effective(&w0.w_in, &w0.w_rec, &w0.w_out);
    let (_, model, k) = trained(&config, Trainable::default());
    let after = model.effective_weights().unwrap();
    assert!(
        changed(&after.w_rec, &before_rec) > 0,
        "training changed nothing"
    );
    let n_exc = 8;
    for (label, w_in, w_rec, w_out) in [
        ("before", &before_in, &before_rec, &before_out),
        ("after", &after.w_in, &after.w_rec, &after.w_out),
    ] {
        for i in 0..n {
            for j in 0..n {
                let v = w_rec[i * n + j];
                if k.rec_connectivity[i * n + j] == 0.0 {
                    assert_eq!(v, 0.0, "{label}: masked W_rec[{i}][{j}] = {v}");
                }
                if j < n_exc {
                    assert!(v >= 0.0, "{label}: excitatory unit {j} projects {v} to {i}");
                } else {
                    assert!(v <= 0.0, "{label}: inhibitory unit {j} projects {v} to {i}");
                }
            }
            assert_eq!(w_rec[i * n + i], 0.0, "{label}: autapse on {i}");
            if i >= 5 {
                assert_eq!(w_in[i * 2], 0.0, "{label}: masked W_in[{i}][0]");
            }
            assert!(
                w_in[i * 2 + 1] >= 0.0,
                "{label}: inputs are excitatory under Dale"
            );
        }
        for o in 0..2 {
            for j in 0..n {
                let v = w_out[o * n + j];
                if j < n_exc {
                    assert!(v >= 0.0, "{label}: W_out[{o}][{j}] = {v}");
                } else {
                    assert_eq!(v, 0.0, "{label}: inhibitory unit {j} drives output {o}");
                }
            }
        }
    }
}

#[test]
fn fixed_synapses_are_bit_identical_after_training() {
    let n = 8;
    // Fix the first 4 columns of W_rec and the first input weight of every unit.
    let fixed_rec: Vec<Vec<f64>> = (0..n)
        .map(|_| (0..n).map(|j| if j < 4 { 1.0 } else { 0.0 }).collect())
        .collect();
    let fixed_in: Vec<Vec<f64>> = (0..n).map(|_| vec![1.0, 0.0]).collect();
    let config = ModelConfig {
        n_rec: n,
        fixed_w_rec: Some(fixed_rec),
        fixed_w_in: Some(fixed_in),
        ..ModelConfig::default()
    };
    let (w0, model, _) = trained(&config, Trainable::default());
    let w1 = model.weights().unwrap();
    let (mut fixed_changed, mut free_changed) = (0, 0);
    for k in 0..n * n {
        let same = w0.w_rec[k].to_bits() == w1.w_rec[k].to_bits();
        if k % n < 4 {
            fixed_changed += usize::from(!same);
        } else {
            free_changed += usize::from(!same);
        }
    }
    assert_eq!(fixed_changed, 0, "fixed W_rec entries moved");
    assert!(
        free_changed > n * 3,
        "free W_rec entries should train ({free_changed} moved)"
    );
    for i in 0..n {
        assert_eq!(
            w0.w_in[i * 2].to_bits(),
            w1.w_in[i * 2].to_bits(),
            "fixed W_in[{i}][0] moved"
        );
    }
    assert!(changed(&w0.w_in, &w1.w_in) > 0);
}

#[test]
fn untrainable_parameters_do_not_change() {
    let config = ModelConfig {
        n_rec: 6,
        ..ModelConfig::default()
    };
    let flags = Trainable {
        w_out: false,
        b_rec: false,
        init_state: false,
        ..Trainable::default()
    };
    let (w0, model, _) = trained(&config, flags);
    let w1 = model.weights().unwrap();
    assert_eq!(changed(&w0.w_out, &w1.w_out), 0);
    assert_eq!(changed(&w0.b_rec, &w1.b_rec), 0);
    assert_eq!(changed(&w0.init_state, &w1.init_state), 0);
    assert!(
        changed(&w0.w_rec, &w1.w_rec) > 0
            && changed(&w0.w_in, &w1.w_in) > 0
            && changed(&w0.b_out, &w1.b_out) > 0
    );
}
