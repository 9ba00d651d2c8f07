//! The run-level behavioural and multitask analyses: each reads a run's test trials (and the
//! settings or scorer that say which channel, epoch and condition to read) and fills its
//! section of `analysis.yaml` — go/no-go signal detection, produced intervals, the
//! psychometric matrix and task-variance clusters.

use crate::analysis::go_nogo::SignalDetection;
use crate::analysis::interval_timing::{fit_line, produced_by_target};
use crate::analysis::psychometric_matrix::choice_matrix;
use crate::analysis::responses::{responds, scorer_parts};
use crate::analysis::run_analysis::RunAnalysisError;
use crate::analysis::task_variance::{
    best_clustering, normalise_by_max, task_variance, TaskVarianceError,
};
use crate::experiment::ExperimentConfig;
use crate::run_dir::{
    AnalysisFile, ClusterCountSilhouette, GoNogoAnalysis, IntervalTimingAnalysis, MatrixCell,
    ProducedInterval, PsychometricMatrixAnalysis, TaskCluster, TaskVarianceAnalysis,
};
use crate::task::{argmax_channel, EpochSpan, Scorer};
use crate::trials_file::TrialRecord;

/// Fills the go/no-go, interval-timing, psychometric-matrix and task-variance sections of
/// `file` that the run's scorer and `report` settings ask for.
pub fn add_behaviour_analyses(
    config: &ExperimentConfig,
    trials: &TrialRecord,
    file: &mut AnalysisFile,
) -> Result<(), RunAnalysisError> {
    file.go_nogo = go_nogo(config, trials)?;
    file.interval_timing = interval_timing(config, trials, &mut file.omitted)?;
    file.psychometric_matrix = psychometric_matrix(config, trials)?;
    file.task_variance = task_variances(config, trials, &mut file.omitted)?;
    Ok(())
}

fn setting(message: String) -> RunAnalysisError {
    RunAnalysisError::Setting(message)
}

/// The index of output `name`, or an error naming `field` and the outputs.
fn output_index(trials: &TrialRecord, field: &str, name: &str) -> Result<usize, RunAnalysisError> {
    trials
        .output_names
        .iter()
        .position(|o| o == name)
        .ok_or_else(|| {
            setting(format!(
                "{field}: no output channel `{name}`; the trials' outputs are: {}",
                trials.output_names.join(", ")
            ))
        })
}

/// Condition `name` per trial, or an error naming `field` and the conditions.
fn condition<'a>(
    trials: &'a TrialRecord,
    field: &str,
    name: &str,
) -> Result<&'a [f64], RunAnalysisError> {
    trials.condition_named(field, name).map_err(setting)
}

/// Each trial's epochs, or an error saying the analysis needs them.
fn epochs(trials: &TrialRecord, what: &str) -> Result<Vec<Vec<EpochSpan>>, RunAnalysisError> {
    trials.epochs.as_ref().map(|e| e.spans()).ok_or_else(|| {
        setting(format!(
            "{what} needs each trial's epochs, and these trials have none (a per-step task, or trials.npz from an older version: run `psychrnn test` again)"
        ))
    })
}

fn trial_outputs(trials: &TrialRecord, i: usize) -> &[f32] {
    let per = trials.n_steps * trials.n_out;
    &trials.outputs[i * per..(i + 1) * per]
}

/// Hit rate, false-alarm rate and d′, when the task is scored by `go_nogo`.
fn go_nogo(
    config: &ExperimentConfig,
    trials: &TrialRecord,
) -> Result<Option<GoNogoAnalysis>, RunAnalysisError> {
    let Some(Scorer::GoNogo {
        channel,
        epoch,
        go,
        threshold,
    }) = scorer_parts(&config.task.score)
        .into_iter()
        .find(|s| matches!(s, Scorer::GoNogo { .. }))
    else {
        return Ok(None);
    };
    let c = output_index(trials, "task.score (go_nogo) channel", channel)?;
    let go_values = condition(trials, "task.score (go_nogo) condition", go)?;
    let spans = epochs(trials, "the go/no-go analysis")?;
    let reading = config.model.loss.output_reading();
    let mut is_go = Vec::with_capacity(trials.n_trials);
    let mut responded = Vec::with_capacity(trials.n_trials);
    for i in 0..trials.n_trials {
        let g = go_values[i];
        if !(g == 0.0 || g == 1.0) {
            return Err(setting(format!(
                "trial {i}: go/no-go condition `{go}` is {g}; it must be 1 (go) or 0 (no-go)"
            )));
        }
        is_go.push(g == 1.0);
        let out = trial_outputs(trials, i);
        responded.push(spans[i].iter().filter(|s| &s.name == epoch).any(|s| {
            (s.start..s.end).any(|t| responds(out, trials.n_out, t, c, *threshold, reading))
        }));
    }
    let s = SignalDetection::count(&is_go, &responded);
    Ok(Some(GoNogoAnalysis {
        channel: channel.clone(),
        epoch: epoch.clone(),
        condition: go.clone(),
        go_trials: s.go_trials,
        nogo_trials: s.nogo_trials,
        hits: s.hits,
        false_alarms: s.false_alarms,
        hit_rate: s.hit_rate(),
        false_alarm_rate: s.false_alarm_rate(),
        d_prime: s.d_prime(),
    }))
}

