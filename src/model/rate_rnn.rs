//! `RateRnn`: PsychRNN's `Basic` continuous-time rate network, discretised with step α = dt/τ.
//!
//! Row-vector convention (PsychRNN's), x = pre-activation state [B, N_rec], u_t input [B, N_in]:
//! ```text
//! x_t = (1-α) x_{t-1} + α (f(x_{t-1}) W_recᵀ + u_t W_inᵀ + b_rec) + sqrt(2 α σ_rec²) ξ_t
//! y_t = f(x_t) W_outᵀ + b_out
//! ```
//! x_0 is the trainable `init_state` [1, N_rec], shared by every trial; states and outputs are
//! returned for t = 1..T. Weights are used through their connectivity masks (effective weights).

use candle_core::{DType, Device, Result, Tensor, Var};

use super::Transfer;
use crate::random::Rng;

/// A rate RNN's parameters and masks as plain row-major arrays (PsychRNN's shapes).
#[derive(Debug, Clone, PartialEq)]
pub struct RateRnnWeights {
    /// Input channels.
    pub n_in: usize,
    /// Recurrent units.
    pub n_rec: usize,
    /// Output channels.
    pub n_out: usize,
    /// [N_rec, N_in].
    pub w_in: Vec<f32>,
    /// [N_rec, N_rec]; row i = inputs to unit i.
    pub w_rec: Vec<f32>,
    /// [N_out, N_rec].
    pub w_out: Vec<f32>,
    /// [N_rec].
    pub b_rec: Vec<f32>,
    /// [N_out].
    pub b_out: Vec<f32>,
    /// [N_rec] (saved as [1, N_rec]).
    pub init_state: Vec<f32>,
    /// 0/1 mask of W_in, [N_rec, N_in].
    pub input_connectivity: Vec<f32>,
    /// 0/1 mask of W_rec, [N_rec, N_rec].
    pub rec_connectivity: Vec<f32>,
    /// 0/1 mask of W_out, [N_out, N_rec].
    pub output_connectivity: Vec<f32>,
}

/// The weights a simulation uses: masks applied.
#[derive(Debug, Clone)]
pub struct EffectiveWeights {
    /// [N_rec, N_in].
    pub w_in: Tensor,
    /// [N_rec, N_rec].
    pub w_rec: Tensor,
    /// [N_out, N_rec].
    pub w_out: Tensor,
    /// [N_rec].
    pub b_rec: Tensor,
    /// [N_out].
    pub b_out: Tensor,
    /// [1, N_rec].
    pub init_state: Tensor,
}

impl EffectiveWeights {
    /// The same weights cut from the gradient graph (for evaluation without backprop).
    pub fn detach(&self) -> Self {
        EffectiveWeights {
            w_in: self.w_in.detach(),
            w_rec: self.w_rec.detach(),
            w_out: self.w_out.detach(),
            b_rec: self.b_rec.detach(),
            b_out: self.b_out.detach(),
            init_state: self.init_state.detach(),
        }
    }
}

/// What a forward pass produces, time-major.
#[derive(Debug, Clone)]
pub struct Simulation {
    /// States x_1..x_T, [T, B, N_rec].
    pub states: Tensor,
    /// Outputs y_1..y_T, [T, B, N_out].
    pub outputs: Tensor,
}

/// A trainable rate RNN.
#[derive(Debug)]
pub struct RateRnn {
    /// [N_rec, N_in].
    pub w_in: Var,
    /// [N_rec, N_rec].
    pub w_rec: Var,
    /// [N_out, N_rec].
    pub w_out: Var,
    /// [N_rec].
    pub b_rec: Var,
    /// [N_out].
    pub b_out: Var,
    /// [1, N_rec].
    pub init_state: Var,
    input_connectivity: Tensor,
    rec_connectivity: Tensor,
    output_connectivity: Tensor,
    alpha: f64,
    rec_noise: f64,
    transfer: Transfer,
    n_in: usize,
    n_rec: usize,
    n_out: usize,
}

fn tensor(data: &[f32], shape: &[usize], dtype: DType, device: &Device) -> Result<Tensor> {
    Tensor::from_slice(data, shape, device)?.to_dtype(dtype)
}

fn host(t: &Tensor) -> Result<Vec<f32>> {
    t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()
}

impl RateRnn {
    /// A network with the given weights; `alpha` = dt/τ, `rec_noise` = σ_rec.
    pub fn new(
        w: &RateRnnWeights,
        alpha: f64,
        rec_noise: f64,
        transfer: Transfer,
        dtype: DType,
        device: &Device,
    ) -> Result<Self> {
        let (i, n, o) = (w.n_in, w.n_rec, w.n_out);
        let var = |d: &[f32], s: &[usize]| Var::from_tensor(&tensor(d, s, dtype, device)?);
        Ok(RateRnn {
            w_in: var(&w.w_in, &[n, i])?,
            w_rec: var(&w.w_rec, &[n, n])?,
            w_out: var(&w.w_out, &[o, n])?,
            b_rec: var(&w.b_rec, &[n])?,
            b_out: var(&w.b_out, &[o])?,
            init_state: var(&w.init_state, &[1, n])?,
            input_connectivity: tensor(&w.input_connectivity, &[n, i], dtype, device)?,
            rec_connectivity: tensor(&w.rec_connectivity, &[n, n], dtype, device)?,
            output_connectivity: tensor(&w.output_connectivity, &[o, n], dtype, device)?,
            alpha,
            rec_noise,
            transfer,
            n_in: i,
            n_rec: n,
            n_out: o,
        })
    }

