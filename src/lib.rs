//! McGurk: a workbench for adversarial attacks on audio-visual classifiers.
//!
//! The engine (`media`, `dsp`, `analysis`, `demo`) never imports the GUI; `app` (eframe) and
//! `cli` are thin shells over it. See ARCHITECTURE.md.

pub mod analysis;
pub mod attacks;
pub mod data;
pub mod app;
pub mod cli;
pub mod demo;
pub mod eval;
pub mod export;
pub mod dsp;
pub mod files;
pub mod kernels;
pub mod live;
pub mod media;
pub mod metrics;
pub mod models;
pub mod playback;
pub mod figures;
pub mod fuzz;
pub mod session;
pub mod train;
