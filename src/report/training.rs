//! Loss and accuracy over training, curriculum stages marked.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::figure::{err, polyline_steps, DrawError, Figure};

/// Learning curves.
#[derive(Debug, Clone)]
pub struct TrainingFigure {
    /// Iteration of each evaluation.
    pub iterations: Vec<f64>,
    /// Mean training loss per evaluation interval.
    pub loss: Vec<f64>,
    /// Loss on the evaluation batches.
    pub eval_loss: Vec<f64>,
    /// Accuracy on the evaluation batches.
    pub accuracy: Vec<f64>,
    /// (stage name, first iteration) of each curriculum stage after the first.
    pub stages: Vec<(String, f64)>,
}

impl Figure for TrainingFigure {
    fn size(&self) -> (u32, u32) {
        (1100, 380)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        root.fill(&WHITE).map_err(err)?;
        let panels = root.split_evenly((1, 2));
        let x_max = self.iterations.iter().cloned().fold(1.0, f64::max);
        // Loss, log scale.
        let positive: Vec<f64> = self
            .loss
            .iter()
            .chain(&self.eval_loss)
            .cloned()
            .filter(|v| *v > 0.0)
            .collect();
        let lo = positive
            .iter()
            .cloned()
            .fold(f64::INFINITY, f64::min)
            .min(1.0)
            * 0.8;
        let hi = positive.iter().cloned().fold(0.0, f64::max).max(lo * 10.0) * 1.25;
        let mut chart = ChartBuilder::on(&panels[0])
            .caption("Loss", ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..x_max, (lo..hi).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("iteration")
            .y_desc("loss (log scale)")
            .y_labels(5)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0e}"))
            .label_style(("sans-serif", 12))
            .axis_desc_style(("sans-serif", 13))
            .light_line_style(WHITE)
            .draw()
            .map_err(err)?;
        let series = |v: &[f64]| -> Vec<(f64, f64)> {
            self.iterations
                .iter()
                .cloned()
                .zip(v.iter().cloned())
                .filter(|(_, y)| *y > 0.0)
                .collect()
        };
        let blue = RGBColor(0, 114, 178);
        let orange = RGBColor(230, 159, 0);
        chart
            .draw_series(polyline_steps(&series(&self.loss), blue.stroke_width(2)))
            .map_err(err)?
            .label("training batches")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], blue.stroke_width(2))
            });
        chart
            .draw_series(polyline_steps(
                &series(&self.eval_loss),
                orange.stroke_width(2),
            ))
            .map_err(err)?
            .label("fresh evaluation trials")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], orange.stroke_width(2))
            });
        for (_, s) in &self.stages {
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(*s, lo), (*s, hi)],
                    5,
                    4,
                    RGBColor(130, 130, 130).into(),
                ))
                .map_err(err)?;
        }
        super::figure::draw_legend(&mut chart, SeriesLabelPosition::UpperRight, 12)?;
        // Accuracy.
        let mut chart = ChartBuilder::on(&panels[1])
            .caption("Accuracy on fresh trials", ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(52)
            .build_cartesian_2d(0.0..x_max, 0.0..1.05)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("iteration")
            .y_desc("accuracy")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .label_style(("sans-serif", 12))
            .axis_desc_style(("sans-serif", 13))
            .light_line_style(WHITE)
            .draw()
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                series(&self.accuracy),
                blue.stroke_width(2),
            ))
            .map_err(err)?;
        chart
            .draw_series(
                self.iterations
                    .iter()
                    .zip(&self.accuracy)
                    .map(|(x, y)| Circle::new((*x, *y), 3, blue.filled())),
            )
            .map_err(err)?;
        // Stage names stack upwards while one would run into the previous one (≈7 px per
        // character at size 11, the panel's plot about 480 px wide).
        let data_per_px = x_max / 480.0;
        let mut previous: Option<(f64, usize)> = None;
        for (name, s) in &self.stages {
            let level = match previous {
                Some((end, level)) if *s < end => (level + 1) % 6,
                _ => 0,
            };
            let end = *s + (name.chars().count() as f64 * 7.0 + 8.0) * data_per_px;
            previous = Some(match previous {
                Some((e, _)) if level > 0 => (e.max(end), level),
                _ => (end, level),
            });
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(*s, 0.0), (*s, 1.05)],
                    5,
                    4,
                    RGBColor(130, 130, 130).into(),
                ))
                .map_err(err)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    name.clone(),
                    (*s + x_max * 0.005, 0.06 + 0.07 * level as f64),
                    ("sans-serif", 11).into_font().color(&RGBColor(90, 90, 90)),
                )))
                .map_err(err)?;
        }
        Ok(())
    }
}
