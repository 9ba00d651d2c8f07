//! The psychometric matrix: the fraction of trials choosing one option in every cell of the
//! grid two conditions span (Romo et al.'s P(f1 > f2) over f1 × f2).

/// One occupied cell of the grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    /// The x value.
    pub x: f64,
    /// The y value.
    pub y: f64,
    /// Trials in the cell.
    pub n: usize,
    /// Fraction of them with `chose` true.
    pub p: f64,
}

/// (sorted distinct x values, sorted distinct y values, the occupied cells in x-major order)
/// of trials with values `x`, `y` that chose (`chose`) or not.
pub fn choice_matrix(x: &[f64], y: &[f64], chose: &[bool]) -> (Vec<f64>, Vec<f64>, Vec<Cell>) {
    let distinct = |v: &[f64]| {
        let mut d = v.to_vec();
        d.sort_by(f64::total_cmp);
        d.dedup();
        d
    };
    let (xs, ys) = (distinct(x), distinct(y));
    let mut cells = Vec::new();
    for &a in &xs {
        for &b in &ys {
            let (mut n, mut k) = (0usize, 0usize);
            for i in 0..x.len() {
                if x[i] == a && y[i] == b {
                    n += 1;
                    k += usize::from(chose[i]);
                }
            }
            if n > 0 {
                cells.push(Cell {
                    x: a,
                    y: b,
                    n,
                    p: k as f64 / n as f64,
                });
            }
        }
    }
    (xs, ys, cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_count_the_choices_of_their_trials() {
        let x = [18.0, 18.0, 10.0, 18.0, 10.0];
        let y = [10.0, 10.0, 18.0, 26.0, 18.0];
        let chose = [true, false, false, true, true];
        let (xs, ys, cells) = choice_matrix(&x, &y, &chose);
        assert_eq!(xs, vec![10.0, 18.0]);
        assert_eq!(ys, vec![10.0, 18.0, 26.0]);
        assert_eq!(
            cells,
            vec![
                Cell {
                    x: 10.0,
                    y: 18.0,
                    n: 2,
                    p: 0.5
                },
                Cell {
                    x: 18.0,
                    y: 10.0,
                    n: 2,
                    p: 0.5
                },
                Cell {
                    x: 18.0,
                    y: 26.0,
                    n: 1,
                    p: 1.0
                },
            ]
        );
    }
}
