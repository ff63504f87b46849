//! The model spec (format 1): one JSON file that says what a foreign checkpoint is, so that
//! published weights load as they are: audio models that read log-mel spectrograms (`cnn14`,
//! `tal_trans`) and Tian & Xu's audio-visual models from their own checkpoints (`tian`, with a
//! `resnet18` visual encoder and a fusion).
//!
//! ```json
//! { "format": 1, "name": "panns-cnn14",
//!   "audio": { "encoder": "cnn14", "sample_rate": 32000, "samples": 320000,
//!              "frontend": { "n_fft": 1024, "win_length": 1024, "hop_length": 320, ... } },
//!   "head": "linear", "output": "sigmoid", "classes": 527,
//!   "keys": { "audio": "", "head": "fc_audioset." } }
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::frontend::FrontendConfig;

/// AudioSet's 527 class names in index order (assets/labels: source and licence).
pub const AUDIOSET: &str = include_str!("../../assets/labels/audioset_527.txt");

/// The one format this McGurk reads.
pub const SPEC_FORMAT: u32 = 1;

#[derive(Debug, thiserror::Error)]
#[error("bad model spec ({detail}): {}", path.display())]
pub struct SpecError {
    pub path: PathBuf,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub format: u32,
    pub name: String,
    pub audio: Option<AudioSpec>,
    /// The picture's encoder (with `tian` audio: Tian & Xu's audio-visual models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visual: Option<VisualSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fusion: Option<String>,
    /// The order in which Concat's classifier reads the features: ["audio", "visual"] (McGurk's)
    /// or ["visual", "audio"] (Tian & Xu's `Classifier_Concat`: image first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concat_order: Option<Vec<String>>,
    /// Which encoders' features pass a linear projection (`fusion.proj_a`, `fusion.proj_v`)
    /// before the fusion: ["audio"], ["visual"] or both, so that Sum, FiLM and the gated fusions
    /// can join features of different widths.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projections: Option<Vec<String>>,
    pub head: HeadKind,
    pub output: Output,
    pub classes: Classes,
    pub keys: SpecKeys,
    /// Where the weights are, relative to the spec's folder: one file, or one per part
    /// (`{"audio": "sound_best.pth", ...}`). Lets the window's Add model take the spec alone;
    /// `--weights` overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<SpecWeights>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SpecWeights {
    One(PathBuf),
    Parts(std::collections::BTreeMap<String, PathBuf>),
}

impl ModelSpec {
    /// The spec's own weights as (part, file), resolved against the spec's folder.
    /// The one weights file the spec names (relative to it), if it names exactly one.
    pub fn single_weights(&self, spec_path: &Path) -> Option<PathBuf> {
        match &self.weight_files(spec_path)[..] {
            [(None, w)] => Some(w.clone()),
            _ => None,
        }
    }

