//! Training augmentation: the audio window shifts in time, its gain changes and noise is added;
//! the image is cropped at a random scale and place, flipped and colour-jittered.

use image::RgbImage;

use super::rng::Rng;
use crate::models::input::{chw, resize_crop};

/// A training window of `len` samples from `source` (the model window plus slack either side):
/// speed changed by up to 15% (pitch and tempo together, by linear interpolation), and half of
/// the time only an excerpt of it, placed anywhere in silence, so short and long calls of one
/// animal look alike to the model.
pub fn audio_window(source: &[f32], len: usize, rng: &mut Rng) -> Vec<f32> {
    let rate = rng.range(0.85, 1.15);
    let slack = source.len().saturating_sub(len) as f32;
    let start = rng.uniform() * slack;
    let read = |i: usize| {
        let x = start + i as f32 * rate;
        let j = x.floor() as usize;
        let f = x - j as f32;
        let a = source.get(j).copied().unwrap_or(0.0);
        let b = source.get(j + 1).copied().unwrap_or(0.0);
        a + (b - a) * f
    };
    let mut out: Vec<f32> = (0..len).map(read).collect();
    if rng.uniform() < 0.5 {
        let n = ((len as f32) * rng.range(0.15, 0.8)) as usize;
        let from = loudest_start(&out, n);
        let excerpt = out[from..from + n].to_vec();
        let to = rng.below(len - n + 1);
        out.iter_mut().for_each(|v| *v = 0.0);
        out[to..to + n].copy_from_slice(&excerpt);
    }
    audio(&mut out, rng);
    out
}

/// Start of the `n`-sample stretch with the most energy (coarse steps), so excerpts hold sound.
fn loudest_start(x: &[f32], n: usize) -> usize {
    let step = (n / 8).max(1);
    (0..=x.len() - n)
        .step_by(step)
        .max_by(|&a, &b| {
            let e = |s: usize| x[s..s + n].iter().map(|v| v * v).sum::<f32>();
            e(a).total_cmp(&e(b))
        })
        .unwrap_or(0)
}

/// Random equalisation, then gain from 0.3 to 2 (log-uniform: recordings differ in level by
/// that much), then Gaussian noise at 15..40 dB SNR half of the time; stays in [-1, 1].
pub fn audio(wave: &mut [f32], rng: &mut Rng) {
    equalise(wave, rng);
    let gain = rng.range(0.3f32.ln(), 2.0f32.ln()).exp();
    wave.iter_mut().for_each(|v| *v *= gain);
    if rng.uniform() < 0.5 {
        let power = wave.iter().map(|v| v * v).sum::<f32>() / wave.len().max(1) as f32;
        let snr_db = rng.range(15.0, 40.0);
        let sigma = (power / 10f32.powf(snr_db / 10.0)).sqrt();
        wave.iter_mut().for_each(|v| *v += sigma * rng.normal());
    }
    wave.iter_mut().for_each(|v| *v = v.clamp(-1.0, 1.0));
}

/// Two recordings of one animal differ most in microphone and room, i.e. in spectral balance:
/// a peaking filter (100 Hz..4 kHz, +-12 dB) two times in three, then a gentle low- or high-pass
/// half of the time (RBJ cookbook biquads at the model's sample rate).
fn equalise(wave: &mut [f32], rng: &mut Rng) {
    let fs = crate::media::MODEL_SAMPLE_RATE as f32;
    let peak = wave.iter().fold(0f32, |m, v| m.max(v.abs()));
    if rng.uniform() < 0.67 {
        let f0 = rng.range(100f32.ln(), 4000f32.ln()).exp();
        let gain_db = rng.range(-12.0, 12.0);
        let q = rng.range(0.5, 2.0);
        biquad(wave, peaking(f0 / fs, gain_db, q));
    }
    if rng.uniform() < 0.5 {
        let coeffs = if rng.uniform() < 0.5 {
            pass(rng.range(1500f32.ln(), 5000f32.ln()).exp() / fs, false)
        } else {
            pass(rng.range(80f32.ln(), 600f32.ln()).exp() / fs, true)
        };
        biquad(wave, coeffs);
    }
    // Keep the original peak level so EQ does not double as a gain change.
    let after = wave.iter().fold(0f32, |m, v| m.max(v.abs()));
    if after > 0.0 && peak > 0.0 {
        wave.iter_mut().for_each(|v| *v *= peak / after);
    }
}

/// Normalised biquad coefficients [b0, b1, b2, a1, a2].
type Biquad = [f32; 5];

fn peaking(f: f32, gain_db: f32, q: f32) -> Biquad {
    let a = 10f32.powf(gain_db / 40.0);
    let w = std::f32::consts::TAU * f;
    let alpha = w.sin() / (2.0 * q);
    let a0 = 1.0 + alpha / a;
    [(1.0 + alpha * a) / a0, -2.0 * w.cos() / a0, (1.0 - alpha * a) / a0, -2.0 * w.cos() / a0, (1.0 - alpha / a) / a0]
}

fn pass(f: f32, high: bool) -> Biquad {
    let w = std::f32::consts::TAU * f;
    let (c, alpha) = (w.cos(), w.sin() / std::f32::consts::SQRT_2);
    let a0 = 1.0 + alpha;
    let (b0, b1) = if high { ((1.0 + c) / 2.0, -(1.0 + c)) } else { ((1.0 - c) / 2.0, 1.0 - c) };
    [b0 / a0, b1 / a0, b0 / a0, -2.0 * c / a0, (1.0 - alpha) / a0]
}

