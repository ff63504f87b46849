//! Still images (PNG, JPEG, WebP) as single-frame clips.

use std::io::BufReader;
use std::path::Path;

use image::ImageReader;

use super::clip::RgbImage;
use super::error::MediaError;

/// Smallest side McGurk accepts: below this there is nothing for a visual model to see.
pub const MIN_SIDE: u32 = 16;
/// Largest side McGurk accepts; checked from the header before any pixel is allocated.
pub const MAX_SIDE: u32 = 16_384;

/// Width and height from the header only.
pub fn dimensions(path: &Path) -> Result<(u32, u32), MediaError> {
    reader(path)?.into_dimensions().map_err(|e| bad(path, format!("cannot read image header: {e}")))
}

pub fn load(path: &Path) -> Result<RgbImage, MediaError> {
    let (w, h) = dimensions(path)?;
    check_size(path, w, h)?;
    let mut reader = reader(path)?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| bad(path, format!("cannot decode image: {e}")))?;
    let rgb = if img.color().has_alpha() { over_white(&img.into_rgba8()) } else { img.into_rgb8() };
    Ok(RgbImage { width: rgb.width(), height: rgb.height(), pixels: rgb.into_raw() })
}

/// Transparent pixels (Tux Paint stamps) carry arbitrary colours; show them as a white page,
/// as every viewer does, rather than whatever RGB the encoder left behind.
fn over_white(rgba: &image::RgbaImage) -> image::RgbImage {
    image::RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let a = f32::from(a) / 255.0;
        let mix = |c: u8| (f32::from(c) * a + 255.0 * (1.0 - a)).round() as u8;
        image::Rgb([mix(r), mix(g), mix(b)])
    })
}

pub fn check_size(path: &Path, w: u32, h: u32) -> Result<(), MediaError> {
    if w < MIN_SIDE || h < MIN_SIDE {
        return Err(bad(path, format!("image is {w}x{h} pixels; McGurk needs at least {MIN_SIDE}x{MIN_SIDE}")));
    }
    if w > MAX_SIDE || h > MAX_SIDE {
        return Err(bad(path, format!("image is {w}x{h} pixels; McGurk accepts at most {MAX_SIDE} pixels a side (downscale it first)")));
    }
    Ok(())
}

fn reader(path: &Path) -> Result<ImageReader<BufReader<std::fs::File>>, MediaError> {
    ImageReader::open(path)
        .map_err(|e| MediaError::io(path, e))?
        .with_guessed_format()
        .map_err(|e| MediaError::io(path, e))
}

fn bad(path: &Path, detail: String) -> MediaError {
    MediaError::BadImage { path: path.to_path_buf(), detail }
}
