//! The fusion comparison window: every model side by side under the same attack, each with
//! what it sees (the adversarial input when attacking), its localization map (the Heatmap
//! setting), its clean and attacked top class, and flips in red. While the window is open the
//! model thread computes maps for every model (one more forward pass each).

use egui::{Color32, RichText, TextureOptions};

use super::Workbench;
use super::textures::model_view_image;
use crate::app::models_view;
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

    pub(super) fn grid_window(&mut self, ctx: &egui::Context) {
        if !self.grid_open {
            return;
        }
        let mut open = true;
        egui::Window::new("Fusion comparison").open(&mut open).default_pos([330.0, 40.0]).default_width(4.0 * (SIDE + 24.0)).show(ctx, |ui| {
            let overlay = if self.settings.overlay == Overlay::Off { Overlay::Cam } else { self.settings.overlay };
            let what = if self.settings.attack.enabled { "under the panel's attack" } else { "clean (turn the attack on to compare under attack)" };
            ui.weak(format!("every model {what}; map: {}", overlay.name()));
            egui::Grid::new("fusion_grid").spacing([12.0, 12.0]).show(ui, |ui| {
                for (i, r) in self.results.iter().enumerate() {
                    ui.vertical(|ui| {
                        ui.set_width(SIDE);
                        ui.label(RichText::new(r.info.fusion.label()).strong());
                        match self.grid_tex.get(i) {
                            Some((Some(view), heat)) => {
                                let resp = ui.add(egui::Image::new((view.id(), egui::vec2(SIDE, SIDE))));
                                if let Some(h) = heat {
                                    let uv = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
                                    ui.painter().image(h.id(), resp.rect, uv, Color32::WHITE);
                                }
                                if heat.is_none() {
                                    ui.weak("no such map for this model");
                                }
                            }
                            _ => {
                                ui.add_space(SIDE);
                            }
                        }
                        let c = r.view.clean.best();
                        ui.label(format!("clean: {} {:.0}%", r.info.classes[c], 100.0 * r.view.clean.probs[c]));
                        if let Some(a) = &r.view.attacked {
                            let t = a.prediction.best();
                            let text = format!("attacked: {} {:.0}%", r.info.classes[t], 100.0 * a.prediction.probs[t]);
                            if t != c {
                                ui.colored_label(FLIPPED, format!("{text} (flipped)"));
                            } else {
                                ui.label(text);
                            }
                        }
                    });
                    if i % 4 == 3 {
                        ui.end_row();
                    }
                }
            });
        });
        if !open {
            self.set_grid_open(false);
        }
    }
}
