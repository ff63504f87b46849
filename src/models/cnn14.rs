//! PANNs' Cnn14 (Kong et al. 2020) on log-mel features: BatchNorm over the mel bins, six conv
//! blocks (two 3x3 convolutions without bias, BatchNorm and ReLU each; 2x2 average pooling after
//! blocks 1 to 5), the mean over frequency, max plus mean over time, `fc1` with ReLU (the
//! embedding) and a linear head (PANNs: `fc_audioset`, read through a sigmoid). Loads the state
//! dict as PANNs publishes it; the front end's buffers in it are the front end's, not read here.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;

use super::cpu_conv::conv2d;
use super::cpu_norm::batch_norm;
use super::safetensors::SafeTensors;
use super::state_dict::{LayoutError, Reader};

/// Channels of the six blocks at full width (the published model).
pub const FULL_WIDTHS: [usize; 6] = [64, 128, 256, 512, 1024, 2048];

#[derive(Module, Debug)]
pub struct ConvBlock {
    pub conv1: Conv2d,
    pub bn1: BatchNorm,
    pub conv2: Conv2d,
    pub bn2: BatchNorm,
}

impl ConvBlock {
    fn new(c_in: usize, c_out: usize, device: &Device) -> Self {
        let conv = |i, o| Conv2dConfig::new([i, o], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).with_bias(false).init(device);
        Self { conv1: conv(c_in, c_out), bn1: BatchNormConfig::new(c_out).init(device), conv2: conv(c_out, c_out), bn2: BatchNormConfig::new(c_out).init(device) }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = batch_norm(&self.bn1, conv2d(&self.conv1, x), true);
        batch_norm(&self.bn2, conv2d(&self.conv2, x), true)
    }
}

#[derive(Module, Debug)]
pub struct Cnn14 {
    /// Over the mel bins (PANNs transposes mel to the channel axis for it).
    pub bn0: BatchNorm,
    pub blocks: Vec<ConvBlock>,
    pub pool: AvgPool2d,
    pub fc1: Linear,
    pub head: Linear,
}

impl Cnn14 {
    pub fn new(n_mels: usize, widths: [usize; 6], embedding: usize, classes: usize, device: &Device) -> Self {
        let mut c_in = 1;
        let blocks = widths
            .iter()
            .map(|&w| {
                let b = ConvBlock::new(c_in, w, device);
                c_in = w;
                b
            })
            .collect();
        Self {
            bn0: BatchNormConfig::new(n_mels).init(device),
            blocks,
            pool: AvgPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            fc1: LinearConfig::new(widths[5], embedding).init(device),
            head: LinearConfig::new(embedding, classes).init(device),
        }
    }

    /// The 2048-d (at full width) embedding of log-mel features [B, 1, T, M].
    pub fn embed(&self, logmel: Tensor<4>) -> Tensor<2> {
        let x = self.bn0.forward(logmel.swap_dims(1, 3)).swap_dims(1, 3);
        let last = self.blocks.len() - 1;
        let mut x = x;
        for (i, block) in self.blocks.iter().enumerate() {
            x = block.forward(x);
            if i < last {
                x = self.pool.forward(x);
            }
        }
        // [B, C, T, F]: mean over frequency, then max + mean over time.
        let x: Tensor<3> = x.mean_dim(3).squeeze_dim(3);
        let x = x.clone().max_dim(2).squeeze_dim::<2>(2) + x.mean_dim(2).squeeze_dim::<2>(2);
        relu(self.fc1.forward(x))
    }

    /// Logits [B, classes] (PANNs' clipwise output is their sigmoid).
    pub fn forward(&self, logmel: Tensor<4>) -> Tensor<2> {
        self.head.forward(self.embed(logmel))
    }
}

/// Where a Cnn14's parts sit in a state dict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keys {
    /// Before `bn0.`, `conv_block1.`, `fc1.` ("" in PANNs' checkpoints).
    pub encoder: String,
    /// The head's prefix (PANNs: "fc_audioset.").
    pub head: String,
}

impl Keys {
    pub fn panns() -> Self {
        Self { encoder: String::new(), head: "fc_audioset.".into() }
    }
}

/// The state dict of `net` under `keys`, as PANNs names it (what `import` reads back).
pub fn export(net: &Cnn14, keys: &Keys) -> SafeTensors {
    let mut w = super::state_dict::Writer::default();
    export_encoder(net, &keys.encoder, &mut w);
    w.linear(keys.head.trim_end_matches('.'), &net.head);
    w.st
}

