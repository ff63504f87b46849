//! A spectrogram model (PANNs Cnn14, Li et al.'s TAL-trans, from a model spec) on the clip on
//! screen: what it hears (its own log-mel input, clean, attacked and the difference, on its
//! frequency axis), where it listens (attention pooling's per-frame weights), and its class
//! probabilities (per-class sigmoid with the 0.5 line for multi-label models). The model loads
//! and runs on the window's own named thread; the clip is decoded again at the model's rate.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::prelude::Device;
use egui::{TextureHandle, TextureOptions};
use egui_plot::{Line, Plot, PlotPoints};

use super::job::{Reporter, Slot, Waker};
use super::window_cell::{Cell, Moment, top};
use crate::attacks::AttackConfig;
use crate::dsp::colormap::Colormap;
use crate::media::{Job, LoadOptions, RgbImage};
use crate::models::heard::{Heard, hear};
use crate::models::spec::{Encoder, ModelSpec};
use crate::models::spectrogram::SpectrogramModel;

pub enum Event {
    /// The spec is not a spectrogram model's: the workbench adds it as an audio-visual model.
    NotSpectrogram(PathBuf),
    /// The spec is a video model's: the workbench opens its window.
    VideoSpec(PathBuf),
    Failed(String),
    /// The model loaded: the workbench runs it on the clip on screen.
    Loaded(String),
}

enum Msg {
    Loaded(Arc<SpectrogramModel>, PathBuf),
    Heard(Box<Heard>, String),
    NotSpectrogram(PathBuf),
    VideoSpec(PathBuf),
    Failed(String),
}

/// What the window asks of the workbench.
pub enum Action {
    /// Run the model on the clip and moment on screen.
    Run,
    /// Play these samples at this rate.
    Listen(Vec<f32>, u32),
}

#[derive(Default)]
pub struct SpectrogramWindow {
    pub open: bool,
    job: Slot<Msg>,
    model: Option<Arc<SpectrogramModel>>,
    heard: Option<(Heard, String)>,
    textures: Option<[Option<TextureHandle>; 3]>,
    /// The spec of the loaded model (a session remembers it).
    pub spec_path: Option<PathBuf>,
    /// The spec being read.
    reading: Option<PathBuf>,
    /// The window's number among the model windows (its egui id).
    pub id: u64,
    /// How many model windows were open before it (each opens a little lower and further right).
    place: usize,
    /// What the last run was asked to hear.
    ran_for: Option<Moment>,
    /// The fusion comparison's tile: the input it heard (attacked when it was), in this map.
    cell_tex: Option<(Colormap, TextureHandle)>,
}

impl SpectrogramWindow {
    /// An empty window with this number, after `place` others.
    pub fn numbered(id: u64, place: usize) -> Self {
        Self { id, place, ..Self::default() }
    }

    /// Reads the spec at `path` and loads the model its `weights` names (on the window's
    /// thread); the window opens when the model is there.
    pub fn load(&mut self, path: PathBuf, waker: Waker) -> Result<(), String> {
        self.reading = Some(path.clone());
        self.job.start("spectrogram-model", 4, waker, move |r| load(&path, r)).map(|_| ())
    }

    /// Runs the model on `moment`'s source (decoded again at the model's rate) at its time,
    /// under its attack when given. Without a loaded model nothing happens.
    pub fn run(&mut self, moment: Moment, waker: Waker) -> Result<(), String> {
        let Some(model) = self.model.clone() else { return Ok(()) };
        self.ran_for = Some(moment.clone());
        let Moment { source, time_s, attack } = moment;
        self.job.start("spectrogram-model", 4, waker, move |r| listen(&model, &source, time_s, attack.as_ref(), r)).map(|_| ())
    }

    /// Whether the window is reading the spec at `path`.
    pub fn reading(&self, path: &Path) -> bool {
        self.reading.as_deref() == Some(path)
    }

    pub fn has_model(&self) -> bool {
        self.model.is_some()
    }

