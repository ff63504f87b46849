//! Li et al.'s audio model ("CSN", TAL-trans: AudioSetDoneRight's `TransformerEncoder`) on
//! normalised log-mel features: ten 3x3 conv blocks (with bias, BatchNorm, ReLU; max pooling
//! (2,2), (2,2), (1,2), (1,2), (1,2) after every second one), the map as frames x
//! (channels x frequency), one post-norm transformer encoder layer applied `passes` times with
//! the same weights, and attention pooling: the clip's probability is the sum over frames of
//! clamp(sigmoid(fc_prob)) weighted by softmax over time of fc_att. Logits are that
//! probability's log-odds, so that BCE on them is BCE on the probability.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid, softmax};

use super::cpu_conv::conv2d;
use super::cpu_norm::batch_norm;
use super::max_pool::{Window, max_pool2d};
use super::safetensors::SafeTensors;
use super::state_dict::{LayoutError, Reader};

/// Pooling after the first four blocks (time and frequency), then frequency only.
const POOL_BOTH: Window = Window { kernel: [2, 2], stride: [2, 2], padding: [0, 0] };
const POOL_FREQ: Window = Window { kernel: [1, 2], stride: [1, 2], padding: [0, 0] };

/// Channels of the ten blocks as divisors of the embedding (1024 -> 32, 32, 64, ..., 512, 512).
const DIVISORS: [usize; 10] = [32, 32, 16, 16, 8, 8, 4, 4, 2, 2];

#[derive(Module, Debug)]
pub struct Block {
    pub conv: Conv2d,
    pub bn: BatchNorm,
}

#[derive(Module, Debug)]
pub struct SelfAttention {
    pub w_qs: Linear,
    pub w_ks: Linear,
    pub w_vs: Linear,
    pub fc: Linear,
    pub layer_norm: LayerNorm,
}

#[derive(Module, Debug)]
pub struct FeedForward {
    pub w_1: Linear,
    pub w_2: Linear,
    pub layer_norm: LayerNorm,
}

#[derive(Module, Debug)]
pub struct TalTrans {
    pub blocks: Vec<Block>,
    pub slf_attn: SelfAttention,
    pub pos_ffn: FeedForward,
    pub fc_prob: Linear,
    pub fc_att: Linear,
    #[module(skip)]
    pub heads: usize,
    #[module(skip)]
    pub passes: usize,
}

/// What the spec's `options` may set (Li et al.'s values by default).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    pub heads: usize,
    pub transformer_passes: usize,
    pub layer_norm_eps: f64,
}

impl Default for Options {
    fn default() -> Self {
        Self { heads: 8, transformer_passes: 2, layer_norm_eps: 1e-5 }
    }
}

impl TalTrans {
    pub fn new(embedding: usize, inner: usize, classes: usize, opts: Options, device: &Device) -> Self {
        let mut c_in = 1;
        let blocks = DIVISORS
            .iter()
            .map(|d| {
                let c = embedding / d;
                let conv = Conv2dConfig::new([c_in, c], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).init(device);
                c_in = c;
                Block { conv, bn: BatchNormConfig::new(c).init(device) }
            })
            .collect();
        let linear = |i, o| LinearConfig::new(i, o).init(device);
        let norm = || LayerNormConfig::new(embedding).with_epsilon(opts.layer_norm_eps).init(device);
        Self {
            blocks,
            slf_attn: SelfAttention { w_qs: linear(embedding, embedding), w_ks: linear(embedding, embedding), w_vs: linear(embedding, embedding), fc: linear(embedding, embedding), layer_norm: norm() },
            pos_ffn: FeedForward { w_1: linear(embedding, inner), w_2: linear(inner, embedding), layer_norm: norm() },
            fc_prob: linear(embedding, classes),
            fc_att: linear(embedding, classes),
            heads: opts.heads,
            passes: opts.transformer_passes,
        }
    }

