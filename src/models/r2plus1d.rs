//! torchvision's R(2+1)D-18 (Tran et al. 2018) as a video encoder: every 3x3x3 convolution
//! factored into a spatial (1x3x3) and a temporal (3x1x1) one with `mid` channels between,
//! `mid = in*out*27 // (9*in + 3*out)` of the block's input and output widths, the same for both
//! of its convolutions (torchvision's `midplanes`). In
//! torchvision's layout and key names (`stem.0/1/3/4`, `layerN.M.convK.0.{0,1,3}`,
//! `layerN.M.convK.1`, `downsample.{0,1}`, `fc`), any widths. Input [B, 3, T, H, W] in [0, 1],
//! normalised inside (Kinetics-400 statistics by default) so attacks stay in pixel units; the
//! feature is the last map averaged over time and space.

use burn::nn::conv::{Conv3d, Conv3dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig3d};
use burn::prelude::*;
use burn::tensor::activation::relu;

use super::cpu_conv::conv3d;
use super::cpu_norm::batch_norm;
use super::safetensors::SafeTensors;
use super::state_dict::{LayoutError, Reader};

/// torchvision's normalisation for its Kinetics-400 video models.
pub const KINETICS_MEAN: [f32; 3] = [0.432_16, 0.394_666, 0.376_45];
pub const KINETICS_STD: [f32; 3] = [0.228_03, 0.221_45, 0.216_989];

fn conv(c_in: usize, c_out: usize, kernel: [usize; 3], stride: [usize; 3], padding: [usize; 3], device: &Device) -> Conv3d {
    Conv3dConfig::new([c_in, c_out], kernel)
        .with_stride(stride)
        .with_padding(PaddingConfig3d::Explicit(padding[0], padding[1], padding[2]))
        .with_bias(false)
        .init(device)
}

fn bn(c: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(c).init(device)
}

/// torchvision's `midplanes` of a (2+1)D convolution from `c_in` to `c_out` channels.
pub fn mid(c_in: usize, c_out: usize) -> usize {
    c_in * c_out * 27 / (9 * c_in + 3 * c_out)
}

/// Spatial 1x3x3 convolution, BatchNorm, ReLU, temporal 3x1x1 convolution (`Conv2Plus1D`).
#[derive(Module, Debug)]
pub struct Conv2Plus1d {
    pub spatial: Conv3d,
    pub bn: BatchNorm,
    pub temporal: Conv3d,
}

impl Conv2Plus1d {
    fn new(c_in: usize, m: usize, c_out: usize, stride: usize, device: &Device) -> Self {
        Self {
            spatial: conv(c_in, m, [1, 3, 3], [1, stride, stride], [0, 1, 1], device),
            bn: bn(m, device),
            temporal: conv(m, c_out, [3, 1, 1], [stride, 1, 1], [1, 0, 0], device),
        }
    }

    fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        conv3d(&self.temporal, batch_norm(&self.bn, conv3d(&self.spatial, x), true))
    }
}

#[derive(Module, Debug)]
pub struct Downsample {
    pub conv: Conv3d,
    pub bn: BatchNorm,
}

#[derive(Module, Debug)]
pub struct Block {
    pub conv1: Conv2Plus1d,
    pub bn1: BatchNorm,
    pub conv2: Conv2Plus1d,
    pub bn2: BatchNorm,
    pub downsample: Option<Downsample>,
}

impl Block {
    fn new(c_in: usize, c_out: usize, stride: usize, device: &Device) -> Self {
        // torchvision computes the block's mid width once, from its input and output, and both
        // convolutions use it (the second's own in and out would give another number).
        let m = mid(c_in, c_out);
        Self {
            conv1: Conv2Plus1d::new(c_in, m, c_out, stride, device),
            bn1: bn(c_out, device),
            conv2: Conv2Plus1d::new(c_out, m, c_out, 1, device),
            bn2: bn(c_out, device),
            downsample: (stride != 1 || c_in != c_out)
                .then(|| Downsample { conv: conv(c_in, c_out, [1, 1, 1], [stride; 3], [0, 0, 0], device), bn: bn(c_out, device) }),
        }
    }

    fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let identity = match &self.downsample {
            Some(d) => batch_norm(&d.bn, conv3d(&d.conv, x.clone()), false),
            None => x.clone(),
        };
        let y = batch_norm(&self.bn1, self.conv1.forward(x), true);
        relu(batch_norm(&self.bn2, self.conv2.forward(y), false) + identity)
    }
}

#[derive(Module, Debug)]
pub struct R2Plus1d {
    pub stem_spatial: Conv3d,
    pub stem_bn1: BatchNorm,
    pub stem_temporal: Conv3d,
    pub stem_bn2: BatchNorm,
    /// layer1..layer4, two blocks each.
    pub blocks: Vec<Block>,
    #[module(skip)]
    pub mean: [f32; 3],
    #[module(skip)]
    pub std: [f32; 3],
}

impl R2Plus1d {
    /// `stem`: the stem's (mid, out) channels (torchvision: 45, 64); `widths`: the four stages'.
    pub fn new(stem: [usize; 2], widths: [usize; 4], device: &Device) -> Self {
        let mut blocks = Vec::new();
        let mut c_in = stem[1];
        for (stage, &c_out) in widths.iter().enumerate() {
            let stride = if stage == 0 { 1 } else { 2 };
            blocks.push(Block::new(c_in, c_out, stride, device));
            blocks.push(Block::new(c_out, c_out, 1, device));
            c_in = c_out;
        }
        Self {
            stem_spatial: conv(3, stem[0], [1, 7, 7], [1, 2, 2], [0, 3, 3], device),
            stem_bn1: bn(stem[0], device),
            stem_temporal: conv(stem[0], stem[1], [3, 1, 1], [1, 1, 1], [1, 0, 0], device),
            stem_bn2: bn(stem[1], device),
            blocks,
            mean: KINETICS_MEAN,
            std: KINETICS_STD,
        }
    }