    /// The loaded model's name.
    pub fn name(&self) -> String {
        self.model.as_ref().map_or_else(String::new, |m| m.spec.name.clone())
    }

    /// Whether a loaded model has not run yet (it loaded before a clip was open).
    pub fn waiting(&self) -> bool {
        self.model.is_some() && !self.job.running() && self.ran_for.is_none()
    }

    /// Whether a loaded model, idle now, last heard something other than `moment`.
    pub fn behind(&self, moment: &Moment) -> bool {
        self.model.is_some() && !self.job.running() && self.ran_for.as_ref() != Some(moment)
    }

    /// The model's tile in the fusion comparison, once it has heard something.
    pub fn cell(&mut self, ctx: &egui::Context, colormap: Colormap) -> Option<Cell<'_>> {
        let (heard, what) = self.heard.as_ref()?;
        let model = self.model.as_ref()?;
        if self.cell_tex.as_ref().is_none_or(|(m, _)| *m != colormap) {
            let finite = heard.clean.iter().copied().filter(|x| x.is_finite()).fold((f32::MAX, f32::MIN), |(a, b), x| (a.min(x), b.max(x)));
            let img = picture(heard.adversarial.as_deref().unwrap_or(&heard.clean), heard.frames, heard.mels, finite.0, finite.1, colormap);
            let tex = ctx.load_texture("cell-spectrogram", egui::ColorImage::from_rgb([img.width as usize, img.height as usize], &img.pixels), TextureOptions::NEAREST);
            self.cell_tex = Some((colormap, tex));
        }
        let (_, view) = self.cell_tex.as_ref()?;
        Some(Cell {
            title: format!("{} (log-mel)", model.spec.name),
            view,
            heat: None,
            clean: top(&model.classes, &heard.probs_clean),
            attacked: heard.probs_adversarial.as_deref().map(|p| top(&model.classes, p)),
            what,
            running: self.job.running(),
        })
    }

    /// The clip, moment and attack of the result on show.
    pub fn shown(&self) -> Option<&str> {
        self.heard.as_ref().map(|(_, what)| what.as_str())
    }

    pub fn running(&self) -> bool {
        self.job.running()
    }

    /// What the thread sent, for the workbench to act on.
    pub fn poll(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        for m in self.job.poll() {
            if !matches!(m, Msg::Heard(..)) {
                self.reading = None;
            }
            match m {
                Msg::Loaded(model, path) => {
                    events.push(Event::Loaded(model.spec.name.clone()));
                    self.open = true;
                    self.spec_path = Some(path);
                    self.model = Some(model);
                    self.heard = None;
                    self.textures = None;
                    self.cell_tex = None;
                    self.ran_for = None;
                }
                Msg::Heard(h, what) => {
                    self.heard = Some((*h, what));
                    self.textures = None;
                    self.cell_tex = None;
                }
                Msg::NotSpectrogram(p) => events.push(Event::NotSpectrogram(p)),
                Msg::VideoSpec(p) => events.push(Event::VideoSpec(p)),
                Msg::Failed(e) => events.push(Event::Failed(e)),
            }
        }
        events
    }

    /// The window, and what was clicked in it.
    pub fn show(&mut self, ctx: &egui::Context, colormap: Colormap) -> Option<Action> {
        if !self.open {
            return None;
        }
        let mut action = None;
        let mut open = true;
        let title = self.model.as_ref().map_or("Spectrogram model".to_string(), |m| format!("Spectrogram model: {}", m.spec.name));
        let offset = 24.0 * (self.place % 8) as f32;
        egui::Window::new(title).id(egui::Id::unique(("spectrogram-window", self.id))).open(&mut open).default_pos([330.0 + offset, 40.0 + offset]).default_width(860.0).show(ctx, |ui| {
            ui.horizontal_wrapped(|ui| {
                if ui.add_enabled(self.model.is_some() && !self.job.running(), egui::Button::new("Run on this clip")).on_hover_text("the clip and moment on screen, under the attack panel's settings").clicked() {
                    action = Some(Action::Run);
                }
                if let Some((h, _)) = &self.heard {
                    ui.label("listen");
                    if ui.button("clean").on_hover_text("the model's window, at its rate").clicked() {
                        action = Some(Action::Listen(h.wave.clone(), h.sample_rate));
                    }
                    if let Some(adv) = &h.wave_adversarial {
                        if ui.button("adversarial").clicked() {
                            action = Some(Action::Listen(adv.clone(), h.sample_rate));
                        }
                        if ui.button("perturbation").on_hover_text("amplified 20 times").clicked() {
                            let d = adv.iter().zip(&h.wave).map(|(a, c)| (20.0 * (a - c)).clamp(-1.0, 1.0)).collect();
                            action = Some(Action::Listen(d, h.sample_rate));
                        }
                    }
                }
                if self.job.running() {
                    ui.spinner();
                    ui.weak(if self.model.is_none() { "loading the model…" } else { "listening…" });
                }
            });
            let Some((heard, what)) = &self.heard else {
                return;
            };
            ui.weak(what);
            for n in &heard.notes {
                ui.weak(format!("note: {n}"));
            }
            let textures = self.textures.get_or_insert_with(|| textures(ctx, heard, colormap));
            draw(ui, heard, textures, self.model.as_deref());
        });
        self.open = open;
        action
    }
}

