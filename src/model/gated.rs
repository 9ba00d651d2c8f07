//! LSTM and GRU with the rate RNN's linear readout, trained by the same path.
//!
//! Standard equations (PyTorch's conventions), σ the logistic function, row vectors:
//! ```text
//! LSTM: [i, f, g, o] = x_t W_xᵀ + h_{t-1} W_hᵀ + b          (gate blocks in this order)
//!       i, f, o = σ(·), g = tanh(·);  c_t = f ⊙ c_{t-1} + i ⊙ g;  h_t = o ⊙ tanh(c_t)
//! GRU:  [r_x, z_x, n_x] = x_t W_xᵀ + b_x,  [r_h, z_h, n_h] = h_{t-1} W_hᵀ + b_h
//!       r = σ(r_x + r_h), z = σ(z_x + z_h), n = tanh(n_x + r ⊙ n_h);  h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}
//! both: y_t = h_t W_outᵀ + b_out
//! ```
//! PsychRNN's LSTM differs (h_t = o ⊙ σ(c_t)); these are the textbook cells. Weights start
//! U(±1/√N_rec), biases 0 except the LSTM forget gate (1), initial states 0 (trainable).

use std::path::Path;

use candle_core::{DType, Device, Result, Tensor, Var, D};

use super::{Network, Simulation, TrainableVar};
use crate::atomic_file::write_atomic_with;
pub use crate::kernel::Cell;
use crate::random::{stream, Rng};

/// A gated network's parameters as host arrays (row-major).
#[derive(Debug, Clone, PartialEq)]
pub struct GatedWeights {
    /// The cell type.
    pub cell: Cell,
    /// Input channels.
    pub n_in: usize,
    /// Hidden units.
    pub n_rec: usize,
    /// Output channels.
    pub n_out: usize,
    /// [G·N_rec, N_in].
    pub w_x: Vec<f32>,
    /// [G·N_rec, N_rec].
    pub w_h: Vec<f32>,
    /// [G·N_rec]: the LSTM's only bias, the GRU's input-side bias.
    pub b_x: Vec<f32>,
    /// [G·N_rec]: the GRU's hidden-side bias (all zeros and unused for the LSTM).
    pub b_h: Vec<f32>,
    /// \[N_rec\].
    pub init_hidden: Vec<f32>,
    /// \[N_rec\] (LSTM only).
    pub init_cell: Vec<f32>,
    /// [N_out, N_rec].
    pub w_out: Vec<f32>,
    /// \[N_out\].
    pub b_out: Vec<f32>,
}

impl GatedWeights {
    /// The initial weights described in the module docs, from `seed`.
    pub fn initial(cell: Cell, n_in: usize, n_rec: usize, n_out: usize, seed: u64) -> Self {
        let g = cell.gates();
        let bound = 1.0 / (n_rec as f64).sqrt();
        let draw = |len: usize, k: u64| {
            let mut rng = Rng::derive(seed, &[stream::INIT, 10 + k]);
            (0..len)
                .map(|_| rng.uniform_range(-bound, bound) as f32)
                .collect::<Vec<f32>>()
        };
        let mut b_x = vec![0.0; g * n_rec];
        if cell == Cell::Lstm {
            b_x[n_rec..2 * n_rec].fill(1.0);
        }
        GatedWeights {
            cell,
            n_in,
            n_rec,
            n_out,
            w_x: draw(g * n_rec * n_in, 0),
            w_h: draw(g * n_rec * n_rec, 1),
            b_x,
            b_h: vec![0.0; g * n_rec],
            init_hidden: vec![0.0; n_rec],
            init_cell: vec![0.0; n_rec],
            w_out: draw(n_out * n_rec, 2),
            b_out: vec![0.0; n_out],
        }
    }
}

/// Penalties for a gated network: L1/L2 on W_x ("in"), W_h ("rec"), W_out; L2 on h.
pub type GatedRegularization = super::Regularization;

/// A trainable LSTM or GRU.
#[derive(Debug)]
pub struct GatedRnn {
    cell: Cell,
    /// [G·N_rec, N_in].
    pub w_x: Var,
    /// [G·N_rec, N_rec].
    pub w_h: Var,
    /// [G·N_rec].
    pub b_x: Var,
    /// [G·N_rec].
    pub b_h: Var,
    /// [1, N_rec].
    pub init_hidden: Var,
    /// [1, N_rec].
    pub init_cell: Var,
    /// [N_out, N_rec].
    pub w_out: Var,
    /// \[N_out\].
    pub b_out: Var,
    regularization: GatedRegularization,
    n_rec: usize,
    /// Run the time loop as the fused kernel ([`crate::kernel::GatedRecurrence`], f32 only;
    /// the default, what `psychrnn run` takes) instead of per-step candle ops (`false`).
    pub fused: bool,
    /// The fused kernel's threads and vector code.
    pub kernel: crate::kernel::KernelOptions,
    /// The fused kernel's large buffers, kept between iterations.
    buffers: std::sync::Arc<crate::kernel::BufferStash>,
}

