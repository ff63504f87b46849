//! Log-mel spectrogram: Hann-windowed STFT (realfft), HTK mel filterbank, power in dB.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};

use super::mel_filters::{MelNorm, MelScale, hann, mel_filters};
use serde::{Deserialize, Serialize};

/// Spectrogram settings; the defaults suit 11025 Hz audio.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MelConfig {
    pub n_fft: usize,
    pub hop: usize,
    pub n_mels: usize,
    pub f_min: f32,
    /// 0 means the Nyquist frequency.
    pub f_max: f32,
}

impl Default for MelConfig {
    fn default() -> Self {
        Self { n_fft: 1024, hop: 256, n_mels: 64, f_min: 0.0, f_max: 0.0 }
    }
}

impl MelConfig {
    pub fn validate(&self, sample_rate: u32) -> Result<(), String> {
        if self.n_fft < 16 || self.n_fft > 1 << 16 {
            return Err(format!("n_fft {} must be between 16 and 65536", self.n_fft));
        }
        if self.hop == 0 || self.hop > self.n_fft {
            return Err(format!("hop {} must be between 1 and n_fft ({})", self.hop, self.n_fft));
        }
        if self.n_mels == 0 || self.n_mels > self.n_fft / 2 {
            return Err(format!("n_mels {} must be between 1 and n_fft/2 ({})", self.n_mels, self.n_fft / 2));
        }
        let nyquist = sample_rate as f32 / 2.0;
        let f_max = self.f_max_for(sample_rate);
        if !(0.0..nyquist).contains(&self.f_min) || f_max <= self.f_min || f_max > nyquist {
            return Err(format!("mel range {}..{} Hz must lie within 0..{nyquist} Hz", self.f_min, f_max));
        }
        Ok(())
    }

    fn f_max_for(&self, sample_rate: u32) -> f32 {
        if self.f_max > 0.0 { self.f_max } else { sample_rate as f32 / 2.0 }
    }
}

/// A log-mel spectrogram, `n_mels` rows (row 0 = lowest band) by `n_frames` columns.
#[derive(Clone, Debug)]
pub struct Spectrogram {
    pub n_mels: usize,
    pub n_frames: usize,
    pub hop: usize,
    pub sample_rate: u32,
    /// dB values, column-major: `db[frame * n_mels + mel]`.
    pub db: Vec<f32>,
}

impl Spectrogram {
    pub fn at(&self, frame: usize, mel: usize) -> f32 {
        self.db[frame * self.n_mels + mel]
    }

    /// Time of the centre of column `frame`, in seconds.
    pub fn frame_time_s(&self, frame: usize) -> f64 {
        (frame * self.hop) as f64 / f64::from(self.sample_rate)
    }

    pub fn max_db(&self) -> f32 {
        self.db.iter().copied().fold(f32::NEG_INFINITY, f32::max)
    }
}

/// Triangular filters, `n_mels` rows of `n_fft/2 + 1` weights: HTK mel scale, peak 1 (librosa's
/// `htk=True, norm=None`, computed by the one mel-filter implementation in `mel_filters`).
pub fn mel_filterbank(cfg: &MelConfig, sample_rate: u32) -> Vec<Vec<f32>> {
    let bins = cfg.n_fft / 2 + 1;
    let flat = mel_filters(f64::from(sample_rate), cfg.n_fft, cfg.n_mels, f64::from(cfg.f_min), f64::from(cfg.f_max_for(sample_rate)), MelScale::Htk, MelNorm::None);
    flat.chunks(bins).map(<[f32]>::to_vec).collect()
}

/// Reusable STFT + filterbank for one configuration and rate.
pub struct MelAnalyzer {
    cfg: MelConfig,
    sample_rate: u32,
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    bank: Vec<Vec<f32>>,
}

/// Floor for power before the log, so silence gives -100 dB rather than -inf.
const POWER_FLOOR: f32 = 1e-10;

impl MelAnalyzer {
    pub fn new(cfg: MelConfig, sample_rate: u32) -> Result<Self, String> {
        cfg.validate(sample_rate)?;
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(cfg.n_fft);
        let window = hann(cfg.n_fft);
        let bank = mel_filterbank(&cfg, sample_rate);
        Ok(Self { cfg, sample_rate, fft, window, bank })
    }

