//! Perceptual colormaps (viridis, magma) as 6th-degree polynomial fits of the matplotlib
//! tables (Matt Zucker's CC0 fits; max error about 1/255), and spectrogram rendering.

use serde::{Deserialize, Serialize};

use super::mel::Spectrogram;
use crate::media::RgbImage;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Colormap {
    #[default]
    Viridis,
    Magma,
}

type Poly = [[f32; 3]; 7];

const VIRIDIS: Poly = [
    [0.277_727_3, 0.005_407_344_5, 0.334_099_8],
    [0.105_093_04, 1.404_613_5, 1.384_590_2],
    [-0.330_861_83, 0.214_847_56, 0.095_095_16],
    [-4.634_230_5, -5.799_101, -19.332_441],
    [6.228_27, 14.179_933, 56.690_55],
    [4.776_385, -13.745_145, -65.353_03],
    [-5.435_456, 4.645_852_6, 26.312_435],
];

const MAGMA: Poly = [
    [-0.002_136_485, -0.000_749_655, -0.005_386_128],
    [0.251_660_54, 0.677_523_2, 2.494_026_6],
    [8.353_717, -3.577_719_5, 0.314_467_9],
    [-27.668_733, 14.264_731, -13.649_213],
    [52.176_14, -27.943_606, 12.944_169],
    [-50.768_524, 29.046_583, 4.234_153],
    [18.655_705, -11.489_774, -5.601_961_5],
];

impl Colormap {
    pub const ALL: [Colormap; 2] = [Colormap::Viridis, Colormap::Magma];

    pub fn name(self) -> &'static str {
        match self {
            Self::Viridis => "viridis",
            Self::Magma => "magma",
        }
    }

    /// Colour of `t` in [0, 1] (clamped).
    pub fn rgb(self, t: f32) -> [u8; 3] {
        let poly = match self {
            Self::Viridis => &VIRIDIS,
            Self::Magma => &MAGMA,
        };
        let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
        std::array::from_fn(|c| {
            let v = poly.iter().rev().fold(0.0, |acc, k| acc * t + k[c]);
            (v.clamp(0.0, 1.0) * 255.0).round() as u8
        })
    }
}

/// Render columns `[first, first + count)` of a spectrogram: low frequencies at the bottom,
/// `range_db` below the loudest value of the whole spectrogram mapped to the darkest colour.
pub fn render(spec: &Spectrogram, first: usize, count: usize, range_db: f32, map: Colormap) -> RgbImage {
    render_from(spec, first, count, spec.max_db(), range_db, map)
}

/// [`render`] with the brightest colour at `top` dB instead of the spectrogram's own maximum
/// (to draw two spectrograms on one scale).
pub fn render_from(spec: &Spectrogram, first: usize, count: usize, top: f32, range_db: f32, map: Colormap) -> RgbImage {
    let floor = top - range_db.max(1.0);
    let (w, h) = (count.max(1), spec.n_mels);
    let mut pixels = vec![0u8; w * h * 3];
    for x in 0..w {
        let frame = first + x;
        for row in 0..h {
            let mel = h - 1 - row;
            let v = if frame < spec.n_frames { spec.at(frame, mel) } else { floor };
            let rgb = map.rgb(((v - floor) / (top - floor)).clamp(0.0, 1.0));
            let i = (row * w + x) * 3;
            pixels[i..i + 3].copy_from_slice(&rgb);
        }
    }
    RgbImage { width: w as u32, height: h as u32, pixels }
}

/// Render the whole spectrogram at most `max_width` pixels wide, keeping the loudest value of
/// each group of columns (so short events stay visible in long recordings).
pub fn render_overview(spec: &Spectrogram, max_width: usize, range_db: f32, map: Colormap) -> RgbImage {
    let step = spec.n_frames.div_ceil(max_width.max(1)).max(1);
    if step == 1 {
        return render(spec, 0, spec.n_frames, range_db, map);
    }
    let n_frames = spec.n_frames.div_ceil(step);
    let mut db = Vec::with_capacity(n_frames * spec.n_mels);
    for group in 0..n_frames {
        let cols = group * step..((group + 1) * step).min(spec.n_frames);
        db.extend((0..spec.n_mels).map(|m| cols.clone().map(|f| spec.at(f, m)).fold(f32::NEG_INFINITY, f32::max)));
    }
    let pooled = Spectrogram { n_mels: spec.n_mels, n_frames, hop: spec.hop * step, sample_rate: spec.sample_rate, db };
    render(&pooled, 0, n_frames, range_db, map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_match_matplotlib() {
        // matplotlib: viridis(0) = #440154, viridis(1) = #fde725; magma(0) = #000004, magma(1) = #fcfdbf.
        let close = |a: [u8; 3], b: [u8; 3]| a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 6);
        assert!(close(Colormap::Viridis.rgb(0.0), [0x44, 0x01, 0x54]), "{:?}", Colormap::Viridis.rgb(0.0));
        assert!(close(Colormap::Viridis.rgb(1.0), [0xfd, 0xe7, 0x25]), "{:?}", Colormap::Viridis.rgb(1.0));
        assert!(close(Colormap::Magma.rgb(0.0), [0x00, 0x00, 0x04]));
        assert!(close(Colormap::Magma.rgb(1.0), [0xfc, 0xfd, 0xbf]), "{:?}", Colormap::Magma.rgb(1.0));
        assert_eq!(Colormap::Viridis.rgb(f32::NAN), Colormap::Viridis.rgb(0.0));
    }

    #[test]
    fn viridis_lightness_increases() {
        let luma = |c: [u8; 3]| 0.2126 * f32::from(c[0]) + 0.7152 * f32::from(c[1]) + 0.0722 * f32::from(c[2]);
        let l: Vec<f32> = (0..=20).map(|i| luma(Colormap::Viridis.rgb(i as f32 / 20.0))).collect();
        assert!(l.windows(2).all(|w| w[1] > w[0]), "{l:?}");
    }

    #[test]
    fn render_puts_low_bands_at_the_bottom() {
        // Two frames, 3 mels; loud only in mel 0 (lowest).
        let spec = Spectrogram { n_mels: 3, n_frames: 2, hop: 1, sample_rate: 1, db: vec![0.0, -80.0, -80.0, 0.0, -80.0, -80.0] };
        let img = render(&spec, 0, 2, 80.0, Colormap::Viridis);
        assert_eq!((img.width, img.height), (2, 3));
        assert_eq!(img.pixel(0, 2), Colormap::Viridis.rgb(1.0));
        assert_eq!(img.pixel(1, 0), Colormap::Viridis.rgb(0.0));
    }

    #[test]
    fn overview_pools_columns_by_max() {
        // 5 frames, 1 mel: only frame 3 is loud; pooled to width 2 it must survive.
        let spec = Spectrogram { n_mels: 1, n_frames: 5, hop: 1, sample_rate: 1, db: vec![-80.0, -80.0, -80.0, 0.0, -80.0] };
        let img = render_overview(&spec, 2, 80.0, Colormap::Viridis);
        assert_eq!(img.width, 2);
        assert_eq!(img.pixel(0, 0), Colormap::Viridis.rgb(0.0));
        assert_eq!(img.pixel(1, 0), Colormap::Viridis.rgb(1.0));
    }
}
