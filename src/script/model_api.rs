//! Functions scripts use to build connectivity: `sparse_mask` and `block_mask`.

use rhai::{Array, Dynamic, Engine, EvalAltResult, FuncRegistration, INT};

use super::task_api::number;
use crate::model::MAX_UNITS;
use crate::random::Rng;

type Fallible<T> = Result<T, Box<EvalAltResult>>;

fn size(v: &Dynamic, what: &str) -> Fallible<usize> {
    let x = number(v, what)?;
    if x < 0.0 || x.fract() != 0.0 {
        return Err(format!("{what} must be a whole number ≥ 0, got {x}").into());
    }
    Ok(x as usize)
}

fn density(v: &Dynamic, what: &str) -> Fallible<f64> {
    let d = number(v, what)?;
    if !(0.0..=1.0).contains(&d) {
        return Err(format!("{what} must be between 0 and 1, got {d}").into());
    }
    Ok(d)
}

/// The most values a mask built by a script may hold, rows included: the sandbox's largest
/// array (`set_max_array_size` in `engine.rs`), which counts each row and each entry.
pub const MAX_MASK_VALUES: usize = 1 << 20;

/// Checks a mask's shape before it is built: each side at most [`MAX_UNITS`], and no more than
/// the sandbox's largest array ([`MAX_MASK_VALUES`]).
fn mask_shape(call: &str, rows: usize, cols: usize) -> Fallible<()> {
    for (what, v) in [("rows", rows), ("cols", cols)] {
        if v > MAX_UNITS {
            return Err(format!(
                "{call}: {what} must be at most {MAX_UNITS} (model.n_rec's limit), got {v}"
            )
            .into());
        }
    }
    if rows * (cols + 1) > MAX_MASK_VALUES {
        return Err(format!(
            "{call}: a {rows} × {cols} mask is larger than a script may build (rows × (cols + 1) must be at most {MAX_MASK_VALUES}, e.g. 1023 × 1024); give a larger network's masks in a weights file (model.load)"
        )
        .into());
    }
    Ok(())
}

/// Rows of 0.0/1.0 with each entry 1 with probability `density` (exactly 1 for density 1).
fn draw(rows: usize, cols: usize, density: impl Fn(usize, usize) -> f64, rng: &mut Rng) -> Array {
    (0..rows)
        .map(|i| {
            let row: Array = (0..cols)
                .map(|j| {
                    let d = density(i, j);
                    Dynamic::from(if d >= 1.0 || (d > 0.0 && rng.uniform() < d) {
                        1.0
                    } else {
                        0.0
                    })
                })
                .collect();
            Dynamic::from(row)
        })
        .collect()
}

