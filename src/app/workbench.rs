//! The main window. `ui` draws and queues [`Command`]s; `logic` applies them, drains the
//! worker and the file dialogs, and updates textures. Nothing heavy runs on this thread.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use egui::{Color32, ColorImage, Key, TextureHandle, TextureOptions};

use super::Launch;
use super::command::{Command, DialogKind, Listen};
use super::dialogs;
use super::loader::{Busy, Loader, Outcome};
use super::models_view;
use super::predictor::{ModelResult, Predictor, Reply};
use super::settings::{FrameView, Overlay, STORAGE_KEY, Settings, Source};
use super::attack_panel;
use crate::attacks::AttackConfig;
use crate::live::Maps;
use super::views;
use crate::analysis::ClipAnalysis;
use crate::dsp::{Colormap, colormap};
use crate::media::{ANALYSIS_WINDOW, Clip, MODEL_SAMPLE_RATE, RgbImage, sniff};
use crate::models::ModelInfo;

mod audio_view;
mod exports;
mod grid;
mod session_io;

/// Widest spectrogram texture; longer recordings are max-pooled to this many columns.
const MAX_SPECTROGRAM_COLUMNS: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info,
    Warning,
    Error,
}

#[derive(Clone, Debug)]
pub struct Status {
    pub level: Level,
    pub text: String,
}

pub struct Workbench {
    pub settings: Settings,
    loader: Loader,
    pub clip: Option<Arc<Clip>>,
    pub analysis: Option<Arc<ClipAnalysis>>,
    pub source: Option<Source>,
    pub centre_s: f64,
    frame_tex: Option<(usize, TextureHandle)>,
    spec_tex: Option<TextureHandle>,
    spec_dirty: bool,
    pub status: Option<Status>,
    predictor: Predictor,
    /// The demo zoo, once the model thread has loaded it.
    pub models: Vec<ModelInfo>,
    pub results: Vec<ModelResult>,
    models_error: Option<String>,
    /// What the shown or pending predictions are for.
    predicted_for: Option<Wanted>,
    /// How long the last update took on the model thread.
    last_millis: Option<f64>,
    /// UI-thread time per frame (logic + ui): the frame being built, and the worst in the last
    /// second, shown with the update times.
    frame_started: Option<std::time::Instant>,
    frame_ms: (f64, f64, Option<std::time::Instant>),
    /// The per-clip robustness curve: the running job, the last result, whether it is shown.
    curve_job: Option<super::curve::CurveJob>,
    curve: Option<super::curve::Curve>,
    curve_open: bool,
    /// The class-wise robustness window (dataset metrics, its own worker thread).
    pub classwise: super::classwise::ClasswiseWindow,
    /// The training panel (its own worker thread).
    pub training: super::training::TrainingWindow,
    playback: Option<crate::playback::Playback>,
    /// The fusion comparison window: open, and its per-model textures (view, heatmap).
    grid_open: bool,
    grid_tex: Vec<(Option<TextureHandle>, Option<TextureHandle>)>,
    grid_dirty: bool,
    /// The audio-under-attack window: open, its textures (clean, adversarial, delta, dB gap).
    audio_open: bool,
    audio_tex: Option<(TextureHandle, TextureHandle, TextureHandle, f32)>,
    audio_dirty: bool,
    /// Model files asked for (saved with the session; a file that fails to load stays listed
    /// until the error is seen, then is dropped when the next session is saved).
    model_files: Vec<(PathBuf, Option<crate::models::FusionKind>)>,
    /// A picked model file waiting for its fusion to be confirmed.
    adding: Option<(PathBuf, Option<crate::models::FusionKind>)>,
    /// The attacked model view or the perturbation (see `FrameView`).
    /// (clean model view, adversarial view or perturbation), drawn side by side.
    adv_tex: Option<(TextureHandle, TextureHandle)>,
    adv_dirty: bool,
    heat_tex: Option<TextureHandle>,
    heat_dirty: bool,
    commands: Vec<Command>,
    session: session_io::SessionState,
    dialog_tx: SyncSender<Command>,
    dialog_rx: Receiver<Command>,
    ctx: egui::Context,
}

impl Workbench {
    pub fn new(cc: &eframe::CreationContext<'_>, launch: Launch) -> Self {
        let settings: Settings = cc.storage.and_then(|s| eframe::get_value(s, STORAGE_KEY)).unwrap_or_default();
        let ctx = cc.egui_ctx.clone();
        let waker_ctx = ctx.clone();
        let model_ctx = ctx.clone();
        let (dialog_tx, dialog_rx) = sync_channel(4);
        let mut app = Self {
            settings,
            loader: Loader::new(Arc::new(move || waker_ctx.request_repaint())),
            clip: None,
            analysis: None,
            source: None,
            centre_s: 0.0,
            frame_tex: None,
            spec_tex: None,
            spec_dirty: false,
            status: None,
            predictor: Predictor::spawn(Arc::new(move || model_ctx.request_repaint())),
            models: Vec::new(),
            results: Vec::new(),
            models_error: None,
            predicted_for: None,
            last_millis: None,
            frame_started: None,
            frame_ms: (0.0, 0.0, None),
            curve_job: None,
            curve: None,
            curve_open: false,
            classwise: Default::default(),
            training: Default::default(),
            playback: None,
            grid_open: false,
            grid_tex: Vec::new(),
            grid_dirty: false,
            adding: None,
            model_files: Vec::new(),
            audio_open: false,
            audio_tex: None,
            audio_dirty: false,
            adv_tex: None,
            adv_dirty: false,
            heat_tex: None,
            heat_dirty: false,
            commands: Vec::new(),
            session: session_io::SessionState::default(),
            dialog_tx,
            dialog_rx,
            ctx,
        };
        app.commands.push(match launch {
            Launch::Demo => Command::OpenDemo,
            Launch::File(p) => Command::Open(Source::File(p)),
            Launch::Pair { audio, image } => Command::Open(Source::Pair { audio, image }),
            Launch::Empty => return app,
        });
        app
    }

