//! `RateRnn`: PsychRNN's `Basic` continuous-time rate network, discretised with step α = dt/τ.
//!
//! Row-vector convention (PsychRNN's), x = pre-activation state [B, N_rec], u_t input [B, N_in]:
//! ```text
//! x_t = (1-α) x_{t-1} + α (f(x_{t-1}) W_recᵀ + u_t W_inᵀ + b_rec) + sqrt(2 α σ_rec²) ξ_t
//! y_t = f(x_t) W_outᵀ + b_out
//! ```
//! x_0 is the trainable `init_state` [1, N_rec], shared by every trial; states and outputs are
//! returned for t = 1..T. α may differ per unit (one τ per unit). Weights are used through
//! their effective form (masks, Dale's principle; see [`super::constraints`]).

use candle_core::{DType, Device, Result, Tensor, Var};

use super::{Constraints, Network, Regularization, Simulation, TrainableVar, Transfer};
use crate::kernel::KernelOptions;
use crate::random::Rng;

/// A rate RNN's parameters and constraints as plain row-major arrays (PsychRNN's shapes).
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
    /// [N_rec, N_rec]; row i = inputs to unit i, column j = outputs of unit j.
    pub w_rec: Vec<f32>,
    /// [N_out, N_rec].
    pub w_out: Vec<f32>,
    /// \[N_rec\].
    pub b_rec: Vec<f32>,
    /// \[N_out\].
    pub b_out: Vec<f32>,
    /// \[N_rec\] (saved as [1, N_rec]).
    pub init_state: Vec<f32>,
    /// 0/1 mask of W_in, [N_rec, N_in].
    pub input_connectivity: Vec<f32>,
    /// 0/1 mask of W_rec, [N_rec, N_rec].
    pub rec_connectivity: Vec<f32>,
    /// 0/1 mask of W_out, [N_out, N_rec].
    pub output_connectivity: Vec<f32>,
    /// Fraction of excitatory units under Dale's principle, if on.
    pub dale_ratio: Option<f64>,
}

impl RateRnnWeights {
    /// The constraints these weights carry (masks and Dale ratio; no fixed synapses).
    pub fn constraints(&self) -> Constraints {
        Constraints {
            n_in: self.n_in,
            n_rec: self.n_rec,
            n_out: self.n_out,
            input_connectivity: self.input_connectivity.clone(),
            rec_connectivity: self.rec_connectivity.clone(),
            output_connectivity: self.output_connectivity.clone(),
            dale_ratio: self.dale_ratio,
            fixed_w_in: None,
            fixed_w_rec: None,
            fixed_w_out: None,
        }
    }
}

/// Which parameters training may change (PsychRNN's `*_train` flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trainable {
    /// `init_state`.
    pub init_state: bool,
    /// `W_in`.
    pub w_in: bool,
    /// `W_rec`.
    pub w_rec: bool,
    /// `W_out`.
    pub w_out: bool,
    /// `b_rec`.
    pub b_rec: bool,
    /// `b_out`.
    pub b_out: bool,
}

impl Default for Trainable {
    fn default() -> Self {
        Trainable {
            init_state: true,
            w_in: true,
            w_rec: true,
            w_out: true,
            b_rec: true,
            b_out: true,
        }
    }
}

/// Everything about a rate RNN that is not a weight.
#[derive(Debug, Clone, PartialEq)]
pub struct RateRnnOptions {
    /// α = dt/τ: one value, or one per unit.
    pub alpha: Vec<f64>,
    /// σ_rec.
    pub rec_noise: f64,
    /// Transfer function.
    pub transfer: Transfer,
    /// Which parameters train.
    pub trainable: Trainable,
    /// 0/1 masks of W_in, W_rec, W_out entries that never change.
    pub fixed: [Option<Vec<f32>>; 3],
    /// Penalties added to the loss.
    pub regularization: Regularization,
    /// Run the time loop as the fused kernel (f32 only; the default, what `psychrnn run`
    /// takes) instead of the reference candle ops (`false`).
    pub fused: bool,
    /// The fused kernel's threads and vector code.
    pub kernel: KernelOptions,
}

