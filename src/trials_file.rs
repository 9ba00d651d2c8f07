//! `trials.npz`: trials with the network's responses, trial-aligned, readable by numpy.
//!
//! Keys: `inputs` [B, T, N_in], `targets` and `mask` [B, T, N_out], `outputs` [B, T, N_out],
//! `states` and `rates` [B, T, N_rec] (float32), `dt` (0-d), and one `condition_<name>` \[B\]
//! (float64) per condition. A condition given as text is stored as codes 0, 1, … into its
//! sorted labels, which `labels` keeps (and `trials_labels.yaml` beside the file records).
//! `correct` \[B\] (float64, 1 or 0) holds the task scorer's verdict on each trial.

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::{Device, Tensor};

use crate::run_dir::{write_atomic, write_atomic_with};
use crate::task::{argmax_accuracy, Batch, ConditionValue};

/// Trials and the network's responses to them.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialRecord {
    /// Trials B.
    pub n_trials: usize,
    /// Steps T.
    pub n_steps: usize,
    /// Input channels.
    pub n_in: usize,
    /// Output channels.
    pub n_out: usize,
    /// Recurrent units.
    pub n_rec: usize,
    /// Time step in ms.
    pub dt: f64,
    /// [B, T, N_in].
    pub inputs: Vec<f32>,
    /// [B, T, N_out].
    pub targets: Vec<f32>,
    /// [B, T, N_out].
    pub mask: Vec<f32>,
    /// [B, T, N_out].
    pub outputs: Vec<f32>,
    /// [B, T, N_rec].
    pub states: Vec<f32>,
    /// [B, T, N_rec].
    pub rates: Vec<f32>,
    /// One value per trial for each condition (text as codes into `labels`).
    pub conditions: BTreeMap<String, Vec<f64>>,
    /// Sorted labels of text conditions.
    pub labels: BTreeMap<String, Vec<String>>,
    /// The task scorer's verdict on each trial, when known (files written before it, or
    /// records built without a scorer, have none).
    pub correct: Option<Vec<bool>>,
}

impl TrialRecord {
    /// A record of `batch` with the network's `outputs`, `states` and `rates` (batch-major).
    pub fn new(
        batch: &Batch,
        outputs: Vec<f32>,
        states: Vec<f32>,
        rates: Vec<f32>,
        dt: f64,
    ) -> Self {
        let n_rec = states.len() / (batch.n_trials * batch.n_steps).max(1);
        let mut names: Vec<&String> = batch.conditions.iter().flat_map(|c| c.keys()).collect();
        names.sort();
        names.dedup();
        let mut conditions = BTreeMap::new();
        let mut labels = BTreeMap::new();
        for name in names {
            let mut texts: Vec<String> = batch
                .conditions
                .iter()
                .filter_map(|c| match c.get(name) {
                    Some(ConditionValue::Text(s)) => Some(s.clone()),
                    _ => None,
                })
                .collect();
            texts.sort();
            texts.dedup();
            let values = batch
                .conditions
                .iter()
                .map(|c| match c.get(name) {
                    Some(ConditionValue::Number(x)) => *x,
                    Some(ConditionValue::Text(s)) => {
                        texts.iter().position(|t| t == s).unwrap_or(0) as f64
                    }
                    None => f64::NAN,
                })
                .collect();
            if !texts.is_empty() {
                labels.insert(name.clone(), texts);
            }
            conditions.insert(name.clone(), values);
        }
        TrialRecord {
            n_trials: batch.n_trials,
            n_steps: batch.n_steps,
            n_in: batch.n_in,
            n_out: batch.n_out,
            n_rec,
            dt,
            inputs: batch.inputs.clone(),
            targets: batch.targets.clone(),
            mask: batch.mask.clone(),
            outputs,
            states,
            rates,
            conditions,
            labels,
            correct: None,
        }
    }

    /// The record with the task scorer's verdict on each trial.
    pub fn with_correct(mut self, correct: Vec<bool>) -> Self {
        self.correct = Some(correct);
        self
    }

    /// The fraction of trials the task's scorer counted correct; without verdicts,
    /// PsychRNN's argmax accuracy.
    pub fn accuracy(&self) -> f64 {
        if let Some(c) = &self.correct {
            return c.iter().filter(|&&ok| ok).count() as f64 / c.len().max(1) as f64;
        }
        argmax_accuracy(
            &self.outputs,
            &self.targets,
            &self.mask,
            self.n_trials,
            self.n_steps,
            self.n_out,
        )
    }

