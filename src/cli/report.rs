//! `psychrnn report RUN_DIR`: the figures a scientist looks at after training, as PNG and
//! SVG, with `report/index.html` tying them together. Also run at the end of `psychrnn run`.
//! The numbers are computed once into `analysis.yaml` (and `analysis.npz`) and the figures
//! drawn from them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use candle_core::{Device, Tensor};
use clap::Args;

use super::CliError;
use crate::analysis::chronometric::{chronometric_curve, reaction_times};
use crate::analysis::conditions::{levels, mean_by_level, modulation, top_k};
use crate::analysis::pca::pca;
use crate::analysis::psychometric::{choice_curve, fit_psychometric, Logistic, Separation};
use crate::experiment::ExperimentConfig;
use crate::model::{read_npz, NpyArray, RateRnnWeights};
use crate::report::html::escape;
use crate::report::{
    draw_trials, save, ChronometricFigure, PcaFigure, PsychometricFigure, SpectrumFigure,
    TrainingFigure, Trajectory, TrialPanel, UnitPanel, UnitsFigure, WeightsFigure,
};
use crate::run_dir::{
    write_atomic, write_atomic_with, AccuracyByCondition, AnalysisFile, ChoiceFraction,
    ChronometricAnalysis, ConditionAccuracy, ConditionLabel, FixedPointLocation,
    FixedPointsAnalysis, PcaAnalysis, PsychometricAnalysis, ReactionTimePoint, RunDir,
};
use crate::task::{argmax_channel, argmax_choices};
use crate::trials_file::TrialRecord;

/// Arguments of `psychrnn report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A run directory written by `psychrnn run`.
    pub run: PathBuf,
    /// The task script, if trials.npz must be made and the recorded script moved.
    #[arg(long)]
    pub script: Option<PathBuf>,
}

/// Runs `psychrnn report`.
pub fn execute(args: &ReportArgs) -> Result<(), CliError> {
    let trials_path = RunDir::new(&args.run).trials();
    if !trials_path.exists() {
        super::test::execute(&super::test::TestArgs {
            run: args.run.clone(),
            trials: RunDir::new(&args.run)
                .read_record()
                .map_err(CliError::run_dir)?
                .experiment
                .train
                .test_trials,
            script: args.script.clone(),
            seed: None,
            out: None,
        })?;
    }
    let trained = super::trained_run::open(&args.run, args.script.as_deref())?;
    let trials = TrialRecord::read(&trials_path).map_err(|m| CliError::input(anyhow!(m)))?;
    let weights = match trained.network.rate_weights() {
        Some(w) => Some(w.map_err(CliError::failed)?),
        None => None,
    };
    let index = write_report(
        &trained.run,
        &trained.record.experiment,
        &trials,
        weights.as_ref(),
    )
    .map_err(CliError::failed)?;
    outln!("report written to {}", index.display());
    Ok(())
}

