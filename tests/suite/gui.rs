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
    Harness::builder().with_size([1280.0, 820.0]).wgpu().build_eframe(move |cc| {
        let mut app = Workbench::new(cc, launch);
        // Update times differ run to run: keep them out of the snapshots.
        app.settings.show_timings = false;
        app
    })
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

/// Steps the UI until `done` holds for the workbench; fails with `what` after `secs` seconds.
fn wait_until(h: &mut Harness<'_, Workbench>, secs: u64, what: &str, done: impl Fn(&Workbench) -> bool) {
    let start = Instant::now();
    while !done(h.state()) {
        h.step();
        std::thread::sleep(Duration::from_millis(20));
        assert!(start.elapsed() < Duration::from_secs(secs), "{what}");
    }
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
    assert!(app.results.iter().all(|r| (r.view.clean.probs.iter().sum::<f32>() - 1.0).abs() < 1e-4));
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
    // The heatmap says what its colours mean.
    assert!(h.query_by_label_contains("heatmap colour scale: class activation").is_some());
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
    // In the notes box the arrows move the text cursor only.
    h.get_by_label("Notes (saved with the session)").click();
    h.run_steps(2);
    h.key_press(egui::Key::ArrowRight);
    h.key_press(egui::Key::ArrowLeft);
    h.key_press(egui::Key::ArrowLeft);
    h.run_steps(2);
    assert_eq!(h.state().frame_index(), Some(25), "typing in the notes moved the frame");
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

#[test]
fn dragging_the_eps_slider_attacks_every_model_live() {
    use mcgurk::app::settings::FrameView;
    let mut h = harness(Launch::File(demo("cow.mp4")));
    settle(&mut h);
    assert!(h.state().results.iter().all(|r| r.view.attacked.is_none()), "no attack until asked");
    h.get_by_label("attack the models").click();
    settle(&mut h);
    let cfg = h.state().settings.attack.config.clone();
    let first: Vec<f32> = h.state().results.iter().map(|r| r.view.attacked.as_ref().expect("attacked").loss_adv).collect();
    assert_eq!(first.len(), 7);
    // Drag the picture budget up through the slider's accessibility action, as a screen reader
    // (or a user's drag) would move it.
    let slider = h.get_by_role_and_label(egui::accesskit::Role::Slider, "eps video (pixel units, 0..1)");
    slider.set_value_accesskit(16.0 / 255.0);
    settle(&mut h);
    let now = &h.state().settings.attack.config;
    // The slider keeps four decimals.
    assert!((now.eps_v - 16.0 / 255.0).abs() < 1e-4 && now.eps_a == cfg.eps_a, "{now:?}");
    let results = &h.state().results;
    // Every model with a visual net now sees a bigger perturbation and a bigger loss; the
    // audio-only model is untouched by the picture budget.
    for (r, before) in results.iter().zip(&first) {
        let a = r.view.attacked.as_ref().unwrap();
        if r.info.fusion.uses_visual() {
            assert!(a.norms.video_linf > 8.0 / 255.0, "{}: {:?}", r.info.name, a.norms);
            assert!(a.loss_adv > *before, "{}: loss {before} -> {}", r.info.name, a.loss_adv);
        } else {
            assert!((a.loss_adv - before).abs() < 1e-4, "{}", r.info.name);
        }
    }
    let flipped = results.iter().filter(|r| r.view.attacked.as_ref().unwrap().prediction.best() != r.view.clean.best()).count();
    assert!(flipped >= 3, "FGSM at 16/255 on audio and video flips most demo models, {flipped} did");
    assert!(h.query_all_by_label_contains("flipped: cow").count() >= 3, "the flips are shown");
    h.state_mut().set_frame_view(FrameView::Perturbation);
    h.state_mut().set_overlay(Overlay::Cam, 0);
    settle(&mut h);
    h.snapshot("attack_view");
}

#[test]
fn a_saved_session_reopens_with_its_attack_notes_and_moment() {
    use mcgurk::app::command::Command;
    use mcgurk::attacks::{AttackConfig, Method, Modality};
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("cow.mp4");
    std::fs::copy(demo("cow.mp4"), &clip).unwrap();
    let path = dir.path().join("exp.mcgurk.json");
    let mut h = harness(Launch::File(clip.clone()));
    settle(&mut h);
    let cfg = AttackConfig { method: Method::Fgsm, modality: Modality::Audio, eps_a: 0.02, ..Default::default() };
    h.state_mut().set_attack(true, cfg.clone());
    h.key_press(egui::Key::ArrowRight);
    settle(&mut h);
    *h.state_mut().session_notes_mut() = "audio-only FGSM at 0.02".into();
    h.state_mut().command(Command::SaveSession(Some(path.clone())));
    h.run_steps(2);
    assert!(h.state().status.as_ref().unwrap().text.contains("session saved"), "{:?}", h.state().status);
    let saved = mcgurk::session::Session::load(&path).unwrap();
    assert_eq!(saved.results.len(), 7);
    assert!(saved.results.iter().all(|r| r.attacked_probs.is_some()));

    // A damaged session: an error naming it, and the open clip and settings stay.
    let broken = dir.path().join("broken.mcgurk.json");
    std::fs::write(&broken, "{\"format_version\": 2, \"clip\"").unwrap();
    h.state_mut().command(Command::OpenSession(broken));
    // Read off the UI thread: wait for the answer.
    settle(&mut h);
    let status = h.state().status.clone().unwrap();
    assert!(status.level == Level::Error && status.text.contains("broken.mcgurk.json"), "{status:?}");
    assert!(h.state().clip.is_some() && h.state().settings.attack.enabled);

    // A fresh window opens the session: same moment, attack and notes; results recomputed.
    let mut h2 = harness(Launch::Empty);
    h2.run_steps(2);
    h2.state_mut().command(Command::OpenSession(path.clone()));
    wait_until(&mut h2, 60, "session never opened", |s| s.clip.is_some() && s.frame_index() == Some(27) && s.predictions_settled());
    settle(&mut h2);
    let s = h2.state();
    assert_eq!(s.settings.attack.config, cfg);
    assert_eq!(s.session().notes, "audio-only FGSM at 0.02");
    assert_eq!(s.results.len(), 7);
    assert!(s.results.iter().all(|r| r.view.attacked.is_some()));

    // The clip moves: opening asks to locate it; locating it opens the session.
    let moved = dir.path().join("moved.mp4");
    std::fs::rename(&clip, &moved).unwrap();
    let mut h3 = harness(Launch::Empty);
    h3.state_mut().command(Command::OpenSession(path.clone()));
    let start = Instant::now();
    while h3.query_by_label_contains("is not there any more").is_none() {
        h3.step();
        std::thread::sleep(Duration::from_millis(20));
        assert!(start.elapsed() < Duration::from_secs(30), "no locate prompt");
    }
    h3.state_mut().command(Command::Relocate { old: clip.clone(), new: moved.clone() });
    settle(&mut h3);
    assert_eq!(h3.state().frame_index(), Some(27));
    assert_eq!(h3.state().session().notes, "audio-only FGSM at 0.02");
}

#[test]
fn autosave_is_offered_back_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let recovery = dir.path().join("recovery.mcgurk.json");
    let mut h = harness(Launch::File(demo("cow.mp4")));
    h.state_mut().find_recovery(Some(recovery.clone()));
    settle(&mut h);
    *h.state_mut().session_notes_mut() = "not saved yet".into();
    h.state_mut().autosave_now();
    let start = Instant::now();
    while !recovery.exists() {
        std::thread::sleep(Duration::from_millis(20));
        assert!(start.elapsed() < Duration::from_secs(10), "autosave never wrote");
    }
    let mut h2 = harness(Launch::Empty);
    h2.state_mut().find_recovery(Some(recovery.clone()));
    h2.run_steps(2);
    assert!(h2.state().recovery_offered());
    h2.get_by_label("Recover it").click();
    settle(&mut h2);
    assert!(h2.state().clip.is_some());
    assert_eq!(h2.state().session().notes, "not saved yet");
    assert!(!recovery.exists(), "the offer was answered");
}

