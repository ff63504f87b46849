//! Decoding a dataset item once into what training needs (a stretch of audio around the centre
//! and the frame at a modest resolution), then making model inputs from it, augmented or not.

use image::RgbImage;

use super::rng::Rng;
use super::{Item, Media, augment};
use crate::dsp::window;
use crate::media::{self, Job, LoadOptions, MODEL_SAMPLE_RATE};
use crate::models::InputSize;
use crate::models::input::{Example, chw, resize_crop};

/// A decoded item: `audio` holds the model window plus `shift` samples of slack either side.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub audio: Vec<f32>,
    pub shift: usize,
    pub frame: RgbImage,
    pub label: usize,
}

/// Decodes `item`. Clips without audio or without a picture are errors here; dataset users
/// report and skip them.
pub fn prepare(item: &Item, size: InputSize, opts: &LoadOptions) -> Result<Prepared, String> {
    let job = Job::detached();
    let clip = match &item.media {
        Media::File(p) => media::open(p, opts, &job),
        Media::Pair { audio, image } => media::open_pair(audio, image, opts, &job),
    }
    .map_err(|e| e.to_string())?;
    let Some(audio) = &clip.audio else {
        return Err(format!("no audio track, skipped: {}", item.media.describe()));
    };
    debug_assert_eq!(audio.sample_rate, MODEL_SAMPLE_RATE);
    let centre = item.centre_s.unwrap_or_else(|| Example::centre_time(&clip));
    let Some(frame_index) = clip.frame_index_at(centre) else {
        return Err(format!("no picture, skipped: {}", item.media.describe()));
    };
    // A still picture goes with the whole recording: training windows may come from anywhere in
    // it (up to 30 s). A video keeps the window around its frame, with a quarter window of slack.
    let shift = if clip.frames.len() <= 1 {
        let whole = audio.samples.len().min(30 * MODEL_SAMPLE_RATE as usize);
        whole.div_ceil(2).max(size.samples / 4)
    } else {
        size.samples / 4
    };
    let len = size.samples + 2 * shift;
    let samples = window::extract(&audio.samples, window::start(centre, audio.sample_rate, len), len);
    let img = &clip.frames[frame_index].image;
    let rgb = RgbImage::from_raw(img.width, img.height, img.pixels.clone()).ok_or("frame buffer size mismatch")?;
    // Keep 15% more than the input side so random crops have room; saves memory on big videos.
    let keep = (size.pixels as f32 * 1.15).ceil() as u32;
    let scale = keep as f32 / rgb.width().min(rgb.height()) as f32;
    let frame = if scale < 1.0 {
        let (w, h) = ((rgb.width() as f32 * scale).round() as u32, (rgb.height() as f32 * scale).round() as u32);
        image::imageops::resize(&rgb, w.max(keep), h.max(keep), image::imageops::FilterType::Triangle)
    } else {
        rgb
    };
    Ok(Prepared { audio: samples, shift, frame, label: item.label })
}

impl Prepared {
    /// The model input: centred and untouched, or (with `rng`) augmented.
    pub fn example(&self, size: InputSize, rng: Option<&mut Rng>) -> Example {
        match rng {
            None => Example {
                wave: self.audio[self.shift..self.shift + size.samples].to_vec(),
                pixels: chw(&resize_crop(&self.frame, size.pixels, None)),
                size,
            },
            Some(rng) => {
                let wave = augment::audio_window(&self.audio, size.samples, rng);
                Example { wave, pixels: augment::image(&self.frame, size.pixels, rng), size }
            }
        }
    }
}
