//! Arguments every subcommand that reads a script shares: the script, `--set`, `--seed`, `--lib`.

use std::path::PathBuf;

use clap::Args;

use super::CliError;
use psychrnn::library::{default_store_root, Store};
use psychrnn::script::{load_experiment, LoadOptions, LoadedExperiment, Override};

/// How to resolve a script's experiment.
#[derive(Debug, Clone, Args)]
pub struct ScriptOptions {
    /// Seed of every random stream (wins over the script's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override a setting, e.g. --set model.n_rec=100 --set train.iterations=500 (repeatable).
    #[arg(long = "set", value_name = "SECTION.KEY=VALUE", value_parser = <Override as std::str::FromStr>::from_str)]
    pub overrides: Vec<Override>,
    /// Extra folder to search for imported modules (repeatable; also PSYCHRNN_PATH); it
    /// must exist.
    #[arg(long = "lib", value_name = "DIR", value_parser = super::flag_values::existing_dir)]
    pub lib_dirs: Vec<PathBuf>,
}

/// A script and how to resolve it.
#[derive(Debug, Clone, Args)]
pub struct ScriptArgs {
    /// The experiment script (.rhai).
    pub script: PathBuf,
    /// How to resolve it.
    #[command(flatten)]
    pub options: ScriptOptions,
}

/// Module folders from `PSYCHRNN_PATH` (colon-separated), empty entries skipped.
pub fn env_lib_dirs() -> Vec<PathBuf> {
    std::env::var_os("PSYCHRNN_PATH")
        .map(|path| {
            std::env::split_paths(&path)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// The library store `psychrnn lib add` installs into (`PSYCHRNN_HOME` or the platform's
/// data folder); `None` when no home folder is known.
pub fn library_store() -> Option<Store> {
    default_store_root().map(Store::new)
}

impl ScriptOptions {
    /// Module folders from `--lib`, then `PSYCHRNN_PATH` (colon-separated).
    pub fn lib_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = self.lib_dirs.clone();
        dirs.extend(env_lib_dirs());
        dirs
    }

    /// The load options these arguments describe.
    pub fn load_options(&self) -> LoadOptions {
        LoadOptions {
            overrides: self.overrides.clone(),
            seed: self.seed,
            lib_dirs: self.lib_dirs(),
            bundled_modules: Vec::new(),
            libraries: library_store(),
        }
    }
}

impl ScriptArgs {
    /// Runs the script and resolves its experiment; errors are bad input (exit code 2).
    pub fn load(&self) -> Result<LoadedExperiment, CliError> {
        load_experiment(&self.script, &self.options.load_options()).map_err(CliError::input)
    }
}