    /// Writes `path` (atomically), and `trials_labels.yaml` beside it when a condition is text.
    pub fn write(&self, path: &Path) -> candle_core::Result<()> {
        let cpu = Device::Cpu;
        let (b, t) = (self.n_trials, self.n_steps);
        let mut entries: Vec<(String, Tensor)> = vec![
            (
                "inputs".into(),
                Tensor::from_slice(&self.inputs, (b, t, self.n_in), &cpu)?,
            ),
            (
                "targets".into(),
                Tensor::from_slice(&self.targets, (b, t, self.n_out), &cpu)?,
            ),
            (
                "mask".into(),
                Tensor::from_slice(&self.mask, (b, t, self.n_out), &cpu)?,
            ),
            (
                "outputs".into(),
                Tensor::from_slice(&self.outputs, (b, t, self.n_out), &cpu)?,
            ),
            (
                "states".into(),
                Tensor::from_slice(&self.states, (b, t, self.n_rec), &cpu)?,
            ),
            (
                "rates".into(),
                Tensor::from_slice(&self.rates, (b, t, self.n_rec), &cpu)?,
            ),
            ("dt".into(), Tensor::new(self.dt, &cpu)?),
        ];
        for (name, values) in &self.conditions {
            entries.push((
                format!("condition_{name}"),
                Tensor::from_slice(values, b, &cpu)?,
            ));
        }
        if let Some(correct) = &self.correct {
            let v: Vec<f64> = correct
                .iter()
                .map(|&ok| if ok { 1.0 } else { 0.0 })
                .collect();
            entries.push(("correct".into(), Tensor::from_vec(v, b, &cpu)?));
        }
        write_atomic_with(path, |tmp| crate::npz_file::write_npz(&entries, tmp))?;
        if !self.labels.is_empty() {
            let yaml = serde_norway::to_string(&self.labels).map_err(candle_core::Error::wrap)?;
            write_atomic(&path.with_file_name("trials_labels.yaml"), yaml.as_bytes())?;
        }
        Ok(())
    }

    /// Reads a file written by [`Self::write`].
    pub fn read(path: &Path) -> Result<Self, String> {
        let fail = |m: String| format!("{}: {m}", path.display());
        let mut entries: BTreeMap<String, Tensor> = Tensor::read_npz(path)
            .map_err(|e| fail(e.to_string()))?
            .into_iter()
            .collect();
        let mut take = |key: &str| -> Result<(Vec<usize>, Vec<f32>), String> {
            let t = entries.remove(key).ok_or_else(|| {
                fail(format!(
                    "no `{key}` entry (was it written by psychrnn test?)"
                ))
            })?;
            let dims = t.dims().to_vec();
            let v = t
                .to_dtype(candle_core::DType::F32)
                .and_then(|t| t.flatten_all()?.to_vec1())
                .map_err(|e| fail(e.to_string()))?;
            Ok((dims, v))
        };
        let (si, inputs) = take("inputs")?;
        let (so, targets) = take("targets")?;
        let (_, mask) = take("mask")?;
        let (_, outputs) = take("outputs")?;
        let (ss, states) = take("states")?;
        let (_, rates) = take("rates")?;
        let (_, dt) = take("dt")?;
        let correct = match entries.remove("correct") {
            Some(t) => Some(
                t.to_dtype(candle_core::DType::F64)
                    .and_then(|t| t.to_vec1::<f64>())
                    .map_err(|e| fail(e.to_string()))?
                    .into_iter()
                    .map(|v| v > 0.5)
                    .collect(),
            ),
            None => None,
        };
        let mut conditions = BTreeMap::new();
        for (k, t) in entries {
            if let Some(name) = k.strip_prefix("condition_") {
                let v = t
                    .to_dtype(candle_core::DType::F64)
                    .and_then(|t| t.to_vec1::<f64>())
                    .map_err(|e| fail(e.to_string()))?;
                conditions.insert(name.to_string(), v);
            }
        }
        let labels_path = path.with_file_name("trials_labels.yaml");
        let labels = match std::fs::read_to_string(&labels_path) {
            Ok(text) => serde_norway::from_str(&text).map_err(|e| fail(e.to_string()))?,
            Err(_) => BTreeMap::new(),
        };
        Ok(TrialRecord {
            n_trials: si[0],
            n_steps: si[1],
            n_in: si[2],
            n_out: so[2],
            n_rec: ss[2],
            dt: dt.first().copied().unwrap_or(f32::NAN) as f64,
            inputs,
            targets,
            mask,
            outputs,
            states,
            rates,
            conditions,
            labels,
            correct,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(b: usize) -> TrialRecord {
        let mut batch = Batch::empty(b, 2, 1, 2);
        // Target channel 0 on every trial; outputs pick channel 1 on the first trial only.
        for i in 0..b {
            for t in 0..2 {
                batch.targets[(i * 2 + t) * 2] = 1.0;
                batch.mask[(i * 2 + t) * 2] = 1.0;
                batch.mask[(i * 2 + t) * 2 + 1] = 1.0;
            }
        }
        let mut outputs = batch.targets.clone();
        outputs[0] = 0.0;
        outputs[1] = 1.0;
        outputs[2] = 0.0;
        outputs[3] = 1.0;
        TrialRecord::new(&batch, outputs, vec![0.0; b * 2], vec![0.0; b * 2], 10.0)
    }

    #[test]
    fn verdicts_are_written_read_back_and_give_the_accuracy() {
        let dir = std::env::temp_dir().join(format!("psychrnn-trials-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("trials.npz");
        // Without verdicts: PsychRNN's argmax accuracy (trial 0 picks the wrong channel).
        let plain = record(3);
        assert!((plain.accuracy() - 2.0 / 3.0).abs() < 1e-12);
        plain.write(&path).unwrap();
        assert_eq!(TrialRecord::read(&path).unwrap().correct, None);
        // With the scorer's verdicts, which may differ from argmax.
        let scored = record(3).with_correct(vec![false, false, true]);
        assert!((scored.accuracy() - 1.0 / 3.0).abs() < 1e-12);
        scored.write(&path).unwrap();
        let back = TrialRecord::read(&path).unwrap();
        assert_eq!(back.correct, Some(vec![false, false, true]));
        assert_eq!(back, scored);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
