//! Weight matrices as heatmaps (diverging colours centred on 0, units ordered excitatory then
//! inhibitory) and the eigenvalue spectrum of the effective W_rec.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::figure::{diverging, err, DrawError, Figure};

/// W_in, W_rec and W_out side by side.
#[derive(Debug, Clone)]
pub struct WeightsFigure {
    /// [N_rec, N_in].
    pub w_in: Vec<f32>,
    /// [N_rec, N_rec].
    pub w_rec: Vec<f32>,
    /// [N_out, N_rec].
    pub w_out: Vec<f32>,
    /// (N_in, N_rec, N_out).
    pub sizes: (usize, usize, usize),
    /// Number of excitatory units (the first ones), under Dale's principle.
    pub n_excitatory: Option<usize>,
}

/// One matrix to draw as a heatmap.
struct Heatmap<'a> {
    title: &'a str,
    w: &'a [f32],
    rows: usize,
    cols: usize,
    x_desc: &'a str,
    y_desc: &'a str,
    /// (number of excitatory units, line between columns, line between rows).
    split: Option<(usize, bool, bool)>,
}

/// A heatmap tick: the index of the cell it centres on, none between cells.
fn cell_index(v: &f64) -> String {
    if (v - v.round()).abs() < 1e-6 && *v >= 0.0 {
        format!("{:.0}", v.round())
    } else {
        String::new()
    }
}

fn heatmap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    m: Heatmap<'_>,
    scale: f64,
) -> Result<(), DrawError> {
    let Heatmap {
        title,
        w,
        rows,
        cols,
        x_desc,
        y_desc,
        split,
    } = m;
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 16))
        .margin(8)
        .x_label_area_size(34)
        .y_label_area_size(44)
        // Cell (i, j) spans j − ½ … j + ½, so integer ticks sit on cell centres.
        .build_cartesian_2d(-0.5..cols as f64 - 0.5, rows as f64 - 0.5..-0.5)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_labels(6.min(cols + 1))
        .y_labels(6.min(rows + 1))
        .x_label_formatter(&cell_index)
        .y_label_formatter(&cell_index)
        .label_style(("sans-serif", 11))
        .axis_desc_style(("sans-serif", 12))
        .draw()
        .map_err(err)?;
    chart
        .draw_series((0..rows).flat_map(|i| {
            (0..cols).map(move |j| {
                let v = w[i * cols + j] as f64 / scale;
                let (x, y) = (j as f64 - 0.5, i as f64 - 0.5);
                Rectangle::new([(x, y), (x + 1.0, y + 1.0)], diverging(v).filled())
            })
        }))
        .map_err(err)?;
    if let Some((e, on_cols, on_rows)) = split {
        let line = RGBColor(60, 60, 60).stroke_width(1);
        if on_cols {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(e as f64 - 0.5, -0.5), (e as f64 - 0.5, rows as f64 - 0.5)],
                    line,
                )))
                .map_err(err)?;
        }
        if on_rows {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(-0.5, e as f64 - 0.5), (cols as f64 - 0.5, e as f64 - 0.5)],
                    line,
                )))
                .map_err(err)?;
        }
    }
    Ok(())
}

impl Figure for WeightsFigure {
    fn size(&self) -> (u32, u32) {
        (1200, 470)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        root.fill(&WHITE).map_err(err)?;
        let (n_in, n, n_out) = self.sizes;
        let all = self.w_in.iter().chain(&self.w_rec).chain(&self.w_out);
        let scale = all.fold(0.0f64, |m, &v| m.max((v as f64).abs())).max(1e-12);
        let (body, bar) = root.split_horizontally(1110);
        let parts = body.split_by_breakpoints([230, 780], [] as [u32; 0]);
        let e = self.n_excitatory;
        let m = |title, w, rows, cols, x_desc, y_desc, split| Heatmap {
            title,
            w,
            rows,
            cols,
            x_desc,
            y_desc,
            split,
        };
        heatmap(
            &parts[0],
            m(
                "W_in",
                &self.w_in,
                n,
                n_in,
                "input channel",
                "unit",
                e.map(|e| (e, false, true)),
            ),
            scale,
        )?;
        heatmap(
            &parts[1],
            m(
                "W_rec (column = presynaptic unit)",
                &self.w_rec,
                n,
                n,
                "from unit",
                "to unit",
                e.map(|e| (e, true, true)),
            ),
            scale,
        )?;
        heatmap(
            &parts[2],
            m(
                "W_out",
                &self.w_out,
                n_out,
                n,
                "unit",
                "output",
                e.map(|e| (e, true, false)),
            ),
            scale,
        )?;
        // Colour bar.
        let bar = bar.margin(40, 40, 4, 0);
        let (w, h) = bar.dim_in_pixel();
        for y in 0..h {
            let v = 1.0 - 2.0 * y as f64 / h.max(1) as f64;
            bar.draw(&Rectangle::new(
                [(0, y as i32), (w as i32 / 2, y as i32 + 1)],
                diverging(v).filled(),
            ))
            .map_err(err)?;
        }
        let font = ("sans-serif", 11).into_font().color(&BLACK);
        // Labels beside the bar, level with its top, middle and bottom.
        bar.draw(&Text::new(
            format!("{scale:+.2}"),
            (w as i32 / 2 + 3, 0),
            font.clone(),
        ))
        .map_err(err)?;
        bar.draw(&Text::new(
            "0".to_string(),
            (w as i32 / 2 + 3, h as i32 / 2 - 5),
            font.clone(),
        ))
        .map_err(err)?;
        bar.draw(&Text::new(
            format!("{:+.2}", -scale),
            (w as i32 / 2 + 3, h as i32 - 11),
            font,
        ))
        .map_err(err)?;
        Ok(())
    }
}

/// Eigenvalues of the effective W_rec in the complex plane, with the unit circle.
#[derive(Debug, Clone)]
pub struct SpectrumFigure {
    /// (re, im) pairs.
    pub eigenvalues: Vec<(f64, f64)>,
}

impl Figure for SpectrumFigure {
    fn size(&self) -> (u32, u32) {
        (520, 520)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        root.fill(&WHITE).map_err(err)?;
        let r = self
            .eigenvalues
            .iter()
            .map(|(a, b)| a.hypot(*b))
            .fold(1.0, f64::max)
            * 1.1;
        let mut chart = ChartBuilder::on(root)
            .caption("Eigenvalues of the effective W_rec", ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(-r..r, -r..r)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("real part")
            .y_desc("imaginary part")
            .label_style(("sans-serif", 11))
            .axis_desc_style(("sans-serif", 12))
            .light_line_style(WHITE)
            .draw()
            .map_err(err)?;
        let circle: Vec<(f64, f64)> = (0..=200)
            .map(|k| {
                let t = std::f64::consts::TAU * k as f64 / 200.0;
                (t.cos(), t.sin())
            })
            .collect();
        chart
            .draw_series(LineSeries::new(
                circle,
                RGBColor(150, 150, 150).stroke_width(1),
            ))
            .map_err(err)?
            .label("unit circle")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], RGBColor(150, 150, 150)));
        let blue = RGBColor(0, 114, 178);
        chart
            .draw_series(
                self.eigenvalues
                    .iter()
                    .map(|&(a, b)| Circle::new((a, b), 3, blue.filled())),
            )
            .map_err(err)?
            .label("eigenvalue")
            .legend(move |(x, y)| Circle::new((x + 8, y), 3, blue.filled()));
        super::figure::draw_legend(&mut chart, SeriesLabelPosition::UpperRight, 11)?;
        Ok(())
    }
}