/// (x label, the x value of every trial) for the psychometric curve, if configured.
fn psychometric_x(
    config: &ExperimentConfig,
    trials: &TrialRecord,
) -> anyhow::Result<Option<(String, Vec<f64>)>> {
    let Some(name) = &config.report.psychometric else {
        return Ok(None);
    };
    let known = || {
        trials
            .conditions
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    };
    let x = trials.conditions.get(name).ok_or_else(|| {
        anyhow!(
            "report.psychometric: no condition `{name}`; the trials have: {}",
            known()
        )
    })?;
    match &config.report.psychometric_sign {
        None => Ok(Some((name.clone(), x.clone()))),
        Some(sign) => {
            let s = trials.conditions.get(sign).ok_or_else(|| {
                anyhow!(
                    "report.psychometric_sign: no condition `{sign}`; the trials have: {}",
                    known()
                )
            })?;
            let signed = x
                .iter()
                .zip(s)
                .map(|(x, s)| if *s == 0.0 { -x } else { *x })
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
) -> anyhow::Result<Option<(String, Vec<f64>)>> {
    if let Some(c) = &config.report.condition {
        let Some(v) = trials.conditions.get(c) else {
            return Err(anyhow!(
                "report.condition: no condition `{c}`; the trials have: {}",
                trials
                    .conditions
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
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

/// (iterations, loss, eval loss, accuracy, stage starts) from the run's history.csv.
fn read_history(run: &RunDir) -> anyhow::Result<TrainingFigure> {
    let rows = run.read_history()?;
    let mut fig = TrainingFigure {
        iterations: vec![],
        loss: vec![],
        eval_loss: vec![],
        accuracy: vec![],
        stages: vec![],
    };
    let mut last_stage: Option<&str> = None;
    for row in &rows {
        fig.iterations.push(row.iteration as f64);
        fig.loss.push(row.loss);
        fig.eval_loss.push(row.eval_loss);
        fig.accuracy.push(row.accuracy);
        if last_stage.is_some_and(|s| s != row.stage) {
            // The stage began after the previous evaluation.
            let prev = fig.iterations[fig.iterations.len() - 2];
            fig.stages.push((row.stage.clone(), prev));
        }
        last_stage = Some(&row.stage);
    }
    Ok(fig)
}

/// Fixed points saved by `psychrnn fixedpoints`.
struct SavedFixedPoints {
    /// [K][N] states.
    x: Vec<Vec<f64>>,
    /// [K] speeds.
    q: Vec<f64>,
    /// [K].
    stable: Vec<bool>,
    /// [K] hits merged into each point (absent in older files).
    hits: Option<Vec<usize>>,
    /// Hits before merging (absent in older files).
    raw_hits: Option<usize>,
    /// The merge distance (absent in older files).
    merge_distance: Option<f64>,
    /// The constant input they were found for.
    input: Vec<f64>,
}

fn read_fixed_points(path: &Path) -> Option<SavedFixedPoints> {
    let entries = read_npz(path).ok()?;
    let numeric = |name: &str| match entries.get(name) {
        Some(NpyArray::Numeric(_, v)) => Some(v.clone()),
        _ => None,
    };
    let Some(NpyArray::Numeric(shape, x)) = entries.get("x") else {
        return None;
    };
    let stable = numeric("stable")?;
    let k = *shape.first()?;
    let n = *shape.get(1)?;
    let q = numeric("q").unwrap_or_else(|| vec![f64::NAN; k]);
    if stable.len() != k || q.len() != k || x.len() != k * n {
        return None;
    }
    let hits = numeric("hits")
        .filter(|h| h.len() == k)
        .map(|h| h.iter().map(|&v| v as usize).collect());
    let scalar = |name: &str| numeric(name).and_then(|v| v.first().copied());
    Some(SavedFixedPoints {
        x: if n == 0 {
            vec![Vec::new(); k]
        } else {
            x.chunks(n).map(|c| c.to_vec()).collect()
        },
        q,
        stable: stable.iter().map(|s| *s != 0.0).collect(),
        hits,
        raw_hits: scalar("raw_hits").map(|v| v as usize),
        merge_distance: scalar("merge_distance"),
        input: numeric("input").unwrap_or_default(),
    })
}

struct Entry {
    stem: &'static str,
    title: String,
    caption: String,
}

/// Trials grouped by one condition's levels, with the rates averaged per level.
struct Grouping {
    /// The condition's name (e.g. `coherence`, `signed coherence`).
    name: String,
    /// Its distinct values, sorted.
    levels: Vec<f64>,
    /// Legend text of each level.
    labels: Vec<String>,
    /// Per level, the mean rates [T × N].
    means: Vec<Vec<f64>>,
}

/// The PCA arrays that go to analysis.npz (the yaml holds the explained variance).
struct PcaArrays {
    /// The fitted components and mean.
    pca: crate::analysis::pca::Pca,
    /// [levels, T, k] condition-averaged rates projected, when trials are grouped.
    projection: Option<Vec<f64>>,
    /// The levels the projection's rows are.
    levels: Vec<f64>,
}

/// Everything the report shows, computed once: written to analysis.yaml and analysis.npz,
/// then drawn.
struct ReportAnalysis {
    file: AnalysisFile,
    psychometric_x_range: Option<(f64, f64)>,
    grouping: Option<Grouping>,
    pca: Option<PcaArrays>,
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

/// The ridge of [`crate::analysis::psychometric::fit_logistic`], as the note quotes it.
const RIDGE_TEXT: &str = "1e-6 in standardised x";

/// Computes the report's numbers from the trials (and fixed_points.npz when present).
fn analyse(
    run: &RunDir,
    config: &ExperimentConfig,
    trials: &TrialRecord,
) -> anyhow::Result<ReportAnalysis> {
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
    };
    let mut psychometric_x_range = None;

    if let Some((x_label, x)) = psychometric_x(config, trials)? {
        let chosen = match &config.report.choice_channels {
            None => argmax_choices(&trials.outputs, &trials.mask, b, t, trials.n_out),
            Some(among) => choices_among(trials, among)?,
        };
        let channel = config.report.choice_channel;
        let y: Vec<bool> = chosen.iter().map(|&c| c == channel).collect();
        let fit = fit_psychometric(&x, &y).map_err(|e| anyhow!("psychometric fit: {e}"))?;
        psychometric_x_range = Some(
            x.iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                    (a.min(*v), b.max(*v))
                }),
        );
        file.psychometric = Some(PsychometricAnalysis {
            x: x_label,
            choice_channel: channel,
            choice_name: shape
                .outputs
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
    }

    if let Some(onset_name) = &config.report.reaction_time_onset {
        let onsets = trials.conditions.get(onset_name).ok_or_else(|| {
            anyhow!(
                "report.reaction_time_onset: no condition `{onset_name}`; the trials have: {}",
                trials
                    .conditions
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
        let threshold = config.report.reaction_time_threshold;
        let rt = reaction_times(
            &trials.outputs,
            b,
            t,
            trials.n_out,
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
            x: x_label,
            responded: rt.iter().filter(|r| r.is_some()).count(),
            trials: b,
            points: chronometric_curve(&x, &rt)
                .into_iter()
                .map(|(value, mean_rt, sem, n)| ReactionTimePoint {
                    value,
                    mean_rt,
                    sem,
                    n,
                })
                .collect(),
        });
    }

    let grouping = match grouping(config, trials)? {
        Some((name, values)) => {
            let lv = levels(&values);
            if let Some(correct) = &trials.correct {
                let groups = lv
                    .iter()
                    .filter_map(|&level| {
                        let (mut count, mut right) = (0usize, 0usize);
                        for (v, ok) in values.iter().zip(correct) {
                            if *v == level {
                                count += 1;
                                right += usize::from(*ok);
                            }
                        }
                        (count > 0).then(|| ConditionAccuracy {
                            value: level_value(&name, level, trials),
                            trials: count,
                            accuracy: right as f64 / count as f64,
                        })
                    })
                    .collect();
                file.accuracy_by = Some(AccuracyByCondition {
                    condition: name.clone(),
                    groups,
                });
            }
            Some(Grouping {
                labels: lv.iter().map(|&v| level_label(&name, v, trials)).collect(),
                means: mean_by_level(&trials.rates, b, t, n, &values, &lv),
                levels: lv,
                name,
            })
        }
        None => None,
    };

    let pca_arrays = if n >= 2 && b * t >= 2 {
        let rows: Vec<f64> = trials.rates.iter().map(|&v| v as f64).collect();
        let p = pca(&rows, b * t, n, MAX_COMPONENTS.min(n))?;
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
        Some(PcaArrays {
            levels: projected.map(|g| g.levels.clone()).unwrap_or_default(),
            projection,
            pca: p,
        })
    } else {
        None
    };

    if let Some(saved) = read_fixed_points(&run.fixed_points()) {
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
                input: saved.input,
                points,
            });
        }
    }

    Ok(ReportAnalysis {
        file,
        psychometric_x_range,
        grouping,
        pca: pca_arrays,
    })
}

/// Writes analysis.yaml and analysis.npz (removing an analysis.npz left from before when
/// there is no PCA).
fn write_analysis(run: &RunDir, analysis: &ReportAnalysis) -> anyhow::Result<()> {
    let arrays = run.analysis_arrays();
    match &analysis.pca {
        Some(a) => {
            let cpu = Device::Cpu;
            let (k, n) = (a.pca.components.len(), a.pca.mean.len());
            let mut tensors = vec![
                (
                    "pca_components",
                    Tensor::from_vec(a.pca.components.concat(), (k, n), &cpu)?,
                ),
                ("pca_mean", Tensor::from_vec(a.pca.mean.clone(), n, &cpu)?),
                (
                    "pca_explained_variance_ratio",
                    Tensor::from_vec(a.pca.explained_ratio.clone(), k, &cpu)?,
                ),
            ];
            if let Some(p) = &a.projection {
                let levels = a.levels.len();
                let steps = p.len() / (levels * k).max(1);
                tensors.push((
                    "pca_projection",
                    Tensor::from_vec(p.clone(), (levels, steps, k), &cpu)?,
                ));
                tensors.push((
                    "pca_levels",
                    Tensor::from_vec(a.levels.clone(), levels, &cpu)?,
                ));
            }
            write_atomic_with(&arrays, |tmp| crate::npz_file::write_npz(&tensors, tmp))
                .with_context(|| format!("cannot write {}", arrays.display()))?;
        }
        None => {
            if arrays.exists() {
                std::fs::remove_file(&arrays)
                    .with_context(|| format!("cannot remove {}", arrays.display()))?;
            }
        }
    }
    run.write_analysis(&analysis.file)?;
    Ok(())
}

/// Computes the report's numbers once, writes them to `RUN/analysis.yaml` (and
/// `analysis.npz`), then draws every figure the run supports from them into `RUN/report/`
/// and writes `index.html`.
pub fn write_report(
    run: &RunDir,
    config: &ExperimentConfig,
    trials: &TrialRecord,
    weights: Option<&RateRnnWeights>,
) -> anyhow::Result<PathBuf> {
    let analysis = analyse(run, config, trials)?;
    write_analysis(run, &analysis)?;
    let dir = run.report_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut entries = Vec::new();
    let (b, t, n) = (trials.n_trials, trials.n_steps, trials.n_rec);

    let history = read_history(run)?;
    let final_acc = history.accuracy.last().cloned().unwrap_or(f64::NAN);
    save(&history, &dir.join("training"))?;
    entries.push(Entry {
        stem: "training",
        title: "Training".into(),
        caption: format!(
            "Loss (log scale) and accuracy on fresh evaluation trials over {} iterations; last evaluation accuracy {final_acc:.3}. Dashed lines: curriculum stages.",
            history.iterations.last().cloned().unwrap_or(0.0)
        ),
    });

    let shape = config.task.shape();
    let k = config.report.example_trials.min(b).max(1);
    let panels: Vec<TrialPanel> = (0..k)
        .map(|i| {
            let c: crate::task::Conditions = trials
                .conditions
                .iter()
                .map(|(name, v)| (name.clone(), crate::task::ConditionValue::Number(v[i])))
                .collect();
            TrialPanel {
                title: super::trials::conditions_title(i, &c),
                inputs: trials.inputs[i * t * trials.n_in..(i + 1) * t * trials.n_in].to_vec(),
                targets: trials.targets[i * t * trials.n_out..(i + 1) * t * trials.n_out].to_vec(),
                mask: trials.mask[i * t * trials.n_out..(i + 1) * t * trials.n_out].to_vec(),
                epochs: Vec::new(),
                outputs: Some(
                    trials.outputs[i * t * trials.n_out..(i + 1) * t * trials.n_out].to_vec(),
                ),
            }
        })
        .collect();
    for ext in ["png", "svg"] {
        draw_trials(
            &dir.join(format!("trials.{ext}")),
            &panels,
            trials.dt,
            &shape.inputs,
            &shape.outputs,
        )?;
    }
    entries.push(Entry {
        stem: "trials",
        title: "Example trials".into(),
        caption: format!("Inputs (left) and targets (dashed) with the network's outputs (solid, right) on {k} test trials; grey spans are not scored."),
    });

    if let (Some(psy), Some((lo, hi))) =
        (&analysis.file.psychometric, analysis.psychometric_x_range)
    {
        let logistic = Logistic {
            intercept: psy.intercept,
            slope: psy.slope,
        };
        let curve = (0..=200)
            .map(|i| {
                let v = lo + (hi - lo) * i as f64 / 200.0;
                (v, logistic.p(v))
            })
            .collect();
        let fit_text = if psy.separable {
            format!(
                "logistic fit: threshold {:.3}, slope ≥ {:.2} (separable data: a lower bound)",
                psy.threshold, psy.slope
            )
        } else {
            match psy.slope_se {
                Some(se) => format!(
                    "logistic fit: threshold {:.3}, slope {:.2} ± {se:.2} (s.e.)",
                    psy.threshold, psy.slope
                ),
                None => format!(
                    "logistic fit: threshold {:.3}, slope {:.2}",
                    psy.threshold, psy.slope
                ),
            }
        };
        let out_name = &psy.choice_name;
        save(
            &PsychometricFigure {
                points: psy
                    .points
                    .iter()
                    .map(|p| (p.x, p.p_choice, p.sem, p.trials))
                    .collect(),
                curve,
                x_label: psy.x.clone(),
                y_label: format!("P(choose {out_name})"),
                fit_text: fit_text.clone(),
            },
            &dir.join("psychometric"),
        )?;
        let note = psy
            .note
            .as_ref()
            .map(|n| format!(" Note: {n}."))
            .unwrap_or_default();
        entries.push(Entry {
            stem: "psychometric",
            title: "Psychometric curve".into(),
            caption: format!("Fraction of {} test trials on which the network chose {out_name}, with s.e.m.; {fit_text} (P = 1/(1+e^−(a+bx)), a = {:.3}).{note}", psy.trials, psy.intercept),
        });
    }

    if let Some(chrono) = &analysis.file.chronometric {
        save(
            &ChronometricFigure {
                points: chrono
                    .points
                    .iter()
                    .map(|p| (p.value, p.mean_rt, p.sem, p.n))
                    .collect(),
                x_label: chrono.x.clone(),
            },
            &dir.join("chronometric"),
        )?;
        entries.push(Entry {
            stem: "chronometric",
            title: "Chronometric curve".into(),
            caption: format!(
                "Mean time from {} until an output first reaches {}, with s.e.m.; {} of {} trials responded.",
                chrono.onset, chrono.threshold, chrono.responded, chrono.trials
            ),
        });
    }

    if let Some(w) = weights {
        let n_exc = w.constraints().n_excitatory();
        save(
            &WeightsFigure {
                w_in: w.w_in.clone(),
                w_rec: w.w_rec.clone(),
                w_out: w.w_out.clone(),
                sizes: (w.n_in, w.n_rec, w.n_out),
                n_excitatory: n_exc,
            },
            &dir.join("weights"),
        )?;
        let w_rec: Vec<f64> = w.w_rec.iter().map(|&v| v as f64).collect();
        let eig = crate::linalg::eigenvalues(&w_rec, w.n_rec)?;
        let radius = eig.first().map_or(0.0, |(a, b)| a.hypot(*b));
        save(&SpectrumFigure { eigenvalues: eig }, &dir.join("spectrum"))?;
        let ei = match n_exc {
            Some(e) => format!(
                " Units 0–{} are excitatory and the rest inhibitory (lines).",
                e.saturating_sub(1)
            ),
            None => String::new(),
        };
        entries.push(Entry {
            stem: "weights",
            title: "Weights".into(),
            caption: format!(
                "Effective W_in, W_rec and W_out, blue negative, red positive, white 0.{ei}"
            ),
        });
        entries.push(Entry {
            stem: "spectrum",
            title: "Eigenvalue spectrum".into(),
            caption: format!("Eigenvalues of the effective W_rec; spectral radius {radius:.3}."),
        });
    }

    if let Some(g) = &analysis.grouping {
        let name = &g.name;
        if let Some((arrays, projection)) = analysis
            .pca
            .as_ref()
            .and_then(|a| a.projection.as_ref().map(|p| (a, p)))
        {
            let k = arrays.pca.components.len();
            let trajectories = g
                .labels
                .iter()
                .enumerate()
                .map(|(level, label)| Trajectory {
                    label: label.clone(),
                    colour: level,
                    points: (0..t)
                        .map(|s| {
                            let at = (level * t + s) * k;
                            (projection[at], projection[at + 1])
                        })
                        .collect(),
                })
                .collect();
            let (fixed_points, fp) = match &analysis.file.fixed_points {
                Some(saved) => {
                    let drawn: Vec<(f64, f64, bool)> = saved
                        .points
                        .iter()
                        .filter_map(|p| p.pc.map(|(a, b)| (a, b, p.stable)))
                        .collect();
                    let input: Vec<String> = saved.input.iter().map(|v| format!("{v}")).collect();
                    let hits = match saved.raw_hits {
                        Some(h) => format!(", merged from {h} hits"),
                        None => String::new(),
                    };
                    let text = if drawn.is_empty() {
                        String::new()
                    } else {
                        format!(" Black: {} fixed points of the dynamics with constant input [{}] (× stable, ○ unstable{hits}), from psychrnn fixedpoints.", drawn.len(), input.join(", "))
                    };
                    (drawn, text)
                }
                None => (Vec::new(), String::new()),
            };
            let ratio = &arrays.pca.explained_ratio;
            save(
                &PcaFigure {
                    trajectories,
                    explained: (ratio[0], ratio[1]),
                    fixed_points,
                },
                &dir.join("population"),
            )?;
            entries.push(Entry {
                stem: "population",
                title: "Population trajectories".into(),
                caption: format!(
                    "Firing rates averaged over trials with the same {name}, projected on the first two principal components of all rates ({:.0}% and {:.0}% of variance); ● start, ▲ end.{fp}",
                    100.0 * ratio[0], 100.0 * ratio[1]
                ),
            });
        }
        let units = top_k(&modulation(&g.means, t, n), config.report.units.min(n));
        let panels = units
            .iter()
            .map(|&u| UnitPanel {
                unit: u,
                curves: g
                    .labels
                    .iter()
                    .enumerate()
                    .map(|(k, label)| {
                        (
                            label.clone(),
                            k,
                            (0..t).map(|s| g.means[k][s * n + u]).collect(),
                        )
                    })
                    .collect(),
            })
            .collect();
        save(
            &UnitsFigure {
                panels,
                dt: trials.dt,
                condition: name.clone(),
            },
            &dir.join("units"),
        )?;
        entries.push(Entry {
            stem: "units",
            title: "Single units".into(),
            caption: format!("Mean firing rate over time, by {name}, of the {} units whose rates depend most on it (variance across levels, averaged over time).", units.len()),
        });
    }

    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{0} — psychrnn report</title>\n<style>body{{font-family:sans-serif;max-width:1150px;margin:2em auto;color:#222}} figure{{margin:2em 0}} img{{max-width:100%;border:1px solid #eee}} figcaption{{color:#444}}</style></head>\n<body>\n<h1>{0}</h1>\n<p>{1} units, {2} test trials, accuracy {3:.3}. Each figure is also an SVG (click the image).</p>\n",
        escape(&config.name), config.model.n_rec, b, trials.accuracy()
    );
    for e in &entries {
        let _ = writeln!(
            html,
            "<figure><h2>{}</h2><a href=\"{1}.svg\"><img src=\"{1}.png\" alt=\"{0}\"></a><figcaption>{2}</figcaption></figure>",
            escape(&e.title), e.stem, escape(&e.caption)
        );
    }
    html.push_str("</body></html>\n");
    let index = dir.join("index.html");
    write_atomic(&index, html.as_bytes())?;
    Ok(index)
}

/// Each trial's choice among output channels `among`: the one with the largest mask-weighted
/// mean output (ties go to the first listed).
fn choices_among(trials: &TrialRecord, among: &[usize]) -> anyhow::Result<Vec<usize>> {
    let (b, t, c) = (trials.n_trials, trials.n_steps, trials.n_out);
    if let Some(bad) = among.iter().find(|&&k| k >= c) {
        anyhow::bail!("report.choice_channels: channel {bad} does not exist (the task has {c} outputs, 0 to {})", c - 1);
    }
    if among.is_empty() {
        anyhow::bail!("report.choice_channels is empty");
    }
    let per = t * c;
    Ok((0..b)
        .map(|i| {
            let trial = i * per..(i + 1) * per;
            let values = &trials.outputs[trial.clone()];
            among[argmax_channel(values, Some(&trials.mask[trial]), c, 0..t, among)]
        })
        .collect())
}
