//! Trajectories on the regression axes of the targeted dimensionality reduction, one panel per
//! context and sorting (as Mante et al. 2013, Fig. 5), with the context's slow points and the
//! direction of their slowest mode.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::figure::{diverging, draw_key, err, polyline_steps, DrawError, Figure};

/// One condition-averaged trajectory in a panel.
#[derive(Debug, Clone)]
pub struct TdrLine {
    /// The sorting evidence, scaled to [−1, 1] for the colour.
    pub evidence: f64,
    /// True for the first choice (filled end marker), false for the other (open marker).
    pub first_choice: bool,
    /// (choice-axis, evidence-axis) coordinates per step.
    pub points: Vec<(f64, f64)>,
}

/// One panel: a context's trajectories sorted by one evidence stream.
#[derive(Debug, Clone)]
pub struct TdrPanel {
    /// Short title, e.g. "motion context, sorted by motion".
    pub title: String,
    /// y-axis label, e.g. "motion axis".
    pub y_label: String,
    /// The trajectories.
    pub lines: Vec<TdrLine>,
    /// Slow points: (choice, evidence) coordinates and the in-plane direction of the slowest
    /// mode (drawn as a short segment).
    pub slow_points: Vec<((f64, f64), (f64, f64))>,
}

/// The TDR figure: rows of two panels (sorted by motion, sorted by colour) per context.
#[derive(Debug, Clone)]
pub struct TdrFigure {
    /// Panels, two per context, row by row.
    pub panels: Vec<TdrPanel>,
    /// Colour key: (label, evidence scaled to [−1, 1]).
    pub key: Vec<(String, f64)>,
    /// The line under the key (which marker is which choice, what the black points are).
    pub note: String,
}

impl Figure for TdrFigure {
    fn size(&self) -> (u32, u32) {
        let rows = self.panels.len().div_ceil(2).max(1) as u32;
        (900, 330 * rows + 48)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        root.fill(&WHITE).map_err(err)?;
        let (_, h) = root.dim_in_pixel();
        let (body, key) = root.split_vertically(h - 48);
        let rows = self.panels.len().div_ceil(2).max(1);
        let areas = body.split_evenly((rows, 2));
        // One scale for every panel's choice axis, one per evidence axis column.
        let range = |vals: &mut dyn Iterator<Item = f64>| {
            let (lo, hi) = vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
            if lo.is_finite() && hi > lo {
                (lo, hi)
            } else {
                (-1.0, 1.0)
            }
        };
        let xr = range(&mut self.panels.iter().flat_map(|p| {
            p.lines
                .iter()
                .flat_map(|l| l.points.iter().map(|q| q.0))
                .chain(p.slow_points.iter().map(|s| s.0 .0))
        }));
        for (i, (panel, area)) in self.panels.iter().zip(areas.iter()).enumerate() {
            let yr = range(
                &mut self.panels.iter().skip(i % 2).step_by(2).flat_map(|p| {
                    p.lines
                        .iter()
                        .flat_map(|l| l.points.iter().map(|q| q.1))
                        .chain(p.slow_points.iter().map(|s| s.0 .1))
                }),
            );
            let (px, py) = (0.06 * (xr.1 - xr.0), 0.06 * (yr.1 - yr.0));
            let mut chart = ChartBuilder::on(area)
                .caption(&panel.title, ("sans-serif", 14))
                .margin(10)
                .x_label_area_size(34)
                .y_label_area_size(48)
                .build_cartesian_2d((xr.0 - px)..(xr.1 + px), (yr.0 - py)..(yr.1 + py))
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_desc("choice axis")
                .y_desc(panel.y_label.clone())
                .x_labels(6)
                .y_labels(6)
                .label_style(("sans-serif", 11))
                .axis_desc_style(("sans-serif", 12))
                .light_line_style(WHITE)
                .draw()
                .map_err(err)?;
            for l in &panel.lines {
                let c = diverging(l.evidence);
                let dark = RGBColor(c.0 / 4 * 3, c.1 / 4 * 3, c.2 / 4 * 3);
                chart
                    .draw_series(polyline_steps(&l.points, c.stroke_width(2)))
                    .map_err(err)?;
                if let Some(&p) = l.points.last() {
                    let style = if l.first_choice {
                        c.filled()
                    } else {
                        WHITE.filled()
                    };
                    chart
                        .draw_series(std::iter::once(Circle::new(p, 5, style)))
                        .map_err(err)?;
                    chart
                        .draw_series(std::iter::once(Circle::new(p, 5, dark.stroke_width(1))))
                        .map_err(err)?;
                }
            }
            let seg = 0.06 * (xr.1 - xr.0).max(yr.1 - yr.0);
            for &((x, y), (dx, dy)) in &panel.slow_points {
                let norm = dx.hypot(dy).max(1e-12);
                // In-plane part of the unit direction: shorter when it leaves the plane.
                let (sx, sy) = (
                    seg * dx / norm * norm.min(1.0),
                    seg * dy / norm * norm.min(1.0),
                );
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(x - sx, y - sy), (x + sx, y + sy)],
                        RGBColor(60, 60, 60).stroke_width(1),
                    )))
                    .map_err(err)?;
                chart
                    .draw_series(std::iter::once(Circle::new((x, y), 2, BLACK.filled())))
                    .map_err(err)?;
            }
        }
        let items: Vec<(String, RGBColor)> = self
            .key
            .iter()
            .map(|(l, v)| (l.clone(), diverging(*v)))
            .collect();
        let rows = draw_key(&key, &items, 12, 4, key.dim_in_pixel().0 as i32 - 10)?;
        let font = ("sans-serif", 13).into_font().color(&BLACK);
        key.draw(&Text::new(self.note.clone(), (12, 4 + 22 * rows), font))
            .map_err(err)?;
        Ok(())
    }
}
