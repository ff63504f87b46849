//! The side panels and the status line: the attack panel with listening, the curve button and
//! notes (left), the predictions with the heatmap choice (right), the status or progress (bottom).

use egui::Color32;

use super::{Level, Status, Workbench};
use crate::app::attack_panel;
use crate::app::command::{Command, Listen};
use crate::app::loader::Busy;
use crate::app::models_view;
use crate::app::settings::{FrameView, Overlay};

impl Workbench {
    pub(super) fn status_line(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            if let Some(Busy { label, fraction }) = self.loader.busy() {
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

    pub(super) fn attack_panel(&mut self, ui: &mut egui::Ui) {
        // A readout belongs to the attack, not to whichever model the heatmap follows: a
        // visual-only heatmap model still has the audio attack's SNR beside it.
        let heat = self.results.get(self.settings.overlay_model).and_then(|r| r.view.attacked.as_ref());
        let first = |f: fn(&crate::live::Attacked) -> Option<f32>| heat.and_then(f).or_else(|| self.results.iter().find_map(|r| r.view.attacked.as_ref().and_then(f)));
        let shown = attack_panel::Shown {
            snr_db: first(|a| a.snr_db),
            psnr_db: first(|a| a.psnr_db),
            millis: self.last_millis.filter(|_| self.settings.show_timings),
            busy: self.predictor.is_busy(),
            input: self.models.first().map(|m| m.input),
        };
        let view = self.settings.attack.view;
        let gain = self.settings.attack.amplify;
        if self.attack_paused {
            ui.horizontal_wrapped(|ui| {
                ui.colored_label(Color32::from_rgb(240, 190, 60), "attack paused for this clip");
                if ui.button("Resume the attack").clicked() {
                    self.attack_paused = false;
                }
            });
        }
        let before = (self.settings.attack.enabled, self.settings.attack.config.clone());
        attack_panel::show(ui, &mut self.settings.attack, &shown);
        // Any change to the attack is a request for it: no longer paused.
        if before != (self.settings.attack.enabled, self.settings.attack.config.clone()) {
            self.attack_paused = false;
        }
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

    pub(super) fn models_panel(&mut self, ui: &mut egui::Ui) {
        ui.heading("Predictions");
        if let Some(e) = &self.models_error {
            ui.colored_label(Color32::from_rgb(240, 90, 80), e);
            return;
        }
        if self.models.is_empty() {
            busy_line(ui, "loading the demo models…");
            return;
        }
        ui.horizontal_wrapped(|ui| {
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
        if self.settings.overlay != Overlay::Off && self.heat_tex.is_some() {
            crate::app::views::heat_scale(ui, self.settings.overlay.name());
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
        // What the model thread is computing, while the bars show the previous answer.
        if self.predictor.is_busy()
            && let Some(attack) = self.predicted_for.as_ref().and_then(|w| w.attack.as_ref())
        {
            busy_line(ui, &format!("attacking: {} (Esc stops)", attack.name()));
        }
        egui::ScrollArea::vertical().show(ui, |ui| models_view::bars(ui, &self.results, self.predictor.is_busy()));
    }

}

/// A spinner and what is being waited for.
fn busy_line(ui: &mut egui::Ui, text: &str) {
    // Wrapped: a long line must not widen the panel (its width would stay).
    ui.horizontal_wrapped(|ui| {
        ui.spinner();
        ui.label(text);
    });
}
