//! Supervised training of one AvNet: seeded, augmented, validated each epoch, checkpointed
//! each epoch and resumable. Items are decoded once in parallel; augmented batches are made on a
//! worker thread feeding a bounded queue while the model trains.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;
use std::time::Instant;

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::prelude::*;
use burn::tensor::TensorData;
use serde::{Deserialize, Serialize};

use crate::data::prepare::{Prepared, prepare};
use crate::data::rng::Rng;
use crate::data::{self, DataOptions, Dataset, Split};
use crate::media::LoadOptions;
use crate::models::file::{self, ModelError};
use crate::models::input::{Example, batch};
use crate::models::safetensors::StoreAs;
use crate::models::{AvNet, FusionKind, InputSize, ModelInfo, Size};

pub mod robust;
pub mod spec;
mod state;
pub use state::SavedState;
pub use robust::{DcMixup, FastAdversarial, MixupEpoch, MixupPlan, Similarity};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    Adam,
    Sgd,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// burn's Flex CPU backend.
    Cpu,
    /// wgpu: a GPU, or lavapipe where there is none.
    Wgpu,
}

impl Backend {
    pub fn device(self) -> Device {
        match self {
            Self::Cpu => Device::flex(),
            // The shared device (the kernels' too); burn's own if that cannot be opened.
            Self::Wgpu => crate::kernels::shared()
                .map(|gpu| gpu.device.clone())
                .unwrap_or_else(|_| Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainConfig {
    pub data: PathBuf,
    /// Folder layout: file names containing this form the held-out split.
    pub holdout: Option<String>,
    pub fusion: FusionKind,
    pub size: Size,
    pub epochs: usize,
    pub batch: usize,
    /// Augmented examples per epoch (0: one pass over the training split).
    pub samples_per_epoch: usize,
    pub lr: f64,
    pub optimizer: OptimizerKind,
    pub seed: u64,
    pub augment: bool,
    pub backend: Backend,
    pub out: PathBuf,
    pub name: String,
    pub resume: bool,
    /// Store the final weights in half precision (checkpoints are always f32).
    pub half: bool,
    /// Audio-visual models only: the chance that a training example loses one modality
    /// (silence, or a grey frame), so the fused model cannot lean on one input alone.
    #[serde(default)]
    pub modality_dropout: f32,
    /// Chance that a training example is blended with another (mixup, weight up to 0.5).
    #[serde(default)]
    pub mixup: f32,
    /// Li et al.'s density-convexity mixup (replaces plain mixup for the classes it selects).
    #[serde(default)]
    pub dc_mixup: Option<DcMixup>,
    /// Fast adversarial training: every batch attacked (FGSM from a random start) first.
    #[serde(default)]
    pub adversarial: Option<FastAdversarial>,
    /// Tian & Xu's MinSim / MaxSim term and its weight (audio-visual models).
    #[serde(default)]
    pub similarity: Option<(Similarity, f32)>,
    /// Stochastic weight averaging: the saved model is the mean of the weights (BatchNorm
    /// statistics included) at the end of the last this-many epochs (0: the last epoch's).
    #[serde(default)]
    pub average_last: usize,
    /// A McGurk model file to start from instead of a seeded initialisation (fine-tuning; its
    /// fusion, size and class count must be the run's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<PathBuf>,
}

/// The averaged model's epochs and held-out score.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Averaged {
    pub epochs: Vec<usize>,
    pub val_loss: Option<f32>,
    pub val_acc: Option<f32>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EpochLog {
    pub epoch: usize,
    pub train_loss: f32,
    pub train_acc: f32,
    pub val_loss: Option<f32>,
    pub val_acc: Option<f32>,
    pub seconds: f64,
    /// Density-convexity mixup: the metrics, thresholds and classes selected this epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mixup: Option<MixupEpoch>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainLog {
    pub config: TrainConfig,
    pub classes: Vec<String>,
    pub train_items: usize,
    pub val_items: usize,
    pub skipped: Vec<String>,
    pub epochs: Vec<EpochLog>,
    pub model: PathBuf,
    /// With `average_last`: what was averaged and how the average scores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub averaged: Option<Averaged>,
    /// The last committed epoch's files (see `state`); resume starts from them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<SavedState>,
}

/// What a caller sees while training runs.
pub enum Progress<'a> {
    Preparing { done: usize, total: usize },
    Step { epoch: usize, step: usize, steps: usize, loss: f32 },
    Epoch(&'a EpochLog),
    Note(String),
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Data(#[from] data::DataError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("{0}")]
    Invalid(String),
    #[error("cannot write {what}: {detail}")]
    Save { what: String, detail: String },
    #[error("training cancelled after {epochs} complete epochs; resume with --resume")]
    Cancelled { epochs: usize },
}

const LOG: &str = "train_log.json";

/// Decodes every item of `splits` in parallel; unusable items are returned as notes.
pub fn prepare_all(
    ds: &Dataset,
    splits: &[Split],
    size: InputSize,
    on_done: &(dyn Fn(usize, usize) + Sync),
) -> (Vec<Prepared>, Vec<Split>, Vec<String>) {
    let items: Vec<_> = ds.items.iter().filter(|i| splits.contains(&i.split)).collect();
    let opts = LoadOptions::default();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(8);
    let results: Vec<Result<Prepared, String>> = {
        let next = std::sync::atomic::AtomicUsize::new(0);
        let done = std::sync::atomic::AtomicUsize::new(0);
        let slots: Vec<std::sync::Mutex<Option<Result<Prepared, String>>>> = items.iter().map(|_| Default::default()).collect();
        std::thread::scope(|s| {
            for t in 0..threads {
                let (next, done, slots, items, opts) = (&next, &done, &slots, &items, &opts);
                std::thread::Builder::new()
                    .name(format!("mcgurk-prepare-{t}"))
                    .spawn_scoped(s, move || {
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(item) = items.get(i) else { break };
                            // One clip that trips a decoder is skipped and listed, never the run.
                            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| prepare(item, size, opts)))
                                .unwrap_or_else(|_| Err(format!("decoding failed unexpectedly, skipped: {}", item.media.describe())));
                            *slots[i].lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(r);
                            on_done(done.fetch_add(1, Ordering::Relaxed) + 1, items.len());
                        }
                    })
                    .expect("spawn a preparation thread");
            }
        });
        slots
            .into_iter()
            .zip(&items)
            .map(|(m, item)| {
                m.into_inner()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .unwrap_or_else(|| Err(format!("not decoded (a preparation thread stopped), skipped: {}", item.media.describe())))
            })
            .collect()
    };
    let mut prepared = Vec::new();
    let mut split_of = Vec::new();
    let mut notes = Vec::new();
    for (item, r) in items.iter().zip(results) {
        match r {
            Ok(p) => {
                prepared.push(p);
                split_of.push(item.split);
            }
            Err(e) => notes.push(e),
        }
    }
    // A class that lost every clip cannot be learned or measured: say so loudly.
    for (label, class) in ds.classes.iter().enumerate() {
        let had = items.iter().any(|i| i.label == label);
        if had && !prepared.iter().any(|p| p.label == label) {
            notes.push(format!("class '{class}' has no usable clip left: it cannot be learned or measured"));
        }
    }
    (prepared, split_of, notes)
}

fn labels_tensor(labels: &[usize], device: &Device) -> Tensor<1, Int> {
    let v: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
    Tensor::from_data(TensorData::new(v, [labels.len()]), device)
}

fn correct(logits: Tensor<2>, labels: &[usize]) -> usize {
    let pred: Vec<i64> = logits.argmax(1).try_to_vec_as::<i64>().expect("int tensor");
    pred.iter().zip(labels).filter(|(p, l)| **p as usize == **l).count()
}

/// Loss and accuracy of `net` (validation mode) on `items`, unaugmented.
pub fn evaluate(net: &AvNet, items: &[&Prepared], size: InputSize, batch_size: usize, device: &Device) -> (f32, f32) {
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let (mut loss, mut hits) = (0.0, 0);
    for chunk in items.chunks(batch_size.max(1)) {
        let examples: Vec<Example> = chunk.iter().map(|p| p.example(size, None)).collect();
        let refs: Vec<&Example> = examples.iter().collect();
        let labels: Vec<usize> = chunk.iter().map(|p| p.label).collect();
        let (w, px) = batch(&refs, device);
        let logits = net.forward(w, px).logits;
        let l: f32 = loss_fn.forward(logits.clone(), labels_tensor(&labels, device)).into_scalar();
        loss += l * chunk.len() as f32;
        hits += correct(logits, &labels);
    }
    let n = items.len().max(1) as f32;
    (loss / n, hits as f32 / n)
}

fn save_err(what: impl Into<String>) -> impl FnOnce(anyhow::Error) -> TrainError {
    let what = what.into();
    move |e| TrainError::Save { what, detail: format!("{e:#}") }
}

fn read_log(path: &Path) -> Option<TrainLog> {
    crate::files::read_regular(path, crate::files::MAX_LIST_BYTES).ok().and_then(|b| serde_json::from_slice(&b).ok())
}

fn write_log(path: &Path, log: &TrainLog) -> Result<(), TrainError> {
    let json = serde_json::to_vec_pretty(log).expect("serialisable");
    crate::files::write_atomic(path, &json).map_err(save_err(path.display().to_string()))
}

/// The output folder can take the run: it is created and written to (a probe file), and a run
/// already there is resumed only on the same classes, never silently overwritten.
fn check_output(cfg: &TrainConfig, classes: &[String]) -> Result<(), TrainError> {
    let folder = |detail: String| TrainError::Save { what: cfg.out.display().to_string(), detail };
    std::fs::create_dir_all(&cfg.out).map_err(|e| folder(e.to_string()))?;
    let log_path = cfg.out.join(LOG);
    crate::files::check_writable(&log_path).map_err(|e| folder(format!("{e:#}")))?;
    if !log_path.is_file() {
        return Ok(());
    }
    if !cfg.resume {
        return Err(TrainError::Invalid(format!(
            "{} already holds a training run: resume it (--resume) or choose another output folder",
            cfg.out.display()
        )));
    }
    let old: TrainLog = read_log(&log_path).ok_or_else(|| TrainError::Invalid(format!("cannot resume: {} is not a readable training log", log_path.display())))?;
    if old.classes != classes {
        return Err(TrainError::Invalid(format!(
            "cannot resume: the run in {} learned the classes {:?}; {} has {:?}",
            cfg.out.display(),
            old.classes,
            cfg.data.display(),
            classes
        )));
    }
    if old.config.fusion != cfg.fusion || old.config.size != cfg.size {
        return Err(TrainError::Invalid(format!(
            "cannot resume: the run in {} trains a {} {:?} model, not a {} {:?} one",
            cfg.out.display(),
            old.config.fusion.name(),
            old.config.size,
            cfg.fusion.name(),
            cfg.size
        )));
    }
    Ok(())
}

/// Trains as `cfg` says, reporting through `progress`; stops between steps when `cancel` is set
/// (the last complete epoch stays checkpointed).
pub fn train(cfg: &TrainConfig, progress: &mut dyn FnMut(Progress), cancel: &AtomicBool) -> Result<TrainLog, TrainError> {
    if cfg.batch == 0 || cfg.epochs == 0 {
        return Err(TrainError::Invalid("--batch and --epochs must be at least 1".into()));
    }
    let ds = data::open(&cfg.data, &DataOptions { holdout: cfg.holdout.clone(), ..Default::default() })?;
    // Before any decoding: the output folder must be writable, and a run in it is continued
    // (--resume, on the same classes) or left alone.
    check_output(cfg, &ds.classes)?;
    let size = cfg.size.input();
    let val_split = ds.validation_split();
    let splits: Vec<Split> = std::iter::once(Split::Train).chain(val_split).collect();
    // Decoding runs on worker threads; their progress is relayed here, live, because `progress`
    // belongs to this thread.
    let (prepared, split_of, notes) = std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::channel();
        let ds = &ds;
        let splits = &splits;
        let worker = s.spawn(move || {
            prepare_all(ds, splits, size, &|d, t| {
                let _ = tx.send((d, t));
            })
        });
        for (done, total) in rx {
            progress(Progress::Preparing { done, total });
        }
        // prepare_all catches what a clip does; a panic here is McGurk's own bug.
        worker.join().unwrap_or_else(|_| (Vec::new(), Vec::new(), vec!["the preparation of the dataset stopped unexpectedly".into()]))
    });
    let mut skipped = ds.skipped.clone();
    skipped.extend(notes);
    for s in &skipped {
        progress(Progress::Note(format!("skipped: {s}")));
    }
    let train_set: Vec<&Prepared> = prepared.iter().zip(&split_of).filter(|(_, s)| **s == Split::Train).map(|(p, _)| p).collect();
    let val_set: Vec<&Prepared> = prepared.iter().zip(&split_of).filter(|(_, s)| Some(**s) == val_split).map(|(p, _)| p).collect();
    if train_set.is_empty() {
        return Err(TrainError::Invalid(format!("no usable training clips in {}", cfg.data.display())));
    }