    /// Queue opening a file or pair (as File > Open does).
    pub fn open(&mut self, source: Source) {
        self.commands.push(Command::Open(source));
    }

    /// Queue a command, as the menus and keys do.
    pub fn command(&mut self, cmd: Command) {
        self.commands.push(cmd);
    }

    /// True when no work is queued or running (tests wait for this).
    pub fn is_idle(&self) -> bool {
        self.loader.busy().is_none() && self.commands.is_empty()
    }

    /// True when the models have answered for the current frame (or cannot answer).
    pub fn predictions_settled(&self) -> bool {
        self.models_error.is_some() || (!self.models.is_empty() && !self.predictor.is_busy() && self.predicted_for == self.wanted_prediction())
    }

    /// Show `overlay` of model `model` over the frame (as the Heatmap controls do).
    pub fn set_overlay(&mut self, overlay: Overlay, model: usize) {
        self.settings.overlay = overlay;
        self.settings.overlay_model = model;
        self.heat_dirty = true;
    }

    /// Whether a heatmap texture is ready to draw.
    pub fn has_heatmap(&self) -> bool {
        self.heat_tex.is_some()
    }

    fn wanted_prediction(&self) -> Option<Wanted> {
        let attack = self.settings.attack.enabled.then(|| self.settings.attack.config.clone());
        let maps = if self.grid_open { Maps::All } else { Maps::One(if attack.is_some() { self.settings.overlay_model } else { 0 }) };
        self.clip.as_ref().map(|c| Wanted { clip: Arc::as_ptr(c) as usize, time_s: self.centre_s, attack, maps })
    }

    /// Turn the attack on or off with `config` (as the attack panel does).
    pub fn set_attack(&mut self, enabled: bool, config: AttackConfig) {
        self.settings.attack.enabled = enabled;
        self.settings.attack.config = config;
    }

    /// What the frame area shows while attacking.
    pub fn set_frame_view(&mut self, view: FrameView) {
        self.settings.attack.view = view;
        self.adv_dirty = true;
    }

    fn play(&mut self, what: Listen) {
        if let Some(p) = self.playback.take() {
            p.stop();
        }
        let attacked = self.results.get(self.settings.overlay_model).and_then(|r| r.view.attacked.as_ref()).and_then(|a| a.inputs.as_ref());
        let wave: Vec<f32> = match (what, attacked) {
            (Listen::Clean, Some((clean, _))) => clean.wave.clone(),
            (Listen::Clean, None) => {
                let (Some(clip), Some(m)) = (&self.clip, self.models.first()) else { return };
                crate::models::input::Example::from_clip(clip, self.centre_s, m.input).0.wave
            }
            (Listen::Adversarial, Some((_, adv))) => adv.wave.clone(),
            (Listen::Perturbation, Some((clean, adv))) => {
                let gain = self.settings.attack.amplify;
                adv.wave.iter().zip(&clean.wave).map(|(a, c)| (gain * (a - c)).clamp(-1.0, 1.0)).collect()
            }
            (_, None) => {
                self.set_status(Level::Warning, "turn the attack on to hear the adversarial audio or the perturbation");
                return;
            }
        };
        let tx = self.dialog_tx.clone();
        let ctx = self.ctx.clone();
        let on_end = move |r: Result<(), crate::playback::PlaybackError>| {
            let _ = tx.send(Command::PlaybackEnded(r.err().map(|e| e.to_string())));
            ctx.request_repaint();
        };
        match crate::playback::play(wave, MODEL_SAMPLE_RATE, "default", on_end) {
            Ok(p) => self.playback = Some(p),
            Err(e) => self.set_status(Level::Error, e.to_string()),
        }
    }

    /// Confirms a picked model file: its fusion is read from the file when it says, else chosen
    /// here (Sum, Concat and the gated fusions have the same tensors).
    fn add_model_window(&mut self, ctx: &egui::Context) {
        let Some((path, fusion)) = &mut self.adding else { return };
        let mut open = true;
        let mut add = None;
        egui::Window::new("Add model").open(&mut open).collapsible(false).show(ctx, |ui| {
            ui.label(path.display().to_string());
            let name = |f: &Option<crate::models::FusionKind>| f.map_or("from the file", |k| k.label());
            egui::ComboBox::from_label("fusion").selected_text(name(fusion)).show_ui(ui, |ui| {
                ui.selectable_value(fusion, None, "from the file");
                for k in crate::models::FusionKind::ALL {
                    ui.selectable_value(fusion, Some(k), k.label());
                }
            });
            ui.weak("McGurk files and FiLM / audio-only / visual-only weights say it; Sum, Concat and the gated fusions need it chosen.");
            if ui.button("Add").clicked() {
                add = Some((path.clone(), *fusion));
            }
        });
        if let Some((path, fusion)) = add {
            self.commands.push(Command::AddModel { path, fusion });
        } else if !open {
            self.adding = None;
        }
    }

    /// Loads one more model on the model thread (File > Add model, or a session's model list).
    pub(crate) fn add_model_file(&mut self, path: PathBuf, fusion: Option<crate::models::FusionKind>) {
        if !self.model_files.iter().any(|(p, _)| *p == path) {
            self.model_files.push((path.clone(), fusion));
        }
        self.predictor.add_model(path, fusion);
    }

