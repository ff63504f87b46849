//! Video models read from a spec: torchvision's R(2+1)D-18 and its `fc` head on T frames around
//! a moment, each frame's short side resized to the spec's size and centre-cropped (a frame
//! already that size passes unchanged).

use std::path::Path;

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;

use super::input::{chw, resize_crop};
use super::r2plus1d::{self, R2Plus1d};
use super::spec::{ModelSpec, SpecError};
use super::safetensors::SafeTensors;
use super::spectrogram::read_weights;
use crate::media::Clip;

pub struct VideoModel {
    pub spec: ModelSpec,
    pub net: R2Plus1d,
    pub head: Linear,
    pub classes: Vec<String>,
    pub frames: usize,
    pub size: usize,
    pub fps: Option<f64>,
}

/// The encoder and its `fc` head from a state dict in torchvision's layout, under the spec's
/// keys (`keys.visual`, `keys.head`); the head's shape checked against the classes.
pub fn import(st: &SafeTensors, spec: &ModelSpec, device: &Device) -> Result<(R2Plus1d, Linear), String> {
    let prefix = spec.keys.visual.clone().unwrap_or_default();
    let net = r2plus1d::import(st, &prefix, device).map_err(|e| e.to_string())?;
    let (w, b) = (st.tensors.get(&format!("{}weight", spec.keys.head)), st.tensors.get(&format!("{}bias", spec.keys.head)));
    let (Some(w), Some(b)) = (w, b) else {
        return Err(format!("no '{}weight' / '{}bias' for the head (keys.head)", spec.keys.head, spec.keys.head));
    };
    let width = net.width();
    if w.shape != [spec.classes.len(), width] || b.shape != [spec.classes.len()] {
        return Err(format!("head {:?}: expected [{}, {width}] for {} classes on a {width}-wide feature", w.shape, spec.classes.len(), spec.classes.len()));
    }
    let mut head = LinearConfig::new(width, spec.classes.len()).init(device);
    // PyTorch stores [out, in]; burn's Linear holds [in, out].
    let weight = Tensor::<2>::from_data(TensorData::new(w.values.clone(), [w.shape[0], w.shape[1]]), device).transpose();
    head.weight = burn::module::Param::from_tensor(weight);
    head.bias = Some(burn::module::Param::from_tensor(Tensor::<1>::from_data(TensorData::new(b.values.clone(), [b.shape[0]]), device)));
    Ok((net, head))
}

/// The encoder and head as a state dict in torchvision's layout under `keys` (what `import`
/// reads back; a model loaded and not changed writes its checkpoint's tensors).
pub fn export(net: &R2Plus1d, head: &Linear, keys: &super::spec::SpecKeys) -> SafeTensors {
    let mut w = super::state_dict::Writer::default();
    r2plus1d::export(net, keys.visual.as_deref().unwrap_or_default(), &mut w);
    w.linear(keys.head.trim_end_matches('.'), head);
    w.st
}

fn bad(path: &Path, detail: impl Into<String>) -> SpecError {
    SpecError { path: path.to_path_buf(), detail: detail.into() }
}

impl VideoModel {
    pub fn load(spec_path: &Path, weights: &Path, device: &Device) -> Result<Self, SpecError> {
        let spec = ModelSpec::load(spec_path)?;
        let v = spec.visual.clone().filter(|_| spec.is_video()).ok_or_else(|| bad(spec_path, "visual: not a video model (an r2plus1d_18 encoder without audio)"))?;
        let st = read_weights(weights)?;
        let (mut net, head) = import(&st, &spec, device).map_err(|e| bad(weights, e))?;
        if let Some(m) = v.mean {
            net.mean = m;
        }
        if let Some(s) = v.std {
            net.std = s;
        }
        Ok(Self { classes: spec.classes.names(), frames: v.frames, size: v.size, fps: v.fps, spec, net, head })
    }

    /// How the model takes its T frames from a clip.
    pub fn sampler(&self) -> FrameSampler {
        FrameSampler { frames: self.frames, size: self.size, fps: self.fps }
    }

    pub fn span_s(&self, source_fps: f64) -> f64 {
        self.sampler().span_s(source_fps)
    }

    pub fn open_around(&self, path: &Path, at: Option<f64>, job: &crate::media::Job<'_>) -> Result<(Clip, f64), crate::media::MediaError> {
        self.sampler().open_around(path, at, job)
    }

    pub fn frame_indices(&self, clip: &Clip, time_s: f64) -> (Vec<usize>, Option<String>) {
        self.sampler().frame_indices(clip, time_s)
    }

    pub fn input(&self, clip: &Clip, time_s: f64) -> (Vec<f32>, Option<String>) {
        self.sampler().input(clip, time_s)
    }

