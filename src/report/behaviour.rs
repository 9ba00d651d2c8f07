//! Figures of the classic behavioural and multitask results: produced against target
//! intervals (ready-set-go), the psychometric matrix over two conditions (Romo), go/no-go
//! rates, and the units × tasks task-variance map sorted by cluster (Yang et al. 2019).
//! Every colour comes from [`series_colour`] or [`cell_colour`], so the palette can change in
//! one place.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::figure::{
    condition_colour, diverging, draw_legend, err, polyline_steps, DrawError, Figure,
};
use crate::run_dir::{
    GoNogoAnalysis, IntervalTimingAnalysis, PsychometricMatrixAnalysis, TaskVarianceAnalysis,
};

/// The colour of series `k` in these figures.
fn series_colour(k: usize) -> RGBColor {
    condition_colour(k)
}

/// The colour of a heat-map cell holding `v` in [0, 1] (white at 0 for `from_zero`, else
/// white at 0.5).
fn cell_colour(v: f64, from_zero: bool) -> RGBColor {
    if from_zero {
        diverging(v)
    } else {
        diverging(2.0 * v - 1.0)
    }
}

/// Black or white text, whichever reads on `c`.
fn text_on(c: RGBColor) -> RGBColor {
    let luma = 0.299 * f64::from(c.0) + 0.587 * f64::from(c.1) + 0.114 * f64::from(c.2);
    if luma < 128.0 {
        WHITE
    } else {
        BLACK
    }
}

/// A number with at most `digits` decimals and no trailing zeros (`26`, `0.5`).
fn short(v: f64, digits: usize) -> String {
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Produced against target intervals, with the identity, the fitted line and the s.d. of the
/// produced intervals at each target.
#[derive(Debug, Clone)]
pub struct IntervalFigure<'a> {
    /// The analysis drawn.
    pub timing: &'a IntervalTimingAnalysis,
}

impl Figure for IntervalFigure<'_> {
    fn size(&self) -> (u32, u32) {
        (640, 520)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        root.fill(&WHITE).map_err(err)?;
        let a = self.timing;
        let values = a
            .points
            .iter()
            .flat_map(|p| [p.target, p.mean - p.sd, p.mean + p.sd]);
        let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
        let pad = 0.05 * (hi - lo).max(1.0);
        let range = (lo - pad)..(hi + pad);
        let mut chart = ChartBuilder::on(root)
            .caption("Produced vs target interval", ("sans-serif", 18))
            .margin(14)
            .x_label_area_size(42)
            .y_label_area_size(60)
            .build_cartesian_2d(range.clone(), range.clone())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(format!("{} (ms)", a.target))
            .y_desc("produced interval (ms)")
            .x_label_formatter(&|v| short(*v, 0))
            .y_label_formatter(&|v| short(*v, 0))
            .label_style(("sans-serif", 12))
            .axis_desc_style(("sans-serif", 13))
            .light_line_style(WHITE)
            .draw()
            .map_err(err)?;
        let grey = RGBColor(120, 120, 120);
        chart
            .draw_series(LineSeries::new(
                vec![(range.start, range.start), (range.end, range.end)],
                ShapeStyle::from(grey).stroke_width(1),
            ))
            .map_err(err)?
            .label("identity (perfect timing)")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], grey));
        let dot = series_colour(0);
        for p in &a.points {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(p.target, p.mean - p.sd), (p.target, p.mean + p.sd)],
                    dot.mix(0.5).stroke_width(1),
                )))
                .map_err(err)?;
        }
        chart
            .draw_series(
                a.points
                    .iter()
                    .map(|p| Circle::new((p.target, p.mean), 3, dot.filled())),
            )
            .map_err(err)?
            .label("network: mean ± s.d.")
            .legend(move |(x, y)| Circle::new((x + 8, y), 3, dot.filled()));
        let fit = series_colour(5);
        let line = |x: f64| a.intercept + a.slope * x;
        chart
            .draw_series(LineSeries::new(
                vec![
                    (range.start, line(range.start)),
                    (range.end, line(range.end)),
                ],
                fit.stroke_width(2),
            ))
            .map_err(err)?
            .label(format!(
                "fit: slope {} (95% CI {}–{}), bias {} ms",
                short(a.slope, 3),
                short(a.slope_ci95.0, 3),
                short(a.slope_ci95.1, 3),
                short(a.mean_bias, 1)
            ))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], fit.stroke_width(2)));
        draw_legend(&mut chart, SeriesLabelPosition::UpperLeft, 12)
    }
}