#[test]
fn a_recovery_file_that_cannot_be_opened_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let recovery = dir.path().join("recovery.mcgurk.json");
    std::fs::write(&recovery, "{\"format_version\": 2, \"notes\": ").unwrap();
    let mut h = harness(Launch::Empty);
    h.state_mut().find_recovery(Some(recovery.clone()));
    h.run_steps(2);
    h.get_by_label("Recover it").click();
    // The file is read off the UI thread.
    wait_until(&mut h, 20, "no message", |s| s.status.as_ref().is_some_and(|st| st.text.contains("recovery file stays")));
    let status = h.state().status.clone().expect("a message").text;
    assert!(status.contains("ends early") && status.contains("the recovery file stays"), "{status}");
    assert!(recovery.exists(), "the work in it is not deleted");
}

#[test]
fn exports_write_the_adversarial_clip_and_the_results() {
    use mcgurk::app::command::Command;
    use mcgurk::app::command::ExportKind;
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(Launch::File(demo("cow.mp4")));
    settle(&mut h);
    // Before any attack there is no adversarial input: a warning, no file.
    let wav = dir.path().join("adv.wav");
    h.state_mut().command(Command::Export { kind: ExportKind::AdversarialWav, path: wav.clone() });
    h.run_steps(2);
    assert_eq!(h.state().status.as_ref().unwrap().level, Level::Warning);
    assert!(!wav.exists());
    h.get_by_label("attack the models").click();
    settle(&mut h);
    let files = [
        (ExportKind::AdversarialWav, dir.path().join("adv.wav")),
        (ExportKind::AdversarialPng, dir.path().join("adv.png")),
        (ExportKind::ResultsCsv, dir.path().join("results.csv")),
        (ExportKind::ResultsJson, dir.path().join("results.json")),
    ];
    for (kind, path) in &files {
        h.state_mut().command(Command::Export { kind: *kind, path: path.clone() });
    }
    wait_until(&mut h, 20, "exports never appeared", |_| files.iter().all(|(_, p)| p.exists()));
    let wav = std::fs::read(&files[0].1).unwrap();
    assert_eq!(&wav[..4], b"RIFF");
    assert_eq!(wav.len(), 44 + 4 * 32_767, "the small models' window, f32 mono");
    let png = image::open(&files[1].1).unwrap();
    assert_eq!((png.width(), png.height()), (112, 112));
    let csv = std::fs::read_to_string(&files[2].1).unwrap();
    assert_eq!(csv.lines().count(), 8, "{csv}");
    assert!(csv.lines().nth(1).unwrap().starts_with("sum,sum,cow,"), "{csv}");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&files[3].1).unwrap()).unwrap();
    assert_eq!(json["results"].as_array().unwrap().len(), 7);
    assert_eq!(json["attack"]["method"], "fgsm");
}

#[test]
fn the_robustness_curve_of_the_clip_falls_with_eps() {
    let mut h = harness(Launch::File(demo("cow.mp4")));
    settle(&mut h);
    h.get_by_label("attack the models").click();
    settle(&mut h);
    h.get_by_label("Robustness curve of this clip…").click();
    wait_until(&mut h, 120, "curve never finished", |s| s.curve().is_some());
    let c = h.state().curve().unwrap();
    assert_eq!(c.names.len(), 7);
    for (i, name) in c.names.iter().enumerate() {
        // At x0 nothing moves: every model keeps its clean answer.
        assert!(c.holds[i][0], "{name} at x0");
        // At 16 times the panel's (FGSM) budget at least as likely to be flipped as at x1.
        assert!(c.confidence[i][7] <= c.confidence[i][3] + 0.05 || !c.holds[i][7], "{name}: {:?}", c.confidence[i]);
    }
    let flipped_at_max = c.holds.iter().filter(|h| !h[7]).count();
    assert!(flipped_at_max >= 5, "{flipped_at_max} of 7 flipped at x16");
    let (confidence, holds) = (c.confidence.clone(), c.holds.clone());
    h.run_steps(4);
    h.snapshot("clip_curve");
    // Exported as a figure: one line of eight points per model, rings where it flipped. (After
    // the snapshot: the status line then names a temporary path.)
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("curve.svg");
    h.state_mut().command(mcgurk::app::command::Command::Export { kind: mcgurk::app::command::ExportKind::CurveFigure, path: svg.clone() });
    wait_until(&mut h, 20, "no figure written", |_| svg.is_file());
    let marks = svg_marks(&std::fs::read_to_string(&svg).unwrap());
    for (i, conf) in confidence.iter().enumerate() {
        let colour = hex(mcgurk::figures::colour(i));
        let line = marks.iter().find(|m| !m.circle && m.colour == colour && m.points.len() == 8).expect("a line per model");
        let want: Vec<f64> = conf.iter().map(|v| 100.0 * f64::from(*v)).collect();
        assert!(affine(&want, &line.points.iter().map(|p| p.1).collect::<Vec<_>>()), "model {i}");
        let rings = marks.iter().filter(|m| m.circle && !m.filled && m.colour == colour).count();
        assert_eq!(rings, holds[i].iter().filter(|h| !**h).count(), "model {i}: a ring per flip");
    }
}

