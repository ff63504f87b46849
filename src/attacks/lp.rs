//! Plain CPU references for the attack arithmetic, per sample: projection onto the Lp ball
//! around the clean input fused with valid-range clipping, gradient normalisation, and the
//! measures reported with every result. The WGSL kernels (attack issue) are checked against
//! these.

/// L-inf: clamp to [clean - eps, clean + eps], then to [lo, hi].
pub fn project_linf(x: &mut [f32], clean: &[f32], eps: f32, lo: f32, hi: f32) {
    for (v, c) in x.iter_mut().zip(clean) {
        *v = v.clamp(c - eps, c + eps).clamp(lo, hi);
    }
}

/// L2: scale delta by min(1, eps / ||delta||), then clip to [lo, hi]. Clipping moves each
/// coordinate towards the (valid) clean value, so the norm bound still holds afterwards.
pub fn project_l2(x: &mut [f32], clean: &[f32], eps: f32, lo: f32, hi: f32) {
    let norm = x.iter().zip(clean).map(|(v, c)| (v - c) * (v - c)).sum::<f32>().sqrt();
    let scale = if norm > eps && norm > 0.0 { eps / norm } else { 1.0 };
    for (v, c) in x.iter_mut().zip(clean) {
        *v = (c + (*v - c) * scale).clamp(lo, hi);
    }
}

pub fn sign(g: &[f32]) -> Vec<f32> {
    g.iter().map(|&v| if v > 0.0 { 1.0 } else if v < 0.0 { -1.0 } else { 0.0 }).collect()
}

/// g / ||g||_p; a zero gradient stays zero (no NaN).
pub fn normalise(g: &[f32], p: u8) -> Vec<f32> {
    let norm = match p {
        1 => g.iter().map(|v| v.abs()).sum::<f32>(),
        _ => g.iter().map(|v| v * v).sum::<f32>().sqrt(),
    };
    if norm > 0.0 && norm.is_finite() { g.iter().map(|v| v / norm).collect() } else { vec![0.0; g.len()] }
}

pub fn linf(delta: impl Iterator<Item = f32>) -> f32 {
    delta.fold(0.0, |m, v| m.max(v.abs()))
}

pub fn l2(delta: impl Iterator<Item = f32>) -> f32 {
    delta.map(|v| v * v).sum::<f32>().sqrt()
}

/// Signal-to-noise ratio of `adv` against `clean`, dB; None when nothing changed.
pub fn snr_db(clean: &[f32], adv: &[f32]) -> Option<f32> {
    let noise: f32 = clean.iter().zip(adv).map(|(c, a)| (a - c) * (a - c)).sum();
    let signal: f32 = clean.iter().map(|c| c * c).sum();
    (noise > 0.0).then(|| 10.0 * (signal.max(f32::MIN_POSITIVE) / noise).log10())
}

/// PSNR of pixels in [0, 1], dB; None when nothing changed.
pub fn psnr_db(clean: &[f32], adv: &[f32]) -> Option<f32> {
    let mse = clean.iter().zip(adv).map(|(c, a)| (a - c) * (a - c)).sum::<f32>() / clean.len().max(1) as f32;
    (mse > 0.0).then(|| 10.0 * (1.0 / mse).log10())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projections_hold_the_ball_and_the_range() {
        let clean = [0.0, 0.5, 0.98, -0.98];
        let mut x = [0.3, 0.45, 1.5, -1.2];
        project_linf(&mut x, &clean, 0.1, -1.0, 1.0);
        assert_eq!(x, [0.1, 0.45, 1.0, -1.0]);
        let mut inside = [0.01, 0.5, 0.98, -0.98];
        project_l2(&mut inside, &clean, 0.1, -1.0, 1.0);
        assert_eq!(inside, [0.01, 0.5, 0.98, -0.98], "a delta inside the ball is left alone");
        let mut far = [3.0, 4.5, 0.98, -0.98];
        project_l2(&mut far, &clean, 0.5, -10.0, 10.0);
        let d = l2(far.iter().zip(&clean).map(|(a, c)| a - c));
        assert!((d - 0.5).abs() < 1e-6, "{d}");
    }

    #[test]
    fn normalisation_and_measures() {
        assert_eq!(sign(&[2.0, -0.1, 0.0]), [1.0, -1.0, 0.0]);
        assert_eq!(normalise(&[0.0, 0.0], 2), [0.0, 0.0]);
        assert_eq!(normalise(&[3.0, -4.0], 2), [0.6, -0.8]);
        assert_eq!(normalise(&[1.0, -3.0], 1), [0.25, -0.75]);
        assert_eq!(snr_db(&[1.0, 1.0], &[1.0, 1.0]), None);
        let snr = snr_db(&[1.0, -1.0], &[1.1, -1.1]).unwrap();
        assert!((snr - 20.0).abs() < 1e-3, "{snr}");
        let psnr = psnr_db(&[0.5, 0.5], &[0.6, 0.4]).unwrap();
        assert!((psnr - 20.0).abs() < 1e-3, "{psnr}");
    }
}