    fn poll_curve(&mut self) {
        let Some(job) = &mut self.curve_job else { return };
        match job.poll() {
            super::curve::Poll::Running => {}
            super::curve::Poll::Done(c) => {
                self.curve = Some(c);
                self.curve_job = None;
            }
            super::curve::Poll::Failed(e) => {
                self.set_status(Level::Error, e);
                self.curve_job = None;
            }
            super::curve::Poll::Cancelled => self.curve_job = None,
        }
    }

    /// The finished per-clip robustness curve, if any.
    pub fn curve(&self) -> Option<&super::curve::Curve> {
        self.curve.as_ref()
    }

    /// Whether the curve is being computed.
    pub fn curve_running(&self) -> bool {
        self.curve_job.is_some()
    }

    fn classwise_window(&mut self, ctx: &egui::Context) {
        use super::classwise::ModelChoice;
        // The model list is only needed while the window shows.
        let choices: Vec<ModelChoice> = if self.classwise.open {
            crate::models::zoo::ZOO
                .iter()
                .map(|e| ModelChoice::Zoo(e.name.to_string()))
                .chain(self.model_files.iter().map(|(p, f)| ModelChoice::File(p.clone(), *f)))
                .collect()
        } else {
            Vec::new()
        };
        self.classwise.show(ctx, &choices, &self.settings.attack.config);
        if let Some(field) = self.classwise.browse.take() {
            self.commands.push(Command::Dialog(DialogKind::Folder(field)));
        }
        if let Some(kind) = self.classwise.export.take() {
            self.commands.push(Command::Dialog(DialogKind::Export(kind)));
        }
    }

    fn training_window(&mut self, ctx: &egui::Context) {
        if let Some((path, fusion)) = self.training.show(ctx) {
            self.commands.push(Command::AddModel { path, fusion: Some(fusion) });
        }
        if let Some(field) = self.training.browse.take() {
            self.commands.push(Command::Dialog(DialogKind::Folder(field)));
        }
    }