/// A heat map of `row_labels` × `column_labels` cells (row 0 at the top) with the labels
/// centred on the cells.
struct Grid<'a> {
    row_labels: &'a [String],
    column_labels: &'a [String],
    row_title: &'a str,
    column_title: &'a str,
}

/// P(choice) in every (x, y) cell, the value written in the cell.
#[derive(Debug, Clone)]
pub struct MatrixFigure<'a> {
    /// The analysis drawn.
    pub matrix: &'a PsychometricMatrixAnalysis,
}

impl Figure for MatrixFigure<'_> {
    fn size(&self) -> (u32, u32) {
        let m = self.matrix;
        let cell = 64u32;
        (
            150 + cell * m.x_values.len() as u32,
            130 + cell * m.y_values.len() as u32,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        root.fill(&WHITE).map_err(err)?;
        let m = self.matrix;
        let xs: Vec<String> = m.x_values.iter().map(|v| short(*v, 3)).collect();
        // Rows from the top: the largest y first, so y grows upwards.
        let ys: Vec<String> = m.y_values.iter().rev().map(|v| short(*v, 3)).collect();
        let grid = Grid {
            row_labels: &ys,
            column_labels: &xs,
            row_title: &m.y,
            column_title: &m.x,
        };
        let title = format!("P(choose {})", m.choice);
        grid.draw(
            root,
            &title,
            64,
            |r, c| {
                let (x, y) = (m.x_values[c], m.y_values[ys.len() - 1 - r]);
                m.cells
                    .iter()
                    .find(|cell| cell.x == x && cell.y == y)
                    .map(|cell| (cell_colour(cell.p_choice, false), short(cell.p_choice, 2)))
            },
            true,
        )
    }
}

impl Grid<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        title: &str,
        cell: i32,
        value: impl Fn(usize, usize) -> Option<(RGBColor, String)>,
        write_values: bool,
    ) -> Result<(), DrawError> {
        self.draw_sized(root, title, (cell, cell), value, write_values)
    }

    fn draw_sized<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        title: &str,
        (cw, ch): (i32, i32),
        value: impl Fn(usize, usize) -> Option<(RGBColor, String)>,
        write_values: bool,
    ) -> Result<(), DrawError> {
        let (left, top) = (100, 50);
        let centred = |size: u32| {
            ("sans-serif", size).into_font().color(&BLACK).pos(
                plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Center,
                    plotters::style::text_anchor::VPos::Center,
                ),
            )
        };
        let (w, _) = root.dim_in_pixel();
        root.draw(&Text::new(
            title.to_string(),
            (w as i32 / 2, 20),
            centred(16),
        ))
        .map_err(err)?;
        let (rows, cols) = (self.row_labels.len(), self.column_labels.len());
        for r in 0..rows {
            for c in 0..cols {
                let (x0, y0) = (left + c as i32 * cw, top + r as i32 * ch);
                let Some((colour, text)) = value(r, c) else {
                    root.draw(&Rectangle::new(
                        [(x0, y0), (x0 + cw, y0 + ch)],
                        RGBColor(235, 235, 235).filled(),
                    ))
                    .map_err(err)?;
                    continue;
                };
                root.draw(&Rectangle::new(
                    [(x0, y0), (x0 + cw, y0 + ch)],
                    colour.filled(),
                ))
                .map_err(err)?;
                if write_values {
                    let ink = text_on(colour);
                    let font = centred(13).color(&ink);
                    root.draw(&Text::new(text, (x0 + cw / 2, y0 + ch / 2), font))
                        .map_err(err)?;
                }
            }
        }
        let label = centred(12);
        for (r, l) in self.row_labels.iter().enumerate() {
            if ch >= 12 || r % (12 / ch.max(1)) as usize == 0 {
                root.draw(&Text::new(
                    l.clone(),
                    (left - 30, top + r as i32 * ch + ch / 2),
                    label.clone(),
                ))
                .map_err(err)?;
            }
        }
        let bottom = top + rows as i32 * ch;
        for (c, l) in self.column_labels.iter().enumerate() {
            root.draw(&Text::new(
                l.clone(),
                (left + c as i32 * cw + cw / 2, bottom + 14),
                label.clone(),
            ))
            .map_err(err)?;
        }
        root.draw(&Text::new(
            self.column_title.to_string(),
            (left + cols as i32 * cw / 2, bottom + 38),
            centred(13),
        ))
        .map_err(err)?;
        root.draw(&Text::new(
            self.row_title.to_string(),
            (left - 30, top - 14),
            centred(13),
        ))
        .map_err(err)?;
        Ok(())
    }
}

