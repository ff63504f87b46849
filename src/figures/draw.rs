//! A [`Figure`] drawn on a plotters backend: SVG into a string, PNG into an RGB buffer.

use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::{Figure, FigureError, Layer, SIZE};
use crate::dsp::colormap::Colormap;

/// The embedded font every figure uses (Ubuntu Light, shipped with egui's default fonts).
const FAMILY: &str = "mcgurk-sans";

fn font_ready() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a known-good font compiled into the binary; a failure here is a bug.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, epaint_default_fonts::UBUNTU_LIGHT);
    });
}

fn err(e: impl std::fmt::Display) -> FigureError {
    FigureError::Draw(e.to_string())
}

pub fn render_svg(fig: &Figure) -> Result<String, FigureError> {
    font_ready();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        draw(&root, fig)?;
        root.present().map_err(err)?;
    }
    Ok(out)
}

pub fn render_png(fig: &Figure) -> Result<image::RgbImage, FigureError> {
    font_ready();
    let mut buf = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
    {
        let root = super::text::TextFix(BitMapBackend::with_buffer(&mut buf, SIZE)).into_drawing_area();
        draw(&root, fig)?;
        root.present().map_err(err)?;
    }
    image::RgbImage::from_raw(SIZE.0, SIZE.1, buf).ok_or_else(|| err("buffer size"))
}

/// The data's range along one axis, widened by 5% (and to 1 when it is a single value).
fn span(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = if hi > lo { 0.05 * (hi - lo) } else { 0.5 };
    (lo - pad, hi + pad)
}

/// Tick labels with as many decimals as the axis' extent needs.
fn number_format(extent: f64) -> impl Fn(&f64) -> String {
    let decimals = if extent >= 20.0 { 0 } else if extent >= 2.0 { 1 } else { 2 };
    move |v: &f64| format!("{v:.decimals$}")
}

fn rgb(c: [u8; 3]) -> RGBColor {
    RGBColor(c[0], c[1], c[2])
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, fig: &Figure) -> Result<(), FigureError>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let (plot_area, scale_area) = match &fig.colour_scale {
        Some(_) => {
            let (a, b) = root.split_horizontally(SIZE.0 - 150);
            (a, Some(b))
        }
        None => (root.clone(), None),
    };
    let all = || fig.layers.iter().flat_map(|l| l.points().iter().copied());
    let (x0, x1) = fig.x_range.unwrap_or_else(|| span(all().map(|p| p.0).chain(fig.x_ticks.iter().flatten().map(|t| t.0))));
    let (y0, y1) = fig.y_range.unwrap_or_else(|| span(all().map(|p| p.1)));
    let text = |size: f64| (FAMILY, size).into_font();
    let mut chart = ChartBuilder::on(&plot_area)
        .caption(&fig.title, text(24.0))
        .margin(16)
        .x_label_area_size(56)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    let (fx, fy) = (number_format(x1 - x0), number_format(y1 - y0));
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(&fig.x_label)
        .y_desc(&fig.y_label)
        .label_style(text(15.0))
        .axis_desc_style(text(17.0))
        .max_light_lines(1)
        .light_line_style(RGBColor(240, 240, 240))
        .bold_line_style(RGBColor(215, 215, 215))
        .x_label_formatter(&fx)
        .y_label_formatter(&fy);
    if fig.x_ticks.is_some() {
        // Categorical steps: the labels are drawn below, at their own positions.
        mesh.x_labels(0).disable_x_mesh();
    }
    mesh.draw().map_err(err)?;
    if let Some(ticks) = &fig.x_ticks {
        let (_, bottom) = chart.backend_coord(&(x0, y0));
        for (x, label) in ticks {
            let (px, _) = chart.backend_coord(&(*x, y0));
            let style = TextStyle::from(text(15.0)).pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Center,
                plotters::style::text_anchor::VPos::Top,
            ));
            root.draw(&PathElement::new(vec![(px, bottom), (px, bottom + 5)], BLACK)).map_err(err)?;
            root.draw_text(label, &style, (px, bottom + 8)).map_err(err)?;
        }
    }
    let mut legend = false;
    // Point labels go where they overlap neither another label nor a marker.
    let mut placed: Vec<(i32, i32, i32, i32)> = Vec::new();
    let marks: Vec<(i32, i32)> = fig
        .layers
        .iter()
        .filter(|l| matches!(l, Layer::Points { .. }))
        .flat_map(|l| l.points().iter().map(|p| chart.backend_coord(p)))
        .collect();
    for layer in &fig.layers {
        match layer {
            Layer::Line { name, colour, points } => {
                let c = rgb(*colour);
                chart
                    .draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(3)))
                    .map_err(err)?
                    .label(name.as_str())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3)));
                chart.draw_series(points.iter().map(|p| Circle::new(*p, 4, c.filled()))).map_err(err)?;
                legend = true;
            }
            Layer::Points { name, colour, points, filled, labels } => {
                let style = |i: usize| {
                    let c = rgb(colour.get(i).or(colour.first()).copied().unwrap_or([0, 0, 0]));
                    if *filled { c.filled() } else { c.stroke_width(2) }
                };
                let drawn = chart.draw_series(points.iter().enumerate().map(|(i, p)| Circle::new(*p, 6, style(i)))).map_err(err)?;
                if let Some(name) = name {
                    let s = style(0);
                    drawn.label(name.as_str()).legend(move |(x, y)| Circle::new((x + 10, y), 5, s));
                    legend = true;
                }
                let label_style = TextStyle::from(text(14.0));
                for (p, l) in points.iter().zip(labels) {
                    let at = chart.backend_coord(p);
                    let spot = place_label(&mut placed, at, l, &marks);
                    root.draw_text(l.trim(), &label_style, spot).map_err(err)?;
                }
            }
        }
    }
    if legend {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .label_font(text(15.0))
            .draw()
            .map_err(err)?;
    }
    if let (Some((name, lo, hi)), Some(area)) = (&fig.colour_scale, scale_area) {
        colour_scale(&area, name, *lo, *hi, &text)?;
    }
    Ok(())
}

