//! psychrnn: train biologically constrained rate RNNs on cognitive tasks written as Rhai scripts.
//!
//! Data flow: a script ([`script`]) declares an experiment ([`experiment`]) whose task
//! ([`task`]) draws trial batches; a rate RNN ([`model`]) is trained on them ([`train`]) and its
//! files land in a run directory ([`run_dir`]); [`pipeline`] runs the whole way from a script
//! to a finished run. The `psychrnn` binary is a thin, private command-line layer over this
//! library.
#![warn(missing_docs)]

pub mod analysis;
pub mod atomic_file;
pub mod bench;
pub mod config_error;
pub mod did_you_mean;
pub mod experiment;
pub mod format_version;
pub mod kernel;
pub mod library;
pub mod library_tasks;
pub mod linalg;
pub mod memory;
pub mod model;
pub mod npz_file;
pub mod pipeline;
pub mod random;
pub mod report;
pub mod run_dir;
pub mod script;
pub mod sweep;
pub mod task;
pub mod train;
pub mod trials_file;
pub mod validation;
