//! Checkpoints: the trainable parameters, the optimizer's state and the [`TrainState`], enough
//! to continue a run bit-identically.
//!
//! A checkpoint is the folder `checkpoint/` of a run with `tensors.npz` (`param/<name>` for each
//! trainable parameter, `optimizer/<k>` for the optimizer's tensors) and `state.yaml` (the
//! training state and optimizer step count). It is written whole into a temporary folder that
//! then replaces the old one, so a crash leaves the previous checkpoint usable.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::{Optimizer, TrainState};
use crate::atomic_file::write_atomic;
use crate::model::Network;

/// The cause of a checkpoint failure (an I/O, YAML, npz or tensor error, or a mismatch with
/// the model).
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why a checkpoint could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Writing failed; the previous checkpoint is kept.
    #[error("cannot write checkpoint {} ({part}): {source}", dir.display())]
    Write {
        /// The checkpoint folder.
        dir: PathBuf,
        /// What was being written (`tensors.npz`, `state.yaml`, `moving into place`, …).
        part: &'static str,
        /// What went wrong.
        source: Cause,
    },
    /// Neither the checkpoint nor a previous one beside it is complete.
    #[error("cannot read checkpoint {}: it is incomplete or damaged (and no complete previous checkpoint is beside it)", dir.display())]
    Incomplete {
        /// The checkpoint folder.
        dir: PathBuf,
    },
    /// A complete checkpoint could not be read into the model (a changed model, a damaged
    /// file).
    #[error("cannot read checkpoint {}: {source}", dir.display())]
    Read {
        /// The checkpoint folder read.
        dir: PathBuf,
        /// What went wrong.
        source: Cause,
    },
}

#[derive(Serialize, Deserialize)]
struct Saved {
    /// The run directory's format version (0: before versions were written).
    #[serde(default)]
    format_version: u32,
    /// SHA-256 of tensors.npz: state.yaml is written last, so a checkpoint whose tensors do
    /// not match it (cut short by a crash or a full disk) is never read.
    #[serde(default)]
    tensors_sha256: Option<String>,
    optimizer_step: u64,
    state: TrainState,
}

fn sha256_of(path: &Path) -> std::io::Result<String> {
    use sha2::Digest;
    Ok(format!("{:x}", sha2::Sha256::digest(fs::read(path)?)))
}

fn old_dir(dir: &Path) -> PathBuf {
    dir.with_file_name(".checkpoint-old")
}

/// Writes the checkpoint folder `dir`, replacing any previous one only once the new one is
/// complete.
pub fn write_checkpoint(
    dir: &Path,
    model: &dyn Network,
    state: &TrainState,
    optimizer: &Optimizer,
) -> Result<(), CheckpointError> {
    let fail = |part: &'static str, source: Cause| CheckpointError::Write {
        dir: dir.to_path_buf(),
        part,
        source,
    };
    let tmp = dir.with_file_name(format!(".checkpoint-tmp-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    // Whatever fails (a full disk, most likely), the temporary folder goes and the previous
    // checkpoint stays as it was.
    let written = write_folder(&tmp, model, state, optimizer);
    if let Err((what, e)) = written {
        let _ = fs::remove_dir_all(&tmp);
        return Err(fail(what, e.into()));
    }
    let old = old_dir(dir);
    let _ = fs::remove_dir_all(&old);
    if dir.exists() {
        fs::rename(dir, &old).map_err(|e| fail("replacing the previous checkpoint", e.into()))?;
    }
    fs::rename(&tmp, dir).map_err(|e| fail("moving into place", e.into()))?;
    let _ = fs::remove_dir_all(&old);
    Ok(())
}

/// Writes a complete checkpoint into the folder `tmp`: tensors.npz, then state.yaml with the
/// tensors' hash.
fn write_folder(
    tmp: &Path,
    model: &dyn Network,
    state: &TrainState,
    optimizer: &Optimizer,
) -> Result<(), (&'static str, String)> {
    fs::create_dir_all(tmp).map_err(|e| ("folder", e.to_string()))?;
    let (step, tensors) = optimizer.state();
    let mut entries = parameter_entries(model);
    entries.extend(
        tensors
            .into_iter()
            .enumerate()
            .map(|(k, t)| (format!("optimizer/{k}"), t)),
    );
    let tensors_path = tmp.join("tensors.npz");
    crate::npz_file::write_npz(&entries, &tensors_path)
        .map_err(|e| ("tensors.npz", e.to_string()))?;
    let tensors_sha256 = sha256_of(&tensors_path).map_err(|e| ("tensors.npz", e.to_string()))?;
    let yaml = serde_norway::to_string(&Saved {
        format_version: crate::format_version::FORMAT_VERSION,
        tensors_sha256: Some(tensors_sha256),
        optimizer_step: step,
        state: state.clone(),
    })
    .map_err(|e| ("state.yaml", e.to_string()))?;
    write_atomic(&tmp.join("state.yaml"), yaml.as_bytes())
        .map_err(|e| ("state.yaml", e.to_string()))
}

/// True when the checkpoint folder `dir` is complete: state.yaml parses and tensors.npz has
/// the hash it records.
fn is_complete(dir: &Path) -> bool {
    let Ok(text) = fs::read_to_string(dir.join("state.yaml")) else {
        return false;
    };
    let Ok(saved) = serde_norway::from_str::<Saved>(&text) else {
        return false;
    };
    match saved.tensors_sha256 {
        Some(want) => sha256_of(&dir.join("tensors.npz")).is_ok_and(|got| got == want),
        None => dir.join("tensors.npz").is_file(),
    }
}

/// Restores `model`'s trainable parameters and `optimizer` from the checkpoint in `dir` (or the
/// previous one, if a crash interrupted its replacement) and returns the training state.
pub fn read_checkpoint(
    dir: &Path,
    model: &dyn Network,
    optimizer: &mut Optimizer,
) -> Result<TrainState, CheckpointError> {
    let dir = if is_complete(dir) {
        dir.to_path_buf()
    } else if is_complete(&old_dir(dir)) {
        old_dir(dir)
    } else {
        return Err(CheckpointError::Incomplete {
            dir: dir.to_path_buf(),
        });
    };
    let fail = |source: Cause| CheckpointError::Read {
        dir: dir.clone(),
        source,
    };
    let text = fs::read_to_string(dir.join("state.yaml")).map_err(|e| fail(e.into()))?;
    let saved: Saved = serde_norway::from_str(&text).map_err(|e| fail(e.into()))?;
    let mut tensors = read_tensors(&dir.join("tensors.npz")).map_err(fail)?;
    restore_parameters(&mut tensors, model).map_err(fail)?;
    let mut slots = Vec::new();
    while let Some(t) = tensors.remove(&format!("optimizer/{}", slots.len())) {
        slots.push(t);
    }
    optimizer
        .restore(saved.optimizer_step, slots)
        .map_err(|e| fail(e.into()))?;
    Ok(saved.state)
}

/// The model's trainable parameters as `param/<name>` entries.
fn parameter_entries(model: &dyn Network) -> Vec<(String, Tensor)> {
    model
        .trainable()
        .iter()
        .map(|t| (format!("param/{}", t.name), t.var.as_tensor().clone()))
        .collect()
}

/// Every entry of the npz file `path` as a tensor.
fn read_tensors(path: &Path) -> Result<HashMap<String, Tensor>, Cause> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let arrays = crate::npz_file::read_npz(path).map_err(|e| format!("{name}: {}", e.detail()))?;
    let mut tensors = HashMap::new();
    for (key, array) in arrays {
        let tensor = array
            .to_tensor()
            .ok_or_else(|| format!("{name}: `{key}` holds {} values", array.kind()))??;
        tensors.insert(key, tensor);
    }
    Ok(tensors)
}