/// Produced against target intervals, when the task is scored by `interval`; with too few
/// responses for a line, `None` and why in `omitted`.
fn interval_timing(
    config: &ExperimentConfig,
    trials: &TrialRecord,
    omitted: &mut Vec<String>,
) -> Result<Option<IntervalTimingAnalysis>, RunAnalysisError> {
    let Some(Scorer::Interval {
        channel,
        from,
        target,
        threshold,
        ..
    }) = scorer_parts(&config.task.score)
        .into_iter()
        .find(|s| matches!(s, Scorer::Interval { .. }))
    else {
        return Ok(None);
    };
    let c = output_index(trials, "task.score (interval) channel", channel)?;
    let want = condition(trials, "task.score (interval) target", target)?;
    let spans = epochs(trials, "the interval-timing analysis")?;
    let reading = config.model.loss.output_reading();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for i in 0..trials.n_trials {
        let Some(start) = spans[i].iter().find(|s| &s.name == from).map(|s| s.start) else {
            return Err(setting(format!(
                "trial {i} has no epoch `{from}`, from which the interval scorer times the response"
            )));
        };
        let out = trial_outputs(trials, i);
        if let Some(t) = (start..trials.n_steps)
            .find(|&t| responds(out, trials.n_out, t, c, *threshold, reading))
        {
            x.push(want[i]);
            y.push((t - start) as f64 * trials.dt);
        }
    }
    let Some(fit) = fit_line(&x, &y) else {
        let targets = {
            let mut v = x.clone();
            v.sort_by(f64::total_cmp);
            v.dedup();
            v.len()
        };
        omitted.push(format!(
            "interval timing: {} of {} test trials crossed {threshold} on `{channel}` after `{from}`, at {targets} distinct `{target}` value(s); a line of produced on target interval needs at least 3 responses at 2 or more targets, so the analysis is left out",
            x.len(),
            trials.n_trials
        ));
        return Ok(None);
    };
    let n = x.len() as f64;
    let prior_mean = x.iter().sum::<f64>() / n;
    Ok(Some(IntervalTimingAnalysis {
        channel: channel.clone(),
        from: from.clone(),
        target: target.clone(),
        threshold: *threshold,
        trials: trials.n_trials,
        responded: x.len(),
        slope: fit.slope,
        slope_se: fit.slope_se,
        slope_ci95: fit.slope_ci95(),
        intercept: fit.intercept,
        mean_bias: x.iter().zip(&y).map(|(a, b)| b - a).sum::<f64>() / n,
        prior_mean,
        indifference_point: (fit.slope != 1.0).then(|| fit.intercept / (1.0 - fit.slope)),
        points: produced_by_target(&x, &y)
            .into_iter()
            .map(|(target, n, mean, sd)| ProducedInterval {
                target,
                n,
                mean,
                sd,
            })
            .collect(),
    }))
}

/// P(choice) over two conditions, with `report.psychometric_matrix`.
fn psychometric_matrix(
    config: &ExperimentConfig,
    trials: &TrialRecord,
) -> Result<Option<PsychometricMatrixAnalysis>, RunAnalysisError> {
    let Some(m) = &config.report.psychometric_matrix else {
        return Ok(None);
    };
    let x = condition(trials, "report.psychometric_matrix.x", &m.x)?;
    let y = condition(trials, "report.psychometric_matrix.y", &m.y)?;
    let choice = output_index(trials, "report.psychometric_matrix.choice", &m.choice)?;
    let among: Vec<usize> = if m.among.is_empty() {
        (0..trials.n_out).collect()
    } else {
        m.among
            .iter()
            .map(|a| output_index(trials, "report.psychometric_matrix.among", a))
            .collect::<Result<_, _>>()?
    };
    let (t, c) = (trials.n_steps, trials.n_out);
    let chose: Vec<bool> = (0..trials.n_trials)
        .map(|i| {
            let r = i * t * c..(i + 1) * t * c;
            among[argmax_channel(
                &trials.outputs[r.clone()],
                Some(&trials.mask[r]),
                c,
                0..t,
                &among,
            )] == choice
        })
        .collect();
    let (xs, ys, cells) = choice_matrix(x, y, &chose);
    Ok(Some(PsychometricMatrixAnalysis {
        x: m.x.clone(),
        y: m.y.clone(),
        choice: m.choice.clone(),
        x_values: xs,
        y_values: ys,
        cells: cells
            .into_iter()
            .map(|c| MatrixCell {
                x: c.x,
                y: c.y,
                trials: c.n,
                p_choice: c.p,
            })
            .collect(),
    }))
}

