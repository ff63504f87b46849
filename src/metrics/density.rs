//! Li et al.'s centroid density of a class (section 5, with the corrected volume exponent, see
//! SCIENCE.md): with d_i = ||l_i - o_c||_p the distances of the class's embeddings to their
//! centroid, R_c = max d_i, R_tau = the tau-quantile of the d_i and n_tau = tau * n_c,
//!
//! ```text
//! rho_c = (n_c - n_tau) / (log V(R_c) - log V(R_tau)) = (n_c - n_tau) / (d * ln(R_c / R_tau))
//! ```
//!
//! since the Gamma terms of the Lp-ball volume cancel. Computed in log space. The distances come
//! from the WGSL kernel when the caller has one (its model sits on the shared GPU:
//! `kernels::for_device`), else from its CPU reference; nothing opens a GPU just for this.

use serde::{Deserialize, Serialize};

use crate::kernels::{Kernels, reference};

/// A class's density, or why it has none.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Density {
    Defined { rho: f64, n: usize, r_c: f32, r_tau: f32 },
    /// Fewer than 2 samples, or R_c == R_tau (all outer samples at one radius): no volume between
    /// the two radii, so no density. Reported as such, never as NaN or infinity.
    Undefined { n: usize, reason: String },
}

impl Density {
    pub fn rho(&self) -> Option<f64> {
        match self {
            Self::Defined { rho, .. } => Some(*rho),
            Self::Undefined { .. } => None,
        }
    }
}

/// Per-class centroids of `emb` ([rows, dim]) with `labels` in 0..classes (a class without
/// samples gets a zero centroid).
pub fn centroids(emb: &[f32], dim: usize, labels: &[u32], classes: usize) -> Vec<f32> {
    let mut sum = vec![0f64; classes * dim];
    let mut count = vec![0usize; classes];
    for (row, &l) in labels.iter().enumerate() {
        let l = l as usize;
        count[l] += 1;
        for k in 0..dim {
            sum[l * dim + k] += f64::from(emb[row * dim + k]);
        }
    }
    sum.iter().enumerate().map(|(i, s)| (s / count[i / dim].max(1) as f64) as f32).collect()
}

/// rho_c for every class; `tau` in (0, 1), `p` >= 1 or infinity.
pub fn class_density(emb: &[f32], dim: usize, labels: &[u32], classes: usize, tau: f64, p: f32, kernels: Option<&Kernels>) -> Vec<Density> {
    let dist = centroid_distances(emb, dim, labels, classes, p, kernels);
    (0..classes).map(|c| density_of(&mut distances_of(&dist, labels, c), dim, tau)).collect()
}

/// Each row's Lp distance to its class centroid: the kernel's when given, else the CPU
/// reference's.
pub fn centroid_distances(emb: &[f32], dim: usize, labels: &[u32], classes: usize, p: f32, kernels: Option<&Kernels>) -> Vec<f32> {
    let cents = centroids(emb, dim, labels, classes);
    kernels
        .and_then(|k| k.centroid_distances(emb, dim, &cents, labels, p).ok())
        .unwrap_or_else(|| reference::centroid_distances(emb, dim, &cents, labels, p))
}

/// The distances of class `c`'s rows.
pub fn distances_of(dist: &[f32], labels: &[u32], c: usize) -> Vec<f32> {
    labels.iter().zip(dist).filter(|(l, _)| **l as usize == c).map(|(_, d)| *d).collect()
}

/// R_tau of ascending distances: the nearest-rank quantile, the smallest distance with at
/// least tau * n samples at or below it (0 for none).
pub fn quantile_radius(sorted: &[f32], tau: f64) -> f32 {
    let n = sorted.len();
    if n == 0 {
        return 0.0;
    }
    sorted[((tau * n as f64).ceil() as usize).clamp(1, n) - 1]
}

/// The density of one class from its distances (sorted here).
pub fn density_of(d: &mut [f32], dim: usize, tau: f64) -> Density {
    let n = d.len();
    if n < 2 {
        return Density::Undefined { n, reason: format!("{n} sample(s); at least 2 are needed") };
    }
    d.sort_by(f32::total_cmp);
    let (r_c, r_tau) = (d[n - 1], quantile_radius(d, tau));
    if !(r_tau > 0.0) || r_c <= r_tau {
        return Density::Undefined { n, reason: format!("R_c = {r_c} and R_tau = {r_tau}: no volume between them") };
    }
    let n_tau = tau * n as f64;
    let rho = (n as f64 - n_tau) / (dim as f64 * (f64::from(r_c).ln() - f64::from(r_tau).ln()));
    Density::Defined { rho, n, r_c, r_tau }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::rng::Rng;

    /// Points uniform in a d-ball of radius R: P(r <= x) = (x/R)^d, so R_tau = R tau^(1/d),
    /// ln(R_c / R_tau) -> -ln(tau) / d and rho -> n (1 - tau) / (-ln tau), whatever d and R.
    /// Samples come in mirrored pairs (c + v, c - v) so the estimated centroid is exact: R_c is
    /// a maximum, and a centroid off by delta would move it out by up to |delta| (about 14% of
    /// ln(R_c / R_tau) at this n), which is the estimator's behaviour, not what is tested here.
    #[test]
    fn uniform_balls_match_the_closed_form() {
        let (dim, n, tau) = (6usize, 4000usize, 0.6f64);
        let mut rng = Rng::new(3);
        let mut emb = Vec::new();
        let mut labels = Vec::new();
        for (class, (radius, centre)) in [(1.0f32, 5.0f32), (3.0, -2.0)].into_iter().enumerate() {
            for _ in 0..n / 2 {
                let g: Vec<f32> = (0..dim).map(|_| rng.normal()).collect();
                let norm = g.iter().map(|v| v * v).sum::<f32>().sqrt();
                let r = radius * rng.uniform().powf(1.0 / dim as f32);
                for sign in [1.0, -1.0] {
                    emb.extend(g.iter().map(|v| centre + sign * r * v / norm));
                    labels.push(class as u32);
                }
            }
        }
        let expected = n as f64 * (1.0 - tau) / -tau.ln();
        for d in class_density(&emb, dim, &labels, 2, tau, 2.0, None) {
            let rho = d.rho().expect("defined");
            assert!((rho / expected - 1.0).abs() < 0.05, "rho {rho} vs {expected}");
        }
    }

    #[test]
    fn degenerate_classes_are_undefined_not_nan() {
        let emb = vec![0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0];
        // Class 0: one sample. Class 1: three samples at the same point (R_c = R_tau = 0).
        let labels = vec![0, 1, 1, 1];
        let d = class_density(&emb, 2, &labels, 3, 0.6, 2.0, None);
        assert!(matches!(&d[0], Density::Undefined { n: 1, .. }));
        assert!(matches!(&d[1], Density::Undefined { n: 3, .. }));
        assert!(matches!(&d[2], Density::Undefined { n: 0, .. }), "a class with no samples");
        let json = serde_json::to_string(&d).unwrap();
        assert!(!json.contains("NaN") && json.contains("undefined"), "{json}");
    }
}
