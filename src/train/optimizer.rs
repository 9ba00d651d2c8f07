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
