//! Biological constraints of a rate RNN: connectivity masks, Dale's principle, autapses and
//! fixed synapses, as PsychRNN defines them.
//!
//! Effective weights (C the 0/1 masks; with Dale's principle):
//! ```text
//! W_rec_eff = |W_rec ⊙ C_rec| · D_rec     D_rec = diag(+1 excitatory, −1 inhibitory)
//! W_in_eff  = |W_in ⊙ C_in|
//! W_out_eff = |W_out ⊙ C_out| · D_out     D_out = diag(1 excitatory, 0 inhibitory)
//! ```
//! and without it simply W ⊙ C. Column j of W_rec holds unit j's outgoing weights.

use super::config::{Matrix, ModelConfig};
use crate::config_error::ConfigError;

/// The structural constraints of one network, as row-major host arrays.
#[derive(Debug, Clone, PartialEq)]
pub struct Constraints {
    /// Input channels.
    pub n_in: usize,
    /// Recurrent units.
    pub n_rec: usize,
    /// Output channels.
    pub n_out: usize,
    /// [N_rec, N_in] 0/1.
    pub input_connectivity: Vec<f32>,
    /// [N_rec, N_rec] 0/1 (diagonal 0 without autapses).
    pub rec_connectivity: Vec<f32>,
    /// [N_out, N_rec] 0/1.
    pub output_connectivity: Vec<f32>,
    /// Fraction of excitatory units, if Dale's principle is on.
    pub dale_ratio: Option<f64>,
    /// [N_rec, N_in] 0/1: entries of W_in that never change.
    pub fixed_w_in: Option<Vec<f32>>,
    /// [N_rec, N_rec] 0/1: entries of W_rec that never change.
    pub fixed_w_rec: Option<Vec<f32>>,
    /// [N_out, N_rec] 0/1: entries of W_out that never change.
    pub fixed_w_out: Option<Vec<f32>>,
}

/// A script matrix as a row-major 0/1 array, checked for shape and values.
fn mask(
    field: &str,
    m: &Option<Matrix>,
    rows: usize,
    cols: usize,
    shape: &str,
) -> Result<Option<Vec<f32>>, ConfigError> {
    let Some(m) = m else { return Ok(None) };
    let field = format!("model.{field}");
    if m.len() != rows {
        return Err(ConfigError::new(
            field,
            format!(
                "expected {rows} rows of {cols} values ({shape}), got {} rows",
                m.len()
            ),
        ));
    }
    let mut out = Vec::with_capacity(rows * cols);
    for (i, row) in m.iter().enumerate() {
        if row.len() != cols {
            return Err(ConfigError::new(
                field,
                format!(
                    "row {i} has {} values, expected {cols} ({shape})",
                    row.len()
                ),
            ));
        }
        for (j, &v) in row.iter().enumerate() {
            if v != 0.0 && v != 1.0 {
                return Err(ConfigError::new(
                    field,
                    format!("entry [{i}][{j}] is {v}; a mask holds only 0 and 1"),
                ));
            }
            out.push(v as f32);
        }
    }
    Ok(Some(out))
}

impl Constraints {
    /// Constraints with every connection present and no Dale's principle.
    pub fn unconstrained(n_in: usize, n_rec: usize, n_out: usize) -> Self {
        Constraints {
            n_in,
            n_rec,
            n_out,
            input_connectivity: vec![1.0; n_rec * n_in],
            rec_connectivity: vec![1.0; n_rec * n_rec],
            output_connectivity: vec![1.0; n_out * n_rec],
            dale_ratio: None,
            fixed_w_in: None,
            fixed_w_rec: None,
            fixed_w_out: None,
        }
    }

    /// The constraints a model section asks for, checked against the network's sizes.
    pub fn from_config(c: &ModelConfig, n_in: usize, n_out: usize) -> Result<Self, ConfigError> {
        let n = c.n_rec;
        let in_shape = format!("N_rec × N_in = {n} × {n_in}");
        let rec_shape = format!("N_rec × N_rec = {n} × {n}");
        let out_shape = format!("N_out × N_rec = {n_out} × {n}");
        let mut k = Constraints::unconstrained(n_in, n, n_out);
        if let Some(m) = mask(
            "input_connectivity",
            &c.input_connectivity,
            n,
            n_in,
            &in_shape,
        )? {
            k.input_connectivity = m;
        }
        if let Some(m) = mask("rec_connectivity", &c.rec_connectivity, n, n, &rec_shape)? {
            k.rec_connectivity = m;
        }
        if let Some(m) = mask(
            "output_connectivity",
            &c.output_connectivity,
            n_out,
            n,
            &out_shape,
        )? {
            k.output_connectivity = m;
        }
        if !c.autapses {
            for i in 0..n {
                k.rec_connectivity[i * n + i] = 0.0;
            }
        }
        k.fixed_w_in = mask("fixed_w_in", &c.fixed_w_in, n, n_in, &in_shape)?;
        k.fixed_w_rec = mask("fixed_w_rec", &c.fixed_w_rec, n, n, &rec_shape)?;
        k.fixed_w_out = mask("fixed_w_out", &c.fixed_w_out, n_out, n, &out_shape)?;
        if let Some(r) = c.dale_ratio {
            if !(r > 0.0 && r <= 1.0) {
                return Err(ConfigError::new(
                    "model.dale_ratio",
                    format!(
                        "must be in (0, 1] (the fraction of excitatory units) or null, got {r}"
                    ),
                ));
            }
            k.dale_ratio = Some(r);
        }
        Ok(k)
    }