    std::fs::create_dir_all(&cfg.out).map_err(|e| TrainError::Save { what: cfg.out.display().to_string(), detail: e.to_string() })?;
    let device = cfg.backend.device().autodiff();
    let info = ModelInfo {
        name: cfg.name.clone(),
        fusion: cfg.fusion,
        classes: ds.classes.clone(),
        input: size,
        format_version: file::MODEL_FORMAT_VERSION,
    };
    let mut optim: ModuleOptimizer = match cfg.optimizer {
        OptimizerKind::Adam => AdamConfig::new().with_weight_decay(Some(WeightDecayConfig::new(5e-4))).init(),
        OptimizerKind::Sgd => SgdConfig::new().with_momentum(Some(MomentumConfig::new())).init(),
    };
    let mut log = TrainLog {
        config: cfg.clone(),
        classes: ds.classes.clone(),
        train_items: train_set.len(),
        val_items: val_set.len(),
        skipped,
        epochs: Vec::new(),
        model: cfg.out.join(format!("{}.safetensors", cfg.name)),
        averaged: None,
        state: None,
    };
    // The running average of the weights and the epochs in it.
    let mut average: Option<(crate::models::safetensors::SafeTensors, Vec<usize>)> = None;
    let mut net = match &cfg.init {
        None => seeded_init(AvNet::new(cfg.fusion, cfg.size, ds.classes.len(), &device), cfg.seed, &device),
        Some(path) => {
            // Read onto the autodiff device: every parameter trainable.
            let bytes = crate::files::read_regular(path, file::MAX_MODEL_BYTES).map_err(|e| TrainError::Save { what: path.display().to_string(), detail: e.to_string() })?;
            let (loaded, _) = file::from_bytes(&bytes, path, &cfg.name, Some(cfg.fusion), None, &device)?;
            if loaded.info.classes.len() != ds.classes.len() || loaded.info.input != size {
                return Err(TrainError::Invalid(format!(
                    "{}: {} classes at input {:?}; the run has {} classes at {:?}",
                    path.display(),
                    loaded.info.classes.len(),
                    loaded.info.input,
                    ds.classes.len(),
                    size
                )));
            }
            loaded.net
        }
    };
    let previous: Option<TrainLog> = if cfg.resume { read_log(&cfg.out.join(LOG)) } else { None };
    // The state the log names; runs from before named states kept fixed names.
    let resume_from = previous.as_ref().and_then(|old| {
        old.state.clone().or_else(|| {
            let legacy = SavedState::legacy(old.epochs.len(), old.averaged.as_ref().is_some_and(|a| !a.epochs.is_empty()));
            cfg.out.join(&legacy.checkpoint).is_file().then_some(legacy)
        })
    });
    let stale = state::clean_stale(&cfg.out, resume_from.as_ref());
    if stale > 0 {
        progress(Progress::Note(format!("removed {stale} files an interrupted run left in {}", cfg.out.display())));
    }
    if let (Some(old), Some(saved)) = (previous, resume_from) {
        let missing = saved.missing(&cfg.out);
        if !missing.is_empty() {
            return Err(TrainError::Invalid(format!("cannot resume: {LOG} in {} names {} but the folder lacks it", cfg.out.display(), missing.join(", "))));
        }
        let ckpt = cfg.out.join(&saved.checkpoint);
        let bytes = crate::files::read_regular(&ckpt, file::MAX_MODEL_BYTES).map_err(|e| TrainError::Save { what: ckpt.display().to_string(), detail: e.to_string() })?;
        let (loaded, _) = file::from_bytes(&bytes, &ckpt, &cfg.name, Some(cfg.fusion), None, &device)?;
        net = loaded.net;
        log.epochs = old.epochs;
        log.epochs.truncate(saved.epoch);
        if let (Some(avg), Some(name)) = (old.averaged.filter(|a| !a.epochs.is_empty()), &saved.average) {
            let path = cfg.out.join(name);
            let bytes = crate::files::read_regular(&path, file::MAX_MODEL_BYTES).map_err(|e| TrainError::Save { what: path.display().to_string(), detail: e.to_string() })?;
            let (loaded, _) = file::from_bytes(&bytes, &path, &cfg.name, Some(cfg.fusion), None, &valid_device(&device))?;
            average = Some((crate::models::state_dict::export(&loaded.net).0, avg.epochs));
        }
        optim = optim.load(cfg.out.join(&saved.optimizer)).map_err(|e| TrainError::Invalid(format!("cannot load optimizer state: {e:?}")))?;
        log.state = Some(saved);
        progress(Progress::Note(format!("resumed after epoch {}", log.epochs.len())));
    }

