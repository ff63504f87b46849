//! Fine-tuning a Cnn14 read from a spec (a published PANNs checkpoint) on a dataset: the
//! waveform windows at the model's rate go through its fixed log-mel front end, Adam updates
//! every weight, BatchNorm learns from the batches; the result is a state dict in the
//! checkpoint's own key layout, so the same spec reads it back.

use std::sync::atomic::{AtomicBool, Ordering};

use burn::module::Module;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation::{log_sigmoid, log_softmax};
use serde::Serialize;

use super::TrainError;
use crate::data::rng::Rng;
use crate::models::cnn14::{self, Cnn14};
use crate::models::safetensors::SafeTensors;
use crate::models::spec::Output;
use crate::models::spectrogram::{SpectrogramModel, SpectrogramNet};

/// One clip: its window at the model's rate and its class (the model's index).
pub struct Window {
    pub wave: Vec<f32>,
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

/// Fine-tunes `model` (a Cnn14) on `train`; `val` is measured after each epoch. Returns the
/// state dict under the spec's keys and the log. `epoch_done` sees each epoch's line.
pub fn fine_tune(model: &SpectrogramModel, train: &[Window], val: &[Window], cfg: &FineTune, cancel: &AtomicBool, epoch_done: &mut dyn FnMut(&EpochLog, usize, usize)) -> Result<(SafeTensors, Vec<EpochLog>), TrainError> {
    let SpectrogramNet::Cnn14(net) = &model.net else {
        return Err(TrainError::Invalid("train --spec fine-tunes Cnn14 models (TAL-trans is not built yet)".into()));
    };
    if train.is_empty() {
        return Err(TrainError::Invalid("no training clips".into()));
    }
    let base = net.head.weight.val().device();
    let device = base.clone().autodiff();
    let front = model.front.to_device(&device);
    // Read onto the autodiff device, so that every parameter is trainable.
    let keys = cnn14::Keys { encoder: model.spec.keys.audio.clone(), head: model.spec.keys.head.clone() };
    let mut net: Cnn14 = cnn14::import(&cnn14::export(net, &keys), &keys, model.front.cfg.n_mels, &device).map_err(|e| TrainError::Invalid(e.to_string()))?;
    let mut optim: ModuleOptimizer = AdamConfig::new().with_weight_decay(Some(WeightDecayConfig::new(5e-4))).init();
    let sigmoid = model.spec.output == Output::Sigmoid;
    let classes = model.classes.len();
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
            let n = train[chunk[0]].wave.len();
            let wave: Vec<f32> = chunk.iter().flat_map(|&i| train[i].wave.iter().copied()).collect();
            let x = Tensor::<2>::from_data(TensorData::new(wave, [chunk.len(), n]), &device);
            let logits = net.forward(front.forward(x));
            let target: Vec<f32> = chunk.iter().flat_map(|&i| (0..classes).map(move |c| if c == train[i].label { 1.0 } else { 0.0 })).collect();
            let target = Tensor::<2>::from_data(TensorData::new(target, [chunk.len(), classes]), &device);
            let loss = if sigmoid {
                // Binary cross-entropy over the classes, from logits (stable).
                let pos = log_sigmoid(logits.clone());
                let neg = log_sigmoid(logits.clone().neg());
                -(target.clone() * pos + (target.neg().add_scalar(1.0)) * neg).mean()
            } else {
                -(log_softmax(logits.clone(), 1) * target).sum_dim(1).mean()
            };
            let l: f32 = loss.clone().into_scalar();
            let predicted = logits.argmax(1).try_to_vec_as::<i64>().unwrap_or_default();
            hits += chunk.iter().zip(&predicted).filter(|(i, p)| train[**i].label as i64 == **p).count();
            loss_sum += l * chunk.len() as f32;
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = optim.step(cfg.lr, net.clone(), grads);
        }
        let valid = net.valid();
        let val_acc = (!val.is_empty()).then(|| accuracy(&valid, &model.front, val, cfg.batch));
        let line = EpochLog { epoch, train_loss: loss_sum / train.len() as f32, train_acc: hits as f32 / train.len() as f32, val_acc, seconds: started.elapsed().as_secs_f64() };
        epoch_done(&line, epoch, cfg.epochs);
        log.push(line);
    }
    Ok((cnn14::export(&net.valid(), &keys), log))
}

/// The fraction of `windows` whose top class is their label (inference mode).
fn accuracy(net: &Cnn14, front: &crate::models::frontend::LogMel, windows: &[Window], batch: usize) -> f32 {
    let device = net.head.weight.val().device();
    let mut hits = 0;
    for chunk in windows.chunks(batch.max(1)) {
        let n = chunk[0].wave.len();
        let wave: Vec<f32> = chunk.iter().flat_map(|w| w.wave.iter().copied()).collect();
        let x = Tensor::<2>::from_data(TensorData::new(wave, [chunk.len(), n]), &device);
        let predicted = net.forward(front.forward(x)).argmax(1).try_to_vec_as::<i64>().unwrap_or_default();
        hits += chunk.iter().zip(&predicted).filter(|(w, p)| w.label as i64 == **p).count();
    }
    hits as f32 / windows.len() as f32
}