#[test]
fn listening_without_an_audio_device_says_so() {
    let mut h = harness(Launch::File(demo("cow.mp4")));
    settle(&mut h);
    // Before an attack only the clean audio can be heard.
    h.get_by_label("adversarial").click();
    h.run_steps(2);
    assert_eq!(h.state().status.as_ref().unwrap().level, Level::Warning);
    h.get_by_label("clean").click();
    h.run_steps(2);
    // A machine with a sound card plays 3 s of cow; one without (CI) gets a message naming the
    // problem. Either way the window keeps running.
    let status = h.state().status.clone().unwrap();
    if status.level == Level::Error {
        assert!(status.text.contains("no audio output"), "{}", status.text);
    }
    h.run_steps(3);
}

#[test]
fn the_fusion_grid_shows_every_model_with_its_map_under_attack() {
    let mut h = harness(Launch::File(demo("cow.mp4")));
    settle(&mut h);
    h.get_by_label("attack the models").click();
    h.state_mut().set_grid_open(true);
    settle(&mut h);
    // Every model gets a tile with the picture it is given (the audio-only model ignores its).
    assert_eq!(h.state().grid_views(), 7);
    // Maps were computed for all of them (CAM needs a visual net: six of seven).
    let with_cam = h.state().results.iter().filter(|r| r.view.attacked.as_ref().is_some_and(|a| a.prediction.cam.is_some())).count();
    assert_eq!(with_cam, 6);
    assert!(h.query_by_label_contains("Fusion comparison").is_some());
    h.snapshot("fusion_grid");
}

/// Models with windows of their own, several at once (a spectrogram model, the demo video
/// model, an audio-visual pair), each in its own window, get tiles in the comparison too and
/// look again when the attack changes while it is open; a session keeps them all.
#[test]
fn the_fusion_grid_takes_in_the_window_models() {
    use mcgurk::app::command::Command;
    use mcgurk::attacks::{AttackConfig, Method, Modality};
    let dir = tempfile::tempdir().unwrap();
    let mut spec: serde_json::Value = serde_json::from_slice(&std::fs::read(root().join("tests/fixtures/torch/tal_tiny.spec.json")).unwrap()).unwrap();
    spec["weights"] = root().join("tests/fixtures/torch/tal_tiny.safetensors").display().to_string().into();
    let tal = write(dir.path(), "tal.spec.json", spec.to_string().as_bytes());
    let pair = root().join("tests/fixtures/torch/pair_gated_sum.spec.json");
    let mut h = harness(Launch::File(demo("cow.mp4")));
    settle(&mut h);
    h.state_mut().command(Command::AddDemoVideoModel);
    h.state_mut().command(Command::AddModel { path: tal.clone(), fusion: None });
    h.state_mut().command(Command::AddModel { path: pair.clone(), fusion: None });
    let all_show = |s: &Workbench, n_spectro: usize, n_video: usize, what: &dyn Fn(&str) -> bool| {
        let (running, a, v) = s.window_models_state();
        !running && a.len() == n_spectro && v.len() == n_video && a.iter().chain(&v).all(|x| x.is_some_and(what))
    };
    wait_until(&mut h, 120, "the window models never answered", |s| all_show(s, 1, 2, &|_| true));
    // Adding a spec that is loaded already opens its window again: no second model.
    h.state_mut().command(Command::AddModel { path: pair.clone(), fusion: None });
    h.run_steps(3);
    assert_eq!(h.state().window_model_specs().len(), 3);
    h.state_mut().set_grid_open(true);
    let attack = AttackConfig { method: Method::Fgsm, modality: Modality::Both, eps_a: 0.004, eps_v: 8.0 / 255.0, ..Default::default() };
    h.state_mut().set_attack(true, attack);
    // No click on any window's Run: the comparison asks for the new attack.
    wait_until(&mut h, 120, "the window models never looked again under the attack", |s| all_show(s, 1, 2, &|w| w.contains("FGSM") && w.contains("0.0040") || w.contains("0.0314 per pixel")));
    settle(&mut h);
    // Windows size themselves to what arrived over a few frames.
    h.run_steps(12);
    assert_eq!(h.state().grid_views(), 7);
    for label in ["demo-r2plus1d (video, 8 frames)", "tiny-tal-trans (log-mel)", "tiny-cnn14+r2plus1d-gated-sum (audio-visual, 8 frames)", "Audio-visual model: tiny-cnn14+r2plus1d-gated-sum", "Video model: demo-r2plus1d"] {
        assert!(h.query_by_label_contains(label).is_some(), "no '{label}'");
    }
    // Ten tiles under the attack: the seven models of the model thread and the three windows'.
    assert_eq!(h.query_all_by_label_contains("attacked: ").count(), 10);
    // The tile states the moment and attack it shows, as the window does.
    assert!(h.query_all_by_label_contains("FGSM eps 0.0314 per pixel").count() >= 2);
    // The comparison window only: the model windows behind it size themselves to what arrived
    // first, which varies run to run.
    let shot = h.render().unwrap();
    egui_kittest::image_snapshot(&image::imageops::crop_imm(&shot, 330, 0, 700, 795).to_image(), "fusion_grid_windows");
    // A session keeps the three specs and opens their windows again.
    let saved = dir.path().join("three.mcgurk.json");
    h.state_mut().command(Command::SaveSession(Some(saved.clone())));
    h.run_steps(2);
    let mut h2 = harness(Launch::Empty);
    h2.run_steps(2);
    h2.state_mut().command(Command::OpenSession(saved));
    wait_until(&mut h2, 120, "the session's windows were not loaded", |s| s.window_model_specs().len() == 3 && all_show(s, 1, 2, &|_| true));
    assert!(h2.state().window_model_specs().contains(&tal));
    // Closing a model's window drops the model (the comparison was not open here).
    let closes = h2.query_all_by_label("Close window").count();
    assert_eq!(closes, 3, "one close button per model window");
    h2.query_all_by_label("Close window").next().unwrap().click();
    h2.run_steps(3);
    assert_eq!(h2.state().window_model_specs().len(), 2);
    assert!(h2.state().status.as_ref().unwrap().text.contains("closed"));
}