/// Writes the encoder (to the `fc1` embedding) under `e`, as PANNs names it.
pub(crate) fn export_encoder(net: &Cnn14, e: &str, w: &mut super::state_dict::Writer) {
    w.bn(&format!("{e}bn0"), &net.bn0);
    for (i, b) in net.blocks.iter().enumerate() {
        let p = format!("{e}conv_block{}", i + 1);
        w.conv2d(&format!("{p}.conv1"), &b.conv1);
        w.bn(&format!("{p}.bn1"), &b.bn1);
        w.conv2d(&format!("{p}.conv2"), &b.conv2);
        w.bn(&format!("{p}.bn2"), &b.bn2);
    }
    w.linear(&format!("{e}fc1"), &net.fc1);
}

/// Builds a Cnn14 from a state dict: widths, embedding and classes from the tensors' shapes,
/// every tensor checked; the front end's `spectrogram_extractor.*` / `logmel_extractor.*` are
/// skipped. `n_mels` is the front end's (bn0 must match it).
pub fn import(st: &SafeTensors, keys: &Keys, n_mels: usize, device: &Device) -> Result<Cnn14, LayoutError> {
    import_parts(st, keys, true, n_mels, device)
}

/// The encoder alone (to the `fc1` embedding), for an audio-visual model whose classifier is
/// its own: `head` stays an untrained placeholder that `embed` never reads.
pub fn import_encoder(st: &SafeTensors, prefix: &str, n_mels: usize, device: &Device) -> Result<Cnn14, LayoutError> {
    import_parts(st, &Keys { encoder: prefix.into(), head: String::new() }, false, n_mels, device)
}

fn import_parts(st: &SafeTensors, keys: &Keys, with_head: bool, n_mels: usize, device: &Device) -> Result<Cnn14, LayoutError> {
    let e = &keys.encoder;
    let reader = Reader::new(st, device);
    let missing = |k: String| LayoutError::Keys(format!("no '{k}': not a Cnn14 state dict with these prefixes"));
    let mut widths = [0; 6];
    for (i, w) in widths.iter_mut().enumerate() {
        let k = format!("{e}conv_block{}.conv1.weight", i + 1);
        *w = reader.dim0(&k).ok_or_else(|| missing(k))?;
    }
    let embedding = reader.dim0(&format!("{e}fc1.weight")).ok_or_else(|| missing(format!("{e}fc1.weight")))?;
    let classes = if with_head { reader.dim0(&format!("{}weight", keys.head)).ok_or_else(|| missing(format!("{}weight", keys.head)))? } else { 1 };
    let bins = reader.dim0(&format!("{e}bn0.weight")).ok_or_else(|| missing(format!("{e}bn0.weight")))?;
    if bins != n_mels {
        return Err(LayoutError::Keys(format!("'{e}bn0' normalises {bins} mel bins; the front end makes {n_mels}")));
    }
    let bound = super::state_dict::MAX_WIDTH;
    if let Some(w) = widths.iter().chain([&embedding]).find(|w| !(1..=bound).contains(*w)) {
        return Err(LayoutError::Keys(format!("a width of {w} (1 to {bound})")));
    }
    if !(1..=super::state_dict::MAX_CLASSES).contains(&classes) {
        return Err(LayoutError::Keys(format!("{classes} classes")));
    }
    let mut net = Cnn14::new(n_mels, widths, embedding, classes, device);
    let mut r = reader;
    r.bn(&format!("{e}bn0"), &mut net.bn0);
    for (i, b) in net.blocks.iter_mut().enumerate() {
        let p = format!("{e}conv_block{}", i + 1);
        r.conv2d(&format!("{p}.conv1"), &mut b.conv1);
        r.bn(&format!("{p}.bn1"), &mut b.bn1);
        r.conv2d(&format!("{p}.conv2"), &mut b.conv2);
        r.bn(&format!("{p}.bn2"), &mut b.bn2);
    }
    r.linear(&format!("{e}fc1"), &mut net.fc1);
    if with_head {
        r.linear(keys.head.trim_end_matches('.'), &mut net.head);
    }
    r.finish(|k| k.starts_with("spectrogram_extractor.") || k.starts_with("logmel_extractor."))?;
    Ok(net)
}
