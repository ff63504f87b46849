//! Fine-tuning a model read from a spec on a dataset: a Cnn14 or a TAL-trans (published
//! checkpoints; the waveform windows at the model's rate go through the fixed log-mel front
//! end), an R(2+1)D-18 with its `fc` head (clips of T frames), or an audio-visual pair of those
//! (the waveform and the frames of each clip). One loop: Adam updates every weight, BatchNorm
//! learns from the batches; the result is a state dict in the checkpoint's own key layout, so
//! the same spec reads it back.

use std::sync::atomic::{AtomicBool, Ordering};

use burn::module::Module;
use burn::nn::Linear;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation::{log_sigmoid, log_softmax};
use serde::Serialize;

use super::TrainError;
use crate::data::rng::Rng;
use crate::models::cnn14::{self, Cnn14};
use crate::models::r2plus1d::R2Plus1d;
use crate::models::safetensors::SafeTensors;
use crate::models::pair::{PairModel, PairNet};
use crate::models::spec::{ModelSpec, Output, SpecKeys};
use crate::models::spectrogram::{SpectrogramModel, SpectrogramNet};
use crate::models::tal_trans::{self, TalTrans};
use crate::models::video::VideoModel;

/// One clip: the model's input (a waveform window at its rate, or [3, T, S, S] pixels) and its
/// class (the model's index).
pub struct Window {
    pub input: Vec<f32>,
    pub label: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct FineTune {
    pub epochs: usize,
    pub lr: f64,
    pub batch: usize,
    pub seed: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct EpochLog {
    pub epoch: usize,
    pub train_loss: f32,
    pub train_acc: f32,
    /// Accuracy on the held-out windows (None without any).
    pub val_acc: Option<f32>,
    pub seconds: f64,
}

/// Sees each epoch's line, with the epoch and how many there are.
pub type EpochDone<'a> = &'a mut dyn FnMut(&EpochLog, usize, usize);

/// Fine-tunes `model` (a Cnn14 or a TAL-trans) on `train`; `val` is measured after each epoch.
/// Returns the state dict under the spec's keys and the log.
pub fn fine_tune(model: &SpectrogramModel, train: &[Window], val: &[Window], cfg: &FineTune, cancel: &AtomicBool, epoch_done: EpochDone) -> Result<(SafeTensors, Vec<EpochLog>), TrainError> {
    let base = model.net.device();
    let device = base.clone().autodiff();
    let front = model.front.to_device(&device);
    // The front end on the device of the batch: training batches are on the autodiff device.
    let features = |x: Tensor<2>| if x.device().is_autodiff() { front.forward(x) } else { model.front.forward(x) };
    let setup = Setup { devices: (&device, &base), sigmoid: model.spec.output == Output::Sigmoid, classes: model.classes.len() };
    let invalid = |e: crate::models::state_dict::LayoutError| TrainError::Invalid(e.to_string());
    // Each is read onto the autodiff device, so that every parameter is trainable.
    match &model.net {
        SpectrogramNet::Cnn14(net) => {
            let keys = cnn14::Keys { encoder: model.spec.keys.audio.clone(), head: model.spec.keys.head.clone() };
            let net: Cnn14 = cnn14::import(&cnn14::export(net, &keys), &keys, model.front.cfg.n_mels, &device).map_err(invalid)?;
            let (net, log) = tune(net, &|net: &Cnn14, x| net.forward(features(x)), train, val, &setup, cfg, cancel, epoch_done)?;
            Ok((cnn14::export(&net.valid(), &keys), log))
        }
        SpectrogramNet::TalTrans(net) => {
            let prefix = &model.spec.keys.audio;
            let opts = model.spec.tal_options().map_err(TrainError::Invalid)?;
            let net: TalTrans = tal_trans::import(&tal_trans::export(net, prefix), prefix, opts, &device).map_err(invalid)?;
            let (net, log) = tune(net, &|net: &TalTrans, x| net.forward(features(x)), train, val, &setup, cfg, cancel, epoch_done)?;
            Ok((tal_trans::export(&net.valid(), prefix), log))
        }
    }
}

/// An R(2+1)D-18 and its head, trained together.
#[derive(Module, Debug)]
pub struct VideoNet {
    pub encoder: R2Plus1d,
    pub head: Linear,
    #[module(skip)]
    pub frames: usize,
    #[module(skip)]
    pub size: usize,
}

impl VideoNet {
    /// Logits of clips flattened to [B, 3 * T * S * S].
    fn logits(&self, x: Tensor<2>) -> Tensor<2> {
        let [b, _] = x.dims();
        self.head.forward(self.encoder.forward(x.reshape([b, 3, self.frames, self.size, self.size])))
    }
}

/// Fine-tunes `model` (an R(2+1)D-18 video model) on clips of its input; returns the state dict
/// in torchvision's layout under the spec's keys, and the log.
pub fn fine_tune_video(model: &VideoModel, train: &[Window], val: &[Window], cfg: &FineTune, cancel: &AtomicBool, epoch_done: EpochDone) -> Result<(SafeTensors, Vec<EpochLog>), TrainError> {
    let base = model.head.weight.val().device();
    let device = base.clone().autodiff();
    // Read onto the autodiff device, so that every parameter is trainable.
    let (mut encoder, head) = crate::models::video::import(&crate::models::video::export(&model.net, &model.head, &model.spec.keys), &model.spec, &device).map_err(TrainError::Invalid)?;
    (encoder.mean, encoder.std) = (model.net.mean, model.net.std);
    let net = VideoNet { encoder, head, frames: model.frames, size: model.size };
    let logits = |net: &VideoNet, x: Tensor<2>| net.logits(x);
    let setup = Setup { devices: (&device, &base), sigmoid: model.spec.output == Output::Sigmoid, classes: model.classes.len() };
    let (net, log) = tune(net, &logits, train, val, &setup, cfg, cancel, epoch_done)?;
    let net = net.valid();
    Ok((crate::models::video::export(&net.encoder, &net.head, &model.spec.keys), log))
}

/// Fine-tunes `model` (an audio-visual pair of a spectrogram encoder and R(2+1)D-18) on
/// windows of its waveform followed by its frames; returns one state dict holding every part,
/// the keys it is written under, and the log.
pub fn fine_tune_pair(model: &PairModel, spec_path: &std::path::Path, train: &[Window], val: &[Window], cfg: &FineTune, cancel: &AtomicBool, epoch_done: EpochDone) -> Result<(SafeTensors, SpecKeys, Vec<EpochLog>), TrainError> {
    let base = model.net.device();
    let device = base.clone().autodiff();
    // Read onto the autodiff device, so that every parameter is trainable.
    let (st, keys) = model.export().map_err(|e| TrainError::Invalid(format!("train --spec on this pair: {e}")))?;
    let spec = ModelSpec { keys: keys.clone(), ..model.spec.clone() };
    let tuned = PairModel::from_state(spec_path, spec, &st, &device).map_err(|e| TrainError::Invalid(e.to_string()))?;
    let (na, frames, size) = (model.samples, model.sampler.frames, model.sampler.size);
    // The waveform and the frames of each row; the front end on the device of the batch
    // (the tuned model's was read onto the autodiff device).
    let logits = |net: &PairNet, x: Tensor<2>| {
        let [b, n] = x.dims();
        let wave = x.clone().slice([0..b, 0..na]).reshape([b, 1, na]);
        let pixels = x.slice([0..b, na..n]).reshape([b, 3, frames * size, size]);
        let front = if wave.device().is_autodiff() { tuned.front.as_ref() } else { model.front.as_ref() };
        net.logits(front, wave, pixels)
    };
    let setup = Setup { devices: (&device, &base), sigmoid: model.sigmoid(), classes: model.classes.len() };
    let (net, log) = tune(tuned.net.clone(), &logits, train, val, &setup, cfg, cancel, epoch_done)?;
    let (st, keys) = net.valid().export(&model.spec).map_err(TrainError::Invalid)?;
    Ok((st, keys, log))
}

/// Where the loop runs and what its objective is.
struct Setup<'a> {
    /// (autodiff, inference) devices.
    devices: (&'a Device, &'a Device),
    sigmoid: bool,
    classes: usize,
}

/// Adam over `train` in shuffled batches for `cfg.epochs`, `val` measured in inference mode
/// after each epoch.
#[allow(clippy::too_many_arguments)]
fn tune<M: Module + Clone>(
    mut net: M,
    logits: &dyn Fn(&M, Tensor<2>) -> Tensor<2>,
    train: &[Window],
    val: &[Window],
    setup: &Setup,
    cfg: &FineTune,
    cancel: &AtomicBool,
    epoch_done: EpochDone,
) -> Result<(M, Vec<EpochLog>), TrainError> {
    if train.is_empty() {
        return Err(TrainError::Invalid("no training clips".into()));
    }
    let (device, base) = setup.devices;
    let mut optim: ModuleOptimizer = AdamConfig::new().with_weight_decay(Some(WeightDecayConfig::new(5e-4))).init();
    let classes = setup.classes;
    let mut rng = Rng::new(cfg.seed);
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut log = Vec::new();
    let started = std::time::Instant::now();
    for epoch in 1..=cfg.epochs {
        rng.shuffle(&mut order);
        let (mut loss_sum, mut hits) = (0.0f32, 0usize);
        for chunk in order.chunks(cfg.batch.max(1)) {
            if cancel.load(Ordering::Relaxed) {
                return Err(TrainError::Cancelled { epochs: epoch - 1 });
            }
            let windows: Vec<&Window> = chunk.iter().map(|&i| &train[i]).collect();
            let z = logits(&net, batch(&windows, device));
            let target: Vec<f32> = windows.iter().flat_map(|w| (0..classes).map(move |c| if c == w.label { 1.0 } else { 0.0 })).collect();
            let target = Tensor::<2>::from_data(TensorData::new(target, [chunk.len(), classes]), device);
            let loss = if setup.sigmoid {
                // Binary cross-entropy over the classes, from logits (stable).
                let pos = log_sigmoid(z.clone());
                let neg = log_sigmoid(z.clone().neg());
                -(target.clone() * pos + (target.neg().add_scalar(1.0)) * neg).mean()
            } else {
                -(log_softmax(z.clone(), 1) * target).sum_dim(1).mean()
            };
            let l: f32 = loss.clone().into_scalar();
            let predicted = z.argmax(1).try_to_vec_as::<i64>().unwrap_or_default();
            hits += windows.iter().zip(&predicted).filter(|(w, p)| w.label as i64 == **p).count();
            loss_sum += l * chunk.len() as f32;
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = optim.step(cfg.lr, net.clone(), grads);
        }
        let valid = net.valid();
        let val_acc = (!val.is_empty()).then(|| accuracy(&valid, logits, val, cfg.batch, base));
        let line = EpochLog { epoch, train_loss: loss_sum / train.len() as f32, train_acc: hits as f32 / train.len() as f32, val_acc, seconds: started.elapsed().as_secs_f64() };
        epoch_done(&line, epoch, cfg.epochs);
        log.push(line);
    }
    Ok((net, log))
}

/// The windows' inputs as one [B, n] batch on `device`.
fn batch(windows: &[&Window], device: &Device) -> Tensor<2> {
    let n = windows.first().map_or(0, |w| w.input.len());
    let values: Vec<f32> = windows.iter().flat_map(|w| w.input.iter().copied()).collect();
    Tensor::<2>::from_data(TensorData::new(values, [windows.len(), n]), device)
}

/// The fraction of `windows` whose top class is their label (inference mode).
fn accuracy<M>(net: &M, logits: &dyn Fn(&M, Tensor<2>) -> Tensor<2>, windows: &[Window], batch_size: usize, device: &Device) -> f32 {
    let mut hits = 0;
    for chunk in windows.chunks(batch_size.max(1)) {
        let refs: Vec<&Window> = chunk.iter().collect();
        let predicted = logits(net, batch(&refs, device)).argmax(1).try_to_vec_as::<i64>().unwrap_or_default();
        hits += chunk.iter().zip(&predicted).filter(|(w, p)| w.label as i64 == **p).count();
    }
    hits as f32 / windows.len() as f32
}
