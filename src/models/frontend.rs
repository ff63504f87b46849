//! The differentiable log-mel front end of spectrogram models: waveform -> STFT -> |X|^power ->
//! mel filterbank -> dB -> (x - mean) / std, as burn tensor ops, so that gradients reach the
//! waveform (a playable adversarial sound). The STFT is a matrix product with a windowed DFT
//! basis (any n_fft; PANNs' torchlibrosa computes it the same way, as a convolution), or burn's
//! FFT (`signal::stft`) for large power-of-two n_fft, whichever measured faster.

use burn::prelude::*;
use burn::tensor::ops::PadMode;
use serde::{Deserialize, Serialize};

use crate::dsp::mel_filters::{MelNorm, MelScale, hann, mel_filters};

/// How the STFT's edges are padded when frames are centred.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PadKind {
    Reflect,
    Constant,
}

/// Decibels: `10 log10(max(amin, x)) - 10 log10(max(amin, ref))`, floored `top_db` below each
/// example's maximum when set.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decibels {
    #[serde(rename = "ref")]
    pub reference: f64,
    pub amin: f64,
    pub top_db: Option<f64>,
}

/// Largest FFT a front end takes (published models use 512 to 4096).
pub const MAX_N_FFT: usize = 8192;

/// Most STFT frames x n_fft values one window may make (1 GiB of f32): the framed signal is
/// held in memory before the DFT product.
pub const MAX_FRAME_VALUES: usize = 1 << 28;

/// A front end's parameters (the spec's `frontend` object).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrontendConfig {
    pub sample_rate: u32,
    pub n_fft: usize,
    pub win_length: usize,
    pub hop_length: usize,
    pub center: bool,
    pub pad_mode: PadKind,
    pub power: f64,
    pub n_mels: usize,
    pub f_min: f64,
    pub f_max: f64,
    pub mel_scale: MelScale,
    pub mel_norm: MelNorm,
    pub db: Decibels,
    /// Frames kept (the first ones); None keeps all.
    pub frames: Option<usize>,
    pub mean: f64,
    pub std: f64,
}

impl FrontendConfig {
    /// PANNs' Cnn14 at 32 kHz (torchlibrosa's Spectrogram and LogmelFilterBank as Kong et al. set them).
    pub fn panns_32k() -> Self {
        Self {
            sample_rate: 32_000,
            n_fft: 1024,
            win_length: 1024,
            hop_length: 320,
            center: true,
            pad_mode: PadKind::Reflect,
            power: 2.0,
            n_mels: 64,
            f_min: 50.0,
            f_max: 14_000.0,
            mel_scale: MelScale::Slaney,
            mel_norm: MelNorm::Slaney,
            db: Decibels { reference: 1.0, amin: 1e-10, top_db: None },
            frames: None,
            mean: 0.0,
            std: 1.0,
        }
    }

    /// Why these numbers cannot make a spectrogram (each error names the field).
    pub fn validate(&self) -> Result<(), String> {
        let bad = |field: &str, why: String| Err(format!("frontend.{field}: {why}"));
        if !crate::dsp::resample::RATES.contains(&self.sample_rate) {
            return bad("sample_rate", format!("{} Hz (1000 to 768000)", self.sample_rate));
        }
        // The DFT basis holds n_fft x (n_fft + 2) floats: 268 MB at the largest.
        if !(16..=MAX_N_FFT).contains(&self.n_fft) {
            return bad("n_fft", format!("{} (16 to {MAX_N_FFT})", self.n_fft));
        }
        if self.win_length == 0 || self.win_length > self.n_fft {
            return bad("win_length", format!("{} (1 to n_fft = {})", self.win_length, self.n_fft));
        }
        if self.hop_length == 0 || self.hop_length > self.n_fft {
            return bad("hop_length", format!("{} (1 to n_fft = {})", self.hop_length, self.n_fft));
        }
        if !(self.power == 1.0 || self.power == 2.0) {
            return bad("power", format!("{} (1 or 2)", self.power));
        }
        if !(1..=self.n_fft / 2 + 1).contains(&self.n_mels) {
            return bad("n_mels", format!("{} (1 to n_fft / 2 + 1)", self.n_mels));
        }
        let nyquist = f64::from(self.sample_rate) / 2.0;
        if !(self.f_min >= 0.0 && self.f_min < self.f_max && self.f_max <= nyquist) {
            return bad("f_max", format!("f_min {} and f_max {} must satisfy 0 <= f_min < f_max <= {nyquist}", self.f_min, self.f_max));
        }
        if !(self.db.amin > 0.0 && self.db.reference > 0.0 && self.db.top_db.is_none_or(|t| t >= 0.0)) {
            return bad("db", "amin and ref must be positive, top_db non-negative".into());
        }
        if !(self.std.is_finite() && self.std > 0.0 && self.mean.is_finite()) {
            return bad("std", format!("{} (a positive number; mean {})", self.std, self.mean));
        }
        Ok(())
    }

