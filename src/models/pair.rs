//! Audio-visual models of any audio encoder (Tian's waveform net, Cnn14, TAL-trans) and any
//! visual encoder (ResNet-18 on one frame, R(2+1)D-18 on T frames), joined by one of the five
//! fusions and a linear classifier. Features of different widths meet through optional linear
//! projections (`fusion.proj_a`, `fusion.proj_v`); Concat joins any widths. The waveform and
//! the pixels go in, so attacks reach the sound and every frame.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{sigmoid, softmax};

use super::cnn14::{self, Cnn14};
use super::frontend::LogMel;
use super::r2plus1d::{self, R2Plus1d};
use super::safetensors::SafeTensors;
use super::spec::{Encoder, ModelSpec, Output, SpecError, VisualEncoder};
use super::spectrogram::{audio_window, read_weights};
use super::state_dict::Reader;
use super::tal_trans::{self, TalTrans};
use super::video::FrameSampler;
use super::{AudioNet, Fusion, FusionKind, VisualNet};
use crate::media::Clip;

/// The network: exactly one audio and one visual encoder are present.
#[derive(Module, Debug)]
pub struct PairNet {
    pub tian: Option<AudioNet>,
    pub cnn14: Option<Cnn14>,
    pub tal: Option<TalTrans>,
    pub resnet: Option<VisualNet>,
    pub r2plus1d: Option<R2Plus1d>,
    pub proj_a: Option<Linear>,
    pub proj_v: Option<Linear>,
    pub fusion: Fusion,
    pub classifier: Linear,
    /// Frames of the clip the visual encoder reads (1 for ResNet-18).
    #[module(skip)]
    pub frames: usize,
}

impl PairNet {
    /// f_a of waveforms [B, 1, N] (through `front` for spectrogram encoders), projected.
    pub fn audio_feature(&self, front: Option<&LogMel>, wave: Tensor<3>) -> Tensor<2> {
        let f = match (&self.tian, &self.cnn14, &self.tal, front) {
            (Some(n), ..) => n.forward(wave),
            (_, Some(n), _, Some(front)) => n.embed(front.forward(wave.squeeze_dim(1))),
            (_, _, Some(n), Some(front)) => n.embed(front.forward(wave.squeeze_dim(1))),
            // `load` builds an audio encoder and, for spectrogram encoders, the front end.
            _ => panic!("an audio-visual model without its audio encoder or front end"),
        };
        match &self.proj_a {
            Some(p) => p.forward(f),
            None => f,
        }
    }

    /// f_v of pictures [B, 3, S, S] or clips [B, 3, T*S, S] (T frames stacked), projected.
    pub fn visual_feature(&self, pixels: Tensor<4>) -> Tensor<2> {
        let f = match (&self.resnet, &self.r2plus1d) {
            (Some(n), _) => n.pool_map(n.forward_map(pixels)),
            (_, Some(n)) => {
                let [b, c, ts, s] = pixels.dims();
                n.forward(pixels.reshape([b, c, self.frames, ts / self.frames, s]))
            }
            _ => panic!("an audio-visual model without its visual encoder"),
        };
        match &self.proj_v {
            Some(p) => p.forward(f),
            None => f,
        }
    }

    /// Tian's localization map [B, T', h, w]: the cosine of f_a with the last visual map at
    /// each position (and time step), the map projected like f_v; None when f_a and the map's
    /// channels differ in width.
    pub fn localization(&self, front: Option<&LogMel>, wave: Tensor<3>, pixels: Tensor<4>) -> Option<Tensor<4>> {
        let fa = self.audio_feature(front, wave);
        // [B, C, T', h, w]
        let map: Tensor<5> = match (&self.resnet, &self.r2plus1d) {
            (Some(n), _) => n.forward_map(pixels).unsqueeze_dim::<5>(2),
            (_, Some(n)) => {
                let [b, c, ts, s] = pixels.dims();
                n.forward_map(pixels.reshape([b, c, self.frames, ts / self.frames, s]))
            }
            _ => return None,
        };
        // Projected position by position, as f_v is: the linear acts on the channels.
        let map = match &self.proj_v {
            Some(p) => p.forward(map.permute([0, 2, 3, 4, 1])).permute([0, 4, 1, 2, 3]),
            None => map,
        };
        let [b, c, t, h, w] = map.dims();
        if fa.dims()[1] != c {
            return None;
        }
        // The time steps stacked over the height: one map for Tian's cosine.
        Some(super::cosine_map(fa, map.reshape([b, c, t * h, w])).reshape([b, t, h, w]))
    }

