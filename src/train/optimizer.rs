//! Adam exactly as TensorFlow 1's `AdamOptimizer` (PsychRNN's), and per-tensor gradient clipping.

use candle_core::{DType, Result, Tensor, Var};

/// TensorFlow's Adam: with t the step count,
/// lr_t = lr·sqrt(1−β₂ᵗ)/(1−β₁ᵗ), m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g²,
/// θ ← θ − lr_t·m / (sqrt(v) + ε). (ε is added to the uncorrected sqrt(v), TF's form.)
#[derive(Debug)]
pub struct Adam {
    /// Learning rate.
    pub learning_rate: f64,
    /// First-moment decay β₁ (0.9).
    pub beta1: f64,
    /// Second-moment decay β₂ (0.999).
    pub beta2: f64,
    /// ε (1e-8).
    pub epsilon: f64,
    step: u64,
    first: Vec<Tensor>,
    second: Vec<Tensor>,
}

impl Adam {
    /// An optimizer for `vars` with TensorFlow's defaults.
    pub fn new(vars: &[&Var], learning_rate: f64) -> Result<Self> {
        let zeros = |v: &&Var| v.as_tensor().zeros_like();
        Ok(Adam {
            learning_rate,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            step: 0,
            first: vars.iter().map(zeros).collect::<Result<_>>()?,
            second: vars.iter().map(zeros).collect::<Result<_>>()?,
        })
    }

    /// Number of updates applied so far.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// Applies one update; `grads[k]` is the gradient of `vars[k]`.
    pub fn step(&mut self, vars: &[&Var], grads: &[Tensor]) -> Result<()> {
        self.step += 1;
        let t = self.step as i32;
        let lr_t =
            self.learning_rate * (1.0 - self.beta2.powi(t)).sqrt() / (1.0 - self.beta1.powi(t));
        for (k, (var, g)) in vars.iter().zip(grads).enumerate() {
            let m = (self.first[k].affine(self.beta1, 0.0)? + g.affine(1.0 - self.beta1, 0.0)?)?;
            let v = (self.second[k].affine(self.beta2, 0.0)?
                + g.sqr()?.affine(1.0 - self.beta2, 0.0)?)?;
            let update = (m.affine(lr_t, 0.0)? / (v.sqrt()? + self.epsilon)?)?;
            var.set(&var.as_tensor().sub(&update)?)?;
            self.first[k] = m;
            self.second[k] = v;
        }
        Ok(())
    }
}

/// Stochastic gradient descent with heavy-ball momentum μ: v ← μ v + g, θ ← θ − lr · v.
#[derive(Debug)]
pub struct Sgd {
    /// Learning rate.
    pub learning_rate: f64,
    /// Momentum μ.
    pub momentum: f64,
    step: u64,
    velocity: Vec<Tensor>,
}

impl Sgd {
    /// An optimizer for `vars`.
    pub fn new(vars: &[&Var], learning_rate: f64, momentum: f64) -> Result<Self> {
        Ok(Sgd {
            learning_rate,
            momentum,
            step: 0,
            velocity: vars
                .iter()
                .map(|v| v.as_tensor().zeros_like())
                .collect::<Result<_>>()?,
        })
    }

    /// Applies one update.
    pub fn step(&mut self, vars: &[&Var], grads: &[Tensor]) -> Result<()> {
        self.step += 1;
        for (k, (var, g)) in vars.iter().zip(grads).enumerate() {
            let v = (self.velocity[k].affine(self.momentum, 0.0)? + g)?;
            var.set(&var.as_tensor().sub(&v.affine(self.learning_rate, 0.0)?)?)?;
            self.velocity[k] = v;
        }
        Ok(())
    }
}

/// The optimizer a run uses, with its state exposed for checkpoints.
#[derive(Debug)]
pub enum Optimizer {
    /// TensorFlow's Adam.
    Adam(Adam),
    /// SGD with momentum.
    Sgd(Sgd),
}

impl Optimizer {
    /// Applies one update with learning rate `lr`.
    pub fn step(&mut self, vars: &[&Var], grads: &[Tensor], lr: f64) -> Result<()> {
        match self {
            Optimizer::Adam(a) => {
                a.learning_rate = lr;
                a.step(vars, grads)
            }
            Optimizer::Sgd(s) => {
                s.learning_rate = lr;
                s.step(vars, grads)
            }
        }
    }

    /// Updates applied so far and the per-variable state tensors (Adam: first moments then
    /// second moments; SGD: velocities).
    pub fn state(&self) -> (u64, Vec<Tensor>) {
        match self {
            Optimizer::Adam(a) => (a.step, a.first.iter().chain(&a.second).cloned().collect()),
            Optimizer::Sgd(s) => (s.step, s.velocity.clone()),
        }
    }