    /// Frames the STFT makes of `samples` samples (before `frames` cuts them).
    pub fn stft_frames(&self, samples: usize) -> usize {
        let len = if self.center { samples + 2 * (self.n_fft / 2) } else { samples };
        if len < self.n_fft { 0 } else { 1 + (len - self.n_fft) / self.hop_length }
    }
}

/// The front end with its constant tensors on one device.
#[derive(Clone, Debug)]
pub struct LogMel {
    pub cfg: FrontendConfig,
    /// [n_fft, 2 * bins]: window x cos and window x -sin, the real and imaginary DFT.
    basis: Tensor<2>,
    /// [bins, n_mels].
    mel: Tensor<2>,
    /// The STFT through burn's FFT instead of the DFT product: for large power-of-two
    /// `n_fft` with reflect padding, where it is faster (`mcgurk bench --only frontend`, 10 s:
    /// n_fft 4096 forward + backward 93 ms as the product, 62 ms as the FFT; at 1024 the
    /// product is faster, 27 against 38 ms).
    fft: bool,
    /// The window, `win_length` long, for the FFT path.
    window: Tensor<1>,
}

impl LogMel {
    pub fn new(cfg: FrontendConfig, device: &Device) -> Result<Self, String> {
        cfg.validate()?;
        let (n, bins) = (cfg.n_fft, cfg.n_fft / 2 + 1);
        // The window (win_length) is centred in n_fft with zeros, as torch.stft and librosa do.
        let mut window = vec![0f32; n];
        let left = (n - cfg.win_length) / 2;
        window[left..left + cfg.win_length].copy_from_slice(&hann(cfg.win_length));
        let mut basis = vec![0f32; n * 2 * bins];
        for t in 0..n {
            for k in 0..bins {
                // The angle modulo the period keeps f64 exact for large t * k.
                let angle = std::f64::consts::TAU * ((t * k) % n) as f64 / n as f64;
                basis[t * 2 * bins + k] = (f64::from(window[t]) * angle.cos()) as f32;
                basis[t * 2 * bins + bins + k] = (-f64::from(window[t]) * angle.sin()) as f32;
            }
        }
        let filters = mel_filters(f64::from(cfg.sample_rate), n, cfg.n_mels, cfg.f_min, cfg.f_max, cfg.mel_scale, cfg.mel_norm);
        // Stored transposed: frames [.., bins] x [bins, n_mels].
        let mut mel = vec![0f32; bins * cfg.n_mels];
        for m in 0..cfg.n_mels {
            for k in 0..bins {
                mel[k * cfg.n_mels + m] = filters[m * bins + k];
            }
        }
        // burn's STFT needs hop <= window and reflect padding (when centred).
        let fft = n >= 2048 && n.is_power_of_two() && cfg.hop_length <= cfg.win_length && (!cfg.center || cfg.pad_mode == PadKind::Reflect);
        Ok(Self {
            basis: Tensor::from_data(TensorData::new(basis, [n, 2 * bins]), device),
            mel: Tensor::from_data(TensorData::new(mel, [bins, cfg.n_mels]), device),
            window: Tensor::from_data(TensorData::new(hann(cfg.win_length), [cfg.win_length]), device),
            fft,
            cfg,
        })
    }