    /// Logits [B, classes].
    pub fn logits(&self, front: Option<&LogMel>, wave: Tensor<3>, pixels: Tensor<4>) -> Tensor<2> {
        let (fa, fv) = (self.audio_feature(front, wave), self.visual_feature(pixels));
        self.head(fa, fv)
    }

    /// Logits from the two encoders' features.
    pub fn head(&self, fa: Tensor<2>, fv: Tensor<2>) -> Tensor<2> {
        self.classifier.forward(self.fusion.forward(Some(fa), Some(fv)))
    }

    /// Every part in one state dict under the spec's `keys` (a part without a prefix gets its
    /// name as one: one file holds them all), and those keys. Spectrogram encoders (Cnn14,
    /// TAL-trans) and R(2+1)D-18 are written in their checkpoints' layouts; the head in the
    /// column order the spec names.
    pub fn export(&self, spec: &ModelSpec) -> Result<(SafeTensors, super::spec::SpecKeys), String> {
        let mut keys = spec.keys.clone();
        let or = |k: &str, default: &str| if k.is_empty() { default.to_string() } else { k.to_string() };
        keys.audio = or(&keys.audio, "audio.");
        keys.visual = Some(or(keys.visual.as_deref().unwrap_or_default(), "visual."));
        keys.fusion = Some(or(keys.fusion.as_deref().unwrap_or_default(), "fusion."));
        keys.head = or(&keys.head, "classifier.");
        let mut w = super::state_dict::Writer::default();
        match (&self.cnn14, &self.tal) {
            (Some(n), _) => cnn14::export_encoder(n, &keys.audio, &mut w),
            (_, Some(n)) => tal_trans::export_encoder(n, &keys.audio, &mut w),
            _ => return Err("pairs are written back with a Cnn14 or TAL-trans audio encoder; this one has Tian's waveform net (McGurk's own training takes Tian & Xu's pair with ResNet-18)".into()),
        }
        match &self.r2plus1d {
            Some(n) => r2plus1d::export(n, keys.visual.as_deref().unwrap_or_default(), &mut w),
            None => return Err("pairs are written back with an R(2+1)D-18 visual encoder; this one has ResNet-18 (McGurk's own training takes Tian & Xu's pair)".into()),
        }
        let fusion = keys.fusion.clone().unwrap_or_default();
        for (name, l) in [("proj_a", &self.proj_a), ("proj_v", &self.proj_v), ("alpha", &self.fusion.alpha)] {
            if let Some(l) = l {
                w.linear(&format!("{fusion}{name}"), l);
            }
        }
        w.linear(keys.head.trim_end_matches('.'), &self.classifier);
        let mut st = w.st;
        // McGurk's (sound, picture) columns back to (picture, sound) when the spec reads so.
        if spec.concat_order.as_ref().is_some_and(|o| o.first().map(String::as_str) == Some("visual"))
            && let Some(t) = st.tensors.get_mut(&format!("{}weight", keys.head))
            && let [_, joined] = t.shape[..]
        {
            let dv = self.proj_v.as_ref().map_or_else(|| self.r2plus1d.as_ref().map_or(0, R2Plus1d::width), |p| linear_dims(p).1);
            for row in t.values.chunks_mut(joined) {
                row.rotate_right(dv);
            }
        }
        Ok((st, keys))
    }

    pub fn device(&self) -> Device {
        self.classifier.weight.val().device()
    }

    pub fn classes(&self) -> usize {
        self.classifier.weight.val().dims()[1]
    }
}

pub struct PairModel {
    pub spec: ModelSpec,
    pub front: Option<LogMel>,
    pub net: PairNet,
    pub classes: Vec<String>,
    pub sampler: FrameSampler,
    pub sample_rate: u32,
    pub samples: usize,
}

