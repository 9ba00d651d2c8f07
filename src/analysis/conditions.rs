//! Grouping trials by condition: levels, condition-averaged activity, task modulation and
//! accuracy per condition value.

use crate::task::{ConditionValue, Conditions};

/// The distinct values of a condition, sorted (NaN values are left out).
pub fn levels(values: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = values.iter().cloned().filter(|x| !x.is_nan()).collect();
    v.sort_by(f64::total_cmp);
    v.dedup();
    v
}

/// Mean over the trials of each level of `data` [B, T, N]: one [T × N] array per level, in
/// the order of `levels` (a level with no trials gives zeros).
pub fn mean_by_level(
    data: &[f32],
    n_trials: usize,
    n_steps: usize,
    n: usize,
    values: &[f64],
    levels: &[f64],
) -> Vec<Vec<f64>> {
    let width = n_steps * n;
    let mut sums = vec![vec![0.0f64; width]; levels.len()];
    let mut counts = vec![0usize; levels.len()];
    for b in 0..n_trials {
        let Some(k) = levels.iter().position(|&l| l == values[b]) else {
            continue;
        };
        counts[k] += 1;
        for (s, &d) in sums[k].iter_mut().zip(&data[b * width..(b + 1) * width]) {
            *s += d as f64;
        }
    }
    for (s, &c) in sums.iter_mut().zip(&counts) {
        if c > 0 {
            s.iter_mut().for_each(|v| *v /= c as f64);
        }
    }
    sums
}

/// How strongly each unit's condition-averaged rate depends on the condition: the variance
/// across levels, averaged over time. `means` are [T × N] arrays from [`mean_by_level`].
pub fn modulation(means: &[Vec<f64>], n_steps: usize, n: usize) -> Vec<f64> {
    let k = means.len().max(1) as f64;
    (0..n)
        .map(|u| {
            (0..n_steps)
                .map(|t| {
                    let vals: Vec<f64> = means.iter().map(|m| m[t * n + u]).collect();
                    let mean = vals.iter().sum::<f64>() / k;
                    vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / k
                })
                .sum::<f64>()
                / n_steps.max(1) as f64
        })
        .collect()
}

/// Indices of the `k` largest values, largest first.
pub fn top_k(values: &[f64], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..values.len()).collect();
    idx.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    idx.truncate(k);
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn condition_means_and_modulation_by_hand() {
        // 3 trials, 2 steps, 2 units; levels 0 and 1.
        let data = [
            1.0, 5.0, 3.0, 5.0, /* trial 1 */ 3.0, 5.0, 5.0, 5.0, /* trial 2 */ 0.0, 5.0,
            0.0, 5.0,
        ];
        let values = [0.0, 0.0, 1.0];
        let l = levels(&[1.0, 0.0, f64::NAN, 0.0]);
        assert_eq!(l, [0.0, 1.0]);
        let m = mean_by_level(&data, 3, 2, 2, &values, &l);
        assert_eq!(m[0], [2.0, 5.0, 4.0, 5.0]);
        assert_eq!(m[1], [0.0, 5.0, 0.0, 5.0]);
        // Unit 0: levels differ by 2 then 4 → variances 1 and 4 → mean 2.5; unit 1 never changes.
        assert_eq!(modulation(&m, 2, 2), [2.5, 0.0]);
        assert_eq!(top_k(&[0.1, 3.0, 2.0], 2), [1, 2]);
    }
}

/// Accuracy of the trials grouped by the value of condition `name`: (value, trials, mean
/// `credit`, the fraction correct when every credit is 0 or 1), numbers in increasing order, then labels in alphabetical order. Trials without the
/// condition are left out; an empty list means no trial has it.
pub fn accuracy_by(
    conditions: &[Conditions],
    credit: &[f64],
    name: &str,
) -> Vec<(ConditionValue, usize, f64)> {
    let mut groups: Vec<(ConditionValue, usize, f64)> = Vec::new();
    for (c, &ok) in conditions.iter().zip(credit) {
        let Some(value) = c.get(name) else { continue };
        match groups.iter_mut().find(|(v, _, _)| v == value) {
            Some(g) => {
                g.1 += 1;
                g.2 += ok;
            }
            None => groups.push((value.clone(), 1, ok)),
        }
    }
    groups.sort_by(|a, b| match (&a.0, &b.0) {
        (ConditionValue::Number(x), ConditionValue::Number(y)) => x.total_cmp(y),
        (ConditionValue::Text(x), ConditionValue::Text(y)) => x.cmp(y),
        (ConditionValue::Number(_), ConditionValue::Text(_)) => std::cmp::Ordering::Less,
        (ConditionValue::Text(_), ConditionValue::Number(_)) => std::cmp::Ordering::Greater,
    });
    groups
        .into_iter()
        .map(|(v, n, k)| (v, n, k / n as f64))
        .collect()
}

#[cfg(test)]
mod accuracy_tests {
    use super::*;

    fn trial(name: &str, v: ConditionValue) -> Conditions {
        let mut c = Conditions::new();
        c.insert(name.into(), v);
        c
    }

    #[test]
    fn accuracy_by_groups_numbers_then_labels_and_skips_missing() {
        use ConditionValue::{Number, Text};
        let conditions = vec![
            trial("task", Text("go".into())),
            trial("task", Number(2.0)),
            trial("task", Text("anti".into())),
            trial("task", Text("go".into())),
            trial("other", Number(1.0)),
            trial("task", Number(0.5)),
            trial("task", Text("go".into())),
        ];
        let credit = [1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.25];
        let got = accuracy_by(&conditions, &credit, "task");
        assert_eq!(
            got,
            vec![
                (Number(0.5), 1, 1.0),
                (Number(2.0), 1, 0.0),
                (Text("anti".into()), 1, 1.0),
                (Text("go".into()), 3, 1.25 / 3.0),
            ]
        );
        assert!(accuracy_by(&conditions, &credit, "missing").is_empty());
    }
}
