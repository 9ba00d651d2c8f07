//! Psychometric curve: choice probability against the signed main condition, with a fit.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::figure::{err, tick_label, DrawError, Figure};

/// Choice probabilities with a fitted logistic.
#[derive(Debug, Clone)]
pub struct PsychometricFigure {
    /// (x, P(choice), standard error, trials) per level.
    pub points: Vec<(f64, f64, f64, usize)>,
    /// The fitted curve, sampled: (x, p).
    pub curve: Vec<(f64, f64)>,
    /// x-axis label, e.g. "signed coherence".
    pub x_label: String,
    /// y-axis label, e.g. "P(choice_1)".
    pub y_label: String,
    /// A line describing the fit.
    pub fit_text: String,
}

impl Figure for PsychometricFigure {
    fn size(&self) -> (u32, u32) {
        (640, 460)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        root.fill(&WHITE).map_err(err)?;
        let xs = self
            .points
            .iter()
            .map(|p| p.0)
            .chain(self.curve.iter().map(|c| c.0));
        let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
        let pad = 0.06 * (hi - lo).max(1e-9);
        let mut chart = ChartBuilder::on(root)
            .caption("Psychometric curve", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            // Headroom above P = 1 for the legend, so it never covers a point.
            .build_cartesian_2d((lo - pad)..(hi + pad), -0.02..1.28)
            .map_err(err)?;
        chart
            .configure_mesh()
            .y_label_formatter(&|v| {
                if *v > 1.0 + 1e-9 {
                    String::new()
                } else {
                    format!("{v:.1}")
                }
            })
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .label_style(("sans-serif", 12))
            .axis_desc_style(("sans-serif", 13))
            .light_line_style(WHITE)
            .draw()
            .map_err(err)?;
        let blue = RGBColor(0, 114, 178);
        chart
            .draw_series(LineSeries::new(
                self.curve.clone(),
                RGBColor(213, 94, 0).stroke_width(2),
            ))
            .map_err(err)?
            .label(self.fit_text.clone())
            .legend(|(x, y)| {
                PathElement::new(
                    vec![(x, y), (x + 16, y)],
                    RGBColor(213, 94, 0).stroke_width(2),
                )
            });
        for &(x, p, sem, _) in &self.points {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(x, (p - sem).max(0.0)), (x, (p + sem).min(1.0))],
                    blue.stroke_width(2),
                )))
                .map_err(err)?;
        }
        chart
            .draw_series(
                self.points
                    .iter()
                    .map(|&(x, p, _, _)| Circle::new((x, p), 5, blue.filled())),
            )
            .map_err(err)?
            .label("network (mean ± s.e.m.)")
            .legend(move |(x, y)| Circle::new((x + 8, y), 4, blue.filled()));
        super::figure::draw_legend(&mut chart, SeriesLabelPosition::UpperLeft, 12)?;
        Ok(())
    }
}

/// Mean reaction time against the signed main condition.
#[derive(Debug, Clone)]
pub struct ChronometricFigure {
    /// (x, mean reaction time ms, s.e.m., trials) per level.
    pub points: Vec<(f64, f64, f64, usize)>,
    /// x-axis label.
    pub x_label: String,
}

impl Figure for ChronometricFigure {
    fn size(&self) -> (u32, u32) {
        (640, 460)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        root.fill(&WHITE).map_err(err)?;
        let (lo, hi) = self
            .points
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
                (a.min(p.0), b.max(p.0))
            });
        let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
        let pad = 0.06 * (hi - lo).max(1e-9);
        let top = self.points.iter().map(|p| p.1 + p.2).fold(1.0, f64::max) * 1.1;
        let mut chart = ChartBuilder::on(root)
            .caption("Chronometric curve", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((lo - pad)..(hi + pad), 0.0..top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(self.x_label.as_str())
            .y_desc("reaction time (ms)")
            .y_label_formatter(&|y| tick_label(*y, top))
            .x_label_formatter(&|x| tick_label(*x, hi - lo))
            .label_style(("sans-serif", 12))
            .axis_desc_style(("sans-serif", 13))
            .light_line_style(WHITE)
            .draw()
            .map_err(err)?;
        let blue = RGBColor(0, 114, 178);
        chart
            .draw_series(LineSeries::new(
                self.points.iter().map(|p| (p.0, p.1)),
                blue.stroke_width(2),
            ))
            .map_err(err)?;
        for &(x, m, sem, _) in &self.points {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(x, (m - sem).max(0.0)), (x, m + sem)],
                    blue.stroke_width(2),
                )))
                .map_err(err)?;
        }
        chart
            .draw_series(
                self.points
                    .iter()
                    .map(|&(x, m, _, _)| Circle::new((x, m), 5, blue.filled())),
            )
            .map_err(err)?;
        Ok(())
    }
}

