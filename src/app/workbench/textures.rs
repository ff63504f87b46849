//! Textures from what the workers produced: the frame, the heatmap, the model's clean and
//! attacked view, the spectrogram; each rebuilt only when marked dirty.

use egui::{ColorImage, TextureOptions};

use super::Workbench;
use crate::app::models_view;
use crate::app::settings::FrameView;
use crate::dsp::colormap;
use crate::media::RgbImage;

/// Widest spectrogram texture; longer recordings are max-pooled to this many columns.
const MAX_SPECTROGRAM_COLUMNS: usize = 4096;

impl Workbench {
    pub(super) fn update_textures(&mut self, ctx: &egui::Context) {
        let Some(clip) = self.clip.clone() else {
            self.frame_tex = None;
            self.spec_tex = None;
            return;
        };
        if let Some(i) = self.frame_index()
            && self.frame_tex.as_ref().is_none_or(|(shown, _)| *shown != i)
        {
            let image = to_color_image(&clip.frames[i].image);
            match &mut self.frame_tex {
                Some((shown, tex)) => {
                    tex.set(image, TextureOptions::LINEAR);
                    *shown = i;
                }
                None => self.frame_tex = Some((i, ctx.load_texture("frame", image, TextureOptions::LINEAR))),
            }
        }
        if self.heat_dirty {
            self.heat_dirty = false;
            let chosen = self.results.get(self.settings.overlay_model).or(self.results.first());
            self.heat_tex = chosen
                .and_then(|r| models_view::heatmap_image(r, self.settings.overlay))
                .map(|img| ctx.load_texture("heatmap", img, TextureOptions::LINEAR));
        }
        if self.adv_dirty {
            self.adv_dirty = false;
            let inputs = self.results.get(self.settings.overlay_model).and_then(|r| r.view.attacked.as_ref()).and_then(|a| a.inputs.as_ref());
            self.adv_tex = match (self.settings.attack.view, inputs) {
                (FrameView::Frame, _) | (_, None) => None,
                (view, Some((clean, adv))) => {
                    let gain = self.settings.attack.amplify;
                    let img = model_view_image(clean, adv, view == FrameView::Perturbation, gain);
                    let plain = model_view_image(clean, clean, false, 1.0);
                    Some((ctx.load_texture("clean-view", plain, TextureOptions::NEAREST), ctx.load_texture("adversarial", img, TextureOptions::NEAREST)))
                }
            };
        }
        self.update_grid_textures(ctx);
        self.update_audio_textures(ctx);
        if self.spec_dirty {
            self.spec_dirty = false;
            self.spec_tex = self.analysis.as_ref().map(|a| {
                let img = colormap::render_overview(&a.spectrogram, MAX_SPECTROGRAM_COLUMNS, self.settings.range_db, self.settings.colormap);
                ctx.load_texture("spectrogram", to_color_image(&img), TextureOptions::NEAREST)
            });
        }
    }
}

/// The model's view (CHW in [0, 1]) as an image: the adversarial input, or 0.5 + gain *
/// (adversarial - clean).
pub(super) fn model_view_image(clean: &crate::models::input::Example, adv: &crate::models::input::Example, difference: bool, gain: f32) -> ColorImage {
    let side = adv.size.pixels;
    let rgb = if difference {
        let diff: Vec<f32> = adv.pixels.iter().zip(&clean.pixels).map(|(a, c)| 0.5 + gain * (a - c)).collect();
        crate::models::input::rgb_bytes(&diff, side)
    } else {
        crate::models::input::rgb_bytes(&adv.pixels, side)
    };
    ColorImage::from_rgb([side, side], &rgb)
}


pub(super) fn to_color_image(img: &RgbImage) -> ColorImage {
    ColorImage::from_rgb([img.width as usize, img.height as usize], &img.pixels)
}