    let per_epoch = if cfg.samples_per_epoch == 0 { train_set.len() } else { cfg.samples_per_epoch };
    let steps = per_epoch.div_ceil(cfg.batch);
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let both = cfg.fusion.uses_audio() && cfg.fusion.uses_visual();
    let soft = cfg.mixup > 0.0 || cfg.dc_mixup.is_some() || cfg.adversarial.is_some();
    for epoch in log.epochs.len() + 1..=cfg.epochs {
        let started = Instant::now();
        let (plan, mut mixup_log) = match &cfg.dc_mixup {
            None => (None, None),
            Some(dc) => {
                let (plan, entry) = MixupPlan::measure(&net.valid(), &train_set, &ds.classes, size, dc, cfg.seed ^ (epoch as u64) << 32, &valid_device(&device));
                progress(Progress::Note(format!("epoch {epoch}: density-convexity mixup selects {:?}", entry.selected)));
                (Some((plan, dc.prob)), Some(entry))
            }
        };
        let plan = &plan;
        let (tx, rx) = sync_channel::<(Vec<Example>, Vec<usize>, Vec<(usize, f32)>)>(2);
        let (mut loss_sum, mut hits, mut seen) = (0.0f32, 0usize, 0usize);
        let stopped = std::thread::scope(|s| {
            let producer = {
                let train_set = &train_set;
                std::thread::Builder::new()
                    .name("mcgurk-batches".into())
                    .spawn_scoped(s, move || {
                        // Balanced passes: a fresh shuffled permutation whenever one runs out.
                        let mut order_rng = Rng::derive(cfg.seed, epoch as u64, u64::MAX);
                        let mut order: Vec<usize> = Vec::new();
                        for step in 0..steps {
                            let n = cfg.batch.min(per_epoch - step * cfg.batch);
                            let mut ex = Vec::with_capacity(n);
                            let mut labels = Vec::with_capacity(n);
                            let mut mixes = Vec::with_capacity(n);
                            for k in 0..n {
                                if order.is_empty() {
                                    order = (0..train_set.len()).collect();
                                    order_rng.shuffle(&mut order);
                                }
                                let i = order.pop().expect("refilled above");
                                let mut rng = Rng::derive(cfg.seed, epoch as u64, (step * cfg.batch + k) as u64);
                                let mut e = train_set[i].example(size, cfg.augment.then_some(&mut rng));
                                if both && rng.uniform() < cfg.modality_dropout {
                                    if rng.uniform() < 0.5 {
                                        e.wave.iter_mut().for_each(|v| *v = 0.0);
                                    } else {
                                        e.pixels.iter_mut().for_each(|v| *v = 0.5);
                                    }
                                }
                                // Mixup: blend with another clip, the label weighted alike.
                                let mut mix = (train_set[i].label, 0.0);
                                if let Some((plan, prob)) = plan {
                                    // Density-convexity mixup: x = a x_i + (1 - a) x_j, y alike.
                                    if rng.uniform() < *prob
                                        && let Some(j) = plan.partner(train_set[i].label, &mut rng)
                                    {
                                        let other = train_set[j].example(size, cfg.augment.then_some(&mut rng));
                                        let w = 1.0 - rng.uniform();
                                        e.wave.iter_mut().zip(&other.wave).for_each(|(a, b)| *a = (1.0 - w) * *a + w * b);
                                        e.pixels.iter_mut().zip(&other.pixels).for_each(|(a, b)| *a = (1.0 - w) * *a + w * b);
                                        mix = (train_set[j].label, w);
                                    }
                                } else if cfg.mixup > 0.0 && rng.uniform() < cfg.mixup {
                                    let j = rng.below(train_set.len());
                                    let other = train_set[j].example(size, cfg.augment.then_some(&mut rng));
                                    let w = rng.range(0.0, 0.5);
                                    e.wave.iter_mut().zip(&other.wave).for_each(|(a, b)| *a = (1.0 - w) * *a + w * b);
                                    e.pixels.iter_mut().zip(&other.pixels).for_each(|(a, b)| *a = (1.0 - w) * *a + w * b);
                                    mix = (train_set[j].label, w);
                                }
                                ex.push(e);
                                labels.push(train_set[i].label);
                                mixes.push(mix);
                            }
                            if tx.send((ex, labels, mixes)).is_err() {
                                return; // the trainer stopped
                            }
                        }
                    })
                    .expect("spawn the batch thread")
            };
            let mut stopped = false;
            for (step, (examples, labels, mixes)) in rx.iter().enumerate() {
                if cancel.load(Ordering::Relaxed) {
                    stopped = true;
                    break;
                }
                let targets = robust::mix_targets(&labels, &mixes, ds.classes.len());
                if let Some(m) = mixup_log.as_mut() {
                    m.mixed += mixes.iter().filter(|(_, w)| *w > 0.0).count();
                }
                let examples = match &cfg.adversarial {
                    Some(at) => at.perturb(&net, &examples, &targets, &mut Rng::derive(cfg.seed, epoch as u64, 0xad00_0000 + step as u64), &device),
                    None => examples,
                };
                let refs: Vec<&Example> = examples.iter().collect();
                let (w, px) = batch(&refs, &device);
                let f = net.features(w, px);
                let logits = f.logits;
                let mut loss = if soft {
                    robust::soft_loss(logits.clone(), &targets, &device)
                } else {
                    loss_fn.forward(logits.clone(), labels_tensor(&labels, &device))
                };
                if let (Some((kind, weight)), Some(fa), Some(fv)) = (cfg.similarity, f.fa, f.fv) {
                    loss = loss + kind.term(fa, fv, weight);
                }
                let l: f32 = loss.clone().into_scalar();
                hits += correct(logits, &labels);
                seen += labels.len();
                loss_sum += l * labels.len() as f32;
                let grads = GradientsParams::from_grads(loss.backward(), &net);
                net = optim.step(cfg.lr, net.clone(), grads);
                progress(Progress::Step { epoch, step: step + 1, steps, loss: l });
            }
            drop(rx);
            let _ = producer.join();
            stopped
        });
        if stopped {
            return Err(TrainError::Cancelled { epochs: log.epochs.len() });
        }
        let valid = net.valid();
        let (val_loss, val_acc) = if val_set.is_empty() {
            (None, None)
        } else {
            let (l, a) = evaluate(&valid, &val_set, size, cfg.batch, &valid_device(&device));
            (Some(l), Some(a))
        };
        let entry = EpochLog {
            epoch,
            train_loss: loss_sum / seen.max(1) as f32,
            train_acc: hits as f32 / seen.max(1) as f32,
            val_loss,
            val_acc,
            seconds: started.elapsed().as_secs_f64(),
            mixup: mixup_log,
        };
        log.epochs.push(entry);
        progress(Progress::Epoch(log.epochs.last().expect("just pushed")));
        if cfg.average_last > 0 && epoch + cfg.average_last > cfg.epochs {
            let (st, _) = crate::models::state_dict::export(&valid);
            let (sum, epochs) = average.get_or_insert_with(|| (st.clone(), Vec::new()));
            if !epochs.is_empty() {
                running_mean(sum, epochs.len(), &st);
            }
            epochs.push(epoch);
            let avg_net = crate::models::state_dict::import(sum, cfg.fusion, None, &valid_device(&device)).map_err(|e| TrainError::Invalid(e.to_string()))?;
            let name = SavedState::for_epoch(epoch, true).average.unwrap_or_default();
            file::save(&cfg.out.join(&name), &avg_net, &info, StoreAs::F32, false).map_err(save_err(name))?;
            log.averaged = Some(Averaged { epochs: epochs.clone(), val_loss: None, val_acc: None });
        }
        // The epoch's files first, under its own names; the log, written last, commits them.
        let saved = SavedState::for_epoch(epoch, average.is_some());
        file::save(&cfg.out.join(&saved.checkpoint), &valid, &info, StoreAs::F32, true).map_err(save_err(saved.checkpoint.clone()))?;
        let optimizer = optim.into_bytes().map_err(|e| TrainError::Save { what: saved.optimizer.clone(), detail: format!("{e:?}") })?;
        crate::files::write_atomic(&cfg.out.join(&saved.optimizer), &optimizer).map_err(save_err(saved.optimizer.clone()))?;
        let before = log.state.replace(saved.clone());
        write_log(&cfg.out.join(LOG), &log)?;
        if let Some(before) = before {
            before.remove_unused(&cfg.out, &saved);
        }
    }
    let store = if cfg.half { StoreAs::F16 } else { StoreAs::F32 };
    let mut final_net = net.valid();
    if let Some((sum, epochs)) = &average {
        final_net = crate::models::state_dict::import(sum, cfg.fusion, None, &valid_device(&device)).map_err(|e| TrainError::Invalid(e.to_string()))?;
        let (val_loss, val_acc) = if val_set.is_empty() {
            (None, None)
        } else {
            let (l, a) = evaluate(&final_net, &val_set, size, cfg.batch, &valid_device(&device));
            (Some(l), Some(a))
        };
        let first = epochs.first().copied().unwrap_or(0);
        let last = epochs.last().copied().unwrap_or(0);
        progress(Progress::Note(match val_acc {
            Some(a) => format!("saved the average of epochs {first}-{last}: held-out loss {:.3} acc {:.1}%", val_loss.unwrap_or(f32::NAN), 100.0 * a),
            None => format!("saved the average of epochs {first}-{last}"),
        }));
        log.averaged = Some(Averaged { epochs: epochs.clone(), val_loss, val_acc });
    }
    file::save(&log.model, &final_net, &info, store, false).map_err(save_err(log.model.display().to_string()))?;
    write_log(&cfg.out.join(LOG), &log)?;
    Ok(log)
}

