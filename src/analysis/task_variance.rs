//! Task variance and unit clustering (Yang et al. 2019, Fig. 2): a unit's variance in a task is
//! the variance of its rate across that task's trials at each step of the analysis window,
//! averaged over the window; units are described by their task-variance vectors, each divided
//! by its largest entry, and clustered (Ward's hierarchical clustering, the number of clusters
//! chosen by the mean silhouette).

/// Why task variances could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TaskVarianceError {
    /// A task has fewer than two trials, so no variance across trials exists.
    #[error("task `{task}` has {trials} test trial(s); task variance needs at least 2 (raise the number of test trials)")]
    TooFewTrials {
        /// The task.
        task: String,
        /// Its trials.
        trials: usize,
    },
    /// A trial's window has no steps.
    #[error("trial {trial}: the analysis window is empty (it starts at step {start} and ends at step {end})")]
    EmptyWindow {
        /// The trial.
        trial: usize,
        /// First step.
        start: usize,
        /// One past the last step.
        end: usize,
    },
}

/// `[N][tasks]` task variances of rates `[B, T, N]`, trial i belonging to task `task[i]`
/// (< `names.len()`) with analysis window `windows[i]` = (first step, one past the last). Each
/// task's trials are aligned at their window's start; the steps used are those every trial of
/// the task has (the shortest window). The variance is the population variance (divided by
/// the number of trials), as numpy's `var`.
pub fn task_variance(
    rates: &[f32],
    (b, t, n): (usize, usize, usize),
    task: &[usize],
    names: &[String],
    windows: &[(usize, usize)],
) -> Result<Vec<Vec<f64>>, TaskVarianceError> {
    for (i, &(start, end)) in windows.iter().enumerate() {
        if end <= start || end > t {
            return Err(TaskVarianceError::EmptyWindow {
                trial: i,
                start,
                end,
            });
        }
    }
    let mut out = vec![vec![0.0; names.len()]; n];
    for (a, name) in names.iter().enumerate() {
        let members: Vec<usize> = (0..b).filter(|&i| task[i] == a).collect();
        if members.len() < 2 {
            return Err(TaskVarianceError::TooFewTrials {
                task: name.clone(),
                trials: members.len(),
            });
        }
        let steps = members
            .iter()
            .map(|&i| windows[i].1 - windows[i].0)
            .min()
            .unwrap_or(0);
        let m = members.len() as f64;
        for (u, row) in out.iter_mut().enumerate() {
            let mut total = 0.0;
            for k in 0..steps {
                let (mut s, mut s2) = (0.0, 0.0);
                for &i in &members {
                    let v = f64::from(rates[(i * t + windows[i].0 + k) * n + u]);
                    s += v;
                    s2 += v * v;
                }
                let mean = s / m;
                total += (s2 / m - mean * mean).max(0.0);
            }
            row[a] = total / steps as f64;
        }
    }
    Ok(out)
}

/// Euclidean distance.
fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

/// The merges of Ward's agglomerative clustering of `points`, in order: (cluster a, cluster
/// b) by the index of the first member each started from (Lance–Williams update on squared
/// distances).
fn ward_merges(points: &[Vec<f64>]) -> Vec<(usize, usize)> {
    let m = points.len();
    let mut d: Vec<Vec<f64>> = (0..m)
        .map(|i| {
            (0..m)
                .map(|j| distance(&points[i], &points[j]).powi(2))
                .collect()
        })
        .collect();
    let mut size = vec![1usize; m];
    let mut alive = vec![true; m];
    let mut merges = Vec::with_capacity(m.saturating_sub(1));
    for _ in 1..m {
        let mut best = (f64::INFINITY, 0, 0);
        for i in 0..m {
            if !alive[i] {
                continue;
            }
            for j in i + 1..m {
                if alive[j] && d[i][j] < best.0 {
                    best = (d[i][j], i, j);
                }
            }
        }
        let (dij, i, j) = best;
        for k in 0..m {
            if alive[k] && k != i && k != j {
                let (ni, nj, nk) = (size[i] as f64, size[j] as f64, size[k] as f64);
                let v = ((ni + nk) * d[i][k] + (nj + nk) * d[j][k] - nk * dij) / (ni + nj + nk);
                d[i][k] = v;
                d[k][i] = v;
            }
        }
        size[i] += size[j];
        alive[j] = false;
        merges.push((i, j));
    }
    merges
}

