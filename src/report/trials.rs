//! Example trials: inputs and targets per channel over time, unscored spans shaded, epoch
//! boundaries marked, each trial titled by its conditions.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::figure::{draw_key, err, key_rows, polyline_steps, short_number, DrawError, KEY_ROW};
use super::{register_fonts, ImageFormat, ReportError};
use crate::atomic_file::write_atomic_with;

/// One trial to draw: arrays [time, channel] row-major.
#[derive(Debug, Clone)]
pub struct TrialPanel {
    /// Title (usually the trial's conditions).
    pub title: String,
    /// Inputs, [n_steps × n_in].
    pub inputs: Vec<f32>,
    /// Targets, [n_steps × n_out].
    pub targets: Vec<f32>,
    /// Mask, [n_steps × n_out].
    pub mask: Vec<f32>,
    /// Epochs as (name, start ms, end ms); empty when unknown (per-step form).
    pub epochs: Vec<(String, f64, f64)>,
    /// The network's outputs, [n_steps × n_out], drawn over dashed targets when given.
    pub outputs: Option<Vec<f32>>,
}

impl TrialPanel {
    /// Trial `i` of `batch` (no network outputs), titled with its conditions, with its epochs
    /// where its steps put them (step boundaries × `dt` ms: what the network sees).
    pub fn from_batch(batch: &crate::task::Batch, i: usize, dt: f64) -> Self {
        let (t, ni, no) = (batch.n_steps, batch.n_in, batch.n_out);
        TrialPanel {
            title: conditions_title(i, &batch.conditions[i]),
            inputs: batch.inputs[i * t * ni..(i + 1) * t * ni].to_vec(),
            targets: batch.targets[i * t * no..(i + 1) * t * no].to_vec(),
            mask: batch.mask[i * t * no..(i + 1) * t * no].to_vec(),
            epochs: batch.epochs[i]
                .iter()
                .map(|e| (e.name.clone(), e.start as f64 * dt, e.end as f64 * dt))
                .collect(),
            outputs: None,
        }
    }
}

const ROW_HEIGHT: u32 = 230;
const WIDTH: u32 = 1100;
/// Where the channel keys start (after their "inputs" / "outputs" word).
const KEY_X: i32 = 70;

/// Key rows of the input and the output channel names.
fn key_row_counts(input_names: &[String], output_names: &[String]) -> (i32, i32) {
    let rows = |names: &[String]| {
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        key_rows(&refs, KEY_X, WIDTH as i32 - 10).max(1)
    };
    (rows(input_names), rows(output_names))
}

/// Height of the header: the note and both keys.
fn header_height(input_names: &[String], output_names: &[String]) -> u32 {
    let (ri, ro) = key_row_counts(input_names, output_names);
    (22 + KEY_ROW * (ri + ro) + 6) as u32
}

/// Pixel size of the figure.
fn figure_size(
    panels: &[TrialPanel],
    input_names: &[String],
    output_names: &[String],
) -> (u32, u32) {
    (
        WIDTH,
        ROW_HEIGHT * panels.len().max(1) as u32 + header_height(input_names, output_names),
    )
}

/// Draws `panels` (one row each: inputs left, targets right) to `path` (.png or .svg),
/// atomically. `dt` is the step in ms; channel names label the legends.
pub fn draw_trials(
    path: &Path,
    panels: &[TrialPanel],
    dt: f64,
    input_names: &[String],
    output_names: &[String],
) -> Result<(), ReportError> {
    register_fonts();
    let format = ImageFormat::of(path)?;
    let size = figure_size(panels, input_names, output_names);
    let fail = |message: String| ReportError::Draw {
        path: path.display().to_string(),
        message,
    };
    write_atomic_with(path, |tmp| -> Result<(), std::io::Error> {
        let result = match format {
            ImageFormat::Png => {
                let root = BitMapBackend::new(tmp, size).into_drawing_area();
                draw(&root, panels, dt, input_names, output_names)
                    .and_then(|_| root.present().map_err(err))
            }
            ImageFormat::Svg => {
                let root = SVGBackend::new(tmp, size).into_drawing_area();
                draw(&root, panels, dt, input_names, output_names)
                    .and_then(|_| root.present().map_err(err))
            }
        };
        result.map_err(std::io::Error::other)
    })
    .map_err(|e| fail(e.to_string()))
}

