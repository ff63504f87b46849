//! Tian & Xu's audio net: 8 Conv1d (k3, s2, p1) + BatchNorm1d + ReLU in 4 blocks, MaxPool1d(2)
//! after each block, global max pool. Input: waveform [B, 1, L] in [-1, 1] at 11025 Hz.

use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig1d};
use burn::prelude::*;

use super::cpu_conv::conv1d;
use super::cpu_norm::batch_norm;
use super::max_pool::max_pool1d;
use super::bn_channels;
use super::size::Widths;

#[derive(Module, Debug)]
pub struct AudioNet {
    pub convs: Vec<Conv1d>,
    pub norms: Vec<BatchNorm>,
}

impl AudioNet {
    pub fn new(widths: impl Into<Widths>, device: &Device) -> Self {
        let mut channels = vec![1];
        for w in widths.into().0 {
            channels.extend([w, w]);
        }
        let convs = channels
            .windows(2)
            .map(|c| Conv1dConfig::new(c[0], c[1], 3).with_stride(2).with_padding(PaddingConfig1d::Explicit(1, 1)).init(device))
            .collect();
        let norms = channels[1..].iter().map(|&c| BatchNormConfig::new(c).init(device)).collect();
        Self { convs, norms }
    }

    /// Parameters an optimiser trains, as PyTorch counts them: burn's `num_params` also
    /// counts BatchNorm running mean and variance.
    pub fn trainable_params(&self) -> usize {
        self.num_params() - 2 * self.norms.iter().map(bn_channels).sum::<usize>()
    }

    /// The last block's map, [B, C, T].
    pub fn forward_map(&self, wave: Tensor<3>) -> Tensor<3> {
        let mut x = wave;
        for (i, (conv, norm)) in self.convs.iter().zip(&self.norms).enumerate() {
            x = batch_norm(norm, conv1d(conv, x), true);
            if i % 2 == 1 {
                x = max_pool1d(x, 2, 2);
            }
        }
        x
    }

    /// f_a, [B, C]: global max pool over time.
    pub fn forward(&self, wave: Tensor<3>) -> Tensor<2> {
        self.forward_map(wave).max_dim(2).squeeze_dim(2)
    }
}
