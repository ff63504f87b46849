//! Mel filterbanks and windows exactly as librosa computes them (`librosa.filters.mel`,
//! `scipy.signal.get_window('hann', n, fftbins=True)`), in f64 and then rounded to f32 like
//! librosa's float32 output: published spectrogram models were trained on these numbers.

/// How frequencies map to mels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MelScale {
    /// Slaney's Auditory Toolbox: linear below 1 kHz, logarithmic above (librosa's default).
    Slaney,
    /// 2595 log10(1 + f / 700).
    Htk,
}

/// How each triangle is scaled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MelNorm {
    /// Divided by its width in Hz (constant energy per band; librosa's default).
    Slaney,
    /// Peak 1.
    None,
}

pub fn hz_to_mel(f: f64, scale: MelScale) -> f64 {
    match scale {
        MelScale::Htk => 2595.0 * (1.0 + f / 700.0).log10(),
        MelScale::Slaney => {
            let (f_sp, min_log_hz) = (200.0 / 3.0, 1000.0);
            let min_log_mel = min_log_hz / f_sp;
            let logstep = 6.4f64.ln() / 27.0;
            if f >= min_log_hz { min_log_mel + (f / min_log_hz).ln() / logstep } else { f / f_sp }
        }
    }
}

pub fn mel_to_hz(m: f64, scale: MelScale) -> f64 {
    match scale {
        MelScale::Htk => 700.0 * (10f64.powf(m / 2595.0) - 1.0),
        MelScale::Slaney => {
            let (f_sp, min_log_hz) = (200.0 / 3.0, 1000.0);
            let min_log_mel = min_log_hz / f_sp;
            let logstep = 6.4f64.ln() / 27.0;
            if m >= min_log_mel { min_log_hz * (logstep * (m - min_log_mel)).exp() } else { f_sp * m }
        }
    }
}

/// `n_mels` triangles over the `n_fft / 2 + 1` bins of a real FFT at `sample_rate`, row-major
/// `[n_mels][n_fft / 2 + 1]`, as `librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax, htk, norm)`.
pub fn mel_filters(sample_rate: f64, n_fft: usize, n_mels: usize, f_min: f64, f_max: f64, scale: MelScale, norm: MelNorm) -> Vec<f32> {
    let bins = n_fft / 2 + 1;
    let fft_hz: Vec<f64> = (0..bins).map(|k| k as f64 * sample_rate / n_fft as f64).collect();
    let (lo, hi) = (hz_to_mel(f_min, scale), hz_to_mel(f_max, scale));
    // librosa: np.linspace(min_mel, max_mel, n_mels + 2), then back to Hz.
    let n = n_mels + 2;
    let edges: Vec<f64> = (0..n).map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (n - 1) as f64, scale)).collect();
    let mut w = vec![0f32; n_mels * bins];
    for m in 0..n_mels {
        let (f0, f1, f2) = (edges[m], edges[m + 1], edges[m + 2]);
        let scale_by = match norm {
            MelNorm::Slaney => 2.0 / (f2 - f0),
            MelNorm::None => 1.0,
        };
        for (k, &f) in fft_hz.iter().enumerate() {
            let lower = (f - f0) / (f1 - f0);
            let upper = (f2 - f) / (f2 - f1);
            w[m * bins + k] = (lower.min(upper).max(0.0) * scale_by) as f32;
        }
    }
    w
}

/// The periodic Hann window of `n` samples (`fftbins=True`, as torch.hann_window and librosa).
pub fn hann(n: usize) -> Vec<f32> {
    (0..n).map(|i| (0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / n as f64).cos()) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slaney_scale_is_linear_below_1khz_and_inverts() {
        assert!((hz_to_mel(1000.0, MelScale::Slaney) - 15.0).abs() < 1e-12);
        assert!((hz_to_mel(200.0, MelScale::Slaney) - 3.0).abs() < 1e-12);
        for f in [0.0, 50.0, 999.0, 1000.0, 4000.0, 14000.0] {
            for s in [MelScale::Slaney, MelScale::Htk] {
                assert!((mel_to_hz(hz_to_mel(f, s), s) - f).abs() < 1e-6, "{f} {s:?}");
            }
        }
    }

    #[test]
    fn triangles_cover_the_band_and_slaney_norm_divides_by_width() {
        let (n_fft, n_mels) = (1024, 64);
        let w = mel_filters(32000.0, n_fft, n_mels, 50.0, 14000.0, MelScale::Slaney, MelNorm::None);
        let bins = n_fft / 2 + 1;
        // Every filter has a peak near 1 and nothing outside [f_min, f_max].
        for m in 0..n_mels {
            let row = &w[m * bins..(m + 1) * bins];
            assert!(row.iter().copied().fold(0.0, f32::max) > 0.3);
            assert_eq!(row[0], 0.0);
            assert!(row[(14100.0 / 32000.0 * n_fft as f64) as usize..].iter().all(|v| *v == 0.0));
        }
        let n = mel_filters(32000.0, n_fft, n_mels, 50.0, 14000.0, MelScale::Slaney, MelNorm::Slaney);
        let ratio = n[10 * bins + 20] / w[10 * bins + 20];
        let edges: Vec<f64> = (0..n_mels + 2).map(|i| mel_to_hz(hz_to_mel(50.0, MelScale::Slaney) + (hz_to_mel(14000.0, MelScale::Slaney) - hz_to_mel(50.0, MelScale::Slaney)) * i as f64 / (n_mels + 1) as f64, MelScale::Slaney)).collect();
        assert!((f64::from(ratio) - 2.0 / (edges[12] - edges[10])).abs() < 1e-6);
    }

    #[test]
    fn the_hann_window_is_periodic() {
        let w = hann(8);
        assert_eq!(w[0], 0.0);
        assert!((w[4] - 1.0).abs() < 1e-7);
        assert!((w[2] - 0.5).abs() < 1e-7 && (w[6] - 0.5).abs() < 1e-7);
    }
}
