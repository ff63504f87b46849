//! A video model (R(2+1)D-18 from a model spec), or an audio-visual model of two encoders, on
//! the clip on screen: the strip of the T frames it reads, clean, attacked and the
//! perturbation (amplified), where it looks, and its class probabilities. Loads and runs on the window's own named thread, like the spectrogram
//! model's window.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::prelude::Device;
use egui::{TextureHandle, TextureOptions};

use super::job::{Reporter, Slot, Waker};
use super::window_cell::{Cell, Moment, top, translucent};
use crate::attacks::AttackConfig;
use crate::media::Job;
use crate::models::seen::{Seen, Watched, see};

/// The perturbation row's gain (an L-inf budget of a few /255 is invisible unamplified).
const GAIN: f32 = 10.0;
/// The frames' side on screen.
const THUMB: f32 = 72.0;

pub enum Event {
    Failed(String),
    Loaded(String),
}

enum Msg {
    Loaded(Arc<Watched>, PathBuf),
    Seen(Box<Seen>, String),
    Failed(String),
}

#[derive(Default)]
pub struct VideoWindow {
    pub open: bool,
    job: Slot<Msg>,
    model: Option<Arc<Watched>>,
    seen: Option<(Seen, String)>,
    /// [row][frame]: clean, attacked, perturbation.
    textures: Option<Vec<Vec<TextureHandle>>>,
    /// The spec of the loaded model (a session remembers it).
    pub spec_path: Option<PathBuf>,
    /// What the last look was asked to see.
    ran_for: Option<Moment>,
    /// The window's number among the model windows (its egui id).
    pub id: u64,
    /// How many model windows were open before it (each opens a little lower and further right).
    place: usize,
    /// The fusion comparison's tile: the middle frame (attacked when it was) and its map.
    cell_tex: Option<(TextureHandle, Option<TextureHandle>)>,
}

impl VideoWindow {
    /// An empty window with this number, after `place` others.
    pub fn numbered(id: u64, place: usize) -> Self {
        Self { id, place, ..Self::default() }
    }

    /// Loads the model the spec at `path` describes (its `weights` named in it).
    pub fn load(&mut self, path: PathBuf, waker: Waker) -> Result<(), String> {
        self.job.start("video-model", 4, waker, move |r| load(&path, r)).map(|_| ())
    }

    /// Runs the model on `moment`'s source at its time (only the frames it reads are kept).
    pub fn run(&mut self, moment: Moment, waker: Waker) -> Result<(), String> {
        let Some(model) = self.model.clone() else { return Ok(()) };
        self.ran_for = Some(moment.clone());
        let Moment { source, time_s, attack } = moment;
        self.job.start("video-model", 4, waker, move |r| look(&model, &source, time_s, attack.as_ref(), r)).map(|_| ())
    }

    pub fn has_model(&self) -> bool {
        self.model.is_some()
    }

    /// The loaded model's name.
    pub fn name(&self) -> String {
        self.model.as_ref().map_or_else(String::new, |m| m.spec().name.clone())
    }

    /// Whether a loaded model has not run yet (it loaded before a clip was open).
    pub fn waiting(&self) -> bool {
        self.model.is_some() && !self.job.running() && self.ran_for.is_none()
    }

    /// Whether a loaded model, idle now, last looked at something other than `moment`.
    pub fn behind(&self, moment: &Moment) -> bool {
        self.model.is_some() && !self.job.running() && self.ran_for.as_ref() != Some(moment)
    }