/// The cluster of each point when Ward's clustering is cut at `k` clusters, numbered 0..k in
/// order of each cluster's first point.
pub fn ward_clusters(points: &[Vec<f64>], k: usize) -> Vec<usize> {
    labels_after(points.len(), &ward_merges(points), k)
}

fn labels_after(m: usize, merges: &[(usize, usize)], k: usize) -> Vec<usize> {
    let mut root: Vec<usize> = (0..m).collect();
    for &(i, j) in merges.iter().take(m.saturating_sub(k)) {
        for r in root.iter_mut() {
            if *r == j {
                *r = i;
            }
        }
    }
    let mut number: Vec<usize> = Vec::new();
    root.iter()
        .map(|r| match number.iter().position(|x| x == r) {
            Some(p) => p,
            None => {
                number.push(*r);
                number.len() - 1
            }
        })
        .collect()
}

/// The mean silhouette of a clustering (Euclidean; a point alone in its cluster scores 0, as
/// in scikit-learn).
pub fn silhouette(points: &[Vec<f64>], labels: &[usize]) -> f64 {
    let m = points.len();
    let k = labels.iter().max().map_or(0, |x| x + 1);
    let mut total = 0.0;
    for i in 0..m {
        let mut sum = vec![0.0; k];
        let mut count = vec![0usize; k];
        for j in 0..m {
            if j != i {
                sum[labels[j]] += distance(&points[i], &points[j]);
                count[labels[j]] += 1;
            }
        }
        let own = labels[i];
        if count[own] == 0 {
            continue;
        }
        let a = sum[own] / count[own] as f64;
        let b = (0..k)
            .filter(|&c| c != own && count[c] > 0)
            .map(|c| sum[c] / count[c] as f64)
            .fold(f64::INFINITY, f64::min);
        if b.is_finite() {
            total += (b - a) / a.max(b);
        }
    }
    total / m as f64
}

/// The clustering [`best_clustering`] chose, with the mean silhouette of every number of
/// clusters it tried.
#[derive(Debug, Clone, PartialEq)]
pub struct Clustering {
    /// The number of clusters with the largest mean silhouette.
    pub k: usize,
    /// Each point's cluster (0..k), clusters numbered by their first point.
    pub labels: Vec<usize>,
    /// The mean silhouette of that clustering.
    pub silhouette: f64,
    /// `(k, mean silhouette)` for every k tried, in increasing k.
    pub tried: Vec<(usize, f64)>,
}

impl Clustering {
    /// The largest number of clusters tried.
    pub fn largest_tried(&self) -> usize {
        self.tried.last().map_or(self.k, |t| t.0)
    }

    /// True when the chosen number is the largest tried while more were possible (fewer than
    /// one cluster per point): the silhouette may still rise beyond the search, so the
    /// number of clusters is a bound, not a finding.
    pub fn at_search_limit(&self, points: usize) -> bool {
        self.k == self.largest_tried() && self.k < points - 1
    }
}

/// The clustering of `points` with the largest mean silhouette over 2..=`max_k` clusters
/// (at most one fewer than the points; the fewest clusters on ties). `None` with fewer than
/// 3 points.
pub fn best_clustering(points: &[Vec<f64>], max_k: usize) -> Option<Clustering> {
    let m = points.len();
    if m < 3 || max_k < 2 {
        return None;
    }
    let merges = ward_merges(points);
    let tried: Vec<(usize, f64)> = (2..=max_k.min(m - 1))
        .map(|k| (k, silhouette(points, &labels_after(m, &merges, k))))
        .collect();
    // The first of the largest (the fewest clusters on ties).
    let &(k, best) = tried
        .iter()
        .fold(None, |b: Option<&(usize, f64)>, t| match b {
            Some(b) if b.1 >= t.1 => Some(b),
            _ => Some(t),
        })?;
    Some(Clustering {
        k,
        labels: labels_after(m, &merges, k),
        silhouette: best,
        tried,
    })
}

