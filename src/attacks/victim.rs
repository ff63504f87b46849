//! What an attack differentiates: McGurk's audio-visual nets (waveform and pixels in), or a
//! spectrogram model whose log-mel front end is part of the graph, so that the gradient, and
//! the perturbation, are on the waveform itself.

use burn::module::Module;
use burn::prelude::*;

use burn::nn::Linear;

use crate::models::{AvNet, Features};
use crate::models::pair::{PairModel, PairNet};
use crate::models::r2plus1d::R2Plus1d;
use crate::models::video::VideoModel;
use crate::models::frontend::LogMel;
use crate::models::spectrogram::{SpectrogramModel, SpectrogramNet};

#[derive(Clone, Debug)]
pub enum Victim {
    AudioVisual(AvNet),
    /// Audio only: the attack's picture is a 1x1 placeholder the model never reads.
    Spectrogram { front: LogMel, net: SpectrogramNet },
    /// A spectrogram model attacked on its normalised features (Li et al.'s setting): the
    /// "waveform" of the examples is the flattened [frames, mels] features.
    Features { net: SpectrogramNet, frames: usize, mels: usize },
    /// A video model: the examples' pictures are clips of `frames` frames ([3, T, S, S]
    /// flattened, handed over as [B, 3, T*S, S]); their waveform is a placeholder it never reads.
    Video { net: R2Plus1d, head: Linear, frames: usize },
    /// An audio-visual model of any two encoders: the waveform (through the front end for a
    /// spectrogram encoder) and the picture or the T frames ([B, 3, T*S, S]).
    Pair { front: Option<LogMel>, net: PairNet },
}

impl Victim {
    pub fn spectrogram(m: &SpectrogramModel) -> Self {
        Self::Spectrogram { front: m.front.clone(), net: m.net.clone() }
    }

    /// `m` attacked on its normalised features of `frames` frames.
    pub fn features(m: &SpectrogramModel, frames: usize) -> Self {
        Self::Features { net: m.net.clone(), frames, mels: m.front.cfg.n_mels }
    }

    pub fn video(m: &VideoModel) -> Self {
        Self::Video { net: m.net.clone(), head: m.head.clone(), frames: m.frames }
    }

    pub fn pair(m: &PairModel) -> Self {
        Self::Pair { front: m.front.clone(), net: m.net.clone() }
    }

    /// The device the weights live on.
    pub fn device(&self) -> Device {
        match self {
            Self::AudioVisual(n) => n.classifier.weight.val().device(),
            Self::Spectrogram { net, .. } | Self::Features { net, .. } => net.device(),
            Self::Video { head, .. } => head.weight.val().device(),
            Self::Pair { net, .. } => net.device(),
        }
    }

    pub fn classes(&self) -> usize {
        match self {
            Self::AudioVisual(n) => n.classifier.weight.val().dims()[1],
            Self::Spectrogram { net, .. } | Self::Features { net, .. } => net.classes(),
            Self::Video { head, .. } => head.weight.val().dims()[1],
            Self::Pair { net, .. } => net.classes(),
        }
    }

    /// Inference mode (running BatchNorm statistics), off autodiff.
    pub fn valid(&self) -> Self {
        match self {
            Self::AudioVisual(n) => Self::AudioVisual(n.valid()),
            Self::Spectrogram { front, net } => Self::Spectrogram { front: front.clone(), net: net.valid() },
            Self::Features { net, frames, mels } => Self::Features { net: net.valid(), frames: *frames, mels: *mels },
            Self::Video { net, head, frames } => Self::Video { net: net.valid(), head: head.valid(), frames: *frames },
            Self::Pair { front, net } => Self::Pair { front: front.clone(), net: net.valid() },
        }
    }

    /// This (inference-mode) model on the autodiff `device`, its parameters without gradients:
    /// only the inputs' gradients are computed.
    pub(super) fn fork_no_grad(&self, device: &Device) -> Self {
        match self {
            Self::AudioVisual(n) => Self::AudioVisual(n.clone().fork(device).no_grad()),
            Self::Spectrogram { front, net } => Self::Spectrogram { front: front.to_device(device), net: net.fork_no_grad(device) },
            Self::Features { net, frames, mels } => Self::Features { net: net.fork_no_grad(device), frames: *frames, mels: *mels },
            Self::Video { net, head, frames } => Self::Video { net: net.clone().fork(device).no_grad(), head: head.clone().fork(device).no_grad(), frames: *frames },
            Self::Pair { front, net } => Self::Pair { front: front.as_ref().map(|f| f.to_device(device)), net: net.clone().fork(device).no_grad() },
        }
    }

