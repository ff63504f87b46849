//! The menu bar: File (open, sessions, export, recent) and View (windows, spectrogram colours,
//! log-mel analysis).

use super::Workbench;
use crate::app::command::{Command, DialogKind};
use crate::dsp::Colormap;

impl Workbench {
    pub(super) fn menu_bar(&mut self, ui: &mut egui::Ui) {
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
                if ui.button("Add demo video model").on_hover_text("an R(2+1)D-style model on 8 frames, trained on camera moves over the farm photos: its own window").clicked() {
                    self.commands.push(Command::AddDemoVideoModel);
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
                        for kind in crate::app::command::ExportKind::ALL {
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

    pub(super) fn view_menu(&mut self, ui: &mut egui::Ui) {
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

}
