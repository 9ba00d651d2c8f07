//! The version of psychrnn's file formats.

/// The version of the run directory's format that this psychrnn writes: `format_version` in
/// config.yaml, summary.yaml, checkpoint/state.yaml and the npz files. history.csv follows the
/// version of the config.yaml beside it. Older versions are read where they can be.
pub const FORMAT_VERSION: u32 = 1;
