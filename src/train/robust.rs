//! Training for robustness: Li et al.'s density-convexity mixup, Wong et al.'s fast
//! adversarial training (FGSM from a random start), and Tian & Xu's MinSim / MaxSim terms.

use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::log_softmax;
use serde::{Deserialize, Serialize};

use crate::attacks::lp;
use crate::data::prepare::Prepared;
use crate::data::rng::Rng;
use crate::metrics::classwise::{Samples, embed, head_predictions};
use crate::metrics::convexity::class_convexity;
use crate::metrics::density;
use crate::models::input::Example;
use crate::models::{AvNet, InputSize};

/// Density-convexity mixup (Li et al.): only classes that are dense (rho_c > `rho_above`; None:
/// above the median of this epoch's rho values, since rho's scale depends on the data and the
/// feature dimension) yet not convex (kappa_c < `kappa_below`) are mixed, with partners from another such class,
/// preferring samples inside the tau-quantile radius. The metrics are recomputed every epoch
/// on the fused features of the training clips (and `views - 1` augmented views of each).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DcMixup {
    pub kappa_below: f64,
    pub rho_above: Option<f64>,
    pub tau: f64,
    pub views: usize,
    pub pairs: usize,
    /// Chance that an example of an eligible class is mixed.
    pub prob: f32,
}

/// What the mixup saw and chose in one epoch (the training log keeps it).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct MixupEpoch {
    pub kappa_below: f64,
    /// The density threshold used this epoch (the median when none was given).
    pub rho_above: f64,
    pub kappa: Vec<Option<f64>>,
    pub rho: Vec<Option<f64>>,
    /// Names of the classes selected for mixing.
    pub selected: Vec<String>,
    /// Examples mixed this epoch.
    #[serde(default)]
    pub mixed: usize,
}

/// The per-epoch plan: which classes are eligible and, per class, the items to draw partners
/// from (those inside R_tau, or all of the class when none is).
#[derive(Clone, Debug, Default)]
pub struct MixupPlan {
    pub eligible: Vec<bool>,
    pub members: Vec<Vec<usize>>,
}

impl MixupPlan {
    /// Measures `net` on the training items and selects classes.
    pub fn measure(net: &AvNet, items: &[&Prepared], classes: &[String], size: InputSize, cfg: &DcMixup, seed: u64, device: &Device) -> (Self, MixupEpoch) {
        let never = std::sync::atomic::AtomicBool::new(false);
        let samples = Samples { items, size, views: cfg.views, seed };
        let labels = samples.labels();
        let emb = embed(net, &samples, None, 16, device, &never, &mut |_| {}).expect("not cancellable");
        // One set of distances serves the densities and the partners' R_tau.
        let labels32: Vec<u32> = labels.iter().map(|&l| l as u32).collect();
        let dist = density::centroid_distances(&emb.fused, emb.fused_dim, &labels32, classes.len(), 2.0, crate::kernels::for_device(device));
        let sorted: Vec<Vec<f32>> = (0..classes.len())
            .map(|c| {
                let mut d = density::distances_of(&dist, &labels32, c);
                d.sort_by(f32::total_cmp);
                d
            })
            .collect();
        let rho: Vec<Option<f64>> = sorted.iter().map(|d| density::density_of(&mut d.clone(), emb.fused_dim, cfg.tau).rho()).collect();
        let kappa: Vec<Option<f64>> = class_convexity(&emb.fused, emb.fused_dim, &labels32, classes.len(), cfg.pairs, seed, &mut |rows, k| head_predictions(net, rows, k, device))
            .iter()
            .map(|k| k.kappa())
            .collect();
        let rho_above = cfg.rho_above.unwrap_or_else(|| median(rho.iter().flatten().copied().collect()));
        let eligible: Vec<bool> = (0..classes.len())
            .map(|c| matches!((kappa[c], rho[c]), (Some(k), Some(r)) if k < cfg.kappa_below && r > rho_above))
            .collect();
        // An item's distance: that of its unaugmented view (the first of its views).
        let views = cfg.views.max(1);
        let members: Vec<Vec<usize>> = (0..classes.len())
            .map(|c| {
                let r_tau = density::quantile_radius(&sorted[c], cfg.tau);
                let all: Vec<usize> = (0..items.len()).filter(|&i| items[i].label == c).collect();
                let inside: Vec<usize> = all.iter().copied().filter(|&i| dist[i * views] <= r_tau).collect();
                if inside.is_empty() { all } else { inside }
            })
            .collect();
        let selected = (0..classes.len()).filter(|&c| eligible[c]).map(|c| classes[c].clone()).collect();
        let log = MixupEpoch { kappa_below: cfg.kappa_below, rho_above, kappa, rho, selected, mixed: 0 };
        (Self { eligible, members }, log)
    }