fn load(path: &Path, r: &Reporter<Msg>) {
    let spec = match ModelSpec::load(path) {
        Ok(s) => s,
        Err(e) => {
            r.send(Msg::Failed(e.to_string()));
            return;
        }
    };
    // Video models and audio-visual models of two encoders have the frame-strip window.
    if spec.is_video() || spec.is_pair() {
        r.send(Msg::VideoSpec(path.to_path_buf()));
        return;
    }
    if spec.audio.as_ref().is_none_or(|a| a.encoder == Encoder::Tian) {
        r.send(Msg::NotSpectrogram(path.to_path_buf()));
        return;
    }
    let weights = match spec.single_weights(path) {
        Some(w) => w,
        None => {
            r.send(Msg::Failed(format!("{}: the window needs the weights named in the spec: add \"weights\": \"FILE\" (relative to the spec)", path.display())));
            return;
        }
    };
    match SpectrogramModel::load(path, &weights, &Device::flex()) {
        Ok(m) => {
            r.send(Msg::Loaded(Arc::new(m), path.to_path_buf()));
        }
        Err(e) => {
            r.send(Msg::Failed(e.to_string()));
        }
    }
}

fn listen(model: &SpectrogramModel, source: &Path, time_s: f64, attack: Option<&AttackConfig>, r: &Reporter<Msg>) {
    let opts = LoadOptions { sample_rate: model.sample_rate(), ..LoadOptions::default() };
    let result = crate::media::load::open(source, &opts, &Job::new(&|_| {}, r.cancel_flag()))
        .map_err(|e| e.to_string())
        .and_then(|clip| hear(model, &clip, time_s, attack, &Device::flex()));
    let name = source.file_name().map_or_else(|| source.display().to_string(), |n| n.to_string_lossy().into_owned());
    match result {
        Ok(h) => {
            let attacked = attack.map_or("clean only".to_string(), |c| format!("{} eps {:.4}", c.method.label(), c.eps_a));
            r.send(Msg::Heard(Box::new(h), format!("{name} at {time_s:.2} s, {attacked}")));
        }
        Err(e) => {
            r.send(Msg::Failed(e));
        }
    }
}

/// [frames][mels] as a picture: time to the right, low bands at the bottom, `lo..hi` mapped.
fn picture(values: &[f32], frames: usize, mels: usize, lo: f32, hi: f32, map: Colormap) -> RgbImage {
    let mut data = Vec::with_capacity(frames * mels * 3);
    for m in (0..mels).rev() {
        for t in 0..frames {
            let v = values.get(t * mels + m).copied().unwrap_or(lo);
            data.extend_from_slice(&map.rgb(((v - lo) / (hi - lo).max(1e-12)).clamp(0.0, 1.0)));
        }
    }
    RgbImage { width: frames as u32, height: mels as u32, pixels: data }
}

