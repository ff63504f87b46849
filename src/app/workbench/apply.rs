//! Applying commands: what the menus, keys, dialogs and background jobs asked for, one at a
//! time on the UI thread (opening, seeking, playing, adding models, cancelling).

use std::path::PathBuf;

use super::{Level, Workbench};
use crate::app::command::{Command, Listen};
use crate::app::dialogs;
use crate::app::loader::Outcome;
use crate::app::settings::Source;
use crate::media::{MODEL_SAMPLE_RATE, sniff};

impl Workbench {
    pub(super) fn apply(&mut self, cmd: Command) {
        match cmd {
            Command::Open(source) => {
                self.loader.open(source, self.settings.mel);
            }
            Command::AddDemoVideoModel => match crate::demo::video_model_spec() {
                Ok(path) => self.add_model_file(path, None),
                Err(e) => self.set_status(Level::Error, format!("cannot write the demo video model to the cache folder: {e}")),
            },
            Command::OpenDemo => match crate::demo::demo_clip_path() {
                Ok(p) => self.loader.open(Source::File(p), self.settings.mel),
                Err(e) => self.set_status(Level::Error, format!("cannot write the demo clip to the cache directory: {e}")),
            },
            Command::Dialog(kind) if self.builtin_dialogs => self.file_dialog.ask(kind),
            Command::Dialog(kind) => {
                self.background("dialog", move || {
                    let asked = std::time::Instant::now();
                    let answer = dialogs::ask(kind.clone());
                    // Nobody cancels a real dialog this fast: none was shown.
                    match answer {
                        None if asked.elapsed() < std::time::Duration::from_millis(250) => Some(Command::DialogUnavailable(kind)),
                        answer => answer,
                    }
                });
            }
            Command::DialogUnavailable(kind) => {
                self.builtin_dialogs = true;
                self.set_status(Level::Info, "this desktop shows no system file dialog (no xdg portal, no zenity): McGurk's own is used");
                self.file_dialog.ask(kind);
            }
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
            Command::OpenSession(p) => {
                self.open_session(&p, false);
            }
            Command::SaveSession(p) => self.save_session(p),
            Command::Relocate { old, new } => self.relocate(old, new),
            Command::SessionLoaded { path, recovery, session } => self.on_session_loaded(path, recovery, session),
            Command::SessionChecked { session, check } => self.on_session_checked(*session, check),
            Command::ClipHashed { source, clip } => self.on_clip_hashed(source, clip),
            Command::Recover(accept) => self.recover(accept),
            Command::Export { kind, path } => self.export(kind, path),
            Command::Exported(Ok(path)) => self.set_status(Level::Info, format!("exported {}", path.display())),
            Command::Exported(Err(e)) => self.set_status(Level::Error, e),
            Command::Curve => {
                if let Some(clip) = self.clip.clone() {
                    let cfg = self.settings.attack.config.clone();
                    if let Err(e) = self.curve.start(clip, self.centre_s, cfg, super::waker(&self.ctx)) {
                        self.set_status(Level::Error, e);
                    }
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
                use crate::app::command::PathField;
                let text = path.display().to_string();
                match field {
                    PathField::ClasswiseData => self.classwise.data = text,
                    PathField::TrainingData => self.training.data = text,
                    PathField::TrainingOut => self.training.out = text,
                }
            }
            Command::CancelCurve => {
                if self.curve.cancel() {
                    self.set_status(Level::Info, "robustness curve cancelled");
                }
            }
        }
    }

    pub(super) fn seek(&mut self, t: f64) {
        let Some(clip) = &self.clip else { return };
        let t = t.clamp(0.0, clip.duration_s());
        // With a real video, snap to a frame; a still or no image lets the window move freely.
        self.centre_s = match clip.frames.len() {
            0 | 1 => t,
            _ => clip.frame_index_at(t).map_or(t, |i| clip.frames[i].time_s),
        };
    }

    pub(super) fn step(&mut self, delta: i64) {
        let Some(clip) = &self.clip else { return };
        if clip.frames.len() > 1 {
            let i = self.frame_index().unwrap_or(0) as i64 + delta;
            let i = i.clamp(0, clip.frames.len() as i64 - 1) as usize;
            self.centre_s = clip.frames[i].time_s;
        } else {
            self.seek(self.centre_s + delta as f64 * 0.1);
        }
    }

    pub(super) fn on_outcome(&mut self, outcome: Outcome) {
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
                if let Some(ms) = self.last_attack_millis.filter(|ms| self.settings.attack.enabled && *ms > self.pause_slow_attack_ms) {
                    self.attack_paused = true;
                    self.set_status(Level::Info, format!("the attack is paused for this clip: its last run took {:.1} s (Resume in the attack panel)", ms / 1000.0));
                }
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
    pub(super) fn on_dropped(&mut self, paths: Vec<PathBuf>) {
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

    pub(super) fn play(&mut self, what: Listen) {
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
        self.play_wave(wave, MODEL_SAMPLE_RATE);
    }

    /// Plays `wave` at `rate` (what played before stops).
    pub(super) fn play_wave(&mut self, wave: Vec<f32>, rate: u32) {
        if let Some(p) = self.playback.take() {
            p.stop();
        }
        let reporter = self.tasks.listener();
        let on_end = move |r: Result<(), crate::playback::PlaybackError>| {
            reporter.send(Command::PlaybackEnded(r.err().map(|e| e.to_string())));
        };
        match crate::playback::play(wave, rate, "default", on_end) {
            Ok(p) => self.playback = Some(p),
            Err(e) => self.set_status(Level::Error, e.to_string()),
        }
    }

    /// File > Add model: one more model on the model thread, or a model's own window.
    pub(crate) fn add_model_file(&mut self, path: PathBuf, fusion: Option<crate::models::FusionKind>) {
        // A spec may describe a model with a window of its own: a window's thread reads the
        // spec and hands McGurk's own models back (`poll_window_models`).
        if fusion.is_none() && path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            match self.windows.add(path, super::waker(&self.ctx)) {
                Ok(true) => self.set_status(Level::Info, format!("reading the model spec {name}…")),
                Ok(false) => self.set_status(Level::Info, format!("{name} is open already (its window)")),
                Err(e) => self.set_status(Level::Error, e),
            }
            return;
        }
        self.add_av_model_file(path, fusion);
    }

    /// The clip and time on screen under the panel's attack: what the windows' models look at.
    pub(super) fn wanted_moment(&self) -> Option<crate::app::window_cell::Moment> {
        let source = self.clip.as_ref().and_then(|c| c.sources.first()).map(|s| s.path.clone())?;
        Some(crate::app::window_cell::Moment { source, time_s: self.centre_s, attack: self.settings.attack.enabled.then(|| self.settings.attack.config.clone()) })
    }

    /// The model of window `id` on the clip and moment on screen.
    pub(super) fn run_window_model(&mut self, id: u64) {
        let Some(moment) = self.wanted_moment() else { return };
        if let Err(e) = self.windows.run(id, &moment, &super::waker(&self.ctx)) {
            self.set_status(Level::Error, e);
        }
    }

    /// One more audio-visual model on the model thread (remembered for the session).
    pub(super) fn add_av_model_file(&mut self, path: PathBuf, fusion: Option<crate::models::FusionKind>) {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        self.set_status(Level::Info, format!("loading the model {name}…"));
        if !self.model_files.iter().any(|(p, _)| *p == path) {
            self.model_files.push((path.clone(), fusion));
        }
        self.predictor.add_model(path, fusion);
    }

}
