//! Audio-visual classifiers (burn): Tian & Xu's audio net, ResNet-18, five fusions, and the
//! sound-source localization map. One definition, two sizes.

pub mod audio;
pub mod cnn14;
pub mod cpu_conv;
pub mod cpu_norm;
pub mod exfmem;
pub mod file;
pub mod flex_input;
pub mod flops;
pub mod frontend;
pub mod heard;
pub mod seen;
pub mod fusion;
pub mod input;
pub mod max_pool;
pub mod pair;
pub mod predict;
pub mod pth;
pub mod r2plus1d;
pub mod safetensors;
pub mod size;
pub mod spec;
pub mod spec_hint;
pub mod spectrogram;
pub mod state_dict;
pub mod tal_trans;
pub mod tian_spec;
pub mod video;
pub mod visual;
pub mod zoo;

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};

pub use audio::AudioNet;
pub use file::{LoadedModel, ModelError, ModelInfo};
pub use fusion::{Fusion, FusionKind};
pub use size::{InputSize, Size, Widths};
pub use visual::VisualNet;

/// Channels of a BatchNorm: it holds that many running means and as many variances.
fn bn_channels(bn: &burn::nn::BatchNorm) -> usize {
    bn.gamma.dims()[0]
}

/// Encoders, fusion, linear classifier.
#[derive(Module, Debug)]
pub struct AvNet {
    pub audio: Option<AudioNet>,
    pub visual: Option<VisualNet>,
    pub fusion: Fusion,
    pub classifier: Linear,
    /// ExFMem feature denoising, when a defense was attached (never stored in model files).
    #[module(skip)]
    pub exfmem: Option<std::sync::Arc<exfmem::ExFMem>>,
}

/// The features of one forward pass: each encoder's, the fused one the classifier reads, and
/// the logits (class-wise metrics and the similarity losses need them).
pub struct Features {
    pub fa: Option<Tensor<2>>,
    pub fv: Option<Tensor<2>>,
    pub fused: Tensor<2>,
    pub logits: Tensor<2>,
}

/// What one forward pass gives: logits and what the views need.
pub struct AvOutput {
    pub logits: Tensor<2>,
    pub fa: Option<Tensor<2>>,
    /// The visual map [B, C, h, w] before pooling.
    pub visual_map: Option<Tensor<4>>,
}

impl AvNet {
    pub fn new(kind: FusionKind, widths: impl Into<Widths>, classes: usize, device: &Device) -> Self {
        let widths = widths.into();
        let d = widths.feature_dim();
        Self {
            audio: kind.uses_audio().then(|| AudioNet::new(widths, device)),
            visual: kind.uses_visual().then(|| VisualNet::new(widths, device)),
            fusion: Fusion::new(kind, d, device),
            classifier: LinearConfig::new(kind.output_dim(d), classes).init(device),
            exfmem: None,
        }
    }

    /// Parameters an optimiser trains (BatchNorm running statistics excluded).
    pub fn trainable_params(&self) -> usize {
        let encoders = self.audio.as_ref().map_or(0, AudioNet::trainable_params) + self.visual.as_ref().map_or(0, VisualNet::trainable_params);
        encoders + self.fusion.num_params() + self.classifier.num_params()
    }

    /// `wave`: [B, 1, L] in [-1, 1]; `pixels`: [B, 3, H, W] in [0, 1].
    pub fn forward(&self, wave: Tensor<3>, pixels: Tensor<4>) -> AvOutput {
        // The two encoders are independent: run them side by side on the CPU backend's thread
        // pool, so that the serial parts of one overlap the other's work.
        let (fa, visual_map) = rayon::join(
            || self.audio.as_ref().map(|a| a.forward(wave)).map(|f| self.denoise_audio(f)),
            || self.visual.as_ref().map(|v| v.forward_map(pixels)),
        );
        let fv = self.visual.as_ref().zip(visual_map.clone()).map(|(v, m)| v.pool_map(m)).map(|f| self.denoise_visual(f));
        let logits = self.classifier.forward(self.fusion.forward(fa.clone(), fv));
        AvOutput { logits, fa, visual_map }
    }

    fn denoise_audio(&self, f: Tensor<2>) -> Tensor<2> {
        match self.exfmem.as_deref() {
            Some(m @ exfmem::ExFMem { audio: Some(bank), .. }) => exfmem::ExFMem::denoise(bank, f, m.lambda, m.iterations),
            _ => f,
        }
    }

    fn denoise_visual(&self, f: Tensor<2>) -> Tensor<2> {
        match self.exfmem.as_deref() {
            Some(m @ exfmem::ExFMem { visual: Some(bank), .. }) => exfmem::ExFMem::denoise(bank, f, m.lambda, m.iterations),
            _ => f,
        }
    }

    /// Each encoder's pooled feature (after ExFMem, when attached), the two side by side.
    pub fn encode(&self, wave: Tensor<3>, pixels: Tensor<4>) -> (Option<Tensor<2>>, Option<Tensor<2>>) {
        rayon::join(
            || self.audio.as_ref().map(|a| a.forward(wave)).map(|f| self.denoise_audio(f)),
            || self.visual.as_ref().map(|v| v.pool_map(v.forward_map(pixels))).map(|f| self.denoise_visual(f)),
        )
    }

    /// Logits from the encoders' features.
    pub fn head(&self, fa: Option<Tensor<2>>, fv: Option<Tensor<2>>) -> Tensor<2> {
        self.classifier.forward(self.fusion.forward(fa, fv))
    }

    /// Like [`AvNet::forward`], keeping the pooled features instead of the visual map.
    pub fn features(&self, wave: Tensor<3>, pixels: Tensor<4>) -> Features {
        let (fa, fv) = self.encode(wave, pixels);
        let fused = self.fusion.forward(fa.clone(), fv.clone());
        let logits = self.classifier.forward(fused.clone());
        Features { fa, fv, fused, logits }
    }
}

/// Cosine similarity of f_a [B, C] with each position of the visual map [B, C, h, w]:
/// [B, 1, h, w], in [-1, 1].
pub fn cosine_map(fa: Tensor<2>, map: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = map.dims();
    let eps = 1e-8;
    let a = fa.clone() / (fa.powf_scalar(2.0).sum_dim(1).sqrt() + eps); // [B, C]
    let m = map.reshape([b, c, h * w]);
    let m = m.clone() / (m.powf_scalar(2.0).sum_dim(1).sqrt() + eps); // [B, C, hw]
    (a.unsqueeze_dim::<3>(2) * m).sum_dim(1).reshape([b, 1, h, w])
}

/// Tian's sound-source localization: [`cosine_map`] bilinearly upsampled to `out` =
/// (height, width): [B, height, width].
pub fn localization_map(fa: Tensor<2>, map: Tensor<4>, out: (usize, usize)) -> Tensor<3> {
    let b = map.dims()[0];
    let up = interpolate(cosine_map(fa, map), InterpolateOptions::new(InterpolateMode::Bilinear).with_output_size([out.0, out.1]));
    up.reshape([b, out.0, out.1])
}
