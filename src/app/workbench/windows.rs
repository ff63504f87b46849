//! The floating windows the workbench hosts: adding a model file, the robustness curve, the
//! class-wise and training windows (each owns its state and drawing; what they ask for comes
//! back here as commands).

use super::{Level, Workbench};
use crate::app::command::{Command, DialogKind};

impl Workbench {
    /// Confirms a picked model file: its fusion is read from the file when it says, else chosen
    /// here (Sum, Concat and the gated fusions have the same tensors).
    pub(super) fn add_model_window(&mut self, ctx: &egui::Context) {
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

    pub(super) fn classwise_window(&mut self, ctx: &egui::Context) {
        use crate::app::classwise::ModelChoice;
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

    pub(super) fn training_window(&mut self, ctx: &egui::Context) {
        if let Some((path, fusion)) = self.training.show(ctx) {
            self.commands.push(Command::AddModel { path, fusion: Some(fusion) });
        }
        if let Some(field) = self.training.browse.take() {
            self.commands.push(Command::Dialog(DialogKind::Folder(field)));
        }
    }


    /// Whether a model window is working, and what each shows (the clip, moment and attack of
    /// its last result): spectrogram windows, then video and audio-visual ones.
    pub fn window_models_state(&self) -> (bool, Vec<Option<&str>>, Vec<Option<&str>>) {
        self.windows.state()
    }

    /// Whether the video windows are working, and whether every one (at least one) shows a
    /// result.
    pub fn video_model_state(&self) -> (bool, bool) {
        let (running, _, video) = self.windows.state();
        (running, !video.is_empty() && video.iter().all(Option::is_some))
    }

    /// Whether the spectrogram windows are working, and whether every one (at least one) shows
    /// a result.
    pub fn spectrogram_model_state(&self) -> (bool, bool) {
        let (running, spectro, _) = self.windows.state();
        (running, !spectro.is_empty() && spectro.iter().all(Option::is_some))
    }

    /// The specs of the models with windows of their own.
    pub fn window_model_specs(&self) -> Vec<std::path::PathBuf> {
        self.windows.spec_paths()
    }

    pub(super) fn model_windows(&mut self, ctx: &egui::Context) {
        use crate::app::spec_windows::Action;
        let (actions, closed) = self.windows.show(ctx, self.settings.colormap);
        for a in actions {
            match a {
                Action::Run(id) => self.run_window_model(id),
                Action::Listen(wave, rate) => self.play_wave(wave, rate),
            }
        }
        for name in closed {
            self.set_status(Level::Info, format!("model {name} closed"));
        }
    }

    pub(super) fn curve_window(&mut self, ctx: &egui::Context) {
        if self.curve.show(ctx) {
            self.commands.push(Command::CancelCurve);
        }
        if let Some(kind) = self.curve.export.take() {
            self.commands.push(Command::Dialog(DialogKind::Export(kind)));
        }
    }
}
