//! Checkpoints: the trainable parameters, the optimizer's state and the [`TrainState`], enough
//! to continue a run bit-identically.
//!
//! A checkpoint is the folder `checkpoint/` of a run with `tensors.npz` (`param/<name>` for each
//! trainable parameter, `optimizer/<k>` for the optimizer's tensors) and `state.yaml` (the
//! training state and optimizer step count). It is written whole into a temporary folder that
//! then replaces the old one, so a crash leaves the previous checkpoint usable.

use std::fs;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::{Optimizer, TrainState};
use crate::model::Network;
use crate::run_dir::write_atomic;

#[derive(Serialize, Deserialize)]
struct Saved {
    optimizer_step: u64,
    state: TrainState,
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
) -> Result<(), String> {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        format!("cannot write checkpoint {} ({what}): {e}", dir.display())
    };
    let tmp = dir.with_file_name(format!(".checkpoint-tmp-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).map_err(|e| fail("folder", &e))?;
    let (step, tensors) = optimizer.state();
    let mut entries: Vec<(String, Tensor)> = model
        .trainable()
        .iter()
        .map(|t| (format!("param/{}", t.name), t.var.as_tensor().clone()))
        .collect();
    entries.extend(
        tensors
            .into_iter()
            .enumerate()
            .map(|(k, t)| (format!("optimizer/{k}"), t)),
    );
    crate::npz_file::write_npz(&entries, &tmp.join("tensors.npz"))
        .map_err(|e| fail("tensors.npz", &e))?;
    let yaml = serde_norway::to_string(&Saved {
        optimizer_step: step,
        state: state.clone(),
    })
    .map_err(|e| fail("state.yaml", &e))?;
    write_atomic(&tmp.join("state.yaml"), yaml.as_bytes()).map_err(|e| fail("state.yaml", &e))?;
    let old = old_dir(dir);
    let _ = fs::remove_dir_all(&old);
    if dir.exists() {
        fs::rename(dir, &old).map_err(|e| fail("replacing the previous checkpoint", &e))?;
    }
    fs::rename(&tmp, dir).map_err(|e| fail("moving into place", &e))?;
    let _ = fs::remove_dir_all(&old);
    Ok(())
}

/// Restores `model`'s trainable parameters and `optimizer` from the checkpoint in `dir` (or the
/// previous one, if a crash interrupted its replacement) and returns the training state.
pub fn read_checkpoint(
    dir: &Path,
    model: &dyn Network,
    optimizer: &mut Optimizer,
) -> Result<TrainState, String> {
    let dir = if dir.join("state.yaml").exists() {
        dir.to_path_buf()
    } else {
        old_dir(dir)
    };
    let fail = |e: &dyn std::fmt::Display| format!("cannot read checkpoint {}: {e}", dir.display());
    let text = fs::read_to_string(dir.join("state.yaml")).map_err(|e| fail(&e))?;
    let saved: Saved = serde_norway::from_str(&text).map_err(|e| fail(&e))?;
    let mut tensors: std::collections::HashMap<String, Tensor> =
        Tensor::read_npz(dir.join("tensors.npz"))
            .map_err(|e| fail(&e))?
            .into_iter()
            .collect();
    for t in model.trainable() {
        let key = format!("param/{}", t.name);
        let value = tensors
            .remove(&key)
            .ok_or_else(|| fail(&format!("no `{key}`: was the model changed?")))?;
        if value.dims() != t.var.dims() {
            return Err(fail(&format!(
                "`{key}` has shape {:?}, the model {:?}",
                value.dims(),
                t.var.dims()
            )));
        }
        t.var
            .set(
                &value
                    .to_dtype(t.var.dtype())
                    .map_err(|e| fail(&e))?
                    .to_device(&Device::Cpu)
                    .map_err(|e| fail(&e))?,
            )
            .map_err(|e| fail(&e))?;
    }
    let mut slots = Vec::new();
    while let Some(t) = tensors.remove(&format!("optimizer/{}", slots.len())) {
        slots.push(t);
    }
    optimizer
        .restore(saved.optimizer_step, slots)
        .map_err(|e| fail(&e))?;
    Ok(saved.state)
}