impl RateRnnOptions {
    /// Options with one α, everything trainable, nothing fixed, no penalties, on the fused
    /// kernel with one thread (as `psychrnn run` builds a network, but for the thread count).
    pub fn new(alpha: f64, rec_noise: f64, transfer: Transfer) -> Self {
        RateRnnOptions {
            alpha: vec![alpha],
            rec_noise,
            transfer,
            trainable: Trainable::default(),
            fixed: [None, None, None],
            regularization: Regularization::default(),
            fused: true,
            kernel: KernelOptions::default(),
        }
    }
}

/// The weights a simulation uses: constraints applied.
#[derive(Debug, Clone)]
pub struct EffectiveWeights {
    /// [N_rec, N_in].
    pub w_in: Tensor,
    /// [N_rec, N_rec].
    pub w_rec: Tensor,
    /// [N_out, N_rec].
    pub w_out: Tensor,
    /// \[N_rec\].
    pub b_rec: Tensor,
    /// \[N_out\].
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

/// α as the simulation uses it.
#[derive(Debug, Clone)]
pub enum Alpha {
    /// The same for every unit.
    Scalar(f64),
    /// Per unit: (α, 1 − α), each [1, N_rec].
    PerUnit(Tensor, Tensor),
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
    /// \[N_rec\].
    pub b_rec: Var,
    /// \[N_out\].
    pub b_out: Var,
    /// [1, N_rec].
    pub init_state: Var,
    input_connectivity: Tensor,
    rec_connectivity: Tensor,
    output_connectivity: Tensor,
    /// (D_rec, D_out) diagonals as [1, N_rec] rows, with Dale's principle.
    dale: Option<(Tensor, Tensor)>,
    dale_ratio: Option<f64>,
    alpha: Alpha,
    noise_std: Vec<f32>,
    options: RateRnnOptions,
    /// 1 − fixed mask for W_in, W_rec, W_out.
    free: [Option<Tensor>; 3],
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
    /// A network with the given weights and options.
    pub fn new(
        w: &RateRnnWeights,
        options: &RateRnnOptions,
        dtype: DType,
        device: &Device,
    ) -> Result<Self> {
        let (i, n, o) = (w.n_in, w.n_rec, w.n_out);
        if options.alpha.len() != 1 && options.alpha.len() != n {
            candle_core::bail!(
                "alpha has {} values; give 1 or one per unit ({n})",
                options.alpha.len()
            );
        }
        let var = |d: &[f32], s: &[usize]| Var::from_tensor(&tensor(d, s, dtype, device)?);
        let k = w.constraints();
        let dale = match k.dale_ratio {
            Some(_) => Some((
                tensor(&k.dale_rec(), &[1, n], dtype, device)?,
                tensor(&k.dale_out(), &[1, n], dtype, device)?,
            )),
            None => None,
        };
        let alpha = if options.alpha.len() == 1 {
            Alpha::Scalar(options.alpha[0])
        } else {
            let a: Vec<f32> = options.alpha.iter().map(|&a| a as f32).collect();
            let b: Vec<f32> = options.alpha.iter().map(|&a| (1.0 - a) as f32).collect();
            Alpha::PerUnit(
                tensor(&a, &[1, n], dtype, device)?,
                tensor(&b, &[1, n], dtype, device)?,
            )
        };
        let noise_std = (0..n)
            .map(|u| {
                let a = options.alpha[if options.alpha.len() == 1 { 0 } else { u }];
                (2.0 * a * options.rec_noise * options.rec_noise).sqrt() as f32
            })
            .collect();
        let shapes = [[n, i], [n, n], [o, n]];
        let mut free = [None, None, None];
        for (k, fixed) in options.fixed.iter().enumerate() {
            if let Some(m) = fixed {
                let f: Vec<f32> = m.iter().map(|&v| 1.0 - v).collect();
                free[k] = Some(tensor(&f, &shapes[k], dtype, device)?);
            }
        }
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
            dale,
            dale_ratio: w.dale_ratio,
            alpha,
            noise_std,
            options: options.clone(),
            free,
            n_in: i,
            n_rec: n,
            n_out: o,
        })
    }

    /// (N_in, N_rec, N_out).
    pub fn sizes(&self) -> (usize, usize, usize) {
        (self.n_in, self.n_rec, self.n_out)
    }

    /// The options it was built with.
    pub fn options(&self) -> &RateRnnOptions {
        &self.options
    }

    /// Every parameter with PsychRNN's name, in a fixed order.
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

    /// Effective weights, differentiable with respect to the parameters.
    pub fn effective(&self) -> Result<EffectiveWeights> {
        let w_in = self.w_in.as_tensor().mul(&self.input_connectivity)?;
        let w_rec = self.w_rec.as_tensor().mul(&self.rec_connectivity)?;
        let w_out = self.w_out.as_tensor().mul(&self.output_connectivity)?;
        let (w_in, w_rec, w_out) = match &self.dale {
            Some((d_rec, d_out)) => (
                w_in.abs()?,
                w_rec.abs()?.broadcast_mul(d_rec)?,
                w_out.abs()?.broadcast_mul(d_out)?,
            ),
            None => (w_in, w_rec, w_out),
        };
        Ok(EffectiveWeights {
            w_in,
            w_rec,
            w_out,
            b_rec: self.b_rec.as_tensor().clone(),
            b_out: self.b_out.as_tensor().clone(),
            init_state: self.init_state.as_tensor().clone(),
        })
    }

    /// The recurrent noise term for `n_steps` × `n_trials`, sqrt(2 α σ_rec²) ξ per unit, or
    /// `None` when σ_rec = 0.
    pub fn draw_noise(
        &self,
        rng: &mut Rng,
        n_steps: usize,
        n_trials: usize,
    ) -> Result<Option<Tensor>> {
        if self.options.rec_noise == 0.0 {
            return Ok(None);
        }
        let mut data = vec![0.0f32; n_steps * n_trials * self.n_rec];
        rng.fill_normal_f32(&mut data, 1.0);
        for (k, v) in data.iter_mut().enumerate() {
            *v *= self.noise_std[k % self.n_rec];
        }
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
        simulate(
            &self.effective()?,
            &self.alpha,
            self.options.transfer,
            inputs,
            noise,
            None,
        )
    }

    /// [`Self::forward`] through the fused kernel ([`simulate_fused`]; f32 only): the states
    /// take part in the autograd graph when `states_in_graph`.
    pub fn forward_fused(
        &self,
        inputs: &Tensor,
        noise: Option<&Tensor>,
        states_in_graph: bool,
    ) -> Result<Simulation> {
        simulate_fused(
            &self.effective()?,
            &self.alpha,
            self.options.transfer,
            inputs,
            noise,
            states_in_graph,
            self.options.kernel,
        )
    }

    /// [`Self::forward`] without gradients and with W_rec multiplied at step t by
    /// `step_masks[t]` ([T, N_rec, N_rec], PsychRNN's `t_connectivity`) for perturbations.
    pub fn forward_with_step_masks(
        &self,
        inputs: &Tensor,
        noise: Option<&Tensor>,
        step_masks: &Tensor,
    ) -> Result<Simulation> {
        let e = self.effective()?.detach();
        simulate(
            &e,
            &self.alpha,
            self.options.transfer,
            inputs,
            noise,
            Some(step_masks),
        )
    }

    /// Current raw parameter values and constraints as host arrays.
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
            dale_ratio: self.dale_ratio,
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

    /// The regularisation term for effective weights `e` and states [T, B, N_rec], if any.
    pub fn penalty(&self, e: &EffectiveWeights, states: &Tensor) -> Result<Option<Tensor>> {
        let r = &self.options.regularization;
        r.add_firing_rate_penalty(self.weight_penalty(e)?, || {
            self.options.transfer.apply(states)
        })
    }

    /// Whether runs take the fused kernel: `fused` is set and the weights are f32 (the kernel is
    /// f32-only; f64, used by gradient checks, takes the reference path).
    fn uses_fused_kernel(&self) -> bool {
        self.options.fused && self.w_rec.dtype() == DType::F32
    }

    /// The weights' share of the regularisation term (L1 and L2 on W_in, W_rec, W_out), if any.
    fn weight_penalty(&self, e: &EffectiveWeights) -> Result<Option<Tensor>> {
        self.options
            .regularization
            .weight_penalty(&e.w_in, &e.w_rec, &e.w_out)
    }
}