    /// The model's tile in the fusion comparison, once it has looked at something.
    pub fn cell(&mut self, ctx: &egui::Context) -> Option<Cell<'_>> {
        let (seen, what) = self.seen.as_ref()?;
        let model = self.model.as_ref()?;
        let (view, heat) = self.cell_tex.get_or_insert_with(|| {
            let k = seen.frames / 2;
            let rgb = seen.frame_rgb(seen.adversarial.as_deref().unwrap_or(&seen.clean), k);
            let view = ctx.load_texture("cell-video", egui::ColorImage::from_rgb([seen.size, seen.size], &rgb), TextureOptions::LINEAR);
            let heat = (!seen.cam_mean.is_empty()).then(|| ctx.load_texture("cell-video-heat", translucent(&seen.cam_mean, seen.size, seen.size), TextureOptions::LINEAR));
            (view, heat)
        });
        let names = model.classes();
        let kind = if matches!(**model, Watched::Pair(_)) { "audio-visual" } else { "video" };
        Some(Cell {
            title: format!("{} ({kind}, {} frames)", model.spec().name, seen.frames),
            view,
            heat: heat.as_ref(),
            clean: top(names, &seen.probs_clean),
            attacked: seen.probs_adversarial.as_deref().map(|p| top(names, p)),
            what,
            running: self.job.running(),
        })
    }

    pub fn running(&self) -> bool {
        self.job.running()
    }

    /// The clip, moment and attack of the result on show.
    pub fn shown(&self) -> Option<&str> {
        self.seen.as_ref().map(|(_, what)| what.as_str())
    }

    pub fn poll(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        for m in self.job.poll() {
            match m {
                Msg::Loaded(model, path) => {
                    events.push(Event::Loaded(model.spec().name.clone()));
                    self.open = true;
                    self.spec_path = Some(path);
                    self.model = Some(model);
                    self.seen = None;
                    self.textures = None;
                    self.cell_tex = None;
                    self.ran_for = None;
                }
                Msg::Seen(s, what) => {
                    self.seen = Some((*s, what));
                    self.textures = None;
                    self.cell_tex = None;
                }
                Msg::Failed(e) => events.push(Event::Failed(e)),
            }
        }
        events
    }

    /// The window; true when "Run on this clip" was clicked.
    pub fn show(&mut self, ctx: &egui::Context) -> bool {
        if !self.open {
            return false;
        }
        let mut run = false;
        let mut open = true;
        let title = self.model.as_ref().map_or("Video model".to_string(), |m| format!("{}: {}", if matches!(**m, Watched::Pair(_)) { "Audio-visual model" } else { "Video model" }, m.spec().name));
        let offset = 24.0 * (self.place % 8) as f32;
        egui::Window::new(title).id(egui::Id::unique(("video-window", self.id))).open(&mut open).default_pos([330.0 + offset, 60.0 + offset]).default_width(760.0).show(ctx, |ui| {
            ui.horizontal_wrapped(|ui| {
                run = ui.add_enabled(self.model.is_some() && !self.job.running(), egui::Button::new("Run on this clip")).on_hover_text("the clip and moment on screen, under the attack panel's settings").clicked();
                if self.job.running() {
                    ui.spinner();
                    ui.weak(if self.model.is_none() { "loading the model…" } else { "looking…" });
                }
            });
            let Some((seen, what)) = &self.seen else { return };
            let top = crate::models::predict::argmax(&seen.probs_clean);
            let top_name = self.model.as_ref().and_then(|m| m.classes().get(top).cloned()).unwrap_or_else(|| format!("class {top}"));
            ui.weak(what);
            for n in &seen.notes {
                ui.weak(format!("note: {n}"));
            }
            let textures = self.textures.get_or_insert_with(|| textures(ctx, seen));
            let attacked_rows = if seen.adversarial.is_some() { vec!["attacked".to_string(), format!("perturbation x{GAIN}")] } else { Vec::new() };
            let rows: Vec<String> = std::iter::once("clean".to_string()).chain(attacked_rows).chain((!seen.cam.is_empty()).then(|| if seen.map_kind == "CAM" { format!("CAM: {top_name}") } else { "cos(f_a, map)".to_string() }))
                .chain((!seen.cam_mean.is_empty()).then(|| "mean over time".to_string()))
                .collect();
            egui::ScrollArea::horizontal().show(ui, |ui| {
                egui::Grid::new("video_strip").spacing([4.0, 4.0]).show(ui, |ui| {
                    ui.label("");
                    for t in &seen.times {
                        ui.weak(format!("{t:.2} s"));
                    }
                    ui.end_row();
                    for (row, label) in textures.iter().zip(&rows) {
                        ui.label(label);
                        for tex in row {
                            ui.image((tex.id(), egui::vec2(THUMB, THUMB)));
                        }
                        ui.end_row();
                    }
                });
            });
            if seen.adversarial.is_none() {
                ui.weak("turn the attack on (picture budget) to see the attacked frames");
            }
            if seen.cam.is_empty() {
                ui.weak("no localization map: f_a and the visual map differ in width");
            }
            let names = self.model.as_ref().map(|m| m.classes().to_vec()).unwrap_or_default();
            let name = |i: usize| names.get(i).cloned().unwrap_or_else(|| format!("class {i}"));
            super::views::probability_bars(ui, "seen_bars", &seen.probs_clean, seen.probs_adversarial.as_deref(), seen.multi_label, &name);
            if let Some(p) = seen.psnr_db {
                ui.weak(format!("adversarial clip: PSNR {p:.1} dB over its {} frames", seen.frames));
            }
            if let Some(snr) = seen.snr_db {
                ui.weak(format!("adversarial sound: SNR {snr:.1} dB"));
            }
        });
        self.open = open;
        run
    }
}