    /// The same front end on another device (an attack's autodiff device).
    pub fn to_device(&self, device: &Device) -> Self {
        Self {
            cfg: self.cfg.clone(),
            basis: self.basis.clone().to_device(device),
            mel: self.mel.clone().to_device(device),
            fft: self.fft,
            window: self.window.clone().to_device(device),
        }
    }

    /// Power spectrogram frames of `wave` [B, N]: [B, T, bins].
    pub fn power(&self, wave: Tensor<2>) -> Tensor<3> {
        let c = &self.cfg;
        let (n, bins) = (c.n_fft, c.n_fft / 2 + 1);
        // burn's STFT refuses a clip shorter than half the FFT when centred: the product takes it.
        if self.fft && (!c.center || wave.dims()[1] > n / 2) {
            return self.fft_power(wave);
        }
        let wave = if c.center {
            let p = n / 2;
            let mode = match c.pad_mode {
                PadKind::Reflect => PadMode::Reflect,
                PadKind::Constant => PadMode::Constant(0.0),
            };
            wave.pad([(0, 0), (p, p)], mode)
        } else {
            wave
        };
        let [b, _] = wave.dims();
        let frames: Tensor<3> = wave.unfold(1, n, c.hop_length);
        let t = frames.dims()[1];
        let spectrum = frames.reshape([b * t, n]).matmul(self.basis.clone());
        let re = spectrum.clone().slice([0..b * t, 0..bins]);
        let im = spectrum.slice([0..b * t, bins..2 * bins]);
        let power = re.clone() * re + im.clone() * im;
        let power = if c.power == 1.0 { power.sqrt() } else { power };
        power.reshape([b, t, bins])
    }

    /// [`LogMel::power`] through burn's FFT (`signal::stft`: the window centred in `n_fft`,
    /// reflect padding when centred, as torch.stft).
    fn fft_power(&self, wave: Tensor<2>) -> Tensor<3> {
        let c = &self.cfg;
        let options = burn::signal::StftOptions { n_fft: c.n_fft, hop_length: c.hop_length, win_length: Some(c.win_length), center: c.center, onesided: true };
        let s = burn::signal::stft(wave, Some(self.window.clone()), options);
        let [b, t, bins, _] = s.dims();
        let re = s.clone().slice([0..b, 0..t, 0..bins, 0..1]);
        let im = s.slice([0..b, 0..t, 0..bins, 1..2]);
        let power = (re.clone() * re + im.clone() * im).reshape([b, t, bins]);
        if c.power == 1.0 { power.sqrt() } else { power }
    }

    /// Whether the STFT runs through the FFT (else the DFT product).
    pub fn uses_fft(&self) -> bool {
        self.fft
    }

    /// The same front end with its STFT as the DFT product whatever `n_fft` is (the two paths
    /// are compared in tests and in `mcgurk bench`).
    pub fn dft_only(mut self) -> Self {
        self.fft = false;
        self
    }

    /// Log-mel features of `wave` [B, N]: [B, 1, T, n_mels] (PANNs' layout: time, then mel).
    pub fn forward(&self, wave: Tensor<2>) -> Tensor<4> {
        let c = &self.cfg;
        let power = self.power(wave);
        let [b, t, bins] = power.dims();
        let mel = power.reshape([b * t, bins]).matmul(self.mel.clone());
        let ln10 = std::f64::consts::LN_10;
        let offset = 10.0 * c.db.reference.max(c.db.amin).log10();
        let db = mel.clamp_min(c.db.amin).log().mul_scalar(10.0 / ln10).sub_scalar(offset).reshape([b, t, c.n_mels]);
        let db = match c.db.top_db {
            Some(top) => {
                // The floor follows the peak as a constant, as librosa's and torchlibrosa's do.
                let peak = db.clone().reshape([b, t * c.n_mels]).max_dim(1).reshape([b, 1, 1]).detach();
                db.max_pair(peak.sub_scalar(top).expand([b, t, c.n_mels]))
            }
            None => db,
        };
        let db = match c.frames {
            Some(keep) if keep < t => db.slice([0..b, 0..keep, 0..c.n_mels]),
            _ => db,
        };
        let t = db.dims()[1];
        db.sub_scalar(c.mean).div_scalar(c.std).reshape([b, 1, t, c.n_mels])
    }
}
