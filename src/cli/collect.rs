//! `psychrnn collect SWEEP_DIR`: one row per run in `sweep.csv` and a comparison report.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::CliError;
use psychrnn::report::html::escape;
use psychrnn::report::{save, ComparisonFigure, SettingResult};
use psychrnn::run_dir::{write_atomic, RunDir};
use psychrnn::sweep::{run_state, RunState, SweepPlan};

/// Arguments of `psychrnn collect`.
#[derive(Debug, Args)]
pub struct CollectArgs {
    /// The sweep folder.
    pub dir: PathBuf,
    /// Accuracy that counts as learned, for iterations to criterion.
    #[arg(long, default_value_t = 0.9)]
    pub criterion: f64,
}

/// The first evaluation iteration with accuracy ≥ `criterion`.
fn iterations_to(history: &[psychrnn::train::HistoryRow], criterion: f64) -> Option<f64> {
    history
        .iter()
        .find(|r| r.accuracy >= criterion)
        .map(|r| r.iteration as f64)
}

/// Runs `psychrnn collect`.
pub fn execute(args: &CollectArgs) -> Result<(), CliError> {
    let plan = super::sweep::read_plan(&args.dir)?;
    let csv_path = args.dir.join("sweep.csv");
    let mut table = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["run".to_string()];
    header.extend(plan.grid.iter().map(|g| g.to_string()));
    header.extend(
        [
            "seed",
            "state",
            "final_accuracy",
            "final_loss",
            "iterations",
            "wall_seconds",
            "iterations_to_criterion",
        ]
        .map(String::from),
    );
    let csv_error =
        |e: csv::Error| CliError::failed(anyhow::anyhow!("{}: {e}", csv_path.display()));
    table.write_record(&header).map_err(csv_error)?;
    let mut settings: Vec<SettingResult> = Vec::new();
    let mut done = 0;
    for run in &plan.runs {
        let dir = SweepPlan::run_dir(&args.dir, run);
        let state = run_state(&dir);
        let run_dir = RunDir::new(&dir);
        let summary = run_dir.read_summary().map_err(CliError::run_dir)?;
        let history = run_dir.read_history().map_err(CliError::run_dir)?;
        let to_criterion = iterations_to(&history, args.criterion);
        let state_text = match state {
            RunState::Done => "done",
            RunState::Unfinished => "unfinished",
            RunState::Pending => "pending",
        };
        let mut row = vec![run.name.clone()];
        for s in &run.settings {
            row.push(s.split_once('=').map_or("", |(_, v)| v).to_string());
        }
        let num = |v: Option<String>| v.unwrap_or_default();
        row.push(run.seed.to_string());
        row.push(state_text.into());
        row.push(num(summary.as_ref().map(|s| s.final_accuracy.to_string())));
        row.push(num(summary.as_ref().map(|s| s.final_loss.to_string())));
        row.push(num(summary.as_ref().map(|s| s.iterations.to_string())));
        row.push(num(summary.as_ref().map(|s| s.wall_seconds.to_string())));
        row.push(num(to_criterion.map(|v| v.to_string())));
        table.write_record(&row).map_err(csv_error)?;
        let Some(summary) = summary.filter(|_| state == RunState::Done) else {
            continue;
        };
        done += 1;
        let label = psychrnn::sweep::setting_label(&run.settings);
        let label = if label.is_empty() {
            "all".to_string()
        } else {
            label
        };
        let i = match settings.iter().position(|s| s.label == label) {
            Some(i) => i,
            None => {
                settings.push(SettingResult {
                    label,
                    accuracy: vec![],
                    iterations_to_criterion: vec![],
                });
                settings.len() - 1
            }
        };
        settings[i].accuracy.push(summary.final_accuracy);
        settings[i].iterations_to_criterion.push(to_criterion);
    }
    let bytes = table
        .into_inner()
        .map_err(|e| CliError::failed(anyhow::anyhow!("{}: {e}", csv_path.display())))?;
    write_atomic(&csv_path, &bytes)
        .with_context(|| format!("cannot write {}", csv_path.display()))
        .map_err(CliError::failed)?;
    let report = args.dir.join("report");
    std::fs::create_dir_all(&report)
        .with_context(|| format!("cannot create {}", report.display()))
        .map_err(CliError::failed)?;
    save(
        &ComparisonFigure {
            settings: settings.clone(),
            criterion: args.criterion,
        },
        &report.join("comparison"),
    )
    .map_err(CliError::failed)?;
    let mut html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>sweep — psychrnn</title></head><body style=\"font-family:sans-serif;max-width:1150px;margin:2em auto\">\n<h1>Sweep of {}</h1>\n<p>{done} of {} runs done. Table: <a href=\"../sweep.csv\">sweep.csv</a>.</p>\n<figure><a href=\"comparison.svg\"><img src=\"comparison.png\" style=\"max-width:100%\"></a><figcaption>Test accuracy and iterations until an evaluation reached accuracy {} for each setting; dots are seeds, bars means.</figcaption></figure>\n<table border=\"1\" cellpadding=\"4\" style=\"border-collapse:collapse\"><tr><th>setting</th><th>seeds</th><th>accuracy (mean ± sd)</th><th>reached criterion</th></tr>\n",
        escape(&plan.script),
        plan.runs.len(),
        args.criterion
    );
    for s in &settings {
        let n = s.accuracy.len() as f64;
        let mean = s.accuracy.iter().sum::<f64>() / n;
        let sd = if n > 1.0 {
            (s.accuracy.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
        } else {
            0.0
        };
        let reached = s
            .iterations_to_criterion
            .iter()
            .filter(|v| v.is_some())
            .count();
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{mean:.3} ± {sd:.3}</td><td>{reached} of {}</td></tr>",
            escape(&s.label),
            s.accuracy.len(),
            s.accuracy.len()
        );
    }
    html.push_str("</table></body></html>\n");
    write_atomic(&report.join("index.html"), html.as_bytes()).map_err(CliError::failed)?;
    outln!(
        "{done} of {} runs collected into {} and {}",
        plan.runs.len(),
        csv_path.display(),
        report.join("index.html").display()
    );
    Ok(())
}