    /// Logits for `clips` ([B, 3, T, S, S] flattened, B = len / (3*T*S*S)).
    pub fn logits(&self, input: &[f32], device: &Device) -> Vec<f32> {
        let per = 3 * self.frames * self.size * self.size;
        let b = input.len() / per;
        let x = Tensor::<5>::from_data(TensorData::new(input.to_vec(), [b, 3, self.frames, self.size, self.size]), device);
        self.head.forward(self.net.forward(x)).into_data().try_to_vec::<f32>().unwrap_or_default()
    }
}

/// T frames of S x S around a moment, `fps` apart (null: consecutive source frames): what a
/// video encoder reads, alone or beside an audio encoder.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FrameSampler {
    pub frames: usize,
    pub size: usize,
    pub fps: Option<f64>,
}

impl FrameSampler {
    /// Seconds of a source at `source_fps` the model reads around one moment (a frame of slack
    /// on each side); for a source of unknown rate, as if at 1 fps.
    pub fn span_s(&self, source_fps: f64) -> f64 {
        let fps = self.fps.unwrap_or(source_fps);
        let fps = if fps > 0.0 { fps } else { 1.0 };
        (self.frames as f64 + 2.0) / fps
    }

    /// The video file at `path` around `at` (default: its middle) with only the frames of the
    /// model's span kept (the file is probed first for its duration and rate), and that moment.
    pub fn open_around(&self, path: &Path, at: Option<f64>, job: &crate::media::Job<'_>) -> Result<(Clip, f64), crate::media::MediaError> {
        self.open_around_with(path, at, crate::media::LoadOptions::default(), job)
    }

    /// Like [`FrameSampler::open_around`], with `base`'s other options (the audio's rate).
    pub fn open_around_with(&self, path: &Path, at: Option<f64>, base: crate::media::LoadOptions, job: &crate::media::Job<'_>) -> Result<(Clip, f64), crate::media::MediaError> {
        use crate::media::LoadOptions;
        let info = crate::media::probe(path, &LoadOptions::default())?;
        let t = at.unwrap_or(info.duration_s / 2.0);
        let span = self.span_s(info.video.as_ref().map_or(0.0, |v| v.fps));
        // The window stays inside the clip, so a moment near or past either end keeps the frames
        // a full decode would give it (the model reads the T frames nearest that end).
        let centre = t.clamp(span / 2.0, (info.duration_s - span / 2.0).max(span / 2.0));
        let opts = LoadOptions { window: Some((centre - span / 2.0, centre + span / 2.0)), ..base };
        Ok((crate::media::open(path, &opts, job)?, t))
    }

    /// The indices of the frames the model reads around `time_s`: T frames `1/fps` apart centred
    /// on it (nearest source frame each), or consecutive source frames; a source with fewer
    /// frames repeats its last. With a note when frames were repeated.
    pub fn frame_indices(&self, clip: &Clip, time_s: f64) -> (Vec<usize>, Option<String>) {
        let n = clip.frames.len();
        if n == 0 {
            return (Vec::new(), None);
        }
        let t = self.frames;
        let idx: Vec<usize> = match self.fps {
            Some(fps) => (0..t)
                .map(|k| {
                    let at = time_s + (k as f64 - t as f64 / 2.0 + 0.5) / fps;
                    clip.frame_index_at(at.max(0.0)).unwrap_or(0).min(n - 1)
                })
                .collect(),
            None => {
                let centre = clip.frame_index_at(time_s).unwrap_or(0);
                let start = centre.saturating_sub(t / 2).min(n.saturating_sub(t));
                (0..t).map(|k| (start + k).min(n - 1)).collect()
            }
        };
        let note = (n < t).then(|| format!("the source has {n} frames; the model reads {t}: the last is repeated"));
        (idx, note)
    }

    /// The model's input for `time_s`: [3, T, S, S] in [0, 1], flattened, and a note.
    pub fn input(&self, clip: &Clip, time_s: f64) -> (Vec<f32>, Option<String>) {
        let (idx, note) = self.frame_indices(clip, time_s);
        let s = self.size;
        let mut out = vec![0.0; 3 * self.frames * s * s];
        for (k, i) in idx.iter().enumerate() {
            let f = &clip.frames[*i].image;
            let rgb = image::RgbImage::from_raw(f.width, f.height, f.pixels.clone()).unwrap_or_else(|| image::RgbImage::new(s as u32, s as u32));
            // A frame already the model's size passes untouched.
            let px = if rgb.dimensions() == (s as u32, s as u32) { chw(&rgb) } else { chw(&resize_crop(&rgb, s, None)) };
            for c in 0..3 {
                let dst = (c * self.frames + k) * s * s;
                out[dst..dst + s * s].copy_from_slice(&px[c * s * s..(c + 1) * s * s]);
            }
        }
        (out, note)
    }

}
