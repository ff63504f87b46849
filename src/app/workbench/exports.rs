//! File > Export: the adversarial audio and model view of the heatmap model, the results as CSV
//! or JSON, the window as shown, the class-wise report as JSON or CSV, and the figures (class-wise
//! pictures, the clip's robustness curve) as SVG or PNG. Files are written on a worker thread, atomically; the
//! outcome comes back as a command and shows in the status line.

use std::path::PathBuf;
use std::sync::Arc;

use super::{Command, Level, Workbench};
use crate::app::command::ExportKind;
use crate::export;

impl Workbench {
    pub(super) fn export(&mut self, kind: ExportKind, path: PathBuf) {
        let adversarial = self.results.get(self.settings.overlay_model).and_then(|r| r.view.attacked.as_ref()).and_then(|a| a.inputs.clone()).map(|(_, adv)| adv);
        let outcome = |r: anyhow::Result<()>, path: PathBuf| Command::Exported(r.map(|_| path.clone()).map_err(|e| format!("cannot export {}: {e:#}", path.display())));
        let job: Box<dyn FnOnce() -> anyhow::Result<()> + Send> = match kind {
            ExportKind::AdversarialWav | ExportKind::AdversarialPng => {
                let Some(adv) = adversarial else {
                    self.set_status(Level::Warning, "nothing to export yet: turn the attack on (the heatmap model's adversarial input is exported)");
                    return;
                };
                let p = path.clone();
                if kind == ExportKind::AdversarialWav {
                    Box::new(move || export::write_wav(&p, &adv.wave))
                } else {
                    Box::new(move || export::write_model_view_png(&p, &adv.pixels, adv.size.pixels))
                }
            }
            ExportKind::ResultsCsv => {
                let text = export::results_csv(&self.session());
                let p = path.clone();
                Box::new(move || crate::files::write_atomic(&p, text.as_bytes()))
            }
            ExportKind::ResultsJson => {
                let session = self.session();
                let p = path.clone();
                Box::new(move || crate::files::write_atomic(&p, export::results_json(&session)?.as_bytes()))
            }
            ExportKind::ClasswiseJson | ExportKind::ClasswiseCsv => {
                let Some(report) = self.classwise.report.clone() else {
                    self.set_status(Level::Warning, "nothing to export yet: measure in View > Class-wise robustness first");
                    return;
                };
                let p = path.clone();
                if kind == ExportKind::ClasswiseJson {
                    Box::new(move || crate::files::write_atomic(&p, serde_json::to_string_pretty(&report)?.as_bytes()))
                } else {
                    Box::new(move || crate::files::write_atomic(&p, crate::metrics::classwise::to_csv(&report).as_bytes()))
                }
            }
            ExportKind::ClasswiseDropFigure | ExportKind::ClasswisePcaFigure => {
                let Some(report) = self.classwise.report.clone() else {
                    self.set_status(Level::Warning, "nothing to draw yet: measure in View > Class-wise robustness first");
                    return;
                };
                let fig = if kind == ExportKind::ClasswiseDropFigure { crate::metrics::figures::drop_vs_kappa(&report) } else { crate::metrics::figures::pca(&report) };
                let p = path.clone();
                Box::new(move || crate::figures::save(&p, &fig).map_err(Into::into))
            }
            ExportKind::CurveFigure => {
                let Some(curve) = self.curve.curve.as_ref() else {
                    self.set_status(Level::Warning, "nothing to draw yet: compute View > Robustness curve of this clip first");
                    return;
                };
                let fig = crate::app::curve::figure(curve);
                let p = path.clone();
                Box::new(move || crate::figures::save(&p, &fig).map_err(Into::into))
            }
            ExportKind::WindowPng => {
                // The next frame is captured; the callback runs when the image is ready.
                let reporter = self.tasks.listener();
                let cb = egui::ScreenshotCallback::new(move |img: Arc<egui::ColorImage>| {
                    let [w, h] = img.size;
                    let rgb: Vec<u8> = img.pixels.iter().flat_map(|c| [c.r(), c.g(), c.b()]).collect();
                    let r = image::RgbImage::from_raw(w as u32, h as u32, rgb)
                        .ok_or_else(|| anyhow::anyhow!("screenshot of unexpected size"))
                        .and_then(|img| crate::files::save_png_atomic(&path, &img));
                    reporter.send(outcome(r, path));
                });
                self.ctx.send_viewport_cmd(egui::ViewportCommand::Screenshot(cb));
                return;
            }
        };
        self.background("export", move || Some(outcome(job(), path)));
    }
}
