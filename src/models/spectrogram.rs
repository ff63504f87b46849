//! Audio models that read log-mel spectrograms, loaded from a spec and a foreign checkpoint:
//! the front end (`frontend`), the encoder and its head (today `cnn14`). The waveform goes in,
//! so attacks and gradients reach the sound itself.

use std::path::Path;

use burn::prelude::*;
use burn::tensor::activation::{sigmoid, softmax};

use super::cnn14::{self, Cnn14};
use super::tal_trans::{self, TalTrans};
use super::frontend::LogMel;
use super::safetensors::SafeTensors;
use super::spec::{Encoder, ModelSpec, Output, SpecError};
use crate::media::Clip;

pub struct SpectrogramModel {
    pub spec: ModelSpec,
    pub front: LogMel,
    pub net: SpectrogramNet,
    pub classes: Vec<String>,
}

/// The encoder and head behind the front end.
#[derive(Clone, Debug)]
pub enum SpectrogramNet {
    Cnn14(Cnn14),
    TalTrans(TalTrans),
}

impl SpectrogramNet {
    /// Logits of log-mel features [B, 1, T, M].
    pub fn forward(&self, features: Tensor<4>) -> Tensor<2> {
        match self {
            Self::Cnn14(n) => n.forward(features),
            Self::TalTrans(n) => n.forward(features),
        }
    }

    pub fn classes(&self) -> usize {
        self.head_weight().dims()[1]
    }

    pub fn device(&self) -> Device {
        self.head_weight().device()
    }

    fn head_weight(&self) -> Tensor<2> {
        match self {
            Self::Cnn14(n) => n.head.weight.val(),
            Self::TalTrans(n) => n.fc_prob.weight.val(),
        }
    }

    /// Inference mode, off autodiff.
    pub fn valid(&self) -> Self {
        match self {
            Self::Cnn14(n) => Self::Cnn14(n.valid()),
            Self::TalTrans(n) => Self::TalTrans(n.valid()),
        }
    }

    /// On the autodiff `device`, parameters without gradients.
    pub fn fork_no_grad(&self, device: &Device) -> Self {
        match self {
            Self::Cnn14(n) => Self::Cnn14(n.clone().fork(device).no_grad()),
            Self::TalTrans(n) => Self::TalTrans(n.clone().fork(device).no_grad()),
        }
    }
}

/// One prediction: logits, probabilities (softmax or per-class sigmoid) and what was done to
/// the input.
pub struct SpectrogramPrediction {
    pub logits: Vec<f32>,
    pub probs: Vec<f32>,
    pub notes: Vec<String>,
}

fn bad(path: &Path, detail: impl Into<String>) -> SpecError {
    SpecError { path: path.to_path_buf(), detail: detail.into() }
}

/// The state dict in `weights`: safetensors or a PyTorch checkpoint (`torch.save`'s zip format:
/// a state dict, or a dict holding one under `model` or `state_dict`), keys as saved
/// (DataParallel's `module.` dropped).
pub fn read_weights(weights: &Path) -> Result<SafeTensors, SpecError> {
    let bytes = crate::files::read_regular(weights, super::file::MAX_MODEL_BYTES).map_err(|e| bad(weights, format!("cannot read: {e}")))?;
    let mut st = if super::pth::looks_like(bytes.as_slice()) {
        super::pth::read(&bytes).map_err(|e| bad(weights, format!("PyTorch checkpoint: {e}")))?
    } else {
        SafeTensors::parse(&bytes).map_err(|e| bad(weights, e.to_string()))?
    };
    st.drop_data_parallel_prefix();
    Ok(st)
}

