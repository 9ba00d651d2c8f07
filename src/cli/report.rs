//! `psychrnn report RUN_DIR`: the figures a scientist looks at after training, as PNG and
//! SVG, with `report/index.html` tying them together. Also run at the end of `psychrnn run`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use clap::Args;

use super::CliError;
use crate::analysis::chronometric::{chronometric_curve, reaction_times};
use crate::analysis::conditions::{levels, mean_by_level, modulation, top_k};
use crate::analysis::pca::pca;
use crate::analysis::psychometric::{choice_curve, fit_logistic};
use crate::experiment::ExperimentConfig;
use crate::model::{read_npz, NpyArray, RateRnnWeights};
use crate::report::html::escape;
use crate::report::{
    draw_trials, save, ChronometricFigure, PcaFigure, PsychometricFigure, SpectrumFigure,
    TrainingFigure, Trajectory, TrialPanel, UnitPanel, UnitsFigure, WeightsFigure,
};
use crate::run_dir::{write_atomic, RunDir};
use crate::task::argmax_choices;
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
    /// [K].
    stable: Vec<bool>,
    /// The constant input they were found for.
    input: Vec<f64>,
}

fn read_fixed_points(path: &Path) -> Option<SavedFixedPoints> {
    let entries = read_npz(path).ok()?;
    let input = match entries.get("input") {
        Some(NpyArray::Numeric(_, v)) => v.clone(),
        _ => Vec::new(),
    };
    let (Some(NpyArray::Numeric(shape, x)), Some(NpyArray::Numeric(_, stable))) =
        (entries.get("x"), entries.get("stable"))
    else {
        return None;
    };
    let n = *shape.get(1)?;
    Some(SavedFixedPoints {
        x: x.chunks(n).map(|c| c.to_vec()).collect(),
        stable: stable.iter().map(|s| *s != 0.0).collect(),
        input,
    })
}

struct Entry {
    stem: &'static str,
    title: String,
    caption: String,
}

