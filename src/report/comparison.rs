//! A sweep's comparison: accuracy and iterations to criterion per setting, every seed shown.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::figure::{err, DrawError, Figure};

/// One setting (grid point) with a value per seed for each measure.
#[derive(Debug, Clone)]
pub struct SettingResult {
    /// e.g. "n_rec=50, dale_ratio=0.8".
    pub label: String,
    /// Final test accuracy per seed.
    pub accuracy: Vec<f64>,
    /// Iterations until an evaluation reached the criterion, per seed (`None`: never).
    pub iterations_to_criterion: Vec<Option<f64>>,
}

/// Accuracy and iterations-to-criterion per setting.
#[derive(Debug, Clone)]
pub struct ComparisonFigure {
    /// One per setting, in grid order.
    pub settings: Vec<SettingResult>,
    /// The accuracy criterion, for the axis label.
    pub criterion: f64,
}

fn strip<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    y_desc: &str,
    labels: &[String],
    values: &[Vec<f64>],
    y_range: (f64, f64),
) -> Result<(), DrawError> {
    let n = labels.len().max(1);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(70)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5..(n as f64 - 0.5), y_range.0..y_range.1)
        .map_err(err)?;
    let names = labels.to_vec();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&|x| {
            let k = x.round();
            if (x - k).abs() < 1e-6 && k >= 0.0 && (k as usize) < names.len() {
                names[k as usize].clone()
            } else {
                String::new()
            }
        })
        .y_desc(y_desc)
        .y_label_formatter(&|y| {
            if y_range.1 > 2.0 {
                format!("{y:.0}")
            } else {
                format!("{y:.1}")
            }
        })
        .label_style(("sans-serif", 11))
        .axis_desc_style(("sans-serif", 12))
        .draw()
        .map_err(err)?;
    let blue = RGBColor(0, 114, 178);
    for (k, vals) in values.iter().enumerate() {
        let m = k as f64;
        chart
            .draw_series(vals.iter().enumerate().map(|(s, v)| {
                let jitter = (s as f64 - (vals.len() as f64 - 1.0) / 2.0) * 0.06;
                Circle::new((m + jitter, *v), 4, blue.mix(0.5).filled())
            }))
            .map_err(err)?;
        if !vals.is_empty() {
            let mean = vals.iter().sum::<f64>() / vals.len() as f64;
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(m - 0.25, mean), (m + 0.25, mean)],
                    BLACK.stroke_width(2),
                )))
                .map_err(err)?;
        }
    }
    Ok(())
}

impl Figure for ComparisonFigure {
    fn size(&self) -> (u32, u32) {
        (1100, 460)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        root.fill(&WHITE).map_err(err)?;
        let halves = root.split_evenly((1, 2));
        let labels: Vec<String> = self.settings.iter().map(|s| s.label.clone()).collect();
        let acc: Vec<Vec<f64>> = self.settings.iter().map(|s| s.accuracy.clone()).collect();
        strip(
            &halves[0],
            "Test accuracy (dots: seeds, bar: mean)",
            "accuracy",
            &labels,
            &acc,
            (0.0, 1.02),
        )?;
        let its: Vec<Vec<f64>> = self
            .settings
            .iter()
            .map(|s| {
                s.iterations_to_criterion
                    .iter()
                    .flatten()
                    .cloned()
                    .collect()
            })
            .collect();
        let top = its.iter().flatten().cloned().fold(1.0, f64::max) * 1.1;
        strip(
            &halves[1],
            "Iterations to criterion (seeds that reached it)",
            &format!("iterations until accuracy ≥ {}", self.criterion),
            &labels,
            &its,
            (0.0, top),
        )
    }
}
