//! Signal processing: resampling, analysis windows, log-mel spectrograms, colormaps.
//! Pure computation: no I/O, no GUI.

pub mod colormap;
pub mod mel;
pub mod mel_filters;
pub mod resample;
pub mod window;

pub use colormap::Colormap;
pub use mel::{MelAnalyzer, MelConfig, Spectrogram};
