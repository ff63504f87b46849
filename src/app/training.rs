//! The training panel: starts `train::train` on a named background thread with the robust
//! options (density-convexity mixup, fast adversarial training, MinSim/MaxSim), draws the loss
//! and accuracy per epoch as they arrive, cancels between steps (the last complete epoch stays
//! checkpointed and resumable), and hands the finished model to the workbench.

use std::path::PathBuf;
use std::sync::Arc;

use egui_plot::{Legend, Line, Plot, PlotPoints};

use super::job::{Slot, Waker};
use crate::models::{FusionKind, Size};
use crate::train::{Backend, DcMixup, EpochLog, FastAdversarial, OptimizerKind, Progress, Similarity, TrainConfig, TrainError, train};

enum Msg {
    Step { epoch: usize, step: usize, steps: usize, loss: f32 },
    Epoch(EpochLog),
    Note(String),
    Done(PathBuf),
    Failed(String),
}

/// What the panel holds: the settings of the next run and what the current one reported.
pub struct TrainingWindow {
    pub open: bool,
    pub data: String,
    pub holdout: String,
    pub fusion: FusionKind,
    pub epochs: usize,
    pub samples_per_epoch: usize,
    pub lr: f64,
    pub dc_mixup: bool,
    pub adversarial: bool,
    pub similarity: Option<Similarity>,
    pub out: String,
    pub resume: bool,
    job: Slot<Msg>,
    pub epochs_seen: Vec<EpochLog>,
    /// (epoch, step, steps, loss) of the last step.
    pub step: Option<(usize, usize, usize, f32)>,
    pub notes: Vec<String>,
    pub finished: Option<PathBuf>,
    pub error: Option<String>,
    /// A folder dialog asked for (the workbench opens it).
    pub browse: Option<super::command::PathField>,
}

impl Default for TrainingWindow {
    fn default() -> Self {
        let (data, holdout) = super::demo_dataset();
        Self {
            open: false,
            data,
            holdout,
            fusion: FusionKind::Sum,
            epochs: 30,
            samples_per_epoch: 64,
            lr: 1e-3,
            dc_mixup: false,
            adversarial: false,
            similarity: None,
            out: crate::files::cache_dir().join("runs/sum").display().to_string(),
            resume: false,
            job: Slot::default(),
            epochs_seen: Vec::new(),
            step: None,
            notes: Vec::new(),
            finished: None,
            error: None,
            browse: None,
        }
    }
}

impl TrainingWindow {
    pub fn running(&self) -> bool {
        self.job.running()
    }

    /// The configuration of the next run, as the panel shows it (the zoo's recipe otherwise).
    pub fn config(&self) -> TrainConfig {
        let out = PathBuf::from(self.out.trim());
        TrainConfig {
            data: PathBuf::from(self.data.trim()),
            holdout: Some(self.holdout.trim().to_string()).filter(|h| !h.is_empty()),
            fusion: self.fusion,
            size: Size::Small,
            epochs: self.epochs.max(1),
            batch: 16,
            samples_per_epoch: self.samples_per_epoch,
            lr: self.lr,
            optimizer: OptimizerKind::Adam,
            seed: 7,
            augment: true,
            backend: Backend::Cpu,
            name: out.file_name().map_or_else(|| self.fusion.name().to_string(), |n| n.to_string_lossy().into_owned()),
            out,
            resume: self.resume,
            half: false,
            modality_dropout: if self.fusion.uses_audio() && self.fusion.uses_visual() { 0.25 } else { 0.0 },
            mixup: 0.0,
            dc_mixup: self.dc_mixup.then(|| DcMixup { kappa_below: 0.5, rho_above: None, tau: 0.6, views: 8, pairs: 2000, prob: 0.5 }),
            adversarial: self.adversarial.then_some(FastAdversarial { eps_a: 0.01, eps_v: 8.0 / 255.0 }),
            similarity: self.similarity.map(|s| (s, 1.0)),
            average_last: 0,
            init: None,
        }
    }

