//! The robustness curve of the clip on screen: every model's probability of its clean top class
//! as the panel's attack is scaled from 0 to 8 times its eps. Runs on its own named thread with
//! its own copy of the models (so moving the sliders meanwhile does not stop it), reports
//! progress, and stops on Cancel; the window draws it with egui_plot.

use std::sync::Arc;

use burn::prelude::Device;
use egui_plot::{Legend, Line, Plot, PlotPoints, Points};

use super::job::{Reporter, Slot, Waker};
use crate::attacks::AttackConfig;
use crate::live::Live;
use crate::media::Clip;
use crate::models::zoo;
use super::command::ExportKind;
use crate::figures::{Figure, Layer};

pub const SCALES: [f32; 8] = [0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0];

pub struct Curve {
    pub config: AttackConfig,
    pub time_s: f64,
    pub names: Vec<String>,
    /// [model][scale]: probability of the clean top class under the scaled attack.
    pub confidence: Vec<Vec<f32>>,
    /// [model][scale]: whether the top class is still the clean one.
    pub holds: Vec<Vec<bool>>,
}

enum Msg {
    Done(Curve),
    Failed(String),
}

/// The window: its job, its last curve, whether it shows.
#[derive(Default)]
pub struct CurveWindow {
    pub open: bool,
    job: Slot<Msg>,
    pub curve: Option<Curve>,
    /// The figure's export asked for (the workbench opens the save dialog).
    pub export: Option<ExportKind>,
}

impl CurveWindow {
    /// Computes the curve of `clip` at `time_s` under `config` scaled (a running one is dropped).
    /// Err: the thread could not start.
    pub fn start(&mut self, clip: Arc<Clip>, time_s: f64, config: AttackConfig, waker: Waker) -> Result<(), String> {
        self.open = true;
        self.job.start("curve", 16, waker, move |r| compute(&clip, time_s, config, r)).map(|_| ())
    }

    pub fn running(&self) -> bool {
        self.job.running()
    }

    /// Stops the computation; true if one ran.
    pub fn cancel(&mut self) -> bool {
        self.job.abandon()
    }

    /// Takes what the thread sent; returns an error to show.
    pub fn poll(&mut self) -> Option<String> {
        let mut error = None;
        for m in self.job.poll() {
            match m {
                Msg::Done(c) => self.curve = Some(c),
                Msg::Failed(e) => error = Some(e),
            }
        }
        error
    }

    /// The window; true when Cancel was clicked.
    pub fn show(&mut self, ctx: &egui::Context) -> bool {
        if !self.open {
            return false;
        }
        let mut open = true;
        let mut cancel = false;
        egui::Window::new("Robustness curve (this clip)").open(&mut open).default_pos([330.0, 80.0]).default_width(560.0).show(ctx, |ui| {
            if self.job.running() {
                let (done, total) = self.job.progress().map_or((0, SCALES.len()), |p| (p.done, p.total));
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.add(egui::ProgressBar::new(done as f32 / total.max(1) as f32).desired_width(240.0).text(format!("{done} / {total} budgets")));
                    cancel = ui.button("Cancel").clicked();
                });
            }
            match &self.curve {
                Some(c) => {
                    plot(ui, c);
                    if ui.button(ExportKind::CurveFigure.label()).clicked() {
                        self.export = Some(ExportKind::CurveFigure);
                    }
                }
                None if !self.job.running() => {
                    ui.weak("no curve yet");
                }
                None => {}
            }
        });
        self.open = open;
        cancel
    }
}

/// Runs on the curve's thread with its own copy of the models.
fn compute(clip: &Arc<Clip>, time_s: f64, config: AttackConfig, r: &Reporter<Msg>) {
    let device = Device::flex();
    let models = match zoo::load_all(&device) {
        Ok(m) => m,
        Err(e) => {
            r.send(Msg::Failed(format!("demo models unavailable: {e}")));
            return;
        }
    };
    let names: Vec<String> = models.iter().map(|m| m.info.fusion.label().to_string()).collect();
    let mut live = Live::new(models, device);
    let (n, total) = (names.len(), SCALES.len());
    let mut confidence = vec![Vec::new(); n];
    let mut holds = vec![Vec::new(); n];
    let clip_id = Arc::as_ptr(clip) as usize;
    for (k, &scale) in SCALES.iter().enumerate() {
        let cfg = AttackConfig { eps_a: config.eps_a * scale, eps_v: config.eps_v * scale, ..config.clone() };
        let mut stop = || r.cancelled();
        let Ok((views, _)) = live.update(clip, clip_id, time_s, Some(&cfg), crate::live::Maps::One(usize::MAX), &mut stop) else { return };
        for (i, v) in views.iter().enumerate() {
            let clean = v.clean.best();
            let p = v.attacked.as_ref().map_or(&v.clean, |a| &a.prediction);
            confidence[i].push(p.probs[clean]);
            holds[i].push(p.best() == clean);
        }
        r.progress("budgets", k + 1, total);
    }
    r.send(Msg::Done(Curve { config, time_s, names, confidence, holds }));
}

