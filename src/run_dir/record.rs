//! `config.yaml`: the fully resolved experiment and where it came from.

use serde::{Deserialize, Serialize};

use super::FORMAT_VERSION;
use crate::experiment::ExperimentConfig;
use crate::library::LockedLibrary;
use crate::script::ImportedModule;

/// What `config.yaml` holds: the resolved experiment plus where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The run directory's format (0: written before formats were numbered).
    #[serde(default)]
    pub format_version: u32,
    /// Version of psychrnn that made the run (the embedded standard library is this version's).
    pub psychrnn_version: String,
    /// The CPU code paths the products and kernels took ([`crate::kernel::cpu_paths`]): runs
    /// agree bit for bit only on the same paths.
    #[serde(default)]
    pub cpu_paths: String,
    /// The script's path when the run was made (absolute where it could be resolved).
    pub script: String,
    /// SHA-256 of the script file.
    pub script_sha256: String,
    /// The copy of the script inside the run directory, relative to it (`script/NAME.rhai`);
    /// commands that reopen the run load this copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script_copy: Option<BundledFile>,
    /// The module folders (`--lib`, `PSYCHRNN_PATH`) the run was made with, absolute.
    #[serde(default)]
    pub lib_dirs: Vec<String>,
    /// Every module the script imported, with the SHA-256 of its source.
    #[serde(default)]
    pub imports: Vec<ImportedModule>,
    /// Every library the imports came from: name, version, source, commit and the SHA-256 of
    /// each file (its modules' copies are in `script/modules/`, like other modules).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub libraries: Vec<LockedLibrary>,
    /// The `--set` overrides given, in order.
    pub overrides: Vec<String>,
    /// The resolved experiment.
    #[serde(flatten)]
    pub experiment: ExperimentConfig,
}

/// A file copied into the run directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundledFile {
    /// Its path inside the run directory, `/`-separated.
    pub path: String,
}

/// Why config.yaml's text is not a run record this psychrnn reads.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The text is not a run record.
    #[error("{0}")]
    Yaml(#[from] serde_norway::Error),
    /// A newer psychrnn wrote it, in a format this one does not know.
    #[error("written in run format {format_version} by psychrnn {written_by}; this psychrnn {} reads formats up to {FORMAT_VERSION}: update psychrnn", env!("CARGO_PKG_VERSION"))]
    NewerFormat {
        /// The record's format version.
        format_version: u32,
        /// The psychrnn version that wrote it.
        written_by: String,
    },
}

impl RunRecord {
    /// Parses config.yaml's text; refuses a format newer than this psychrnn reads.
    pub fn from_yaml(text: &str) -> Result<RunRecord, RecordError> {
        let record: RunRecord = serde_norway::from_str(text)?;
        if record.format_version > FORMAT_VERSION {
            return Err(RecordError::NewerFormat {
                format_version: record.format_version,
                written_by: record.psychrnn_version,
            });
        }
        Ok(record)
    }

    /// config.yaml's text.
    pub fn to_yaml(&self) -> String {
        serde_norway::to_string(self).expect("a run record serialises")
    }
}
