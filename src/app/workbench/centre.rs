//! The centre column: the frame (or the clean and attacked model views side by side, with the
//! heatmap over them), the clip's facts, the scrubber, the waveform and the spectrogram.

use egui::Color32;

use super::Workbench;
use crate::app::command::Command;
use crate::app::settings::{FrameView, Overlay};
use crate::app::views;
use crate::media::{ANALYSIS_WINDOW, Clip, MODEL_SAMPLE_RATE};

impl Workbench {
    pub(super) fn central(&mut self, ui: &mut egui::Ui) {
        let Some(clip) = self.clip.clone() else {
            let text = if self.loader.busy().is_some() { "Loading…" } else { "Open a video, an audio file or an image: File > Open, or drop files here.\nDrop an audio file and an image together to pair them." };
            views::empty(ui, ui.available_height(), text);
            return;
        };
        let full_h = ui.available_height();
        let top_h = (full_h * 0.45).max(160.0);
        ui.horizontal(|ui| {
            ui.set_height(top_h);
            let frame_w = (ui.available_width() * 0.6).max(200.0);
            ui.vertical(|ui| {
                ui.set_width(frame_w);
                let adversarial = self.settings.attack.enabled && self.settings.attack.view != FrameView::Frame;
                match (&self.frame_tex, &self.adv_tex) {
                    (Some(_), Some((clean, adv))) if adversarial => {
                        // Clean beside attacked: what the heatmap model sees, before and after.
                        let side = (frame_w / 2.0 - 8.0).min(top_h - 20.0).max(40.0);
                        ui.horizontal(|ui| {
                            ui.vertical(|ui| {
                                ui.weak("clean model view");
                                ui.add(egui::Image::new((clean.id(), egui::vec2(side, side))));
                            });
                            ui.vertical(|ui| {
                                ui.weak(self.settings.attack.view.name());
                                let resp = ui.add(egui::Image::new((adv.id(), egui::vec2(side, side))));
                                if self.settings.overlay != Overlay::Off
                                    && let Some(heat) = &self.heat_tex
                                {
                                    let uv = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
                                    ui.painter().image(heat.id(), resp.rect, uv, Color32::WHITE);
                                }
                            });
                        });
                    }
                    (Some((_, tex)), _) => {
                        let crop = views::frame(ui, tex, self.settings.show_crop, egui::vec2(frame_w, top_h));
                        if self.settings.overlay != Overlay::Off
                            && let Some(heat) = &self.heat_tex
                        {
                            let uv = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
                            ui.painter().image(heat.id(), crop, uv, Color32::WHITE);
                        }
                    }
                    (None, _) => views::empty(ui, top_h, "no image: drop an image to pair it with this audio"),
                }
            });
            ui.separator();
            ui.vertical(|ui| self.info(ui, &clip));
        });
        self.scrubber(ui, &clip);
        let rest = ui.available_height();
        let plot_h = ((rest - 16.0) / 2.0).max(80.0);
        match (&self.analysis, &self.spec_tex) {
            (Some(analysis), Some(tex)) => {
                let a = views::waveform(ui, analysis, self.centre_s, plot_h);
                let b = views::spectrogram(ui, analysis, tex, self.centre_s, plot_h);
                if let Some(t) = a.or(b) {
                    self.commands.push(Command::Seek(t));
                }
            }
            _ => {
                let had_track = clip.sources.iter().any(|s| s.audio.is_some());
                let why = if had_track { "the audio track could not be decoded (see the warning)" } else { "this clip has no audio" };
                views::empty(ui, plot_h * 2.0, why);
            }
        }
    }

    pub(super) fn scrubber(&mut self, ui: &mut egui::Ui, clip: &Clip) {
        ui.horizontal(|ui| {
            let n = clip.frames.len();
            ui.spacing_mut().slider_width = (ui.available_width() - 330.0).max(120.0);
            if n > 1 {
                let mut i = self.frame_index().unwrap_or(0);
                let label = ui.label("frame");
                let slider = egui::Slider::new(&mut i, 0..=n - 1).custom_formatter(|v, _| format!("{} / {}", v as usize + 1, n));
                if ui.add(slider).labelled_by(label.id).changed() {
                    self.commands.push(Command::Seek(clip.frames[i].time_s));
                }
            } else {
                let mut t = self.centre_s;
                let label = ui.label("window centre");
                let slider = egui::Slider::new(&mut t, 0.0..=clip.duration_s().max(0.001)).suffix(" s").fixed_decimals(2);
                if ui.add(slider).labelled_by(label.id).changed() {
                    self.commands.push(Command::Seek(t));
                }
            }
            ui.monospace(format!("t = {:.3} s", self.centre_s));
            if ui.small_button("<").on_hover_text("previous frame (Left arrow)").clicked() {
                self.commands.push(Command::StepFrame(-1));
            }
            if ui.small_button(">").on_hover_text("next frame (Right arrow)").clicked() {
                self.commands.push(Command::StepFrame(1));
            }
        });
    }

    pub(super) fn info(&self, ui: &mut egui::Ui, clip: &Clip) {
        ui.heading(clip.title());
        for s in &clip.sources {
            // A still has no duration: "webp · 12.3 KiB", not "· 0.00 s".
            let still = s.audio.is_none() && s.video.as_ref().is_some_and(|v| v.frame_count <= 1);
            let length = if still { String::new() } else { format!(" · {:.2} s", s.duration_s) };
            ui.label(egui::RichText::new(format!("{} · {}{length}", s.container, human_bytes(s.size_bytes))).strong());
            if let Some(v) = &s.video {
                if v.frame_count > 1 {
                    ui.label(format!("video: {} {}×{}, {:.2} fps, {} frames ({:?})", v.codec, v.width, v.height, v.fps, v.frame_count, v.decoder));
                } else {
                    ui.label(format!("image: {} {}×{}", v.codec, v.width, v.height));
                }
            }
            if let Some(a) = &s.audio {
                ui.label(format!("audio: {} {} Hz, {} ch, {:.2} s ({:?})", a.codec, a.sample_rate, a.channels, a.duration_s, a.decoder));
            }
        }
        ui.separator();
        let secs = ANALYSIS_WINDOW as f64 / f64::from(MODEL_SAMPLE_RATE);
        ui.weak(format!("analysis window: mono {MODEL_SAMPLE_RATE} Hz, {ANALYSIS_WINDOW} samples ({secs:.2} s) around the frame (full-size models)"));
        if let Some(m) = self.models.first() {
            let s = m.input.samples as f64 / f64::from(MODEL_SAMPLE_RATE);
            ui.weak(format!("demo models see the middle {} samples ({s:.2} s) and a {}×{} crop", m.input.samples, m.input.pixels, m.input.pixels));
        }
        if let Some(i) = self.frame_index() {
            ui.weak(format!("frame {} of {} at {:.3} s", i + 1, clip.frames.len(), clip.frames[i].time_s));
        }
        for note in &clip.notes {
            ui.colored_label(Color32::from_rgb(230, 180, 60), format!("Warning: {note}"));
        }
    }
}


fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / f64::from(1u32 << 30)),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / f64::from(1u32 << 20)),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}