/// Task variances and unit clusters, with `report.task_variance`; when the trials cannot
/// give them (a task with one trial, fewer than 3 active units), `None` and why in `omitted`.
fn task_variances(
    config: &ExperimentConfig,
    trials: &TrialRecord,
    omitted: &mut Vec<String>,
) -> Result<Option<TaskVarianceAnalysis>, RunAnalysisError> {
    let Some(tv) = &config.report.task_variance else {
        return Ok(None);
    };
    let values = condition(trials, "report.task_variance.condition", &tv.condition)?;
    let mut levels: Vec<f64> = values.to_vec();
    levels.sort_by(f64::total_cmp);
    levels.dedup();
    let names: Vec<String> = levels
        .iter()
        .map(|&v| match trials.labels.get(&tv.condition) {
            Some(l) => l.get(v as usize).cloned().unwrap_or_default(),
            None => format!("{v}"),
        })
        .collect();
    let task: Vec<usize> = values
        .iter()
        .map(|v| levels.iter().position(|l| l == v).unwrap_or(0))
        .collect();
    let spans = epochs(trials, "the task-variance analysis")?;
    let end_of = |i: usize, name: &str, field: &str| {
        spans[i]
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.end)
            .ok_or_else(|| {
                setting(format!(
                    "report.task_variance.{field}: trial {i} (task {}) has no epoch `{name}`; its epochs are: {}",
                    names[task[i]],
                    spans[i].iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
                ))
            })
    };
    let windows = (0..trials.n_trials)
        .map(|i| {
            Ok((
                end_of(i, &tv.from_end_of, "from_end_of")?,
                end_of(i, &tv.to_end_of, "to_end_of")?,
            ))
        })
        .collect::<Result<Vec<_>, RunAnalysisError>>()?;
    let (b, t, n) = (trials.n_trials, trials.n_steps, trials.n_rec);
    let variance = match task_variance(&trials.rates, (b, t, n), &task, &names, &windows) {
        Ok(v) => v,
        Err(e @ TaskVarianceError::TooFewTrials { .. }) => {
            omitted.push(format!("task variance: {e}; the analysis is left out"));
            return Ok(None);
        }
        Err(e) => return Err(setting(format!("report.task_variance: {e}"))),
    };
    let active: Vec<usize> = (0..n)
        .filter(|&u| variance[u].iter().sum::<f64>() > tv.threshold)
        .collect();
    let normalised = normalise_by_max(
        &active
            .iter()
            .map(|&u| variance[u].clone())
            .collect::<Vec<_>>(),
    );
    let Some(clustering) = best_clustering(&normalised, tv.max_clusters) else {
        omitted.push(format!(
            "task variance: {} unit(s) have summed task variance above the threshold {} (report.task_variance.threshold); clustering needs at least 3, so the analysis is left out",
            active.len(),
            tv.threshold
        ));
        return Ok(None);
    };
    let at_search_limit = clustering.at_search_limit(normalised.len());
    let (n_clusters, labels) = (clustering.k, &clustering.labels);
    let mut clusters: Vec<TaskCluster> = (0..n_clusters)
        .map(|k| {
            let members: Vec<usize> = (0..active.len()).filter(|&i| labels[i] == k).collect();
            let profile: Vec<f64> = (0..names.len())
                .map(|a| {
                    members.iter().map(|&i| normalised[i][a]).sum::<f64>() / members.len() as f64
                })
                .collect();
            TaskCluster {
                units: members.iter().map(|&i| active[i]).collect(),
                serves: names
                    .iter()
                    .zip(&profile)
                    .filter(|(_, p)| **p >= 0.5)
                    .map(|(name, _)| name.clone())
                    .collect(),
                profile,
            }
        })
        .collect();
    // Ordered by the task each cluster serves most (then by size), as Yang's figure.
    let top = |c: &TaskCluster| {
        (0..c.profile.len())
            .max_by(|&a, &b| c.profile[a].total_cmp(&c.profile[b]).then(b.cmp(&a)))
            .unwrap_or(0)
    };
    clusters.sort_by(|a, b| top(a).cmp(&top(b)).then(b.units.len().cmp(&a.units.len())));
    Ok(Some(TaskVarianceAnalysis {
        condition: tv.condition.clone(),
        from_end_of: tv.from_end_of.clone(),
        to_end_of: tv.to_end_of.clone(),
        threshold: tv.threshold,
        trials_per_task: (0..names.len())
            .map(|a| task.iter().filter(|&&k| k == a).count())
            .collect(),
        tasks: names,
        active_units: active.len(),
        n_clusters,
        silhouette: clustering.silhouette,
        silhouette_by_clusters: clustering
            .tried
            .iter()
            .map(|&(clusters, silhouette)| ClusterCountSilhouette {
                clusters,
                silhouette,
            })
            .collect(),
        at_search_limit,
        clusters,
        variance,
    }))
}
