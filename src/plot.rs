//! Line charts as PNG images with no GUI (robustness curves from `mcgurk eval --plot`): axes,
//! ticks, a legend and labels in an 8x8 bitmap font drawn at twice its size.

use image::{Rgb, RgbImage};

/// One line: a name for the legend and its (x, y) points, in x order.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// Distinct colours that survive greyscale printing reasonably (Tableau 10); the workbench's
/// curve window uses them too.
pub const PALETTE: [[u8; 3]; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];

const W: u32 = 960;
const H: u32 = 600;
const LEFT: i64 = 110;
const RIGHT: i64 = 250;
const TOP: i64 = 60;
const BOTTOM: i64 = 90;
const GLYPH: i64 = 16;

/// A chart of `series` with y from 0 to `y_max`; x spans the points' range. `x_ticks` label the
/// x axis at those values.
pub fn line_chart(title: &str, x_label: &str, y_label: &str, y_max: f64, x_ticks: &[(f64, String)], series: &[Series]) -> RgbImage {
    let mut img = RgbImage::from_pixel(W, H, Rgb([255, 255, 255]));
    let (x0, x1) = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .chain(x_ticks.iter().map(|t| t.0))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| (lo.min(x), hi.max(x)));
    let (x0, x1) = if x0.is_finite() && x1 > x0 { (x0, x1) } else { (x0.min(0.0), x0.max(0.0) + 1.0) };
    let (pw, ph) = (W as i64 - LEFT - RIGHT, H as i64 - TOP - BOTTOM);
    let px = |x: f64| LEFT + ((x - x0) / (x1 - x0) * pw as f64).round() as i64;
    let py = |y: f64| TOP + ph - ((y / y_max).clamp(0.0, 1.0) * ph as f64).round() as i64;
    let grid = Rgb([225, 225, 225]);
    let ink = Rgb([30, 30, 30]);
    for k in 0..=4 {
        let y = y_max * k as f64 / 4.0;
        line(&mut img, (LEFT, py(y)), (LEFT + pw, py(y)), grid, 1);
        let label = format!("{:.0}", y);
        text(&mut img, LEFT - 12 - GLYPH * label.len() as i64, py(y) - GLYPH / 2, &label, ink);
    }
    for (x, label) in x_ticks {
        line(&mut img, (px(*x), TOP), (px(*x), TOP + ph), grid, 1);
        text(&mut img, px(*x) - GLYPH * label.len() as i64 / 2, TOP + ph + 10, label, ink);
    }
    line(&mut img, (LEFT, TOP), (LEFT, TOP + ph), ink, 2);
    line(&mut img, (LEFT, TOP + ph), (LEFT + pw, TOP + ph), ink, 2);
    text(&mut img, (W as i64 - GLYPH * title.len() as i64) / 2, 18, title, ink);
    text(&mut img, LEFT + (pw - GLYPH * x_label.len() as i64) / 2, H as i64 - 40, x_label, ink);
    text(&mut img, 10, TOP - 36, y_label, ink);
    for (i, s) in series.iter().enumerate() {
        let colour = Rgb(PALETTE[i % PALETTE.len()]);
        for w in s.points.windows(2) {
            line(&mut img, (px(w[0].0), py(w[0].1)), (px(w[1].0), py(w[1].1)), colour, 3);
        }
        for &(x, y) in &s.points {
            square(&mut img, px(x), py(y), 5, colour);
        }
        let ly = TOP + 10 + i as i64 * (GLYPH + 12);
        let lx = LEFT + pw + 24;
        line(&mut img, (lx, ly + GLYPH / 2), (lx + 30, ly + GLYPH / 2), colour, 3);
        text(&mut img, lx + 40, ly, &s.name, ink);
    }
    img
}

fn put(img: &mut RgbImage, x: i64, y: i64, c: Rgb<u8>) {
    if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
        img.put_pixel(x as u32, y as u32, c);
    }
}

fn square(img: &mut RgbImage, cx: i64, cy: i64, r: i64, c: Rgb<u8>) {
    for y in cy - r..=cy + r {
        for x in cx - r..=cx + r {
            put(img, x, y, c);
        }
    }
}

/// A line `width` pixels thick (Bresenham, a square brush).
fn line(img: &mut RgbImage, (mut x, mut y): (i64, i64), (x1, y1): (i64, i64), c: Rgb<u8>, width: i64) {
    let (dx, dy) = ((x1 - x).abs(), -(y1 - y).abs());
    let (sx, sy) = (if x < x1 { 1 } else { -1 }, if y < y1 { 1 } else { -1 });
    let mut err = dx + dy;
    let (lo, hi) = (-(width - 1) / 2, width / 2);
    loop {
        for oy in lo..=hi {
            for ox in lo..=hi {
                put(img, x + ox, y + oy, c);
            }
        }
        if x == x1 && y == y1 {
            break;
        }
        let e2 = 2 * err;
        if e2 >= dy {
            err += dy;
            x += sx;
        }
        if e2 <= dx {
            err += dx;
            y += sy;
        }
    }
}

/// ASCII text at (x, y), each 8x8 glyph drawn 2x; other characters show as '?'.
fn text(img: &mut RgbImage, x: i64, y: i64, s: &str, c: Rgb<u8>) {
    for (i, ch) in s.chars().enumerate() {
        let code = if ch.is_ascii() { ch as usize } else { '?' as usize };
        let glyph = font8x8::legacy::BASIC_LEGACY[code];
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..8 {
                if bits >> col & 1 == 1 {
                    let (gx, gy) = (x + i as i64 * GLYPH + 2 * col, y + 2 * row as i64);
                    square(img, gx, gy, 0, c);
                    put(img, gx + 1, gy, c);
                    put(img, gx, gy + 1, c);
                    put(img, gx + 1, gy + 1, c);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_labels_land_where_the_axes_say() {
        let s = Series { name: "sum".into(), points: vec![(0.0, 100.0), (1.0, 50.0), (2.0, 0.0)] };
        let img = line_chart("t", "eps", "acc %", 100.0, &[(0.0, "0".into()), (2.0, "2".into())], &[s]);
        let colour = Rgb(PALETTE[0]);
        let ph = H as i64 - TOP - BOTTOM;
        let pw = W as i64 - LEFT - RIGHT;
        // The first point at (left, top), the middle one at the plot's centre, the last at the
        // bottom right.
        assert_eq!(*img.get_pixel(LEFT as u32, TOP as u32), colour);
        assert_eq!(*img.get_pixel((LEFT + pw / 2) as u32, (TOP + ph / 2) as u32), colour);
        assert_eq!(*img.get_pixel((LEFT + pw) as u32, (TOP + ph) as u32), colour);
        // Some ink in the title row (the "t"), none far outside the chart.
        assert!((0..W).any(|x| (18..34).any(|y| img.get_pixel(x, y).0 == [30, 30, 30])));
        assert_eq!(*img.get_pixel(W - 2, H - 2), Rgb([255, 255, 255]));
    }
}