/// Where a label beside the marker at `at` goes: right of it, else above, below or left, else
/// further along its sides, the first place whose box meets no placed label and no other marker
/// (else right of it). The box
/// is estimated from the text's length (the font's width, about 0.55 em per character).
fn place_label(placed: &mut Vec<(i32, i32, i32, i32)>, at: (i32, i32), label: &str, marks: &[(i32, i32)]) -> (i32, i32) {
    let (w, h) = ((label.trim().chars().count() as f64 * 14.0 * 0.55).ceil() as i32, 15);
    // Right of the marker first, then above, below and left, then further up and down the sides.
    let mut candidates = vec![(9, -h / 2), (-w / 2, -h - 9), (-w / 2, 9), (-w - 9, -h / 2)];
    for k in 1..8 {
        for dy in [-h / 2 - k * h, -h / 2 + k * h] {
            candidates.extend([(9, dy), (-w - 9, dy)]);
        }
    }
    let meets = |b: &(i32, i32, i32, i32), c: &(i32, i32, i32, i32)| b.0 < c.2 && c.0 < b.2 && b.1 < c.3 && c.1 < b.3;
    let boxes: Vec<(i32, i32, i32, i32)> = candidates.iter().map(|(dx, dy)| (at.0 + dx, at.1 + dy, at.0 + dx + w, at.1 + dy + h)).collect();
    let free = |b: &(i32, i32, i32, i32)| {
        !placed.iter().any(|p| meets(b, p)) && !marks.iter().filter(|m| **m != at).any(|m| meets(b, &(m.0 - 6, m.1 - 6, m.0 + 6, m.1 + 6)))
    };
    let chosen = boxes.iter().find(|b| free(b)).copied().unwrap_or(boxes[0]);
    placed.push(chosen);
    (chosen.0, chosen.1)
}

/// A vertical viridis bar with its two end values and its name.
fn colour_scale<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, name: &str, lo: f64, hi: f64, text: &dyn Fn(f64) -> FontDesc<'static>) -> Result<(), FigureError>
where
    DB::ErrorType: 'static,
{
    let (top, bottom, left) = (90, SIZE.1 as i32 - 110, 20);
    let steps = 64;
    for k in 0..steps {
        let t = 1.0 - (k as f32 + 0.5) / steps as f32;
        let y = top + (bottom - top) * k / steps;
        let y2 = top + (bottom - top) * (k + 1) / steps;
        area.draw(&Rectangle::new([(left, y), (left + 24, y2)], rgb(Colormap::Viridis.rgb(t)).filled())).map_err(err)?;
    }
    area.draw_text(&format!("{hi:.2}"), &TextStyle::from(text(14.0)), (left + 30, top - 6)).map_err(err)?;
    area.draw_text(&format!("{lo:.2}"), &TextStyle::from(text(14.0)), (left + 30, bottom - 8)).map_err(err)?;
    // "rho (fused, tau 0.6)": the quantity, and what it is of on a line below.
    let (what, of) = name.split_once(" (").map_or((name, None), |(a, b)| (a, Some(format!("({b}"))));
    area.draw_text(what, &TextStyle::from(text(16.0)), (left - 10, top - 48)).map_err(err)?;
    if let Some(of) = of {
        area.draw_text(&of, &TextStyle::from(text(13.0)), (left - 10, top - 28)).map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_of_crowded_points_do_not_overlap() {
        // Four points a few pixels apart: each label finds its own free place.
        let marks = [(100, 100), (104, 100), (100, 104), (104, 104)];
        let mut placed = Vec::new();
        for m in marks {
            place_label(&mut placed, m, "chicken", &marks);
        }
        for (i, a) in placed.iter().enumerate() {
            for b in &placed[i + 1..] {
                assert!(!(a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3), "{a:?} meets {b:?}");
            }
        }
        // A lone point's label sits right of it, centred on it.
        let mut placed = Vec::new();
        assert_eq!(place_label(&mut placed, (50, 50), "cat", &[(50, 50)]), (59, 43));
    }
}
