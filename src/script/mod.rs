//! The Rhai host: the only place that touches Rhai.
//!
//! It builds a sandboxed engine (operation, depth and size limits; no file or network access;
//! imports from the embedded standard library and a search path), runs an experiment script,
//! and turns what it declares into typed settings plus a [`ScriptTask`] that calls the
//! script's closures to draw trials.

mod curriculum;
pub mod docs;
mod engine;
mod epoch_lengths;
mod error;
mod load;
mod model_api;
mod rng;
mod sandbox;
mod score_closure;
pub mod stdlib;
mod task;
mod task_api;
mod traced_time;
mod value;

pub use curriculum::ScriptCurriculum;
pub use engine::{
    build_engine, build_engine_bundled, build_engine_logging, build_engine_with_libraries,
    BundledModule, ImportLog, ImportedModule, LoadedModules,
};
pub use epoch_lengths::{epoch_lengths, EpochLengths};
pub use error::ScriptError;
pub use load::{
    library_imports, load_experiment, load_experiment_source, LoadError, LoadOptions,
    LoadedExperiment, Override, OverrideError,
};
pub use rng::ScriptRng;
pub use sandbox::{
    MAX_ALLOCATED_BYTES, MAX_ALLOCATIONS, MAX_CALL_LEVELS, MAX_LIVE_BYTES, MAX_OPERATIONS,
};
pub use task::{ScriptTask, SettingsError, TrialForm, EPOCH_KEYS, OVERLAY_KEYS};