    /// Restores what [`Self::state`] returned.
    pub fn restore(&mut self, step: u64, tensors: Vec<Tensor>) -> Result<()> {
        match self {
            Optimizer::Adam(a) => {
                let n = a.first.len();
                if tensors.len() != 2 * n {
                    candle_core::bail!(
                        "the checkpoint holds {} Adam tensors, expected {}",
                        tensors.len(),
                        2 * n
                    );
                }
                a.step = step;
                a.second = tensors[n..].to_vec();
                a.first = tensors[..n].to_vec();
            }
            Optimizer::Sgd(s) => {
                if tensors.len() != s.velocity.len() {
                    candle_core::bail!(
                        "the checkpoint holds {} SGD tensors, expected {}",
                        tensors.len(),
                        s.velocity.len()
                    );
                }
                s.step = step;
                s.velocity = tensors;
            }
        }
        Ok(())
    }
}

/// Rescales `grads` together so their global L2 norm is at most `max_norm`.
pub fn clip_global(grads: &[Tensor], max_norm: f64) -> Result<Vec<Tensor>> {
    let mut total = 0.0;
    for g in grads {
        total += g
            .sqr()?
            .sum_all()?
            .to_dtype(DType::F64)?
            .to_scalar::<f64>()?;
    }
    let norm = total.sqrt();
    if norm > max_norm {
        grads
            .iter()
            .map(|g| g.affine(max_norm / norm, 0.0))
            .collect()
    } else {
        Ok(grads.to_vec())
    }
}

/// TensorFlow's `clip_by_norm`: `g · max_norm / max(‖g‖₂, max_norm)`.
pub fn clip_by_norm(g: &Tensor, max_norm: f64) -> Result<Tensor> {
    let norm = g
        .sqr()?
        .sum_all()?
        .to_dtype(DType::F64)?
        .to_scalar::<f64>()?
        .sqrt();
    if norm > max_norm {
        g.affine(max_norm / norm, 0.0)
    } else {
        Ok(g.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn adam_matches_hand_computation_over_two_steps() {
        let dev = Device::Cpu;
        let var = Var::from_slice(&[1.0f64, -2.0], 2, &dev).unwrap();
        let mut adam = Adam::new(&[&var], 0.1).unwrap();
        let g1 = Tensor::from_slice(&[0.5f64, -1.0], 2, &dev).unwrap();
        let g2 = Tensor::from_slice(&[0.25f64, 2.0], 2, &dev).unwrap();
        adam.step(&[&var], &[g1]).unwrap();
        adam.step(&[&var], &[g2]).unwrap();
        let got = var.as_tensor().to_vec1::<f64>().unwrap();
        // Independent scalar computation of TF's update.
        let mut theta = [1.0f64, -2.0];
        let (mut m, mut v) = ([0.0f64; 2], [0.0f64; 2]);
        for (t, g) in [[0.5, -1.0], [0.25, 2.0]].iter().enumerate() {
            let t = (t + 1) as i32;
            let lr_t = 0.1 * (1.0 - 0.999f64.powi(t)).sqrt() / (1.0 - 0.9f64.powi(t));
            for i in 0..2 {
                m[i] = 0.9 * m[i] + 0.1 * g[i];
                v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
                theta[i] -= lr_t * m[i] / (v[i].sqrt() + 1e-8);
            }
        }
        for i in 0..2 {
            assert!((got[i] - theta[i]).abs() < 1e-12, "{got:?} vs {theta:?}");
        }
    }

    #[test]
    fn sgd_with_momentum_by_hand() {
        let dev = Device::Cpu;
        let var = Var::from_slice(&[1.0f64], 1, &dev).unwrap();
        let mut sgd = Sgd::new(&[&var], 0.1, 0.5).unwrap();
        for g in [2.0f64, 4.0] {
            sgd.step(&[&var], &[Tensor::from_slice(&[g], 1, &dev).unwrap()])
                .unwrap();
        }
        // v1 = 2, θ1 = 0.8; v2 = 0.5·2 + 4 = 5, θ2 = 0.8 − 0.5 = 0.3.
        assert!((var.as_tensor().to_vec1::<f64>().unwrap()[0] - 0.3).abs() < 1e-12);
    }

    #[test]
    fn global_clipping_scales_all_gradients_together() {
        let dev = Device::Cpu;
        let a = Tensor::from_slice(&[3.0f32], 1, &dev).unwrap();
        let b = Tensor::from_slice(&[4.0f32], 1, &dev).unwrap();
        let c = clip_global(&[a, b], 1.0).unwrap();
        assert!((c[0].to_vec1::<f32>().unwrap()[0] - 0.6).abs() < 1e-6);
        assert!((c[1].to_vec1::<f32>().unwrap()[0] - 0.8).abs() < 1e-6);
    }

    #[test]
    fn clip_rescales_only_large_gradients() {
        let dev = Device::Cpu;
        let g = Tensor::from_slice(&[3.0f32, 4.0], 2, &dev).unwrap();
        let c = clip_by_norm(&g, 1.0).unwrap().to_vec1::<f32>().unwrap();
        assert!(
            (c[0] - 0.6).abs() < 1e-6 && (c[1] - 0.8).abs() < 1e-6,
            "{c:?}"
        );
        let small = clip_by_norm(&g, 10.0).unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(small, vec![3.0, 4.0]);
    }
}
