//! Atomic file writes: write a sibling temp file, then rename, so a crash never leaves half a file.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// McGurk's cache directory (`$XDG_CACHE_HOME/mcgurk`, else `~/.cache/mcgurk`, else the
/// system temp directory): the demo clip and the session recovery file live there.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("mcgurk")
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().with_context(|| format!("not a file path: {}", path.display()))?;
    let tmp = dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}

pub fn save_png_atomic(path: &Path, img: &image::RgbImage) -> anyhow::Result<()> {
    let mut bytes = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png).context("encoding PNG")?;
    write_atomic(path, &bytes)
}
