//! Quitting with unsaved work asks first (save, don't save, cancel), as editors do; the
//! recovery file written on exit stays the safety net either way. "Work" is what the user made:
//! notes, attack settings, added models, a class-wise report; not moving through the clip. The
//! autosave and the recovery file keep only such work, so opening a clip and quitting leaves no
//! recovery offer behind.

use egui::ViewportCommand;

use super::{Command, Workbench};

impl Workbench {
    /// What counts as the user's work, as one comparable string.
    fn work_key(&self) -> String {
        serde_json::json!({
            "notes": self.session.notes,
            "attack_enabled": self.settings.attack.enabled,
            "attack": self.settings.attack.config,
            "models": format!("{:?} {:?}", self.model_files, self.windows.spec_paths()),
            "classwise": self.classwise.report.is_some(),
        })
        .to_string()
    }

    /// The current work is what a save or an open left (nothing to ask about).
    pub(super) fn mark_work_saved(&mut self) {
        self.session.baseline = Some(self.work_key());
    }

    /// Whether quitting now would lose work that is in no session file.
    pub fn has_unsaved_work(&self) -> bool {
        self.clip.is_some() && self.session.baseline.as_ref() != Some(&self.work_key())
    }

    /// A close request (the window's X, Quit) with unsaved work is held back and asked about.
    pub(super) fn intercept_close(&mut self, ctx: &egui::Context) {
        if ctx.input(|i| i.viewport().close_requested()) && !self.session.may_close && self.has_unsaved_work() {
            ctx.send_viewport_cmd(ViewportCommand::CancelClose);
            self.session.asking_to_quit = true;
        }
    }

    /// After a save the user asked for on the way out.
    pub(super) fn close_if_saving_to_quit(&mut self) {
        if self.session.quit_after_save {
            self.session.quit_after_save = false;
            self.session.may_close = true;
            self.ctx.send_viewport_cmd(ViewportCommand::Close);
        }
    }

    pub(super) fn quit_window(&mut self, ctx: &egui::Context) {
        if !self.session.asking_to_quit {
            return;
        }
        egui::Modal::new(egui::Id::unique("quit_with_unsaved_work")).show(ctx, |ui| {
            ui.heading("Unsaved work");
            ui.label("The notes, attack settings, added models or class-wise results are not in a session file.");
            ui.weak("Either way a recovery copy is kept and offered at the next start.");
            ui.horizontal(|ui| {
                if ui.button("Save session").clicked() {
                    self.session.asking_to_quit = false;
                    self.session.quit_after_save = true;
                    self.commands.push(Command::SaveSession(None));
                }
                if ui.button("Don't save").clicked() {
                    self.session.asking_to_quit = false;
                    self.session.may_close = true;
                    ui.ctx().send_viewport_cmd(ViewportCommand::Close);
                }
                if ui.button("Cancel").clicked() {
                    self.session.asking_to_quit = false;
                }
            });
        });
    }
}
