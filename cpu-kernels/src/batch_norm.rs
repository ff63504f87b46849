//! BatchNorm with running statistics, optionally followed by ReLU, in one pass over NC(...)
//! f32 data, and its input gradient in one pass. Each value is computed with burn's own
//! sequence of float operations (((x - mean) / std) * gamma + beta; the gradient
//! ((g * [y > 0]) * gamma) * (1 / std), burn's division's backward pass multiplying by the
//! reciprocal), so results equal burn's bit for bit.

use rayon::prelude::*;

/// Per-channel values: running mean, std = sqrt(running var + eps), gamma, beta.
#[derive(Clone, Debug, PartialEq)]
pub struct Channels {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
}

/// `x` as `n` x `c` planes of `plane` values, normalised per channel (then ReLU when `relu`).
pub fn forward(x: &[f32], c: usize, plane: usize, ch: &Channels, relu: bool) -> Vec<f32> {
    assert!(c > 0 && plane > 0 && x.len() % (c * plane) == 0, "batch norm: bad shapes");
    assert!([ch.mean.len(), ch.std.len(), ch.gamma.len(), ch.beta.len()] == [c; 4], "batch norm: bad channels");
    // Not zeroed first: every value is written below.
    let mut y: Vec<f32> = Vec::with_capacity(x.len());
    y.spare_capacity_mut()[..x.len()].par_chunks_mut(plane).zip(x.par_chunks(plane)).enumerate().for_each(|(i, (y, x))| {
        let k = i % c;
        let (mean, std, gamma, beta) = (ch.mean[k], ch.std[k], ch.gamma[k], ch.beta[k]);
        for (y, &x) in y.iter_mut().zip(x) {
            let v = ((x - mean) / std) * gamma + beta;
            // burn's ReLU: NaN passes, as in PyTorch.
            y.write(if !relu || v.is_nan() || v > 0.0 { v } else { 0.0 });
        }
    });
    // SAFETY: the chunks cover all x.len() values, each written once.
    unsafe { y.set_len(x.len()) };
    y
}

/// The input gradient from the output gradient `g`; `relu_out`: the forward's output when it
/// ended in ReLU (the gradient passes where it is positive or NaN).
pub fn backward(g: &[f32], relu_out: Option<&[f32]>, c: usize, plane: usize, gamma: &[f32], std: &[f32]) -> Vec<f32> {
    assert!(c > 0 && plane > 0 && g.len() % (c * plane) == 0 && relu_out.is_none_or(|y| y.len() == g.len()), "batch norm backward: bad shapes");
    assert!(gamma.len() == c && std.len() == c, "batch norm backward: bad channels");
    let mut dx = vec![0f32; g.len()];
    dx.par_chunks_mut(plane).enumerate().for_each(|(i, dx)| {
        let k = i % c;
        let (gamma, recip) = (gamma[k], 1.0 / std[k]);
        let span = i * plane..(i + 1) * plane;
        match relu_out {
            Some(y) => {
                for ((d, &g), &y) in dx.iter_mut().zip(&g[span.clone()]).zip(&y[span]) {
                    let g = if y.is_nan() || y > 0.0 { g } else { 0.0 };
                    *d = (g * gamma) * recip;
                }
            }
            None => {
                for (d, &g) in dx.iter_mut().zip(&g[span]) {
                    *d = (g * gamma) * recip;
                }
            }
        }
    });
    dx
}
