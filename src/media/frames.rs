//! A folder of numbered image frames as a clip (many video datasets ship frames, not videos):
//! the images in name order, one every 1/fps seconds, no audio. Every frame must have the first
//! one's size; the decoded frames are bounded like a video's.

use std::path::{Path, PathBuf};

use super::clip::{Clip, Frame, MediaInfo, VideoInfo};
use super::error::MediaError;
use super::{Decoder, still};

/// Frames a folder may hold (about 40 minutes at 25 fps).
pub const MAX_FRAMES: usize = 60_000;

fn bad(path: &Path, detail: impl Into<String>) -> MediaError {
    MediaError::BadImage { path: path.to_path_buf(), detail: detail.into() }
}

/// The image files of `dir`, in name order.
pub fn list(dir: &Path) -> Result<Vec<PathBuf>, MediaError> {
    let entries = std::fs::read_dir(dir).map_err(|e| MediaError::io(dir, e))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg" | "webp")))
        .collect();
    files.sort();
    Ok(files)
}

/// The frames of `dir` at `fps`, decoded within `budget_bytes`.
pub fn open(dir: &Path, fps: f64, budget_bytes: usize) -> Result<Clip, MediaError> {
    if !(fps.is_finite() && fps > 0.0 && fps <= 1000.0) {
        return Err(bad(dir, format!("--fps {fps}: a rate between 0 and 1000 frames per second")));
    }
    let files = list(dir)?;
    if files.is_empty() {
        return Err(bad(dir, "no PNG, JPEG or WebP frames in the folder"));
    }
    if files.len() > MAX_FRAMES {
        return Err(bad(dir, format!("{} frames; at most {MAX_FRAMES}", files.len())));
    }
    let mut frames = Vec::with_capacity(files.len());
    let mut used = 0usize;
    let mut size = None;
    for (i, f) in files.iter().enumerate() {
        let (w, h) = still::dimensions(f)?;
        if *size.get_or_insert((w, h)) != (w, h) {
            let (w0, h0) = size.unwrap_or((w, h));
            return Err(bad(f, format!("frame is {w}x{h}; the folder's first frame is {w0}x{h0}")));
        }
        used = used.saturating_add(w as usize * h as usize * 3);
        if used > budget_bytes {
            return Err(bad(dir, format!("{} frames of {w}x{h} exceed the memory budget for decoded frames ({} MiB)", files.len(), budget_bytes >> 20)));
        }
        frames.push(Frame { time_s: i as f64 / fps, image: still::load(f)? });
    }
    let (w, h) = size.unwrap_or((0, 0));
    let duration_s = files.len() as f64 / fps;
    let video = VideoInfo { codec: "frames".into(), width: w, height: h, fps, frame_count: files.len() as u64, duration_s, decoder: Decoder::Builtin };
    let bytes = files.iter().filter_map(|f| f.metadata().ok()).map(|m| m.len()).sum();
    let info = MediaInfo { path: dir.to_path_buf(), container: "frames".into(), size_bytes: bytes, duration_s, video: Some(video), audio: None };
    Ok(Clip { sources: vec![info], audio: None, frames, notes: Vec::new() })
}