#[test]
fn a_model_file_can_be_added_from_the_window() {
    use mcgurk::app::command::Command;
    let mut h = harness(Launch::File(demo("cow.mp4")));
    settle(&mut h);
    // A broken file: an error naming it, the zoo keeps working.
    let dir = tempfile::tempdir().unwrap();
    let bad = write(dir.path(), "broken.safetensors", b"not weights");
    h.state_mut().command(Command::AddModel { path: bad, fusion: None });
    wait_until(&mut h, 30, "no error for a broken model file", |s| s.status.as_ref().is_some_and(|st| st.level == Level::Error));
    assert!(h.state().status.as_ref().unwrap().text.contains("broken.safetensors"));
    // PyTorch weights in the reference layout (a tiny FiLM from the import fixtures).
    let film = root().join("tests/fixtures/torch/tiny_film.safetensors");
    h.state_mut().command(Command::AddModel { path: film, fusion: None });
    wait_until(&mut h, 60, "the model never answered", |s| s.models.len() >= 8 && s.results.len() >= 8);
    settle(&mut h);
    assert_eq!(h.state().models[7].name, "tiny_film");
    assert!(h.state().status.as_ref().unwrap().text.contains("added model tiny_film"));
    // The session remembers the added file (not the broken one) and loads it again.
    let path = dir.path().join("with_model.mcgurk.json");
    h.state_mut().command(Command::SaveSession(Some(path.clone())));
    h.run_steps(2);
    let saved = mcgurk::session::Session::load(&path).unwrap();
    assert_eq!(saved.model_files.len(), 1, "{:?}", saved.model_files);
    let mut h2 = harness(Launch::Empty);
    h2.run_steps(2);
    h2.state_mut().command(Command::OpenSession(path));
    wait_until(&mut h2, 60, "the session's model was not loaded", |s| s.models.len() >= 8);
    assert_eq!(h2.state().models[7].name, "tiny_film");
}

#[test]
fn the_audio_under_attack_shows_the_perturbation_spectrogram() {
    use mcgurk::attacks::{AttackConfig, Method, Modality};
    let mut h = harness(Launch::File(demo("cow.mp4")));
    settle(&mut h);
    h.state_mut().set_audio_open(true);
    h.state_mut().set_attack(true, AttackConfig { method: Method::Fgsm, modality: Modality::Audio, eps_a: 0.005, ..Default::default() });
    h.state_mut().set_overlay(Overlay::Off, 5);
    settle(&mut h);
    assert!(h.state().has_audio_views());
    let audio = h.state().results[5].view.attacked.as_ref().unwrap().audio.as_ref().unwrap();
    // eps 0.005 L-inf is 46 dB below full scale per sample; the demo window peaks near 0.9.
    assert!((15.0..60.0).contains(&audio.delta_below_db), "{}", audio.delta_below_db);
    assert_eq!(audio.clean.height, 64, "64 mel bands");
    assert!(h.query_by_label_contains("perturbation alone").is_some());
    h.run_steps(3);
    h.snapshot("audio_under_attack");
}

#[test]
fn escape_cancels_a_long_attack_and_keeps_the_last_results() {
    use mcgurk::attacks::{AttackConfig, Method};
    let mut h = harness(Launch::File(demo("cow.mp4")));
    settle(&mut h);
    let before: Vec<usize> = h.state().results.iter().map(|r| r.view.clean.best()).collect();
    // PGD-200 on seven models takes many seconds here: long enough to press Esc during it.
    h.state_mut().set_attack(true, AttackConfig { method: Method::Pgd, steps: 200, ..Default::default() });
    h.run_steps(2);
    std::thread::sleep(Duration::from_millis(300));
    h.key_press(egui::Key::Escape);
    let start = Instant::now();
    while !h.state().status.as_ref().is_some_and(|s| s.text.contains("attack cancelled")) {
        h.step();
        std::thread::sleep(Duration::from_millis(20));
        // Workers stop between attack steps, so this takes about one step, not one attack.
        assert!(start.elapsed() < Duration::from_secs(5), "Esc did not cancel promptly: {:?}", h.state().status);
    }
    // The clean results from before are still on screen, nothing attacked arrived.
    let after: Vec<usize> = h.state().results.iter().map(|r| r.view.clean.best()).collect();
    assert_eq!(before, after);
    assert!(h.state().results.iter().all(|r| r.view.attacked.is_none()));
}

