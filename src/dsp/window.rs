//! The analysis window: the stretch of audio a model sees around the chosen frame.

/// First sample of a `len`-sample window centred on `centre_s`; may be negative or run past the
/// end (those samples read as silence). The window's centre is `len / 2` in real numbers, so a
/// clip exactly `len` samples long, centred on its middle, is read whole (for odd `len`
/// rounding the centre sample first started the window one sample late).
pub fn start(centre_s: f64, sample_rate: u32, len: usize) -> i64 {
    (centre_s * f64::from(sample_rate) - len as f64 / 2.0).round() as i64
}

/// Copy the window starting at `start`, zero-padding outside the signal.
pub fn extract(samples: &[f32], start: i64, len: usize) -> Vec<f32> {
    (0..len as i64)
        .map(|i| {
            let j = start + i;
            if j < 0 { 0.0 } else { samples.get(j as usize).copied().unwrap_or(0.0) }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centred_and_padded() {
        let x: Vec<f32> = (1..=10).map(|v| v as f32).collect();
        // Centred on the middle of sample 1 (samples span [i, i + 1)) with 5 samples: starts at -1.
        let s = start(1.5, 1, 5);
        assert_eq!(s, -1);
        assert_eq!(extract(&x, s, 5), [0.0, 1.0, 2.0, 3.0, 4.0]);
        assert_eq!(extract(&x, 8, 4), [9.0, 10.0, 0.0, 0.0]);
        assert_eq!(start(3.0, 11025, 65535), 3 * 11025 - 32767);
    }

    #[test]
    fn a_clip_of_exactly_the_window_is_read_whole() {
        for (n, rate) in [(65_535usize, 11_025u32), (32_767, 11_025), (8_192, 11_025), (160_000, 16_000), (7, 1)] {
            let x: Vec<f32> = (0..n).map(|i| i as f32 + 1.0).collect();
            let centre = n as f64 / f64::from(rate) / 2.0;
            let s = start(centre, rate, n);
            assert_eq!(s, 0, "{n} samples");
            assert_eq!(extract(&x, s, n), x);
        }
    }
}
