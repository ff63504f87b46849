//! Principal-component projection of embeddings to 2-D (the papers show t-SNE; PCA is exact,
//! deterministic and keeps distances comparable between clean and attacked points, which are
//! projected with the axes fitted on the clean ones).

use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct Pca {
    pub dim: usize,
    pub mean: Vec<f32>,
    /// Two unit axes, [2, dim].
    pub axes: Vec<f32>,
    /// Variance along each axis and in total (the share the picture shows).
    pub variance: [f64; 2],
    pub total_variance: f64,
}

impl Pca {
    /// Fits the top two components of `rows` ([n, dim]) by power iteration on the covariance,
    /// the second deflated against the first. Deterministic (fixed start vector).
    pub fn fit(rows: &[f32], dim: usize) -> Self {
        let n = rows.len() / dim.max(1);
        let mut mean = vec![0f64; dim];
        for r in rows.chunks_exact(dim) {
            mean.iter_mut().zip(r).for_each(|(m, v)| *m += f64::from(*v));
        }
        mean.iter_mut().for_each(|m| *m /= n.max(1) as f64);
        let centred: Vec<f64> = rows.chunks_exact(dim).flat_map(|r| r.iter().zip(&mean).map(|(v, m)| f64::from(*v) - m)).collect();
        let total_variance = centred.iter().map(|v| v * v).sum::<f64>() / n.max(1) as f64;
        // C v = X^T (X v) / n, never forming C.
        let cov_times = |v: &[f64]| -> Vec<f64> {
            let mut out = vec![0f64; dim];
            for r in centred.chunks_exact(dim) {
                let s: f64 = r.iter().zip(v).map(|(a, b)| a * b).sum();
                out.iter_mut().zip(r).for_each(|(o, a)| *o += s * a);
            }
            out.iter_mut().for_each(|o| *o /= n.max(1) as f64);
            out
        };
        let mut axes = Vec::with_capacity(2 * dim);
        let mut variance = [0.0; 2];
        let mut found: Vec<Vec<f64>> = Vec::new();
        for (k, var) in variance.iter_mut().enumerate() {
            let mut v: Vec<f64> = (0..dim).map(|i| 1.0 + ((i * 7 + k * 3) % 11) as f64 / 11.0).collect();
            let mut lambda = 0.0;
            for _ in 0..200 {
                for f in &found {
                    let d: f64 = v.iter().zip(f).map(|(a, b)| a * b).sum();
                    v.iter_mut().zip(f).for_each(|(a, b)| *a -= d * b);
                }
                let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
                if norm < 1e-30 {
                    v = vec![0.0; dim];
                    break;
                }
                v.iter_mut().for_each(|a| *a /= norm);
                let next = cov_times(&v);
                let l: f64 = next.iter().zip(&v).map(|(a, b)| a * b).sum();
                let converged = (l - lambda).abs() <= 1e-10 * l.abs().max(1e-30);
                lambda = l;
                v = next;
                if converged {
                    break;
                }
            }
            for f in &found {
                let d: f64 = v.iter().zip(f).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(f).for_each(|(a, b)| *a -= d * b);
            }
            let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
            if norm > 1e-30 {
                v.iter_mut().for_each(|a| *a /= norm);
            }
            *var = lambda.max(0.0);
            axes.extend(v.iter().map(|a| *a as f32));
            found.push(v);
        }
        Self { dim, mean: mean.iter().map(|m| *m as f32).collect(), axes, variance, total_variance }
    }

    /// (x, y) of each row of `rows` ([n, dim]).
    pub fn project(&self, rows: &[f32]) -> Vec<[f32; 2]> {
        rows.chunks_exact(self.dim)
            .map(|r| {
                let mut p = [0f32; 2];
                for (k, out) in p.iter_mut().enumerate() {
                    let axis = &self.axes[k * self.dim..(k + 1) * self.dim];
                    *out = r.iter().zip(&self.mean).zip(axis).map(|((v, m), a)| (v - m) * a).sum();
                }
                p
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::rng::Rng;

    /// Points stretched along known orthogonal directions: PCA finds them, in order.
    #[test]
    fn finds_the_stretched_axes() {
        let dim = 5;
        let mut rng = Rng::new(1);
        let (u, w) = ([0.6f32, 0.8, 0.0, 0.0, 0.0], [0.0f32, 0.0, 0.0, 1.0, 0.0]);
        let mut rows = Vec::new();
        for _ in 0..2000 {
            let (a, b) = (5.0 * rng.normal(), 2.0 * rng.normal());
            for i in 0..dim {
                rows.push(10.0 + a * u[i] + b * w[i] + 0.1 * rng.normal());
            }
        }
        let p = Pca::fit(&rows, dim);
        let dot = |k: usize, v: &[f32]| p.axes[k * dim..(k + 1) * dim].iter().zip(v).map(|(a, b)| a * b).sum::<f32>().abs();
        assert!(dot(0, &u) > 0.999 && dot(1, &w) > 0.999, "{:?}", p.axes);
        assert!((p.variance[0] / 25.0 - 1.0).abs() < 0.1 && (p.variance[1] / 4.0 - 1.0).abs() < 0.1, "{:?}", p.variance);
        let xy = p.project(&rows[..dim]);
        assert_eq!(xy.len(), 1);
    }
}