/// Hit and false-alarm rates as bars, d′ in the title.
#[derive(Debug, Clone)]
pub struct GoNogoFigure<'a> {
    /// The analysis drawn.
    pub go_nogo: &'a GoNogoAnalysis,
}

impl Figure for GoNogoFigure<'_> {
    fn size(&self) -> (u32, u32) {
        (420, 380)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        root.fill(&WHITE).map_err(err)?;
        let g = self.go_nogo;
        let bars = [
            ("hit rate", g.hit_rate, g.go_trials, "go"),
            (
                "false-alarm rate",
                g.false_alarm_rate,
                g.nogo_trials,
                "no-go",
            ),
        ];
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!("Go/no-go: d′ = {}", short(g.d_prime, 2)),
                ("sans-serif", 18),
            )
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0.0..2.0, 0.0..1.05)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_desc("fraction of trials with a response")
            .label_style(("sans-serif", 12))
            .axis_desc_style(("sans-serif", 13))
            .light_line_style(WHITE)
            .draw()
            .map_err(err)?;
        let centred = ("sans-serif", 12).into_font().color(&BLACK).pos(
            plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Center,
                plotters::style::text_anchor::VPos::Top,
            ),
        );
        for (k, (name, rate, n, kind)) in bars.iter().enumerate() {
            let x = k as f64;
            if let Some(rate) = rate {
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x + 0.2, 0.0), (x + 0.8, *rate)],
                        series_colour(k).filled(),
                    )))
                    .map_err(err)?;
            }
            let (px, py) = chart.backend_coord(&(x + 0.5, 0.0));
            let value = rate.map_or("undefined".to_string(), |r| short(r, 3));
            root.draw(&Text::new(
                format!("{name} {value}"),
                (px, py + 6),
                centred.clone(),
            ))
            .map_err(err)?;
            root.draw(&Text::new(
                format!("{n} {kind} trials"),
                (px, py + 22),
                centred.clone(),
            ))
            .map_err(err)?;
        }
        Ok(())
    }
}

/// Pixel width of a task's column (room for names such as `reactanti`).
const TASK_COLUMN: i32 = 68;

/// The normalised task variance of every active unit (rows, sorted by cluster) in every task
/// (columns), cluster boundaries marked.
#[derive(Debug, Clone)]
pub struct TaskVarianceFigure<'a> {
    /// The analysis drawn.
    pub variance: &'a TaskVarianceAnalysis,
}

impl TaskVarianceFigure<'_> {
    /// (unit, cluster) in drawing order.
    fn rows(&self) -> Vec<(usize, usize)> {
        self.variance
            .clusters
            .iter()
            .enumerate()
            .flat_map(|(k, c)| c.units.iter().map(move |&u| (u, k)))
            .collect()
    }
}

