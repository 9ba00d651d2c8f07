//! Plugging a model of your own into psychrnn's trainer: a leaky *linear* RNN (no transfer
//! function), written with candle ops, trained on the task a bundled script declares.
//!
//! Anything that implements [`psychrnn::model::Network`] trains with the same trainer, loss,
//! curriculum and evaluation as the built-in rate RNN, LSTM and GRU.
//!
//! Run: `cargo run --release --example custom_model`.

use std::sync::Arc;

use candle_core::{DType, Device, Result, Tensor, Var};
use psychrnn::model::{LossKind, Network, Simulation, TrainableVar};
use psychrnn::random::{stream, Rng};
use psychrnn::script::{load_experiment, LoadOptions};
use psychrnn::task::{generate_batch, Task};
use psychrnn::train::{evaluate, train};

/// `x_t = (1 − α) x_{t−1} + α (W_rec x_{t−1} + W_in u_t + b)`, `y_t = W_out x_t`.
struct LeakyLinearRnn {
    alpha: f64,
    w_in: Var,
    w_rec: Var,
    w_out: Var,
    b_rec: Var,
}

impl LeakyLinearRnn {
    fn new(n_in: usize, n_rec: usize, n_out: usize, alpha: f64, seed: u64) -> Result<Self> {
        let cpu = Device::Cpu;
        let mut rng = Rng::derive(seed, &[stream::INIT]);
        let mut normal = |rows: usize, cols: usize, scale: f64| -> Result<Var> {
            let v: Vec<f32> = (0..rows * cols)
                .map(|_| (rng.normal() * scale) as f32)
                .collect();
            Var::from_tensor(&Tensor::from_vec(v, (rows, cols), &cpu)?)
        };
        Ok(LeakyLinearRnn {
            alpha,
            w_in: normal(n_rec, n_in, 0.5)?,
            // Spectral radius ≈ 0.9: stable linear dynamics to start from.
            w_rec: normal(n_rec, n_rec, 0.9 / (n_rec as f64).sqrt())?,
            w_out: normal(n_out, n_rec, 1.0 / (n_rec as f64).sqrt())?,
            b_rec: Var::from_tensor(&Tensor::zeros(n_rec, DType::F32, &cpu)?)?,
        })
    }
}

impl Network for LeakyLinearRnn {
    fn trainable(&self) -> Vec<TrainableVar<'_>> {
        [
            ("W_in", &self.w_in),
            ("W_rec", &self.w_rec),
            ("W_out", &self.w_out),
            ("b_rec", &self.b_rec),
        ]
        .into_iter()
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
        _track: bool,
    ) -> Result<(Simulation, Option<Tensor>)> {
        let (steps, batch, _) = inputs.dims3()?;
        let n = self.w_rec.dims()[0];
        // The input drive of every step at once: [T·B, N_in] · W_inᵀ + b.
        let drive = inputs
            .reshape((steps * batch, ()))?
            .matmul(&self.w_in.t()?)?
            .broadcast_add(self.b_rec.as_tensor())?
            .reshape((steps, batch, n))?;
        let mut x = Tensor::zeros((batch, n), DType::F32, &Device::Cpu)?;
        let mut states = Vec::with_capacity(steps);
        for t in 0..steps {
            let recurrent = x.matmul(&self.w_rec.t()?)?;
            let input = (recurrent + drive.get(t)?)?;
            x = ((&x * (1.0 - self.alpha))? + (input * self.alpha)?)?;
            states.push(x.clone());
        }
        // Per-step tensors stacked once (slicing one big tensor in the loop makes BPTT O(T²)).
        let states = Tensor::stack(&states, 0)?;
        let outputs = states
            .reshape((steps * batch, n))?
            .matmul(&self.w_out.t()?)?
            .reshape((steps, batch, ()))?;
        Ok((Simulation { states, outputs }, None))
    }

    fn rates(&self, states: &Tensor) -> Result<Tensor> {
        Ok(states.clone())
    }
    fn n_rec(&self) -> usize {
        self.w_rec.dims()[0]
    }
    fn dtype(&self) -> DType {
        DType::F32
    }
    fn device(&self) -> Device {
        Device::Cpu
    }
    fn write_npz(&self, path: &std::path::Path) -> Result<()> {
        let entries = [
            ("W_in", self.w_in.as_tensor()),
            ("W_rec", self.w_rec.as_tensor()),
            ("W_out", self.w_out.as_tensor()),
            ("b_rec", self.b_rec.as_tensor()),
        ];
        psychrnn::npz_file::write_npz(&entries, path)
    }
}

fn main() -> anyhow::Result<()> {
    let loaded = load_experiment(
        "scripts/perceptual_discrimination.rhai".as_ref(),
        &LoadOptions::default(),
    )?;
    let task: Arc<dyn Task> = loaded.task.clone();
    let shape = task.shape();
    let seed = loaded.config.seed;
    let model = LeakyLinearRnn::new(shape.n_in(), 32, shape.n_out(), shape.dt / shape.tau, seed)?;
    let mut config = loaded.config.train.clone();
    config.iterations = 200;
    config.eval_every = 50;
    let outcome = train(&model, task.clone(), &config, LossKind::Mse, seed, |row| {
        println!(
            "iteration {:>4}: loss {:.4}, accuracy {:.3}",
            row.iteration, row.loss, row.accuracy
        )
    })?;
    let test = generate_batch(task.as_ref(), seed, stream::TEST, 0, 256)?;
    let result = evaluate(
        &model,
        task.as_ref(),
        &test,
        &mut Rng::derive(seed, &[stream::REC_NOISE, stream::TEST]),
        LossKind::Mse,
    )?;
    println!(
        "leaky linear RNN: test accuracy {:.3} after {} iterations",
        result.accuracy, outcome.iterations
    );
    Ok(())
}