/// Registers `sparse_mask` and `block_mask`, each with its doc comment (`psychrnn doc` prints
/// them; every example is evaluated by the tests in `docs.rs`).
pub fn register(engine: &mut Engine) {
    FuncRegistration::new("sparse_mask")
        .with_comments([
            "/// A rows × cols 0/1 mask, each entry 1 with probability `density` (seeded), for model.*_connectivity.",
            "/// Example: `sparse_mask(2, 3, 1.0, 1)` → `[[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]`",
        ])
        .with_params_info(["rows", "cols", "density", "seed"])
        .register_into_engine(
        engine,
        |rows: Dynamic, cols: Dynamic, d: Dynamic, seed: INT| -> Fallible<Array> {
            let (rows, cols) = (
                size(&rows, "sparse_mask: rows")?,
                size(&cols, "sparse_mask: cols")?,
            );
            mask_shape("sparse_mask", rows, cols)?;
            let d = density(&d, "sparse_mask: density")?;
            Ok(draw(rows, cols, |_, _| d, &mut Rng::from_seed(seed as u64)))
        },
    );
    FuncRegistration::new("block_mask")
        .with_comments([
            "/// A 0/1 mask for regions: rows grouped by `to_sizes`, columns by `from_sizes`; block (i, j) is connected with probability densities[i][j] (region j projects to region i).",
            "/// Example: `block_mask([1, 1], [1, 1], [[1.0, 0.0], [0.0, 1.0]], 1)` → `[[1.0, 0.0], [0.0, 1.0]]`",
        ])
        .with_params_info(["to_sizes", "from_sizes", "densities", "seed"])
        .register_into_engine(
        engine,
        |to: Array, from: Array, densities: Array, seed: INT| -> Fallible<Array> {
            let to: Vec<usize> = to.iter().map(|v| size(v, "block_mask: region size")).collect::<Fallible<_>>()?;
            let from: Vec<usize> = from.iter().map(|v| size(v, "block_mask: region size")).collect::<Fallible<_>>()?;
            if densities.len() != to.len() {
                return Err(format!(
                    "block_mask: the density table has {} rows but there are {} receiving regions",
                    densities.len(),
                    to.len()
                )
                .into());
            }
            let mut table = Vec::with_capacity(to.len());
            for (i, row) in densities.iter().enumerate() {
                let row = row.clone().into_array().map_err(|t| format!("block_mask: density row {i} is {t}, not an array"))?;
                if row.len() != from.len() {
                    return Err(format!(
                        "block_mask: density row {i} has {} values but there are {} sending regions",
                        row.len(),
                        from.len()
                    )
                    .into());
                }
                let row: Vec<f64> = row
                    .iter()
                    .enumerate()
                    .map(|(j, v)| density(v, &format!("block_mask: density [{i}][{j}]")))
                    .collect::<Fallible<_>>()?;
                table.push(row);
            }
            let region = |sizes: &[usize], k: usize| {
                let mut acc = 0;
                sizes.iter().position(|&s| {
                    acc += s;
                    k < acc
                })
            };
            let sum = |sizes: &[usize]| sizes.iter().fold(0usize, |a, &s| a.saturating_add(s));
            let (rows, cols) = (sum(&to), sum(&from));
            mask_shape("block_mask", rows, cols)?;
            Ok(draw(
                rows,
                cols,
                |i, j| match (region(&to, i), region(&from, j)) {
                    (Some(a), Some(b)) => table[a][b],
                    _ => 0.0,
                },
                &mut Rng::from_seed(seed as u64),
            ))
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(script: &str) -> Vec<Vec<f64>> {
        let mut engine = Engine::new();
        register(&mut engine);
        let rows: Array = engine.eval(script).unwrap();
        rows.into_iter()
            .map(|r| {
                r.into_array()
                    .unwrap()
                    .into_iter()
                    .map(|v| v.cast::<f64>())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn block_mask_follows_the_projection_table() {
        // Two regions of 3 and 2 units: A→A full, B→A none, A→B half, B→B full.
        let m = eval("block_mask([3, 2], [3, 2], [[1.0, 0.0], [0.5, 1.0]], 7)");
        assert_eq!(m.len(), 5);
        for (i, row) in m.iter().enumerate() {
            assert_eq!(row.len(), 5);
            for (j, &v) in row.iter().enumerate() {
                match (i < 3, j < 3) {
                    (true, true) => assert_eq!(v, 1.0),
                    (true, false) => assert_eq!(v, 0.0),
                    (false, false) => assert_eq!(v, 1.0),
                    (false, true) => assert!(v == 0.0 || v == 1.0),
                }
            }
        }
        assert_eq!(
            m,
            eval("block_mask([3, 2], [3, 2], [[1.0, 0.0], [0.5, 1.0]], 7)"),
            "seeded"
        );
    }

    #[test]
    fn sparse_mask_has_the_requested_density() {
        let m = eval("sparse_mask(100, 100, 0.2, 3)");
        let ones: f64 = m.iter().flatten().sum();
        assert!((ones / 10_000.0 - 0.2).abs() < 0.02, "{ones}");
        let mut engine = Engine::new();
        register(&mut engine);
        let e = engine
            .eval::<Array>("sparse_mask(2, 2, 1.5, 0)")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("density must be between 0 and 1, got 1.5"),
            "{e}"
        );
        let e = engine
            .eval::<Array>("block_mask([2], [2], [[1.0, 0.5]], 0)")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("density row 0 has 2 values but there are 1 sending regions"),
            "{e}"
        );
    }
}