impl Network for RateRnn {
    fn kernel_options(&self) -> KernelOptions {
        self.options.kernel
    }
    fn rate_weights(&self) -> Option<Result<RateRnnWeights>> {
        Some(self.effective_weights())
    }
    fn trainable(&self) -> Vec<TrainableVar<'_>> {
        let t = self.options.trainable;
        let flags = [t.init_state, t.w_in, t.w_rec, t.w_out, t.b_rec, t.b_out];
        self.vars()
            .into_iter()
            .zip(flags)
            .filter(|(_, on)| *on)
            .map(|((name, var), _)| TrainableVar {
                name,
                var,
                free: match name {
                    "W_in" => self.free[0].clone(),
                    "W_rec" => self.free[1].clone(),
                    "W_out" => self.free[2].clone(),
                    _ => None,
                },
            })
            .collect()
    }

    fn run(
        &self,
        inputs: &Tensor,
        noise_rng: &mut Rng,
        track: bool,
    ) -> Result<(Simulation, Option<Tensor>)> {
        let (n_steps, n_trials, _) = inputs.dims3()?;
        let noise = self.draw_noise(noise_rng, n_steps, n_trials)?;
        let e = if track {
            self.effective()?
        } else {
            self.effective()?.detach()
        };
        let sim = if self.uses_fused_kernel() {
            // The firing-rate penalty is a loss on the states: they must stay in the graph.
            let states_in_graph = track && self.options.regularization.l2_firing_rate != 0.0;
            simulate_fused(
                &e,
                &self.alpha,
                self.options.transfer,
                inputs,
                noise.as_ref(),
                states_in_graph,
                self.options.kernel,
            )?
        } else {
            simulate(
                &e,
                &self.alpha,
                self.options.transfer,
                inputs,
                noise.as_ref(),
                None,
            )?
        };
        let penalty = if track {
            self.penalty(&e, &sim.states)?
        } else {
            None
        };
        Ok((sim, penalty))
    }

    fn run_for_loss(
        &self,
        inputs: &Tensor,
        noise_rng: &mut Rng,
    ) -> Result<(Tensor, Option<Tensor>)> {
        if !self.uses_fused_kernel() || self.options.regularization.l2_firing_rate != 0.0 {
            let (sim, penalty) = self.run(inputs, noise_rng, true)?;
            return Ok((sim.outputs, penalty));
        }
        // No loss term reads the states: the kernel skips them.
        let (n_steps, n_trials, _) = inputs.dims3()?;
        let noise = self.draw_noise(noise_rng, n_steps, n_trials)?;
        let e = self.effective()?;
        let outputs = outputs_fused(
            &e,
            &self.alpha,
            self.options.transfer,
            inputs,
            noise.as_ref(),
            self.options.kernel,
        )?;
        Ok((outputs, self.weight_penalty(&e)?))
    }

    fn rates(&self, states: &Tensor) -> Result<Tensor> {
        self.options.transfer.apply(states)
    }

    fn dtype(&self) -> DType {
        self.w_rec.dtype()
    }

    fn n_rec(&self) -> usize {
        self.w_rec.dims()[0]
    }

    fn device(&self) -> Device {
        self.w_rec.device().clone()
    }

    fn write_npz(&self, path: &std::path::Path) -> Result<()> {
        super::write_weights_npz(path, &self.effective_weights()?, self.options.transfer)
    }
}