    /// A partner item for an example of class `label`: from another eligible class, or None
    /// when `label` is not eligible or no other class is.
    pub fn partner(&self, label: usize, rng: &mut Rng) -> Option<usize> {
        if !self.eligible.get(label).copied().unwrap_or(false) {
            return None;
        }
        let others: Vec<usize> = (0..self.eligible.len()).filter(|&c| c != label && self.eligible[c] && !self.members[c].is_empty()).collect();
        if others.is_empty() {
            return None;
        }
        let c = others[rng.below(others.len())];
        Some(self.members[c][rng.below(self.members[c].len())])
    }
}

/// The median (mean of the middle two for an even count); infinity for none, so nothing passes.
fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::INFINITY;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) }
}

/// Soft targets [B, classes]: example k has `labels[k]` with weight 1 - w and `mixes[k].0` with
/// weight w = `mixes[k].1` (w = 0: the plain label). Every row sums to 1.
pub fn mix_targets(labels: &[usize], mixes: &[(usize, f32)], classes: usize) -> Vec<f32> {
    let mut t = vec![0.0f32; labels.len() * classes];
    for (k, (&l, &(m, w))) in labels.iter().zip(mixes).enumerate() {
        t[k * classes + l] += 1.0 - w;
        t[k * classes + m] += w;
    }
    t
}

/// Mean cross-entropy of `logits` against soft `targets` ([B, classes], rows summing to 1).
pub fn soft_loss(logits: Tensor<2>, targets: &[f32], device: &Device) -> Tensor<1> {
    let [b, classes] = logits.dims();
    let t = Tensor::<2>::from_data(TensorData::new(targets.to_vec(), [b, classes]), device);
    (t * log_softmax(logits, 1)).sum_dim(1).mean().neg()
}

/// Fast adversarial training (Wong et al. 2020): each training batch is replaced by FGSM from a
/// uniform random start in the L-inf ball, step `1.25 eps`, projected back to the ball and the
/// valid range; both modalities at once (those the model has).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FastAdversarial {
    pub eps_a: f32,
    pub eps_v: f32,
}

impl FastAdversarial {
    /// The adversarial batch for `net` (the model being trained, on an autodiff device).
    pub fn perturb(&self, net: &AvNet, examples: &[Example], targets: &[f32], rng: &mut Rng, device: &Device) -> Vec<Example> {
        let Some(first) = examples.first() else { return Vec::new() };
        let size = first.size;
        let b = examples.len();
        let start = |x: &[f32], eps: f32, lo: f32, hi: f32, rng: &mut Rng| -> Vec<f32> { x.iter().map(|v| (v + rng.range(-eps, eps)).clamp(lo, hi)).collect() };
        let wave: Vec<f32> = examples.iter().flat_map(|e| start(&e.wave, self.eps_a, -1.0, 1.0, rng)).collect();
        let pixels: Vec<f32> = examples.iter().flat_map(|e| start(&e.pixels, self.eps_v, 0.0, 1.0, rng)).collect();
        let w = Tensor::<3>::from_data(TensorData::new(wave.clone(), [b, 1, size.samples]), device).require_grad();
        let p = Tensor::<4>::from_data(TensorData::new(pixels.clone(), [b, 3, size.pixels, size.pixels]), device).require_grad();
        let logits = net.forward(w.clone(), p.clone()).logits;
        let grads = soft_loss(logits, targets, device).backward();
        let ga = w.grad(&grads).map(|g| g.try_to_vec_as::<f32>().expect("f32"));
        let gv = p.grad(&grads).map(|g| g.try_to_vec_as::<f32>().expect("f32"));
        // x' = clip(x_start + 1.25 eps sign(g)) to the ball around x and the valid range.
        let step = |x0: &[f32], start: &[f32], g: Option<&[f32]>, eps: f32, lo: f32, hi: f32| -> Vec<f32> {
            let Some(g) = g else { return x0.to_vec() };
            let mut x: Vec<f32> = start.iter().zip(lp::sign(g)).map(|(s, d)| s + 1.25 * eps * d).collect();
            lp::project_linf(&mut x, x0, eps, lo, hi);
            x
        };
        let (na, nv) = (size.samples, size.pixel_values());
        examples
            .iter()
            .enumerate()
            .map(|(k, e)| Example {
                wave: step(&e.wave, &wave[k * na..(k + 1) * na], ga.as_deref().map(|g| &g[k * na..(k + 1) * na]), self.eps_a, -1.0, 1.0),
                pixels: step(&e.pixels, &pixels[k * nv..(k + 1) * nv], gv.as_deref().map(|g| &g[k * nv..(k + 1) * nv]), self.eps_v, 0.0, 1.0),
                size,
            })
            .collect()
    }
}

