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
