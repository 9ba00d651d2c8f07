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

/// The colours conditions are drawn in, the same in every figure: Okabe–Ito's eight
/// (safe for colour-blind readers) first, then eight more chosen to stay apart from them and
/// each other (CIE76 ΔE ≥ 20, a unit test checks) and from white, so up to 16 conditions (13 in
/// Yang's multitask set) get distinct colours.
pub const PALETTE: [RGBColor; 16] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(120, 120, 120),
    RGBColor(0, 0, 0),
    RGBColor(255, 0, 255),
    RGBColor(0, 0, 139),
    RGBColor(0, 200, 0),
    RGBColor(190, 0, 50),
    RGBColor(141, 182, 0),
    RGBColor(127, 0, 127),
    RGBColor(249, 132, 121),
    RGBColor(101, 69, 34),
];

/// A polyline as one two-point path per step, for wide lines through noisy data: plotters'
/// bitmap backend joins the steps of a wide `LineSeries` with miter joins, which spike far
/// past the data (and past the plot area) where the line turns back on itself
/// (plotters-rs/plotters#549, open). Separate steps have no joins to spike.
pub fn polyline_steps<X: Clone + 'static, Y: Clone + 'static>(
    points: &[(X, Y)],
    style: ShapeStyle,
) -> impl Iterator<Item = PathElement<(X, Y)>> + '_ {
    points
        .windows(2)
        .map(move |w| PathElement::new(vec![w[0].clone(), w[1].clone()], style))
}

/// The colour of condition level `k` ([`PALETTE`], repeating only past 16 levels).
pub fn condition_colour(k: usize) -> RGBColor {
    PALETTE[k % PALETTE.len()]
}

/// `n` colours for `n` items drawn together: the [`PALETTE`]'s first `n` up to 16, else `n`
/// evenly spaced samples of the continuous [`sequential`] map (so no two items share a colour).
pub fn colours(n: usize) -> Vec<RGBColor> {
    if n <= PALETTE.len() {
        PALETTE[..n].to_vec()
    } else {
        (0..n)
            .map(|k| sequential(k as f64 / (n - 1) as f64))
            .collect()
    }
}