    /// Starts a run with `cfg` on its own thread.
    pub fn start(&mut self, cfg: TrainConfig, waker: Waker) {
        self.epochs_seen.clear();
        self.notes.clear();
        self.step = None;
        self.finished = None;
        self.error = None;
        let started = self.job.start("train", 256, waker, move |r| {
            let mut report = |p: Progress| match p {
                Progress::Preparing { done, total } => r.offer(Msg::Note(format!("decoding clips {done}/{total}"))),
                // Steps may be dropped when the window is behind; epochs may not.
                Progress::Step { epoch, step, steps, loss } => r.offer(Msg::Step { epoch, step, steps, loss }),
                Progress::Epoch(e) => {
                    r.send(Msg::Epoch(e.clone()));
                }
                Progress::Note(n) => r.offer(Msg::Note(n)),
            };
            let last = match train(&cfg, &mut report, r.cancel_flag()) {
                Ok(log) => Msg::Done(log.model),
                Err(TrainError::Cancelled { epochs }) => Msg::Failed(format!("cancelled after {epochs} complete epochs; tick Resume to go on")),
                Err(e) => Msg::Failed(e.to_string()),
            };
            r.send(last);
        });
        if let Err(e) = started {
            self.error = Some(e);
        }
    }

    /// Stops the run between steps; how it ended (the epochs kept) is still reported.
    pub fn cancel(&mut self) {
        self.job.cancel();
    }

    pub fn poll(&mut self) {
        for m in self.job.poll() {
            match m {
                Msg::Step { epoch, step, steps, loss } => self.step = Some((epoch, step, steps, loss)),
                Msg::Epoch(e) => {
                    self.notes.retain(|n| !n.starts_with("decoding"));
                    self.epochs_seen.push(e);
                }
                Msg::Note(n) => {
                    // Decoding progress replaces itself; other notes are kept.
                    if n.starts_with("decoding") && self.notes.last().is_some_and(|l| l.starts_with("decoding")) {
                        self.notes.pop();
                    }
                    self.notes.push(n);
                }
                Msg::Done(path) => self.finished = Some(path),
                Msg::Failed(e) => self.error = Some(e),
            }
        }
    }

