//! The desktop GUI (eframe/egui). A shell over the engine: it owns no media or DSP logic.

mod attack_panel;
pub mod classwise;
pub mod command;
mod curve;
pub mod dialogs;
mod file_dialog;
pub mod job;
pub mod loader;
mod models_view;
mod predictor;
pub mod settings;
pub mod training;
mod spec_windows;
mod spectrogram_window;
mod video_window;
mod views;
mod window_cell;
pub mod workbench;

use std::path::PathBuf;

pub use workbench::Workbench;

/// The dataset fields the class-wise and training windows start with: the demo data and its
/// held-out tag when this binary runs from a checkout (the data is not embedded), else empty.
fn demo_dataset() -> (String, String) {
    let demo = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/data/farm-av");
    if demo.is_dir() { (demo.display().to_string(), "tuxpaint".into()) } else { (String::new(), String::new()) }
}

/// What the window shows first.
#[derive(Debug, Clone)]
pub enum Launch {
    Demo,
    File(PathBuf),
    Pair { audio: PathBuf, image: PathBuf },
    Empty,
}

pub fn run(launch: Launch) -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("McGurk")
            .with_app_id("mcgurk")
            .with_inner_size([1280.0, 820.0])
            .with_min_inner_size([720.0, 480.0])
            .with_drag_and_drop(true),
        renderer: eframe::Renderer::Wgpu,
        persist_window: true,
        ..Default::default()
    };
    eframe::run_native(
        "mcgurk",
        options,
        Box::new(move |cc| {
            let mut app = Workbench::new(cc, launch);
            // Unsaved work from a run that did not close cleanly is offered back.
            app.find_recovery(None);
            Ok(Box::new(app))
        }),
    )
        .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}