/// A colour for `v` in [0, 1] on a perceptually ordered dark-purple–teal–green map (viridis'
/// anchor colours, linearly interpolated; its light yellow end is left out, as it vanishes on
/// white).
pub fn sequential(v: f64) -> RGBColor {
    const ANCHORS: [(f64, f64, f64); 8] = [
        (68.0, 1.0, 84.0),
        (71.0, 44.0, 122.0),
        (59.0, 81.0, 139.0),
        (44.0, 113.0, 142.0),
        (33.0, 144.0, 141.0),
        (39.0, 173.0, 129.0),
        (92.0, 200.0, 99.0),
        (170.0, 220.0, 50.0),
    ];
    let at = v.clamp(0.0, 1.0) * (ANCHORS.len() - 1) as f64;
    let k = (at.floor() as usize).min(ANCHORS.len() - 2);
    let f = at - k as f64;
    let (a, b) = (ANCHORS[k], ANCHORS[k + 1]);
    let mix = |x: f64, y: f64| (x + (y - x) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Positions for labels wanted at `wanted` (in order, pixels along one axis) that keep every
/// two at least `gap` apart and inside `lo..=hi` where they fit: each is as close to where it
/// is wanted as the ones before it allow, then the run is pushed back from `hi` if it passed it.
/// (Cluster names beside a map whose clusters may be one row high.)
pub fn spread_labels(wanted: &[i32], gap: i32, lo: i32, hi: i32) -> Vec<i32> {
    let mut at: Vec<i32> = Vec::with_capacity(wanted.len());
    for &w in wanted {
        let floor = at.last().map_or(lo, |&p| p + gap);
        at.push(w.max(floor));
    }
    let mut ceiling = hi;
    for p in at.iter_mut().rev() {
        *p = (*p).min(ceiling).max(lo);
        ceiling = *p - gap;
    }
    at
}

/// A tick label for `v` on an axis spanning `span`: as many decimals as the tick spacing
/// (about a tenth of the span) needs, so neighbouring ticks never read the same
/// (`0.2 0.4 …`, not `0 0 …`; `100 200 …`, not `100.000`).
pub fn tick_label(v: f64, span: f64) -> String {
    let step = (span.abs() / 10.0).max(f64::MIN_POSITIVE);
    let decimals = (-step.log10().floor()).clamp(0.0, 6.0) as usize;
    let text = format!("{v:.decimals$}");
    // "-0" and "-0.00" read as a different value from their neighbours' "0".
    if text
        .trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        text.trim_start_matches('-').to_string()
    } else {
        text
    }
}

/// `v` to 3 significant digits for titles and legends, without trailing zeros (`0.512`,
/// `12.3`, `1.23e-5`); a whole part of more digits is kept (`1235`, `380`).
pub fn short_number(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let magnitude = v.abs().log10().floor() as i32;
    if !(-3..6).contains(&magnitude) {
        return format!("{v:.2e}");
    }
    let decimals = (2 - magnitude).max(0) as usize;
    let text = format!("{v:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
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

/// Height in pixels of one row of a colour key.
pub const KEY_ROW: i32 = 18;

/// Width in pixels a key item takes at font size 13 (a line, the label, a gap), estimated from
/// its length so figures can size themselves before drawing (DejaVu Sans averages under 7.5 px
/// per character at this size).
fn key_item_width(label: &str) -> i32 {
    24 + (7.5 * label.chars().count() as f64).ceil() as i32 + 16
}

/// Where each item of a colour key goes: left to right from `x`, wrapping to a new row (of
/// [`KEY_ROW`] pixels) before an item would pass `right`. Returns the (x, row) of each item.
pub fn key_layout(labels: &[&str], x: i32, right: i32) -> Vec<(i32, i32)> {
    let mut at = Vec::with_capacity(labels.len());
    let (mut cx, mut row) = (x, 0);
    for label in labels {
        let w = key_item_width(label);
        if cx > x && cx + w > right {
            cx = x;
            row += 1;
        }
        at.push((cx, row));
        cx += w;
    }
    at
}

/// Rows [`key_layout`] needs for `labels` (0 for none).
pub fn key_rows(labels: &[&str], x: i32, right: i32) -> i32 {
    key_layout(labels, x, right)
        .last()
        .map_or(0, |&(_, row)| row + 1)
}

/// Draws a colour key (a short line and the label per item) at `(x, y)` pixels of `area`,
/// wrapping at `right` as [`key_layout`] says; returns the number of rows drawn.
pub fn draw_key<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    items: &[(String, RGBColor)],
    x: i32,
    y: i32,
    right: i32,
) -> Result<i32, DrawError> {
    let font = ("sans-serif", 13).into_font().color(&BLACK);
    let labels: Vec<&str> = items.iter().map(|(l, _)| l.as_str()).collect();
    let layout = key_layout(&labels, x, right);
    for ((label, colour), &(ix, row)) in items.iter().zip(&layout) {
        let iy = y + row * KEY_ROW;
        area.draw(&PathElement::new(
            vec![(ix, iy + 7), (ix + 18, iy + 7)],
            colour.stroke_width(3),
        ))
        .map_err(err)?;
        area.draw(&Text::new(label.clone(), (ix + 24, iy), font.clone()))
            .map_err(err)?;
    }
    Ok(layout.last().map_or(0, |&(_, row)| row + 1))
}

/// Width in pixels of a one-item-per-row key of `labels` (see [`draw_key_column`]).
pub fn key_column_width(labels: &[&str]) -> i32 {
    labels.iter().map(|l| key_item_width(l)).max().unwrap_or(0)
}

/// Draws a colour key with one item per row from `(x, y)` (a legend beside a plot, so it
/// covers no data). `items` are (label, colour, marker): a line, or a marker `"x"` / `"o"`.
pub fn draw_key_column<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    items: &[(String, RGBColor, &str)],
    x: i32,
    y: i32,
) -> Result<(), DrawError> {
    let font = ("sans-serif", 13).into_font().color(&BLACK);
    for (k, (label, colour, marker)) in items.iter().enumerate() {
        let iy = y + k as i32 * KEY_ROW;
        match *marker {
            "x" => area.draw(&Cross::new((x + 9, iy + 7), 5, colour.stroke_width(2))),
            "o" => area.draw(&Circle::new((x + 9, iy + 7), 5, colour.stroke_width(2))),
            _ => area.draw(&PathElement::new(
                vec![(x, iy + 7), (x + 18, iy + 7)],
                colour.stroke_width(3),
            )),
        }
        .map_err(err)?;
        area.draw(&Text::new(label.clone(), (x + 24, iy), font.clone()))
            .map_err(err)?;
    }
    Ok(())
}

/// The `name` of labels that all read `"{name} = value"`, if they do.
pub fn shared_condition(labels: &[String]) -> Option<String> {
    let name = labels.first()?.split(" = ").next()?.to_string();
    let prefix = format!("{name} = ");
    labels
        .iter()
        .all(|l| l.starts_with(&prefix))
        .then_some(name)
}

/// The labels of condition levels without their shared `"{name} = "` prefix (the figure's
/// title names the condition once), or as they are when they do not all share it.
pub fn level_values(name: &str, labels: &[String]) -> Vec<String> {
    let prefix = format!("{name} = ");
    if labels.iter().all(|l| l.starts_with(&prefix)) {
        labels
            .iter()
            .map(|l| l[prefix.len()..].to_string())
            .collect()
    } else {
        labels.to_vec()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Pixels painted (not white) outside the box `lo..=hi` (x and y) of a 200×200 image with
    /// `draw` applied to it.
    fn painted_outside(
        lo: i32,
        hi: i32,
        draw: impl Fn(&DrawingArea<BitMapBackend, Shift>),
    ) -> usize {
        let (w, h) = (200u32, 200u32);
        let mut buffer = vec![255u8; (w * h * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut buffer, (w, h)).into_drawing_area();
            draw(&root);
            root.present().unwrap();
        }
        let mut outside = 0;
        for y in 0..h as i32 {
            for x in 0..w as i32 {
                let k = ((y * w as i32 + x) * 3) as usize;
                let white = buffer[k..k + 3].iter().all(|&v| v == 255);
                let inside = (lo..=hi).contains(&x) && (lo..=hi).contains(&y);
                outside += usize::from(!white && !inside);
            }
        }
        outside
    }

    #[test]
    fn wide_lines_through_turn_backs_stay_near_their_points() {
        // Steps that turn back on themselves or nearly continue, as a noisy trajectory's do.
        let points: Vec<(i32, i32)> = vec![
            (60, 100),
            (100, 100),
            (60, 101),
            (100, 102),
            (140, 103),
            (100, 104),
            (101, 104),
            (140, 105),
            (139, 106),
            (140, 107),
            (60, 140),
            (61, 60),
            (62, 140),
        ];
        let style = RGBColor(200, 0, 0).stroke_width(2);
        // The box of the points, widened by the line's width and a pixel of antialiasing.
        let (lo, hi) = (60 - 3, 140 + 3);
        // One path through all points (what LineSeries draws) spikes past the box; if this
        // ever fails, plotters has fixed its joins and polyline_steps can go.
        let joined = painted_outside(lo, hi, |root| {
            root.draw(&PathElement::new(points.clone(), style)).unwrap();
        });
        assert!(joined > 0, "plotters no longer spikes at turn-backs");
        let steps = painted_outside(lo, hi, |root| {
            for step in polyline_steps(&points, style) {
                root.draw(&step).unwrap();
            }
        });
        assert_eq!(steps, 0);
    }

    /// CIELAB (D65) of an sRGB colour, written from the CIE formulas.
    fn lab(c: RGBColor) -> [f64; 3] {
        let linear = |v: u8| {
            let v = v as f64 / 255.0;
            if v <= 0.04045 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        let (r, g, b) = (linear(c.0), linear(c.1), linear(c.2));
        let x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047;
        let y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
        let z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
        let f = |t: f64| {
            let d: f64 = 6.0 / 29.0;
            if t > d.powi(3) {
                t.cbrt()
            } else {
                t / (3.0 * d * d) + 4.0 / 29.0
            }
        };
        let (fx, fy, fz) = (f(x), f(y), f(z));
        [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
    }

    fn delta_e(a: RGBColor, b: RGBColor) -> f64 {
        let (a, b) = (lab(a), lab(b));
        ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
    }

    #[test]
    fn spread_labels_keep_their_order_and_gap_and_stay_where_wanted_when_there_is_room() {
        assert_eq!(spread_labels(&[10, 50, 90], 12, 0, 100), [10, 50, 90]);
        // Three one-row clusters wanted 3 px apart: pushed down to 12 px apart.
        assert_eq!(
            spread_labels(&[40, 43, 46, 90], 12, 0, 100),
            [40, 52, 64, 90]
        );
        // At the bottom edge they are pushed back up.
        let at = spread_labels(&[80, 92, 95, 98], 12, 0, 100);
        assert_eq!(at, [64, 76, 88, 100]);
        for w in at.windows(2) {
            assert!(w[1] - w[0] >= 12);
        }
    }

    #[test]
    fn more_items_than_the_palette_get_as_many_distinct_ordered_colours() {
        assert_eq!(colours(5), PALETTE[..5].to_vec());
        assert_eq!(colours(16), PALETTE.to_vec());
        let many = colours(33);
        assert_eq!(many.len(), 33);
        for k in 1..many.len() {
            assert_ne!(many[k - 1], many[k], "items {} and {k}", k - 1);
            // Ordered: lightness rises along the map, so neighbours differ and order reads.
            assert!(lab(many[k])[0] > lab(many[k - 1])[0], "item {k}");
        }
        assert_eq!(sequential(0.0), RGBColor(68, 1, 84));
        assert_eq!(sequential(1.0), RGBColor(170, 220, 50));
        assert_eq!(sequential(-3.0), sequential(0.0));
    }

    #[test]
    fn palette_colours_are_pairwise_distinct_and_visible_on_white() {
        assert!(PALETTE.len() >= 13, "Yang's 13 tasks need 13 colours");
        for (i, &a) in PALETTE.iter().enumerate() {
            assert!(
                delta_e(a, WHITE) >= 15.0,
                "colour {i} {a:?} is too pale on white"
            );
            for (j, &b) in PALETTE.iter().enumerate().skip(i + 1) {
                let d = delta_e(a, b);
                assert!(d >= 20.0, "colours {i} {a:?} and {j} {b:?}: ΔE {d:.1}");
            }
        }
        assert_eq!(condition_colour(3), PALETTE[3]);
        assert_eq!(condition_colour(16), PALETTE[0]);
        // Black is ΔE 100 from white; the same colour is 0 from itself.
        assert!((delta_e(BLACK, WHITE) - 100.0).abs() < 0.01);
    }

    #[test]
    fn key_items_wrap_before_the_right_edge_and_never_overlap() {
        let labels: Vec<String> = (0..13).map(|k| format!("task_number_{k}")).collect();
        let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
        let (x, right) = (10, 600);
        let layout = key_layout(&refs, x, right);
        let rows = key_rows(&refs, x, right);
        assert!(rows > 1, "13 long labels need more than one row of 590 px");
        for (k, &(ix, row)) in layout.iter().enumerate() {
            assert!(
                ix + key_item_width(refs[k]) <= right,
                "item {k} passes the edge"
            );
            assert!(row < rows);
            if k > 0 && layout[k - 1].1 == row {
                let (px, _) = layout[k - 1];
                assert!(
                    px + key_item_width(refs[k - 1]) <= ix,
                    "items {k} overlaps its left neighbour"
                );
            }
        }
        assert_eq!(key_rows(&[], x, right), 0);
        assert_eq!(
            level_values(
                "coherence",
                &["coherence = 0.1".into(), "coherence = 0.5".into()]
            ),
            ["0.1", "0.5"]
        );
        assert_eq!(level_values("task", &["a".into()]), ["a"]);
    }

    #[test]
    fn tick_labels_differ_between_neighbouring_ticks() {
        // The chronometric axis that read "1 1 1 0 0 0": 0 to 1.1 in ticks of 0.2.
        let ticks: Vec<String> = (0..6).map(|i| tick_label(0.2 * i as f64, 1.1)).collect();
        assert_eq!(ticks, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        assert_eq!(tick_label(250.0, 600.0), "250");
        assert_eq!(tick_label(-0.0001, 1.0), "0.0");
        assert_eq!(tick_label(0.015, 0.05), "0.015");
    }

    #[test]
    fn short_numbers_keep_three_significant_digits() {
        for (v, text) in [
            (0.123456, "0.123"),
            (0.5, "0.5"),
            (1234.6, "1235"),
            (12.3456, "12.3"),
            (-0.051234, "-0.0512"),
            (0.0, "0"),
            (3.0, "3"),
            (0.000012345, "1.23e-5"),
        ] {
            assert_eq!(short_number(v), text, "{v}");
        }
    }
}
