//! `fixed_points.npz`: the fixed and slow points `psychrnn fixedpoints` found, read back by the
//! report. Keys: `x` [K, N] states, `q` [K] speeds, `stable` [K] (1/0), `eigenvalues_re` and
//! `eigenvalues_im` [K, N], `input` [n_in] (the constant input they were found for), `hits` [K]
//! (search hits merged into each point), `raw_hits` and `merge_distance` [1].

use candle_core::{Device, Tensor};

use super::{write_atomic_with, RunDir, RunDirError};
use crate::model::{read_npz, NpyArray};

/// What `fixed_points.npz` holds, one entry per distinct point.
#[derive(Debug, Clone, PartialEq)]
pub struct FixedPointsFile {
    /// `[K][N]` states.
    pub x: Vec<Vec<f64>>,
    /// `[K]` speeds q = ½‖F(x)‖².
    pub q: Vec<f64>,
    /// `[K]` whether every eigenvalue of the Jacobian lies inside the unit circle.
    pub stable: Vec<bool>,
    /// `[K][N]` the Jacobian's eigenvalues (re, im), largest modulus first (empty when read from
    /// a file that has none).
    pub eigenvalues: Vec<Vec<(f64, f64)>>,
    /// `[K]` search hits merged into each point (absent in older files).
    pub hits: Option<Vec<usize>>,
    /// Hits before merging (absent in older files).
    pub raw_hits: Option<usize>,
    /// The merge distance (absent in older files).
    pub merge_distance: Option<f64>,
    /// The constant input the points were found for.
    pub input: Vec<f64>,
}

impl RunDir {
    /// Writes `fixed_points.npz` atomically.
    pub fn write_fixed_points(&self, points: &FixedPointsFile) -> Result<(), RunDirError> {
        let path = self.fixed_points();
        let malformed = |message: String| RunDirError::Malformed {
            path: path.clone(),
            message,
        };
        let k = points.x.len();
        let n = points.x.first().map_or(0, Vec::len);
        if points.x.iter().any(|x| x.len() != n)
            || points.q.len() != k
            || points.stable.len() != k
            || points.eigenvalues.len() != k
            || points.eigenvalues.iter().any(|e| e.len() != n)
            || points.hits.as_ref().is_some_and(|h| h.len() != k)
        {
            return Err(malformed(format!(
                "{k} fixed points with arrays of different lengths"
            )));
        }
        let cpu = Device::Cpu;
        let eig = |part: fn(&(f64, f64)) -> f64| -> Vec<f64> {
            points.eigenvalues.iter().flatten().map(part).collect()
        };
        let mut entries = vec![
            ("x", points.x.concat(), vec![k, n]),
            ("q", points.q.clone(), vec![k]),
            (
                "stable",
                points
                    .stable
                    .iter()
                    .map(|&s| f64::from(u8::from(s)))
                    .collect(),
                vec![k],
            ),
            ("eigenvalues_re", eig(|e| e.0), vec![k, n]),
            ("eigenvalues_im", eig(|e| e.1), vec![k, n]),
            ("input", points.input.clone(), vec![points.input.len()]),
        ];
        if let Some(h) = &points.hits {
            entries.push(("hits", h.iter().map(|&v| v as f64).collect(), vec![k]));
        }
        if let Some(r) = points.raw_hits {
            entries.push(("raw_hits", vec![r as f64], vec![1]));
        }
        if let Some(d) = points.merge_distance {
            entries.push(("merge_distance", vec![d], vec![1]));
        }
        let tensors = entries
            .into_iter()
            .map(|(name, values, dims)| Ok((name, Tensor::from_vec(values, dims, &cpu)?)))
            .collect::<candle_core::Result<Vec<_>>>()
            .map_err(|e| malformed(e.to_string()))?;
        write_atomic_with(&path, |tmp| crate::npz_file::write_npz(&tensors, tmp))
            // candle reports the file system's errors inside its own error type.
            .map_err(|e| RunDirError::Io {
                path: path.clone(),
                source: std::io::Error::other(e),
            })
    }

    /// Reads `fixed_points.npz`; `None` when there is none.
    pub fn read_fixed_points(&self) -> Result<Option<FixedPointsFile>, RunDirError> {
        let path = self.fixed_points();
        if !path.exists() {
            return Ok(None);
        }
        let malformed = |message: &str| RunDirError::Malformed {
            path: path.clone(),
            message: message.to_string(),
        };
        let entries = read_npz(&path).map_err(|e| {
            malformed(&format!(
                "cannot be read ({e}); remove it or run psychrnn fixedpoints again"
            ))
        })?;
        let numeric = |name: &str| match entries.get(name) {
            Some(NpyArray::Numeric(_, v)) => Some(v.clone()),
            _ => None,
        };
        let Some(NpyArray::Numeric(shape, x)) = entries.get("x") else {
            return Err(malformed("no numeric array `x` (the fixed points' states)"));
        };
        let (Some(&k), Some(&n)) = (shape.first(), shape.get(1)) else {
            return Err(malformed("`x` is not a [K, N] array"));
        };
        let stable = numeric("stable").ok_or_else(|| malformed("no array `stable`"))?;
        let q = numeric("q").unwrap_or_else(|| vec![f64::NAN; k]);
        if stable.len() != k || q.len() != k || x.len() != k * n {
            return Err(malformed(&format!(
                "`x` holds {k} points but `q` has {} and `stable` {} values",
                q.len(),
                stable.len()
            )));
        }
        let rows = |v: &[f64]| -> Vec<Vec<f64>> {
            if n == 0 {
                vec![Vec::new(); k]
            } else {
                v.chunks(n).map(<[f64]>::to_vec).collect()
            }
        };
        let eigenvalues = match (numeric("eigenvalues_re"), numeric("eigenvalues_im")) {
            (Some(re), Some(im)) if re.len() == k * n && im.len() == k * n => rows(&re)
                .into_iter()
                .zip(rows(&im))
                .map(|(r, i)| r.into_iter().zip(i).collect())
                .collect(),
            _ => vec![Vec::new(); k],
        };
        let hits = numeric("hits")
            .filter(|h| h.len() == k)
            .map(|h| h.iter().map(|&v| v as usize).collect());
        let scalar = |name: &str| numeric(name).and_then(|v| v.first().copied());
        Ok(Some(FixedPointsFile {
            x: rows(x),
            q,
            stable: stable.iter().map(|s| *s != 0.0).collect(),
            eigenvalues,
            hits,
            raw_hits: scalar("raw_hits").map(|v| v as usize),
            merge_distance: scalar("merge_distance"),
            input: numeric("input").unwrap_or_default(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_points_round_trip_through_the_file() {
        let dir = std::env::temp_dir().join(format!("psychrnn-fp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let run = RunDir::new(&dir);
        assert_eq!(run.read_fixed_points().unwrap(), None);
        let points = FixedPointsFile {
            x: vec![vec![0.5, -1.0], vec![2.0, 0.25]],
            q: vec![1e-9, 3e-4],
            stable: vec![true, false],
            eigenvalues: vec![
                vec![(0.9, 0.1), (0.9, -0.1)],
                vec![1.2, 0.3].into_iter().map(|v| (v, 0.0)).collect(),
            ],
            hits: Some(vec![7, 1]),
            raw_hits: Some(8),
            merge_distance: Some(0.05),
            input: vec![1.0, 0.0, 0.5],
        };
        run.write_fixed_points(&points).unwrap();
        let back = run.read_fixed_points().unwrap().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(back, points);
    }
}
