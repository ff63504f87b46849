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
    let dir = cache_dir();
    let path = cached_path();
    if std::fs::read(&path).is_ok_and(|b| b == DEMO_MP4) {
        return Ok(path);
    }
    std::fs::create_dir_all(&dir)?;
    let tmp = dir.join(format!(".{DEMO_NAME}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, DEMO_MP4)?;
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
