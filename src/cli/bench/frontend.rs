//! The log-mel front end's STFT two ways, on the CPU backend: McGurk's windowed-DFT matrix
//! product (any `n_fft`) and burn's `signal::stft` (an FFT; powers of two only), forward and
//! forward + backward to the waveform, at PANNs' settings and Li et al.'s, with the largest
//! difference of their power spectra. The front end takes the FFT from n_fft 2048 (where it
//! is the faster one) and the product below.

use std::time::Instant;

use burn::prelude::*;
use burn::signal::{StftOptions, stft};
use burn::tensor::Distribution;

use crate::models::frontend::{FrontendConfig, LogMel};

/// Milliseconds per call of `f` (one warm-up call discarded).
fn time(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let start = Instant::now();
    for _ in 0..reps {
        f();
    }
    start.elapsed().as_secs_f64() * 1000.0 / reps as f64
}

/// burn's STFT power spectrum [B, T, bins] of `wave` [B, N] with the front end's window.
fn fft_power(cfg: &FrontendConfig, wave: Tensor<2>) -> Tensor<3> {
    let device = wave.device();
    let window = Tensor::<1>::from_data(TensorData::new(crate::dsp::mel_filters::hann(cfg.win_length), [cfg.win_length]), &device);
    let options = StftOptions { n_fft: cfg.n_fft, hop_length: cfg.hop_length, win_length: Some(cfg.win_length), center: cfg.center, onesided: true };
    let s = stft(wave, Some(window), options);
    let [b, t, bins, _] = s.dims();
    let re = s.clone().slice([0..b, 0..t, 0..bins, 0..1]);
    let im = s.slice([0..b, 0..t, 0..bins, 1..2]);
    (re.clone() * re + im.clone() * im).reshape([b, t, bins])
}

pub fn run(reps: usize) {
    let li = FrontendConfig { sample_rate: 16_000, n_fft: 4096, win_length: 1024, hop_length: 400, f_min: 0.0, f_max: 8000.0, ..FrontendConfig::panns_32k() };
    println!("\nlog-mel front end: STFT power spectrum, CPU (flex), batch 1, 10 s, ms per call");
    println!("{:<32} {:>10} {:>10} {:>12} {:>12} {:>14}", "settings", "DFT fwd", "FFT fwd", "DFT fwd+bwd", "FFT fwd+bwd", "max |diff|/max");
    for (name, cfg) in [("PANNs (32 kHz, n_fft 1024, hop 320)", FrontendConfig::panns_32k()), ("Li et al. (16 kHz, n_fft 4096, hop 400)", li)] {
        let device = Device::flex();
        let n = 10 * cfg.sample_rate as usize;
        let front = match LogMel::new(cfg.clone(), &device) {
            Ok(f) => f.dft_only(),
            Err(e) => {
                println!("{name:<32} {e}");
                continue;
            }
        };
        let wave = Tensor::<2>::random([1, n], Distribution::Uniform(-0.5, 0.5), &device);
        let dft = front.power(wave.clone());
        let fft = fft_power(&cfg, wave.clone());
        let scale = dft.clone().max().into_scalar::<f32>().max(1e-30);
        let diff = (dft.clone() - fft).abs().max().into_scalar::<f32>() / scale;
        let t_dft = time(reps, || drop(front.power(wave.clone()).into_data()));
        let t_fft = time(reps, || drop(fft_power(&cfg, wave.clone()).into_data()));
        let ad = device.clone().autodiff();
        let front_ad = front.to_device(&ad);
        let w = Tensor::<2>::from_data(wave.clone().into_data(), &ad);
        let t_dft_b = time(reps, || {
            let x = w.clone().detach().require_grad();
            let _ = front_ad.power(x.clone()).sum().backward();
        });
        let t_fft_b = time(reps, || {
            let x = w.clone().detach().require_grad();
            let _ = fft_power(&cfg, x.clone()).sum().backward();
        });
        println!("{name:<32} {t_dft:>10.1} {t_fft:>10.1} {t_dft_b:>12.1} {t_fft_b:>12.1} {diff:>14.1e}");
    }
}
