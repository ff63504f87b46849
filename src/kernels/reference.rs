//! CPU references for the kernels that have no other home yet.

/// Distance of each row of `emb` ([rows, dim]) to `centroids[labels[row]]` in the Lp norm
/// (p = infinity allowed).
pub fn centroid_distances(emb: &[f32], dim: usize, centroids: &[f32], labels: &[u32], p: f32) -> Vec<f32> {
    labels
        .iter()
        .enumerate()
        .map(|(row, &l)| {
            let d = (0..dim).map(|k| (emb[row * dim + k] - centroids[l as usize * dim + k]).abs());
            if p.is_infinite() {
                d.fold(0.0, f32::max)
            } else if p == 1.0 {
                d.sum()
            } else {
                d.map(|v| v.powf(p)).sum::<f32>().powf(1.0 / p)
            }
        })
        .collect()
}
