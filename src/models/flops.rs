//! Floating-point work of one forward pass, counted from the architecture (convolutions and
//! linear layers, 2 FLOPs per multiply-add; BatchNorm, ReLU and pooling are a rounding error
//! next to them). The benchmark divides by it to report GFLOP/s against the machine's peak.
//! The layer lists follow `audio.rs` and `visual.rs`.

use super::{FusionKind, InputSize, Widths};

/// Output length of a convolution or pooling window along one axis.
fn out_len(len: usize, kernel: usize, stride: usize, pad: usize) -> usize {
    (len + 2 * pad).saturating_sub(kernel) / stride + 1
}

/// 2 x multiply-adds of a convolution producing `out_positions` outputs per channel.
fn conv(c_in: usize, c_out: usize, kernel_elems: usize, out_positions: usize) -> f64 {
    2.0 * (c_in * c_out * kernel_elems) as f64 * out_positions as f64
}

/// Tian's audio net on `samples` samples: 8 convolutions (k3, s2, p1), a max pool of 2 after
/// every second one.
pub fn audio(widths: Widths, samples: usize) -> f64 {
    let mut channels = vec![1];
    for w in widths.0 {
        channels.extend([w, w]);
    }
    let (mut len, mut total) = (samples, 0.0);
    for (i, c) in channels.windows(2).enumerate() {
        len = out_len(len, 3, 2, 1);
        total += conv(c[0], c[1], 3, len);
        if i % 2 == 1 {
            len /= 2;
        }
    }
    total
}

/// ResNet-18 (no FC) on `pixels` x `pixels` images.
pub fn visual(widths: Widths, pixels: usize) -> f64 {
    let w = widths.0;
    let mut side = out_len(pixels, 7, 2, 3);
    let mut total = conv(3, w[0], 49, side * side);
    side = out_len(side, 3, 2, 1);
    let mut c_in = w[0];
    for (stage, &c_out) in w.iter().enumerate() {
        let stride = if stage == 0 { 1 } else { 2 };
        for block in 0..2 {
            let (s, cin) = if block == 0 { (stride, c_in) } else { (1, c_out) };
            let out = out_len(side, 3, s, 1);
            total += conv(cin, c_out, 9, out * out) + conv(c_out, c_out, 9, out * out);
            if block == 0 && (s != 1 || cin != c_out) {
                total += conv(cin, c_out, 1, out * out);
            }
            side = out;
        }
        c_in = c_out;
    }
    total
}

/// One forward pass of an `AvNet` on one example.
pub fn forward(kind: FusionKind, widths: Widths, input: InputSize, classes: usize) -> f64 {
    let d = widths.feature_dim();
    let mut total = 2.0 * (kind.output_dim(d) * classes) as f64;
    if kind.uses_audio() {
        total += audio(widths, input.samples);
    }
    if kind.uses_visual() {
        total += visual(widths, input.pixels);
    }
    if kind == FusionKind::Film {
        total += 2.0 * (d * d) as f64;
    }
    total
}

/// A gradient attack of `steps` steps on one example: `steps` forward passes each followed by
/// an input-gradient backward pass (the same multiply-adds as the forward pass; parameter
/// gradients are not computed), and one forward pass at the end point.
pub fn attack(kind: FusionKind, widths: Widths, input: InputSize, classes: usize, steps: usize) -> f64 {
    forward(kind, widths, input, classes) * (2 * steps + 1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Size;

    #[test]
    fn resnet18_at_224_is_the_published_1_8_gmacs() {
        // torchvision's ResNet-18 is 1.81 GMACs with its FC layer (0.5 MMACs of it).
        let gflop = visual(Size::Full.widths(), 224) / 1e9;
        assert!((gflop - 3.63).abs() < 0.02, "{gflop}");
    }

    #[test]
    fn audio_net_counts_each_layer() {
        // Output lengths 32768, 16384 | 4096, 2048 | 512, 256 | 64, 32 (| = max pool of 2).
        let macs: usize = [(1, 64, 32_768), (64, 64, 16_384), (64, 128, 4096), (128, 128, 2048), (128, 256, 512), (256, 256, 256), (256, 512, 64), (512, 512, 32)]
            .iter()
            .map(|(i, o, n)| i * o * 3 * n)
            .sum();
        assert_eq!(audio(Widths([64, 128, 256, 512]), 65_535), 2.0 * macs as f64);
    }
}
