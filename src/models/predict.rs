//! One forward pass turned into what people read: probabilities, top-k, and two localization
//! maps (Tian's audio-visual similarity and the class activation map of the predicted class).

use burn::prelude::*;
use burn::tensor::activation::sigmoid;

use super::input::{Example, batch};
use super::{AvNet, FusionKind, LoadedModel, cosine_map, visual};

/// A map over the visual feature grid, row-major, `h` x `w`.
#[derive(Clone, Debug, PartialEq)]
pub struct Heatmap {
    pub h: usize,
    pub w: usize,
    pub values: Vec<f32>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    pub logits: Vec<f32>,
    pub probs: Vec<f32>,
    /// Class indices by falling probability.
    pub ranking: Vec<usize>,
    /// Cosine similarity of f_a with each position of the visual map, in [-1, 1]
    /// (audio-visual models only).
    pub av_map: Option<Heatmap>,
    /// Class activation map of the top class, scaled to [0, 1] (models with a visual net).
    pub cam: Option<Heatmap>,
}

impl Prediction {
    /// Probabilities and ranking from logits alone (no localization maps).
    pub fn from_logits(logits: Vec<f32>) -> Self {
        let probs = softmax(&logits);
        let mut ranking: Vec<usize> = (0..probs.len()).collect();
        ranking.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
        Self { logits, probs, ranking, av_map: None, cam: None }
    }

    pub fn top(&self, k: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
        self.ranking.iter().take(k).map(|&i| (i, self.probs[i]))
    }

    pub fn best(&self) -> usize {
        self.ranking[0]
    }
}

/// The index of the largest value (0 for an empty slice).
/// What an untargeted attack on a model's own prediction pushes away from: every class a
/// multi-label model hears (probability above 0.5), else its most probable class.
pub fn attack_labels(probs: &[f32], multi_label: bool) -> Vec<usize> {
    let above: Vec<usize> = (0..probs.len()).filter(|&i| multi_label && probs[i] > 0.5).collect();
    if above.is_empty() { vec![argmax(probs)] } else { above }
}

pub fn argmax(values: &[f32]) -> usize {
    values.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i)
}

/// Probabilities of logits: softmax over the classes, or each class's sigmoid (multi-label).
pub fn probabilities(logits: &[f32], sigmoid: bool) -> Vec<f32> {
    if sigmoid { logits.iter().map(|z| 1.0 / (1.0 + (-z).exp())).collect() } else { softmax(logits) }
}

pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.iter().map(|e| e / sum).collect()
}

fn vec_of<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.try_to_vec_as::<f32>().expect("float tensor")
}

/// Runs `model` on one example (inference: BatchNorm uses its running statistics).
pub fn predict(model: &LoadedModel, ex: &Example, device: &Device) -> Prediction {
    let (wave, pixels) = batch(&[ex], device);
    let out = model.net.forward(wave, pixels);
    let logits = vec_of(out.logits.clone());
    let probs = softmax(&logits);
    let mut ranking: Vec<usize> = (0..probs.len()).collect();
    ranking.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
    let (av_map, cam) = match &out.visual_map {
        Some(map) => {
            let [_, c, h, w] = map.dims();
            let av = out.fa.clone().map(|fa| Heatmap { h, w, values: vec_of(cosine_map(fa, map.clone()).reshape([h * w])) });
            let pooled = model.net.visual.as_ref().map_or_else(|| visual::pool(map.clone()), |v| v.pool_map(map.clone()));
            let g = cam_weights(&model.net, ranking[0], out.fa.clone(), pooled);
            let cam = g.reshape([1, c, 1, 1]) * map.clone();
            let mut values = vec_of(cam.sum_dim(1).reshape([h * w]));
            values.iter_mut().for_each(|v| *v = v.max(0.0));
            let peak = values.iter().copied().fold(0.0, f32::max);
            if peak > 0.0 {
                values.iter_mut().for_each(|v| *v /= peak);
            }
            (av, Some(Heatmap { h, w, values }))
        }
        None => (None, None),
    };
    Prediction { logits, probs, ranking, av_map, cam }
}

/// d logit_class / d f_v at the current features, [C]: the weights of the class activation map.
/// For Sum, Concat and visual-only this is the classifier row itself (classic CAM); FiLM and
/// the gated fusions scale it by how f_a modulates f_v.
pub fn cam_weights(net: &AvNet, class: usize, fa: Option<Tensor<2>>, fv: Tensor<2>) -> Tensor<1> {
    let [_, d] = fv.dims();
    let w = net.classifier.weight.val(); // [in, out]
    let [din, _] = w.dims();
    let row = |from: usize| w.clone().slice([from..from + d, class..class + 1]).reshape([d]);
    let fv = fv.reshape([d]);
    let sig_prime = |v: Tensor<1>| {
        let s = sigmoid(v);
        s.clone() * (s.neg() + 1.0)
    };
    match (net.fusion.kind, fa.map(|a| a.reshape([d]))) {
        (FusionKind::GatedSum, Some(a)) => row(0) * (sigmoid(a.clone()) + a * sig_prime(fv)),
        (FusionKind::GatedConcat, Some(a)) => row(0) * sigmoid(a.clone()) + row(d) * a * sig_prime(fv),
        (FusionKind::Film, Some(a)) => match &net.fusion.alpha {
            Some(alpha) => row(0) * alpha.forward(a.reshape([1, d])).reshape([d]),
            None => row(0),
        },
        (FusionKind::Concat, _) if din == 2 * d => row(d),
        _ => row(0),
    }
}
