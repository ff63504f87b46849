//! The class-wise robustness window (Li et al. section 5 in the GUI): pick a dataset and a
//! model, optionally attack with the panel's attack, and see the per-class table (sortable),
//! drop rate against kappa with rho as colour (the paper's Fig. 4), and a PCA picture of the
//! fused embeddings, clean and attacked. The measurement runs on its own named thread with a
//! progress bar and Cancel; a new run replaces (and cancels) the old one.

use std::path::PathBuf;
use std::sync::Arc;
use burn::prelude::Device;

use super::job::{Reporter, Slot, Waker};
use crate::attacks::AttackConfig;
use crate::data::{self, DataOptions, Split};
use crate::metrics::classwise::{ClassRow, Options, Report, Space, Stage, report};
use crate::models::{LoadedModel, zoo};

mod plots;
use plots::{projection, scatter};

/// Which model the window measures: a demo model by name, or a model file.
#[derive(Clone, Debug, PartialEq)]
pub enum ModelChoice {
    Zoo(String),
    File(PathBuf, Option<crate::models::FusionKind>),
}

impl ModelChoice {
    fn label(&self) -> String {
        match self {
            Self::Zoo(n) => n.clone(),
            Self::File(p, _) => p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned()),
        }
    }

    fn load(&self, device: &Device) -> Result<LoadedModel, String> {
        match self {
            Self::Zoo(n) => zoo::find(n).ok_or_else(|| format!("no demo model '{n}'"))?.load(device).map_err(|e| e.to_string()),
            Self::File(p, fusion) => crate::models::tian_spec::load_path(p, *fusion, device),
        }
    }
}

/// What the user asks for.
#[derive(Clone, Debug)]
pub struct Request {
    pub data: PathBuf,
    pub holdout: Option<String>,
    pub model: ModelChoice,
    pub views: usize,
    pub tau: f64,
    pub p: f32,
    pub attack: Option<AttackConfig>,
}

enum Msg {
    Done(Box<Report>),
    Failed(String),
}

/// Columns the table sorts by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortBy {
    Class,
    Samples,
    Clean,
    Attacked,
    Drop,
    Kappa,
    Rho,
}

pub struct ClasswiseWindow {
    pub open: bool,
    pub data: String,
    pub holdout: String,
    pub model: ModelChoice,
    pub views: usize,
    /// The density's quantile and norm.
    pub tau: f64,
    pub p: f32,
    pub attack: bool,
    job: Slot<Msg>,
    pub report: Option<Report>,
    pub error: Option<String>,
    pub sort: (SortBy, bool),
    /// A folder dialog asked for (the workbench opens it).
    pub browse: Option<super::command::PathField>,
    /// An export of the report asked for (the workbench opens the save dialog).
    pub export: Option<super::command::ExportKind>,
}

impl Default for ClasswiseWindow {
    fn default() -> Self {
        let (data, holdout) = super::demo_dataset();
        Self {
            open: false,
            data,
            holdout,
            model: ModelChoice::Zoo("sum".into()),
            views: 4,
            tau: 0.6,
            p: 2.0,
            attack: true,
            job: Slot::default(),
            report: None,
            error: None,
            sort: (SortBy::Class, false),
            browse: None,
            export: None,
        }
    }
}

fn run(req: Request, r: &Reporter<Msg>) -> Result<Report, String> {
    let device = Device::flex();
    let model = req.model.load(&device)?;
    let ds = data::open(&req.data, &DataOptions { holdout: req.holdout.clone(), ..Default::default() }).map_err(|e| e.to_string())?;
    if model.info.classes != ds.classes {
        return Err(format!("model '{}' knows classes {:?}; {} has {:?}", model.info.name, model.info.classes, req.data.display(), ds.classes));
    }
    let (prepared, _, _) = crate::train::prepare_all(&ds, &[Split::Train, Split::Val, Split::Test], model.info.input, &|d, t| r.progress("decoding", d, t));
    let items: Vec<_> = prepared.iter().collect();
    if items.is_empty() {
        return Err(format!("no usable clips in {}", req.data.display()));
    }
    let opts = Options { views: req.views.max(1), taus: vec![req.tau.clamp(0.05, 0.95)], p: req.p, attack: req.attack, ..Options::default() };
    report(&model, &items, &opts, r.cancel_flag(), &mut |stage, d, t| {
        let what = match stage {
            Stage::Embedding => "embedding",
            Stage::Attacking => "attacking",
            Stage::Convexity => "convexity",
        };
        r.progress(what, d, t);
    })
    .map_err(|e| e.to_string())
}

