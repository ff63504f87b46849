//! The main window, rendered headless with egui_kittest on wgpu (lavapipe on CPU machines).
//! Snapshots live in tests/snapshots; refresh them with UPDATE_SNAPSHOTS=1.

use std::time::{Duration, Instant};

use crate::common::*;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use mcgurk::app::settings::{Overlay, Source};
use mcgurk::app::workbench::Level;
use mcgurk::app::{Launch, Workbench};

/// A file dropped on the window, as a windowing integration would hand it to egui.
#[derive(Debug)]
struct Dropped(std::path::PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

fn harness(launch: Launch) -> Harness<'static, Workbench> {
    Harness::builder().with_size([1280.0, 820.0]).wgpu().build_eframe(move |cc| Workbench::new(cc, launch))
}

/// Step the UI until the worker has delivered (decoding runs off the UI thread).
fn settle(h: &mut Harness<'_, Workbench>) {
    let start = Instant::now();
    loop {
        h.step();
        if h.state().is_idle() && h.state().predictions_settled() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "worker never finished");
        std::thread::sleep(Duration::from_millis(20));
    }
    // A few more frames so textures and plot bounds settle.
    h.run_steps(5);
}

#[test]
fn main_view_shows_frame_waveform_and_spectrogram() {
    let mut h = harness(Launch::File(demo("cow.mp4")));
    settle(&mut h);
    let app = h.state();
    let clip = app.clip.as_ref().expect("clip loaded");
    assert_eq!(clip.frames.len(), 52);
    assert!(app.analysis.is_some());
    // The window starts at the middle of the clip, snapped to a frame.
    assert_eq!(app.frame_index(), Some(26));
    assert_eq!(app.status.as_ref().map(|s| s.level), Some(Level::Info));
    // Seven models answered for this frame, each with a full distribution.
    assert_eq!(app.results.len(), 7);
    assert!(app.results.iter().all(|r| (r.prediction.probs.iter().sum::<f32>() - 1.0).abs() < 1e-4));
    h.snapshot("main_view");
}

#[test]
fn heatmap_toggle_draws_localization_maps() {
    let mut h = harness(Launch::File(demo("cow.mp4")));
    settle(&mut h);
    assert!(!h.state().has_heatmap(), "off by default");
    // Tian's AV similarity needs both encoders: Sum has them, audio-only (index 5) has not.
    h.state_mut().set_overlay(Overlay::AvSimilarity, 0);
    h.run_steps(2);
    assert!(h.state().has_heatmap());
    h.state_mut().set_overlay(Overlay::AvSimilarity, 5);
    h.run_steps(2);
    assert!(!h.state().has_heatmap());
    h.state_mut().set_overlay(Overlay::Cam, 6);
    h.run_steps(3);
    assert!(h.state().has_heatmap());
    h.snapshot("cam_overlay");
    // Moving to another frame asks the models again.
    h.key_press(egui::Key::ArrowRight);
    settle(&mut h);
    assert_eq!(h.state().frame_index(), Some(27));
    assert_eq!(h.state().results.len(), 7);
}

#[test]
fn arrow_keys_step_frames() {
    let mut h = harness(Launch::File(demo("cow.mp4")));
    settle(&mut h);
    h.key_press(egui::Key::ArrowRight);
    h.run_steps(2);
    assert_eq!(h.state().frame_index(), Some(27));
    h.key_press(egui::Key::ArrowLeft);
    h.key_press(egui::Key::ArrowLeft);
    h.run_steps(2);
    assert_eq!(h.state().frame_index(), Some(25));
}

#[test]
fn bad_file_shows_an_error_and_keeps_the_open_clip() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(dir.path(), "broken.mp4", b"definitely not a video file at all");
    let mut h = harness(Launch::File(demo("cow.mp4")));
    settle(&mut h);
    h.state_mut().open(Source::File(bad));
    settle(&mut h);
    let status = h.state().status.clone().expect("a status");
    assert_eq!(status.level, Level::Error);
    assert!(status.text.contains("broken.mp4") && status.text.contains("looks like text"), "{}", status.text);
    // Shown to the user, in the status line.
    assert!(h.query_by_label_contains("Error: not a recognised").is_some());
    // Nothing lost: the clip that was open is still there.
    assert_eq!(h.state().clip.as_ref().map(|c| c.frames.len()), Some(52));
    // And the window keeps drawing.
    h.run_steps(3);
}

#[test]
fn recent_files_keep_what_exists_and_drop_what_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(dir.path(), "broken.mp4", b"not a video");
    let gone = dir.path().join("deleted.mp4");
    let mut h = harness(Launch::Empty);
    h.state_mut().settings.recent = vec![Source::File(gone.clone()), Source::File(bad.clone())];
    h.state_mut().open(Source::File(gone.clone()));
    settle(&mut h);
    h.state_mut().open(Source::File(bad.clone()));
    settle(&mut h);
    assert_eq!(h.state().settings.recent, vec![Source::File(bad)], "the deleted file is dropped, the broken one kept");
    h.state_mut().open(Source::File(demo("cow.mp4")));
    settle(&mut h);
    assert_eq!(h.state().settings.recent[0], Source::File(demo("cow.mp4")), "opened files go first");
}

#[test]
fn empty_window_invites_a_file() {
    let mut h = harness(Launch::Empty);
    h.run_steps(3);
    assert!(h.query_by_label_contains("drop files here").is_some());
}

#[test]
fn dropping_audio_and_image_pairs_them() {
    let mut h = harness(Launch::Empty);
    h.run_steps(2);
    for p in [demo("dog.ogg"), demo("dog.png")] {
        h.input_mut().dropped_files.push(std::sync::Arc::new(Dropped(p)));
    }
    settle(&mut h);
    let app = h.state();
    let clip = app.clip.as_ref().expect("pair loaded");
    assert_eq!(clip.sources.len(), 2);
    assert_eq!(clip.frames.len(), 1);
    assert!(clip.audio.is_some());
    h.snapshot("pair_view");
}
