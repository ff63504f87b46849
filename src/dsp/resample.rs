//! Sample-rate conversion with rubato's FFT resampler (band-limited, no aliasing of the
//! 44.1/48 kHz sources down to the model's 11025 Hz).

use rubato::audioadapter_buffers::owned::InterleavedOwned;
use rubato::{Fft, FixedSync, Resampler};

/// Sample rates McGurk reads: below 1 kHz or above 768 kHz a header is lying (or the file is not
/// audio), and the resampler's tables would grow with the ratio.
pub const RATES: std::ops::RangeInclusive<u32> = 1_000..=768_000;

/// The largest sample magnitude resampled: 120 dB above full scale, far beyond any real
/// recording (decoded lossy audio overshoots 1.0 a little and keeps its shape), and small
/// enough that an FFT block's sums stay finite. Clips are clipped to [-1, 1] after resampling.
pub const MAX_LEVEL: f32 = 1e6;

/// Resample mono audio from `from` Hz to `to` Hz. Identity when the rates match. Non-finite
/// samples (a float file may hold NaN or Inf) become silence: the FFT would spread one over
/// the whole block. Samples are held within [`MAX_LEVEL`] first: a block of float samples near
/// f32::MAX sums to infinity in the FFT, which rubato's inverse FFT rejects with a panic.
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>, String> {
    let clean: Vec<f32> = samples.iter().map(|s| if s.is_finite() { s.clamp(-MAX_LEVEL, MAX_LEVEL) } else { 0.0 }).collect();
    if from == to || samples.is_empty() {
        return Ok(clean);
    }
    for rate in [from, to] {
        if !RATES.contains(&rate) {
            return Err(format!("sample rate {rate} Hz is outside what McGurk reads ({} Hz to {} Hz)", RATES.start(), RATES.end()));
        }
    }
    let mut resampler = Fft::<f32>::new(from as usize, to as usize, 1024, 1, FixedSync::Input)
        .map_err(|e| format!("resampler {from} -> {to} Hz: {e}"))?;
    let input = InterleavedOwned::new_from(clean, 1, samples.len()).map_err(|e| format!("resampler input: {e}"))?;
    let out = resampler.process_all(&input, samples.len(), None).map_err(|e| format!("resampling: {e}"))?;
    let mut data = out.take_data();
    // Keep the exact expected length so durations stay consistent after resampling.
    data.resize((samples.len() as u64 * u64::from(to)).div_ceil(u64::from(from)) as usize, 0.0);
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f32, rate: u32, secs: f32) -> Vec<f32> {
        (0..(rate as f32 * secs) as usize).map(|i| (std::f32::consts::TAU * freq * i as f32 / rate as f32).sin() * 0.5).collect()
    }

    #[test]
    fn keeps_a_tone_and_its_length() {
        let x = sine(440.0, 44_100, 1.0);
        let y = resample(&x, 44_100, 11_025).unwrap();
        assert_eq!(y.len(), 11_025);
        // Amplitude is preserved in the steady-state middle.
        let peak = y[2000..9000].iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!((peak - 0.5).abs() < 0.02, "peak {peak}");
        // Zero crossings give back the frequency: 440 Hz -> 880 crossings per second.
        let crossings = y[2000..9000].windows(2).filter(|w| w[0].signum() != w[1].signum()).count();
        let expected = 880.0 * 7000.0 / 11_025.0;
        assert!((crossings as f32 - expected).abs() < 4.0, "{crossings} vs {expected}");
    }

    #[test]
    fn removes_content_above_the_new_nyquist() {
        // 8 kHz is above 11025/2: it must be filtered out, not folded back.
        let y = resample(&sine(8_000.0, 44_100, 1.0), 44_100, 11_025).unwrap();
        let rms = (y[2000..9000].iter().map(|v| v * v).sum::<f32>() / 7000.0).sqrt();
        assert!(rms < 0.01, "aliased energy rms {rms}");
    }

    #[test]
    fn non_finite_samples_become_silence_instead_of_failing() {
        let mut x = sine(440.0, 44100, 0.5);
        x[1000] = f32::NAN;
        x[2000] = f32::INFINITY;
        let y = resample(&x, 44100, 11025).unwrap();
        assert!(y.iter().all(|v| v.is_finite()));
        let peak = y[1000..4000].iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(peak > 0.4, "the tone survives: peak {peak}");
    }

    #[test]
    fn samples_near_the_float_limit_are_held_instead_of_failing() {
        // Found by fuzzing: two samples of 3.4e38 in one block make the FFT's DC bin infinite.
        let mut x = sine(440.0, 44100, 0.5);
        x[1000] = 3.4e38;
        x[1001] = 3.4e38;
        x[3000] = -f32::MAX;
        let y = resample(&x, 44100, 11025).unwrap();
        assert!(y.iter().all(|v| v.is_finite() && v.abs() <= 2.0 * MAX_LEVEL), "{:?}", y.iter().fold(0.0f32, |m, v| m.max(v.abs())));
        // Far from the spikes the tone is intact.
        let peak = y[2500..5000].iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!((peak - 0.5).abs() < 0.02, "peak {peak}");
    }

    #[test]
    fn rates_outside_the_readable_range_are_refused() {
        let x = vec![0.0; 100];
        for (from, to) in [(1, 11025), (u32::MAX, 11025), (0, 11025)] {
            let e = resample(&x, from, to).unwrap_err();
            assert!(e.contains("outside what McGurk reads"), "{e}");
        }
    }

    #[test]
    fn non_integer_ratio() {
        // 11000 Hz must really be resampled (the reference code treated it as 11025).
        let y = resample(&sine(100.0, 11_000, 2.0), 11_000, 11_025).unwrap();
        assert_eq!(y.len(), 22_050);
    }
}