    pub fn weight_files(&self, spec_path: &Path) -> Vec<(Option<String>, PathBuf)> {
        let dir = spec_path.parent().unwrap_or(Path::new("."));
        match &self.weights {
            None => Vec::new(),
            Some(SpecWeights::One(f)) => vec![(None, dir.join(f))],
            Some(SpecWeights::Parts(m)) => m.iter().map(|(p, f)| (Some(p.clone()), dir.join(f))).collect(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudioSpec {
    pub encoder: Encoder,
    pub sample_rate: u32,
    /// Samples the model reads around the chosen moment (PANNs: 10 s at 32 kHz).
    pub samples: usize,
    /// The log-mel front end (spectrogram encoders; `tian` reads the waveform and has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontend: Option<FrontendSpec>,
    #[serde(default)]
    pub options: serde_json::Map<String, serde_json::Value>,
}

/// A picture encoder: torchvision's ResNet-18 on one frame of `size` x `size` (ImageNet
/// normalisation inside, so attacks stay in pixel units), its feature max- or average-pooled; or
/// torchvision's R(2+1)D-18 on `frames` frames taken `fps` apart (null: consecutive frames of
/// the source), normalised inside with `mean` / `std` (Kinetics' by default).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VisualSpec {
    pub encoder: VisualEncoder,
    pub size: usize,
    #[serde(default)]
    pub pool: super::visual::Pool,
    #[serde(default = "one_frame")]
    pub frames: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<[f32; 3]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub std: Option<[f32; 3]>,
}

fn one_frame() -> usize {
    1
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisualEncoder {
    Resnet18,
    #[serde(rename = "r2plus1d_18")]
    R2plus1d18,
}

/// The front end's fields (the rate is the audio's).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrontendSpec {
    pub n_fft: usize,
    pub win_length: usize,
    pub hop_length: usize,
    #[serde(default = "yes")]
    pub center: bool,
    pub pad_mode: super::frontend::PadKind,
    pub power: f64,
    pub n_mels: usize,
    pub f_min: f64,
    pub f_max: f64,
    pub mel_scale: crate::dsp::mel_filters::MelScale,
    pub mel_norm: crate::dsp::mel_filters::MelNorm,
    pub db: super::frontend::Decibels,
    #[serde(default)]
    pub frames: Option<usize>,
    #[serde(default)]
    pub mean: f64,
    #[serde(default = "one")]
    pub std: f64,
}

fn yes() -> bool {
    true
}

fn one() -> f64 {
    1.0
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoder {
    Cnn14,
    TalTrans,
    Tian,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeadKind {
    Linear,
    AttentionPooling,
}

/// How logits become probabilities: one class (softmax) or each class on its own (sigmoid,
/// multi-label).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Output {
    Softmax,
    Sigmoid,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Classes {
    Count(usize),
    Names(Vec<String>),
}

impl Classes {
    pub fn len(&self) -> usize {
        match self {
            Self::Count(n) => *n,
            Self::Names(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The names: given, AudioSet's for a count of 527 (AudioSet models' output order), else
    /// "class N".
    pub fn names(&self) -> Vec<String> {
        match self {
            Self::Count(527) => AUDIOSET.lines().map(str::to_string).collect(),
            Self::Count(n) => (0..*n).map(|i| format!("class {i}")).collect(),
            Self::Names(v) => v.clone(),
        }
    }
}

/// Each part's prefix in the state dict ("" for a checkpoint as published).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecKeys {
    #[serde(default)]
    pub audio: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visual: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fusion: Option<String>,
    pub head: String,
}

impl ModelSpec {
    /// Reads and checks a spec file; every error names the file and the field.
    pub fn load(path: &Path) -> Result<Self, SpecError> {
        let bad = |detail: String| SpecError { path: path.to_path_buf(), detail };
        let text = crate::files::read_regular_text(path, 1 << 20).map_err(|e| bad(e.to_string()))?;
        let spec: Self = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        spec.check().map_err(bad)?;
        Ok(spec)
    }

    /// What is wrong with the numbers, naming the field.
    pub fn check(&self) -> Result<(), String> {
        if self.format != SPEC_FORMAT {
            return Err(format!("format {} (this McGurk reads format {SPEC_FORMAT})", self.format));
        }
        self.check_weight_parts()?;
        if self.is_pair() {
            return self.check_pair();
        }
        if self.projections.is_some() {
            return Err("projections: for audio-visual models of other encoders than tian + resnet18".into());
        }
        if self.visual.as_ref().is_some_and(|v| v.encoder == VisualEncoder::R2plus1d18) {
            return self.check_video();
        }
        let Some(audio) = &self.audio else { return Err("audio: missing (the audio encoder)".into()) };
        if audio.encoder == Encoder::Tian {
            return self.check_tian();
        }
        if self.visual.is_some() || self.fusion.is_some() || self.concat_order.is_some() || self.keys.visual.is_some() || self.keys.fusion.is_some() {
            return Err("fusion / concat_order / keys.visual / keys.fusion: an audio model has no visual encoder (add \"visual\" for an audio-visual one)".into());
        }
        self.check_spectrogram_audio(audio, true)?;
        if !(1..=super::state_dict::MAX_CLASSES).contains(&self.classes.len()) {
            return Err(format!("classes: {} (1 to {})", self.classes.len(), super::state_dict::MAX_CLASSES));
        }
        Ok(())
    }

    /// A spectrogram encoder's fields: its options, its head (when it brings one), the window
    /// and the front end.
    fn check_spectrogram_audio(&self, audio: &AudioSpec, own_head: bool) -> Result<(), String> {
        match audio.encoder {
            Encoder::Cnn14 => {
                if !audio.options.is_empty() {
                    return Err(format!("audio.options: cnn14 takes none (got {})", audio.options.keys().cloned().collect::<Vec<_>>().join(", ")));
                }
                if own_head && self.head != HeadKind::Linear {
                    return Err("head: cnn14 has a linear head".into());
                }
            }
            Encoder::TalTrans => {
                self.tal_options()?;
                if own_head && (self.head != HeadKind::AttentionPooling || self.output != Output::Sigmoid) {
                    return Err("head / output: tal_trans has an attention_pooling head with sigmoid output".into());
                }
            }
            Encoder::Tian => return Err("audio.encoder: tian reads the waveform, not a spectrogram".into()),
        }
        let max = crate::media::MAX_AUDIO_SECONDS as usize * audio.sample_rate as usize;
        if audio.samples == 0 || audio.samples > max {
            return Err(format!("audio.samples: {} (1 to {max}, {} s at the spec's rate)", audio.samples, crate::media::MAX_AUDIO_SECONDS));
        }
        let front = self.frontend().map_err(|e| format!("audio.{e}"))?;
        let framed = front.stft_frames(audio.samples).saturating_mul(front.n_fft);
        if framed > super::frontend::MAX_FRAME_VALUES {
            return Err(format!(
                "audio.samples / audio.frontend.hop_length: {} samples at hop {} make {framed} framed values (at most {})",
                audio.samples,
                front.hop_length,
                super::frontend::MAX_FRAME_VALUES
            ));
        }
        let frames = front.stft_frames(audio.samples).min(front.frames.unwrap_or(usize::MAX));
        let (need_frames, need_mels) = match audio.encoder {
            Encoder::Cnn14 => (32, 32),
            _ => (4, 32),
        };
        if frames < need_frames || front.n_mels < need_mels {
            return Err(format!(
                "audio.samples / audio.frontend: {frames} frames of {} mel bins; the encoder pools them to nothing (it needs {need_frames} frames and {need_mels} bins)",
                front.n_mels
            ));
        }
        Ok(())
    }

    /// Tian & Xu's models: the raw-waveform audio net at McGurk's rate, optionally ResNet-18 and a
    /// fusion, the input sizes the networks can run.
    fn check_tian(&self) -> Result<(), String> {
        let audio = self.audio.as_ref().ok_or("audio: missing")?;
        Self::check_tian_audio(audio)?;
        if self.head != HeadKind::Linear || self.output != Output::Softmax {
            return Err("head / output: tian models have a linear classifier with softmax output".into());
        }
        let size = crate::models::InputSize::new(audio.samples, self.visual.as_ref().map_or(crate::models::Size::Full.input().pixels, |v| v.size));
        super::file::check_input(size).map_err(|e| format!("audio.samples / visual.size: {e}"))?;
        if let Some(v) = &self.visual
            && v.frames != 1
        {
            return Err(format!("visual.frames: {} (ResNet-18 reads one frame)", v.frames));
        }
        if let Some(v) = &self.visual
            && (v.fps.is_some() || v.mean.is_some() || v.std.is_some())
        {
            return Err("visual.fps / mean / std: for r2plus1d_18 (ResNet-18 normalises with ImageNet's)".into());
        }
        self.check_concat_order()?;
        if !(1..=super::state_dict::MAX_CLASSES).contains(&self.classes.len()) {
            return Err(format!("classes: {} (1 to {})", self.classes.len(), super::state_dict::MAX_CLASSES));
        }
        Ok(())
    }

    /// Tian's raw-waveform net: no front end or options, McGurk's rate.
    fn check_tian_audio(audio: &AudioSpec) -> Result<(), String> {
        if audio.frontend.is_some() || !audio.options.is_empty() {
            return Err("audio.frontend / audio.options: tian reads the waveform itself and takes neither".into());
        }
        if audio.sample_rate != crate::media::MODEL_SAMPLE_RATE {
            return Err(format!("audio.sample_rate: tian runs at {} Hz (got {})", crate::media::MODEL_SAMPLE_RATE, audio.sample_rate));
        }
        Ok(())
    }

    /// The fusion and, with Concat, the order its classifier reads the features in.
    fn check_concat_order(&self) -> Result<(), String> {
        let kind = self.fusion_kind()?;
        if let Some(order) = &self.concat_order {
            let ok = order.len() == 2 && order.iter().any(|p| p == "audio") && order.iter().any(|p| p == "visual");
            if !ok || kind != super::FusionKind::Concat {
                return Err("concat_order: [\"audio\", \"visual\"] or [\"visual\", \"audio\"], with fusion concat".into());
            }
        }
        Ok(())
    }

    /// A video model: R(2+1)D-18 and its head, no audio for now.
    fn check_video(&self) -> Result<(), String> {
        let v = self.visual.as_ref().ok_or("visual: missing")?;
        if self.fusion.is_some() || self.concat_order.is_some() {
            return Err("fusion: a video model without audio has none".into());
        }
        Self::check_r2plus1d(v)?;
        if self.head != HeadKind::Linear {
            return Err("head: r2plus1d_18 has a linear head (fc)".into());
        }
        if !(1..=super::state_dict::MAX_CLASSES).contains(&self.classes.len()) {
            return Err(format!("classes: {} (1 to {})", self.classes.len(), super::state_dict::MAX_CLASSES));
        }
        Ok(())
    }

    /// R(2+1)D-18's fields: frames, size, fps, normalisation.
    fn check_r2plus1d(v: &VisualSpec) -> Result<(), String> {
        if !(1..=64).contains(&v.frames) {
            return Err(format!("visual.frames: {} (1 to 64)", v.frames));
        }
        if !(16..=512).contains(&v.size) {
            return Err(format!("visual.size: {} (16 to 512)", v.size));
        }
        if let Some(fps) = v.fps
            && !(fps.is_finite() && fps > 0.0 && fps <= 1000.0)
        {
            return Err(format!("visual.fps: {fps} (above 0, at most 1000, or null for the source's frames)"));
        }
        if let Some(s) = v.std
            && s.iter().any(|x| !(x.is_finite() && *x > 0.0))
        {
            return Err(format!("visual.std: {s:?} (positive)"));
        }
        Ok(())
    }

    /// An audio-visual model of any audio encoder and any visual encoder other than Tian &
    /// Xu's own pair: each encoder's fields, the fusion, its projections, a linear head.
    fn check_pair(&self) -> Result<(), String> {
        let (Some(audio), Some(v)) = (&self.audio, &self.visual) else { return Err("audio / visual: an audio-visual model needs both".into()) };
        if audio.encoder == Encoder::Tian {
            Self::check_tian_audio(audio)?;
            let size = crate::models::InputSize::new(audio.samples, crate::models::Size::Small.input().pixels);
            super::file::check_input(size).map_err(|e| format!("audio.samples: {e}"))?;
        } else {
            self.check_spectrogram_audio(audio, false)?;
        }
        match v.encoder {
            VisualEncoder::R2plus1d18 => Self::check_r2plus1d(v)?,
            VisualEncoder::Resnet18 => {
                if v.frames != 1 || v.fps.is_some() || v.mean.is_some() || v.std.is_some() {
                    return Err("visual.frames / fps / mean / std: ResNet-18 reads one frame, normalised with ImageNet's statistics".into());
                }
                if !(32..=512).contains(&v.size) {
                    return Err(format!("visual.size: {} (32 to 512)", v.size));
                }
            }
        }
        self.check_concat_order()?;
        if let Some(p) = &self.projections
            && (p.is_empty() || p.len() > 2 || p.iter().any(|x| x != "audio" && x != "visual") || (p.len() == 2 && p[0] == p[1]))
        {
            return Err(format!("projections: {p:?} (\"audio\", \"visual\" or both)"));
        }
        if self.head != HeadKind::Linear {
            return Err("head: an audio-visual model has a linear classifier".into());
        }
        if !(1..=super::state_dict::MAX_CLASSES).contains(&self.classes.len()) {
            return Err(format!("classes: {} (1 to {})", self.classes.len(), super::state_dict::MAX_CLASSES));
        }
        Ok(())
    }

    /// Whether this spec describes a video model (R(2+1)D-18 on frame sequences, no audio).
    pub fn is_video(&self) -> bool {
        self.audio.is_none() && self.visual.as_ref().is_some_and(|v| v.encoder == VisualEncoder::R2plus1d18)
    }

    /// Whether this spec describes an audio-visual model of two encoders other than Tian &
    /// Xu's own pair (the waveform net and ResNet-18 on one frame), for instance Cnn14 with
    /// R(2+1)D-18.
    pub fn is_pair(&self) -> bool {
        match (&self.audio, &self.visual) {
            (Some(a), Some(v)) => !(a.encoder == Encoder::Tian && v.encoder == VisualEncoder::Resnet18),
            _ => false,
        }
    }

    /// Whether the projection of `part` ("audio" or "visual") is in the model.
    pub fn projects(&self, part: &str) -> bool {
        self.projections.as_ref().is_some_and(|p| p.iter().any(|x| x == part))
    }

    /// The parts a spec's `weights` may name.
    fn check_weight_parts(&self) -> Result<(), String> {
        if let Some(SpecWeights::Parts(m)) = &self.weights
            && let Some(p) = m.keys().find(|p| !super::tian_spec::PARTS.contains(&p.as_str()))
        {
            return Err(format!("weights: unknown part '{p}' (audio, visual, fusion, head)"));
        }
        Ok(())
    }

    /// The fusion a tian spec asks for: its `fusion` with both encoders, else the one encoder.
    pub fn fusion_kind(&self) -> Result<super::FusionKind, String> {
        use super::FusionKind as K;
        match (&self.visual, self.fusion.as_deref()) {
            (None, None) => Ok(K::AudioOnly),
            (None, Some(f)) => Err(format!("fusion: '{f}' needs a visual encoder")),
            (Some(_), None) => Err("fusion: missing (sum, concat, film, gated_sum or gated_concat)".into()),
            (Some(_), Some(f)) => match f {
                "sum" => Ok(K::Sum),
                "concat" => Ok(K::Concat),
                "film" => Ok(K::Film),
                "gated_sum" => Ok(K::GatedSum),
                "gated_concat" => Ok(K::GatedConcat),
                other => Err(format!("fusion: '{other}' (sum, concat, film, gated_sum or gated_concat)")),
            },
        }
    }

    /// TAL-trans' options (heads, transformer passes, layer-norm epsilon), checked.
    pub fn tal_options(&self) -> Result<super::tal_trans::Options, String> {
        let options = self.audio.as_ref().map(|a| a.options.clone()).unwrap_or_default();
        serde_json::from_value(serde_json::Value::Object(options)).map_err(|e| format!("audio.options: {e}"))
    }

    /// The front end's configuration, checked.
    pub fn frontend(&self) -> Result<FrontendConfig, String> {
        let a = self.audio.as_ref().ok_or("audio: missing")?;
        let f = a.frontend.as_ref().ok_or("frontend: missing (spectrogram encoders need one)")?;
        let cfg = FrontendConfig {
            sample_rate: a.sample_rate,
            n_fft: f.n_fft,
            win_length: f.win_length,
            hop_length: f.hop_length,
            center: f.center,
            pad_mode: f.pad_mode,
            power: f.power,
            n_mels: f.n_mels,
            f_min: f.f_min,
            f_max: f.f_max,
            mel_scale: f.mel_scale,
            mel_norm: f.mel_norm,
            db: f.db,
            frames: f.frames,
            mean: f.mean,
            std: f.std,
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_527_class_model_gets_audiosets_names() {
        let names = Classes::Count(527).names();
        assert_eq!(names.len(), 527);
        assert_eq!((names[0].as_str(), names[74].as_str(), names[137].as_str(), names[526].as_str()), ("Speech", "Dog", "Music", "Field recording"));
        assert_eq!(Classes::Count(3).names(), ["class 0", "class 1", "class 2"]);
    }
}