/// Each row divided by its largest entry (rows whose largest entry is 0 stay 0).
pub fn normalise_by_max(rows: &[Vec<f64>]) -> Vec<Vec<f64>> {
    rows.iter()
        .map(|r| {
            let max = r.iter().cloned().fold(0.0, f64::max);
            r.iter()
                .map(|v| if max > 0.0 { v / max } else { 0.0 })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variance_is_across_trials_per_step_then_averaged_over_the_window() {
        // 4 trials, 3 steps, 2 units; tasks: trials 0, 1 → task 0; 2, 3 → task 1.
        let (b, t, n) = (4, 3, 2);
        let mut rates = vec![0f32; b * t * n];
        let set =
            |r: &mut Vec<f32>, i: usize, s: usize, u: usize, v: f32| r[(i * t + s) * n + u] = v;
        // Task 0, unit 0: steps 1, 2 (window 1..3) hold (1, 3) and (2, 6).
        set(&mut rates, 0, 1, 0, 1.0);
        set(&mut rates, 1, 1, 0, 3.0);
        set(&mut rates, 0, 2, 0, 2.0);
        set(&mut rates, 1, 2, 0, 6.0);
        // Task 1, windows 0..2 and 1..2 (shortest: one step), unit 1: values 4 and 0.
        set(&mut rates, 2, 0, 1, 4.0);
        set(&mut rates, 3, 1, 1, 0.0);
        set(&mut rates, 2, 1, 1, 100.0); // beyond the shortest window: not used
        let names = vec!["a".to_string(), "b".to_string()];
        let v = task_variance(
            &rates,
            (b, t, n),
            &[0, 0, 1, 1],
            &names,
            &[(1, 3), (1, 3), (0, 2), (1, 2)],
        )
        .unwrap();
        // np.var([1, 3]) = 1, np.var([2, 6]) = 4 → mean 2.5; np.var([4, 0]) = 4.
        assert_eq!(v[0], vec![2.5, 0.0]);
        assert_eq!(v[1], vec![0.0, 4.0]);
        let few = task_variance(&rates, (b, t, n), &[0, 1, 1, 1], &names, &[(0, 1); 4]);
        assert_eq!(
            few.unwrap_err().to_string(),
            "task `a` has 1 test trial(s); task variance needs at least 2 (raise the number of test trials)"
        );
    }

    #[test]
    fn ward_finds_separated_groups_and_the_silhouette_picks_their_number() {
        let points: Vec<Vec<f64>> = [
            [0.0, 0.0],
            [0.1, 0.0],
            [0.0, 0.1],
            [5.0, 5.0],
            [5.1, 5.0],
            [0.0, 9.0],
            [0.1, 9.1],
            [0.0, 9.2],
        ]
        .iter()
        .map(|p| p.to_vec())
        .collect();
        let c = best_clustering(&points, 6).unwrap();
        assert_eq!(c.k, 3);
        assert_eq!(c.labels, vec![0, 0, 0, 1, 1, 2, 2, 2]);
        assert!(c.silhouette > 0.9);
        // Every k from 2 to 6 was tried; the chosen one's entry is its silhouette, the largest.
        assert_eq!(
            c.tried.iter().map(|t| t.0).collect::<Vec<_>>(),
            [2, 3, 4, 5, 6]
        );
        assert_eq!(c.tried[1].1, c.silhouette);
        assert!(c.tried.iter().all(|t| t.1 <= c.silhouette));
        assert!(!c.at_search_limit(points.len()));
        // Searching only up to 2 stops below the three groups: the choice is the limit.
        let capped = best_clustering(&points, 2).unwrap();
        assert_eq!((capped.k, capped.largest_tried()), (2, 2));
        assert!(capped.at_search_limit(points.len()));
        // Silhouette by hand for two points per cluster on a line: 0, 1 | 10, 11.
        let line: Vec<Vec<f64>> = [0.0, 1.0, 10.0, 11.0].iter().map(|&x| vec![x]).collect();
        // Point 0: a = 1, b = 10.5 → 0.904762; point 1: a = 1, b = 9.5 → 0.894737; symmetric.
        let want = (9.5 / 10.5 + 8.5 / 9.5) / 2.0;
        assert!((silhouette(&line, &[0, 0, 1, 1]) - want).abs() < 1e-12);
    }

    #[test]
    fn rows_are_divided_by_their_largest_entry() {
        assert_eq!(
            normalise_by_max(&[vec![1.0, 4.0], vec![0.0, 0.0]]),
            vec![vec![0.25, 1.0], vec![0.0, 0.0]]
        );
    }
}
