//! `ConfigError`: a bad value in an experiment's settings, named by its field. Every
//! settings section (model, train, report, …) reports with it.

/// A bad value in the experiment's settings, named by its field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("config field `{field}`: {message}")]
pub struct ConfigError {
    /// Dotted field path, e.g. `model.n_rec`.
    pub field: String,
    /// What is wrong and what is valid.
    pub message: String,
}

impl ConfigError {
    /// A new error for `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            field: field.into(),
            message: message.into(),
        }
    }
}