impl ClasswiseWindow {
    /// What a session keeps: the settings and the last report (None when never used).
    pub fn saved(&self) -> Option<crate::session::SavedClasswise> {
        use crate::session::SavedModel;
        if !self.open && self.report.is_none() {
            return None;
        }
        Some(crate::session::SavedClasswise {
            data: self.data.clone(),
            holdout: self.holdout.clone(),
            model: match &self.model {
                ModelChoice::Zoo(name) => SavedModel::Zoo { name: name.clone() },
                ModelChoice::File(path, fusion) => SavedModel::File { path: path.clone(), fusion: fusion.map(|f| f.name().to_string()) },
            },
            views: self.views,
            tau: self.tau,
            p: if self.p.is_finite() { Some(self.p) } else { None },
            attack: self.attack,
            report: self.report.clone(),
        })
    }

    /// Restores what a session kept (a run in progress is cancelled); opens the window when
    /// there is a report to show.
    pub fn restore(&mut self, saved: Option<&crate::session::SavedClasswise>) {
        use crate::session::SavedModel;
        self.cancel();
        let Some(s) = saved else {
            self.report = None;
            return;
        };
        self.data = s.data.clone();
        self.holdout = s.holdout.clone();
        self.model = match &s.model {
            SavedModel::Zoo { name } => ModelChoice::Zoo(name.clone()),
            SavedModel::File { path, fusion } => ModelChoice::File(path.clone(), fusion.as_deref().and_then(crate::models::FusionKind::from_name)),
        };
        self.views = s.views.clamp(1, 16);
        self.tau = s.tau.clamp(0.05, 0.95);
        self.p = s.p.unwrap_or(f32::INFINITY);
        self.attack = s.attack;
        self.report = s.report.clone();
        self.error = None;
        self.open = self.report.is_some();
    }

    pub fn running(&self) -> bool {
        self.job.running()
    }

    /// Starts measuring (a run in progress is dropped).
    pub fn start(&mut self, req: Request, waker: Waker) {
        self.error = None;
        let started = self.job.start("classwise", 64, waker, move |r| {
            let last = match run(req, r) {
                Ok(report) => Msg::Done(Box::new(report)),
                Err(e) => Msg::Failed(e),
            };
            if !r.cancelled() {
                r.send(last);
            }
        });
        if let Err(e) = started {
            self.error = Some(e);
        }
    }

    /// Stops the run; its result is dropped, and the window says so.
    pub fn cancel(&mut self) {
        if self.job.abandon() {
            self.error = Some("measurement cancelled; the table shows the last complete one".into());
        }
    }

    /// Takes what the thread sent.
    pub fn poll(&mut self) {
        for m in self.job.poll() {
            match m {
                Msg::Done(report) => self.report = Some(*report),
                Msg::Failed(e) => self.error = Some(e),
            }
        }
    }

    /// The window. `models`: what can be measured; `attack`: the panel's attack.
    pub fn show(&mut self, ctx: &egui::Context, models: &[ModelChoice], attack: &AttackConfig) {
        // Polled while closed too, so a run finished meanwhile is there when it opens.
        self.poll();
        if !self.open {
            return;
        }
        let mut open = true;
        egui::Window::new("Class-wise robustness").open(&mut open).default_pos([300.0, 60.0]).default_width(760.0).show(ctx, |ui| {
            self.controls(ui, models, attack);
            if let Some(e) = &self.error {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            // Taken out while drawn (the table sorts through &mut self), not cloned each frame.
            if let Some(r) = self.report.take() {
                ui.separator();
                egui::ScrollArea::vertical().min_scrolled_height(560.0).max_height(640.0).show(ui, |ui| {
                    self.table(ui, &r);
                    ui.columns(2, |cols| {
                        scatter(&mut cols[0], &r);
                        projection(&mut cols[1], &r);
                    });
                    for c in &r.correlations {
                        let f = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:+.2}"));
                        ui.weak(format!("drop rate vs {}: Pearson {}, Spearman {} ({} classes)", c.metric, f(c.pearson), f(c.spearman), c.classes));
                    }
                    ui.horizontal(|ui| {
                        use super::command::ExportKind;
                        for kind in [ExportKind::ClasswiseJson, ExportKind::ClasswiseCsv, ExportKind::ClasswiseDropFigure, ExportKind::ClasswisePcaFigure] {
                            if ui.button(kind.label()).clicked() {
                                self.export = Some(kind);
                            }
                        }
                    });
                });
                self.report = Some(r);
            }
        });
        if !open {
            self.open = false;
        }
    }

