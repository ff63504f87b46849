//! ResNet-18 without its FC layer (torchvision layout), global max pool to f_v, and the
//! last stage's map (512 x 7 x 7 at 224 px) for localization. Input: RGB [B, 3, H, W] in
//! [0, 1]; ImageNet normalisation happens inside, so attacks work in pixel units.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::relu;

use super::cpu_conv::conv2d;
use super::cpu_norm::batch_norm;
use super::max_pool::{Window, max_pool2d};
use super::bn_channels;
use super::size::Widths;

const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

fn conv(c_in: usize, c_out: usize, k: usize, stride: usize, pad: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([c_in, c_out], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .with_bias(false)
        .init(device)
}

#[derive(Module, Debug)]
pub struct Downsample {
    pub conv: Conv2d,
    pub bn: BatchNorm,
}

#[derive(Module, Debug)]
pub struct BasicBlock {
    pub conv1: Conv2d,
    pub bn1: BatchNorm,
    pub conv2: Conv2d,
    pub bn2: BatchNorm,
    pub downsample: Option<Downsample>,
}

impl BasicBlock {
    fn new(c_in: usize, c_out: usize, stride: usize, device: &Device) -> Self {
        let downsample = (stride != 1 || c_in != c_out)
            .then(|| Downsample { conv: conv(c_in, c_out, 1, stride, 0, device), bn: BatchNormConfig::new(c_out).init(device) });
        Self {
            conv1: conv(c_in, c_out, 3, stride, 1, device),
            bn1: BatchNormConfig::new(c_out).init(device),
            conv2: conv(c_out, c_out, 3, 1, 1, device),
            bn2: BatchNormConfig::new(c_out).init(device),
            downsample,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let identity = match &self.downsample {
            Some(d) => batch_norm(&d.bn, conv2d(&d.conv, x.clone()), false),
            None => x.clone(),
        };
        let y = batch_norm(&self.bn1, conv2d(&self.conv1, x), true);
        let y = batch_norm(&self.bn2, conv2d(&self.conv2, y), false);
        relu(y + identity)
    }
}

/// torchvision's stem pool: 3 x 3, stride 2, padding 1.
const STEM_POOL: Window = Window { kernel: [3, 3], stride: [2, 2], padding: [1, 1] };

#[derive(Module, Debug)]
pub struct VisualNet {
    pub conv1: Conv2d,
    pub bn1: BatchNorm,
    /// layer1..layer4, two blocks each.
    pub blocks: Vec<BasicBlock>,
    /// How the last map becomes the feature: max (Tian & Xu's paper, McGurk's models) or average
    /// (their published checkpoints in effect; torchvision's own).
    #[module(skip)]
    pub pool: Pool,
}

/// Global pooling of the visual map.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pool {
    #[default]
    Max,
    Avg,
}

impl VisualNet {
    pub fn new(widths: impl Into<Widths>, device: &Device) -> Self {
        let w = widths.into().0;
        let mut blocks = Vec::new();
        let mut c_in = w[0];
        for (stage, &c_out) in w.iter().enumerate() {
            let stride = if stage == 0 { 1 } else { 2 };
            blocks.push(BasicBlock::new(c_in, c_out, stride, device));
            blocks.push(BasicBlock::new(c_out, c_out, 1, device));
            c_in = c_out;
        }
        Self {
            conv1: conv(3, w[0], 7, 2, 3, device),
            bn1: BatchNormConfig::new(w[0]).init(device),
            blocks,
            pool: Pool::Max,
        }
    }

    /// Parameters an optimiser trains (BatchNorm running statistics excluded), as PyTorch counts.
    pub fn trainable_params(&self) -> usize {
        let blocks: usize = self
            .blocks
            .iter()
            .map(|b| bn_channels(&b.bn1) + bn_channels(&b.bn2) + b.downsample.as_ref().map_or(0, |d| bn_channels(&d.bn)))
            .sum();
        self.num_params() - 2 * (bn_channels(&self.bn1) + blocks)
    }

    /// Pixels in [0, 1] to ImageNet-normalised values.
    pub fn normalise(pixels: Tensor<4>) -> Tensor<4> {
        let device = pixels.device();
        let mean = Tensor::<4>::from_data(TensorData::new(IMAGENET_MEAN.to_vec(), [1, 3, 1, 1]), &device);
        let std = Tensor::<4>::from_data(TensorData::new(IMAGENET_STD.to_vec(), [1, 3, 1, 1]), &device);
        (pixels - mean) / std
    }

    /// The last stage's map, [B, C, H/32, W/32].
    pub fn forward_map(&self, pixels: Tensor<4>) -> Tensor<4> {
        let x = batch_norm(&self.bn1, conv2d(&self.conv1, Self::normalise(pixels)), true);
        let mut x = max_pool2d(x, STEM_POOL);
        for block in &self.blocks {
            x = block.forward(x);
        }
        x
    }

    /// f_v, [B, C]: global max pool over space.
    pub fn forward(&self, pixels: Tensor<4>) -> Tensor<2> {
        pool(self.forward_map(pixels))
    }
}

/// Global max pool of a [B, C, H, W] map to [B, C].
impl VisualNet {
    /// The feature of a map [B, C, h, w]: [B, C], pooled as the network does.
    pub fn pool_map(&self, map: Tensor<4>) -> Tensor<2> {
        match self.pool {
            Pool::Max => pool(map),
            Pool::Avg => {
                let [b, c, h, w] = map.dims();
                map.reshape([b, c, h * w]).mean_dim(2).squeeze_dim(2)
            }
        }
    }
}

pub fn pool(map: Tensor<4>) -> Tensor<2> {
    let [b, c, h, w] = map.dims();
    map.reshape([b, c, h * w]).max_dim(2).squeeze_dim(2)
}
