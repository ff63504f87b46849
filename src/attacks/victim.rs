//! What an attack differentiates: McGurk's audio-visual nets (waveform and pixels in), or a
//! spectrogram model whose log-mel front end is part of the graph, so that the gradient, and
//! the perturbation, are on the waveform itself.

use burn::module::Module;
use burn::prelude::*;

use burn::nn::Linear;

use crate::models::AvNet;
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
    pub(super) fn device(&self) -> Device {
        match self {
            Self::AudioVisual(n) => n.classifier.weight.val().device(),
            Self::Spectrogram { net, .. } | Self::Features { net, .. } => net.device(),
            Self::Video { head, .. } => head.weight.val().device(),
            Self::Pair { net, .. } => net.device(),
        }
    }

    pub(super) fn classes(&self) -> usize {
        match self {
            Self::AudioVisual(n) => n.classifier.weight.val().dims()[1],
            Self::Spectrogram { net, .. } | Self::Features { net, .. } => net.classes(),
            Self::Video { head, .. } => head.weight.val().dims()[1],
            Self::Pair { net, .. } => net.classes(),
        }
    }

    /// Inference mode (running BatchNorm statistics), off autodiff.
    pub(super) fn valid(&self) -> Self {
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

    /// The range the attacked "audio" input is clipped to: a waveform's [-1, 1]; features
    /// have no natural bound (the eps ball alone holds them).
    pub(super) fn audio_range(&self) -> (f32, f32) {
        match self {
            Self::Features { .. } => (-1e30, 1e30),
            _ => (-1.0, 1.0),
        }
    }
}
