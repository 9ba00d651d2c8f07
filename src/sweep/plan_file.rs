//! `sweep.yaml`: a sweep's plan, read and written atomically.

use std::path::{Path, PathBuf};

use super::{SweepError, SweepPlan};

impl SweepPlan {
    /// `DIR/sweep.yaml`.
    pub fn file(dir: &Path) -> PathBuf {
        dir.join("sweep.yaml")
    }

    /// Reads `sweep.yaml` of the sweep folder `dir`.
    pub fn read(dir: &Path) -> Result<SweepPlan, SweepError> {
        let path = Self::file(dir);
        let text = std::fs::read_to_string(&path).map_err(|source| SweepError::NoPlan {
            path: path.clone(),
            dir: dir.to_path_buf(),
            source,
        })?;
        serde_norway::from_str(&text).map_err(|e| SweepError::BadPlan {
            path,
            message: e.to_string(),
        })
    }

    /// Writes `sweep.yaml` into `dir` atomically.
    pub fn write(&self, dir: &Path) -> Result<(), SweepError> {
        let path = Self::file(dir);
        let yaml = serde_norway::to_string(self).map_err(|e| SweepError::BadPlan {
            path: path.clone(),
            message: e.to_string(),
        })?;
        crate::atomic_file::write_atomic(&path, yaml.as_bytes())
            .map_err(|source| SweepError::Write { path, source })
    }
}