/// `avg` holds the mean of `n` state dicts; make it the mean of those and `x`.
fn running_mean(avg: &mut crate::models::safetensors::SafeTensors, n: usize, x: &crate::models::safetensors::SafeTensors) {
    let n = n as f32;
    for (key, t) in avg.tensors.iter_mut() {
        if let Some(x) = x.tensors.get(key) {
            t.values.iter_mut().zip(&x.values).for_each(|(a, b)| *a += (b - *a) / (n + 1.0));
        }
    }
}

/// Cross-entropy against targets `label` with weight 1 - w and `mix.0` with weight `mix.1`.
pub fn soft_cross_entropy(logits: Tensor<2>, labels: &[usize], mixes: &[(usize, f32)], classes: usize, device: &Device) -> Tensor<1> {
    robust::soft_loss(logits, &robust::mix_targets(labels, mixes, classes), device)
}

/// PyTorch's default initialisation (weights and biases uniform in ±1/sqrt(fan_in), BatchNorm
/// at identity) drawn from our own generator: burn's initialisers share one generator per
/// device across threads, so a seed alone does not make two runs in one process agree.
pub fn seeded_init(net: AvNet, seed: u64, device: &Device) -> AvNet {
    let kind = net.fusion.kind;
    let (mut st, ids) = crate::models::state_dict::export(&net);
    let fan_in: std::collections::BTreeMap<String, usize> = st
        .tensors
        .iter()
        .filter(|(k, t)| k.ends_with(".weight") && t.shape.len() > 1)
        .map(|(k, t)| (k.trim_end_matches(".weight").to_string(), t.shape[1..].iter().product()))
        .collect();
    let mut rng = Rng::derive(seed, 0x1417, 0);
    for (key, t) in st.tensors.iter_mut() {
        let (layer, what) = key.rsplit_once('.').unwrap_or((key.as_str(), ""));
        let value: Box<dyn FnMut() -> f32> = if is_bn_param(key) {
            let v = if matches!(what, "weight" | "running_var") { 1.0 } else { 0.0 };
            Box::new(move || v)
        } else {
            let bound = 1.0 / (fan_in.get(layer).copied().unwrap_or(1) as f32).sqrt();
            let rng = &mut rng;
            Box::new(move || rng.range(-bound, bound))
        };
        let mut value = value;
        t.values.iter_mut().for_each(|v| *v = value());
    }
    crate::models::state_dict::import(&st, kind, Some(&ids), device).expect("a model's own export imports")
}

