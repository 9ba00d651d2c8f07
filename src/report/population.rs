//! Population trajectories in principal-component space and single-unit activity, coloured by
//! condition (the same colour for a condition level in every figure).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::figure::{
    condition_colour, draw_key, draw_key_column, err, key_column_width, key_rows, level_values,
    polyline_steps, shared_condition, tick_label, DrawError, Figure, KEY_ROW,
};

/// One condition level's trial-averaged trajectory.
#[derive(Debug, Clone)]
pub struct Trajectory {
    /// Legend text, e.g. "coherence = 0.5".
    pub label: String,
    /// Colour index of the level.
    pub colour: usize,
    /// (PC1, PC2) per time step.
    pub points: Vec<(f64, f64)>,
}

/// Trajectories on the first two principal components, with fixed points if found.
#[derive(Debug, Clone)]
pub struct PcaFigure {
    /// One per condition level.
    pub trajectories: Vec<Trajectory>,
    /// Fraction of variance on PC1 and PC2.
    pub explained: (f64, f64),
    /// (PC1, PC2, stable) of each fixed point.
    pub fixed_points: Vec<(f64, f64, bool)>,
}

impl PcaFigure {
    /// The key beside the plot: one row per level, then the fixed-point markers.
    fn key(&self) -> Vec<(String, RGBColor, &'static str)> {
        let labels: Vec<String> = self.trajectories.iter().map(|t| t.label.clone()).collect();
        let values = match shared_condition(&labels) {
            Some(name) => level_values(&name, &labels),
            None => labels,
        };
        let mut items: Vec<(String, RGBColor, &str)> = values
            .into_iter()
            .zip(&self.trajectories)
            .map(|(v, t)| (v, condition_colour(t.colour), "line"))
            .collect();
        if self.fixed_points.iter().any(|f| f.2) {
            items.push(("stable fixed point".into(), BLACK, "x"));
        }
        if self.fixed_points.iter().any(|f| !f.2) {
            items.push(("unstable fixed point".into(), BLACK, "o"));
        }
        items
    }

    fn key_width(&self) -> u32 {
        let key = self.key();
        let labels: Vec<&str> = key.iter().map(|(l, _, _)| l.as_str()).collect();
        key_column_width(&labels) as u32 + 10
    }
}

impl Figure for PcaFigure {
    fn size(&self) -> (u32, u32) {
        let rows = self.key().len() as u32;
        let labels: Vec<String> = self.trajectories.iter().map(|t| t.label.clone()).collect();
        let heading = shared_condition(&labels).map_or(0, |n| n.chars().count() as u32 * 8);
        (
            620 + self.key_width().max(heading + 10),
            560.max(60 + KEY_ROW as u32 * rows),
        )
    }

    fn draw<DB: DrawingBackend>(&self, whole: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        whole.fill(&WHITE).map_err(err)?;
        let (root, side) = whole.split_horizontally(620);
        let labels: Vec<String> = self.trajectories.iter().map(|t| t.label.clone()).collect();
        if let Some(name) = shared_condition(&labels) {
            side.draw_text(
                &name,
                &("sans-serif", 13).into_font().color(&BLACK),
                (0, 24),
            )
            .map_err(err)?;
        }
        draw_key_column(&side, &self.key(), 0, 44)?;
        let root = &root;
        let all = self
            .trajectories
            .iter()
            .flat_map(|t| t.points.iter().cloned())
            .chain(self.fixed_points.iter().map(|f| (f.0, f.1)));
        let (mut x0, mut x1, mut y0, mut y1) = (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        );
        for (x, y) in all {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
        if !x0.is_finite() {
            (x0, x1, y0, y1) = (-1.0, 1.0, -1.0, 1.0);
        }
        let (px, py) = (0.08 * (x1 - x0).max(1e-9), 0.08 * (y1 - y0).max(1e-9));
        let mut chart = ChartBuilder::on(root)
            .caption("Population activity by condition", ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d((x0 - px)..(x1 + px), (y0 - py)..(y1 + py))
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(format!(
                "PC1 ({:.0}% of variance)",
                100.0 * self.explained.0
            ))
            .y_desc(format!(
                "PC2 ({:.0}% of variance)",
                100.0 * self.explained.1
            ))
            .x_label_formatter(&|v| tick_label(*v, x1 - x0))
            .y_label_formatter(&|v| tick_label(*v, y1 - y0))
            .label_style(("sans-serif", 11))
            .axis_desc_style(("sans-serif", 12))
            .light_line_style(WHITE)
            .draw()
            .map_err(err)?;
        for t in &self.trajectories {
            let c = condition_colour(t.colour);
            chart
                .draw_series(polyline_steps(&t.points, c.stroke_width(2)))
                .map_err(err)?
                .label(t.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2))
                });
            if let Some(&(x, y)) = t.points.first() {
                chart
                    .draw_series(std::iter::once(Circle::new((x, y), 4, c.filled())))
                    .map_err(err)?;
            }
            if let Some(&(x, y)) = t.points.last() {
                chart
                    .draw_series(std::iter::once(TriangleMarker::new((x, y), 6, c.filled())))
                    .map_err(err)?;
            }
        }
        if !self.fixed_points.is_empty() {
            let stable: Vec<_> = self.fixed_points.iter().filter(|f| f.2).collect();
            let unstable: Vec<_> = self.fixed_points.iter().filter(|f| !f.2).collect();
            if !stable.is_empty() {
                chart
                    .draw_series(
                        stable
                            .iter()
                            .map(|f| Cross::new((f.0, f.1), 7, BLACK.stroke_width(2))),
                    )
                    .map_err(err)?
                    .label("stable fixed point")
                    .legend(|(x, y)| Cross::new((x + 8, y), 5, BLACK.stroke_width(2)));
            }
            if !unstable.is_empty() {
                chart
                    .draw_series(
                        unstable
                            .iter()
                            .map(|f| Circle::new((f.0, f.1), 6, BLACK.stroke_width(2))),
                    )
                    .map_err(err)?
                    .label("unstable fixed point")
                    .legend(|(x, y)| Circle::new((x + 8, y), 5, BLACK.stroke_width(2)));
            }
        }
        Ok(())
    }
}