    /// The last stage's map [B, C, T', H', W'] of `clip` [B, 3, T, H, W] in [0, 1].
    pub fn forward_map(&self, clip: Tensor<5>) -> Tensor<5> {
        let device = clip.device();
        let mean = Tensor::<5>::from_data(TensorData::new(self.mean.to_vec(), [1, 3, 1, 1, 1]), &device);
        let std = Tensor::<5>::from_data(TensorData::new(self.std.to_vec(), [1, 3, 1, 1, 1]), &device);
        let x = (clip - mean) / std;
        let x = batch_norm(&self.stem_bn1, conv3d(&self.stem_spatial, x), true);
        let mut x = batch_norm(&self.stem_bn2, conv3d(&self.stem_temporal, x), true);
        for b in &self.blocks {
            x = b.forward(x);
        }
        x
    }

    /// The feature [B, C]: the map averaged over time and space (torchvision's avgpool).
    pub fn forward(&self, clip: Tensor<5>) -> Tensor<2> {
        let map = self.forward_map(clip);
        let [b, c, t, h, w] = map.dims();
        map.reshape([b, c, t * h * w]).mean_dim(2).reshape([b, c])
    }

    pub fn width(&self) -> usize {
        self.stem_bn2.gamma.dims()[0].max(self.blocks.last().map_or(0, |b| b.bn2.gamma.dims()[0]))
    }
}

/// Writes the encoder under `prefix` in torchvision's layout (what `import` reads back).
pub(crate) fn export(net: &R2Plus1d, prefix: &str, w: &mut super::state_dict::Writer) {
    let p = prefix;
    w.conv3d(&format!("{p}stem.0"), &net.stem_spatial);
    w.bn(&format!("{p}stem.1"), &net.stem_bn1);
    w.conv3d(&format!("{p}stem.3"), &net.stem_temporal);
    w.bn(&format!("{p}stem.4"), &net.stem_bn2);
    for (i, b) in net.blocks.iter().enumerate() {
        let k = format!("{p}layer{}.{}", i / 2 + 1, i % 2);
        for (c, conv, norm) in [("conv1", &b.conv1, &b.bn1), ("conv2", &b.conv2, &b.bn2)] {
            w.conv3d(&format!("{k}.{c}.0.0"), &conv.spatial);
            w.bn(&format!("{k}.{c}.0.1"), &conv.bn);
            w.conv3d(&format!("{k}.{c}.0.3"), &conv.temporal);
            w.bn(&format!("{k}.{c}.1"), norm);
        }
        if let Some(d) = &b.downsample {
            w.conv3d(&format!("{k}.downsample.0"), &d.conv);
            w.bn(&format!("{k}.downsample.1"), &d.bn);
        }
    }
}

/// The encoder under `prefix` in a torchvision-layout state dict (`""` for a checkpoint as
/// torchvision saves it); widths read from the shapes. Returns the head (`fc` under
/// `head_prefix`) too when there is one: (weight [classes, C] as stored, bias).
pub fn import(st: &SafeTensors, prefix: &str, device: &Device) -> Result<R2Plus1d, LayoutError> {
    let reader = Reader::new(st, device);
    let p = prefix;
    let need = |k: String| reader.dim0(&k).ok_or_else(|| LayoutError::Keys(format!("no '{k}': not an R(2+1)D-18 state dict with prefix '{p}'")));
    let stem = [need(format!("{p}stem.0.weight"))?, need(format!("{p}stem.3.weight"))?];
    let mut widths = [0; 4];
    for (i, w) in widths.iter_mut().enumerate() {
        *w = need(format!("{p}layer{}.0.conv1.1.weight", i + 1))?;
    }
    let bound = super::state_dict::MAX_WIDTH;
    if let Some(w) = stem.iter().chain(&widths).find(|w| !(1..=bound).contains(*w)) {
        return Err(LayoutError::Keys(format!("a width of {w} (1 to {bound})")));
    }
    let mut net = R2Plus1d::new(stem, widths, device);
    let mut r = reader;
    r.conv3d(&format!("{p}stem.0"), &mut net.stem_spatial);
    r.bn(&format!("{p}stem.1"), &mut net.stem_bn1);
    r.conv3d(&format!("{p}stem.3"), &mut net.stem_temporal);
    r.bn(&format!("{p}stem.4"), &mut net.stem_bn2);
    for (i, b) in net.blocks.iter_mut().enumerate() {
        let k = format!("{p}layer{}.{}", i / 2 + 1, i % 2);
        for (c, conv, norm) in [("conv1", &mut b.conv1, &mut b.bn1), ("conv2", &mut b.conv2, &mut b.bn2)] {
            r.conv3d(&format!("{k}.{c}.0.0"), &mut conv.spatial);
            r.bn(&format!("{k}.{c}.0.1"), &mut conv.bn);
            r.conv3d(&format!("{k}.{c}.0.3"), &mut conv.temporal);
            r.bn(&format!("{k}.{c}.1"), norm);
        }
        if let Some(d) = &mut b.downsample {
            r.conv3d(&format!("{k}.downsample.0"), &mut d.conv);
            r.bn(&format!("{k}.downsample.1"), &mut d.bn);
        }
    }
    // The classifier (`fc`) and BatchNorm counters are not the encoder's.
    r.finish(|k| !k.starts_with(p) || k[p.len()..].starts_with("fc.") || k.ends_with("num_batches_tracked"))?;
    Ok(net)
}
