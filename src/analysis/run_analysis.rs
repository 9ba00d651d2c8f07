//! The numbers a finished run's report shows, computed once from its test trials (and the
//! fixed points, when `psychrnn fixedpoints` found some): the psychometric fit, accuracy per
//! condition, the chronometric curve, PCA of the rates and where the fixed points lie on it.
//! `analysis.yaml` and `analysis.npz` hold the result; the report draws it.

use crate::analysis::chronometric::{chronometric_curve, reaction_times};
use crate::analysis::conditions::{levels, mean_by_level};
use crate::analysis::pca::{pca, Pca, PcaError};
use crate::analysis::psychometric::{choice_curve, fit_psychometric, AnalysisError, Separation};
use crate::experiment::ExperimentConfig;
use crate::run_dir::{
    AccuracyByCondition, AnalysisArrays, AnalysisFile, ChoiceFraction, ChronometricAnalysis,
    ConditionAccuracy, ConditionLabel, FixedPointLocation, FixedPointsAnalysis, FixedPointsFile,
    PcaAnalysis, PsychometricAnalysis, ReactionTimePoint, StageAnalysis,
};
use crate::task::{argmax_channel, argmax_choices};
use crate::trials_file::TrialRecord;

/// Why a run's analysis could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum RunAnalysisError {
    /// A `report.*` setting names a condition or channel the trials do not have.
    #[error("{0}")]
    Setting(String),
    /// The logistic fit failed.
    #[error("psychometric fit: {0}")]
    Fit(#[from] AnalysisError),
    /// The principal components could not be computed.
    #[error(transparent)]
    Pca(#[from] PcaError),
    /// The targeted dimensionality reduction failed (collinear or degenerate regressors).
    #[error("targeted dimensionality reduction: {0}")]
    Tdr(crate::analysis::tdr::TdrError),
}

/// (x label, the x value of every trial) for the psychometric curve, if configured.
fn psychometric_x(
    config: &ExperimentConfig,
    trials: &TrialRecord,
) -> Result<Option<(String, Vec<f64>)>, RunAnalysisError> {
    let Some(name) = &config.report.psychometric else {
        return Ok(None);
    };
    let x = trials
        .condition_named("report.psychometric", name)
        .map_err(RunAnalysisError::Setting)?;
    match &config.report.psychometric_sign {
        None => Ok(Some((name.clone(), x.to_vec()))),
        Some(sign) => {
            let s = trials
                .condition_named("report.psychometric_sign", sign)
                .map_err(RunAnalysisError::Setting)?;
            let signed = x
                .iter()
                .zip(s)
                // `+ 0.0` turns −0 (zero coherence, direction 0) into 0, one level not two spellings.
                .map(|(x, s)| if *s == 0.0 { -x + 0.0 } else { *x })
                .collect();
            Ok(Some((
                format!("signed {name} (negative when {sign} = 0)"),
                signed,
            )))
        }
    }
}

/// The condition that groups trials (name, value per trial): the configured one, else the
/// signed psychometric condition, else the first condition with 2–8 levels.
fn grouping(
    config: &ExperimentConfig,
    trials: &TrialRecord,
) -> Result<Option<(String, Vec<f64>)>, RunAnalysisError> {
    if let Some(c) = &config.report.condition {
        let Some(v) = trials.conditions.get(c) else {
            return Err(RunAnalysisError::Setting(format!(
                "report.condition: no condition `{c}`; the trials have: {}",
                trials
                    .conditions
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        return Ok(Some((c.clone(), v.clone())));
    }
    if let (Some(name), Some((_, x))) =
        (&config.report.psychometric, psychometric_x(config, trials)?)
    {
        let label = if config.report.psychometric_sign.is_some() {
            format!("signed {name}")
        } else {
            name.clone()
        };
        return Ok(Some((label, x)));
    }
    Ok(trials
        .conditions
        .iter()
        .find(|(_, v)| (2..=8).contains(&levels(v).len()))
        .map(|(k, v)| (k.clone(), v.clone())))
}

fn level_label(name: &str, value: f64, trials: &TrialRecord) -> String {
    match trials.labels.get(name) {
        Some(labels) => format!(
            "{name} = {}",
            labels.get(value as usize).cloned().unwrap_or_default()
        ),
        None => format!("{name} = {value}"),
    }
}

/// Trials grouped by one condition's levels, with the rates averaged per level.
#[derive(Debug, Clone)]
pub struct ConditionGroups {
    /// The condition's name (e.g. `coherence`, `signed coherence`).
    pub name: String,
    /// Its distinct values, sorted.
    pub levels: Vec<f64>,
    /// Legend text of each level (`coherence = 0.1`, or the label of a text condition).
    pub labels: Vec<String>,
    /// Per level, the mean rates [T × N].
    pub means: Vec<Vec<f64>>,
}

/// The principal components of the rates, with the condition averages projected on them.
#[derive(Debug, Clone)]
pub struct RatePca {
    /// The fitted components and mean.
    pub pca: Pca,
    /// [levels, T, k] condition-averaged rates projected, when trials are grouped.
    pub projection: Option<Vec<f64>>,
    /// The levels the projection's rows are.
    pub levels: Vec<f64>,
}

impl RatePca {
    /// The arrays `analysis.npz` holds.
    pub fn arrays(&self) -> AnalysisArrays<'_> {
        AnalysisArrays {
            components: &self.pca.components,
            mean: &self.pca.mean,
            explained_variance_ratio: &self.pca.explained_ratio,
            projection: self.projection.as_deref(),
            levels: &self.levels,
        }
    }
}

/// Everything the report shows, computed once: written to analysis.yaml and analysis.npz,
/// then drawn.
#[derive(Debug, Clone)]
pub struct RunAnalysis {
    /// What analysis.yaml holds.
    pub file: AnalysisFile,
    /// The range of the psychometric x values (for drawing the fitted curve).
    pub psychometric_x_range: Option<(f64, f64)>,
    /// The trials grouped by the report's condition.
    pub grouping: Option<ConditionGroups>,
    /// PCA of the rates (absent with fewer than 2 units or observations).
    pub pca: Option<RatePca>,
}

/// Most principal components kept in analysis.npz.
const MAX_COMPONENTS: usize = 10;

/// The value of a grouping level as analysis.yaml writes it: its label for text conditions.
fn level_value(name: &str, value: f64, trials: &TrialRecord) -> ConditionLabel {
    match trials.labels.get(name) {
        Some(labels) => {
            ConditionLabel::Text(labels.get(value as usize).cloned().unwrap_or_default())
        }
        None => ConditionLabel::Number(value),
    }
}

/// The sentence analysis.yaml and the caption give for a fit that is not a maximum-likelihood one.
fn separation_note(separation: Separation) -> Option<String> {
    match separation {
        Separation::Overlapping => None,
        Separation::Separable => Some(format!(
            "the choices are perfectly separable along x, so no maximum-likelihood fit exists: the slope is where the fit's ridge ({RIDGE_TEXT}) stopped it, a lower bound on the slope the data allow, and the threshold is only known to lie between the two choices"
        )),
        Separation::OneChoice => Some(
            "every trial made the same choice, so neither slope nor threshold is determined".into(),
        ),
    }
}

/// What a reader of the run's numbers must know before trusting them, one sentence each: a
/// psychometric slope that is only a bound (separable choices, or one choice), and test trials
/// that never responded on the chronometric curve. `psychrnn run` prints them with its summary
/// and the report shows them.
pub fn analysis_warnings(file: &AnalysisFile) -> Vec<String> {
    let mut warnings: Vec<String> = file.omitted.clone();
    if let Some(p) = file.psychometric.as_ref().filter(|p| p.separable) {
        let one_choice = p.points.iter().all(|c| c.p_choice == p.points[0].p_choice);
        warnings.push(if one_choice {
            format!(
                "psychometric curve: every one of the {} test trials made the same choice, so the fit's slope and threshold are not determined (analysis.yaml: separable: true)",
                p.trials
            )
        } else {
            format!(
                "psychometric curve: the choices are perfectly separable along {}, so the slope {:.2} is only the bound where the fit's ridge stopped it, not an estimate (analysis.yaml: separable: true)",
                p.x, p.slope
            )
        });
    }
    if let Some(c) = file
        .chronometric
        .as_ref()
        .filter(|c| c.responded < c.trials)
    {
        let missing: Vec<String> = c
            .points
            .iter()
            .filter(|p| p.no_response > 0)
            .map(|p| format!("{} at {} = {}", p.no_response, c.x, p.value))
            .collect();
        warnings.push(format!(
            "chronometric curve: {} of {} test trials never reached {} on {} ({}); the mean reaction times leave them out",
            c.trials - c.responded,
            c.trials,
            c.threshold,
            c.channels.join(", "),
            missing.join(", ")
        ));
    }
    if let Some(v) = file.task_variance.as_ref().filter(|v| v.at_search_limit) {
        warnings.push(task_variance_limit_warning(v));
    }
    warnings
}

/// The warning for a task-variance clustering whose silhouette was largest at the most
/// clusters tried.
pub fn task_variance_limit_warning(v: &crate::run_dir::TaskVarianceAnalysis) -> String {
    format!(
        "task variance: the mean silhouette ({:.3}) is largest at {} clusters, the most tried, so the number of clusters is a bound, not a finding (raise report.task_variance.max_clusters; analysis.yaml: at_search_limit: true)",
        v.silhouette, v.n_clusters
    )
}

/// The ridge of [`crate::analysis::psychometric::fit_logistic`], as the note quotes it.
const RIDGE_TEXT: &str = "1e-6 in standardised x";

/// Computes the report's numbers from a run's test trials and, when given, the fixed points
/// found for it (ignored when their size is not the trials' number of units).
pub fn analyse_run(
    config: &ExperimentConfig,
    trials: &TrialRecord,
    fixed_points: Option<&FixedPointsFile>,
) -> Result<RunAnalysis, RunAnalysisError> {
    let (b, t, n) = (trials.n_trials, trials.n_steps, trials.n_rec);
    let shape = config.task.shape();
    let mut file = AnalysisFile {
        format_version: crate::run_dir::FORMAT_VERSION,
        test_trials: b,
        accuracy: trials.accuracy(),
        psychometric: None,
        accuracy_by: None,
        chronometric: None,
        pca: None,
        fixed_points: None,
        tdr: None,
        go_nogo: None,
        interval_timing: None,
        psychometric_matrix: None,
        task_variance: None,
        stages: None,
        omitted: Vec::new(),
    };
    crate::analysis::behaviour_run::add_behaviour_analyses(config, trials, &mut file)?;
    let mut psychometric_x_range = None;
    let choices = config
        .report
        .choices(&shape.outputs)
        .map_err(|e| RunAnalysisError::Setting(e.to_string()))?;

    let psychometric = psychometric_x(config, trials)?;
    if let Some((x_label, x)) = &psychometric {
        file.psychometric = Some(psychometric_fit(
            trials,
            &trials.outputs,
            &choices,
            &shape.outputs,
            x_label,
            x,
        )?);
        psychometric_x_range = Some(
            x.iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                    (a.min(*v), b.max(*v))
                }),
        );
    }
    if let Some(st) = &trials.stages {
        let last = st.stages.len() - 1;
        let mut stages = Vec::with_capacity(st.stages.len());
        for (k, (name, ended)) in st.stages.iter().enumerate() {
            let (outputs, accuracy) = if k == last {
                (&trials.outputs[..], file.accuracy)
            } else {
                (st.outputs_of(k, b * t * trials.n_out), st.accuracy_of(k, b))
            };
            let psychometric = match (&psychometric, k == last) {
                (None, _) => None,
                (Some(_), true) => file.psychometric.clone(),
                (Some((x_label, x)), false) => Some(psychometric_fit(
                    trials,
                    outputs,
                    &choices,
                    &shape.outputs,
                    x_label,
                    x,
                )?),
            };
            stages.push(StageAnalysis {
                stage: name.clone(),
                ended_at_iteration: *ended,
                accuracy,
                psychometric,
            });
        }
        file.stages = Some(stages);
    }

    if let Some(onset_name) = &config.report.reaction_time_onset {
        let onsets = trials.conditions.get(onset_name).ok_or_else(|| {
            RunAnalysisError::Setting(format!(
                "report.reaction_time_onset: no condition `{onset_name}`; the trials have: {}",
                trials
                    .conditions
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        let threshold = config.report.reaction_time_threshold;
        if let Some(bad) = choices.among.iter().find(|&&k| k >= trials.n_out) {
            return Err(RunAnalysisError::Setting(format!(
                "report.choice_channels: channel {bad} does not exist (the trials have {} outputs)",
                trials.n_out
            )));
        }
        let rt = reaction_times(
            &trials.outputs,
            b,
            t,
            trials.n_out,
            &choices.among,
            onsets,
            trials.dt,
            threshold,
        );
        let (x_label, x) = match psychometric_x(config, trials)? {
            Some(px) => px,
            None => (onset_name.clone(), onsets.clone()),
        };
        file.chronometric = Some(ChronometricAnalysis {
            onset: onset_name.clone(),
            threshold,
            channels: choices
                .among
                .iter()
                .map(|&k| shape.outputs[k].clone())
                .collect(),
            x: x_label,
            responded: rt.iter().filter(|r| r.is_some()).count(),
            trials: b,
            points: chronometric_curve(&x, &rt)
                .into_iter()
                .map(|level| ReactionTimePoint {
                    value: level.value,
                    mean_rt: level.mean_rt,
                    sem: level.sem,
                    n: level.responded,
                    no_response: level.no_response,
                })
                .collect(),
        });
    }

    let grouping = match grouping(config, trials)? {
        Some((name, values)) => {
            let lv = levels(&values);
            let credit = trials.credit.clone().or_else(|| {
                trials
                    .correct
                    .as_ref()
                    .map(|c| c.iter().map(|&ok| f64::from(u8::from(ok))).collect())
            });
            if let Some(credit) = &credit {
                let groups = lv
                    .iter()
                    .filter_map(|&level| {
                        let (mut count, mut right) = (0usize, 0.0f64);
                        for (v, c) in values.iter().zip(credit) {
                            if *v == level {
                                count += 1;
                                right += c;
                            }
                        }
                        (count > 0).then(|| ConditionAccuracy {
                            value: level_value(&name, level, trials),
                            trials: count,
                            accuracy: right / count as f64,
                        })
                    })
                    .collect();
                file.accuracy_by = Some(AccuracyByCondition {
                    condition: name.clone(),
                    groups,
                });
            }
            Some(ConditionGroups {
                labels: lv.iter().map(|&v| level_label(&name, v, trials)).collect(),
                means: mean_by_level(&trials.rates, b, t, n, &values, &lv),
                levels: lv,
                name,
            })
        }
        None => None,
    };

    let pca_arrays = if n >= 2 && b * t >= 2 {
        let p = pca(&trials.rates, b * t, n, MAX_COMPONENTS.min(n))?;
        let k = p.components.len();
        let projected = grouping.as_ref().filter(|g| g.levels.len() <= 12);
        let projection = projected.map(|g| {
            g.means
                .iter()
                .flat_map(|m| (0..t).flat_map(|s| p.project(&m[s * n..(s + 1) * n])))
                .collect::<Vec<f64>>()
        });
        debug_assert!(projection
            .as_ref()
            .is_none_or(|v| v.len() == projected.map_or(0, |g| g.levels.len()) * t * k));
        file.pca = Some(PcaAnalysis {
            observations: b * t,
            units: n,
            explained_variance_ratio: p.explained_ratio.clone(),
            arrays: "analysis.npz".into(),
            projected_by: projected.map(|g| g.name.clone()),
        });
        Some(RatePca {
            levels: projected.map(|g| g.levels.clone()).unwrap_or_default(),
            projection,
            pca: p,
        })
    } else {
        None
    };

    if let Some(saved) = fixed_points {
        if saved.x.iter().all(|x| x.len() == n) {
            let points: Vec<FixedPointLocation> = saved
                .x
                .iter()
                .enumerate()
                .map(|(i, x)| FixedPointLocation {
                    q: saved.q[i],
                    stable: saved.stable[i],
                    hits: saved.hits.as_ref().map(|h| h[i]),
                    pc: pca_arrays.as_ref().map(|a| {
                        // Fixed points are states; the PCA is over rates.
                        let r: Vec<f64> = x
                            .iter()
                            .map(|&v| config.model.transfer().apply_scalar(v))
                            .collect();
                        let pc = a.pca.project(&r);
                        (pc[0], pc[1])
                    }),
                    state: x.clone(),
                })
                .collect();
            file.fixed_points = Some(FixedPointsAnalysis {
                count: points.len(),
                stable: points.iter().filter(|p| p.stable).count(),
                raw_hits: saved.raw_hits,
                merge_distance: saved.merge_distance,
                input: saved.input.clone(),
                points,
            });
        }
    }

    file.tdr = tdr_section(config, trials)?;

    Ok(RunAnalysis {
        file,
        psychometric_x_range,
        grouping,
        pca: pca_arrays,
    })
}

/// Each trial's choice among output channels `among`: the one with the largest mask-weighted
/// mean output (ties go to the first listed).
/// The targeted dimensionality reduction of `report.tdr` (none without it).
fn tdr_section(
    config: &ExperimentConfig,
    trials: &TrialRecord,
) -> Result<Option<crate::run_dir::TdrAnalysis>, RunAnalysisError> {
    let Some(settings) = &config.report.tdr else {
        return Ok(None);
    };
    match crate::analysis::tdr::analyse_tdr(trials, settings) {
        Ok(t) => Ok(Some(t)),
        Err(crate::analysis::tdr::TdrError::Setting(m)) => Err(RunAnalysisError::Setting(m)),
        Err(e) => Err(RunAnalysisError::Tdr(e)),
    }
}

/// The psychometric fit of the choices in `outputs` ([B, T, N_out] on `trials`' trials: the
/// record's own or an earlier curriculum stage's) against `x`.
fn psychometric_fit(
    trials: &TrialRecord,
    outputs: &[f32],
    choices: &crate::experiment::Choices,
    output_names: &[String],
    x_label: &str,
    x: &[f64],
) -> Result<PsychometricAnalysis, RunAnalysisError> {
    let (b, t) = (trials.n_trials, trials.n_steps);
    let all: Vec<usize> = (0..trials.n_out).collect();
    let chosen = if choices.among == all {
        argmax_choices(outputs, &trials.mask, b, t, trials.n_out)
    } else {
        choices_among(trials, outputs, &choices.among)?
    };
    let channel = choices.counted;
    let y: Vec<bool> = chosen.iter().map(|&c| c == channel).collect();
    let fit = fit_psychometric(x, &y)?;
    Ok(PsychometricAnalysis {
        x: x_label.to_string(),
        choice_channel: channel,
        choice_name: output_names
            .get(channel)
            .cloned()
            .unwrap_or_else(|| format!("channel {channel}")),
        trials: fit.trials,
        intercept: fit.logistic.intercept,
        slope: fit.logistic.slope,
        intercept_se: fit.intercept_se,
        slope_se: fit.slope_se,
        threshold: fit.logistic.threshold(),
        separable: fit.separation != Separation::Overlapping,
        note: separation_note(fit.separation),
        points: choice_curve(x, &y)
            .into_iter()
            .map(|p| ChoiceFraction {
                x: p.x,
                trials: p.n,
                p_choice: p.p,
                sem: p.sem,
            })
            .collect(),
    })
}

fn choices_among(
    trials: &TrialRecord,
    outputs: &[f32],
    among: &[usize],
) -> Result<Vec<usize>, RunAnalysisError> {
    let (b, t, c) = (trials.n_trials, trials.n_steps, trials.n_out);
    if let Some(bad) = among.iter().find(|&&k| k >= c) {
        return Err(RunAnalysisError::Setting(format!("report.choice_channels: channel {bad} does not exist (the task has {c} outputs, 0 to {})", c - 1)));
    }
    if among.is_empty() {
        return Err(RunAnalysisError::Setting(
            "report.choice_channels is empty".into(),
        ));
    }
    let per = t * c;
    Ok((0..b)
        .map(|i| {
            let trial = i * per..(i + 1) * per;
            let values = &outputs[trial.clone()];
            among[argmax_channel(values, Some(&trials.mask[trial]), c, 0..t, among)]
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::psychometric::fit_psychometric;

    fn file() -> AnalysisFile {
        AnalysisFile {
            format_version: crate::run_dir::FORMAT_VERSION,
            test_trials: 6,
            accuracy: 1.0,
            psychometric: None,
            accuracy_by: None,
            chronometric: None,
            pca: None,
            fixed_points: None,
            tdr: None,
            go_nogo: None,
            interval_timing: None,
            psychometric_matrix: None,
            task_variance: None,
            stages: None,
            omitted: Vec::new(),
        }
    }

    #[test]
    fn separable_choices_and_silent_trials_are_warned_about() {
        // Every negative x chose 0, every positive x chose 1: separable, the slope only a bound.
        let x = [-0.5, -0.2, -0.1, 0.1, 0.2, 0.5];
        let y = [false, false, false, true, true, true];
        let fit = fit_psychometric(&x, &y).unwrap();
        assert_eq!(fit.separation, Separation::Separable);
        let mut f = file();
        f.psychometric = Some(PsychometricAnalysis {
            x: "signed coherence".into(),
            choice_channel: 1,
            choice_name: "choice_1".into(),
            trials: 6,
            intercept: fit.logistic.intercept,
            slope: fit.logistic.slope,
            intercept_se: None,
            slope_se: None,
            threshold: fit.logistic.threshold(),
            separable: true,
            note: separation_note(fit.separation),
            points: choice_curve(&x, &y)
                .into_iter()
                .map(|p| ChoiceFraction {
                    x: p.x,
                    trials: p.n,
                    p_choice: p.p,
                    sem: p.sem,
                })
                .collect(),
        });
        f.chronometric = Some(ChronometricAnalysis {
            onset: "onset".into(),
            threshold: 0.5,
            channels: vec!["choice_0".into(), "choice_1".into()],
            x: "coherence".into(),
            responded: 4,
            trials: 6,
            points: vec![
                ReactionTimePoint {
                    value: 0.0,
                    mean_rt: None,
                    sem: None,
                    n: 0,
                    no_response: 2,
                },
                ReactionTimePoint {
                    value: 0.5,
                    mean_rt: Some(120.0),
                    sem: Some(4.0),
                    n: 4,
                    no_response: 0,
                },
            ],
        });
        let w = analysis_warnings(&f);
        assert_eq!(
            w,
            [
                format!("psychometric curve: the choices are perfectly separable along signed coherence, so the slope {:.2} is only the bound where the fit's ridge stopped it, not an estimate (analysis.yaml: separable: true)", fit.logistic.slope),
                "chronometric curve: 2 of 6 test trials never reached 0.5 on choice_0, choice_1 (2 at coherence = 0); the mean reaction times leave them out".to_string(),
            ]
        );
        // Overlapping choices and every trial responding: nothing to warn about.
        let mut quiet = f.clone();
        quiet.psychometric.as_mut().unwrap().separable = false;
        quiet.chronometric.as_mut().unwrap().responded = 6;
        assert!(analysis_warnings(&quiet).is_empty());
    }
}