    /// (N_in, N_rec, N_out).
    pub fn sizes(&self) -> (usize, usize, usize) {
        (self.n_in, self.n_rec, self.n_out)
    }

    /// α = dt/τ.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// The transfer function.
    pub fn transfer(&self) -> Transfer {
        self.transfer
    }

    /// Trainable parameters with PsychRNN's names, in a fixed order.
    pub fn vars(&self) -> [(&'static str, &Var); 6] {
        [
            ("init_state", &self.init_state),
            ("W_in", &self.w_in),
            ("W_rec", &self.w_rec),
            ("W_out", &self.w_out),
            ("b_rec", &self.b_rec),
            ("b_out", &self.b_out),
        ]
    }

    /// Effective weights (W ⊙ C), differentiable with respect to the parameters.
    pub fn effective(&self) -> Result<EffectiveWeights> {
        Ok(EffectiveWeights {
            w_in: self.w_in.as_tensor().mul(&self.input_connectivity)?,
            w_rec: self.w_rec.as_tensor().mul(&self.rec_connectivity)?,
            w_out: self.w_out.as_tensor().mul(&self.output_connectivity)?,
            b_rec: self.b_rec.as_tensor().clone(),
            b_out: self.b_out.as_tensor().clone(),
            init_state: self.init_state.as_tensor().clone(),
        })
    }

    /// Standard deviation of the recurrent noise term, sqrt(2 α σ_rec²).
    pub fn noise_std(&self) -> f64 {
        (2.0 * self.alpha * self.rec_noise * self.rec_noise).sqrt()
    }

    /// Draws the recurrent noise term for `n_steps` × `n_trials` (already scaled by
    /// [`Self::noise_std`]), or `None` when σ_rec = 0.
    pub fn draw_noise(
        &self,
        rng: &mut Rng,
        n_steps: usize,
        n_trials: usize,
    ) -> Result<Option<Tensor>> {
        let std = self.noise_std();
        if std == 0.0 {
            return Ok(None);
        }
        let mut data = vec![0.0f32; n_steps * n_trials * self.n_rec];
        rng.fill_normal_f32(&mut data, std as f32);
        let t = tensor(
            &data,
            &[n_steps, n_trials, self.n_rec],
            self.w_rec.dtype(),
            self.w_rec.device(),
        )?;
        Ok(Some(t))
    }

    /// Runs the network on time-major inputs [T, B, N_in] with optional noise [T, B, N_rec].
    pub fn forward(&self, inputs: &Tensor, noise: Option<&Tensor>) -> Result<Simulation> {
        simulate(&self.effective()?, self.alpha, self.transfer, inputs, noise)
    }

    /// Current raw parameter values and masks as host arrays.
    pub fn weights(&self) -> Result<RateRnnWeights> {
        Ok(RateRnnWeights {
            n_in: self.n_in,
            n_rec: self.n_rec,
            n_out: self.n_out,
            w_in: host(self.w_in.as_tensor())?,
            w_rec: host(self.w_rec.as_tensor())?,
            w_out: host(self.w_out.as_tensor())?,
            b_rec: host(self.b_rec.as_tensor())?,
            b_out: host(self.b_out.as_tensor())?,
            init_state: host(self.init_state.as_tensor())?,
            input_connectivity: host(&self.input_connectivity)?,
            rec_connectivity: host(&self.rec_connectivity)?,
            output_connectivity: host(&self.output_connectivity)?,
        })
    }

    /// The weights as PsychRNN saves them: W_in, W_rec, W_out replaced by the effective matrices.
    pub fn effective_weights(&self) -> Result<RateRnnWeights> {
        let e = self.effective()?;
        let mut w = self.weights()?;
        w.w_in = host(&e.w_in)?;
        w.w_rec = host(&e.w_rec)?;
        w.w_out = host(&e.w_out)?;
        Ok(w)
    }
}

/// The reference (plain candle ops) simulation of the rate RNN; see the module docs.
/// `inputs` [T, B, N_in], `noise` [T, B, N_rec] (the full noise term, already scaled).
pub fn simulate(
    w: &EffectiveWeights,
    alpha: f64,
    transfer: Transfer,
    inputs: &Tensor,
    noise: Option<&Tensor>,
) -> Result<Simulation> {
    let (n_steps, n_trials, _) = inputs.dims3()?;
    let n_rec = w.w_rec.dim(0)?;
    let n_out = w.w_out.dim(0)?;
    let w_rec_t = w.w_rec.t()?;
    let w_in_t = w.w_in.t()?;
    let mut x = w.init_state.broadcast_as((n_trials, n_rec))?;
    // One tensor per step, stacked once at the end: slicing a tracked [T, B, N] tensor inside
    // the loop would make the backward pass quadratic in T.
    let mut states = Vec::with_capacity(n_steps);
    for t in 0..n_steps {
        let r = transfer.apply(&x)?;
        let drive =
            (r.matmul(&w_rec_t)? + inputs.get(t)?.matmul(&w_in_t)?)?.broadcast_add(&w.b_rec)?;
        x = (x.affine(1.0 - alpha, 0.0)? + drive.affine(alpha, 0.0)?)?;
        if let Some(noise) = noise {
            x = (x + noise.get(t)?)?;
        }
        states.push(x.clone());
    }
    let states = Tensor::stack(&states, 0)?;
    let rates = transfer.apply(&states)?;
    let outputs = rates
        .reshape((n_steps * n_trials, n_rec))?
        .matmul(&w.w_out.t()?)?
        .broadcast_add(&w.b_out)?
        .reshape((n_steps, n_trials, n_out))?;
    Ok(Simulation { states, outputs })
}
