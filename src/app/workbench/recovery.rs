//! The recovery file: every minute the user's unsaved work goes there (on a worker thread),
//! and again as the window closes; the next start offers it back.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::session_io::AUTOSAVE_EVERY;
use super::{Command, Workbench};
use crate::session::Session;

impl Workbench {
    /// Every minute, when something changed, the session goes to the recovery file (written on
    /// a thread; the UI never waits for the disk).
    pub(super) fn autosave(&mut self) {
        let now = Instant::now();
        let due = self.session.last_autosave.is_none_or(|t| now.duration_since(t) >= AUTOSAVE_EVERY);
        // Only the user's own work is worth a recovery offer at the next start.
        if !due || !self.has_unsaved_work() {
            return;
        }
        self.session.last_autosave = Some(now);
        let session = self.session();
        let Ok(text) = serde_json::to_string(&session) else { return };
        if self.session.autosaved.as_ref() == Some(&text) {
            return;
        }
        self.session.autosaved = Some(text);
        let path = self.session.recovery_file.clone();
        self.background("autosave", move || {
            write_recovery(&session, &path);
            None
        });
    }

    /// Unsaved work goes to the recovery file as the window closes; none, and it is removed.
    pub(super) fn on_close(&mut self) {
        let session = self.session();
        if self.has_unsaved_work() {
            write_recovery(&session, &self.session.recovery_file);
        } else {
            let _ = std::fs::remove_file(&self.session.recovery_file);
        }
    }

    /// Open (or drop) the recovery file offered at start.
    pub fn recover(&mut self, accept: bool) {
        if let Some(path) = self.session.recovery.take() {
            if accept {
                self.open_session(&path, true);
            } else {
                let _ = std::fs::remove_file(&path);
            }
        }
    }

    pub(super) fn recovery_banner(&mut self, ui: &mut egui::Ui) {
        let Some(path) = &self.session.recovery else { return };
        let when = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let ago = when.and_then(|t| t.elapsed().ok()).map_or(String::new(), |d| format!(" ({} min ago)", d.as_secs() / 60));
        ui.horizontal(|ui| {
            ui.label(format!("Unsaved work from last time was kept{ago}: recover that session?"));
            if ui.button("Recover it").clicked() {
                self.commands.push(Command::Recover(true));
            }
            if ui.button("Discard").clicked() {
                self.commands.push(Command::Recover(false));
            }
        });
    }

    /// Whether a recovery offer is showing.
    pub fn recovery_offered(&self) -> bool {
        self.session.recovery.is_some()
    }

    /// Offer `file` (default: the user's recovery file) if it exists; autosave goes there too.
    pub fn find_recovery(&mut self, file: Option<PathBuf>) {
        if let Some(f) = file {
            self.session.recovery_file = f;
        }
        let p = self.session.recovery_file.clone();
        self.session.recovery = p.exists().then_some(p);
    }

    /// Autosave now (tests; the app does it every minute).
    pub fn autosave_now(&mut self) {
        self.session.last_autosave = None;
        self.autosave();
    }
}

fn write_recovery(session: &Session, path: &Path) {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = session.save(path);
}