fn host(t: &Tensor) -> Result<Vec<f32>> {
    t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()
}

impl GatedRnn {
    /// A network with the given weights, on the fused kernel with one thread.
    pub fn new(
        w: &GatedWeights,
        regularization: GatedRegularization,
        dtype: DType,
        device: &Device,
    ) -> Result<Self> {
        let g = w.cell.gates();
        let (i, n, o) = (w.n_in, w.n_rec, w.n_out);
        let var = |d: &[f32], s: &[usize]| {
            Var::from_tensor(&Tensor::from_slice(d, s, device)?.to_dtype(dtype)?)
        };
        Ok(GatedRnn {
            cell: w.cell,
            w_x: var(&w.w_x, &[g * n, i])?,
            w_h: var(&w.w_h, &[g * n, n])?,
            b_x: var(&w.b_x, &[g * n])?,
            b_h: var(&w.b_h, &[g * n])?,
            init_hidden: var(&w.init_hidden, &[1, n])?,
            init_cell: var(&w.init_cell, &[1, n])?,
            w_out: var(&w.w_out, &[o, n])?,
            b_out: var(&w.b_out, &[o])?,
            regularization,
            n_rec: n,
            fused: true,
            kernel: crate::kernel::KernelOptions::default(),
            buffers: Default::default(),
        })
    }

    /// Values held in the fused kernel's buffers kept between training iterations (what
    /// [`Network::release_buffers`] frees).
    pub fn kept_buffer_values(&self) -> usize {
        self.buffers.kept_values()
    }

    /// The current weights as host arrays.
    pub fn weights(&self) -> Result<GatedWeights> {
        Ok(GatedWeights {
            cell: self.cell,
            n_in: self.w_x.dim(1)?,
            n_rec: self.n_rec,
            n_out: self.w_out.dim(0)?,
            w_x: host(&self.w_x)?,
            w_h: host(&self.w_h)?,
            b_x: host(&self.b_x)?,
            b_h: host(&self.b_h)?,
            init_hidden: host(&self.init_hidden)?,
            init_cell: host(&self.init_cell)?,
            w_out: host(&self.w_out)?,
            b_out: host(&self.b_out)?,
        })
    }

    /// Runs time-major inputs [T, B, N_in] (see the module docs for the equations).
    pub fn forward(&self, inputs: &Tensor, track: bool) -> Result<Simulation> {
        let t_of = |v: &Var| {
            if track {
                v.as_tensor().clone()
            } else {
                v.as_tensor().detach()
            }
        };
        let (w_x, w_h, b_x, b_h) = (
            t_of(&self.w_x),
            t_of(&self.w_h),
            t_of(&self.b_x),
            t_of(&self.b_h),
        );
        let (w_out, b_out) = (t_of(&self.w_out), t_of(&self.b_out));
        let (n_steps, n_trials, _) = inputs.dims3()?;
        let n = self.n_rec;
        if self.fused && w_h.dtype() == DType::F32 {
            let h0 = t_of(&self.init_hidden).broadcast_as((n_trials, n))?;
            let w = match self.cell {
                Cell::Lstm => w_h.clone(),
                Cell::Gru => Tensor::cat(&[&w_h, &b_h.unsqueeze(1)?], 1)?,
            };
            let init = match self.cell {
                Cell::Lstm => {
                    let c0 = t_of(&self.init_cell).broadcast_as((n_trials, n))?;
                    Tensor::cat(&[&h0, &c0], 1)?
                }
                Cell::Gru => h0,
            };
            // [W_x | b_x | W_h (| b_h)]: the op forms the input side step by step.
            let p = Tensor::cat(&[&w_x, &b_x.unsqueeze(1)?, &w], 1)?;
            // Training passes (tracked) share the network's stash, whose buffers the backward
            // pass hands back; a forward-only pass (an evaluation, maybe of a large batch)
            // allocates and frees its own rather than leave them in the stash.
            let mut op = crate::kernel::GatedRecurrence::new(self.cell, self.kernel);
            if track {
                op = op.with_buffers(self.buffers.clone());
            }
            let states =
                inputs
                    .contiguous()?
                    .apply_op3(&p.contiguous()?, &init.contiguous()?, op)?;
            let readout = Tensor::cat(&[&w_out, &b_out.unsqueeze(1)?], 1)?;
            let outputs = states.apply_op2(
                &readout,
                crate::kernel::Readout::new(super::Transfer::Linear, self.kernel),
            )?;
            return Ok(Simulation { states, outputs });
        }
        let w_x_t = w_x.t()?;
        let w_h_t = w_h.t()?;
        let mut h = t_of(&self.init_hidden).broadcast_as((n_trials, n))?;
        let mut c = t_of(&self.init_cell).broadcast_as((n_trials, n))?;
        let mut states = Vec::with_capacity(n_steps);
        for t in 0..n_steps {
            let gx = inputs.get(t)?.matmul(&w_x_t)?.broadcast_add(&b_x)?;
            let gh = h.matmul(&w_h_t)?;
            let block = |m: &Tensor, k: usize| m.narrow(D::Minus1, k * n, n);
            match self.cell {
                Cell::Lstm => {
                    let gates = (gx + gh)?;
                    let i = candle_nn::ops::sigmoid(&block(&gates, 0)?)?;
                    let f = candle_nn::ops::sigmoid(&block(&gates, 1)?)?;
                    let g = block(&gates, 2)?.tanh()?;
                    let o = candle_nn::ops::sigmoid(&block(&gates, 3)?)?;
                    c = ((f * &c)? + (i * g)?)?;
                    h = (o * c.tanh()?)?;
                }
                Cell::Gru => {
                    let gh = gh.broadcast_add(&b_h)?;
                    let r = candle_nn::ops::sigmoid(&(block(&gx, 0)? + block(&gh, 0)?)?)?;
                    let z = candle_nn::ops::sigmoid(&(block(&gx, 1)? + block(&gh, 1)?)?)?;
                    let cand = (block(&gx, 2)? + (r * block(&gh, 2)?)?)?.tanh()?;
                    // (1 − z) ⊙ n + z ⊙ h  =  n + z ⊙ (h − n)
                    h = (&cand + (z * (&h - &cand)?)?)?;
                }
            }
            states.push(h.clone());
        }
        let states = Tensor::stack(&states, 0)?;
        let outputs = states
            .reshape((n_steps * n_trials, n))?
            .matmul(&w_out.t()?)?
            .broadcast_add(&b_out)?
            .reshape((n_steps, n_trials, w_out.dim(0)?))?;
        Ok(Simulation { states, outputs })
    }

