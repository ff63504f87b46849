//! Figures for papers, drawn with plotters: robustness curves, drop rate against convexity, the
//! PCA of embeddings. A [`Figure`] says what is drawn (data, labels, colours); [`save`] writes
//! it as SVG or PNG by the file's extension, with a font embedded in the binary (no system font
//! needed). The window's exports and the commands draw the same figures.

mod draw;
mod text;

use std::path::Path;

pub use draw::{render_png, render_svg};

/// Distinct colours that survive greyscale printing reasonably (Tableau 10); the workbench's
/// plots use them too.
pub const PALETTE: [[u8; 3]; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];

/// Pixels of a figure (PNG) or its nominal size (SVG).
pub const SIZE: (u32, u32) = (960, 600);

/// What one figure shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// The axes' ranges; None: from the data, with a margin.
    pub x_range: Option<(f64, f64)>,
    pub y_range: Option<(f64, f64)>,
    /// Labels at these x values instead of numbers (categorical or uneven steps).
    pub x_ticks: Option<Vec<(f64, String)>>,
    pub layers: Vec<Layer>,
    /// A colour scale beside the plot: its name and the values at its two ends (viridis).
    pub colour_scale: Option<(String, f64, f64)>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Layer {
    /// A line through its points, in the legend.
    Line { name: String, colour: [u8; 3], points: Vec<(f64, f64)> },
    /// Markers, filled or rings, each with an optional label beside it; in the legend when
    /// named.
    Points { name: Option<String>, colour: Vec<[u8; 3]>, points: Vec<(f64, f64)>, filled: bool, labels: Vec<String> },
}

impl Layer {
    pub fn points(&self) -> &[(f64, f64)] {
        match self {
            Self::Line { points, .. } | Self::Points { points, .. } => points,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FigureError {
    #[error("a figure is written as .svg or .png (chosen by the extension): {}", path.display())]
    Extension { path: std::path::PathBuf },
    #[error("cannot draw the figure: {0}")]
    Draw(String),
    #[error("cannot write the figure: {0}")]
    Write(String),
}

/// The file formats, by extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Svg,
    Png,
}

impl Format {
    pub fn of(path: &Path) -> Result<Self, FigureError> {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("svg") => Ok(Self::Svg),
            Some("png") => Ok(Self::Png),
            _ => Err(FigureError::Extension { path: path.into() }),
        }
    }
}

/// Checks that `path` names a figure format before any long work.
pub fn check_path(path: &Path) -> Result<(), FigureError> {
    Format::of(path).map(|_| ())
}

/// Writes `fig` to `path` (atomically), as SVG or PNG by its extension.
pub fn save(path: &Path, fig: &Figure) -> Result<(), FigureError> {
    let bytes = match Format::of(path)? {
        Format::Svg => render_svg(fig)?.into_bytes(),
        Format::Png => {
            let img = render_png(fig)?;
            let mut png = Vec::new();
            img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).map_err(|e| FigureError::Write(e.to_string()))?;
            png
        }
    };
    crate::files::write_atomic(path, &bytes).map_err(|e| FigureError::Write(e.to_string()))
}

/// The palette's colour number `i` (cycling).
pub fn colour(i: usize) -> [u8; 3] {
    PALETTE[i % PALETTE.len()]
}