/// Tian & Xu's similarity terms on the audio and visual features.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Similarity {
    /// Loss + weight * mean cos(f_a, f_v): pushes the two apart.
    MinSim,
    /// Loss - weight * mean cos(f_a, f_v): pulls them together.
    MaxSim,
}

impl Similarity {
    /// The term to add to the loss.
    pub fn term(self, fa: Tensor<2>, fv: Tensor<2>, weight: f32) -> Tensor<1> {
        let eps = 1e-8;
        let dot = (fa.clone() * fv.clone()).sum_dim(1);
        let norms = fa.powf_scalar(2.0).sum_dim(1).sqrt() * fv.powf_scalar(2.0).sum_dim(1).sqrt() + eps;
        let cos = (dot / norms).mean();
        match self {
            Self::MinSim => cos * weight,
            Self::MaxSim => cos * -weight,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_threshold() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(Vec::new()), f64::INFINITY);
    }

    #[test]
    fn mixed_targets_sum_to_one() {
        let t = mix_targets(&[0, 2, 1], &[(1, 0.3), (2, 0.0), (0, 0.75)], 3);
        for row in t.chunks(3) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6, "{row:?}");
        }
        assert_eq!(&t[..3], &[0.7, 0.3, 0.0]);
        assert_eq!(&t[3..6], &[0.0, 0.0, 1.0]);
    }

    /// Only eligible classes are mixed, and only with another eligible class.
    #[test]
    fn partners_come_from_other_eligible_classes() {
        let plan = MixupPlan { eligible: vec![true, false, true, true], members: vec![vec![0, 1], vec![2], vec![3], vec![4, 5]] };
        let class_of = [0, 0, 1, 2, 3, 3];
        let mut rng = Rng::new(3);
        let mut seen = [0usize; 4];
        for _ in 0..3000 {
            assert_eq!(plan.partner(1, &mut rng), None, "class 1 is not eligible");
            let j = plan.partner(0, &mut rng).expect("eligible with eligible partners");
            assert!(class_of[j] == 2 || class_of[j] == 3, "partner {j}");
            seen[class_of[j]] += 1;
        }
        assert!(seen[2] > 1300 && seen[3] > 1300, "both partner classes drawn: {seen:?}");
        let alone = MixupPlan { eligible: vec![true, false], members: vec![vec![0], vec![1]] };
        assert_eq!(alone.partner(0, &mut rng), None, "no other eligible class");
    }

    #[test]
    fn similarity_terms_have_opposite_signs() {
        let device = Device::flex();
        let a = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 0.0, 1.0, 1.0], [2, 2]), &device);
        let v = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 0.0, 1.0, -1.0], [2, 2]), &device);
        // cos: 1 and 0, mean 0.5.
        let min: f32 = Similarity::MinSim.term(a.clone(), v.clone(), 2.0).into_scalar();
        let max: f32 = Similarity::MaxSim.term(a, v, 2.0).into_scalar();
        assert!((min - 1.0).abs() < 1e-5 && (max + 1.0).abs() < 1e-5, "{min} {max}");
    }
}