    fn curve_window(&mut self, ctx: &egui::Context) {
        if !self.curve_open {
            return;
        }
        let mut open = true;
        egui::Window::new("Robustness curve (this clip)").open(&mut open).default_pos([330.0, 80.0]).default_width(560.0).show(ctx, |ui| {
            if let Some(job) = &self.curve_job {
                let (done, total) = job.progress;
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.add(egui::ProgressBar::new(done as f32 / total.max(1) as f32).desired_width(240.0).text(format!("{done} / {total} budgets")));
                    if ui.button("Cancel").clicked() {
                        self.commands.push(Command::CancelCurve);
                    }
                });
            }
            match &self.curve {
                Some(c) => super::curve::plot(ui, c),
                None if self.curve_job.is_none() => {
                    ui.weak("no curve yet");
                }
                None => {}
            }
        });
        self.curve_open = open;
    }

    fn poll_models(&mut self) {
        for reply in self.predictor.poll() {
            match reply {
                Reply::Ready(models) => {
                    if !self.models.is_empty() && models.len() > self.models.len() {
                        let m = &models[models.len() - 1];
                        self.set_status(Level::Info, format!("added model {} ({}, {} classes)", m.name, m.fusion.label(), m.classes.len()));
                    }
                    self.models = models;
                    // Ask again: the new model has no answer yet.
                    self.predicted_for = None;
                }
                Reply::ModelRejected { path, error } => {
                    // Not loaded: not part of the session either.
                    self.model_files.retain(|(p, _)| *p != path);
                    self.set_status(Level::Error, error);
                }
                Reply::Cancelled(_) => {
                    // The request stays "served": nothing is re-run until a setting changes.
                    self.set_status(Level::Info, "attack cancelled; the predictions shown are from the previous settings");
                }
                Reply::Results { results, missing, millis, .. } => {
                    self.results = results;
                    self.last_millis = Some(millis);
                    self.adv_dirty = true;
                    self.grid_dirty = true;
                    self.audio_dirty = true;
                    self.heat_dirty = true;
                    if !missing.is_empty() {
                        self.set_status(Level::Warning, format!("the clip has no {}: the models see silence / a grey frame there", missing.join(" or ")));
                    }
                }
                Reply::Failed(e) => {
                    self.set_status(Level::Error, e.clone());
                    self.models_error = Some(e);
                }
            }
        }
        // Ask again whenever the clip or the frame changed.
        if !self.models.is_empty() && self.predicted_for != self.wanted_prediction()
            && let Some(clip) = self.clip.clone()
        {
            let wanted = self.wanted_prediction();
            let (attack, maps) = wanted.as_ref().map_or((None, Maps::One(0)), |w| (w.attack.clone(), w.maps));
            self.predicted_for = wanted;
            self.predictor.request(clip, self.centre_s, attack, maps);
        }
    }

    pub fn frame_index(&self) -> Option<usize> {
        self.clip.as_ref()?.frame_index_at(self.centre_s)
    }

    fn set_status(&mut self, level: Level, text: impl Into<String>) {
        self.status = Some(Status { level, text: text.into() });
    }

    fn apply(&mut self, cmd: Command) {
        match cmd {
            Command::Open(source) => {
                self.loader.open(source, self.settings.mel);
            }
            Command::OpenDemo => match crate::demo::demo_clip_path() {
                Ok(p) => self.loader.open(Source::File(p), self.settings.mel),
                Err(e) => self.set_status(Level::Error, format!("cannot write the demo clip to the cache directory: {e}")),
            },
            Command::Dialog(kind) => dialogs::spawn(kind, self.dialog_tx.clone(), self.ctx.clone()),
            Command::Seek(t) => self.seek(t),
            Command::StepFrame(delta) => self.step(delta),
            Command::Reanalyse => {
                if let Some(clip) = &self.clip {
                    self.loader.reanalyse(clip.clone(), self.settings.mel);
                }
            }
            Command::RedrawSpectrogram => self.spec_dirty = true,
            Command::Cancel => {
                self.loader.cancel();
                self.set_status(Level::Info, "cancelled");
            }
            Command::ClearRecent => self.settings.recent.clear(),
            Command::OpenSession(p) => self.open_session(&p, false),
            Command::SaveSession(p) => self.save_session(p),
            Command::Relocate { old, new } => self.relocate(old, new),
            Command::SessionChecked { session, check } => self.on_session_checked(*session, check),
            Command::ClipHashed { source, clip } => self.on_clip_hashed(source, clip),
            Command::Recover(accept) => self.recover(accept),
            Command::Export { kind, path } => self.export(kind, path),
            Command::Exported(Ok(path)) => self.set_status(Level::Info, format!("exported {}", path.display())),
            Command::Exported(Err(e)) => self.set_status(Level::Error, e),
            Command::Curve => {
                if let Some(clip) = self.clip.clone() {
                    if let Some(job) = &self.curve_job {
                        job.cancel();
                    }
                    let ctx = self.ctx.clone();
                    let cfg = self.settings.attack.config.clone();
                    self.curve_job = Some(super::curve::CurveJob::start(clip, self.centre_s, cfg, Arc::new(move || ctx.request_repaint())));
                    self.curve_open = true;
                }
            }
            Command::Play(what) => self.play(what),
            Command::PickedModel(path) => self.adding = Some((path, None)),
            Command::AddModel { path, fusion } => {
                self.adding = None;
                self.add_model_file(path, fusion);
            }
            Command::StopPlayback => {
                if let Some(p) = self.playback.take() {
                    p.stop();
                }
            }
            Command::PlaybackEnded(error) => {
                self.playback = None;
                if let Some(e) = error {
                    self.set_status(Level::Error, e);
                }
            }
            Command::SetPath { field, path } => {
                use super::command::PathField;
                let text = path.display().to_string();
                match field {
                    PathField::ClasswiseData => self.classwise.data = text,
                    PathField::TrainingData => self.training.data = text,
                    PathField::TrainingOut => self.training.out = text,
                }
            }
            Command::CancelCurve => {
                if let Some(job) = self.curve_job.take() {
                    job.cancel();
                    self.set_status(Level::Info, "robustness curve cancelled");
                }
            }
        }
    }

    fn seek(&mut self, t: f64) {
        let Some(clip) = &self.clip else { return };
        let t = t.clamp(0.0, clip.duration_s());
        // With a real video, snap to a frame; a still or no image lets the window move freely.
        self.centre_s = match clip.frames.len() {
            0 | 1 => t,
            _ => clip.frame_index_at(t).map_or(t, |i| clip.frames[i].time_s),
        };
    }

    fn step(&mut self, delta: i64) {
        let Some(clip) = &self.clip else { return };
        if clip.frames.len() > 1 {
            let i = self.frame_index().unwrap_or(0) as i64 + delta;
            let i = i.clamp(0, clip.frames.len() as i64 - 1) as usize;
            self.centre_s = clip.frames[i].time_s;
        } else {
            self.seek(self.centre_s + delta as f64 * 0.1);
        }
    }

    fn on_outcome(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Loaded { source, clip, analysis } => {
                let mid = clip.duration_s() / 2.0;
                if !clip.notes.is_empty() {
                    self.set_status(Level::Warning, format!("{}: {}", clip.title(), clip.notes.join("; ")));
                } else {
                    self.set_status(Level::Info, format!("opened {}", clip.title()));
                }
                // The demo lives in a cache directory: keep it out of the recent list.
                let is_demo = matches!(&source, Source::File(p) if *p == crate::demo::cached_path());
                if !is_demo {
                    self.settings.remember(source.clone());
                }
                self.source = Some(source.clone());
                self.clip = Some(clip);
                self.analysis = analysis;
                self.frame_tex = None;
                self.spec_dirty = true;
                self.seek(mid);
                self.on_clip_loaded(&source);
            }
            Outcome::Analysed { analysis } => {
                self.analysis = analysis;
                self.spec_dirty = true;
            }
            Outcome::Failed { source, message } => {
                // A recent entry whose file is gone is dropped; one that failed for another reason
                // (a codec that needs ffmpeg, say) stays, so it can be retried.
                if let Some(s) = source.filter(|s| !s.exists()) {
                    self.settings.recent.retain(|r| *r != s);
                }
                self.set_status(Level::Error, message);
            }
        }
    }

    /// Files dropped on the window: an audio file plus an image make a pair; an image dropped on
    /// an audio-only clip becomes its frame; anything else opens alone.
    fn on_dropped(&mut self, paths: Vec<PathBuf>) {
        let kind = |p: &PathBuf| {
            let mut head = [0u8; 512];
            let n = std::fs::File::open(p).and_then(|mut f| std::io::Read::read(&mut f, &mut head)).unwrap_or(0);
            sniff::sniff(&head[..n])
        };
        let image = paths.iter().find(|p| kind(p).is_image()).cloned();
        let audio = paths.iter().find(|p| kind(p).is_audio_only()).cloned();
        let source = match (audio, image) {
            (Some(audio), Some(image)) => Source::Pair { audio, image },
            (None, Some(image)) if paths.len() == 1 => match (&self.source, &self.clip) {
                (Some(Source::File(audio)), Some(clip)) if clip.frames.is_empty() && clip.audio.is_some() => {
                    Source::Pair { audio: audio.clone(), image }
                }
                _ => Source::File(image),
            },
            _ => match paths.into_iter().next() {
                Some(p) => Source::File(p),
                None => return,
            },
        };
        self.commands.push(Command::Open(source));
    }

    fn update_textures(&mut self, ctx: &egui::Context) {
        let Some(clip) = self.clip.clone() else {
            self.frame_tex = None;
            self.spec_tex = None;
            return;
        };
        if let Some(i) = self.frame_index()
            && self.frame_tex.as_ref().is_none_or(|(shown, _)| *shown != i)
        {
            let image = to_color_image(&clip.frames[i].image);
            match &mut self.frame_tex {
                Some((shown, tex)) => {
                    tex.set(image, TextureOptions::LINEAR);
                    *shown = i;
                }
                None => self.frame_tex = Some((i, ctx.load_texture("frame", image, TextureOptions::LINEAR))),
            }
        }
        if self.heat_dirty {
            self.heat_dirty = false;
            let chosen = self.results.get(self.settings.overlay_model).or(self.results.first());
            self.heat_tex = chosen
                .and_then(|r| models_view::heatmap_image(r, self.settings.overlay))
                .map(|img| ctx.load_texture("heatmap", img, TextureOptions::LINEAR));
        }
        if self.adv_dirty {
            self.adv_dirty = false;
            let inputs = self.results.get(self.settings.overlay_model).and_then(|r| r.view.attacked.as_ref()).and_then(|a| a.inputs.as_ref());
            self.adv_tex = match (self.settings.attack.view, inputs) {
                (FrameView::Frame, _) | (_, None) => None,
                (view, Some((clean, adv))) => {
                    let gain = self.settings.attack.amplify;
                    let img = model_view_image(clean, adv, view == FrameView::Perturbation, gain);
                    let plain = model_view_image(clean, clean, false, 1.0);
                    Some((ctx.load_texture("clean-view", plain, TextureOptions::NEAREST), ctx.load_texture("adversarial", img, TextureOptions::NEAREST)))
                }
            };
        }
        self.update_grid_textures(ctx);
        self.update_audio_textures(ctx);
        if self.spec_dirty {
            self.spec_dirty = false;
            self.spec_tex = self.analysis.as_ref().map(|a| {
                let img = colormap::render_overview(&a.spectrogram, MAX_SPECTROGRAM_COLUMNS, self.settings.range_db, self.settings.colormap);
                ctx.load_texture("spectrogram", to_color_image(&img), TextureOptions::NEAREST)
            });
        }
    }
}