    /// Number of excitatory units, round(ratio · N_rec), if Dale's principle is on.
    pub fn n_excitatory(&self) -> Option<usize> {
        self.dale_ratio
            .map(|r| ((r * self.n_rec as f64).round() as usize).min(self.n_rec))
    }

    /// The diagonal of D_rec: +1 for excitatory units, −1 for inhibitory (all +1 without Dale).
    pub fn dale_rec(&self) -> Vec<f32> {
        let e = self.n_excitatory().unwrap_or(self.n_rec);
        (0..self.n_rec)
            .map(|j| if j < e { 1.0 } else { -1.0 })
            .collect()
    }

    /// The diagonal of D_out: 1 for excitatory units, 0 for inhibitory (all 1 without Dale).
    pub fn dale_out(&self) -> Vec<f32> {
        let e = self.n_excitatory().unwrap_or(self.n_rec);
        (0..self.n_rec)
            .map(|j| if j < e { 1.0 } else { 0.0 })
            .collect()
    }

    /// The effective matrices from raw ones (the plain reference; the model computes the same
    /// with tensors). Returns (W_in_eff, W_rec_eff, W_out_eff).
    pub fn effective(
        &self,
        w_in: &[f32],
        w_rec: &[f32],
        w_out: &[f32],
    ) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let dale = self.dale_ratio.is_some();
        let n = self.n_rec;
        let masked = |w: &[f32], c: &[f32], col_scale: Option<&[f32]>, cols: usize| -> Vec<f32> {
            w.iter()
                .zip(c)
                .enumerate()
                .map(|(k, (&w, &c))| {
                    let v = w * c;
                    if !dale {
                        return v;
                    }
                    let v = v.abs();
                    match col_scale {
                        Some(d) => v * d[k % cols],
                        None => v,
                    }
                })
                .collect()
        };
        (
            masked(w_in, &self.input_connectivity, None, self.n_in),
            masked(w_rec, &self.rec_connectivity, Some(&self.dale_rec()), n),
            masked(w_out, &self.output_connectivity, Some(&self.dale_out()), n),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_are_checked_and_autapses_removed() {
        let mut c = ModelConfig {
            n_rec: 3,
            autapses: false,
            dale_ratio: Some(0.67),
            ..ModelConfig::default()
        };
        let k = Constraints::from_config(&c, 2, 1).unwrap();
        assert_eq!(k.rec_connectivity, [0., 1., 1., 1., 0., 1., 1., 1., 0.]);
        assert_eq!(k.n_excitatory(), Some(2));
        assert_eq!(k.dale_rec(), [1.0, 1.0, -1.0]);
        assert_eq!(k.dale_out(), [1.0, 1.0, 0.0]);
        c.rec_connectivity = Some(vec![vec![1.0, 0.0, 1.0]; 2]);
        let e = Constraints::from_config(&c, 2, 1).unwrap_err();
        assert_eq!(e.to_string(), "config field `model.rec_connectivity`: expected 3 rows of 3 values (N_rec × N_rec = 3 × 3), got 2 rows");
        c.rec_connectivity = Some(vec![vec![1.0, 0.5, 1.0]; 3]);
        let e = Constraints::from_config(&c, 2, 1).unwrap_err();
        assert!(
            e.to_string()
                .contains("entry [0][1] is 0.5; a mask holds only 0 and 1"),
            "{e}"
        );
        c.rec_connectivity = None;
        c.dale_ratio = Some(0.0);
        assert!(Constraints::from_config(&c, 2, 1)
            .unwrap_err()
            .to_string()
            .contains("must be in (0, 1]"));
    }

    #[test]
    fn effective_weights_by_hand() {
        let mut k = Constraints::unconstrained(1, 2, 1);
        k.dale_ratio = Some(0.5);
        k.rec_connectivity = vec![1.0, 1.0, 0.0, 1.0];
        let (w_in, w_rec, w_out) = k.effective(&[-2.0, 3.0], &[1.0, -2.0, 5.0, 4.0], &[-1.0, 7.0]);
        assert_eq!(w_in, [2.0, 3.0]);
        // Column 1 is the inhibitory unit: its outgoing weights are −|w|; entry (1,0) is masked.
        assert_eq!(w_rec, [1.0, -2.0, 0.0, -4.0]);
        assert_eq!(w_out, [1.0, 0.0]);
    }
}