    /// The regularisation term: the weight penalties on W_x ("in"), W_h ("rec") and W_out,
    /// and the firing-rate penalty on h.
    fn penalty(&self, sim: &Simulation) -> Result<Option<Tensor>> {
        let r = &self.regularization;
        let weights = r.weight_penalty(&self.w_x, &self.w_h, &self.w_out)?;
        r.add_firing_rate_penalty(weights, || Ok(sim.states.clone()))
    }
}

impl Network for GatedRnn {
    fn kernel_options(&self) -> crate::kernel::KernelOptions {
        self.kernel
    }
    fn release_buffers(&self) {
        self.buffers.release();
    }
    fn trainable(&self) -> Vec<TrainableVar<'_>> {
        let mut vars: Vec<(&'static str, &Var)> = vec![
            ("init_hidden", &self.init_hidden),
            ("W_x", &self.w_x),
            ("W_h", &self.w_h),
            ("b_x", &self.b_x),
            ("W_out", &self.w_out),
            ("b_out", &self.b_out),
        ];
        match self.cell {
            Cell::Lstm => vars.push(("init_cell", &self.init_cell)),
            Cell::Gru => vars.push(("b_h", &self.b_h)),
        }
        vars.into_iter()
            .map(|(name, var)| TrainableVar {
                name,
                var,
                free: None,
            })
            .collect()
    }

    fn run(
        &self,
        inputs: &Tensor,
        _noise_rng: &mut Rng,
        track: bool,
    ) -> Result<(Simulation, Option<Tensor>)> {
        let sim = self.forward(inputs, track)?;
        let penalty = if track { self.penalty(&sim)? } else { None };
        Ok((sim, penalty))
    }

    fn rates(&self, states: &Tensor) -> Result<Tensor> {
        Ok(states.clone())
    }

    fn dtype(&self) -> DType {
        self.w_h.dtype()
    }

    fn n_rec(&self) -> usize {
        self.n_rec
    }

    fn device(&self) -> Device {
        self.w_h.device().clone()
    }

    fn write_npz(&self, path: &Path) -> Result<()> {
        let cpu = Device::Cpu;
        let w = self.weights()?;
        let (g, i, n, o) = (w.cell.gates(), w.n_in, w.n_rec, w.n_out);
        let t = |d: &[f32], s: &[usize]| Tensor::from_slice(d, s, &cpu);
        let mut entries = vec![
            ("W_x", t(&w.w_x, &[g * n, i])?),
            ("W_h", t(&w.w_h, &[g * n, n])?),
            ("b_x", t(&w.b_x, &[g * n])?),
            ("init_hidden", t(&w.init_hidden, &[1, n])?),
            ("W_out", t(&w.w_out, &[o, n])?),
            ("b_out", t(&w.b_out, &[o])?),
        ];
        match w.cell {
            Cell::Lstm => entries.push(("init_cell", t(&w.init_cell, &[1, n])?)),
            Cell::Gru => entries.push(("b_h", t(&w.b_h, &[g * n])?)),
        }
        write_atomic_with(path, |tmp| crate::npz_file::write_npz(&entries, tmp))
    }
}