#[test]
fn the_classwise_window_measures_a_dataset() {
    use mcgurk::app::classwise::SortBy;
    let mut h = harness(Launch::File(demo("cow.mp4")));
    settle(&mut h);
    {
        let w = &mut h.state_mut().classwise;
        w.open = true;
        w.views = 2;
        assert!(w.data.ends_with("farm-av"), "the demo data is the default in a checkout: {}", w.data);
        // Relative (tests run in the crate root), so the snapshot does not show this checkout's path.
        w.data = "assets/data/farm-av".into();
    }
    h.run_steps(2);
    h.get_by_label("Measure").click();
    wait_until(&mut h, 180, "metrics never finished", |s| s.classwise.report.is_some() || s.classwise.error.is_some());
    assert!(h.state().classwise.error.is_none(), "{:?}", h.state().classwise.error);
    let r = h.state().classwise.report.clone().unwrap();
    assert_eq!(r.rows.len(), 9);
    assert_eq!(r.samples, 46, "23 clips, 2 samples each");
    assert!(r.rows.iter().all(|row| row.drop_rate.is_some() || row.clean_acc == 0.0), "attacked with the panel's attack");
    assert!(!r.correlations.is_empty());
    h.run_steps(3);
    h.get_by_label("drop %").click();
    h.run_steps(2);
    assert_eq!(h.state().classwise.sort, (SortBy::Drop, false));
    h.get_by_label("drop % ^").click();
    h.run_steps(3);
    assert_eq!(h.state().classwise.sort, (SortBy::Drop, true), "a second click reverses");
    h.snapshot("classwise");

    // The report is part of the experiment: exported, saved with the session, back when the
    // session is opened.
    use mcgurk::app::command::Command;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("classwise.csv");
    h.state_mut().command(Command::Export { kind: mcgurk::app::command::ExportKind::ClasswiseCsv, path: csv.clone() });
    wait_until(&mut h, 20, "no CSV written", |_| csv.is_file());
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with("class,samples,clean_acc") && text.lines().count() == 10, "{text}");
    // The same figures as `metrics --plot-*`, from File > Export or the window's buttons.
    let (drop, pca) = (dir.path().join("drop.svg"), dir.path().join("pca.png"));
    h.state_mut().command(Command::Export { kind: mcgurk::app::command::ExportKind::ClasswiseDropFigure, path: drop.clone() });
    h.state_mut().command(Command::Export { kind: mcgurk::app::command::ExportKind::ClasswisePcaFigure, path: pca.clone() });
    wait_until(&mut h, 20, "no figures written", |_| drop.is_file() && pca.is_file());
    let dots = svg_marks(&std::fs::read_to_string(&drop).unwrap()).into_iter().filter(|m| m.circle && m.filled && m.radius == 6.0).count();
    assert_eq!(dots, r.rows.iter().filter(|row| row.kappa.kappa().is_some() && row.drop_rate.is_some()).count());
    assert_eq!(image::open(&pca).unwrap().width(), 960);
    let path = dir.path().join("metrics.mcgurk.json");
    h.state_mut().command(Command::SaveSession(Some(path.clone())));
    h.run_steps(2);
    let saved = mcgurk::session::Session::load(&path).unwrap();
    // JSON keeps f64 to about 1e-15 (serde_json without float_roundtrip): compare with a tolerance.
    let same = |a: &mcgurk::metrics::classwise::Report, b: &mcgurk::metrics::classwise::Report| {
        let close = |x: Option<f64>, y: Option<f64>| match (x, y) {
            (Some(x), Some(y)) => (x - y).abs() <= 1e-12 * x.abs().max(1.0),
            (x, y) => x == y,
        };
        a.rows.len() == b.rows.len()
            && a.projection == b.projection
            && a.rows.iter().zip(&b.rows).all(|(x, y)| {
                x.class == y.class
                    && x.samples == y.samples
                    && close(x.drop_rate, y.drop_rate)
                    && close(x.kappa.kappa(), y.kappa.kappa())
                    && x.density.iter().zip(&y.density).all(|(p, q)| close(p.density.rho(), q.density.rho()))
            })
    };
    assert!(same(saved.classwise.as_ref().and_then(|c| c.report.as_ref()).unwrap(), &r));
    let mut h2 = harness(Launch::Empty);
    h2.run_steps(2);
    h2.state_mut().command(Command::OpenSession(path));
    wait_until(&mut h2, 60, "the session never opened", |s| s.classwise.report.is_some());
    let w = &h2.state().classwise;
    assert!(w.open, "a saved report opens its window");
    assert!(same(w.report.as_ref().unwrap(), &r));
    assert_eq!((w.views, w.data.as_str()), (2, "assets/data/farm-av"));
}

#[test]
fn the_classwise_window_names_a_bad_dataset() {
    let mut h = harness(Launch::File(demo("cow.mp4")));
    settle(&mut h);
    {
        let w = &mut h.state_mut().classwise;
        w.open = true;
        w.data = "/no/such/folder".into();
    }
    h.run_steps(2);
    h.get_by_label("Measure").click();
    wait_until(&mut h, 30, "no error shown", |s| s.classwise.error.is_some());
    assert!(h.state().classwise.error.as_ref().unwrap().contains("/no/such/folder"), "{:?}", h.state().classwise.error);
    assert!(!h.state().classwise.running());
}

#[test]
fn the_training_panel_trains_shows_curves_and_adds_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(Launch::File(demo("cow.mp4")));
    settle(&mut h);
    {
        let t = &mut h.state_mut().training;
        t.open = true;
        t.data = "assets/data/farm-av".into();
        t.epochs = 3;
        t.samples_per_epoch = 8;
        t.adversarial = true;
    }
    // What a folder picked in the Browse… dialog does.
    h.state_mut().command(mcgurk::app::command::Command::SetPath { field: mcgurk::app::command::PathField::TrainingOut, path: dir.path().join("panel_sum") });
    h.run_steps(1);
    assert_eq!(h.state().training.out, dir.path().join("panel_sum").display().to_string());
    h.run_steps(2);
    h.get_by_label("Start training").click();
    h.run_steps(2);
    assert!(h.state().training.running());
    wait_until(&mut h, 300, "training never finished", |s| !s.training.running());
    let t = &h.state().training;
    assert!(t.error.is_none(), "{:?}", t.error);
    assert_eq!(t.epochs_seen.len(), 3, "every epoch reached the curves");
    assert!(t.finished.as_ref().is_some_and(|p| p.is_file()));
    h.get_by_label("Add to the workbench").click();
    wait_until(&mut h, 60, "model never added", |s| s.models.len() >= 8);
    assert_eq!(h.state().models[7].name, "panel_sum");
}

/// The panel's look, with fixed curves: a real run's losses differ in the last bits from one
/// machine to another (threaded reductions), which would move antialiased pixels.
#[test]
fn the_training_panel_draws_its_curves() {
    use mcgurk::train::EpochLog;
    let mut h = harness(Launch::File(demo("cow.mp4")));
    settle(&mut h);
    {
        let t = &mut h.state_mut().training;
        t.open = true;
        t.data = "assets/data/farm-av".into();
        t.out = "runs/sum".into();
        t.epochs = 5;
        t.dc_mixup = true;
        t.epochs_seen = (1..=5)
            .map(|e| EpochLog {
                epoch: e,
                train_loss: 2.2 / e as f32,
                train_acc: 0.15 * e as f32,
                val_loss: Some(2.4 - 0.1 * e as f32),
                val_acc: Some(0.05 * e as f32),
                seconds: 10.0,
                mixup: None,
            })
            .collect();
    }
    h.run_steps(3);
    // Park the pointer off the plots (they draw a hover line under it).
    h.get_by_label("held-out tag").hover();
    h.run_steps(3);
    h.snapshot("training");
}

