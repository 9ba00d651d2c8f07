//! Collecting a sweep's results: one row per run in `sweep.csv` (settings, seed, state, final
//! accuracy and loss, iterations, time, iterations to criterion) and a comparison report in
//! `report/` (`psychrnn collect`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::{run_state, setting_label, RunState, SweepError, SweepPlan};
use crate::report::html::escape;
use crate::report::{save, ComparisonFigure, SettingResult};
use crate::run_dir::RunDir;
use crate::train::HistoryRow;

/// What [`collect_sweep`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectedSweep {
    /// Runs in the sweep.
    pub runs: usize,
    /// Runs finished (the ones the comparison shows).
    pub done: usize,
    /// `sweep.csv`.
    pub table: PathBuf,
    /// `report/index.html`.
    pub index: PathBuf,
}

/// The first evaluation iteration with accuracy ≥ `criterion`.
pub fn iterations_to(history: &[HistoryRow], criterion: f64) -> Option<f64> {
    history
        .iter()
        .find(|r| r.accuracy >= criterion)
        .map(|r| r.iteration as f64)
}

/// Writes `DIR/sweep.csv` and `DIR/report/` for the sweep in `dir`; `criterion` is the
/// accuracy that counts as learned.
pub fn collect_sweep(dir: &Path, criterion: f64) -> Result<CollectedSweep, SweepError> {
    let plan = SweepPlan::read(dir)?;
    let csv_path = dir.join("sweep.csv");
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
    let csv_error = |e: csv::Error| SweepError::Table {
        path: csv_path.clone(),
        message: e.to_string(),
    };
    table.write_record(&header).map_err(csv_error)?;
    let mut settings: Vec<SettingResult> = Vec::new();
    let mut done = 0;
    for run in &plan.runs {
        let run_path = SweepPlan::run_dir(dir, run);
        let state = run_state(&run_path);
        let run_dir = RunDir::new(&run_path);
        let summary = run_dir.read_summary()?;
        let history = run_dir.read_history()?;
        let to_criterion = iterations_to(&history, criterion);
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
        let label = setting_label(&run.settings);
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
    let bytes = table.into_inner().map_err(|e| SweepError::Table {
        path: csv_path.clone(),
        message: e.to_string(),
    })?;
    crate::atomic_file::write_atomic(&csv_path, &bytes).map_err(|source| SweepError::Write {
        path: csv_path.clone(),
        source,
    })?;
    let report = dir.join("report");
    std::fs::create_dir_all(&report).map_err(|source| SweepError::Write {
        path: report.clone(),
        source,
    })?;
    save(
        &ComparisonFigure {
            settings: settings.clone(),
            criterion,
        },
        &report.join("comparison"),
    )?;
    let mut html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>sweep — psychrnn</title></head><body style=\"font-family:sans-serif;max-width:1150px;margin:2em auto\">\n<h1>Sweep of {}</h1>\n<p>{done} of {} runs done. Table: <a href=\"../sweep.csv\">sweep.csv</a>.</p>\n<figure><a href=\"comparison.svg\"><img src=\"comparison.png\" style=\"max-width:100%\"></a><figcaption>Test accuracy and iterations until an evaluation reached accuracy {} for each setting; dots are seeds, bars means.</figcaption></figure>\n<table border=\"1\" cellpadding=\"4\" style=\"border-collapse:collapse\"><tr><th>setting</th><th>seeds</th><th>accuracy (mean ± sd)</th><th>reached criterion</th></tr>\n",
        escape(&plan.script),
        plan.runs.len(),
        criterion
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
    let index = report.join("index.html");
    crate::atomic_file::write_atomic(&index, html.as_bytes()).map_err(|source| {
        SweepError::Write {
            path: index.clone(),
            source,
        }
    })?;
    Ok(CollectedSweep {
        runs: plan.runs.len(),
        done,
        table: csv_path,
        index,
    })
}
