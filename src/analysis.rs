//! What the views of a clip are drawn from: the log-mel spectrogram of the whole track and
//! a min/max waveform envelope. Computed once per clip on a worker thread.

use crate::dsp::{MelAnalyzer, MelConfig, Spectrogram};
use crate::media::Clip;

/// Buckets in the waveform envelope: enough for a wide screen, few enough to draw at 60 fps.
pub const ENVELOPE_BUCKETS: usize = 4096;

#[derive(Clone, Debug)]
pub struct ClipAnalysis {
    pub spectrogram: Spectrogram,
    /// (min, max) of each bucket of `bucket_len` samples.
    pub envelope: Vec<(f32, f32)>,
    pub bucket_len: usize,
    pub sample_rate: u32,
}

/// None when the clip has no audio.
pub fn analyse(clip: &Clip, mel: MelConfig) -> Result<Option<ClipAnalysis>, String> {
    let Some(audio) = &clip.audio else { return Ok(None) };
    let analyzer = MelAnalyzer::new(mel, audio.sample_rate)?;
    let spectrogram = analyzer.compute(&audio.samples);
    let (envelope, bucket_len) = envelope(&audio.samples, ENVELOPE_BUCKETS);
    Ok(Some(ClipAnalysis { spectrogram, envelope, bucket_len, sample_rate: audio.sample_rate }))
}

/// Min/max per bucket, at most `buckets` buckets (one sample per bucket for short signals).
pub fn envelope(samples: &[f32], buckets: usize) -> (Vec<(f32, f32)>, usize) {
    let bucket_len = samples.len().div_ceil(buckets.max(1)).max(1);
    let env = samples
        .chunks(bucket_len)
        .map(|c| c.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v))))
        .collect();
    (env, bucket_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_keeps_extremes() {
        let x = [0.0, 1.0, -1.0, 0.5, 0.2, -0.3, 0.9];
        let (env, len) = envelope(&x, 3);
        assert_eq!(len, 3);
        assert_eq!(env, vec![(-1.0, 1.0), (-0.3, 0.5), (0.9, 0.9)]);
        let (env, len) = envelope(&x, 100);
        assert_eq!((env.len(), len), (7, 1));
    }
}
