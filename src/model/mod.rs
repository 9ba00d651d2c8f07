//! Models: the rate RNN (PsychRNN's `Basic`) with its biological constraints, LSTM and GRU,
//! initialisation and weight files.

mod build;
mod config;
pub mod constraints;
pub mod gated;
mod init;
mod pickled;
mod rate_rnn;
mod regularization;
mod weights_file;

pub use crate::kernel::{Cell, Transfer};
pub use build::{alphas, build_network, build_network_with, BuiltNetwork};
pub use config::{
    InOutInit, LossKind, Matrix, ModelConfig, ModelKind, RecInit, SpectralRadiusOf, Tau, MAX_UNITS,
};
pub use constraints::Constraints;
pub use gated::{GatedRnn, GatedWeights};
pub use init::{balance_dale_ratio, glorot, initial_weights};
pub use pickled::{PickleError, PickledObject};
pub use rate_rnn::{
    outputs_fused, simulate, simulate_fused, Alpha, EffectiveWeights, RateRnn, RateRnnOptions,
    RateRnnWeights, Trainable,
};
pub use regularization::Regularization;
pub use weights_file::{
    read_npz, read_weights_npz, tensorflow_function, transfer_of_python_function,
    write_weights_npz, LoadedWeights, NpyArray, RecordedTransfer, TransferMismatch, WeightsError,
};

use candle_core::{DType, Device, Result, Tensor, Var};

use crate::random::Rng;

/// What a forward pass produces, time-major.
#[derive(Debug, Clone)]
pub struct Simulation {
    /// Hidden states for t = 1..T, [T, B, N_rec] (pre-activation x for the rate RNN, h for
    /// LSTM/GRU).
    pub states: Tensor,
    /// Outputs y_1..y_T, [T, B, N_out].
    pub outputs: Tensor,
}

/// A parameter training may change.
pub struct TrainableVar<'a> {
    /// PsychRNN's name (`W_rec`, …).
    pub name: &'static str,
    /// The parameter.
    pub var: &'a Var,
    /// 1 where entries may change, 0 where they are fixed; `None`: all may change.
    pub free: Option<Tensor>,
}

/// What the trainer needs from a network. `Sync`: a training step runs on the kernels' thread
/// pool ([`Network::kernel_options`]).
pub trait Network: Sync {
    /// The parameters training updates.
    fn trainable(&self) -> Vec<TrainableVar<'_>>;
    /// Runs time-major inputs [T, B, N_in], drawing any noise from `noise_rng`. With `track`,
    /// the result is differentiable and comes with the regularisation term (if any).
    fn run(
        &self,
        inputs: &Tensor,
        noise_rng: &mut Rng,
        track: bool,
    ) -> Result<(Simulation, Option<Tensor>)>;
    /// The outputs [T, B, N_out] of a differentiable run and its regularisation term: what a
    /// training step's loss needs. By default [`Self::run`] with `track`; a network may skip
    /// forming states the loss does not use.
    fn run_for_loss(
        &self,
        inputs: &Tensor,
        noise_rng: &mut Rng,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let (sim, penalty) = self.run(inputs, noise_rng, true)?;
        Ok((sim.outputs, penalty))
    }
    /// Firing rates from states [T, B, N_rec] (f(x) for the rate RNN, h itself for LSTM/GRU).
    fn rates(&self, states: &Tensor) -> Result<Tensor>;
    /// Element type of the parameters.
    fn dtype(&self) -> DType;
    /// The number of recurrent units N_rec.
    fn n_rec(&self) -> usize;
    /// Where the parameters live.
    fn device(&self) -> Device;
    /// Writes the weights file (atomically).
    fn write_npz(&self, path: &std::path::Path) -> Result<()>;
    /// A rate RNN's effective weights as weights.npz holds them (what `simulate`,
    /// `fixedpoints` and the report analyse); `None` for other networks.
    fn rate_weights(&self) -> Option<Result<RateRnnWeights>> {
        None
    }
    /// How the network's fused kernels run (threads, vector code). The trainer runs each
    /// gradient step inside this count's thread pool, so candle's own parallel work shares
    /// the kernels' threads; by default one thread.
    fn kernel_options(&self) -> crate::kernel::KernelOptions {
        crate::kernel::KernelOptions::default()
    }
    /// Frees the large buffers the fused kernels keep from one training iteration to the next
    /// (the LSTM's and GRU's; a run calls this after training). By default nothing is kept.
    fn release_buffers(&self) {}
}
