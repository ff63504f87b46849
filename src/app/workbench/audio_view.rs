//! The audio under attack (View > Audio under attack): log-mel pictures of the heatmap model's
//! audio window, clean and adversarial on one scale, and the perturbation alone on its own.

use egui::TextureOptions;

use super::Workbench;
use super::textures::to_color_image;

impl Workbench {
    pub fn set_audio_open(&mut self, open: bool) {
        self.audio_open = open;
        self.audio_dirty = true;
    }

    /// Whether the three spectrogram textures are ready.
    pub fn has_audio_views(&self) -> bool {
        self.audio_tex.is_some()
    }

    pub(super) fn update_audio_textures(&mut self, ctx: &egui::Context) {
        if !self.audio_dirty || !self.audio_open {
            return;
        }
        self.audio_dirty = false;
        let views = self.results.get(self.settings.overlay_model).and_then(|r| r.view.attacked.as_ref()).and_then(|a| a.audio.as_ref());
        self.audio_tex = views.map(|v| {
            let load = |name: &str, img: &crate::media::RgbImage| ctx.load_texture(name, to_color_image(img), TextureOptions::NEAREST);
            (load("mel-clean", &v.clean), load("mel-adv", &v.adversarial), load("mel-delta", &v.delta), v.delta_below_db)
        });
    }

    pub(super) fn audio_window(&mut self, ctx: &egui::Context) {
        if !self.audio_open {
            return;
        }
        let mut open = true;
        egui::Window::new("Audio under attack").open(&mut open).default_pos([330.0, 60.0]).default_width(520.0).show(ctx, |ui| {
            let chosen = self.models.get(self.settings.overlay_model);
            let model = chosen.map_or("?", |m| m.fusion.label());
            if chosen.is_some_and(|m| !m.fusion.uses_audio()) {
                // Its input has no audio: nothing of the attack on the sound reaches it.
                ui.weak(format!("{model} hears no audio: choose a model with audio as the Heatmap model to see the audio it hears under attack"));
                return;
            }
            match &self.audio_tex {
                None => {
                    ui.weak(format!("turn the attack on: the window shows the audio {model} hears (the Heatmap model)"));
                }
                Some((clean, adv, delta, below)) => {
                    ui.weak(format!("{model}'s audio window, log-mel, low frequencies at the bottom"));
                    let seconds = chosen.map_or(0.0, |m| m.input.samples as f64 / f64::from(crate::media::MODEL_SAMPLE_RATE));
                    for (id, label, tex) in [("mel_clean", "clean", clean), ("mel_adv", "adversarial (same scale as clean)", adv)] {
                        ui.label(label);
                        crate::app::views::mel_picture(ui, id, tex, seconds, 110.0);
                    }
                    ui.label(format!("perturbation alone (own scale: its loudest bin is {below:.1} dB below the clean window's)"));
                    crate::app::views::mel_picture(ui, "mel_delta", delta, seconds, 110.0);
                }
            }
        });
        if !open {
            self.audio_open = false;
        }
    }
}
