//! Figures, drawn with plotters into PNG or SVG. This module only draws; it computes no science.

mod behaviour;
mod comparison;
pub mod figure;
pub mod html;
mod library_page;
mod population;
mod psychometric;
pub mod run_report;
mod tdr;
mod training;
mod trials;
mod weights;

pub use crate::experiment::{ReportConfig, MAX_FIGURE_ITEMS};
pub use behaviour::{
    draw_behaviour_figures, GoNogoFigure, IntervalFigure, MatrixFigure, TaskVarianceFigure,
};
pub use comparison::{ComparisonFigure, SettingResult};
pub use figure::{condition_colour, save, DrawError, Figure};
pub use library_page::{write_library_page, LibraryPage, ModulePage, TaskPage};
pub use population::{PcaFigure, Trajectory, UnitPanel, UnitsFigure};
pub use psychometric::{
    ChronometricFigure, PsychometricFigure, StageCurve, StagePsychometricFigure,
};
pub use run_report::{write_report, RunReportError};
pub use tdr::{TdrFigure, TdrLine, TdrPanel};
pub use training::TrainingFigure;
pub use trials::{conditions_title, draw_trials, trials_svg, TrialPanel};
pub use weights::{SpectrumFigure, WeightsFigure};

use std::path::Path;
use std::sync::Once;

use plotters::style::FontStyle;

/// The bundled font (DejaVu Sans; its licence is `src/report/fonts/DejaVu-LICENSE.txt`), so
/// figures need no system fonts.
const FONT: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");

/// Registers the bundled font as plotters' "sans-serif" (once per process).
pub fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
            .unwrap_or_else(|_| panic!("the bundled font is valid"));
    });
}

/// Errors while drawing or writing a figure.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The output name has no supported extension.
    #[error("{path}: figures are written as .png or .svg")]
    Format {
        /// The path given.
        path: String,
    },
    /// Plotters failed.
    #[error("cannot draw {path}: {message}")]
    Draw {
        /// The figure being drawn.
        path: String,
        /// What failed.
        message: String,
    },
}

/// The image format for `path`, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// A PNG bitmap.
    Png,
    /// An SVG vector image.
    Svg,
}

impl ImageFormat {
    /// The format `path` asks for.
    pub fn of(path: &Path) -> Result<Self, ReportError> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("png") => Ok(ImageFormat::Png),
            Some("svg") => Ok(ImageFormat::Svg),
            _ => Err(ReportError::Format {
                path: path.display().to_string(),
            }),
        }
    }
}