    fn controls(&mut self, ui: &mut egui::Ui, models: &[ModelChoice], attack: &AttackConfig) {
        egui::Grid::new("classwise_controls").num_columns(2).show(ui, |ui| {
            let l = ui.label("dataset");
            ui.horizontal(|ui| {
                ui.add(egui::TextEdit::singleline(&mut self.data).desired_width(420.0).hint_text("a folder per class, an AVE folder or a CSV manifest")).labelled_by(l.id);
                if ui.button("Browse…").clicked() {
                    self.browse = Some(super::command::PathField::ClasswiseData);
                }
            });
            ui.end_row();
            let l = ui.label("held-out tag");
            ui.add(egui::TextEdit::singleline(&mut self.holdout).desired_width(120.0)).labelled_by(l.id);
            ui.end_row();
            let l = ui.label("model");
            egui::ComboBox::from_id_salt("classwise_model")
                .selected_text(self.model.label())
                .show_ui(ui, |ui| {
                    for m in models {
                        ui.selectable_value(&mut self.model, m.clone(), m.label());
                    }
                })
                .response
                .labelled_by(l.id);
            ui.end_row();
            ui.label("samples per clip");
            ui.add(egui::Slider::new(&mut self.views, 1..=16).text("the clip and augmented views"));
            ui.end_row();
            ui.label("density");
            ui.horizontal(|ui| {
                ui.add(egui::Slider::new(&mut self.tau, 0.05..=0.95).text("tau"));
                let l = ui.label("norm");
                let name = |p: f32| if p.is_infinite() { "L-inf".to_string() } else { format!("L{p}") };
                egui::ComboBox::from_id_salt("classwise_p")
                    .selected_text(name(self.p))
                    .show_ui(ui, |ui| {
                        for p in [1.0, 2.0, f32::INFINITY] {
                            ui.selectable_value(&mut self.p, p, name(p));
                        }
                    })
                    .response
                    .labelled_by(l.id);
            });
            ui.end_row();
        });
        ui.checkbox(&mut self.attack, format!("attack with the panel's {} ({})", attack.name(), attack.budgets()));
        ui.horizontal(|ui| {
            let can = !self.data.trim().is_empty();
            if self.job.running() {
                let p = self.job.progress().cloned().unwrap_or_else(|| super::job::Progress { what: "starting".into(), done: 0, total: 1 });
                ui.add(egui::ProgressBar::new(p.fraction()).desired_width(260.0).text(format!("{} {}/{}", p.what, p.done, p.total)));
                if ui.button("Cancel").clicked() {
                    self.cancel();
                }
            } else if ui.add_enabled(can, egui::Button::new("Measure")).clicked() {
                let req = Request {
                    data: PathBuf::from(self.data.trim()),
                    holdout: Some(self.holdout.trim().to_string()).filter(|h| !h.is_empty()),
                    model: self.model.clone(),
                    views: self.views,
                    tau: self.tau,
                    p: self.p,
                    attack: self.attack.then(|| AttackConfig { modality: crate::attacks::Modality::Both, ..attack.clone() }),
                };
                let ctx = ui.ctx().clone();
                self.start(req, Arc::new(move || ctx.request_repaint()));
            }
        });
    }

    fn table(&mut self, ui: &mut egui::Ui, r: &Report) {
        let tau = r.options.taus.first().copied().unwrap_or(0.6);
        ui.label(format!("{} ({}): {} samples; rho on the fused feature at tau {tau}, p {}", r.model, r.fusion, r.samples, r.options.p));
        let mut rows: Vec<&ClassRow> = r.rows.iter().collect();
        let (by, desc) = self.sort;
        let key = |row: &ClassRow| -> f64 {
            match by {
                SortBy::Class | SortBy::Samples => row.samples as f64,
                SortBy::Clean => row.clean_acc,
                SortBy::Attacked => row.attacked_acc.unwrap_or(-1.0),
                SortBy::Drop => row.drop_rate.unwrap_or(-1.0),
                SortBy::Kappa => row.kappa.kappa().unwrap_or(-1.0),
                SortBy::Rho => row.rho(Space::Fused, tau).unwrap_or(-1.0),
            }
        };
        if by == SortBy::Class {
            rows.sort_by(|a, b| a.class.cmp(&b.class));
        } else {
            rows.sort_by(|a, b| key(a).total_cmp(&key(b)));
        }
        if desc {
            rows.reverse();
        }
        let f = |v: Option<f64>, scale: f64| v.map_or("-".to_string(), |v| format!("{:.2}", v * scale));
        egui::Grid::new("classwise_table").striped(true).num_columns(7).show(ui, |ui| {
            for (col, name) in [(SortBy::Class, "class"), (SortBy::Samples, "samples"), (SortBy::Clean, "clean %"), (SortBy::Attacked, "attacked %"), (SortBy::Drop, "drop %"), (SortBy::Kappa, "kappa"), (SortBy::Rho, "rho")] {
                let arrow = if by == col { if desc { " v" } else { " ^" } } else { "" };
                if ui.button(format!("{name}{arrow}")).on_hover_text("sort by this column").clicked() {
                    self.sort = (col, if by == col { !desc } else { false });
                }
            }
            ui.end_row();
            for row in rows {
                ui.label(&row.class);
                ui.label(row.samples.to_string());
                ui.label(f(Some(row.clean_acc), 100.0));
                ui.label(f(row.attacked_acc, 100.0));
                ui.label(f(row.drop_rate, 100.0));
                ui.label(f(row.kappa.kappa(), 1.0));
                ui.label(f(row.rho(Space::Fused, tau), 1.0));
                ui.end_row();
            }
        });
    }
}
