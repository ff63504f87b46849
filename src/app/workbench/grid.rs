//! The fusion comparison window: every model side by side under the same attack, each with
//! what it sees (the adversarial input when attacking), its localization map (the Heatmap
//! setting), its clean and attacked top class, and flips in red. While the window is open the
//! model thread computes maps for every model (one more forward pass each).

use egui::{Color32, RichText, TextureHandle, TextureOptions};

use super::Workbench;
use super::textures::model_view_image;
use crate::app::models_view;
use crate::app::window_cell::Cell;
use crate::app::settings::Overlay;

const FLIPPED: Color32 = Color32::from_rgb(240, 90, 80);
const SIDE: f32 = 150.0;

impl Workbench {
    /// Open or close the comparison window (View > Fusion comparison).
    pub fn set_grid_open(&mut self, open: bool) {
        self.grid_open = open;
        self.grid_dirty = true;
    }

    /// Models with a view texture in the grid.
    pub fn grid_views(&self) -> usize {
        self.grid_tex.iter().filter(|(v, _)| v.is_some()).count()
    }

    pub(super) fn update_grid_textures(&mut self, ctx: &egui::Context) {
        if !self.grid_dirty || !self.grid_open {
            return;
        }
        self.grid_dirty = false;
        let overlay = if self.settings.overlay == Overlay::Off { Overlay::Cam } else { self.settings.overlay };
        self.grid_tex = self
            .results
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let attacked = r.view.attacked.as_ref().and_then(|a| a.inputs.as_ref());
                let view = match (attacked, &r.view.input) {
                    (Some((clean, adv)), _) => Some(model_view_image(clean, adv, false, 1.0)),
                    (None, Some(clean)) => Some(model_view_image(clean, clean, false, 1.0)),
                    _ => None,
                };
                let view = view.map(|img| ctx.load_texture(format!("grid-view-{i}"), img, TextureOptions::LINEAR));
                let heat = models_view::heatmap_image(r, overlay).map(|img| ctx.load_texture(format!("grid-heat-{i}"), img, TextureOptions::LINEAR));
                (view, heat)
            })
            .collect();
    }

    /// Models with windows of their own look again when what the comparison shows moved on.
    fn keep_window_models_current(&mut self) {
        let Some(moment) = self.wanted_moment() else { return };
        if let Err(e) = self.windows.run_behind(&moment, &super::waker(&self.ctx)) {
            self.set_status(super::Level::Error, e);
        }
    }

    pub(super) fn grid_window(&mut self, ctx: &egui::Context) {
        if !self.grid_open {
            return;
        }
        self.keep_window_models_current();
        let mut open = true;
        let colormap = self.settings.colormap;
        let windows = &mut self.windows;
        egui::Window::new("Fusion comparison").open(&mut open).default_pos([330.0, 40.0]).default_width(4.0 * (SIDE + 24.0)).show(ctx, |ui| {
            let overlay = if self.settings.overlay == Overlay::Off { Overlay::Cam } else { self.settings.overlay };
            let what = if self.settings.attack.enabled { "under the panel's attack" } else { "clean (turn the attack on to compare under attack)" };
            ui.weak(format!("every model {what}; map: {}", overlay.name()));
            let cells: Vec<Cell<'_>> = windows.cells(ctx, colormap);
            egui::Grid::new("fusion_grid").spacing([12.0, 12.0]).show(ui, |ui| {
                let mut n = 0;
                let mut end_row = |ui: &mut egui::Ui| {
                    n += 1;
                    if n % 4 == 0 {
                        ui.end_row();
                    }
                };
                for (i, r) in self.results.iter().enumerate() {
                    let (view, heat) = self.grid_tex.get(i).map_or((None, None), |(v, h)| (v.as_ref(), h.as_ref()));
                    let c = r.view.clean.best();
                    let attacked = r.view.attacked.as_ref().map(|a| (r.info.classes[a.prediction.best()].clone(), a.prediction.probs[a.prediction.best()]));
                    tile(ui, r.info.fusion.label(), view, heat, (&r.info.classes[c], r.view.clean.probs[c]), attacked, None);
                    end_row(ui);
                }
                // Models with windows of their own, as of their last look.
                for cell in &cells {
                    let note = if cell.running { format!("{} (looking again…)", cell.what) } else { cell.what.to_string() };
                    tile(ui, &cell.title, Some(cell.view), cell.heat, (&cell.clean.0, cell.clean.1), cell.attacked.clone(), Some(&note));
                    end_row(ui);
                }
            });
        });
        if !open {
            self.set_grid_open(false);
        }
    }
}

/// One model's tile: its name, what it was given with its map over it, its clean and attacked
/// top class (a flip in red), and for a window's model the moment it shows.
fn tile(ui: &mut egui::Ui, title: &str, view: Option<&TextureHandle>, heat: Option<&TextureHandle>, clean: (&str, f32), attacked: Option<(String, f32)>, note: Option<&str>) {
    ui.vertical(|ui| {
        ui.set_width(SIDE);
        ui.label(RichText::new(title).strong());
        match view {
            Some(view) => {
                let resp = ui.add(egui::Image::new((view.id(), egui::vec2(SIDE, SIDE))));
                match heat {
                    Some(h) => {
                        let uv = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
                        ui.painter().image(h.id(), resp.rect, uv, Color32::WHITE);
                    }
                    None => {
                        ui.weak("no such map for this model");
                    }
                }
            }
            None => {
                ui.add_space(SIDE);
            }
        }
        ui.label(format!("clean: {} {:.0}%", clean.0, 100.0 * clean.1));
        if let Some((name, p)) = attacked {
            let text = format!("attacked: {name} {:.0}%", 100.0 * p);
            if name != clean.0 {
                ui.colored_label(FLIPPED, format!("{text} (flipped)"));
            } else {
                ui.label(text);
            }
        }
        if let Some(note) = note {
            ui.add(egui::Label::new(RichText::new(note).weak().small()).wrap());
        }
    });
}