    /// Frames are centred on multiples of `hop` (the signal is zero-padded by n_fft/2 each side).
    pub fn compute(&self, samples: &[f32]) -> Spectrogram {
        let (n_fft, hop, n_mels) = (self.cfg.n_fft, self.cfg.hop, self.cfg.n_mels);
        let n_frames = samples.len() / hop + 1;
        let half = (n_fft / 2) as i64;
        let mut input = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        let mut power = vec![0.0f32; n_fft / 2 + 1];
        let mut db = Vec::with_capacity(n_frames * n_mels);
        for frame in 0..n_frames {
            let start = (frame * hop) as i64 - half;
            for (i, slot) in input.iter_mut().enumerate() {
                let j = start + i as i64;
                let x = if j < 0 { 0.0 } else { samples.get(j as usize).copied().unwrap_or(0.0) };
                *slot = x * self.window[i];
            }
            // Lengths come from the planner itself, so this cannot fail.
            if self.fft.process(&mut input, &mut spectrum).is_err() {
                spectrum.iter_mut().for_each(|c| *c = Default::default());
            }
            for (p, c) in power.iter_mut().zip(&spectrum) {
                *p = c.norm_sqr();
            }
            db.extend(self.bank.iter().map(|filter| {
                let e: f32 = filter.iter().zip(&power).map(|(w, p)| w * p).sum();
                10.0 * e.max(POWER_FLOOR).log10()
            }));
        }
        Spectrogram { n_mels, n_frames, hop, sample_rate: self.sample_rate, db }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::mel_filters::{hz_to_mel, mel_to_hz};

    #[test]
    fn filterbank_covers_the_band() {
        let cfg = MelConfig::default();
        let bank = mel_filterbank(&cfg, 11025);
        assert_eq!(bank.len(), 64);
        assert!(bank.iter().all(|f| f.len() == 513));
        // Each filter peaks at (close to) 1 and is non-negative.
        for f in &bank {
            let peak = f.iter().copied().fold(0.0, f32::max);
            assert!(peak > 0.5 && peak <= 1.0, "peak {peak}");
            assert!(f.iter().all(|w| *w >= 0.0));
        }
    }

    #[test]
    fn a_tone_lights_up_its_band() {
        let rate = 11025;
        let tone: Vec<f32> = (0..rate).map(|i| (std::f32::consts::TAU * 1000.0 * i as f32 / rate as f32).sin()).collect();
        let analyzer = MelAnalyzer::new(MelConfig::default(), rate).unwrap();
        let spec = analyzer.compute(&tone);
        assert_eq!(spec.n_frames, rate as usize / 256 + 1);
        let mid = spec.n_frames / 2;
        let loudest = (0..spec.n_mels).max_by(|&a, &b| spec.at(mid, a).total_cmp(&spec.at(mid, b))).unwrap();
        // The band whose centre is nearest 1 kHz.
        let cfg = MelConfig::default();
        let (lo, hi) = (hz_to_mel(0.0, MelScale::Htk), hz_to_mel(5512.5, MelScale::Htk));
        let centres: Vec<f64> = (1..=64).map(|i| mel_to_hz(lo + (hi - lo) * f64::from(i) / 65.0, MelScale::Htk)).collect();
        let expected = (0..64).min_by(|&a, &b| (centres[a] - 1000.0).abs().total_cmp(&(centres[b] - 1000.0).abs())).unwrap();
        assert!(loudest.abs_diff(expected) <= 1, "loudest band {loudest}, expected {expected} ({cfg:?})");
        // Silence sits at the floor.
        let quiet = analyzer.compute(&vec![0.0; 4096]);
        assert!(quiet.db.iter().all(|v| (*v + 100.0).abs() < 1e-3));
    }

    #[test]
    fn rejects_bad_configs() {
        let bad = [
            MelConfig { n_fft: 8, ..Default::default() },
            MelConfig { hop: 0, ..Default::default() },
            MelConfig { hop: 4096, ..Default::default() },
            MelConfig { n_mels: 600, ..Default::default() },
            MelConfig { f_max: 9000.0, ..Default::default() },
            MelConfig { f_min: 3000.0, f_max: 2000.0, ..Default::default() },
        ];
        for cfg in bad {
            assert!(MelAnalyzer::new(cfg, 11025).is_err(), "{cfg:?} accepted");
        }
    }
}
