//! PNG text drawn with correct glyph placement. plotters 0.3.7's ab_glyph path places each glyph
//! at its advance but drops its left side bearing, so letters crowd and gaps open ("convexityk
//! appa"). This backend wraps the bitmap backend and draws text itself with ab_glyph, bearings
//! and kerning included; everything else passes through.

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, ScaleFont};
use plotters::prelude::*;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind};

fn font() -> Option<&'static FontRef<'static>> {
    static FONT: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(epaint_default_fonts::UBUNTU_LIGHT).ok()).as_ref()
}

/// Glyph coverage of `text` at `size` px, from its top-left corner: (x, y, coverage), and the
/// box it fills (width, height).
pub fn rasterize(text: &str, size: f32) -> (Vec<(i32, i32, f32)>, (i32, i32)) {
    let Some(font) = font() else { return (Vec::new(), (0, 0)) };
    let scaled = font.as_scaled(size);
    let (mut x, mut prev) = (0f32, None);
    let mut out = Vec::new();
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            x += scaled.kern(p, id);
        }
        let glyph = id.with_scale_and_position(size, ab_glyph::point(x, scaled.ascent()));
        if let Some(outline) = scaled.outline_glyph(glyph) {
            let b = outline.px_bounds();
            outline.draw(|gx, gy, cov| out.push((b.min.x as i32 + gx as i32, b.min.y as i32 + gy as i32, cov)));
        }
        x += scaled.h_advance(id);
        prev = Some(id);
    }
    (out, (x.ceil() as i32, (scaled.ascent() - scaled.descent()).ceil() as i32))
}

pub struct TextFix<B>(pub B);

impl<B: DrawingBackend> DrawingBackend for TextFix<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.0.get_size()
    }
    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.ensure_prepared()
    }
    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.present()
    }
    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_pixel(point, color)
    }
    fn draw_line<S: BackendStyle>(&mut self, from: BackendCoord, to: BackendCoord, style: &S) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_line(from, to, style)
    }
    fn draw_rect<S: BackendStyle>(&mut self, a: BackendCoord, b: BackendCoord, style: &S, fill: bool) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_rect(a, b, style, fill)
    }
    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(&mut self, path: I, style: &S) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_path(path, style)
    }
    fn draw_circle<S: BackendStyle>(&mut self, center: BackendCoord, radius: u32, style: &S, fill: bool) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_circle(center, radius, style, fill)
    }
    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(&mut self, vert: I, style: &S) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.fill_polygon(vert, style)
    }
    fn blit_bitmap(&mut self, pos: BackendCoord, size: (u32, u32), src: &[u8]) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.blit_bitmap(pos, size, src)
    }
    fn estimate_text_size<S: BackendTextStyle>(&self, text: &str, style: &S) -> Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        let (_, (w, h)) = rasterize(text, style.size() as f32);
        Ok((w.max(0) as u32, h.max(0) as u32))
    }
    fn draw_text<S: BackendTextStyle>(&mut self, text: &str, style: &S, pos: BackendCoord) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let (pixels, (w, h)) = rasterize(text, style.size() as f32);
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Right => -w,
            HPos::Center => -w / 2,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -h / 2,
            VPos::Bottom => -h,
        };
        let trans = style.transform();
        let (sw, sh) = self.get_size();
        for (x, y, cov) in pixels {
            let (x, y) = trans.transform(x + dx, y + dy);
            let (x, y) = (pos.0 + x, pos.1 + y);
            if x >= 0 && y >= 0 && x < sw as i32 && y < sh as i32 && cov > 0.0 {
                self.0.draw_pixel((x, y), BackendColor { alpha: color.alpha * f64::from(cov.min(1.0)), rgb: color.rgb })?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(pixels: &[(i32, i32, f32)]) -> std::collections::BTreeSet<i32> {
        pixels.iter().filter(|p| p.2 > 0.1).map(|p| p.0).collect()
    }

    #[test]
    fn glyphs_keep_their_bearings_and_spaces() {
        // Two l's with a space between: the gap is about a space wide, not swallowed.
        let (px, (w, h)) = rasterize("l l", 20.0);
        assert!(w > 0 && h >= 20, "{w}x{h}");
        let cols: Vec<i32> = columns(&px).into_iter().collect();
        let gaps: Vec<i32> = cols.windows(2).map(|c| c[1] - c[0]).filter(|g| *g > 1).collect();
        assert_eq!(gaps.len(), 1, "{cols:?}");
        let font = font().unwrap().as_scaled(20.0);
        let space = font.h_advance(font.glyph_id(' '));
        assert!((gaps[0] as f32 - space).abs() < font.h_advance(font.glyph_id('l')), "gap {} vs space {space}", gaps[0]);
        // An 'i' after an 'i' starts one advance later, bearing included (plotters 0.3.7 drew
        // both at their advance minus the bearing).
        let (one, _) = rasterize("i", 20.0);
        let (two, _) = rasterize("ii", 20.0);
        let first = *columns(&one).iter().next().unwrap();
        let advance = font.h_advance(font.glyph_id('i')).round() as i32;
        assert!(columns(&two).contains(&(first + advance)) && first > 0, "the second i at {}", first + advance);
    }
}