#[test]
fn cancelling_training_keeps_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(Launch::File(demo("cow.mp4")));
    settle(&mut h);
    {
        let t = &mut h.state_mut().training;
        t.open = true;
        t.data = "assets/data/farm-av".into();
        t.epochs = 100;
        t.samples_per_epoch = 4;
        t.out = dir.path().join("run").display().to_string();
    }
    h.run_steps(2);
    h.get_by_label("Start training").click();
    wait_until(&mut h, 120, "no epoch finished", |s| !s.training.epochs_seen.is_empty());
    h.get_by_label("Cancel").click();
    wait_until(&mut h, 60, "cancel did not stop training", |s| !s.training.running());
    let err = h.state().training.error.clone().unwrap();
    assert!(err.contains("cancelled after") && err.contains("Resume"), "{err}");
    let log: mcgurk::train::TrainLog = serde_json::from_slice(&std::fs::read(dir.path().join("run/train_log.json")).unwrap()).unwrap();
    let state = log.state.expect("the last complete epoch is committed");
    assert!(dir.path().join("run").join(&state.checkpoint).is_file());
    // Starting again into that folder without Resume would overwrite the run: refused.
    let before = std::fs::read(dir.path().join("run/train_log.json")).unwrap();
    h.get_by_label("Start training").click();
    h.run_steps(2);
    assert!(!h.state().training.running());
    let err = h.state().training.error.clone().unwrap();
    assert!(err.contains("already holds a training run"), "{err}");
    assert_eq!(std::fs::read(dir.path().join("run/train_log.json")).unwrap(), before, "the run is untouched");
}

/// The note that an update was cancelled goes once newer predictions are shown.
#[test]
fn the_cancel_note_goes_when_predictions_are_current_again() {
    use mcgurk::app::workbench::Status;
    let mut h = harness(Launch::File(demo("cow.mp4")));
    settle(&mut h);
    let note = "attack cancelled; the predictions shown are from the previous settings";
    h.state_mut().status = Some(Status { level: Level::Info, text: note.into() });
    h.key_press(egui::Key::ArrowRight);
    settle(&mut h);
    assert_ne!(h.state().status.as_ref().map(|s| s.text.as_str()), Some(note));
}

/// Closing the window with unsaved notes asks first; without changes it does not.
#[test]
fn quitting_with_unsaved_work_asks_first() {
    let close = |h: &mut Harness<'_, Workbench>| {
        h.input_mut().viewports.entry(egui::ViewportId::ROOT).or_default().events.push(egui::ViewportEvent::Close);
        h.run_steps(2);
    };
    let mut h = harness(Launch::File(demo("cow.mp4")));
    settle(&mut h);
    assert!(!h.state().has_unsaved_work(), "looking at a clip is no work to lose");
    close(&mut h);
    assert!(h.query_by_label_contains("not in a session file").is_none());

    *h.state_mut().session_notes_mut() = "the owl flips at x2".into();
    assert!(h.state().has_unsaved_work());
    close(&mut h);
    assert!(h.query_by_label_contains("not in a session file").is_some(), "the question shows");
    h.get_by_label("Cancel").click();
    h.run_steps(2);
    assert!(h.query_by_label_contains("not in a session file").is_none());
    assert_eq!(h.state().session().notes, "the owl flips at x2", "nothing lost");

    // Saving on the way out: the session is written, then the window may close.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.mcgurk.json");
    h.state_mut().command(mcgurk::app::command::Command::SaveSession(Some(path.clone())));
    h.run_steps(2);
    assert!(!h.state().has_unsaved_work() && path.is_file());
    close(&mut h);
    assert!(h.query_by_label_contains("not in a session file").is_none());
}

/// The attack's SNR and PSNR show whichever model the heatmap follows (a visual-only heatmap
/// model still has the audio attack's SNR beside it).
#[test]
fn attack_readouts_belong_to_the_attack() {
    use mcgurk::attacks::AttackConfig;
    let mut h = harness(Launch::File(demo("cow.mp4")));
    settle(&mut h);
    h.state_mut().set_attack(true, AttackConfig { method: mcgurk::attacks::Method::Fgsm, ..AttackConfig::default() });
    for model in [5, 6] {
        // 5: audio only, 6: visual only.
        h.state_mut().set_overlay(Overlay::Cam, model);
        settle(&mut h);
        assert!(h.query_by_label_contains("per sample · SNR –").is_none() && h.query_by_label_contains("per sample · SNR ").is_some(), "heatmap model {model}: no SNR");
        assert!(h.query_by_label_contains("per pixel · PSNR –").is_none() && h.query_by_label_contains("per pixel · PSNR ").is_some(), "heatmap model {model}: no PSNR");
    }
}

/// "Audio under attack" says plainly that a visual-only model hears no audio.
#[test]
fn audio_under_attack_says_when_a_model_hears_no_audio() {
    use mcgurk::attacks::AttackConfig;
    let mut h = harness(Launch::File(demo("cow.mp4")));
    settle(&mut h);
    h.state_mut().set_attack(true, AttackConfig { method: mcgurk::attacks::Method::Fgsm, ..AttackConfig::default() });
    h.state_mut().set_audio_open(true);
    h.state_mut().set_overlay(Overlay::Cam, 6);
    settle(&mut h);
    assert!(h.query_by_label_contains("Visual only hears no audio").is_some());
    assert!(h.query_by_label_contains("dB below").is_none());
    h.state_mut().set_overlay(Overlay::Cam, 0);
    settle(&mut h);
    assert!(h.query_by_label_contains("hears no audio").is_none());
}