/// The model's view (CHW in [0, 1]) as an image: the adversarial input, or 0.5 + gain *
/// (adversarial - clean).
fn model_view_image(clean: &crate::models::input::Example, adv: &crate::models::input::Example, difference: bool, gain: f32) -> ColorImage {
    let side = adv.size.pixels;
    let rgb = if difference {
        let diff: Vec<f32> = adv.pixels.iter().zip(&clean.pixels).map(|(a, c)| 0.5 + gain * (a - c)).collect();
        crate::models::input::rgb_bytes(&diff, side)
    } else {
        crate::models::input::rgb_bytes(&adv.pixels, side)
    };
    ColorImage::from_rgb([side, side], &rgb)
}

/// The request key: a new prediction is asked for whenever it changes.
#[derive(Clone, Debug, PartialEq)]
struct Wanted {
    clip: usize,
    time_s: f64,
    attack: Option<AttackConfig>,
    maps: Maps,
}

fn to_color_image(img: &RgbImage) -> ColorImage {
    ColorImage::from_rgb([img.width as usize, img.height as usize], &img.pixels)
}

impl eframe::App for Workbench {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.frame_started = Some(std::time::Instant::now());
        for outcome in self.loader.poll() {
            self.on_outcome(outcome);
        }
        while let Ok(cmd) = self.dialog_rx.try_recv() {
            self.commands.push(cmd);
        }
        let dropped: Vec<PathBuf> = ctx.input(|i| i.raw.dropped_files.iter().map(|f| f.path().to_path_buf()).collect());
        if !dropped.is_empty() {
            self.on_dropped(dropped);
        }
        let (left, right, open, esc, save) = ctx.input(|i| {
            let cmd = i.modifiers.command;
            (i.key_pressed(Key::ArrowLeft), i.key_pressed(Key::ArrowRight), cmd && i.key_pressed(Key::O), i.key_pressed(Key::Escape), cmd && i.key_pressed(Key::S))
        });
        if save {
            self.commands.push(Command::SaveSession(None));
        }
        if esc && self.predictor.is_busy() {
            self.predictor.cancel();
        }
        if left {
            self.commands.push(Command::StepFrame(-1));
        }
        if right {
            self.commands.push(Command::StepFrame(1));
        }
        if open {
            self.commands.push(Command::Dialog(DialogKind::Any));
        }
        for cmd in std::mem::take(&mut self.commands) {
            self.apply(cmd);
        }
        self.poll_models();
        self.poll_curve();
        self.update_textures(ctx);
        self.autosave();
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        egui::Panel::top("menu").show(ui, |ui| self.menu_bar(ui));
        if self.recovery_offered() {
            egui::Panel::top("recovery").show(ui, |ui| self.recovery_banner(ui));
        }
        let ctx = ui.ctx().clone();
        self.locate_window(&ctx);
        self.curve_window(&ctx);
        self.classwise_window(&ctx);
        self.training_window(&ctx);
        self.grid_window(&ctx);
        self.audio_window(&ctx);
        self.add_model_window(&ctx);
        egui::Panel::bottom("status").show(ui, |ui| self.status_line(ui));
        egui::Panel::right("models").default_size(300.0).min_size(220.0).show(ui, |ui| self.models_panel(ui));
        egui::Panel::left("attack").default_size(250.0).min_size(210.0).show(ui, |ui| self.attack_panel(ui));
        egui::CentralPanel::default().show(ui, |ui| self.central(ui));
        self.end_frame();
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, STORAGE_KEY, &self.settings);
    }

    fn on_exit(&mut self) {
        self.on_close();
    }
}