    fn attention(&self, x: Tensor<3>) -> Tensor<3> {
        let a = &self.slf_attn;
        let [b, t, d] = x.dims();
        let (h, dk) = (self.heads, d / self.heads);
        let split = |y: Tensor<3>| y.reshape([b, t, h, dk]).swap_dims(1, 2);
        let (q, k, v) = (split(a.w_qs.forward(x.clone())), split(a.w_ks.forward(x.clone())), split(a.w_vs.forward(x.clone())));
        let scores = softmax(q.matmul(k.swap_dims(2, 3)).div_scalar((dk as f64).sqrt()), 3);
        let out = scores.matmul(v).swap_dims(1, 2).reshape([b, t, d]);
        a.layer_norm.forward(a.fc.forward(out) + x)
    }

    fn feed_forward(&self, x: Tensor<3>) -> Tensor<3> {
        let f = &self.pos_ffn;
        f.layer_norm.forward(f.w_2.forward(relu(f.w_1.forward(x.clone()))) + x)
    }

    /// Frame embeddings [B, T', E] of features [B, 1, T, M].
    pub fn frames(&self, features: Tensor<4>) -> Tensor<3> {
        let mut x = features;
        for (i, block) in self.blocks.iter().enumerate() {
            x = batch_norm(&block.bn, conv2d(&block.conv, x), true);
            if i % 2 == 1 {
                x = max_pool2d(x, if i < 4 { POOL_BOTH } else { POOL_FREQ });
            }
        }
        let [b, c, t, f] = x.dims();
        let mut x = x.swap_dims(1, 2).reshape([b, t, c * f]);
        for _ in 0..self.passes {
            x = self.feed_forward(self.attention(x));
        }
        x
    }

    /// The clip's embedding [B, E]: the frame embeddings averaged over time (what an
    /// audio-visual model fuses; Li et al.'s attention head is the audio model's own).
    pub fn embed(&self, features: Tensor<4>) -> Tensor<2> {
        let x = self.frames(features);
        let [b, _, e] = x.dims();
        x.mean_dim(1).reshape([b, e])
    }

    /// Per-frame attention weights [B, T', classes] (which moments the model listens to).
    pub fn attention_weights(&self, frames: Tensor<3>) -> Tensor<3> {
        softmax(self.fc_att.forward(frames), 1)
    }

    /// Log-odds of the clip-level probabilities [B, classes].
    pub fn forward(&self, features: Tensor<4>) -> Tensor<2> {
        let x = self.frames(features);
        let prob = sigmoid(self.fc_prob.forward(x.clone())).clamp(1e-7, 1.0 - 1e-7);
        let p: Tensor<2> = (prob * self.attention_weights(x)).sum_dim(1).squeeze_dim(1);
        p.clone().log() - p.neg().add_scalar(1.0).log()
    }
}

/// The state dict of `net` under `prefix`, as Li et al.'s code names it (what `import` reads
/// back; the position-wise FFN as linear weights).
pub fn export(net: &TalTrans, prefix: &str) -> SafeTensors {
    let mut w = super::state_dict::Writer::default();
    export_encoder(net, prefix, &mut w);
    w.linear(&format!("{prefix}fc_prob"), &net.fc_prob);
    w.linear(&format!("{prefix}fc_att"), &net.fc_att);
    w.st
}

/// Writes the encoder (to the transformer's frame embeddings) under `prefix`.
pub(crate) fn export_encoder(net: &TalTrans, prefix: &str, w: &mut super::state_dict::Writer) {
    for (i, b) in net.blocks.iter().enumerate() {
        w.conv2d(&format!("{prefix}conv{}.conv", i + 1), &b.conv);
        w.bn(&format!("{prefix}conv{}.bn", i + 1), &b.bn);
    }
    let a = &net.slf_attn;
    for (name, l) in [("w_qs", &a.w_qs), ("w_ks", &a.w_ks), ("w_vs", &a.w_vs), ("fc", &a.fc)] {
        w.linear(&format!("{prefix}enc_layer.slf_attn.{name}"), l);
    }
    w.layer_norm(&format!("{prefix}enc_layer.slf_attn.layer_norm"), &a.layer_norm);
    w.linear(&format!("{prefix}enc_layer.pos_ffn.w_1"), &net.pos_ffn.w_1);
    w.linear(&format!("{prefix}enc_layer.pos_ffn.w_2"), &net.pos_ffn.w_2);
    w.layer_norm(&format!("{prefix}enc_layer.pos_ffn.layer_norm"), &net.pos_ffn.layer_norm);
}

