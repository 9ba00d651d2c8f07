//! Figures rendered to both PNG and SVG, with the shared colours and fonts.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{register_fonts, ReportError};
use crate::atomic_file::write_atomic_with;

/// A figure that can draw itself on any plotters backend.
pub trait Figure {
    /// Pixel size (width, height).
    fn size(&self) -> (u32, u32);
    /// Draws onto `root`.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError>;
}

/// Writes `figure` as `<stem>.png` and `<stem>.svg` (each atomically).
pub fn save<F: Figure>(figure: &F, stem: &Path) -> Result<(), ReportError> {
    register_fonts();
    let size = figure.size();
    let fail = |path: &Path, message: String| ReportError::Draw {
        path: path.display().to_string(),
        message,
    };
    let png = stem.with_extension("png");
    write_atomic_with(&png, |tmp| -> Result<(), std::io::Error> {
        let root = BitMapBackend::new(tmp, size).into_drawing_area();
        figure
            .draw(&root)
            .and_then(|_| root.present().map_err(err))
            .map_err(std::io::Error::other)
    })
    .map_err(|e| fail(&png, e.to_string()))?;
    let svg = stem.with_extension("svg");
    write_atomic_with(&svg, |tmp| -> Result<(), std::io::Error> {
        let root = SVGBackend::new(tmp, size).into_drawing_area();
        figure
            .draw(&root)
            .and_then(|_| root.present().map_err(err))
            .map_err(std::io::Error::other)
    })
    .map_err(|e| fail(&svg, e.to_string()))?;
    Ok(())
}

/// The colour of condition level `k` (Okabe–Ito, safe for colour-blind readers), the same in
/// every figure.
pub fn condition_colour(k: usize) -> RGBColor {
    const PALETTE: [RGBColor; 8] = [
        RGBColor(0, 114, 178),
        RGBColor(230, 159, 0),
        RGBColor(0, 158, 115),
        RGBColor(204, 121, 167),
        RGBColor(86, 180, 233),
        RGBColor(213, 94, 0),
        RGBColor(120, 120, 120),
        RGBColor(0, 0, 0),
    ];
    PALETTE[k % PALETTE.len()]
}

/// A diverging blue–white–red colour for `v` in [−1, 1].
pub fn diverging(v: f64) -> RGBColor {
    let v = v.clamp(-1.0, 1.0);
    let mix = |a: f64, b: f64, t: f64| (a + (b - a) * t).round() as u8;
    if v < 0.0 {
        let t = -v;
        RGBColor(
            mix(255.0, 33.0, t),
            mix(255.0, 102.0, t),
            mix(255.0, 172.0, t),
        )
    } else {
        RGBColor(
            mix(255.0, 178.0, v),
            mix(255.0, 24.0, v),
            mix(255.0, 43.0, v),
        )
    }
}

/// A plotters drawing error, as plotters words it (its type depends on the backend, so the
/// message is kept).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DrawError(String);

/// Converts a drawing error of any backend to a [`DrawError`].
pub fn err<E: std::fmt::Debug + std::error::Error + Send + Sync>(
    e: DrawingAreaErrorKind<E>,
) -> DrawError {
    DrawError(e.to_string())
}

/// Draws a one-line colour key (a short line and the label per item) starting at `(x, y)`
/// pixels of `area`; returns the x where it ended.
pub fn draw_key<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    items: &[(String, RGBColor)],
    x: i32,
    y: i32,
) -> Result<i32, DrawError> {
    let mut x = x;
    let font = ("sans-serif", 13).into_font().color(&BLACK);
    for (label, colour) in items {
        area.draw(&PathElement::new(
            vec![(x, y + 7), (x + 18, y + 7)],
            colour.stroke_width(3),
        ))
        .map_err(err)?;
        x += 24;
        area.draw(&Text::new(label.clone(), (x, y), font.clone()))
            .map_err(err)?;
        let (w, _) = area.estimate_text_size(label, &font).map_err(err)?;
        x += w as i32 + 16;
    }
    Ok(x)
}

/// Draws a chart's series legend in the house style (white box, grey border) at `position`.
pub fn draw_legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
    font_size: u32,
) -> Result<(), DrawError> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(200, 200, 200))
        .label_font(("sans-serif", font_size))
        .draw()
        .map_err(err)
}