fn bad(path: &Path, detail: impl Into<String>) -> SpecError {
    SpecError { path: path.to_path_buf(), detail: detail.into() }
}

/// Each part's prefix in a state dict under the spec's `keys`.
fn part_prefixes(spec: &ModelSpec) -> [(&'static str, String); 4] {
    [
        ("audio", spec.keys.audio.clone()),
        ("visual", spec.keys.visual.clone().unwrap_or_else(|| "visual.".into())),
        ("fusion", spec.keys.fusion.clone().unwrap_or_else(|| "fusion.".into())),
        ("head", spec.keys.head.clone()),
    ]
}

/// The tensors of `st` under `prefix`, the prefix taken off.
fn part_of(st: &SafeTensors, prefix: &str) -> SafeTensors {
    let mut out = SafeTensors::default();
    for (k, t) in &st.tensors {
        if let Some(rest) = k.strip_prefix(prefix) {
            out.tensors.insert(rest.to_string(), t.clone());
        }
    }
    out
}

/// The input width of a burn Linear (weights [in, out]) and its output width.
fn linear_dims(l: &Linear) -> (usize, usize) {
    let [i, o] = l.weight.val().dims();
    (i, o)
}

impl PairModel {
    /// The model of `spec` (an audio-visual pair, `ModelSpec::is_pair`) with `weights`: (part,
    /// file) pairs, a file without a part holding every part under the spec's `keys`.
    pub fn load(spec_path: &Path, weights: &[(Option<String>, PathBuf)], device: &Device) -> Result<Self, SpecError> {
        let spec = ModelSpec::load(spec_path)?;
        if spec.audio.is_none() || spec.visual.is_none() {
            return Err(bad(spec_path, "audio / visual: an audio-visual model needs both"));
        }
        if !spec.is_pair() {
            return Err(bad(spec_path, "not an audio-visual model of two encoders"));
        }
        let prefixes = part_prefixes(&spec);
        let mut files: HashMap<PathBuf, SafeTensors> = HashMap::new();
        let mut parts: HashMap<&str, (PathBuf, SafeTensors)> = HashMap::new();
        for (part, prefix) in &prefixes {
            let Some((named, file)) = weights.iter().find(|(p, _)| p.as_deref() == Some(*part)).or_else(|| weights.iter().find(|(p, _)| p.is_none())) else {
                return Err(bad(spec_path, format!("no weights for the {part} part: give --weights {part}=FILE (or one file holding every part)")));
            };
            if named.is_none() && prefix.is_empty() && *part != "fusion" {
                return Err(bad(spec_path, format!("keys.{part}: \"\" in a file that holds every part (give each part's prefix, e.g. \"{part}.\")")));
            }
            if !files.contains_key(file) {
                files.insert(file.clone(), read_weights(file)?);
            }
            parts.insert(part, (file.clone(), part_of(&files[file], prefix)));
        }
        // A file holding every part: nothing in it may sit outside the four prefixes.
        for (file, st) in &files {
            let owned: Vec<&str> = prefixes.iter().filter(|(p, _)| weights.iter().any(|(n, f)| f == file && (n.is_none() || n.as_deref() == Some(*p)))).map(|(_, k)| k.as_str()).collect();
            let stray: Vec<&String> = st.tensors.keys().filter(|k| !owned.iter().any(|p| k.starts_with(p))).take(8).collect();
            if !stray.is_empty() {
                return Err(bad(file, format!("keys under no part's prefix (keys in the spec): {}", stray.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "))));
            }
        }
        Self::assemble(spec_path, spec, &parts, device)
    }

    /// The model from its parts' tensors (each under its prefix taken off), with the file each
    /// came from for messages.
    fn assemble(spec_path: &Path, spec: ModelSpec, parts: &HashMap<&str, (PathBuf, SafeTensors)>, device: &Device) -> Result<Self, SpecError> {
        let (Some(audio), Some(visual)) = (spec.audio.clone(), spec.visual.clone()) else {
            return Err(bad(spec_path, "audio / visual: an audio-visual model needs both"));
        };
        let kind = spec.fusion_kind().map_err(|e| bad(spec_path, e))?;
        let layout = |file: &Path, part: &str| {
            let file = file.to_path_buf();
            let part = part.to_string();
            move |e: super::state_dict::LayoutError| bad(&file, format!("the {part} part: {e}"))
        };

        let (audio_file, audio_st) = &parts["audio"];
        let mut net = PairNet {
            tian: None,
            cnn14: None,
            tal: None,
            resnet: None,
            r2plus1d: None,
            proj_a: None,
            proj_v: None,
            fusion: Fusion::new(FusionKind::Sum, 1, device),
            classifier: LinearConfig::new(1, 1).init(device),
            frames: visual.frames,
        };
        let (front, sample_rate, wa) = match audio.encoder {
            Encoder::Tian => {
                let a = super::state_dict::import_encoder(audio_st, FusionKind::AudioOnly, device).map_err(layout(audio_file, "audio"))?;
                let width = linear_dims(&a.classifier).0;
                net.tian = a.audio;
                (None, crate::media::MODEL_SAMPLE_RATE, width)
            }
            Encoder::Cnn14 | Encoder::TalTrans => {
                let cfg = spec.frontend().map_err(|e| bad(spec_path, format!("audio.{e}")))?;
                let front = LogMel::new(cfg, device).map_err(|e| bad(spec_path, e))?;
                let width = if audio.encoder == Encoder::Cnn14 {
                    let n = cnn14::import_encoder(audio_st, "", front.cfg.n_mels, device).map_err(layout(audio_file, "audio"))?;
                    let w = linear_dims(&n.fc1).1;
                    net.cnn14 = Some(n);
                    w
                } else {
                    let opts = spec.tal_options().map_err(|e| bad(spec_path, e))?;
                    let n = tal_trans::import_encoder(audio_st, "", opts, device).map_err(layout(audio_file, "audio"))?;
                    let w = linear_dims(&n.slf_attn.w_qs).0;
                    if (front.cfg.n_mels >> 5) * (w / 2) != w {
                        return Err(bad(spec_path, format!("audio.frontend.n_mels: {} mel bins do not make the weights' {w}-wide frames (64 bins: 2 x {} channels)", front.cfg.n_mels, w / 2)));
                    }
                    net.tal = Some(n);
                    w
                };
                (Some(front), audio.sample_rate, width)
            }
        };

        let (visual_file, visual_st) = &parts["visual"];
        let wv = match visual.encoder {
            VisualEncoder::Resnet18 => {
                let v = super::state_dict::import_encoder(visual_st, FusionKind::VisualOnly, device).map_err(layout(visual_file, "visual"))?;
                let width = linear_dims(&v.classifier).0;
                net.resnet = v.visual.map(|mut n| {
                    n.pool = visual.pool;
                    n
                });
                width
            }
            VisualEncoder::R2plus1d18 => {
                let mut n = r2plus1d::import(visual_st, "", device).map_err(layout(visual_file, "visual"))?;
                if let Some(m) = visual.mean {
                    n.mean = m;
                }
                if let Some(s) = visual.std {
                    n.std = s;
                }
                let width = n.width();
                net.r2plus1d = Some(n);
                width
            }
        };

        // Projections and FiLM's alpha, then the classifier.
        let (fusion_file, fusion_st) = &parts["fusion"];
        let mut r = Reader::new(fusion_st, device);
        let mut project = |name: &str, part: &str, width: usize| -> Result<(Option<Linear>, usize), SpecError> {
            if !spec.projects(part) {
                return Ok((None, width));
            }
            let key = format!("{name}.weight");
            let out = fusion_st.tensors.get(&key).and_then(|t| t.shape.first().copied()).ok_or_else(|| bad(fusion_file, format!("no '{key}' under keys.fusion (projections names {part})")))?;
            if !(1..=super::state_dict::MAX_WIDTH).contains(&out) {
                return Err(bad(fusion_file, format!("'{key}': {out} outputs")));
            }
            let mut l = LinearConfig::new(width, out).init(device);
            r.linear(name, &mut l);
            Ok((Some(l), out))
        };
        let (proj_a, da) = project("proj_a", "audio", wa)?;
        let (proj_v, dv) = project("proj_v", "visual", wv)?;
        (net.proj_a, net.proj_v) = (proj_a, proj_v);
        let joined = match kind {
            FusionKind::Concat => da + dv,
            _ if da != dv => {
                return Err(bad(spec_path, format!(
                    "fusion {}: f_a is {da} wide and f_v {dv}; it needs equal widths (\"projections\" with fusion.proj_a / proj_v, or concat)",
                    kind.name()
                )));
            }
            k => k.output_dim(da),
        };
        net.fusion = Fusion::new(kind, da, device);
        if let Some(alpha) = &mut net.fusion.alpha {
            r.linear("alpha", alpha);
        }
        r.finish(|_| false).map_err(layout(fusion_file, "fusion"))?;

        let (head_file, head_st) = &parts["head"];
        let mut head_st = head_st.clone();
        let classes = spec.classes.len();
        if spec.concat_order.as_ref().is_some_and(|o| o.first().map(String::as_str) == Some("visual"))
            && let Some(w) = head_st.tensors.get_mut("weight")
            && w.shape == [classes, joined]
        {
            // (picture, sound) columns made McGurk's (sound, picture).
            for row in w.values.chunks_mut(joined) {
                row.rotate_left(dv);
            }
        }
        let mut named = SafeTensors::default();
        for (k, t) in head_st.tensors {
            named.tensors.insert(format!("head.{k}"), t);
        }
        net.classifier = LinearConfig::new(joined, classes).init(device);
        let mut r = Reader::new(&named, device);
        r.linear("head", &mut net.classifier);
        r.finish(|_| false).map_err(|e| bad(head_file, format!("the head (keys.head, {classes} classes on {joined} features): {e}")))?;

        let sampler = FrameSampler { frames: visual.frames, size: visual.size, fps: visual.fps };
        Ok(Self { classes: spec.classes.names(), samples: audio.samples, sample_rate, front, net, sampler, spec })
    }

    /// The model from one state dict holding every part under the spec's `keys` (what
    /// `export` writes), on `device`.
    pub fn from_state(spec_path: &Path, spec: ModelSpec, st: &SafeTensors, device: &Device) -> Result<Self, SpecError> {
        let prefixes = part_prefixes(&spec);
        let parts: HashMap<&str, (PathBuf, SafeTensors)> = prefixes.iter().map(|(part, prefix)| (*part, (spec_path.to_path_buf(), part_of(st, prefix)))).collect();
        Self::assemble(spec_path, spec, &parts, device)
    }

    /// Every part in one state dict under the spec's `keys` (see [`PairNet::export`]).
    pub fn export(&self) -> Result<(SafeTensors, super::spec::SpecKeys), String> {
        self.net.export(&self.spec)
    }

    pub fn sigmoid(&self) -> bool {
        self.spec.output == Output::Sigmoid
    }

    /// The waveform window and the frames the model reads around `time_s`, with notes.
    pub fn input(&self, clip: &Clip, time_s: f64) -> Result<(Vec<f32>, Vec<f32>, Vec<String>), String> {
        let (wave, mut notes) = audio_window(clip, self.sample_rate, self.samples, time_s)?;
        if clip.frames.is_empty() {
            return Err(format!("{} has no pictures for an audio-visual model", clip.title()));
        }
        let (pixels, note) = self.sampler.input(clip, time_s);
        notes.extend(note);
        Ok((wave, pixels, notes))
    }

    /// Logits of one example.
    pub fn logits(&self, wave: &[f32], pixels: &[f32], device: &Device) -> Vec<f32> {
        let s = self.sampler.size;
        let w = Tensor::<3>::from_data(TensorData::new(wave.to_vec(), [1, 1, wave.len()]), device);
        let p = Tensor::<4>::from_data(TensorData::new(pixels.to_vec(), [1, 3, self.sampler.frames * s, s]), device);
        self.net.logits(self.front.as_ref(), w, p).into_data().try_to_vec::<f32>().unwrap_or_default()
    }

    pub fn probs(&self, logits: Tensor<2>) -> Tensor<2> {
        if self.sigmoid() { sigmoid(logits) } else { softmax(logits, 1) }
    }
}
