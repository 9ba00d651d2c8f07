//! The run's report: every figure a finished run supports, as PNG and SVG in `RUN/report/`,
//! tied together by `index.html`. The numbers come from [`crate::analysis::run_analysis`],
//! computed once and written to `analysis.yaml` / `analysis.npz` before anything is drawn.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::html::escape;
use super::{
    draw_trials, save, ChronometricFigure, PcaFigure, PsychometricFigure, ReportError,
    SpectrumFigure, StageCurve, StagePsychometricFigure, TrainingFigure, Trajectory, TrialPanel,
    UnitPanel, UnitsFigure, WeightsFigure,
};
use crate::analysis::conditions::{modulation, top_k};
use crate::analysis::psychometric::Logistic;
use crate::analysis::run_analysis::{analyse_run, analysis_warnings, RunAnalysisError};
use crate::experiment::ExperimentConfig;
use crate::linalg::EigenError;
use crate::model::RateRnnWeights;
use crate::run_dir::{write_atomic, RunDir, RunDirError};
use crate::trials_file::TrialRecord;

/// Why the report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RunReportError {
    /// The analysis failed (a `report.*` setting names what the trials lack, or a fit failed).
    #[error(transparent)]
    Analysis(#[from] RunAnalysisError),
    /// A run file could not be read or written.
    #[error(transparent)]
    RunDir(#[from] RunDirError),
    /// A figure could not be drawn.
    #[error(transparent)]
    Figure(#[from] ReportError),
    /// The spectrum of W_rec could not be computed.
    #[error("eigenvalues of W_rec: {0}")]
    Spectrum(#[from] EigenError),
    /// The report folder or index could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
}

impl RunReportError {
    /// True when the user can fix the cause (a `report.*` setting, a damaged run file): exit
    /// status 2.
    pub fn is_bad_input(&self) -> bool {
        match self {
            RunReportError::Analysis(RunAnalysisError::Setting(_)) => true,
            RunReportError::RunDir(e) => e.is_bad_input(),
            _ => false,
        }
    }
}

/// (iterations, loss, eval loss, accuracy, stage starts) from the run's history.csv.
fn read_history(run: &RunDir) -> Result<TrainingFigure, RunDirError> {
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

struct Entry {
    stem: &'static str,
    title: String,
    caption: String,
}

/// Computes the report's numbers once, writes them to `RUN/analysis.yaml` (and
/// `analysis.npz`), then draws every figure the run supports from them into `RUN/report/`
/// and writes `index.html`.
pub fn write_report(
    run: &RunDir,
    config: &ExperimentConfig,
    trials: &TrialRecord,
    weights: Option<&RateRnnWeights>,
) -> Result<PathBuf, RunReportError> {
    let fixed_points = run.read_fixed_points()?;
    let analysis = analyse_run(config, trials, fixed_points.as_ref())?;
    run.write_analysis_arrays(analysis.pca.as_ref().map(|p| p.arrays()).as_ref())?;
    run.write_analysis(&analysis.file)?;
    let dir = run.report_dir();
    std::fs::create_dir_all(&dir).map_err(|source| RunReportError::Write {
        path: dir.clone(),
        source,
    })?;
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
        .map(|i| TrialPanel {
            title: super::trials::conditions_title(i, &trials.trial_conditions(i)),
            inputs: trials.inputs[i * t * trials.n_in..(i + 1) * t * trials.n_in].to_vec(),
            targets: trials.targets[i * t * trials.n_out..(i + 1) * t * trials.n_out].to_vec(),
            mask: trials.mask[i * t * trials.n_out..(i + 1) * t * trials.n_out].to_vec(),
            epochs: Vec::new(),
            outputs: Some(
                trials.outputs[i * t * trials.n_out..(i + 1) * t * trials.n_out].to_vec(),
            ),
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

    if let (Some(stages), Some((lo, hi))) = (&analysis.file.stages, analysis.psychometric_x_range) {
        let curves: Vec<StageCurve> = stages
            .iter()
            .filter_map(|st| {
                let psy = st.psychometric.as_ref()?;
                let logistic = Logistic {
                    intercept: psy.intercept,
                    slope: psy.slope,
                };
                Some(StageCurve {
                    label: format!("{} ({})", st.stage, st.ended_at_iteration),
                    points: psy.points.iter().map(|p| (p.x, p.p_choice)).collect(),
                    curve: (0..=200)
                        .map(|i| {
                            let v = lo + (hi - lo) * i as f64 / 200.0;
                            (v, logistic.p(v))
                        })
                        .collect(),
                })
            })
            .collect();
        if let Some(psy) = stages.last().and_then(|s| s.psychometric.as_ref()) {
            save(
                &StagePsychometricFigure {
                    stages: curves,
                    x_label: psy.x.clone(),
                    y_label: format!("P(choose {})", psy.choice_name),
                },
                &dir.join("psychometric_stages"),
            )?;
            let each: Vec<String> = stages
                .iter()
                .filter_map(|st| {
                    let p = st.psychometric.as_ref()?;
                    let slope = if p.separable {
                        format!("slope ≥ {:.2}, separable", p.slope)
                    } else {
                        format!("slope {:.2}", p.slope)
                    };
                    Some(format!(
                        "{}: accuracy {:.3}, threshold {:.3}, {slope}",
                        st.stage, st.accuracy, p.threshold
                    ))
                })
                .collect();
            entries.push(Entry {
                stem: "psychometric_stages",
                title: "Psychometric curve by curriculum stage".into(),
                caption: format!(
                    "The network as each curriculum stage ended (the iteration in brackets), run on the same {} test trials of the experiment's task with the same noise; dots: fraction choosing {}, lines: logistic fits. {}.",
                    psy.trials,
                    psy.choice_name,
                    each.join("; ")
                ),
            });
        }
    }

    if let Some(chrono) = &analysis.file.chronometric {
        save(
            &ChronometricFigure {
                points: chrono
                    .points
                    .iter()
                    .filter_map(|p| Some((p.value, p.mean_rt?, p.sem?, p.n)))
                    .collect(),
                x_label: chrono.x.clone(),
            },
            &dir.join("chronometric"),
        )?;
        let missing = chrono.trials - chrono.responded;
        let silent = if missing == 0 {
            String::new()
        } else {
            let levels: Vec<String> = chrono
                .points
                .iter()
                .filter(|p| p.no_response > 0)
                .map(|p| format!("{} at {}", p.no_response, p.value))
                .collect();
            format!(
                " The {missing} trials without a response ({}) are left out of the means.",
                levels.join(", ")
            )
        };
        entries.push(Entry {
            stem: "chronometric",
            title: "Chronometric curve".into(),
            caption: format!(
                "Mean time from {} until a choice output ({}) first reaches {}, with s.e.m.; {} of {} trials responded.{silent}",
                chrono.onset,
                chrono.channels.join(", "),
                chrono.threshold,
                chrono.responded,
                chrono.trials
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

    if let Some(tdr) = &analysis.file.tdr {
        let slow = run.read_slow_points()?;
        let (figure, caption) = tdr_figure(tdr, slow.as_ref());
        save(&figure, &dir.join("tdr"))?;
        entries.push(Entry {
            stem: "tdr",
            title: "Regression subspace (targeted dimensionality reduction)".into(),
            caption,
        });
    }

    for (stem, title, caption) in super::draw_behaviour_figures(&analysis.file, &dir)? {
        entries.push(Entry {
            stem,
            title,
            caption,
        });
    }

    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{0} — psychrnn report</title>\n<style>body{{font-family:sans-serif;max-width:1150px;margin:2em auto;color:#222}} figure{{margin:2em 0}} img{{max-width:100%;border:1px solid #eee}} figcaption{{color:#444}} .warning{{background:#fff4e0;border-left:4px solid #e69f00;padding:.5em 1em}}</style></head>\n<body>\n<h1>{0}</h1>\n<p>{1} units, {2} test trials, accuracy {3:.3}. Each figure is also an SVG (click the image).</p>\n",
        escape(&config.name), config.model.n_rec, b, trials.accuracy()
    );
    for w in analysis_warnings(&analysis.file) {
        let _ = writeln!(
            html,
            "<p class=\"warning\"><strong>Warning:</strong> {}</p>",
            escape(&w)
        );
    }
    for e in &entries {
        let _ = writeln!(
            html,
            "<figure><h2>{}</h2><a href=\"{1}.svg\"><img src=\"{1}.png\" alt=\"{0}\"></a><figcaption>{2}</figcaption></figure>",
            escape(&e.title), e.stem, escape(&e.caption)
        );
    }
    html.push_str("</body></html>\n");
    let index = dir.join("index.html");
    write_atomic(&index, html.as_bytes()).map_err(|source| RunReportError::Write {
        path: index.clone(),
        source,
    })?;
    Ok(index)
}

/// The TDR figure and its caption from the analysis (and the slow points, when searched).
fn tdr_figure(
    tdr: &crate::run_dir::TdrAnalysis,
    slow: Option<&crate::run_dir::SlowPointsFile>,
) -> (super::TdrFigure, String) {
    let max_evidence = tdr
        .trajectories
        .iter()
        .fold(0.0_f64, |m, t| m.max(t.evidence.abs()))
        .max(1e-12);
    let mut contexts: Vec<&str> = Vec::new();
    for t in &tdr.trajectories {
        if !contexts.contains(&t.context.as_str()) {
            contexts.push(&t.context);
        }
    }
    let mut choices: Vec<f64> = tdr.trajectories.iter().map(|t| t.choice).collect();
    choices.sort_by(f64::total_cmp);
    choices.dedup();
    let (from, to) = tdr.stimulus_steps.unwrap_or((0, usize::MAX));
    let mut panels = Vec::new();
    for c in &contexts {
        for (sorted_by, axis) in [("motion", 1), ("colour", 2)] {
            let lines = tdr
                .trajectories
                .iter()
                .filter(|t| t.context == *c && t.sorted_by == sorted_by)
                .map(|t| super::TdrLine {
                    evidence: t.evidence / max_evidence,
                    first_choice: choices.first() == Some(&t.choice),
                    points: t
                        .coordinates
                        .iter()
                        .enumerate()
                        .filter(|(s, _)| (from..to).contains(s))
                        .map(|(_, x)| (x[0], x[axis]))
                        .collect(),
                })
                .collect();
            let slow_points = slow
                .and_then(|f| f.contexts.iter().find(|x| x.context == *c))
                .map(|x| {
                    x.points
                        .iter()
                        .map(|p| {
                            (
                                (p.coordinates[0], p.coordinates[axis]),
                                (p.right_direction[0], p.right_direction[axis]),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            panels.push(super::TdrPanel {
                title: format!("{c} context, sorted by {sorted_by}"),
                y_label: format!(
                    "{} axis",
                    tdr.axes.get(axis).map_or(sorted_by, |s| s.as_str())
                ),
                lines,
                slow_points,
            });
        }
    }
    let mut levels: Vec<f64> = tdr.trajectories.iter().map(|t| t.evidence).collect();
    levels.sort_by(f64::total_cmp);
    levels.dedup();
    let key = levels
        .iter()
        .map(|&v| (format!("{v}"), v / max_evidence))
        .collect();
    let choice_name = tdr.axes.first().map_or("choice", |s| s.as_str());
    let note = match (choices.first(), choices.get(1)) {
        (Some(a), Some(b)) => format!("filled end: {choice_name} = {a}, open: {choice_name} = {b}; black: slow points with their slowest direction"),
        _ => "black: slow points with their slowest direction".to_string(),
    };
    let ev: Vec<String> = tdr
        .axes
        .iter()
        .zip(&tdr.explained_variance)
        .zip(&tdr.max_norm_time_ms)
        .map(|((a, v), t)| format!("{a} {:.1}% (axis at {t:.0} ms)", 100.0 * v))
        .collect();
    let slow_text = match slow {
        Some(f) => {
            let parts: Vec<String> = f
                .contexts
                .iter()
                .map(|c| {
                    format!(
                        "{}: {} slow points, first PC {}",
                        c.context,
                        c.points.len(),
                        c.first_pc_fraction
                            .map_or("-".into(), |v| format!("{:.0}%", 100.0 * v))
                    )
                })
                .collect();
            format!(" Slow points (q < {:.0e}, from psychrnn fixedpoints --line-attractor) with a segment along the right eigenvector of their slowest eigenvalue: {}.", f.slow_q, parts.join("; "))
        }
        None => {
            " Run psychrnn fixedpoints RUN --line-attractor to add the slow points.".to_string()
        }
    };
    let caption = format!(
        "Condition-averaged rates of {} trials during the stimulus, projected on the orthogonalised regression axes (Mante et al. 2013); colour: the sorting coherence. Variance of the condition means explained: {}.{slow_text}",
        if tdr.correct_only { "correct" } else { "all (none scored correct)" },
        ev.join(", ")
    );
    (super::TdrFigure { panels, key, note }, caption)
}
