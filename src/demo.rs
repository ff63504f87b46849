//! The demo clip, embedded in the binary so `mcgurk` works with no download and from any
//! directory. It is written once to the user's cache directory (atomically) and opened from there.

use std::path::PathBuf;

/// A cow photo with its real sound, H.264 + AAC (see assets/README.md for provenance).
pub const DEMO_MP4: &[u8] = include_bytes!("../assets/demo/cow.mp4");
pub const DEMO_NAME: &str = "mcgurk-demo-cow.mp4";

fn cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("mcgurk")
}

/// Path of the demo clip on disk, writing it first if it is missing or stale.
pub fn demo_clip_path() -> std::io::Result<PathBuf> {
    let dir = cache_dir();
    let path = dir.join(DEMO_NAME);
    if std::fs::read(&path).is_ok_and(|b| b == DEMO_MP4) {
        return Ok(path);
    }
    std::fs::create_dir_all(&dir)?;
    let tmp = dir.join(format!(".{DEMO_NAME}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, DEMO_MP4)?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}