/// Without a system file dialog (no portal, no zenity: this machine, CI) File > Open falls back
/// to McGurk's own, which opens a clip and saves a session.
#[test]
fn file_dialogs_work_without_a_desktop_portal() {
    use mcgurk::app::command::{Command, DialogKind};
    let mut h = harness(Launch::Empty);
    h.run_steps(2);
    h.state_mut().command(Command::Dialog(DialogKind::Any));
    wait_until(&mut h, 20, "no dialog of any kind appeared", |s| s.file_dialog_open());
    h.run_steps(2);
    assert!(h.query_by_label_contains("McGurk's own file dialog").is_some());
    assert!(h.query_by_label_contains("shows no system file dialog").is_some(), "the status line says which dialog is in use");
    h.state_mut().file_dialog_go_to(&root().join("tests/fixtures"));
    h.run_steps(2);
    assert!(h.query_by_label("corrupt_packets.py").is_none(), "only media are listed");
    h.get_by_label("tone_22050.wav").click();
    h.run_steps(2);
    h.get_by_label("Open").click();
    settle(&mut h);
    assert_eq!(h.state().source, Some(mcgurk::app::settings::Source::File(root().join("tests/fixtures/tone_22050.wav"))), "{:?}", h.state().status);
    assert!(h.state().clip.is_some());

    // Saving: the proposed name in the folder the dialog is in.
    let dir = tempfile::tempdir().unwrap();
    h.state_mut().use_builtin_dialogs();
    h.state_mut().command(Command::Dialog(DialogKind::SaveSession));
    h.run_steps(2);
    h.state_mut().file_dialog_go_to(dir.path());
    h.run_steps(2);
    h.run_steps(3);
    h.get_by_label("Save").click();
    h.run_steps(3);
    assert!(dir.path().join("experiment.mcgurk.json").is_file());
    assert!(!h.state().file_dialog_open());
    // The folder is remembered with the settings (the next run's dialog opens there).
    assert_eq!(h.state().settings.dialog_dir.as_deref(), Some(dir.path()));
}

#[test]
fn the_layout_holds_in_a_1024_by_640_window() {
    use mcgurk::app::settings::FrameView;
    let mut h = Harness::builder().with_size([1024.0, 640.0]).wgpu().build_eframe(move |cc| {
        let mut app = Workbench::new(cc, Launch::File(demo("cow.mp4")));
        app.settings.show_timings = false;
        app
    });
    settle(&mut h);
    let panel_x = |h: &Harness<'_, Workbench>| h.get_by_label("Predictions").rect().left();
    let scrubber = |h: &Harness<'_, Workbench>| h.get_by_role_and_label(egui::accesskit::Role::Slider, "frame").rect();
    let (x, frame) = (panel_x(&h), scrubber(&h));
    // Longer content in the predictions panel: flips with losses, the heatmap's model chooser.
    h.get_by_label("attack the models").click();
    settle(&mut h);
    h.state_mut().set_overlay(Overlay::Cam, 0);
    h.state_mut().set_frame_view(FrameView::Perturbation);
    settle(&mut h);
    assert!(h.query_all_by_label_contains("flipped: cow").count() >= 1);
    assert!((panel_x(&h) - x).abs() < 0.5, "the predictions panel moved: {x} -> {}", panel_x(&h));
    assert!((scrubber(&h).left() - frame.left()).abs() < 0.5 && (scrubber(&h).width() - frame.width()).abs() < 0.5, "the scrubber jumped");
    // The centre column's scrubber is in the window (the waveform and spectrogram below it are
    // plots without accessible names: the snapshot shows them).
    assert!(scrubber(&h).bottom() < 400.0 && scrubber(&h).left() > 0.0, "{:?}", scrubber(&h));
    h.snapshot("small_window");
}

#[test]
fn a_short_clip_gets_time_ticks_below_one_second() {
    let dir = tempfile::tempdir().unwrap();
    let (wav, png) = (dir.path().join("short.wav"), dir.path().join("short.png"));
    // 0.9 s of a 440 Hz tone at 22.05 kHz, and a plain picture.
    let rate = 22_050;
    let tone: Vec<f32> = (0..(rate * 9 / 10)).map(|i| 0.5 * (i as f32 * 440.0 * std::f32::consts::TAU / rate as f32).sin()).collect();
    mcgurk::export::write_wav_at(&wav, &tone, rate as u32).unwrap();
    image::RgbImage::from_pixel(64, 48, image::Rgb([90, 140, 60])).save(&png).unwrap();
    let mut h = harness(Launch::Pair { audio: wav, image: png });
    settle(&mut h);
    h.run_steps(4);
    h.snapshot("short_clip");
}

#[test]
fn a_new_clip_after_a_slow_attack_starts_with_the_attack_paused() {
    let mut h = harness(Launch::File(demo("cow.mp4")));
    settle(&mut h);
    // Every attack counts as slow here (the window's own threshold is 3 s).
    h.state_mut().pause_slow_attack_ms = 0.0;
    h.get_by_label("attack the models").click();
    settle(&mut h);
    assert!(h.state().results.iter().all(|r| r.view.attacked.is_some()));
    let farm = root().join("assets/data/farm-av/dog");
    h.state_mut().open(Source::Pair { audio: farm.join("gcompris-dog.ogg"), image: farm.join("gcompris-dog.webp") });
    settle(&mut h);
    assert!(h.state().attack_paused && h.state().settings.attack.enabled, "still on, but paused");
    assert!(h.state().results.iter().all(|r| r.view.attacked.is_none()), "only the clean answers for the new clip");
    assert!(h.state().status.as_ref().unwrap().text.contains("the attack is paused for this clip"));
    h.get_by_label("Resume the attack").click();
    settle(&mut h);
    assert!(!h.state().attack_paused);
    assert!(h.state().results.iter().all(|r| r.view.attacked.is_some()), "attacked again after Resume");
}