/// The fused simulation: the time loop, input drive included, as the
/// [`crate::kernel::RateRecurrence`] custom op (hand-written BPTT). With `states_in_graph`
/// the op returns the states and the readout is the [`crate::kernel::Readout`] op, so a loss
/// on the states (the firing-rate penalty) gets gradients; otherwise the op returns the
/// outputs itself and the states come back outside the autograd graph, which saves candle's
/// per-tensor gradient bookkeeping on [T, B, N]. Same results as [`simulate`] (f32 only), run
/// as `kernel` says.
pub fn simulate_fused(
    w: &EffectiveWeights,
    alpha: &Alpha,
    transfer: Transfer,
    inputs: &Tensor,
    noise: Option<&Tensor>,
    states_in_graph: bool,
    kernel: KernelOptions,
) -> Result<Simulation> {
    let (n_steps, n_trials, _) = inputs.dims3()?;
    let n_rec = w.w_rec.dim(0)?;
    let FusedCall {
        inputs,
        recurrent,
        readout,
        op,
    } = FusedCall::new(w, alpha, transfer, inputs, noise, kernel)?;
    if states_in_graph {
        let states = inputs.apply_op2(&recurrent, op)?;
        let outputs = states.apply_op2(&readout, crate::kernel::Readout::new(transfer, kernel))?;
        return Ok(Simulation { states, outputs });
    }
    let outputs = inputs.apply_op3(&recurrent, &readout, op.clone())?;
    let states = op.take_states().ok_or_else(|| {
        candle_core::Error::Msg(
            "rate-recurrence: the forward pass returned outputs but kept no states (a bug in \
                 the kernel; `model.fused: false` avoids it)"
                .into(),
        )
    })?;
    let states = Tensor::from_vec(states, (n_steps, n_trials, n_rec), inputs.device())?;
    Ok(Simulation { states, outputs })
}