fn load(path: &Path, r: &Reporter<Msg>) {
    match Watched::load(path, &Device::flex()) {
        Ok(m) => {
            r.send(Msg::Loaded(Arc::new(m), path.to_path_buf()));
        }
        Err(e) => {
            r.send(Msg::Failed(e));
        }
    }
}

fn look(model: &Watched, source: &Path, time_s: f64, attack: Option<&AttackConfig>, r: &Reporter<Msg>) {
    let job = Job::new(&|_| {}, r.cancel_flag());
    let result = model.open_around(source, time_s, &job).and_then(|clip| see(model, &clip, time_s, attack, &Device::flex()));
    let name = source.file_name().map_or_else(|| source.display().to_string(), |n| n.to_string_lossy().into_owned());
    match result {
        Ok(s) => {
            // An L2 budget bounds the whole clip, or each frame.
            let pixels = |c: &AttackConfig| match (c.norm, c.per_frame) {
                (crate::attacks::Norm::Linf, _) => format!("{:.4} per pixel", c.eps_v),
                (_, false) => format!("L2 {:.4} over the clip", c.eps_v),
                (_, true) => format!("L2 {:.4} per frame", c.eps_v),
            };
            let attacked = match (attack, model) {
                (None, _) => "clean only".to_string(),
                (Some(c), Watched::Pair(_)) => format!("{} on {}, eps {:.4} audio, {}", c.method.label(), c.modality.label(), c.eps_a, pixels(c)),
                (Some(c), Watched::Video(_)) => format!("{} eps {}", c.method.label(), pixels(c)),
            };
            r.send(Msg::Seen(Box::new(s), format!("{name} at {time_s:.2} s, {attacked}")));
        }
        Err(e) => {
            r.send(Msg::Failed(e));
        }
    }
}

fn textures(ctx: &egui::Context, s: &Seen) -> Vec<Vec<TextureHandle>> {
    let side = s.size;
    let load = |name: String, rgb: Vec<u8>| ctx.load_texture(name, egui::ColorImage::from_rgb([side, side], &rgb), TextureOptions::LINEAR);
    let row = |what: &str, clip: &[f32]| (0..s.frames).map(|k| load(format!("seen-{what}-{k}"), s.frame_rgb(clip, k))).collect::<Vec<_>>();
    let mut rows = vec![row("clean", &s.clean)];
    // The heat of the class activation map over the clean frame.
    let n = side * side;
    let overlay = |k: usize, map: &[f32]| {
        let base = s.frame_rgb(&s.clean, k);
        let mut rgb = Vec::with_capacity(n * 3);
        for p in 0..n {
            let hot = crate::dsp::colormap::Colormap::Magma.rgb(map.get(p).copied().unwrap_or(0.0));
            for c in 0..3 {
                rgb.push((0.45 * f32::from(base[p * 3 + c]) + 0.55 * f32::from(hot[c])) as u8);
            }
        }
        rgb
    };
    let mut heat: Vec<Vec<TextureHandle>> = Vec::new();
    if !s.cam.is_empty() {
        heat.push((0..s.frames).map(|k| load(format!("seen-cam-{k}"), overlay(k, &s.cam[k * n..(k + 1) * n]))).collect());
    }
    if !s.cam_mean.is_empty() {
        // Over the middle frame.
        heat.push(vec![load("seen-cam-mean".into(), overlay(s.frames / 2, &s.cam_mean))]);
    }
    if let Some(adv) = &s.adversarial {
        rows.push(row("adv", adv));
        let delta: Vec<f32> = adv.iter().zip(&s.clean).map(|(a, c)| 0.5 + GAIN * (a - c)).collect();
        rows.push(row("delta", &delta));
    }
    rows.extend(heat);
    rows
}
