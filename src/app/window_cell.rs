//! A model with a window of its own (a spectrogram, video or audio-visual model from a spec)
//! as one tile of the fusion comparison: what it was given, its map, its clean and attacked top
//! class, and the moment and attack it last ran on. While the comparison is open such a model
//! runs again whenever the clip, the moment or the attack changes (once the running look ends:
//! a superseded look would keep its core busy to the end).

use std::path::PathBuf;

use egui::{Color32, ColorImage, TextureHandle};

use crate::attacks::AttackConfig;
use crate::dsp::Colormap;

/// What a window's model was last run on.
#[derive(Clone, Debug, PartialEq)]
pub struct Moment {
    pub source: PathBuf,
    pub time_s: f64,
    pub attack: Option<AttackConfig>,
}

/// One tile, borrowed from the window that owns the textures.
pub struct Cell<'a> {
    pub title: String,
    pub view: &'a TextureHandle,
    pub heat: Option<&'a TextureHandle>,
    /// Top class and its probability, clean.
    pub clean: (String, f32),
    /// Top class and its probability under the attack, when it ran.
    pub attacked: Option<(String, f32)>,
    /// The clip, moment and attack of the shown result.
    pub what: &'a str,
    /// A look at the current moment is under way.
    pub running: bool,
}

/// The top class of `probs` by name.
pub fn top(names: &[String], probs: &[f32]) -> (String, f32) {
    let k = crate::models::predict::argmax(probs);
    (names.get(k).cloned().unwrap_or_else(|| format!("class {k}")), probs.get(k).copied().unwrap_or(0.0))
}

/// A map of `w` x `h` values as a translucent heat image, min-max scaled: the pattern
/// matters, not the absolute value.
pub fn translucent(values: &[f32], w: usize, h: usize) -> ColorImage {
    let (lo, hi) = values.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let span = (hi - lo).max(1e-6);
    let pixels = values
        .iter()
        .map(|&v| {
            let t = if v.is_finite() { ((v - lo) / span).clamp(0.0, 1.0) } else { 0.0 };
            let [r, g, b] = Colormap::Magma.rgb(t);
            Color32::from_rgba_unmultiplied(r, g, b, (90.0 + 120.0 * t) as u8)
        })
        .collect();
    ColorImage { size: [w, h], pixels, source_size: egui::vec2(w as f32, h as f32) }
}