/// One curriculum stage's psychometric curve.
#[derive(Debug, Clone)]
pub struct StageCurve {
    /// Key text, e.g. "coh_0.7 (to iteration 75)".
    pub label: String,
    /// (x, P(choice)) per level.
    pub points: Vec<(f64, f64)>,
    /// The fitted curve, sampled: (x, p).
    pub curve: Vec<(f64, f64)>,
}

/// The psychometric curves of a curriculum's networks as each stage ended, on the same test
/// trials, coloured in training order (dark to light) with the key beside the plot.
#[derive(Debug, Clone)]
pub struct StagePsychometricFigure {
    /// In training order.
    pub stages: Vec<StageCurve>,
    /// x-axis label.
    pub x_label: String,
    /// y-axis label, e.g. "P(choose choice_1)".
    pub y_label: String,
}

/// Width in pixels of the stage psychometric figure's plot (its key is beside it).
const STAGE_PLOT_WIDTH: u32 = 560;

impl StagePsychometricFigure {
    fn key(&self) -> Vec<(String, RGBColor, &'static str)> {
        let colours = stage_colours(self.stages.len());
        self.stages
            .iter()
            .zip(colours)
            .map(|(s, c)| (s.label.clone(), c, "line"))
            .collect()
    }
}

/// Colours for `n` stages in order: evenly spaced on the sequential map.
fn stage_colours(n: usize) -> Vec<RGBColor> {
    (0..n)
        .map(|k| super::figure::sequential(k as f64 / (n.max(2) - 1) as f64 * 0.9))
        .collect()
}

impl Figure for StagePsychometricFigure {
    fn size(&self) -> (u32, u32) {
        let labels: Vec<&str> = self.stages.iter().map(|s| s.label.as_str()).collect();
        let key = super::figure::key_column_width(&labels).max(120) as u32 + 20;
        let rows = self.stages.len() as u32 * super::figure::KEY_ROW as u32 + 60;
        (STAGE_PLOT_WIDTH + key, 460.max(rows))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        root.fill(&WHITE).map_err(err)?;
        let (plot, side) = root.split_horizontally(STAGE_PLOT_WIDTH);
        let xs = self
            .stages
            .iter()
            .flat_map(|s| s.points.iter().chain(&s.curve).map(|p| p.0));
        let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
        let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
        let pad = 0.06 * (hi - lo).max(1e-9);
        let mut chart = ChartBuilder::on(&plot)
            .caption("Psychometric curve by curriculum stage", ("sans-serif", 17))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d((lo - pad)..(hi + pad), -0.02..1.02)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .x_label_formatter(&|v| tick_label(*v, hi - lo))
            .y_label_formatter(&|v| format!("{v:.1}"))
            .label_style(("sans-serif", 12))
            .axis_desc_style(("sans-serif", 13))
            .light_line_style(WHITE)
            .draw()
            .map_err(err)?;
        for (stage, colour) in self.stages.iter().zip(stage_colours(self.stages.len())) {
            chart
                .draw_series(LineSeries::new(stage.curve.clone(), colour.stroke_width(2)))
                .map_err(err)?;
            chart
                .draw_series(
                    stage
                        .points
                        .iter()
                        .map(|&(x, p)| Circle::new((x, p), 4, colour.filled())),
                )
                .map_err(err)?;
        }
        let font = ("sans-serif", 13).into_font().color(&BLACK);
        side.draw(&Text::new("stage (ended at)", (4, 40), font))
            .map_err(err)?;
        super::figure::draw_key_column(&side, &self.key(), 4, 62)?;
        Ok(())
    }
}
