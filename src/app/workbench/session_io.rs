//! Sessions in the workbench: Save / Save As / Open, the clip's content hashes (computed off
//! the UI thread), a clip that moved (ask to locate it), autosave to a recovery file every
//! minute and the offer to recover at the next start.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{Command, Level, Workbench};
use crate::app::command::DialogKind;
use crate::app::settings::{FrameView, Overlay, Source};
use crate::session::{ClipCheck, ClipRef, Display, FileRef, SavedResult, Session, recovery_path};

pub const AUTOSAVE_EVERY: Duration = Duration::from_secs(60);

/// Session state of the workbench (runtime, not persisted itself).
pub struct SessionState {
    /// The autosave target (tests point it elsewhere).
    pub recovery_file: PathBuf,
    /// The session as last saved or opened (JSON), to tell whether there is unsaved work.
    pub saved: Option<String>,
    /// Where Save writes (None: Save asks).
    pub path: Option<PathBuf>,
    pub notes: String,
    /// Hashes of the open clip's files, once computed.
    pub clip_ref: Option<ClipRef>,
    /// A session opened and waiting for its clip to load.
    pub pending: Option<Session>,
    /// A session whose clip moved: the files still to locate.
    pub locate: Option<(Session, Vec<PathBuf>)>,
    /// A recovery file found at start.
    pub recovery: Option<PathBuf>,
    pub last_autosave: Option<Instant>,
    pub autosaved: Option<String>,
    /// Session files being read or checked on worker threads.
    pub busy: usize,
    /// The user's work as last saved or opened (see `quit`).
    pub baseline: Option<String>,
    /// The "unsaved work" question is showing; a save is on the way out; closing is allowed.
    pub asking_to_quit: bool,
    pub quit_after_save: bool,
    pub may_close: bool,
}

impl Default for SessionState {
    fn default() -> Self {
        Self {
            recovery_file: recovery_path(),
            saved: None,
            path: None,
            notes: String::new(),
            clip_ref: None,
            pending: None,
            locate: None,
            recovery: None,
            // The first autosave comes a minute after start, like every later one.
            last_autosave: Some(Instant::now()),
            autosaved: None,
            busy: 0,
            baseline: None,
            asking_to_quit: false,
            quit_after_save: false,
            may_close: false,
        }
    }
}

fn source_of(clip: &ClipRef) -> Source {
    match clip {
        ClipRef::File { file } => Source::File(file.path.clone()),
        ClipRef::Pair { audio, image } => Source::Pair { audio: audio.path.clone(), image: image.path.clone() },
    }
}

