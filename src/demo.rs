//! The demo clip, embedded in the binary so `mcgurk` works with no download and from any
//! directory. It is written once to the user's cache directory (atomically) and opened from there.

use std::path::PathBuf;

/// A cow photo with its real sound, H.264 + AAC (see assets/README.md for provenance).
pub const DEMO_MP4: &[u8] = include_bytes!("../assets/demo/cow.mp4");
pub const DEMO_NAME: &str = "cow.mp4";

fn cache_dir() -> PathBuf {
    crate::files::cache_dir().join("demo")
}

/// Where the demo clip lives on disk (no I/O: use this to recognise it).
pub fn cached_path() -> PathBuf {
    cache_dir().join(DEMO_NAME)
}

/// Path of the demo clip on disk, writing it first if it is missing or stale.
pub fn demo_clip_path() -> std::io::Result<PathBuf> {
    write_cached(&cache_dir(), DEMO_NAME, DEMO_MP4)
}

/// The demo video model: an R(2+1)D-18-style network at a quarter of torchvision's widths on
/// 8 frames of 112 px, trained on camera moves over the farm photos (assets/models/video).
pub const VIDEO_MODEL_NAME: &str = "demo:video";
const VIDEO_SPEC: &[u8] = include_bytes!("../assets/models/video/r2plus1d_demo.json");
const VIDEO_WEIGHTS: &[u8] = include_bytes!("../assets/models/video/r2plus1d_demo.safetensors");

/// The demo video model's spec on disk (its weights beside it), written first if missing or
/// stale.
pub fn video_model_spec() -> std::io::Result<PathBuf> {
    let dir = cache_dir().join("video-model");
    write_cached(&dir, "r2plus1d_demo.safetensors", VIDEO_WEIGHTS)?;
    write_cached(&dir, "r2plus1d_demo.json", VIDEO_SPEC)
}

/// `dir/name` holding `bytes`: kept when it already does, else written atomically.
fn write_cached(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let path = dir.join(name);
    if std::fs::read(&path).is_ok_and(|b| b == bytes) {
        return Ok(path);
    }
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_is_written_once_and_rewritten_when_damaged() {
        let dir = std::env::temp_dir().join(format!("mcgurk-demo-test-{}", std::process::id()));
        // SAFETY: tests in this binary do not read XDG_CACHE_HOME concurrently except this one.
        unsafe { std::env::set_var("XDG_CACHE_HOME", &dir) };
        let path = demo_clip_path().unwrap();
        assert_eq!(path, dir.join("mcgurk/demo/cow.mp4"));
        assert_eq!(cached_path(), path);
        assert_eq!(std::fs::read(&path).unwrap(), DEMO_MP4);
        std::fs::write(&path, b"damaged").unwrap();
        assert_eq!(std::fs::read(demo_clip_path().unwrap()).unwrap(), DEMO_MP4);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