impl Workbench {
    fn menu_bar(&mut self, ui: &mut egui::Ui) {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.button("Open…  (Ctrl+O)").clicked() {
                    self.commands.push(Command::Dialog(DialogKind::Any));
                }
                if ui.button("Open audio + image…").clicked() {
                    self.commands.push(Command::Dialog(DialogKind::Pair));
                }
                if ui.button("Open demo clip").clicked() {
                    self.commands.push(Command::OpenDemo);
                }
                if ui.button("Add model…").on_hover_text("a McGurk model or a PyTorch state dict in the reference layout (safetensors)").clicked() {
                    self.commands.push(Command::Dialog(DialogKind::AddModel));
                }
                ui.separator();
                if ui.button("Open session…").clicked() {
                    self.commands.push(Command::Dialog(DialogKind::OpenSession));
                }
                if ui.add_enabled(self.clip.is_some(), egui::Button::new("Save session  (Ctrl+S)")).clicked() {
                    self.commands.push(Command::SaveSession(None));
                }
                if ui.add_enabled(self.clip.is_some(), egui::Button::new("Save session as…")).clicked() {
                    self.commands.push(Command::Dialog(DialogKind::SaveSession));
                }
                ui.add_enabled_ui(self.clip.is_some(), |ui| {
                    ui.menu_button("Export", |ui| {
                        for kind in super::command::ExportKind::ALL {
                            if ui.button(kind.label()).clicked() {
                                self.commands.push(Command::Dialog(DialogKind::Export(kind)));
                            }
                        }
                    });
                });
                ui.menu_button("Recent", |ui| {
                    if self.settings.recent.is_empty() {
                        ui.weak("nothing yet");
                    }
                    for source in self.settings.recent.clone() {
                        if ui.button(source.label()).on_hover_text(format!("{source:?}")).clicked() {
                            self.commands.push(Command::Open(source));
                        }
                    }
                    if !self.settings.recent.is_empty() && ui.button("Clear").clicked() {
                        self.commands.push(Command::ClearRecent);
                    }
                });
                ui.separator();
                if ui.button("Quit").clicked() {
                    ui.send_viewport_cmd(egui::ViewportCommand::Close);
                }
            });
            ui.menu_button("View", |ui| self.view_menu(ui));
        });
    }

    fn view_menu(&mut self, ui: &mut egui::Ui) {
        ui.checkbox(&mut self.settings.show_crop, "Outline the model's crop");
        ui.checkbox(&mut self.settings.show_timings, "Show update times");
        let mut audio = self.audio_open;
        if ui.checkbox(&mut audio, "Audio under attack (spectrograms)").changed() {
            self.set_audio_open(audio);
        }
        let mut grid = self.grid_open;
        if ui.checkbox(&mut grid, "Fusion comparison (all models side by side)").changed() {
            self.set_grid_open(grid);
        }
        ui.checkbox(&mut self.classwise.open, "Class-wise robustness (a dataset)");
        ui.checkbox(&mut self.training.open, "Train a model (robust training)");
        ui.separator();
        ui.label("Spectrogram colours");
        for map in Colormap::ALL {
            if ui.radio_value(&mut self.settings.colormap, map, map.name()).changed() {
                self.commands.push(Command::RedrawSpectrogram);
            }
        }
        if ui.add(egui::Slider::new(&mut self.settings.range_db, 20.0..=120.0).text("dB range")).changed() {
            self.commands.push(Command::RedrawSpectrogram);
        }
        ui.separator();
        ui.label("Log-mel analysis");
        let mel = &mut self.settings.mel;
        let mut changed = false;
        egui::ComboBox::from_label("FFT size").selected_text(mel.n_fft.to_string()).show_ui(ui, |ui| {
            for n in [256, 512, 1024, 2048, 4096] {
                changed |= ui.selectable_value(&mut mel.n_fft, n, n.to_string()).changed();
            }
        });
        changed |= ui.add(egui::Slider::new(&mut mel.hop, 32..=mel.n_fft).text("hop")).changed();
        changed |= ui.add(egui::Slider::new(&mut mel.n_mels, 16..=(mel.n_fft / 2).min(256)).text("mel bands")).changed();
        mel.hop = mel.hop.min(mel.n_fft);
        mel.n_mels = mel.n_mels.min(mel.n_fft / 2);
        if changed {
            self.commands.push(Command::Reanalyse);
        }
    }

    fn status_line(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            if let Some(Busy { label, fraction }) = self.loader.busy().cloned() {
                ui.spinner();
                ui.label(label);
                ui.add(egui::ProgressBar::new(fraction).desired_width(200.0).show_percentage());
                if ui.button("Cancel").clicked() {
                    self.commands.push(Command::Cancel);
                }
                return;
            }
            match &self.status {
                Some(Status { level, text }) => {
                    let color = match level {
                        Level::Info => ui.visuals().text_color(),
                        Level::Warning => Color32::from_rgb(230, 180, 60),
                        Level::Error => Color32::from_rgb(240, 90, 80),
                    };
                    let prefix = match level {
                        Level::Info => "",
                        Level::Warning => "Warning: ",
                        Level::Error => "Error: ",
                    };
                    ui.colored_label(color, format!("{prefix}{text}"));
                }
                None => {
                    ui.weak("ready");
                }
            }
        });
    }

    fn central(&mut self, ui: &mut egui::Ui) {
        let Some(clip) = self.clip.clone() else {
            let text = if self.loader.busy().is_some() { "Loading…" } else { "Open a video, an audio file or an image: File > Open, or drop files here.\nDrop an audio file and an image together to pair them." };
            views::empty(ui, ui.available_height(), text);
            return;
        };
        let full_h = ui.available_height();
        let top_h = (full_h * 0.45).max(160.0);
        ui.horizontal(|ui| {
            ui.set_height(top_h);
            let frame_w = (ui.available_width() * 0.6).max(200.0);
            ui.vertical(|ui| {
                ui.set_width(frame_w);
                let adversarial = self.settings.attack.enabled && self.settings.attack.view != FrameView::Frame;
                match (&self.frame_tex, &self.adv_tex) {
                    (Some(_), Some((clean, adv))) if adversarial => {
                        // Clean beside attacked: what the heatmap model sees, before and after.
                        let side = (frame_w / 2.0 - 8.0).min(top_h - 20.0).max(40.0);
                        ui.horizontal(|ui| {
                            ui.vertical(|ui| {
                                ui.weak("clean model view");
                                ui.add(egui::Image::new((clean.id(), egui::vec2(side, side))));
                            });
                            ui.vertical(|ui| {
                                ui.weak(self.settings.attack.view.name());
                                let resp = ui.add(egui::Image::new((adv.id(), egui::vec2(side, side))));
                                if self.settings.overlay != Overlay::Off
                                    && let Some(heat) = &self.heat_tex
                                {
                                    let uv = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
                                    ui.painter().image(heat.id(), resp.rect, uv, Color32::WHITE);
                                }
                            });
                        });
                    }
                    (Some((_, tex)), _) => {
                        let crop = views::frame(ui, tex, self.settings.show_crop, egui::vec2(frame_w, top_h));
                        if self.settings.overlay != Overlay::Off
                            && let Some(heat) = &self.heat_tex
                        {
                            let uv = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
                            ui.painter().image(heat.id(), crop, uv, Color32::WHITE);
                        }
                    }
                    (None, _) => views::empty(ui, top_h, "no image: drop an image to pair it with this audio"),
                }
            });
            ui.separator();
            ui.vertical(|ui| self.info(ui, &clip));
        });
        self.scrubber(ui, &clip);
        let rest = ui.available_height();
        let plot_h = ((rest - 16.0) / 2.0).max(80.0);
        match (&self.analysis, &self.spec_tex) {
            (Some(analysis), Some(tex)) => {
                let a = views::waveform(ui, analysis, self.centre_s, plot_h);
                let b = views::spectrogram(ui, analysis, tex, self.centre_s, plot_h);
                if let Some(t) = a.or(b) {
                    self.commands.push(Command::Seek(t));
                }
            }
            _ => {
                let had_track = clip.sources.iter().any(|s| s.audio.is_some());
                let why = if had_track { "the audio track could not be decoded (see the warning)" } else { "this clip has no audio" };
                views::empty(ui, plot_h * 2.0, why);
            }
        }
    }

    /// Keeps the worst UI-thread frame time of each second (shown as the next second's figure).
    fn end_frame(&mut self) {
        let Some(start) = self.frame_started.take() else { return };
        let now = std::time::Instant::now();
        let ms = now.duration_since(start).as_secs_f64() * 1000.0;
        let (shown, worst, since) = &mut self.frame_ms;
        *worst = worst.max(ms);
        if since.is_none_or(|t| now.duration_since(t).as_secs_f64() >= 1.0) {
            *shown = *worst;
            *worst = 0.0;
            *since = Some(now);
        }
    }

    fn attack_panel(&mut self, ui: &mut egui::Ui) {
        let attacked = self.results.get(self.settings.overlay_model).and_then(|r| r.view.attacked.as_ref());
        let shown = attack_panel::Shown {
            attacked: attacked.or_else(|| self.results.iter().find_map(|r| r.view.attacked.as_ref())),
            millis: self.last_millis.filter(|_| self.settings.show_timings),
            busy: self.predictor.is_busy(),
            input: self.models.first().map(|m| m.input),
        };
        let view = self.settings.attack.view;
        let gain = self.settings.attack.amplify;
        attack_panel::show(ui, &mut self.settings.attack, &shown);
        if view != self.settings.attack.view || gain != self.settings.attack.amplify {
            self.adv_dirty = true;
        }
        if self.settings.attack.enabled && self.settings.attack.view != FrameView::Frame && self.settings.overlay == Overlay::Off {
            ui.weak("tip: Heatmap (right) draws the model's map over this view");
        }
        ui.horizontal(|ui| {
            ui.label("listen");
            for (what, label) in [(Listen::Clean, "clean"), (Listen::Adversarial, "adversarial"), (Listen::Perturbation, "perturbation")] {
                if ui.add_enabled(self.clip.is_some(), egui::Button::new(label).small()).clicked() {
                    self.commands.push(Command::Play(what));
                }
            }
            if self.playback.is_some() && ui.small_button("stop").clicked() {
                self.commands.push(Command::StopPlayback);
            }
        });
        let can = self.settings.attack.enabled && self.clip.is_some();
        if ui.add_enabled(can, egui::Button::new("Robustness curve of this clip…")).on_hover_text("every model under this attack at 0 to 16 times its eps").clicked() {
            self.commands.push(Command::Curve);
        }
        ui.separator();
        let label = ui.label("Notes (saved with the session)");
        ui.add(egui::TextEdit::multiline(&mut self.session.notes).desired_rows(4).desired_width(f32::INFINITY)).labelled_by(label.id);
        if let Some(p) = &self.session.path {
            ui.weak(format!("session: {}", p.display()));
        }
        if self.settings.show_timings {
            ui.weak(format!("UI thread: {:.1} ms per frame (worst in the last second)", self.frame_ms.0));
        }
    }

    fn models_panel(&mut self, ui: &mut egui::Ui) {
        ui.heading("Predictions");
        if let Some(e) = &self.models_error {
            ui.colored_label(Color32::from_rgb(240, 90, 80), e);
            return;
        }
        if self.models.is_empty() {
            busy_line(ui, "loading the demo models…");
            return;
        }
        ui.horizontal(|ui| {
            let label = ui.label("Heatmap");
            let mut changed = false;
            let combo = egui::ComboBox::from_id_salt("overlay").selected_text(self.settings.overlay.name()).show_ui(ui, |ui| {
                for o in Overlay::ALL {
                    changed |= ui.selectable_value(&mut self.settings.overlay, o, o.name()).changed();
                }
            });
            combo.response.labelled_by(label.id);
            if self.settings.overlay != Overlay::Off {
                let of = ui.label("of");
                let current = self.models.get(self.settings.overlay_model).map_or("?", |m| m.fusion.label());
                let combo = egui::ComboBox::from_id_salt("overlay_model").selected_text(current).show_ui(ui, |ui| {
                    for (i, m) in self.models.iter().enumerate() {
                        changed |= ui.selectable_value(&mut self.settings.overlay_model, i, m.fusion.label()).changed();
                    }
                });
                combo.response.labelled_by(of.id);
            }
            if changed {
                self.heat_dirty = true;
                self.grid_dirty = true;
                self.audio_dirty = true;
            }
        });
        if self.settings.overlay != Overlay::Off && self.heat_tex.is_none() && !self.results.is_empty() {
            ui.weak("this model has no such map (it needs a visual net; AV similarity needs both)");
        }
        ui.separator();
        if self.clip.is_none() {
            ui.weak("open a clip to see what the models think");
            return;
        }
        if self.results.is_empty() {
            busy_line(ui, "running the models…");
            return;
        }
        egui::ScrollArea::vertical().show(ui, |ui| models_view::bars(ui, &self.results, self.predictor.is_busy()));
    }

    fn scrubber(&mut self, ui: &mut egui::Ui, clip: &Clip) {
        ui.horizontal(|ui| {
            let n = clip.frames.len();
            ui.spacing_mut().slider_width = (ui.available_width() - 330.0).max(120.0);
            if n > 1 {
                let mut i = self.frame_index().unwrap_or(0);
                let label = ui.label("frame");
                let slider = egui::Slider::new(&mut i, 0..=n - 1).custom_formatter(|v, _| format!("{} / {}", v as usize + 1, n));
                if ui.add(slider).labelled_by(label.id).changed() {
                    self.commands.push(Command::Seek(clip.frames[i].time_s));
                }
            } else {
                let mut t = self.centre_s;
                let label = ui.label("window centre");
                let slider = egui::Slider::new(&mut t, 0.0..=clip.duration_s().max(0.001)).suffix(" s").fixed_decimals(2);
                if ui.add(slider).labelled_by(label.id).changed() {
                    self.commands.push(Command::Seek(t));
                }
            }
            ui.monospace(format!("t = {:.3} s", self.centre_s));
            if ui.small_button("<").on_hover_text("previous frame (Left arrow)").clicked() {
                self.commands.push(Command::StepFrame(-1));
            }
            if ui.small_button(">").on_hover_text("next frame (Right arrow)").clicked() {
                self.commands.push(Command::StepFrame(1));
            }
        });
    }

    fn info(&self, ui: &mut egui::Ui, clip: &Clip) {
        ui.heading(clip.title());
        for s in &clip.sources {
            ui.label(egui::RichText::new(format!("{} · {} · {:.2} s", s.container, human_bytes(s.size_bytes), s.duration_s)).strong());
            if let Some(v) = &s.video {
                if v.frame_count > 1 {
                    ui.label(format!("video: {} {}×{}, {:.2} fps, {} frames ({:?})", v.codec, v.width, v.height, v.fps, v.frame_count, v.decoder));
                } else {
                    ui.label(format!("image: {} {}×{}", v.codec, v.width, v.height));
                }
            }
            if let Some(a) = &s.audio {
                ui.label(format!("audio: {} {} Hz, {} ch, {:.2} s ({:?})", a.codec, a.sample_rate, a.channels, a.duration_s, a.decoder));
            }
        }
        ui.separator();
        let secs = ANALYSIS_WINDOW as f64 / f64::from(MODEL_SAMPLE_RATE);
        ui.weak(format!("analysis window: mono {MODEL_SAMPLE_RATE} Hz, {ANALYSIS_WINDOW} samples ({secs:.2} s) around the frame (full-size models)"));
        if let Some(m) = self.models.first() {
            let s = m.input.samples as f64 / f64::from(MODEL_SAMPLE_RATE);
            ui.weak(format!("demo models see the middle {} samples ({s:.2} s) and a {}×{} crop", m.input.samples, m.input.pixels, m.input.pixels));
        }
        if let Some(i) = self.frame_index() {
            ui.weak(format!("frame {} of {} at {:.3} s", i + 1, clip.frames.len(), clip.frames[i].time_s));
        }
        for note in &clip.notes {
            ui.colored_label(Color32::from_rgb(230, 180, 60), format!("Warning: {note}"));
        }
    }
}

/// A spinner and what is being waited for.
fn busy_line(ui: &mut egui::Ui, text: &str) {
    ui.horizontal(|ui| {
        ui.spinner();
        ui.label(text);
    });
}

fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / f64::from(1u32 << 30)),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / f64::from(1u32 << 20)),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}
