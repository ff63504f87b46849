//! The one in-memory form of everything McGurk opens: a [`Clip`].

use std::path::PathBuf;

use serde::Serialize;

/// The sample rate every model in McGurk consumes (Tian & Xu setting).
pub const MODEL_SAMPLE_RATE: u32 = 11025;

/// Samples in one analysis window (about 5.94 s at 11025 Hz), centred on the chosen frame.
pub const ANALYSIS_WINDOW: usize = 65535;

/// The longest audio a clip keeps: a file may declare hours (or compress hours of silence into a
/// few megabytes); what lies beyond is cut, and the clip's notes say so.
pub const MAX_AUDIO_SECONDS: u32 = 20 * 60;

/// An 8-bit RGB image, row-major, no padding.
#[derive(Clone, PartialEq, Eq)]
pub struct RgbImage {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

impl RgbImage {
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]]
    }

    /// Mean of each channel over the whole image (used by tests and sanity checks).
    pub fn mean_rgb(&self) -> [f32; 3] {
        let mut sum = [0u64; 3];
        for px in self.pixels.chunks_exact(3) {
            for c in 0..3 {
                sum[c] += u64::from(px[c]);
            }
        }
        let n = (self.pixels.len() / 3).max(1) as f32;
        sum.map(|s| s as f32 / n)
    }
}

impl std::fmt::Debug for RgbImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RgbImage({}x{})", self.width, self.height)
    }
}

/// One decoded video frame and its presentation time.
#[derive(Clone, Debug)]
pub struct Frame {
    pub time_s: f64,
    pub image: RgbImage,
}

/// Mono audio at [`MODEL_SAMPLE_RATE`], values in [-1, 1].
#[derive(Clone, Debug)]
pub struct Audio {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
}

impl Audio {
    pub fn duration_s(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.sample_rate)
    }
}

/// Which decoder produced a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decoder {
    Builtin,
    Ffmpeg,
}

/// What the source file says about its video stream.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VideoInfo {
    pub codec: String,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub frame_count: u64,
    pub duration_s: f64,
    pub decoder: Decoder,
}

/// What the source file says about its audio stream (before resampling and downmix).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AudioInfo {
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u32,
    pub duration_s: f64,
    pub decoder: Decoder,
}

/// Paths need not be UTF-8; JSON strings must be. Invalid bytes become U+FFFD.
fn lossy_path<S: serde::Serializer>(path: &std::path::Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&path.to_string_lossy())
}

/// Source description of one file, as `mcgurk probe` reports it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MediaInfo {
    #[serde(serialize_with = "lossy_path")]
    pub path: PathBuf,
    pub container: String,
    pub size_bytes: u64,
    pub duration_s: f64,
    pub video: Option<VideoInfo>,
    pub audio: Option<AudioInfo>,
}

/// A clip: audio waveform plus video frames with timestamps, and where they came from.
/// An audio file plus an image is a clip whose single frame is the image.
#[derive(Clone, Debug)]
pub struct Clip {
    /// One entry per source file (two for an audio + image pair).
    pub sources: Vec<MediaInfo>,
    pub audio: Option<Audio>,
    pub frames: Vec<Frame>,
    /// Things the user should know that did not stop the load (a dropped track, skipped frames).
    pub notes: Vec<String>,
}

impl Clip {
    /// Duration covered by the clip: the longer of audio and video.
    pub fn duration_s(&self) -> f64 {
        let audio = self.audio.as_ref().map_or(0.0, Audio::duration_s);
        let video = self.sources.iter().filter_map(|s| s.video.as_ref()).map(|v| v.duration_s);
        video.fold(audio, f64::max)
    }

    /// A short human name ("cow.mp4", "cow.ogg + cow.webp").
    pub fn title(&self) -> String {
        let names: Vec<String> = self
            .sources
            .iter()
            .map(|s| s.path.file_name().map_or_else(|| s.path.display().to_string(), |n| n.to_string_lossy().into_owned()))
            .collect();
        names.join(" + ")
    }

    /// Index of the frame whose time is closest to `t`.
    pub fn frame_index_at(&self, t: f64) -> Option<usize> {
        if self.frames.is_empty() {
            return None;
        }
        let i = self.frames.partition_point(|f| f.time_s < t);
        let candidates = [i.saturating_sub(1), i.min(self.frames.len() - 1)];
        candidates
            .into_iter()
            .min_by(|&a, &b| {
                let da = (self.frames[a].time_s - t).abs();
                let db = (self.frames[b].time_s - t).abs();
                da.total_cmp(&db)
            })
    }
}
