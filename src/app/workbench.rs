//! The main window: the `App`, its state and its frame loop. `logic` drains the workers and
//! applies queued [`Command`]s (`apply`), `ui` draws and queues commands; nothing heavy runs on
//! this thread. The parts live beside it: `apply` (commands), `polling` (worker replies),
//! `textures`, `menus`, `panels` (side panels, status line), `centre` (frame, scrubber, plots),
//! `windows` (floating windows), `session_io`, `exports`, `grid`, `audio_view`.

use std::path::PathBuf;
use std::sync::Arc;

use egui::{Key, TextureHandle};

use super::Launch;
use super::command::{Command, DialogKind};
use super::job::{Pool, Waker};
use super::loader::Loader;
use super::predictor::{ModelResult, Predictor};
use super::settings::{FrameView, Overlay, STORAGE_KEY, Settings, Source};
use crate::analysis::ClipAnalysis;
use crate::attacks::AttackConfig;
use crate::live::Maps;
use crate::media::Clip;
use crate::models::ModelInfo;

mod apply;
mod audio_view;
mod centre;
mod exports;
mod grid;
mod menus;
mod panels;
mod quit;
mod recovery;
mod polling;
mod session_io;
mod textures;
mod windows;

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
    /// How long the last update with an attack took: a new clip starts with the attack paused
    /// when it took longer than `pause_slow_attack_ms` (a PGD-50 need not start unasked).
    last_attack_millis: Option<f64>,
    pub attack_paused: bool,
    pub pause_slow_attack_ms: f64,
    /// UI-thread time per frame (logic + ui): the frame being built, and the worst in the last
    /// second, shown with the update times.
    frame_started: Option<std::time::Instant>,
    frame_ms: (f64, f64, Option<std::time::Instant>),
    /// The per-clip robustness curve window (its own worker thread).
    curve: super::curve::CurveWindow,
    /// Models from specs, a window each (spectrogram, video and audio-visual models).
    windows: super::spec_windows::SpecWindows,
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
    /// McGurk's own file dialog, used when the system has none (or MCGURK_FILE_DIALOG=builtin).
    file_dialog: super::file_dialog::FileDialog,
    builtin_dialogs: bool,
    /// One-shot jobs that answer with a command: file dialogs, session checks, hashing,
    /// exports, autosaves, the end of playback.
    tasks: Pool<Command>,
    ctx: egui::Context,
}

impl Workbench {
    pub fn new(cc: &eframe::CreationContext<'_>, launch: Launch) -> Self {
        let settings: Settings = cc.storage.and_then(|s| eframe::get_value(s, STORAGE_KEY)).unwrap_or_default();
        let ctx = cc.egui_ctx.clone();
        let mut app = Self {
            settings,
            loader: Loader::new(waker(&ctx)),
            clip: None,
            analysis: None,
            source: None,
            centre_s: 0.0,
            frame_tex: None,
            spec_tex: None,
            spec_dirty: false,
            status: None,
            predictor: Predictor::spawn(waker(&ctx)),
            models: Vec::new(),
            results: Vec::new(),
            models_error: None,
            predicted_for: None,
            last_millis: None,
            last_attack_millis: None,
            attack_paused: false,
            pause_slow_attack_ms: 3000.0,
            frame_started: None,
            frame_ms: (0.0, 0.0, None),
            curve: Default::default(),
            windows: Default::default(),
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
            tasks: Pool::new(waker(&ctx)),
            file_dialog: Default::default(),
            builtin_dialogs: std::env::var("MCGURK_FILE_DIALOG").is_ok_and(|v| v == "builtin"),
            ctx,
        };
        if let Some(dir) = app.settings.dialog_dir.clone().filter(|d| d.is_dir()) {
            app.file_dialog.dir = dir;
        }
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
        self.loader.busy().is_none() && self.commands.is_empty() && self.session.busy == 0
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
        let attack = (self.settings.attack.enabled && !self.attack_paused).then(|| self.settings.attack.config.clone());
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


    pub fn frame_index(&self) -> Option<usize> {
        self.clip.as_ref()?.frame_index_at(self.centre_s)
    }

    fn set_status(&mut self, level: Level, text: impl Into<String>) {
        self.status = Some(Status { level, text: text.into() });
    }

    /// Runs `work` as a one-shot job; the command it returns is applied when it arrives. False
    /// (and said in the status line) when no thread could be started.
    fn background(&mut self, name: &str, work: impl FnOnce() -> Option<Command> + Send + 'static) -> bool {
        match self.tasks.run(name, work) {
            Ok(()) => true,
            Err(e) => {
                self.set_status(Level::Error, e);
                false
            }
        }
    }

    /// Ask with McGurk's own file dialog from now on (as when the system has none).
    pub fn use_builtin_dialogs(&mut self) {
        self.builtin_dialogs = true;
    }

    /// Whether McGurk's own file dialog is showing.
    pub fn file_dialog_open(&self) -> bool {
        self.file_dialog.is_open()
    }

    /// Points McGurk's own file dialog at `dir` (as typing it in its path field does).
    pub fn file_dialog_go_to(&mut self, dir: &std::path::Path) {
        self.file_dialog.go_to(dir);
    }

    /// The finished per-clip robustness curve, if any.
    pub fn curve(&self) -> Option<&super::curve::Curve> {
        self.curve.curve.as_ref()
    }

    /// Whether the curve is being computed.
    pub fn curve_running(&self) -> bool {
        self.curve.running()
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

}

/// The request key: a new prediction is asked for whenever it changes.
#[derive(Clone, Debug, PartialEq)]
struct Wanted {
    clip: usize,
    time_s: f64,
    attack: Option<AttackConfig>,
    maps: Maps,
}

impl eframe::App for Workbench {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.frame_started = Some(std::time::Instant::now());
        for outcome in self.loader.poll() {
            self.on_outcome(outcome);
        }
        let answered = self.tasks.poll();
        self.commands.extend(answered);
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
        // Arrows typed in a text field (the notes) move its cursor, not the frame.
        let typing = ctx.egui_wants_keyboard_input();
        if left && !typing {
            self.commands.push(Command::StepFrame(-1));
        }
        if right && !typing {
            self.commands.push(Command::StepFrame(1));
        }
        if open {
            self.commands.push(Command::Dialog(DialogKind::Any));
        }
        for cmd in std::mem::take(&mut self.commands) {
            self.apply(cmd);
        }
        self.intercept_close(ctx);
        self.poll_models();
        self.poll_curve();
        self.poll_window_models();
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
        self.model_windows(&ctx);
        self.classwise_window(&ctx);
        self.training_window(&ctx);
        self.grid_window(&ctx);
        self.audio_window(&ctx);
        self.add_model_window(&ctx);
        self.quit_window(&ctx);
        if let Some(cmd) = self.file_dialog.show(&ctx) {
            // Remembered across runs: the next dialog opens where this one ended.
            self.settings.dialog_dir = Some(self.file_dialog.dir.clone());
            self.commands.push(cmd);
        }
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

/// Wakes this window from a worker thread.
fn waker(ctx: &egui::Context) -> Waker {
    let ctx = ctx.clone();
    Arc::new(move || ctx.request_repaint())
}
