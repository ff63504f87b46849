//! From a clip to model inputs: the audio window centred on the chosen frame and that frame
//! resized (bicubic, shorter side to the input size) and centre-cropped, as in Tian & Xu.

use burn::prelude::*;
use burn::tensor::TensorData;
use image::imageops::{FilterType, crop_imm, resize};

use super::InputSize;
use crate::dsp::window;
use crate::media::{Clip, MODEL_SAMPLE_RATE, RgbImage};

/// One example in plain memory: waveform in [-1, 1] and CHW pixels in [0, 1].
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    pub wave: Vec<f32>,
    pub pixels: Vec<f32>,
    pub size: InputSize,
}

impl Example {
    /// A waveform alone, for audio-only victims (spectrogram models): the picture is a 1x1
    /// grey placeholder the model never reads.
    pub fn audio_only(wave: Vec<f32>) -> Self {
        let samples = wave.len();
        Self { wave, pixels: vec![0.5; 3], size: InputSize::new(samples, 1) }
    }

    /// The example at time `t_s` of `clip`. A missing modality reads as silence or a grey
    /// frame; `missing` says which, so callers can warn.
    pub fn from_clip(clip: &Clip, t_s: f64, size: InputSize) -> (Self, Vec<&'static str>) {
        let mut missing = Vec::new();
        let wave = match &clip.audio {
            Some(a) => {
                debug_assert_eq!(a.sample_rate, MODEL_SAMPLE_RATE, "the loader resamples");
                window::extract(&a.samples, window::start(t_s, a.sample_rate, size.samples), size.samples)
            }
            None => {
                missing.push("audio");
                vec![0.0; size.samples]
            }
        };
        let pixels = match clip.frame_index_at(t_s) {
            Some(i) => image_pixels(&clip.frames[i].image, size.pixels),
            None => {
                missing.push("video");
                vec![0.5; size.pixel_values()]
            }
        };
        (Self { wave, pixels, size }, missing)
    }

    /// The centre of the clip: where a one-frame prediction looks by default. A video's middle
    /// frame; for an audio file (with or without a still image) the middle of the recording,
    /// as the workbench opens it.
    pub fn centre_time(clip: &Clip) -> f64 {
        match clip.frames.len() {
            0 | 1 => clip.duration_s() / 2.0,
            n => clip.frames[n / 2].time_s,
        }
    }
}

/// Shorter side to `side` (bicubic), centre crop, CHW floats in [0, 1].
pub fn image_pixels(img: &RgbImage, side: usize) -> Vec<f32> {
    let rgb = image::RgbImage::from_raw(img.width, img.height, img.pixels.clone()).expect("RgbImage holds w*h*3 bytes");
    chw(&resize_crop(&rgb, side, None))
}

/// Resize so the shorter side is `side`, then crop `side` x `side` at `offset` (fractions of
/// the slack in x and y; None = centre).
pub fn resize_crop(rgb: &image::RgbImage, side: usize, offset: Option<(f32, f32)>) -> image::RgbImage {
    let (w, h) = (rgb.width() as f64, rgb.height() as f64);
    let scale = side as f64 / w.min(h);
    let (nw, nh) = (((w * scale).round() as u32).max(side as u32), ((h * scale).round() as u32).max(side as u32));
    let resized = resize(rgb, nw, nh, FilterType::CatmullRom);
    let (fx, fy) = offset.unwrap_or((0.5, 0.5));
    let x = ((nw - side as u32) as f32 * fx).round() as u32;
    let y = ((nh - side as u32) as f32 * fy).round() as u32;
    crop_imm(&resized, x, y, side as u32, side as u32).to_image()
}

/// HWC bytes to CHW floats in [0, 1].
pub fn chw(img: &image::RgbImage) -> Vec<f32> {
    let n = (img.width() * img.height()) as usize;
    let mut out = vec![0.0; 3 * n];
    for (i, p) in img.pixels().enumerate() {
        for c in 0..3 {
            out[c * n + i] = f32::from(p.0[c]) / 255.0;
        }
    }
    out
}

/// CHW floats of a `side` x `side` picture back to interleaved RGB bytes (clamped to [0, 1]).
pub fn rgb_bytes(chw: &[f32], side: usize) -> Vec<u8> {
    let n = side * side;
    let byte = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    (0..n).flat_map(|i| [byte(chw[i]), byte(chw[n + i]), byte(chw[2 * n + i])]).collect()
}

/// A batch of examples as tensors: ([B, 1, L], [B, 3, S, S]).
pub fn batch(examples: &[&Example], device: &Device) -> (Tensor<3>, Tensor<4>) {
    let size = examples.first().map_or(InputSize::new(1, 1), |e| e.size);
    let b = examples.len();
    let wave: Vec<f32> = examples.iter().flat_map(|e| e.wave.iter().copied()).collect();
    let pixels: Vec<f32> = examples.iter().flat_map(|e| e.pixels.iter().copied()).collect();
    (
        Tensor::from_data(TensorData::new(wave, [b, 1, size.samples]), device),
        // A clip's T frames stacked: [B, 3, T*S, S] (one frame: T = 1).
        Tensor::from_data(TensorData::new(pixels, [b, 3, size.frames * size.pixels, size.pixels]), device),
    )
}
