//! The integration tests, one binary (ripgrep's layout): each module tests one area through
//! the library or the `psychrnn` binary, and [`harness`] holds the helpers they share.
//!
//! All tests run in one process, in threads: a test must not change process-wide state
//! (environment variables, the working directory, rayon's global pool); settings such as the
//! kernels' thread count are passed to what a test builds (`KernelOptions`).

mod harness;

mod bundle_analysis;
mod bundle_trials;
mod chronometric;
mod classic_results;
mod cli;
mod code_shape;
mod constraints;
mod curriculum_stages;
mod embedding;
mod evaluation_chunks;
mod fused_kernel;
mod gated_reference;
mod libraries;
mod lifecycle;
mod line_attractor;
mod rate_rnn_reference;
mod readme;
mod report;
mod scoring;
mod script_tasks;
mod simulate;
mod stdlib_tasks;
mod sweep;
mod tools;
mod trial_structure;
mod trust_run_dir;
mod trust_sandbox;
mod trust_validation;
mod trust_weights_cli;
mod validation;
mod weights_files;
