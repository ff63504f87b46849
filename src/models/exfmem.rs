//! Tian & Xu's ExFMem feature denoising: each feature f of a modality is replaced by
//! 0.5 * (its sparse reconstruction from a memory bank of training features) + 0.5 * f. The
//! sparse code solves min_z 0.5 ||f - z M||^2 + lambda ||z||_1 by ISTA, unrolled for a fixed
//! number of iterations in tensor operations, so an attack differentiates through it (the
//! adaptive attack a defense that runs an optimiser needs).

use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::relu;

/// One modality's memory bank: rows are training features.
#[derive(Clone, Debug)]
pub struct Bank {
    /// [n, dim], row-major, on the host (copied to the input's device at use).
    pub rows: Vec<f32>,
    pub n: usize,
    pub dim: usize,
    /// 1 / L, L = the largest eigenvalue of M M^T: ISTA's step.
    step: f32,
}

impl Bank {
    pub fn new(rows: Vec<f32>, dim: usize) -> Self {
        let n = rows.len() / dim.max(1);
        let l = largest_eigenvalue(&rows, n, dim);
        Self { rows, n, dim, step: if l > 0.0 { (1.0 / l) as f32 } else { 0.0 } }
    }
}

/// The defense: a bank per modality the model has.
#[derive(Clone, Debug)]
pub struct ExFMem {
    pub audio: Option<Bank>,
    pub visual: Option<Bank>,
    pub lambda: f32,
    pub iterations: usize,
}

impl ExFMem {
    pub const LAMBDA: f32 = 0.1;
    pub const ITERATIONS: usize = 20;

    /// 0.5 * reconstruction + 0.5 * f for f [B, dim].
    pub fn denoise(bank: &Bank, f: Tensor<2>, lambda: f32, iterations: usize) -> Tensor<2> {
        let device = f.device();
        let [b, _] = f.dims();
        let m = Tensor::<2>::from_data(TensorData::new(bank.rows.clone(), [bank.n, bank.dim]), &device);
        let mt = m.clone().transpose();
        let threshold = lambda * bank.step;
        let mut z = Tensor::<2>::zeros([b, bank.n], &device);
        for _ in 0..iterations {
            let residual = f.clone() - z.clone().matmul(m.clone());
            let v = z + residual.matmul(mt.clone()) * bank.step;
            // Soft threshold: sign(v) * max(|v| - t, 0).
            z = relu(v.clone() - threshold) - relu(v.neg() - threshold);
        }
        z.matmul(m) * 0.5 + f * 0.5
    }
}

/// Power iteration on M^T M ([dim, dim] implicit): its top eigenvalue is M M^T's.
fn largest_eigenvalue(rows: &[f32], n: usize, dim: usize) -> f64 {
    let mut v = vec![1.0f64 / (dim.max(1) as f64).sqrt(); dim];
    let mut lambda = 0.0;
    for _ in 0..100 {
        // u = M v, w = M^T u
        let u: Vec<f64> = (0..n).map(|i| rows[i * dim..(i + 1) * dim].iter().zip(&v).map(|(a, b)| f64::from(*a) * b).sum()).collect();
        let mut w = vec![0f64; dim];
        for (i, ui) in u.iter().enumerate() {
            w.iter_mut().zip(&rows[i * dim..(i + 1) * dim]).for_each(|(x, a)| *x += ui * f64::from(*a));
        }
        let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm == 0.0 {
            return 0.0;
        }
        let converged = (norm - lambda).abs() <= 1e-9 * norm;
        lambda = norm;
        v = w.iter().map(|x| x / norm).collect();
        if converged {
            break;
        }
    }
    lambda
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A feature that is a bank row comes back nearly unchanged (sparse code = that row,
    /// shrunk by lambda); a feature far from every row is pulled halfway towards the bank.
    #[test]
    fn reconstructs_from_the_bank() {
        let device = Device::flex();
        let rows = vec![1.0f32, 0.0, 0.0, 0.0, 1.0, 0.0];
        let bank = Bank::new(rows, 3);
        assert!((bank.step - 1.0).abs() < 1e-4, "orthonormal rows: L = 1");
        let f = Tensor::<2>::from_data(TensorData::new(vec![2.0f32, 0.0, 0.0, 0.0, 0.0, 3.0], [2, 3]), &device);
        let out: Vec<f32> = ExFMem::denoise(&bank, f, 0.1, 50).try_to_vec_as::<f32>().unwrap();
        // [2,0,0]: z = 2 - 0.1 = 1.9 -> 0.5*1.9 + 0.5*2 = 1.95.
        assert!((out[0] - 1.95).abs() < 1e-3, "{out:?}");
        // [0,0,3]: orthogonal to the bank, reconstruction 0 -> half the feature.
        assert!((out[5] - 1.5).abs() < 1e-4 && out[3].abs() < 1e-6, "{out:?}");
    }
}