/// [`draw_trials`] as SVG text, for a page that inlines its figures.
pub fn trials_svg(
    panels: &[TrialPanel],
    dt: f64,
    input_names: &[String],
    output_names: &[String],
) -> Result<String, ReportError> {
    register_fonts();
    let size = figure_size(panels, input_names, output_names);
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
        draw(&root, panels, dt, input_names, output_names)
            .and_then(|_| root.present().map_err(err))
            .map_err(|e| ReportError::Draw {
                path: "(inline figure)".into(),
                message: e.to_string(),
            })?;
    }
    Ok(text)
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    panels: &[TrialPanel],
    dt: f64,
    input_names: &[String],
    output_names: &[String],
) -> Result<(), DrawError> {
    root.fill(&WHITE).map_err(err)?;
    let (header, body) = root.split_vertically(header_height(input_names, output_names));
    let with_outputs = panels.iter().any(|p| p.outputs.is_some());
    let note = if with_outputs {
        "left: inputs; right: targets (dashed) and outputs (solid); grey: not scored (mask 0)"
    } else {
        "left: inputs; right: targets; grey: not scored (mask 0); dashed lines: epoch boundaries"
    };
    header
        .draw_text(note, &("sans-serif", 14).into_font().color(&BLACK), (10, 4))
        .map_err(err)?;
    let key = |names: &[String]| -> Vec<(String, RGBColor)> {
        names
            .iter()
            .cloned()
            .zip(super::figure::colours(names.len()))
            .collect()
    };
    let (inputs_rows, _) = key_row_counts(input_names, output_names);
    let word = ("sans-serif", 13).into_font().color(&RGBColor(90, 90, 90));
    header.draw_text("inputs", &word, (10, 22)).map_err(err)?;
    draw_key(&header, &key(input_names), KEY_X, 22, WIDTH as i32 - 10)?;
    let outputs_y = 22 + KEY_ROW * inputs_rows;
    header
        .draw_text("outputs", &word, (10, outputs_y))
        .map_err(err)?;
    draw_key(
        &header,
        &key(output_names),
        KEY_X,
        outputs_y,
        WIDTH as i32 - 10,
    )?;
    let rows = body.split_evenly((panels.len().max(1), 1));
    for (panel, row) in panels.iter().zip(rows) {
        let row = row
            .titled(&fitted_title(&panel.title, TITLE_CHARS), ("sans-serif", 14))
            .map_err(err)?;
        let halves = row.split_evenly((1, 2));
        draw_channels(
            &halves[0],
            panel,
            &panel.inputs,
            input_names,
            dt,
            "input",
            None,
        )
        .map_err(err)?;
        let label = if panel.outputs.is_some() {
            "target (dashed), output"
        } else {
            "target"
        };
        draw_channels(
            &halves[1],
            panel,
            &panel.targets,
            output_names,
            dt,
            label,
            panel.outputs.as_deref(),
        )
        .map_err(err)?;
    }
    Ok(())
}

fn draw_channels<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &TrialPanel,
    values: &[f32],
    names: &[String],
    dt: f64,
    what: &str,
    outputs: Option<&[f32]>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let n = names.len().max(1);
    let steps = values.len() / n;
    let t_end = steps as f64 * dt;
    let (mut lo, mut hi) = values
        .iter()
        .chain(outputs.unwrap_or(&[]))
        .fold((0.0f64, 0.0f64), |(a, b), &v| {
            (a.min(v as f64), b.max(v as f64))
        });
    if hi - lo < 1e-6 {
        hi = lo + 1.0;
    }
    let pad = 0.08 * (hi - lo);
    lo -= pad;
    hi += pad;
    let mut chart = ChartBuilder::on(area)
        .margin(6)
        // Room for the last time tick's label.
        .margin_right(18)
        .x_label_area_size(28)
        .y_label_area_size(44)
        .build_cartesian_2d(0.0..t_end, lo..hi)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("time (ms)")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc(what)
        .label_style(("sans-serif", 11))
        .axis_desc_style(("sans-serif", 12))
        .draw()?;
    // Unscored spans: steps where every output's mask is 0.
    let n_out = panel.mask.len() / steps.max(1);
    let mut t = 0;
    while t < steps {
        let unscored = |t: usize| {
            panel.mask[t * n_out..(t + 1) * n_out]
                .iter()
                .all(|&m| m == 0.0)
        };
        if unscored(t) {
            let start = t;
            while t < steps && unscored(t) {
                t += 1;
            }
            chart.draw_series(std::iter::once(Rectangle::new(
                [(start as f64 * dt, lo), (t as f64 * dt, hi)],
                RGBColor(225, 225, 225).filled(),
            )))?;
        } else {
            t += 1;
        }
    }
    for (name, start, end) in &panel.epochs {
        if *start <= 0.0 || *start >= t_end {
            continue;
        }
        // Name only epochs wide enough to hold it.
        let labelled = (end.min(t_end) - start) / t_end > 0.06;
        chart.draw_series(DashedLineSeries::new(
            vec![(*start, lo), (*start, hi)],
            4,
            3,
            RGBColor(120, 120, 120).stroke_width(1),
        ))?;
        if labelled {
            chart.draw_series(std::iter::once(Text::new(
                name.clone(),
                (*start + dt, hi - 0.02 * (hi - lo)),
                ("sans-serif", 10).into_font().color(&RGBColor(90, 90, 90)),
            )))?;
        }
    }
    let palette = super::figure::colours(names.len());
    for (c, name) in names.iter().enumerate() {
        let color = palette[c];
        let points: Vec<(f64, f64)> = (0..steps)
            .map(|t| (t as f64 * dt, values[t * n + c] as f64))
            .collect();
        match outputs {
            Some(out) => {
                chart.draw_series(DashedLineSeries::new(points, 5, 4, color.stroke_width(2)))?;
                let produced: Vec<(f64, f64)> = (0..steps)
                    .map(|t| (t as f64 * dt, out[t * n + c] as f64))
                    .collect();
                chart
                    .draw_series(polyline_steps(&produced, color.stroke_width(2)))?
                    .label(name.clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 14, y)], color.stroke_width(2))
                    });
            }
            None => {
                chart
                    .draw_series(polyline_steps(&points, color.stroke_width(2)))?
                    .label(name.clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 14, y)], color.stroke_width(2))
                    });
            }
        }
    }
    Ok(())
}