/// The outputs of [`simulate_fused`] (differentiable) without the states: what a training
/// step's loss needs when it has no firing-rate term. The kernel then writes no [T, B, N]
/// array at all.
pub fn outputs_fused(
    w: &EffectiveWeights,
    alpha: &Alpha,
    transfer: Transfer,
    inputs: &Tensor,
    noise: Option<&Tensor>,
    kernel: KernelOptions,
) -> Result<Tensor> {
    let call = FusedCall::new(w, alpha, transfer, inputs, noise, kernel)?;
    call.inputs
        .apply_op3(&call.recurrent, &call.readout, call.op.without_states())
}

/// The arguments of one call of the fused kernel.
struct FusedCall {
    /// U [T, B, N_in], contiguous.
    inputs: Tensor,
    /// [W_rec | W_in | b_rec | x_0] [N, N + N_in + 2].
    recurrent: Tensor,
    /// [W_out | b_out] [N_out, N + 1].
    readout: Tensor,
    /// The op, holding α, f and the noise.
    op: crate::kernel::RateRecurrence,
}

impl FusedCall {
    /// The op's arguments from the effective weights, α, f, the inputs and the noise, and the
    /// op run as `kernel` says.
    fn new(
        w: &EffectiveWeights,
        alpha: &Alpha,
        transfer: Transfer,
        inputs: &Tensor,
        noise: Option<&Tensor>,
        kernel: KernelOptions,
    ) -> Result<Self> {
        let alphas = match alpha {
            Alpha::Scalar(a) => vec![*a as f32],
            Alpha::PerUnit(a, _) => a.flatten_all()?.to_vec1::<f32>()?,
        };
        let noise = match noise {
            Some(n) => Some(std::sync::Arc::new(
                n.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?,
            )),
            None => None,
        };
        // [W_rec | W_in | b_rec | x_0] and [W_out | b_out]: small tensors, so the op's arguments
        // carry every weight.
        let recurrent = Tensor::cat(
            &[
                &w.w_rec,
                &w.w_in,
                &w.b_rec.unsqueeze(1)?,
                &w.init_state.t()?,
            ],
            1,
        )?
        .contiguous()?;
        let readout = Tensor::cat(&[&w.w_out, &w.b_out.unsqueeze(1)?], 1)?.contiguous()?;
        Ok(FusedCall {
            inputs: inputs.contiguous()?,
            recurrent,
            readout,
            op: crate::kernel::RateRecurrence::new(alphas, transfer, noise, kernel),
        })
    }
}

/// The reference (plain candle ops) simulation of the rate RNN; see the module docs.
/// `inputs` [T, B, N_in], `noise` [T, B, N_rec] (the full noise term, already scaled),
/// `step_masks` [T, N_rec, N_rec] multiplies W_rec at each step (perturbations).
pub fn simulate(
    w: &EffectiveWeights,
    alpha: &Alpha,
    transfer: Transfer,
    inputs: &Tensor,
    noise: Option<&Tensor>,
    step_masks: Option<&Tensor>,
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
        let rec = match step_masks {
            Some(m) => r.matmul(&w.w_rec.mul(&m.get(t)?)?.t()?)?,
            None => r.matmul(&w_rec_t)?,
        };
        let drive = (rec + inputs.get(t)?.matmul(&w_in_t)?)?.broadcast_add(&w.b_rec)?;
        x = match alpha {
            Alpha::Scalar(a) => (x.affine(1.0 - a, 0.0)? + drive.affine(*a, 0.0)?)?,
            Alpha::PerUnit(a, one_minus) => {
                (x.broadcast_mul(one_minus)? + drive.broadcast_mul(a)?)?
            }
        };
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