impl Figure for TaskVarianceFigure<'_> {
    fn size(&self) -> (u32, u32) {
        let rows = self.rows().len().max(1) as u32;
        let ch = (400 / rows).clamp(2, 12);
        (
            100 + TASK_COLUMN as u32 * self.variance.tasks.len() as u32 + 90,
            110 + ch * rows,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        root.fill(&WHITE).map_err(err)?;
        let v = self.variance;
        let rows = self.rows();
        let ch = (400 / rows.len().max(1) as i32).clamp(2, 12);
        let row_labels: Vec<String> = rows.iter().map(|(u, _)| format!("{u}")).collect();
        let grid = Grid {
            row_labels: &row_labels,
            column_labels: &v.tasks,
            row_title: "unit",
            column_title: "task",
        };
        let title = format!(
            "Normalised task variance: {} units, {} clusters",
            rows.len(),
            v.n_clusters
        );
        grid.draw_sized(
            root,
            &title,
            (TASK_COLUMN, ch),
            |r, c| {
                let (u, _) = rows[r];
                let max = v.variance[u].iter().cloned().fold(0.0, f64::max);
                let x = if max > 0.0 {
                    v.variance[u][c] / max
                } else {
                    0.0
                };
                Some((cell_colour(x, true), String::new()))
            },
            false,
        )?;
        // Cluster boundaries and numbers on the right.
        let (left, top) = (100, 50);
        let right = left + TASK_COLUMN * v.tasks.len() as i32;
        let mut start = 0;
        let mut centres = Vec::with_capacity(v.clusters.len());
        for c in &v.clusters {
            let end = start + c.units.len();
            let (y0, y1) = (top + start as i32 * ch, top + end as i32 * ch);
            root.draw(&PathElement::new(
                vec![(left, y1), (right, y1)],
                BLACK.stroke_width(1),
            ))
            .map_err(err)?;
            centres.push((y0 + y1) / 2);
            start = end;
        }
        // Labels 13 px apart (12 px text), moved off their cluster's centre only as far as
        // needed, with a tick to it when moved.
        let bottom = self.size().1 as i32 - 20;
        let at = super::figure::spread_labels(&centres, 13, top, bottom);
        for (k, (&centre, &y)) in centres.iter().zip(&at).enumerate() {
            if y != centre {
                root.draw(&PathElement::new(
                    vec![(right + 1, centre), (right + 6, y)],
                    RGBColor(120, 120, 120).stroke_width(1),
                ))
                .map_err(err)?;
            }
            root.draw(&Text::new(
                format!("cluster {}", k + 1),
                (right + 8, y - 6),
                ("sans-serif", 12).into_font().color(&BLACK),
            ))
            .map_err(err)?;
        }
        Ok(())
    }
}

/// The mean silhouette against the number of clusters tried, the chosen number marked (as
/// Yang et al.'s cluster-score plot).
pub struct SilhouetteFigure<'a> {
    /// The analysis drawn.
    pub variance: &'a TaskVarianceAnalysis,
}

impl Figure for SilhouetteFigure<'_> {
    fn size(&self) -> (u32, u32) {
        (560, 380)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        root.fill(&WHITE).map_err(err)?;
        let v = self.variance;
        let points: Vec<(f64, f64)> = v
            .silhouette_by_clusters
            .iter()
            .map(|c| (c.clusters as f64, c.silhouette))
            .collect();
        let (k_lo, k_hi) = points
            .iter()
            .fold((v.n_clusters as f64, v.n_clusters as f64), |(l, h), p| {
                (l.min(p.0), h.max(p.0))
            });
        let (s_lo, s_hi) = points
            .iter()
            .fold((v.silhouette, v.silhouette), |(l, h), p| {
                (l.min(p.1), h.max(p.1))
            });
        let pad = 0.1 * (s_hi - s_lo).max(0.02);
        let mut chart = ChartBuilder::on(root)
            .caption("Silhouette by number of clusters", ("sans-serif", 18))
            .margin(14)
            .x_label_area_size(42)
            .y_label_area_size(60)
            .build_cartesian_2d((k_lo - 0.5)..(k_hi + 0.5), (s_lo - pad)..(s_hi + pad))
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("number of clusters")
            .y_desc("mean silhouette")
            .x_label_formatter(&|x| short(*x, 0))
            .y_label_formatter(&|y| short(*y, 3))
            .label_style(("sans-serif", 12))
            .axis_desc_style(("sans-serif", 13))
            .light_line_style(WHITE)
            .draw()
            .map_err(err)?;
        let line = series_colour(0);
        chart
            .draw_series(polyline_steps(&points, line.stroke_width(2)))
            .map_err(err)?;
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 3, line.filled())))
            .map_err(err)?;
        let chosen = series_colour(5);
        chart
            .draw_series(std::iter::once(Circle::new(
                (v.n_clusters as f64, v.silhouette),
                6,
                chosen.stroke_width(2),
            )))
            .map_err(err)?
            .label(if v.at_search_limit {
                format!("chosen: {} (the most tried: a bound)", v.n_clusters)
            } else {
                format!("chosen: {}", v.n_clusters)
            })
            .legend(move |(x, y)| Circle::new((x + 8, y), 5, chosen.stroke_width(2)));
        draw_legend(&mut chart, SeriesLabelPosition::LowerRight, 12)
    }
}