fn name<T: serde::Serialize>(v: T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn parse<T: serde::de::DeserializeOwned + Default>(s: &str) -> T {
    serde_json::from_value(serde_json::Value::String(s.to_string())).unwrap_or_default()
}

impl Workbench {
    /// The experiment as a session document.
    pub fn session(&self) -> Session {
        let clip = self.session.clip_ref.clone().or_else(|| {
            // Hashes not computed yet: save the paths with unknown hashes.
            let unknown = |p: &Path| FileRef { path: p.to_path_buf(), hash: String::new(), bytes: 0 };
            self.source.as_ref().map(|s| match s {
                Source::File(p) => ClipRef::File { file: unknown(p) },
                Source::Pair { audio, image } => ClipRef::Pair { audio: unknown(audio), image: unknown(image) },
            })
        });
        Session {
            clip,
            time_s: self.centre_s,
            models: self.models.iter().map(|m| m.name.clone()).collect(),
            model_files: self
                .model_files
                .iter()
                .map(|(path, fusion)| crate::session::ModelFile { path: path.clone(), fusion: fusion.map(|f| f.name().to_string()) })
                .chain(self.windows.spec_paths().into_iter().map(|path| crate::session::ModelFile { path, fusion: None }))
                .collect(),
            attack_enabled: self.settings.attack.enabled,
            attack: self.settings.attack.config.clone(),
            display: Display {
                overlay: name(self.settings.overlay),
                overlay_model: self.settings.overlay_model,
                frame_view: name(self.settings.attack.view),
                amplify: self.settings.attack.amplify,
            },
            notes: self.session.notes.clone(),
            results: self
                .results
                .iter()
                .map(|r| SavedResult {
                    model: r.info.name.clone(),
                    fusion: r.info.fusion.name().into(),
                    classes: r.info.classes.clone(),
                    clean_probs: r.view.clean.probs.clone(),
                    attacked_probs: r.view.attacked.as_ref().map(|a| a.prediction.probs.clone()),
                    snr_db: r.view.attacked.as_ref().and_then(|a| a.snr_db),
                    psnr_db: r.view.attacked.as_ref().and_then(|a| a.psnr_db),
                    loss_clean: r.view.attacked.as_ref().map(|a| a.loss_clean),
                    loss_adv: r.view.attacked.as_ref().map(|a| a.loss_adv),
                })
                .collect(),
            classwise: self.classwise.saved(),
            ..Session::default()
        }
    }

    pub(super) fn save_session(&mut self, to: Option<PathBuf>) {
        let Some(path) = to.or_else(|| self.session.path.clone()) else {
            self.commands.push(Command::Dialog(DialogKind::SaveSession));
            return;
        };
        let session = self.session();
        match session.save(&path) {
            Ok(()) => {
                self.set_status(Level::Info, format!("session saved to {}", path.display()));
                self.session.path = Some(path);
                self.session.saved = serde_json::to_string(&session).ok();
                self.mark_work_saved();
                // Saved on purpose: nothing to recover.
                let _ = std::fs::remove_file(&self.session.recovery_file);
                self.close_if_saving_to_quit();
            }
            Err(e) => {
                // Not saved: stay open, whatever the user was doing.
                self.session.quit_after_save = false;
                self.set_status(Level::Error, e.to_string());
            }
        }
    }

    /// Reads a session file off the UI thread (a big or slow file never freezes the window);
    /// `on_session_loaded` applies it.
    pub(super) fn open_session(&mut self, path: &Path, is_recovery: bool) {
        let path = path.to_path_buf();
        let started = self.background("session", move || {
            let session = Session::load(&path).map(Box::new).map_err(|e| e.to_string());
            Some(Command::SessionLoaded { path, recovery: is_recovery, session })
        });
        self.session.busy += usize::from(started);
    }

    /// A session was read: on any error the current work stays as it is (and a recovery file
    /// stays on disk, so the work in it can still be rescued).
    pub(super) fn on_session_loaded(&mut self, path: PathBuf, is_recovery: bool, session: Result<Box<Session>, String>) {
        self.session.busy = self.session.busy.saturating_sub(1);
        let session = match session {
            Ok(s) => *s,
            Err(e) if is_recovery => return self.set_status(Level::Error, format!("{e}; the recovery file stays at {}", path.display())),
            Err(e) => return self.set_status(Level::Error, e),
        };
        if is_recovery {
            // Opened: the offer is answered; a new autosave comes within a minute.
            let _ = std::fs::remove_file(&path);
        } else {
            self.session.path = Some(path);
            self.session.saved = serde_json::to_string(&session).ok();
        }
        self.check_session_clip(session);
    }

    /// Checks the session's files off the UI thread (hashing a big video takes a while).
    fn check_session_clip(&mut self, session: Session) {
        let Some(clip) = session.clip.clone() else {
            self.apply_session(session);
            return;
        };
        let started = self.background("session", move || {
            let check = clip.check();
            Some(Command::SessionChecked { session: Box::new(session), check })
        });
        self.session.busy += usize::from(started);
    }

    pub(super) fn on_session_checked(&mut self, session: Session, check: ClipCheck) {
        self.session.busy = self.session.busy.saturating_sub(1);
        match check {
            ClipCheck::Missing(files) => {
                self.set_status(Level::Warning, format!("the session's clip moved: {} not found; locate it", files[0].display()));
                self.session.locate = Some((session, files));
            }
            ClipCheck::Changed(files) => {
                self.set_status(Level::Warning, format!("{} changed since the session was saved: the results are recomputed", files[0].display()));
                self.open_session_clip(session);
            }
            ClipCheck::Ok => self.open_session_clip(session),
        }
    }

    fn open_session_clip(&mut self, session: Session) {
        if let Some(clip) = &session.clip {
            self.loader.open(source_of(clip), self.settings.mel);
        }
        self.apply_session(session);
    }

    /// The user found a moved file.
    pub(super) fn relocate(&mut self, old: PathBuf, new: PathBuf) {
        let Some((mut session, mut missing)) = self.session.locate.take() else { return };
        if let Some(clip) = &mut session.clip {
            match clip.relocate(&old, &new) {
                Ok(same) if !same => self.set_status(Level::Warning, format!("{} differs from the file the session was saved with", new.display())),
                Ok(_) => {}
                Err(e) => {
                    self.set_status(Level::Error, format!("cannot read {}: {e}", new.display()));
                    self.session.locate = Some((session, missing));
                    return;
                }
            }
        }
        missing.retain(|p| *p != old);
        if missing.is_empty() {
            self.open_session_clip(session);
        } else {
            self.session.locate = Some((session, missing));
        }
    }

    /// Settings now; the moment once the clip has loaded (see `on_clip_loaded`).
    fn apply_session(&mut self, session: Session) {
        self.settings.attack.enabled = session.attack_enabled;
        self.settings.attack.config = session.attack.clone();
        self.settings.overlay = parse::<Overlay>(&session.display.overlay);
        self.settings.overlay_model = session.display.overlay_model;
        self.settings.attack.view = parse::<FrameView>(&session.display.frame_view);
        self.settings.attack.amplify = session.display.amplify;
        self.session.notes = session.notes.clone();
        self.classwise.restore(session.classwise.as_ref());
        // Model files of the session that are not loaded yet.
        for f in &session.model_files {
            if !self.model_files.iter().any(|(p, _)| *p == f.path) && !self.windows.holds(&f.path) {
                let fusion = f.fusion.as_deref().and_then(crate::models::FusionKind::from_name);
                // A spec goes through a model window's thread, which hands back the specs of
                // McGurk's own audio-visual models.
                self.add_model_file(f.path.clone(), fusion);
            }
        }
        self.heat_dirty = true;
        self.adv_dirty = true;
        self.session.pending = session.clip.is_some().then_some(session);
        self.mark_work_saved();
    }

    /// Called when a clip finished loading: hash its files in the background, and move to the
    /// moment of a pending session.
    pub(super) fn on_clip_loaded(&mut self, source: &Source) {
        self.session.clip_ref = None;
        if self.session.baseline.is_none() {
            self.mark_work_saved();
        }
        let src = source.clone();
        self.background("hash", move || {
            let r = match &src {
                Source::File(p) => FileRef::of(p).map(|file| ClipRef::File { file }),
                Source::Pair { audio, image } => FileRef::of(audio).and_then(|a| FileRef::of(image).map(|i| ClipRef::Pair { audio: a, image: i })),
            };
            r.ok().map(|clip| Command::ClipHashed { source: src, clip })
        });
        if let Some(session) = self.session.pending.take() {
            if session.clip.as_ref().map(source_of).as_ref() == Some(source) {
                self.seek(session.time_s);
                self.set_status(Level::Info, format!("session opened: {}", source.label()));
            }
        }
    }

    pub(super) fn on_clip_hashed(&mut self, source: Source, clip: ClipRef) {
        if self.source.as_ref() == Some(&source) {
            self.session.clip_ref = Some(clip);
        }
    }

    pub(super) fn locate_window(&mut self, ctx: &egui::Context) {
        let Some((_, missing)) = &self.session.locate else { return };
        let first = missing[0].clone();
        let mut open = true;
        egui::Window::new("The session's clip moved").open(&mut open).collapsible(false).show(ctx, |ui| {
            ui.label(format!("{} is not there any more.", first.display()));
            ui.label("Locate it, and the session opens with it (its content is checked against the saved hash).");
            if ui.button("Locate…").clicked() {
                self.commands.push(Command::Dialog(DialogKind::Locate(first.clone())));
            }
        });
        if !open {
            self.session.locate = None;
            self.set_status(Level::Info, "session not opened");
        }
    }

    pub fn session_notes_mut(&mut self) -> &mut String {
        &mut self.session.notes
    }
}
