//! Models: the rate RNN (PsychRNN's `Basic`), its initialisation and its weight files.

mod config;
mod init;
mod rate_rnn;
mod transfer;
mod weights_file;

pub use config::ModelConfig;
pub use init::psychrnn_initial_weights;
pub use rate_rnn::{simulate, EffectiveWeights, RateRnn, RateRnnWeights, Simulation};
pub use transfer::Transfer;
pub use weights_file::{read_weights_npz, write_weights_npz};