/// Sets every trainable parameter of `model` from its `param/<name>` entry in `tensors`
/// (taking the entries out), refusing a missing entry or a shape the model does not have.
fn restore_parameters(
    tensors: &mut HashMap<String, Tensor>,
    model: &dyn Network,
) -> Result<(), Cause> {
    for t in model.trainable() {
        let key = format!("param/{}", t.name);
        let value = tensors
            .remove(&key)
            .ok_or_else(|| format!("no `{key}`: was the model changed?"))?;
        if value.dims() != t.var.dims() {
            return Err(format!(
                "`{key}` has shape {:?}, the model {:?}",
                value.dims(),
                t.var.dims()
            )
            .into());
        }
        t.var
            .set(&value.to_dtype(t.var.dtype())?.to_device(&Device::Cpu)?)?;
    }
    Ok(())
}

/// Writes `model`'s trainable parameters to the npz file `path` atomically, as a checkpoint
/// holds them (`param/<name>`, no optimizer state): the stage snapshots of a curriculum.
pub fn write_parameters(path: &Path, model: &dyn Network) -> Result<(), CheckpointError> {
    let entries = parameter_entries(model);
    crate::atomic_file::write_atomic_with(path, |tmp| crate::npz_file::write_npz(&entries, tmp))
        .map_err(|e| CheckpointError::Write {
            dir: path.to_path_buf(),
            part: "parameters",
            source: e.to_string().into(),
        })
}

/// Sets `model`'s trainable parameters from a file written by [`write_parameters`].
pub fn read_parameters(path: &Path, model: &dyn Network) -> Result<(), CheckpointError> {
    let fail = |source: Cause| CheckpointError::Read {
        dir: path.to_path_buf(),
        source,
    };
    let mut tensors = read_tensors(path).map_err(fail)?;
    restore_parameters(&mut tensors, model).map_err(fail)
}

/// True when `dir` (or the previous checkpoint beside it) holds a checkpoint's state file,
/// complete or not.
pub fn has_checkpoint(dir: &Path) -> bool {
    dir.join("state.yaml").exists() || old_dir(dir).join("state.yaml").exists()
}

/// The iteration of the checkpoint in `dir` (or of the previous one), if one can be read.
pub fn read_checkpoint_iteration(dir: &Path) -> Option<usize> {
    [dir.to_path_buf(), old_dir(dir)].iter().find_map(|d| {
        let text = fs::read_to_string(d.join("state.yaml")).ok()?;
        let saved: Saved = serde_norway::from_str(&text).ok()?;
        Some(saved.state.iteration)
    })
}