/// A trial's conditions as `key=value, …`, numbers to 3 significant digits; a condition the
/// trial lacks (NaN) is left out.
pub fn conditions_title(i: usize, c: &crate::task::Conditions) -> String {
    let parts: Vec<String> = c
        .iter()
        .filter_map(|(k, v)| match v {
            crate::task::ConditionValue::Number(x) if x.is_nan() => None,
            crate::task::ConditionValue::Number(x) => Some(format!("{k}={}", short_number(*x))),
            crate::task::ConditionValue::Text(s) => Some(format!("{k}={s}")),
        })
        .collect();
    format!("trial {i}: {}", parts.join(", "))
}

/// `title` cut to at most `max` characters at the end of a `key=value` item, with ` …` where
/// items were left out (trials.npz holds them all), so a title never runs off its panel.
fn fitted_title(title: &str, max: usize) -> String {
    if title.chars().count() <= max {
        return title.to_string();
    }
    let mut kept = String::new();
    for (k, item) in title.split(", ").enumerate() {
        let next = if k == 0 {
            item.to_string()
        } else {
            format!("{kept}, {item}")
        };
        if next.chars().count() + 2 > max {
            break;
        }
        kept = next;
    }
    if kept.is_empty() {
        kept = title.chars().take(max.saturating_sub(2)).collect();
    }
    format!("{kept} …")
}

/// The most characters of a trial title at 14 px over the figure's width (DejaVu Sans
/// averages under 7.5 px per character at 14 px; this leaves a margin).
const TITLE_CHARS: usize = (WIDTH as usize - 40) / 8;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::{Batch, ConditionValue, EpochSpan};

    #[test]
    fn long_titles_are_cut_at_an_item_and_missing_conditions_left_out() {
        let mut c = crate::task::Conditions::new();
        c.insert("is_match".into(), ConditionValue::Number(f64::NAN));
        c.insert("coherence".into(), ConditionValue::Number(0.123456));
        c.insert("task".into(), ConditionValue::Text("dm1".into()));
        let title = conditions_title(3, &c);
        assert_eq!(title, "trial 3: coherence=0.123, task=dm1");
        assert_eq!(fitted_title(&title, 80), title);
        assert_eq!(fitted_title(&title, 30), "trial 3: coherence=0.123 …");
        assert!(fitted_title(&title, 30).chars().count() <= 30);
        assert_eq!(fitted_title("abcdefghij", 6), "abcd …");
    }

    #[test]
    fn a_panel_holds_its_own_trials_rows_and_epochs_at_step_boundaries() {
        // 2 trials × 3 steps, 1 input, 2 outputs; every value says where it came from.
        let mut batch = Batch::empty(2, 3, 1, 2);
        for (k, v) in batch.inputs.iter_mut().enumerate() {
            *v = k as f32;
        }
        for (k, v) in batch.targets.iter_mut().enumerate() {
            *v = 100.0 + k as f32;
        }
        batch.conditions[1].insert("coherence".into(), ConditionValue::Number(0.25));
        batch.epochs[1] = vec![
            EpochSpan {
                name: "fix".into(),
                start: 0,
                end: 1,
            },
            EpochSpan {
                name: "go".into(),
                start: 1,
                end: 3,
            },
        ];
        let panel = TrialPanel::from_batch(&batch, 1, 20.0);
        assert_eq!(panel.inputs, vec![3.0, 4.0, 5.0]);
        assert_eq!(
            panel.targets,
            vec![106.0, 107.0, 108.0, 109.0, 110.0, 111.0]
        );
        assert_eq!(panel.mask.len(), 6);
        assert_eq!(
            panel.epochs,
            vec![
                ("fix".to_string(), 0.0, 20.0),
                ("go".to_string(), 20.0, 60.0)
            ]
        );
        assert_eq!(panel.title, conditions_title(1, &batch.conditions[1]));
        assert!(panel.title.contains("0.25"), "{}", panel.title);
        assert!(panel.outputs.is_none());
    }
}