fn textures(ctx: &egui::Context, h: &Heard, map: Colormap) -> [Option<TextureHandle>; 3] {
    let finite = |v: &[f32]| v.iter().copied().filter(|x| x.is_finite()).fold((f32::MAX, f32::MIN), |(a, b), x| (a.min(x), b.max(x)));
    let (lo, hi) = finite(&h.clean);
    let load = |name: &str, img: RgbImage| ctx.load_texture(name, egui::ColorImage::from_rgb([img.width as usize, img.height as usize], &img.pixels), TextureOptions::NEAREST);
    let clean = load("heard-clean", picture(&h.clean, h.frames, h.mels, lo, hi, map));
    let adv = h.adversarial.as_ref().map(|a| load("heard-adv", picture(a, h.frames, h.mels, lo, hi, map)));
    let delta = h.adversarial.as_ref().map(|a| {
        let d: Vec<f32> = a.iter().zip(&h.clean).map(|(x, y)| x - y).collect();
        let (dl, dh) = finite(&d);
        let m = dl.abs().max(dh.abs()).max(1e-12);
        load("heard-delta", picture(&d, h.frames, h.mels, -m, m, map))
    });
    [Some(clean), adv, delta]
}

/// Two columns: what the model hears on the left; where it listens and what it concludes on
/// the right.
fn draw(ui: &mut egui::Ui, h: &Heard, tex: &[Option<TextureHandle>; 3], model: Option<&SpectrogramModel>) {
    let names = model.map(|m| m.classes.clone()).unwrap_or_default();
    let name = |i: usize| names.get(i).cloned().unwrap_or_else(|| format!("class {i}"));
    ui.columns(2, |cols| {
        let labels = ["the model's input (normalised log-mel), clean", "attacked (same scale)", "difference (own scale, symmetric)"];
        let ids = ["heard_clean", "heard_adv", "heard_delta"];
        for ((t, label), id) in tex.iter().zip(labels).zip(ids) {
            if let Some(t) = t {
                cols[0].label(label);
                super::views::mel_picture(&mut cols[0], id, t, h.seconds, 95.0);
            }
        }
        if h.adversarial.is_none() {
            cols[0].weak("turn the attack on (audio budget) to see the attacked input");
        }
        listening(&mut cols[1], h, &name);
        draw_bars(&mut cols[1], h, &name);
    });
}

/// Attention pooling's weights over the window for the clean input's top class.
fn listening(ui: &mut egui::Ui, h: &Heard, name: &dyn Fn(usize) -> String) {
    if let Some(att) = &h.attention {
        ui.label(format!("where it listens: attention over time for '{}'", name(h.top())));
        let step = h.seconds / att.len().max(1) as f64;
        let points: PlotPoints = att.iter().enumerate().map(|(i, w)| [(i as f64 + 0.5) * step, f64::from(*w)]).collect();
        Plot::new("heard_attention").height(110.0).include_x(0.0).include_x(h.seconds).include_y(0.0).allow_zoom(false).allow_drag(false).allow_scroll(false).x_axis_label("seconds into the model's window").show(ui, |p| {
            p.line(Line::new("attention", points));
        });
    }
}

/// The class probabilities, and the adversarial sound's SNR.
fn draw_bars(ui: &mut egui::Ui, h: &Heard, name: &dyn Fn(usize) -> String) {
    super::views::probability_bars(ui, "heard_bars", &h.probs_clean, h.probs_adversarial.as_deref(), h.multi_label, name);
    if let Some(snr) = h.snr_db {
        ui.weak(format!("adversarial sound: SNR {snr:.1} dB"));
    }
}