impl SpectrogramModel {
    /// The model `spec` describes, with the weights of `weights`.
    pub fn load(spec_path: &Path, weights: &Path, device: &Device) -> Result<Self, SpecError> {
        let spec = ModelSpec::load(spec_path)?;
        if spec.visual.is_some() {
            return Err(bad(spec_path, "visual: an audio-visual model (predict and attack read it; this reads audio models)"));
        }
        let cfg = spec.frontend().map_err(|e| bad(spec_path, format!("audio.{e}")))?;
        let front = LogMel::new(cfg, device).map_err(|e| bad(spec_path, e))?;
        let st = read_weights(weights)?;
        let audio = spec.audio.as_ref().ok_or_else(|| bad(spec_path, "audio: missing"))?;
        let layout = |e: super::state_dict::LayoutError| bad(weights, e.to_string());
        let net = match audio.encoder {
            Encoder::Cnn14 => {
                let keys = cnn14::Keys { encoder: spec.keys.audio.clone(), head: spec.keys.head.clone() };
                SpectrogramNet::Cnn14(cnn14::import(&st, &keys, front.cfg.n_mels, device).map_err(layout)?)
            }
            Encoder::TalTrans => {
                let opts = spec.tal_options().map_err(|e| bad(spec_path, e))?;
                let net = tal_trans::import(&st, &spec.keys.audio, opts, device).map_err(layout)?;
                let embedding = net.fc_prob.weight.dims()[0];
                // Five halvings of the mel axis, and the last block's channels, make the embedding.
                let made = (front.cfg.n_mels >> 5) * (embedding / 2);
                if made != embedding {
                    return Err(bad(spec_path, format!("audio.frontend.n_mels: {} mel bins make {made} features per frame; the weights' embedding is {embedding} (64 bins: 2 x {} channels)", front.cfg.n_mels, embedding / 2)));
                }
                SpectrogramNet::TalTrans(net)
            }
            Encoder::Tian => return Err(bad(spec_path, "audio.encoder: tian is not read from specs yet")),
        };
        let outputs = net.classes();
        if outputs != spec.classes.len() {
            return Err(bad(spec_path, format!("classes: {} but the head of {} has {outputs} outputs", spec.classes.len(), weights.display())));
        }
        Ok(Self { classes: spec.classes.names(), spec, front, net })
    }

    pub fn sample_rate(&self) -> u32 {
        self.front.cfg.sample_rate
    }

    pub fn samples(&self) -> usize {
        self.spec.audio.as_ref().map_or(0, |a| a.samples)
    }

    /// The normalised features [frames x mels] of one window, and the number of frames.
    pub fn features(&self, wave: Vec<f32>, device: &Device) -> Result<(Vec<f32>, usize), String> {
        let n = wave.len();
        let f = self.front.forward(Tensor::from_data(TensorData::new(wave, [1, n]), device));
        let frames = f.dims()[2];
        Ok((f.try_to_vec_as::<f32>().map_err(|e| format!("{e:?}"))?, frames))
    }

    /// Logits of waveforms [B, samples] (on the model's device).
    pub fn logits(&self, wave: Tensor<2>) -> Tensor<2> {
        self.net.forward(self.front.forward(wave))
    }

    pub fn probs(&self, logits: Tensor<2>) -> Tensor<2> {
        match self.spec.output {
            Output::Softmax => softmax(logits, 1),
            Output::Sigmoid => sigmoid(logits),
        }
    }

    /// The model's window of `clip` (its audio at the model's rate) centred at `time_s`.
    pub fn window(&self, clip: &Clip, time_s: f64) -> Result<(Vec<f32>, Vec<String>), String> {
        audio_window(clip, self.sample_rate(), self.samples(), time_s)
    }

    pub fn predict(&self, clip: &Clip, time_s: f64, device: &Device) -> Result<SpectrogramPrediction, String> {
        let (wave, notes) = self.window(clip, time_s)?;
        let n = wave.len();
        let logits = self.logits(Tensor::from_data(TensorData::new(wave, [1, n]), device));
        let probs = self.probs(logits.clone());
        let read = |t: Tensor<2>| t.try_to_vec_as::<f32>().map_err(|e| format!("{e:?}"));
        let (logits, probs) = (read(logits)?, read(probs)?);
        if let Some(i) = logits.iter().position(|v| !v.is_finite()) {
            return Err(format!("the model gives a non-finite logit ({}) for class {i}", logits[i]));
        }
        Ok(SpectrogramPrediction { logits, probs, notes })
    }
}

/// `samples` of `clip`'s audio (at `rate`) centred at `time_s`, inside the clip; a shorter clip
/// is zero-padded, with a note.
pub fn audio_window(clip: &Clip, rate: u32, samples: usize, time_s: f64) -> Result<(Vec<f32>, Vec<String>), String> {
    let audio = clip.audio.as_ref().ok_or_else(|| format!("{} has no audio", clip.title()))?;
    if audio.sample_rate != rate {
        return Err(format!("the clip's audio is at {} Hz, the model reads {rate} Hz", audio.sample_rate));
    }
    let n = samples;
    let mut notes = Vec::new();
    if audio.samples.len() < n {
        let r = f64::from(rate);
        notes.push(format!("the clip's {:.2} s are shorter than the model's {:.2} s: zero-padded", audio.samples.len() as f64 / r, n as f64 / r));
    }
    let start = crate::dsp::window::start(time_s, rate, n).clamp(0, audio.samples.len().saturating_sub(n) as i64);
    Ok((crate::dsp::window::extract(&audio.samples, start, n), notes))
}