/// Builds TAL-trans from a state dict (keys as Li et al.'s checkpoints hold them, after
/// `prefix`): embedding, FFN width and classes from the shapes. A position-wise FFN stored as
/// 1x1 Conv1d weights ([out, in, 1], the older attention code) is read as linear.
pub fn import(st: &SafeTensors, prefix: &str, opts: Options, device: &Device) -> Result<TalTrans, LayoutError> {
    import_parts(st, prefix, true, opts, device)
}

/// The encoder alone (to the transformer's frame embeddings), for an audio-visual model whose
/// classifier is its own: `fc_prob` / `fc_att` stay placeholders that `embed` never reads.
pub fn import_encoder(st: &SafeTensors, prefix: &str, opts: Options, device: &Device) -> Result<TalTrans, LayoutError> {
    import_parts(st, prefix, false, opts, device)
}

fn import_parts(st: &SafeTensors, prefix: &str, with_head: bool, opts: Options, device: &Device) -> Result<TalTrans, LayoutError> {
    let mut st = st.clone();
    for w in ["w_1", "w_2"] {
        if let Some(t) = st.tensors.get_mut(&format!("{prefix}enc_layer.pos_ffn.{w}.weight"))
            && t.shape.len() == 3
            && t.shape[2] == 1
        {
            t.shape.pop();
        }
    }
    let reader = Reader::new(&st, device);
    let need = |k: String| reader.dim0(&k).ok_or_else(|| LayoutError::Keys(format!("no '{k}': not a TAL-trans state dict with this prefix")));
    let embedding = need(format!("{prefix}enc_layer.slf_attn.w_qs.weight"))?;
    let inner = need(format!("{prefix}enc_layer.pos_ffn.w_1.weight"))?;
    let classes = if with_head { need(format!("{prefix}fc_prob.weight"))? } else { 1 };
    let bound = super::state_dict::MAX_WIDTH;
    if !(32..=bound).contains(&embedding) || embedding % 32 != 0 || !(1..=bound).contains(&inner) {
        return Err(LayoutError::Keys(format!("embedding {embedding} (a multiple of 32 up to {bound}) or FFN width {inner}")));
    }
    if opts.heads == 0 || embedding % opts.heads != 0 || opts.transformer_passes == 0 || opts.transformer_passes > 16 {
        return Err(LayoutError::Keys(format!("options: {} heads do not divide the embedding {embedding}, or {} passes (1 to 16)", opts.heads, opts.transformer_passes)));
    }
    if !(1..=super::state_dict::MAX_CLASSES).contains(&classes) {
        return Err(LayoutError::Keys(format!("{classes} classes")));
    }
    let mut net = TalTrans::new(embedding, inner, classes, opts, device);
    let mut r = reader;
    for (i, b) in net.blocks.iter_mut().enumerate() {
        r.conv2d(&format!("{prefix}conv{}.conv", i + 1), &mut b.conv);
        r.bn(&format!("{prefix}conv{}.bn", i + 1), &mut b.bn);
    }
    let a = &mut net.slf_attn;
    for (name, l) in [("w_qs", &mut a.w_qs), ("w_ks", &mut a.w_ks), ("w_vs", &mut a.w_vs), ("fc", &mut a.fc)] {
        r.linear(&format!("{prefix}enc_layer.slf_attn.{name}"), l);
    }
    r.layer_norm(&format!("{prefix}enc_layer.slf_attn.layer_norm"), &mut a.layer_norm);
    r.linear(&format!("{prefix}enc_layer.pos_ffn.w_1"), &mut net.pos_ffn.w_1);
    r.linear(&format!("{prefix}enc_layer.pos_ffn.w_2"), &mut net.pos_ffn.w_2);
    r.layer_norm(&format!("{prefix}enc_layer.pos_ffn.layer_norm"), &mut net.pos_ffn.layer_norm);
    if with_head {
        r.linear(&format!("{prefix}fc_prob"), &mut net.fc_prob);
        r.linear(&format!("{prefix}fc_att"), &mut net.fc_att);
    }
    r.finish(|_| false)?;
    Ok(net)
}
