//! Drawing the models' predictions: a small bar chart per model, and the heatmap overlay.

use egui::{Color32, ColorImage, Rect, RichText, Sense, Ui, vec2};

use super::predictor::ModelResult;
use super::settings::Overlay;
use crate::models::predict::Heatmap;

const BAR: Color32 = Color32::from_rgb(90, 150, 230);
const BAR_TOP: Color32 = Color32::from_rgb(240, 200, 40);
const TOP_K: usize = 3;

const FLIPPED: Color32 = Color32::from_rgb(240, 90, 80);

/// One block per model: its name and fusion, then its top-3 classes as bars (attacked, when an
/// attack ran, with the clean top class beside it and a flip called out in red).
pub fn bars(ui: &mut Ui, results: &[ModelResult], stale: bool) {
    let width = ui.available_width();
    for r in results {
        let clean_top = r.view.clean.best();
        let shown = r.view.attacked.as_ref().map_or(&r.view.clean, |a| &a.prediction);
        let flipped = r.view.attacked.is_some() && shown.best() != clean_top;
        // Wrapped, not widened: a longer headline (an attack's flip and losses) must not change
        // the panel's width, or the picture and the scrubber beside it would jump.
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new(r.info.fusion.label()).strong());
            if r.info.name != r.info.fusion.name() {
                ui.weak(&r.info.name);
            }
            if let Some(a) = &r.view.attacked {
                if flipped {
                    ui.colored_label(FLIPPED, format!("flipped: {} -> {}", r.info.classes[clean_top], r.info.classes[shown.best()]));
                } else {
                    ui.weak(format!("holds {} (clean {:.0}%)", r.info.classes[clean_top], 100.0 * r.view.clean.probs[clean_top]));
                }
                // Cross-entropy is >= 0; rounding shows tiny values as -0.00 otherwise.
                ui.weak(format!("loss {:.2} -> {:.2}", a.loss_clean.max(0.0), a.loss_adv.max(0.0)));
            }
        });
        for (rank, (class, p)) in shown.top(TOP_K).enumerate() {
            ui.horizontal(|ui| {
                let name_w = 64.0;
                let mut name = RichText::new(&r.info.classes[class]).size(12.0);
                if class == clean_top && r.view.attacked.is_some() {
                    name = name.underline();
                }
                ui.add_sized([name_w, 14.0], egui::Label::new(name).truncate());
                let bar_w = (width - name_w - 60.0).max(40.0);
                let (rect, _) = ui.allocate_exact_size(vec2(bar_w, 12.0), Sense::hover());
                let painter = ui.painter();
                painter.rect_filled(rect, 2.0, ui.visuals().faint_bg_color);
                let fill = Rect::from_min_size(rect.min, vec2(rect.width() * p.clamp(0.0, 1.0), rect.height()));
                let mut color = match (rank, flipped) {
                    (0, true) => FLIPPED,
                    (0, false) => BAR_TOP,
                    _ => BAR,
                };
                if stale {
                    color = color.gamma_multiply(0.5);
                }
                painter.rect_filled(fill, 2.0, color);
                ui.monospace(RichText::new(format!("{:5.1}%", 100.0 * p)).size(11.0));
            });
        }
        ui.add_space(4.0);
    }
}

/// The heatmap `overlay` of `result` as a translucent image (None when that model has none).
pub fn heatmap_image(result: &ModelResult, overlay: Overlay) -> Option<ColorImage> {
    // The attacked input's map when there is one (the model whose maps are shown gets it).
    let p = match &result.view.attacked {
        Some(a) if a.prediction.av_map.is_some() || a.prediction.cam.is_some() => &a.prediction,
        _ => &result.view.clean,
    };
    let map: &Heatmap = match overlay {
        Overlay::Off => return None,
        Overlay::AvSimilarity => p.av_map.as_ref()?,
        Overlay::Cam => p.cam.as_ref()?,
    };
    Some(super::window_cell::translucent(&map.values, map.w, map.h))
}