/// The curve: one line per model, hollow rings where the prediction flipped.
pub fn plot(ui: &mut egui::Ui, curve: &Curve) {
    let c = &curve.config;
    ui.label(format!(
        "{} at t = {:.2} s; x1 = {} (the panel's sliders)",
        c.name(),
        curve.time_s,
        c.budgets()
    ));
    Plot::new("clip_curve")
        .legend(Legend::default())
        .height(280.0)
        .include_y(0.0)
        .include_y(1.0)
        .x_axis_label("eps multiple of the panel's budget")
        // The points sit at indices 0..7; label them with their multiples, nothing between.
        .x_axis_formatter(|mark, _| {
            let k = mark.value.round();
            if (mark.value - k).abs() < 1e-6 && k >= 0.0 { SCALES.get(k as usize).map_or(String::new(), |s| format!("x{s}")) } else { String::new() }
        })
        .y_axis_label("P(clean top class)")
        .show(ui, |p| {
            // Points at the multiples' positions on a log-like index axis: 0..7.
            for (i, name) in curve.names.iter().enumerate() {
                let pts: Vec<[f64; 2]> = curve.confidence[i].iter().enumerate().map(|(k, v)| [k as f64, f64::from(*v)]).collect();
                // One colour per model, so a line and its flip rings match in the legend.
                let [r, g, b] = crate::figures::colour(i);
                let colour = egui::Color32::from_rgb(r, g, b);
                p.line(Line::new(name.clone(), PlotPoints::from(pts.clone())).color(colour).width(2.0));
                let flipped: Vec<[f64; 2]> = pts.iter().zip(&curve.holds[i]).filter(|(_, h)| !**h).map(|(p, _)| *p).collect();
                if !flipped.is_empty() {
                    // Same name as the line: same colour, one legend entry.
                    p.points(Points::new(name.clone(), PlotPoints::from(flipped)).radius(4.0).filled(false).color(colour));
                }
            }
        });
    let first_flip: Vec<String> = curve
        .names
        .iter()
        .zip(&curve.holds)
        .map(|(n, h)| match h.iter().position(|x| !x) {
            Some(k) => format!("{n} x{}", SCALES[k]),
            None => format!("{n} never"),
        })
        .collect();
    ui.weak(format!("first flip: {}", first_flip.join(", ")));
}

/// The curve as a figure for export: one line per model, rings where the prediction flipped.
pub fn figure(curve: &Curve) -> Figure {
    let mut layers = Vec::new();
    for (i, name) in curve.names.iter().enumerate() {
        let pts: Vec<(f64, f64)> = curve.confidence[i].iter().enumerate().map(|(k, v)| (k as f64, 100.0 * f64::from(*v))).collect();
        let colour = crate::figures::colour(i);
        let flipped: Vec<(f64, f64)> = pts.iter().zip(&curve.holds[i]).filter(|(_, h)| !**h).map(|(p, _)| *p).collect();
        layers.push(Layer::Line { name: name.clone(), colour, points: pts });
        if !flipped.is_empty() {
            layers.push(Layer::Points { name: None, colour: vec![colour], points: flipped, filled: false, labels: Vec::new() });
        }
    }
    let c = &curve.config;
    Figure {
        title: format!("{} at t = {:.2} s (rings: prediction flipped)", c.name(), curve.time_s),
        x_label: format!("eps multiple (x1 = {})", c.budgets()),
        y_label: "P(clean top class) %".into(),
        x_range: Some((-0.25, (SCALES.len() - 1) as f64 + 0.25)),
        y_range: Some((0.0, 102.0)),
        x_ticks: Some(SCALES.iter().enumerate().map(|(k, s)| (k as f64, format!("x{s}"))).collect()),
        layers,
        colour_scale: None,
    }
}