fn biquad(x: &mut [f32], [b0, b1, b2, a1, a2]: Biquad) {
    let (mut x1, mut x2, mut y1, mut y2) = (0f32, 0f32, 0f32, 0f32);
    for v in x.iter_mut() {
        let y = b0 * *v + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
        (x2, x1, y2, y1) = (x1, *v, y1, y);
        *v = y;
    }
}

/// A random square crop covering 60..100% of the shorter side, resized to `side`, flipped half
/// of the time, brightness/contrast/saturation jittered by up to 20%. CHW floats in [0, 1].
pub fn image(img: &RgbImage, side: usize, rng: &mut Rng) -> Vec<f32> {
    let short = img.width().min(img.height()) as f32;
    let crop = (short * rng.range(0.6, 1.0)).round().max(1.0) as u32;
    let x = rng.below((img.width() - crop + 1) as usize) as u32;
    let y = rng.below((img.height() - crop + 1) as usize) as u32;
    let patch = image::imageops::crop_imm(img, x, y, crop, crop).to_image();
    let mut out = resize_crop(&patch, side, None);
    if rng.uniform() < 0.35 {
        out = on_white_page(&out, rng);
    }
    if rng.uniform() < 0.5 {
        image::imageops::flip_horizontal_in_place(&mut out);
    }
    let mut px = chw(&out);
    // Flat colours now and then (a photo drawn as clip art), or no colour at all.
    let levels = if rng.uniform() < 0.3 { Some(rng.range(3.0, 6.0).round()) } else { None };
    let grey_only = rng.uniform() < 0.15;
    let (b, c, mut s) = (rng.range(0.8, 1.2), rng.range(0.8, 1.2), rng.range(0.8, 1.2));
    if grey_only {
        s = 0.0;
    }
    let n = side * side;
    let mean = px.iter().sum::<f32>() / px.len() as f32;
    for i in 0..n {
        let grey = 0.299 * px[i] + 0.587 * px[n + i] + 0.114 * px[2 * n + i];
        for ch in 0..3 {
            let v = &mut px[ch * n + i];
            *v = grey + (*v - grey) * s; // saturation
            *v = mean + (*v - mean) * c; // contrast
            *v = (*v * b).clamp(0.0, 1.0); // brightness
            if let Some(l) = levels {
                *v = (*v * l).round() / l;
            }
        }
    }
    px
}

/// The picture shrunk to 45..90% and placed anywhere on a white page: stamps (the held-out
/// pictures: animals cut out of photos) sit on a blank page, photos never do, and without this
/// the models learn "white page" as a class.
fn on_white_page(img: &RgbImage, rng: &mut Rng) -> RgbImage {
    let side = img.width();
    let inner = ((side as f32 * rng.range(0.45, 0.9)).round() as u32).max(1);
    let small = image::imageops::resize(img, inner, inner, image::imageops::FilterType::Triangle);
    let mut page = RgbImage::from_pixel(side, side, image::Rgb([255, 255, 255]));
    let x = rng.below((side - inner + 1) as usize) as i64;
    let y = rng.below((side - inner + 1) as usize) as i64;
    image::imageops::overlay(&mut page, &small, x, y);
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn augmentations_stay_in_range_and_replay_from_the_seed() {
        let img = RgbImage::from_fn(40, 30, |x, y| image::Rgb([(x * 6) as u8, (y * 8) as u8, 200]));
        let a = image(&img, 16, &mut Rng::new(1));
        assert_eq!(a.len(), 3 * 16 * 16);
        assert!(a.iter().all(|v| (0.0..=1.0).contains(v)));
        assert_eq!(a, image(&img, 16, &mut Rng::new(1)));
        assert_ne!(a, image(&img, 16, &mut Rng::new(2)));
        let mut w: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.1).sin() * 0.95).collect();
        audio(&mut w, &mut Rng::new(5));
        assert!(w.iter().all(|v| (-1.0..=1.0).contains(v)));
        let win = audio_window(&w, 600, &mut Rng::new(9));
        // A 440 Hz tone through a 4 kHz low-pass keeps its level; through a 4 kHz high-pass it
        // nearly vanishes (before the peak is restored, so test the filter alone).
        let tone = |n| (0..n).map(|i| (std::f32::consts::TAU * 440.0 * i as f32 / 11025.0).sin()).collect::<Vec<f32>>();
        let rms = |x: &[f32]| (x[2000..].iter().map(|v| v * v).sum::<f32>() / (x.len() - 2000) as f32).sqrt();
        let (mut lo, mut hi) = (tone(6000), tone(6000));
        biquad(&mut lo, pass(4000.0 / 11025.0, false));
        biquad(&mut hi, pass(4000.0 / 11025.0, true));
        assert!((rms(&lo) - 0.7071).abs() < 0.02, "{}", rms(&lo));
        assert!(rms(&hi) < 0.02, "{}", rms(&hi));
        assert_eq!(win.len(), 600);
        assert!(win.iter().all(|v| (-1.0..=1.0).contains(v)) && win.iter().any(|v| *v != 0.0));
    }
}