    /// For models with two encoders: the logits, computed from the encoders' features cut off
    /// their graphs ([`Split`]), so that each encoder's backward pass can run on its own.
    pub(super) fn logits_split(&self, wave: Tensor<3>, pixels: Tensor<4>) -> Option<(Tensor<2>, Split)> {
        let (fa, fv) = match self {
            Self::AudioVisual(n) => match n.encode(wave, pixels) {
                (Some(fa), Some(fv)) => (fa, fv),
                _ => return None,
            },
            Self::Pair { front, net } => rayon::join(|| net.audio_feature(front.as_ref(), wave), || net.visual_feature(pixels)),
            _ => return None,
        };
        let (la, lv) = (fa.clone().detach().require_grad(), fv.clone().detach().require_grad());
        let logits = match self {
            Self::AudioVisual(n) => n.head(Some(la.clone()), Some(lv.clone())),
            Self::Pair { net, .. } => net.head(la.clone(), lv.clone()),
            _ => return None,
        };
        Some((logits, Split { fa, fv, la, lv }))
    }

    /// Logits of waveforms [B, 1, N] and pictures [B, 3, S, S].
    pub(super) fn logits(&self, wave: Tensor<3>, pixels: Tensor<4>) -> Tensor<2> {
        match self {
            Self::AudioVisual(n) => n.forward(wave, pixels).logits,
            Self::Spectrogram { front, net } => net.forward(front.forward(wave.squeeze_dim(1))),
            Self::Features { net, frames, mels } => {
                let b = wave.dims()[0];
                net.forward(wave.reshape([b, 1, *frames, *mels]))
            }
            Self::Video { net, head, frames } => {
                let [b, c, ts, s] = pixels.dims();
                head.forward(net.forward(pixels.reshape([b, c, *frames, ts / *frames, s])))
            }
            Self::Pair { front, net } => net.logits(front.as_ref(), wave, pixels),
        }
    }

    /// The features of one forward pass (inference mode): each encoder's for audio-visual
    /// models, the one the head reads (`fused`: a spectrogram model's embedding, for TAL-trans
    /// its frames averaged over time; a video model's pooled feature), and the logits.
    pub fn forward_features(&self, wave: Tensor<3>, pixels: Tensor<4>) -> Features {
        match self {
            Self::AudioVisual(n) => n.features(wave, pixels),
            Self::Pair { front, net } => {
                let (fa, fv) = (net.audio_feature(front.as_ref(), wave), net.visual_feature(pixels));
                let fused = net.fusion.forward(Some(fa.clone()), Some(fv.clone()));
                Features { logits: net.classifier.forward(fused.clone()), fa: Some(fa), fv: Some(fv), fused }
            }
            Self::Video { net, head, frames } => {
                let [b, c, ts, s] = pixels.dims();
                let fused = net.forward(pixels.reshape([b, c, *frames, ts / *frames, s]));
                Features { logits: head.forward(fused.clone()), fa: None, fv: None, fused }
            }
            Self::Spectrogram { front, net } => spectrogram_features(net, front.forward(wave.squeeze_dim(1))),
            Self::Features { net, frames, mels } => {
                let b = wave.dims()[0];
                spectrogram_features(net, wave.reshape([b, 1, *frames, *mels]))
            }
        }
    }

    /// The head on rows of the feature it reads ([k, dim] -> logits), where the head is a
    /// function of that one feature (not TAL-trans' attention over frames).
    pub fn head(&self, rows: Tensor<2>) -> Option<Tensor<2>> {
        match self {
            Self::AudioVisual(n) => Some(n.classifier.forward(rows)),
            Self::Pair { net, .. } => Some(net.classifier.forward(rows)),
            Self::Video { head, .. } => Some(head.forward(rows)),
            Self::Spectrogram { net: SpectrogramNet::Cnn14(n), .. } | Self::Features { net: SpectrogramNet::Cnn14(n), .. } => Some(n.head.forward(rows)),
            Self::Spectrogram { .. } | Self::Features { .. } => None,
        }
    }

    /// The range the attacked "audio" input is clipped to: a waveform's [-1, 1]; features
    /// have no natural bound (the eps ball alone holds them).
    pub(super) fn audio_range(&self) -> (f32, f32) {
        match self {
            Self::Features { .. } => (-1e30, 1e30),
            _ => (-1.0, 1.0),
        }
    }
}

/// A spectrogram model's embedding (Cnn14's `fc1`; TAL-trans' frames averaged over time) and
/// logits of log-mel features [B, 1, T, M].
fn spectrogram_features(net: &SpectrogramNet, features: Tensor<4>) -> Features {
    let (fused, logits) = match net {
        SpectrogramNet::Cnn14(n) => {
            let e = n.embed(features);
            (e.clone(), n.head.forward(e))
        }
        SpectrogramNet::TalTrans(n) => (n.embed(features.clone()), n.forward(features)),
    };
    Features { fa: None, fv: None, fused, logits }
}

/// Two encoders' features on their own graphs (`fa`, `fv`) and the leaves the head was run
/// from (`la`, `lv`): the head's backward pass stops at the leaves, and each encoder's runs
/// from there (both at once on the CPU backend's thread pool: one graph would run them in turn).
pub(super) struct Split {
    pub fa: Tensor<2>,
    pub fv: Tensor<2>,
    pub la: Tensor<2>,
    pub lv: Tensor<2>,
}