/// Draws the figures of the analyses `file` holds into `dir`: (file stem, title, caption) of
/// each.
pub fn draw_behaviour_figures(
    file: &crate::run_dir::AnalysisFile,
    dir: &std::path::Path,
) -> Result<Vec<(&'static str, String, String)>, super::ReportError> {
    let mut entries = Vec::new();
    if let Some(g) = &file.go_nogo {
        super::save(&GoNogoFigure { go_nogo: g }, &dir.join("go_nogo"))?;
        let rate = |r: Option<f64>| r.map_or("undefined".to_string(), |r| short(r, 3));
        entries.push((
            "go_nogo",
            "Go/no-go".to_string(),
            format!(
                "Responses ({} above {} in epoch {}) on {} go and {} no-go test trials: hit rate {}, false-alarm rate {}, d′ = {} (log-linear corrected rates).",
                g.channel, "threshold", g.epoch, g.go_trials, g.nogo_trials,
                rate(g.hit_rate), rate(g.false_alarm_rate), short(g.d_prime, 2)
            ),
        ));
    }
    if let Some(t) = &file.interval_timing {
        super::save(&IntervalFigure { timing: t }, &dir.join("interval_timing"))?;
        entries.push((
            "interval_timing",
            "Produced intervals".to_string(),
            format!(
                "Time from the start of {} to the first crossing of {} by {}, against {} ({} of {} trials crossed). Least-squares slope {} ± {} (s.e.; 95% CI {}–{}); a slope below 1 is regression to the mean of the prior ({} ms). Mean bias {} ms.",
                t.from, short(t.threshold, 3), t.channel, t.target, t.responded, t.trials,
                short(t.slope, 3), short(t.slope_se, 3), short(t.slope_ci95.0, 3), short(t.slope_ci95.1, 3),
                short(t.prior_mean, 0), short(t.mean_bias, 1)
            ),
        ));
    }
    if let Some(m) = &file.psychometric_matrix {
        super::save(
            &MatrixFigure { matrix: m },
            &dir.join("psychometric_matrix"),
        )?;
        let n: usize = m.cells.iter().map(|c| c.trials).sum();
        entries.push((
            "psychometric_matrix",
            "Psychometric matrix".to_string(),
            format!(
                "Fraction of the {n} test trials in each ({}, {}) cell on which the network chose {} (the largest mask-weighted mean output); grey: no trials.",
                m.x, m.y, m.choice
            ),
        ));
    }
    if let Some(v) = &file.task_variance {
        super::save(
            &TaskVarianceFigure { variance: v },
            &dir.join("task_variance"),
        )?;
        let served: Vec<String> = v
            .clusters
            .iter()
            .enumerate()
            .map(|(k, c)| {
                format!(
                    "{}: {} units, {}",
                    k + 1,
                    c.units.len(),
                    if c.serves.is_empty() {
                        "no task ≥ 0.5".to_string()
                    } else {
                        c.serves.join(" ")
                    }
                )
            })
            .collect();
        entries.push((
            "task_variance",
            "Task variance clusters".to_string(),
            format!(
                "Variance of each unit's rate across the trials of each task (from the end of {} to the end of {}, averaged over time), divided by the unit's largest; {} of {} units above summed variance {}, clustered (Ward; {} clusters by the best mean silhouette, {}, of {} to {} tried{}). Clusters and the tasks each serves (mean ≥ 0.5): {}.",
                v.from_end_of, v.to_end_of, v.active_units, v.variance.len(), v.threshold,
                v.n_clusters, short(v.silhouette, 3),
                v.silhouette_by_clusters.first().map_or(v.n_clusters, |c| c.clusters),
                v.silhouette_by_clusters.last().map_or(v.n_clusters, |c| c.clusters),
                if v.at_search_limit {
                    format!(
                        "; {}",
                        crate::analysis::run_analysis::task_variance_limit_warning(v)
                    )
                } else {
                    String::new()
                },
                served.join("; ")
            ),
        ));
        if !v.silhouette_by_clusters.is_empty() {
            super::save(
                &SilhouetteFigure { variance: v },
                &dir.join("task_variance_silhouette"),
            )?;
            entries.push((
                "task_variance_silhouette",
                "Silhouette by number of clusters".to_string(),
                format!(
                    "Mean silhouette of Ward's clustering of the {} active units' normalised task variances into each number of clusters tried; the largest ({}, at {} clusters) is the one shown above{}.",
                    v.active_units,
                    short(v.silhouette, 3),
                    v.n_clusters,
                    if v.at_search_limit { ", the most tried: the silhouette may still rise beyond the search" } else { "" }
                ),
            ));
        }
    }
    Ok(entries)
}