/// File > Add model with a spectrogram model's spec: its own window shows what the model hears
/// (its log-mel input clean, attacked and the difference), where TAL-trans listens, and the
/// per-class sigmoid probabilities with the 0.5 line.
#[test]
fn a_spectrogram_model_shows_what_it_hears() {
    use mcgurk::app::command::Command;
    use mcgurk::attacks::{AttackConfig, Method, Modality};
    let dir = tempfile::tempdir().unwrap();
    let mut spec: serde_json::Value = serde_json::from_slice(&std::fs::read(root().join("tests/fixtures/torch/tal_tiny.spec.json")).unwrap()).unwrap();
    spec["weights"] = root().join("tests/fixtures/torch/tal_tiny.safetensors").display().to_string().into();
    let path = write(dir.path(), "tal.spec.json", spec.to_string().as_bytes());
    let mut h = harness(Launch::File(demo("cow.mp4")));
    settle(&mut h);
    h.state_mut().set_attack(true, AttackConfig { method: Method::Fgsm, modality: Modality::Audio, eps_a: 0.005, ..Default::default() });
    settle(&mut h);
    h.state_mut().command(Command::AddModel { path, fusion: None });
    wait_until(&mut h, 120, "the spectrogram model never answered", |s| s.spectrogram_model_state() == (false, true));
    // Not added to the audio-visual models: it has its own window.
    assert_eq!(h.state().models.len(), 7);
    for label in ["the model's input (normalised log-mel), clean", "attacked (same scale)", "where it listens", "heard above 0.5"] {
        assert!(h.query_by_label_contains(label).is_some(), "no '{label}'");
    }
    assert!(h.state().status.as_ref().unwrap().text.contains("tiny-tal-trans loaded"));
    h.run_steps(5);
    h.snapshot("spectrogram_model");
    // A session remembers the spec beside an audio-visual model file, and loads both again.
    let film = root().join("tests/fixtures/torch/tiny_film.safetensors");
    h.state_mut().command(Command::AddModel { path: film, fusion: None });
    wait_until(&mut h, 60, "the FiLM model never answered", |s| s.models.len() >= 8);
    let saved = dir.path().join("with_spectrogram.mcgurk.json");
    h.state_mut().command(Command::SaveSession(Some(saved.clone())));
    h.run_steps(2);
    assert_eq!(mcgurk::session::Session::load(&saved).unwrap().model_files.len(), 2);
    let mut h2 = harness(Launch::Empty);
    h2.run_steps(2);
    h2.state_mut().command(Command::OpenSession(saved));
    wait_until(&mut h2, 120, "the session's models were not loaded", |s| s.models.len() >= 8 && !s.window_model_specs().is_empty());
    assert!(h2.state().window_model_specs()[0].ends_with("tal.spec.json"));
}

/// File > Add model with a video model's spec: its window shows the strip of the T frames the
/// model reads, clean, attacked and the perturbation, and its class probabilities.
#[test]
fn a_video_model_shows_its_frame_strip() {
    use mcgurk::app::command::Command;
    use mcgurk::attacks::{AttackConfig, Method, Modality};
    let dir = tempfile::tempdir().unwrap();
    let mut spec: serde_json::Value = serde_json::from_slice(&std::fs::read(root().join("tests/fixtures/torch/r2plus1d_tiny.spec.json")).unwrap()).unwrap();
    spec["weights"] = root().join("tests/fixtures/torch/r2plus1d_tiny.pth").display().to_string().into();
    let path = write(dir.path(), "r2p1d.spec.json", spec.to_string().as_bytes());
    let mut h = harness(Launch::File(demo("cow.mp4")));
    settle(&mut h);
    h.state_mut().set_attack(true, AttackConfig { method: Method::Fgsm, modality: Modality::Video, eps_v: 4.0 / 255.0, ..Default::default() });
    settle(&mut h);
    h.state_mut().command(Command::AddModel { path: path.clone(), fusion: None });
    wait_until(&mut h, 120, "the video model never answered", |s| s.video_model_state() == (false, true));
    assert_eq!(h.state().models.len(), 7);
    for label in ["perturbation x10", "class probability (softmax)", "adversarial clip: PSNR", "CAM: "] {
        assert!(h.query_by_label_contains(label).is_some(), "no '{label}'");
    }
    assert!(h.state().status.as_ref().unwrap().text.contains("tiny-r2plus1d loaded"));
    h.run_steps(5);
    h.snapshot("video_model");
    // The session keeps it.
    let saved = dir.path().join("with_video.mcgurk.json");
    h.state_mut().command(Command::SaveSession(Some(saved.clone())));
    h.run_steps(2);
    let files = mcgurk::session::Session::load(&saved).unwrap().model_files;
    assert!(files.len() == 1 && files[0].path == path, "{files:?}");
}

/// File > Add model with an audio-visual spec of two encoders (Cnn14 + R(2+1)D-18): the
/// frame-strip window, the sound attacked too, and Tian's localization map over the frames.
#[test]
fn an_audio_visual_pair_shows_its_frames_sound_and_localization() {
    use mcgurk::app::command::Command;
    use mcgurk::attacks::{AttackConfig, Method, Modality};
    let path = root().join("tests/fixtures/torch/pair_gated_sum.spec.json");
    let mut h = harness(Launch::File(demo("cow.mp4")));
    // (the spec names its weights beside it)
    settle(&mut h);
    h.state_mut().set_attack(true, AttackConfig { method: Method::Fgsm, modality: Modality::Both, eps_a: 0.002, eps_v: 4.0 / 255.0, ..Default::default() });
    settle(&mut h);
    h.state_mut().command(Command::AddModel { path, fusion: None });
    wait_until(&mut h, 120, "the audio-visual model never answered", |s| s.video_model_state() == (false, true));
    for label in ["Audio-visual model: tiny-cnn14+r2plus1d-gated-sum", "perturbation x10", "cos(f_a, map)", "mean over time", "adversarial sound: SNR", "adversarial clip: PSNR"] {
        assert!(h.query_by_label_contains(label).is_some(), "no '{label}'");
    }
    h.run_steps(5);
    h.snapshot("pair_model");
    // The session keeps it.
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("with_pair.mcgurk.json");
    h.state_mut().command(Command::SaveSession(Some(saved.clone())));
    h.run_steps(2);
    let files = mcgurk::session::Session::load(&saved).unwrap().model_files;
    assert!(files.len() == 1 && files[0].path.ends_with("pair_gated_sum.spec.json"), "{files:?}");
}

/// File > Add demo video model: the video model shipped in McGurk opens its window on the demo
/// clip with no file to pick, and looks at the cow.
#[test]
fn the_demo_video_model_opens_from_the_menu() {
    use mcgurk::app::command::Command;
    let mut h = harness(Launch::File(demo("cow.mp4")));
    settle(&mut h);
    h.state_mut().command(Command::AddDemoVideoModel);
    wait_until(&mut h, 120, "the demo video model never answered", |s| s.video_model_state() == (false, true));
    for label in ["Video model: demo-r2plus1d", "CAM: cow"] {
        assert!(h.query_by_label_contains(label).is_some(), "no '{label}'");
    }
}