    /// The window; returns a trained model the user asked to add to the workbench.
    pub fn show(&mut self, ctx: &egui::Context) -> Option<(PathBuf, FusionKind)> {
        // Polled while closed too, so a run's progress and end are never held up.
        self.poll();
        if !self.open {
            return None;
        }
        let mut add = None;
        let mut open = true;
        egui::Window::new("Train a model").open(&mut open).default_pos([320.0, 70.0]).default_width(640.0).show(ctx, |ui| {
            ui.add_enabled_ui(!self.running(), |ui| self.settings(ui));
            ui.horizontal(|ui| {
                if self.running() {
                    let (e, s, n, loss) = self.step.unwrap_or((0, 0, 1, f32::NAN));
                    let done = (e.saturating_sub(1) * n + s) as f32 / (self.epochs.max(1) * n.max(1)) as f32;
                    ui.add(egui::ProgressBar::new(done).desired_width(300.0).text(format!("epoch {e}/{} step {s}/{n} loss {loss:.3}", self.epochs)));
                    if ui.button("Cancel").clicked() {
                        self.cancel();
                    }
                } else if ui.add_enabled(!self.data.trim().is_empty() && !self.out.trim().is_empty(), egui::Button::new("Start training")).clicked() {
                    let cfg = self.config();
                    // Nothing lost: a folder holding a run is continued (Resume) or left alone.
                    if !cfg.resume && cfg.out.join("train_log.json").is_file() {
                        self.error = Some(format!("{} already holds a training run: tick Resume to continue it, or choose another output folder", cfg.out.display()));
                    } else {
                        let ctx = ui.ctx().clone();
                        self.start(cfg, Arc::new(move || ctx.request_repaint()));
                    }
                }
            });
            if let Some(e) = &self.error {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            if let Some(path) = self.finished.clone() {
                ui.horizontal(|ui| {
                    ui.label(format!("wrote {}", path.display()));
                    if ui.button("Add to the workbench").clicked() {
                        add = Some((path, self.fusion));
                    }
                });
            }
            for n in self.notes.iter().rev().take(3).rev() {
                ui.weak(n);
            }
            if !self.epochs_seen.is_empty() {
                curves(ui, &self.epochs_seen);
            }
        });
        if !open {
            self.open = false;
        }
        add
    }

    fn settings(&mut self, ui: &mut egui::Ui) {
        egui::Grid::new("training_settings").num_columns(2).show(ui, |ui| {
            let l = ui.label("dataset");
            ui.horizontal(|ui| {
                ui.add(egui::TextEdit::singleline(&mut self.data).desired_width(420.0)).labelled_by(l.id);
                if ui.button("Browse…").on_hover_text("a folder per class or an AVE folder; type a CSV manifest's path").clicked() {
                    self.browse = Some(super::command::PathField::TrainingData);
                }
            });
            ui.end_row();
            let l = ui.label("held-out tag");
            ui.add(egui::TextEdit::singleline(&mut self.holdout).desired_width(120.0)).labelled_by(l.id);
            ui.end_row();
            let l = ui.label("fusion");
            let before = self.fusion;
            egui::ComboBox::from_id_salt("training_fusion")
                .selected_text(self.fusion.label())
                .show_ui(ui, |ui| {
                    for k in FusionKind::ALL {
                        ui.selectable_value(&mut self.fusion, k, k.label());
                    }
                })
                .response
                .labelled_by(l.id);
            if self.fusion != before {
                self.out = crate::files::cache_dir().join(format!("runs/{}", self.fusion.name())).display().to_string();
            }
            ui.end_row();
            let l = ui.label("output folder");
            ui.horizontal(|ui| {
                ui.add(egui::TextEdit::singleline(&mut self.out).desired_width(420.0)).labelled_by(l.id);
                if ui.button("Browse…").clicked() {
                    self.browse = Some(super::command::PathField::TrainingOut);
                }
            });
            ui.end_row();
            ui.label("epochs");
            ui.add(egui::Slider::new(&mut self.epochs, 1..=200).text("passes"));
            ui.end_row();
            ui.label("examples per epoch");
            ui.add(egui::Slider::new(&mut self.samples_per_epoch, 0..=1024).text("augmented (0: one pass)"));
            ui.end_row();
            ui.label("learning rate");
            ui.add(egui::Slider::new(&mut self.lr, 1e-5..=1e-1).logarithmic(true).text("Adam"));
            ui.end_row();
        });
        ui.checkbox(&mut self.dc_mixup, "density-convexity mixup (kappa < 0.5, rho above the median; per epoch)");
        ui.checkbox(&mut self.adversarial, "fast adversarial training (FGSM from a random start; eps_a 0.01, eps_v 8/255)");
        ui.horizontal(|ui| {
            ui.label("similarity term");
            ui.radio_value(&mut self.similarity, None, "none");
            ui.radio_value(&mut self.similarity, Some(Similarity::MinSim), "MinSim");
            ui.radio_value(&mut self.similarity, Some(Similarity::MaxSim), "MaxSim");
        });
        ui.checkbox(&mut self.resume, "Resume from the checkpoint in the output folder");
    }
}

/// Loss (left) and accuracy (right) per epoch: training and held-out.
fn curves(ui: &mut egui::Ui, epochs: &[EpochLog]) {
    let series = |f: &dyn Fn(&EpochLog) -> Option<f32>| -> Vec<[f64; 2]> { epochs.iter().filter_map(|e| f(e).map(|v| [e.epoch as f64, f64::from(v)])).collect() };
    ui.columns(2, |cols| {
        Plot::new("training_loss").height(200.0).legend(Legend::default()).x_axis_label("epoch").y_axis_label("loss").include_y(0.0).show(&mut cols[0], |p| {
            p.line(Line::new("train", PlotPoints::from(series(&|e| Some(e.train_loss)))).width(2.0));
            p.line(Line::new("held-out", PlotPoints::from(series(&|e| e.val_loss))).width(2.0));
        });
        Plot::new("training_acc").height(200.0).legend(Legend::default()).x_axis_label("epoch").y_axis_label("accuracy %").include_y(0.0).include_y(100.0).show(&mut cols[1], |p| {
            p.line(Line::new("train", PlotPoints::from(series(&|e| Some(100.0 * e.train_acc)))).width(2.0));
            p.line(Line::new("held-out", PlotPoints::from(series(&|e| e.val_acc.map(|a| 100.0 * a)))).width(2.0));
        });
    });
}