/// BatchNorm tensors in the reference layout: audio.{1,4,8,...}, visual bn*/downsample.1.
fn is_bn_param(key: &str) -> bool {
    if let Some(rest) = key.strip_prefix("audio.") {
        let index: usize = rest.split('.').next().and_then(|i| i.parse().ok()).unwrap_or(0);
        return !crate::models::state_dict::AUDIO_CONV_INDICES.contains(&index);
    }
    key.contains(".bn") || key.contains("downsample.1.")
}

/// The plain device under an autodiff one, where validation runs.
fn valid_device(device: &Device) -> Device {
    device.clone().without_autodiff()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_running_mean_is_the_mean() {
        use crate::models::safetensors::{SafeTensors, StoredTensor};
        let st = |v: f32| SafeTensors { tensors: [("w".to_string(), StoredTensor { shape: vec![2], values: vec![v, 2.0 * v] })].into(), ..Default::default() };
        let mut avg = st(1.0);
        running_mean(&mut avg, 1, &st(2.0));
        running_mean(&mut avg, 2, &st(6.0));
        assert_eq!(avg.tensors["w"].values, vec![3.0, 6.0]);
    }

    #[test]
    fn soft_cross_entropy_is_the_weighted_mean_of_two_hard_ones() {
        let device = Device::flex();
        let logits = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, -0.5, 2.0, 0.3, 0.1, -1.0], [2, 3]), &device);
        let ce = |l: &[usize]| -> f32 {
            CrossEntropyLossConfig::new().init(&device).forward(logits.clone(), labels_tensor(l, &device)).into_scalar()
        };
        let soft = |m: &[(usize, f32)]| -> f32 { soft_cross_entropy(logits.clone(), &[0, 1], m, 3, &device).into_scalar() };
        assert!((soft(&[(0, 0.0), (1, 0.0)]) - ce(&[0, 1])).abs() < 1e-6);
        let half = soft(&[(2, 0.5), (2, 0.5)]);
        assert!((half - 0.5 * (ce(&[0, 1]) + ce(&[2, 2]))).abs() < 1e-5, "{half}");
    }
}