/// One unit's rate over time for each condition level.
#[derive(Debug, Clone)]
pub struct UnitPanel {
    /// Unit index.
    pub unit: usize,
    /// One mean-rate time course per condition level (label, colour, rates).
    pub curves: Vec<(String, usize, Vec<f64>)>,
}

/// Peri-stimulus rates of the most task-modulated units.
#[derive(Debug, Clone)]
pub struct UnitsFigure {
    /// The units to show.
    pub panels: Vec<UnitPanel>,
    /// Step in ms.
    pub dt: f64,
    /// The condition the curves are grouped by.
    pub condition: String,
}

const UNITS_WIDTH: u32 = 1100;

impl UnitsFigure {
    /// The key's labels: the level values (the header names the condition).
    fn key_labels(&self) -> Vec<String> {
        let labels: Vec<String> = self
            .panels
            .first()
            .map(|p| p.curves.iter().map(|(l, _, _)| l.clone()).collect())
            .unwrap_or_default();
        level_values(&self.condition, &labels)
    }

    /// Header height: the title and as many key rows as the levels need.
    fn header_height(&self) -> u32 {
        let labels = self.key_labels();
        let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
        (34 + KEY_ROW * key_rows(&refs, 10, UNITS_WIDTH as i32 - 10) + 6) as u32
    }
}

impl Figure for UnitsFigure {
    fn size(&self) -> (u32, u32) {
        let rows = self.panels.len().div_ceil(3).max(1) as u32;
        (UNITS_WIDTH, self.header_height() + 250 * rows)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        root.fill(&WHITE).map_err(err)?;
        let (header, body) = root.split_vertically(self.header_height());
        header
            .draw_text(
                &format!("Most task-modulated units: mean rate by {}", self.condition),
                &("sans-serif", 16).into_font().color(&BLACK),
                (10, 6),
            )
            .map_err(err)?;
        if let Some(first) = self.panels.first() {
            let items: Vec<(String, RGBColor)> = self
                .key_labels()
                .into_iter()
                .zip(&first.curves)
                .map(|(l, (_, c, _))| (l, condition_colour(*c)))
                .collect();
            draw_key(&header, &items, 10, 30, UNITS_WIDTH as i32 - 10)?;
        }
        let rows = self.panels.len().div_ceil(3).max(1);
        let cells = body.split_evenly((rows, 3));
        for (panel, cell) in self.panels.iter().zip(cells.iter()) {
            let steps = panel.curves.first().map_or(1, |c| c.2.len());
            let t_end = steps as f64 * self.dt;
            let hi = panel
                .curves
                .iter()
                .flat_map(|c| c.2.iter().cloned())
                .fold(0.0, f64::max)
                .max(1e-6)
                * 1.1;
            let lo = panel
                .curves
                .iter()
                .flat_map(|c| c.2.iter().cloned())
                .fold(0.0, f64::min);
            let mut chart = ChartBuilder::on(cell)
                .caption(format!("unit {}", panel.unit), ("sans-serif", 13))
                .margin(6)
                // Room for the last time tick's label.
                .margin_right(18)
                .x_label_area_size(30)
                .y_label_area_size(44)
                .build_cartesian_2d(0.0..t_end, lo..hi)
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_desc("time (ms)")
                .y_desc("rate")
                .x_labels(5)
                .y_labels(4)
                .x_label_formatter(&|x| format!("{x:.0}"))
                .label_style(("sans-serif", 10))
                .axis_desc_style(("sans-serif", 11))
                .light_line_style(WHITE)
                .draw()
                .map_err(err)?;
            for (label, colour, rates) in &panel.curves {
                let c = condition_colour(*colour);
                let pts: Vec<(f64, f64)> = rates
                    .iter()
                    .enumerate()
                    .map(|(t, r)| (t as f64 * self.dt, *r))
                    .collect();
                chart
                    .draw_series(polyline_steps(&pts, c.stroke_width(2)))
                    .map_err(err)?
                    .label(label.clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 14, y)], c.stroke_width(2))
                    });
            }
        }
        Ok(())
    }
}