/// Draws every figure the run supports into `RUN/report/` and writes `index.html`.
pub fn write_report(
    run: &RunDir,
    config: &ExperimentConfig,
    trials: &TrialRecord,
    weights: Option<&RateRnnWeights>,
) -> anyhow::Result<PathBuf> {
    let dir = run.root().join("report");
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

    if let Some((x_label, x)) = psychometric_x(config, trials)? {
        let chosen = match &config.report.choice_channels {
            None => argmax_choices(&trials.outputs, &trials.mask, b, t, trials.n_out),
            Some(among) => choices_among(trials, among)?,
        };
        let channel = config.report.choice_channel;
        let y: Vec<bool> = chosen.iter().map(|&c| c == channel).collect();
        let points = choice_curve(&x, &y);
        let fit = fit_logistic(&x, &y).map_err(|e| anyhow!("psychometric fit: {e}"))?;
        let (lo, hi) = x
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(*v), b.max(*v))
            });
        let curve = (0..=200)
            .map(|i| {
                let v = lo + (hi - lo) * i as f64 / 200.0;
                (v, fit.p(v))
            })
            .collect();
        let out_name = shape
            .outputs
            .get(channel)
            .cloned()
            .unwrap_or_else(|| format!("channel {channel}"));
        let fit_text = format!(
            "logistic fit: threshold {:.3}, slope {:.2}",
            fit.threshold(),
            fit.slope
        );
        save(
            &PsychometricFigure {
                points: points.iter().map(|p| (p.x, p.p, p.sem, p.n)).collect(),
                curve,
                x_label,
                y_label: format!("P(choose {out_name})"),
                fit_text: fit_text.clone(),
            },
            &dir.join("psychometric"),
        )?;
        entries.push(Entry {
            stem: "psychometric",
            title: "Psychometric curve".into(),
            caption: format!("Fraction of {b} test trials on which the network chose {out_name}, with s.e.m.; {fit_text} (P = 1/(1+e^−(a+bx)), a = {:.3}).", fit.intercept),
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
        let points = chronometric_curve(&x, &rt);
        let responded = rt.iter().filter(|r| r.is_some()).count();
        save(
            &ChronometricFigure { points, x_label },
            &dir.join("chronometric"),
        )?;
        entries.push(Entry {
            stem: "chronometric",
            title: "Chronometric curve".into(),
            caption: format!(
                "Mean time from {onset_name} until an output first reaches {threshold}, with s.e.m.; {responded} of {b} trials responded."
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

    if let Some((name, values)) = grouping(config, trials)? {
        let values = &values;
        let lv = levels(values);
        let means = mean_by_level(&trials.rates, b, t, n, values, &lv);
        if n >= 2 && lv.len() <= 12 {
            let rows: Vec<f64> = trials.rates.iter().map(|&v| v as f64).collect();
            let p = pca(&rows, b * t, n, 2)?;
            let trajectories = lv
                .iter()
                .enumerate()
                .map(|(k, &v)| Trajectory {
                    label: level_label(&name, v, trials),
                    colour: k,
                    points: (0..t)
                        .map(|s| {
                            let pc = p.project(&means[k][s * n..(s + 1) * n]);
                            (pc[0], pc[1])
                        })
                        .collect(),
                })
                .collect();
            let mut fp_input = Vec::new();
            let fixed_points = match read_fixed_points(&run.root().join("fixed_points.npz")) {
                Some(saved) => {
                    fp_input = saved.input;
                    saved
                        .x
                        .iter()
                        .zip(saved.stable)
                        .filter(|(x, _)| x.len() == n)
                        .map(|(x, s)| {
                            // Fixed points are states; the PCA is over rates.
                            let r: Vec<f64> = x
                                .iter()
                                .map(|&v| config.model.transfer().apply_scalar(v))
                                .collect();
                            let pc = p.project(&r);
                            (pc[0], pc[1], s)
                        })
                        .collect()
                }
                None => Vec::new(),
            };
            let n_fp = fixed_points.len();
            save(
                &PcaFigure {
                    trajectories,
                    explained: (p.explained_ratio[0], p.explained_ratio[1]),
                    fixed_points,
                },
                &dir.join("population"),
            )?;
            let fp = if n_fp > 0 {
                let input: Vec<String> = fp_input.iter().map(|v| format!("{v}")).collect();
                format!(" Black: {n_fp} fixed points of the dynamics with constant input [{}] (× stable, ○ unstable), from psychrnn fixedpoints.", input.join(", "))
            } else {
                String::new()
            };
            entries.push(Entry {
                stem: "population",
                title: "Population trajectories".into(),
                caption: format!(
                    "Firing rates averaged over trials with the same {name}, projected on the first two principal components of all rates ({:.0}% and {:.0}% of variance); ● start, ▲ end.{fp}",
                    100.0 * p.explained_ratio[0], 100.0 * p.explained_ratio[1]
                ),
            });
        }
        let units = top_k(&modulation(&means, t, n), config.report.units.min(n));
        let panels = units
            .iter()
            .map(|&u| UnitPanel {
                unit: u,
                curves: lv
                    .iter()
                    .enumerate()
                    .map(|(k, &v)| {
                        (
                            level_label(&name, v, trials),
                            k,
                            (0..t).map(|s| means[k][s * n + u]).collect(),
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
    Ok((0..b)
        .map(|i| {
            let sum = |k: usize| -> f64 {
                (0..t)
                    .map(|s| {
                        let at = (i * t + s) * c + k;
                        trials.outputs[at] as f64 * trials.mask[at] as f64
                    })
                    .sum()
            };
            let mut best = among[0];
            let mut best_sum = sum(best);
            for &k in &among[1..] {
                let v = sum(k);
                if v > best_sum {
                    best = k;
                    best_sum = v;
                }
            }
            best
        })
        .collect())
}
