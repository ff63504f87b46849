//! The attack panel: modality, method, norm, steps and one eps slider per modality in raw
//! units, with normalised units and the measured SNR / PSNR beside them. Returns whether the
//! user changed anything (the workbench then asks the model thread again: newest wins).

use egui::{RichText, Ui};

use super::settings::{AttackSettings, FrameView};
use crate::attacks::{Method, Modality, Norm};
use crate::models::InputSize;

/// What the panel reports from the last result.
pub struct Shown {
    /// The attack's audio SNR and picture PSNR (from the heatmap model when it has that input,
    /// else from the first model that does).
    pub snr_db: Option<f32>,
    pub psnr_db: Option<f32>,
    pub millis: Option<f64>,
    pub busy: bool,
    pub input: Option<InputSize>,
}

pub fn show(ui: &mut Ui, s: &mut AttackSettings, shown: &Shown) -> bool {
    let mut changed = false;
    ui.heading("Attack");
    changed |= ui.checkbox(&mut s.enabled, "attack the models").changed();
    let c = &mut s.config;
    ui.add_enabled_ui(s.enabled, |ui| {
        ui.horizontal(|ui| {
            for (m, name) in [(Modality::Audio, "audio"), (Modality::Video, "video"), (Modality::Both, "both")] {
                changed |= ui.radio_value(&mut c.modality, m, name).changed();
            }
        });
        ui.horizontal(|ui| {
            let label = ui.label("method");
            let combo = egui::ComboBox::from_id_salt("method").selected_text(method_name(c.method)).show_ui(ui, |ui| {
                for m in [Method::Fgsm, Method::Pgd, Method::Mim] {
                    changed |= ui.selectable_value(&mut c.method, m, method_name(m)).changed();
                }
            });
            combo.response.labelled_by(label.id);
            let label = ui.label("norm");
            let before = c.norm;
            let combo = egui::ComboBox::from_id_salt("norm").selected_text(norm_name(c.norm)).show_ui(ui, |ui| {
                for n in [Norm::Linf, Norm::L2] {
                    changed |= ui.selectable_value(&mut c.norm, n, norm_name(n)).changed();
                }
            });
            combo.response.labelled_by(label.id);
            // Keep the per-coordinate size when switching norms: an L2 ball of eps*sqrt(n).
            if c.norm != before
                && let Some(input) = shown.input
            {
                let (na, nv) = ((input.samples as f32).sqrt(), (input.pixel_values() as f32).sqrt());
                let (fa, fv) = if c.norm == Norm::L2 { (na, nv) } else { (1.0 / na, 1.0 / nv) };
                c.eps_a *= fa;
                c.eps_v *= fv;
            }
        });
        if c.method != Method::Fgsm {
            changed |= ui.add(egui::Slider::new(&mut c.steps, 1..=50).text("steps")).changed();
        }
        let n = shown.input.map_or((32_767.0, 37_632.0), |i| (i.samples as f32, i.pixel_values() as f32));
        let (max_a, max_v) = match c.norm {
            Norm::Linf => (0.1, 64.0 / 255.0),
            Norm::L2 => (0.1 * n.0.sqrt(), 64.0 / 255.0 * n.1.sqrt()),
        };
        let audio_on = c.modality != Modality::Video;
        let video_on = c.modality != Modality::Audio;
        ui.add_space(4.0);
        ui.add_enabled_ui(audio_on, |ui| {
            let label = ui.label(RichText::new("eps audio (waveform units)").strong());
            changed |= eps_slider(ui, &mut c.eps_a, max_a, 1e-5, 5, label.id);
            let per = if c.norm == Norm::L2 { c.eps_a / n.0.sqrt() } else { c.eps_a };
            let snr = shown.snr_db.map_or("–".to_string(), |v| format!("{v:.1} dB"));
            ui.weak(format!("{:.3}% of full scale per sample · SNR {snr}", 100.0 * per));
        });
        ui.add_enabled_ui(video_on, |ui| {
            let label = ui.label(RichText::new("eps video (pixel units, 0..1)").strong());
            changed |= eps_slider(ui, &mut c.eps_v, max_v, 1e-4, 4, label.id);
            let per = if c.norm == Norm::L2 { c.eps_v / n.1.sqrt() } else { c.eps_v };
            let psnr = shown.psnr_db.map_or("–".to_string(), |v| format!("{v:.1} dB"));
            ui.weak(format!("{:.2}/255 per pixel · PSNR {psnr}", 255.0 * per));
            if c.norm == Norm::L2 {
                changed |= ui
                    .checkbox(&mut c.per_frame, "per frame (models of several frames)")
                    .on_hover_text("for a video model: eps video bounds each frame's L2 instead of the whole clip's")
                    .changed();
            }
        });
        ui.add_space(4.0);
        ui.horizontal(|ui| {
            let label = ui.label("show");
            let combo = egui::ComboBox::from_id_salt("frame_view").selected_text(s.view.name()).show_ui(ui, |ui| {
                for v in FrameView::ALL {
                    ui.selectable_value(&mut s.view, v, v.name());
                }
            });
            combo.response.labelled_by(label.id);
        });
        if s.view == FrameView::Perturbation {
            ui.add(egui::Slider::new(&mut s.amplify, 1.0..=200.0).logarithmic(true).text("gain"));
        }
    });
    ui.horizontal(|ui| {
        if shown.busy {
            // No spinner: an animation repaints every frame, and on a software renderer
            // (lavapipe) that takes a core away from the models. The bars dim instead.
            ui.label(RichText::new("computing… (Esc cancels)").color(ui.visuals().warn_fg_color));
        } else if let Some(ms) = shown.millis {
            ui.weak(format!("last update {ms:.0} ms"));
        }
    });
    changed
}

/// A logarithmic eps slider on a copy: egui rounds a slider's value to its shown decimals
/// whenever it is drawn, and a budget restored from a session must not drift by being looked at.
fn eps_slider(ui: &mut Ui, eps: &mut f32, max: f32, smallest: f64, decimals: usize, label: egui::Id) -> bool {
    let mut v = *eps;
    let slider = egui::Slider::new(&mut v, 0.0..=max).logarithmic(true).smallest_positive(smallest).max_decimals(decimals);
    // Clamping "always" re-sets (and rounds) the value on every frame.
    let r = ui.add(slider.clamping(egui::SliderClamping::Edits)).labelled_by(label);
    if r.changed() {
        *eps = v;
    }
    r.changed()
}

fn method_name(m: Method) -> &'static str {
    match m {
        Method::Fgsm => "FGSM",
        Method::Pgd => "PGD",
        Method::Mim => "MIM",
    }
}

fn norm_name(n: Norm) -> &'static str {
    match n {
        Norm::Linf => "L-inf",
        Norm::L2 => "L2",
    }
}
