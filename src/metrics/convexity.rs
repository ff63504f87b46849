//! Li et al.'s convexity of a class (section 5): draw pairs of the class's embeddings, blend
//! them with theta ~ U[0, 1], run the classifier head on the blend; kappa_c is the fraction
//! still predicted as c. A class the head carves out as one convex region scores 1.

use serde::{Deserialize, Serialize};

use crate::data::rng::Rng;

/// A class's convexity, or why it has none.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Convexity {
    Defined { kappa: f64, n: usize, pairs: usize },
    /// Fewer than 2 samples: no pair to interpolate.
    Undefined { n: usize, reason: String },
}

impl Convexity {
    pub fn kappa(&self) -> Option<f64> {
        match self {
            Self::Defined { kappa, .. } => Some(*kappa),
            Self::Undefined { .. } => None,
        }
    }
}

/// Blends handed to the head at once.
const CHUNK: usize = 512;

/// kappa_c for every class of `emb` ([rows, dim], `labels` in 0..classes): `pairs`
/// interpolations per class between two distinct samples, drawn from `seed`. `head` maps
/// [k, dim] rows to k predicted classes.
pub fn class_convexity(
    emb: &[f32],
    dim: usize,
    labels: &[u32],
    classes: usize,
    pairs: usize,
    seed: u64,
    head: &mut dyn FnMut(&[f32], usize) -> Vec<usize>,
) -> Vec<Convexity> {
    (0..classes)
        .map(|c| {
            let members: Vec<usize> = labels.iter().enumerate().filter(|(_, l)| **l as usize == c).map(|(i, _)| i).collect();
            let n = members.len();
            if n < 2 {
                return Convexity::Undefined { n, reason: format!("{n} sample(s); at least 2 are needed") };
            }
            if pairs == 0 {
                return Convexity::Undefined { n, reason: "no interpolations asked for".into() };
            }
            let mut rng = Rng::derive(seed, 0xc0ffee, c as u64);
            let mut inside = 0usize;
            let mut done = 0usize;
            while done < pairs {
                let k = CHUNK.min(pairs - done);
                let mut blend = Vec::with_capacity(k * dim);
                for _ in 0..k {
                    let i = members[rng.below(n)];
                    // A distinct partner: a pair of one sample is that sample, not a blend.
                    let mut j = members[rng.below(n - 1)];
                    if j == i {
                        j = members[n - 1];
                    }
                    let theta = rng.uniform();
                    let (a, b) = (&emb[i * dim..(i + 1) * dim], &emb[j * dim..(j + 1) * dim]);
                    blend.extend(a.iter().zip(b).map(|(x, y)| theta * x + (1.0 - theta) * y));
                }
                inside += head(&blend, k).iter().filter(|p| **p == c).count();
                done += k;
            }
            Convexity::Defined { kappa: inside as f64 / pairs as f64, n, pairs }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A linear head: argmax of W x + b.
    fn linear(w: &[[f32; 2]], b: &[f32]) -> impl FnMut(&[f32], usize) -> Vec<usize> {
        let (w, b) = (w.to_vec(), b.to_vec());
        move |x: &[f32], k: usize| {
            (0..k)
                .map(|r| {
                    let row = &x[r * 2..r * 2 + 2];
                    let scores: Vec<f32> = w.iter().zip(&b).map(|(wc, bc)| wc[0] * row[0] + wc[1] * row[1] + bc).collect();
                    crate::models::predict::argmax(&scores)
                })
                .collect()
        }
    }

    fn blobs(centres: &[(f32, f32)], spread: f32, per_class: usize, rng: &mut Rng) -> (Vec<f32>, Vec<u32>) {
        let (mut emb, mut labels) = (Vec::new(), Vec::new());
        for (c, (x, y)) in centres.iter().enumerate() {
            for _ in 0..per_class {
                emb.extend([x + spread * rng.normal(), y + spread * rng.normal()]);
                labels.push(c as u32);
            }
        }
        (emb, labels)
    }

    /// Every region of a linear classifier is convex (an intersection of half-planes), so
    /// classes it separates perfectly keep every blend: kappa = 1.
    #[test]
    fn a_linear_head_on_separable_classes_gives_one() {
        let mut rng = Rng::new(5);
        let (emb, labels) = blobs(&[(-4.0, 0.0), (4.0, 0.0), (0.0, 6.0)], 0.5, 200, &mut rng);
        // Scores = centre . x - |centre|^2 / 2: nearest-centre, a linear rule.
        let centres = [[-4.0f32, 0.0], [4.0, 0.0], [0.0, 6.0]];
        let b: Vec<f32> = centres.iter().map(|c| -(c[0] * c[0] + c[1] * c[1]) / 2.0).collect();
        let mut head = linear(&centres, &b);
        let k = class_convexity(&emb, 2, &labels, 3, 2000, 1, &mut head);
        for c in &k {
            assert_eq!(c.kappa(), Some(1.0), "{k:?}");
        }
    }

    /// A class in two clumps with another class between them: half the blends cross it.
    #[test]
    fn a_split_class_loses_its_blends() {
        let mut rng = Rng::new(6);
        let (mut emb, mut labels) = blobs(&[(-6.0, 0.0), (0.0, 0.0)], 0.3, 300, &mut rng);
        let (far, _) = blobs(&[(6.0, 0.0)], 0.3, 300, &mut rng);
        emb.extend(far);
        labels.extend(std::iter::repeat_n(0u32, 300));
        // Class 1 owns |x| < 3, class 0 the rest.
        let mut head = |x: &[f32], k: usize| (0..k).map(|r| if x[r * 2].abs() < 3.0 { 1 } else { 0 }).collect::<Vec<_>>();
        let k = class_convexity(&emb, 2, &labels, 3, 4000, 2, &mut head);
        // Pairs from different clumps (half of them) cross |x| < 3 half the time: kappa ~ 0.75.
        let k0 = k[0].kappa().unwrap();
        assert!((k0 - 0.75).abs() < 0.04, "{k0}");
        assert_eq!(k[1].kappa(), Some(1.0));
        assert!(matches!(k[2], Convexity::Undefined { n: 0, .. }));
    }

    #[test]
    fn the_draws_replay_from_the_seed() {
        let mut rng = Rng::new(7);
        let (emb, labels) = blobs(&[(0.0, 0.0), (1.0, 0.0)], 1.0, 50, &mut rng);
        let mut head = linear(&[[-1.0, 0.0], [1.0, 0.0]], &[0.0, -0.5]);
        let a = class_convexity(&emb, 2, &labels, 2, 700, 9, &mut head);
        let b = class_convexity(&emb, 2, &labels, 2, 700, 9, &mut head);
        assert_eq!(a, b);
        assert!(a.iter().all(|c| c.kappa().is_some_and(|k| k > 0.0 && k < 1.0)), "{a:?}");
    }
}
