//! Drawing only: the frame view, the waveform and the spectrogram, aligned on one time axis.

use egui::{Color32, Rect, Stroke, TextureHandle, Ui, vec2};
use egui_plot::{Bar, BarChart, HLine, Legend, Line, Plot, PlotImage, PlotPoint, PlotPoints, Span, VLine};

use crate::analysis::ClipAnalysis;
use crate::media::ANALYSIS_WINDOW;

pub const WINDOW_FILL: Color32 = Color32::from_rgba_premultiplied(34, 30, 0, 28);
/// Same y-axis width on both plots, so their time axes line up pixel for pixel.
const Y_AXIS_WIDTH: f32 = 48.0;
pub const WINDOW_EDGE: Color32 = Color32::from_rgb(240, 200, 40);

/// The analysis window, in seconds, around `centre_s`.
pub fn window_span(centre_s: f64, sample_rate: u32) -> (f64, f64) {
    let half = (ANALYSIS_WINDOW / 2) as f64 / f64::from(sample_rate);
    (centre_s - half, centre_s + half)
}

/// The frame scaled to fit, with the model's centre crop outlined; returns the crop's rect.
pub fn frame(ui: &mut Ui, tex: &TextureHandle, show_crop: bool, max: egui::Vec2) -> Rect {
    let [w, h] = tex.size().map(|v| v as f32);
    let scale = (max.x / w).min(max.y / h).min(4.0);
    let resp = ui.add(egui::Image::new((tex.id(), vec2(w, h) * scale)).sense(egui::Sense::hover()));
    // The model resizes the short side to its input size and centre-crops a square: the
    // central min(w, h) square of the original is what it sees.
    let side = w.min(h) * scale;
    let rect = Rect::from_center_size(resp.rect.center(), vec2(side, side));
    if show_crop {
        ui.painter().rect_stroke(rect, 0.0, Stroke::new(1.5, WINDOW_EDGE), egui::StrokeKind::Inside);
        let galley = ui.painter().layout_no_wrap("model view (centre crop)".into(), egui::FontId::proportional(11.0), WINDOW_EDGE);
        let at = rect.left_top() + vec2(3.0, 3.0);
        ui.painter().rect_filled(Rect::from_min_size(at, galley.size() + vec2(6.0, 2.0)), 2.0, Color32::from_black_alpha(170));
        ui.painter().galley(at + vec2(3.0, 1.0), galley, WINDOW_EDGE);
    }
    rect
}

/// A plot click, in seconds.
pub type Seek = Option<f64>;

/// Waveform envelope with the analysis window shaded; returns where the user clicked.
pub fn waveform(ui: &mut Ui, analysis: &ClipAnalysis, centre_s: f64, height: f32) -> Seek {
    let dt = analysis.bucket_len as f64 / f64::from(analysis.sample_rate);
    // Draw the envelope as one polyline zig-zagging between each bucket's min and max.
    let points: PlotPoints<'_> = analysis
        .envelope
        .iter()
        .enumerate()
        .flat_map(|(i, &(lo, hi))| {
            let t = i as f64 * dt;
            [[t, f64::from(lo)], [t + dt * 0.5, f64::from(hi)]]
        })
        .collect();
    let (a, b) = window_span(centre_s, analysis.sample_rate);
    let resp = time_plot("waveform", analysis, height)
        .include_y(-1.0)
        .include_y(1.0)
        .y_axis_label("amplitude")
        .show(ui, |p| {
            p.span(Span::new("analysis window", a..=b).fill(WINDOW_FILL).border(Stroke::new(1.0, WINDOW_EDGE)));
            p.line(Line::new("waveform", points).color(Color32::from_rgb(120, 180, 255)).width(1.0));
            p.vline(VLine::new("frame", centre_s).color(WINDOW_EDGE).width(1.5));
        });
    clicked_time(&resp.response, resp.transform.value_from_position(resp.response.interact_pointer_pos().unwrap_or_default()))
}

/// Log-mel spectrogram image on the same time axis.
pub fn spectrogram(ui: &mut Ui, analysis: &ClipAnalysis, tex: &TextureHandle, centre_s: f64, height: f32) -> Seek {
    let spec = &analysis.spectrogram;
    // Column k is centred on sample k * hop: the image spans half a hop either side.
    let hop_s = spec.hop as f64 / f64::from(spec.sample_rate);
    let (first, last) = (-hop_s / 2.0, (spec.n_frames as f64 - 0.5) * hop_s);
    let duration = last - first;
    let mels = spec.n_mels as f64;
    let (a, b) = window_span(centre_s, analysis.sample_rate);
    let resp = time_plot("spectrogram", analysis, height)
        .include_y(0.0)
        .include_y(mels)
        .show_grid([true, false])
        .x_axis_label("time (s)")
        .y_axis_label("mel band")
        .show(ui, |p| {
            p.image(PlotImage::new("log-mel", tex.id(), PlotPoint::new((first + last) / 2.0, mels / 2.0), vec2(duration as f32, mels as f32)));
            p.span(Span::new("analysis window", a..=b).border(Stroke::new(1.5, WINDOW_EDGE)));
            p.vline(VLine::new("frame", centre_s).color(WINDOW_EDGE).width(1.5));
        });
    clicked_time(&resp.response, resp.transform.value_from_position(resp.response.interact_pointer_pos().unwrap_or_default()))
}

/// A plot on the shared time axis: same x range, same y-axis width and linked pan/zoom and
/// cursor, so the waveform and the spectrogram stay aligned pixel for pixel.
fn time_plot(id: &str, analysis: &ClipAnalysis, height: f32) -> Plot<'static> {
    let group = egui::Id::unique("mcgurk-time-axis");
    let extent = (analysis.envelope.len() * analysis.bucket_len) as f64 / f64::from(analysis.sample_rate);
    Plot::new(id)
        .height(height)
        .link_axis(group, [true, false])
        .link_cursor(group, [true, false])
        .y_axis_min_width(Y_AXIS_WIDTH)
        .default_x_bounds(0.0, extent)
        .allow_zoom([true, false])
        .allow_scroll([true, false])
}

fn clicked_time(resp: &egui::Response, at: PlotPoint) -> Seek {
    resp.clicked().then_some(at.x)
}

/// A placeholder box with a message, where a view has nothing to show.
pub fn empty(ui: &mut Ui, height: f32, text: &str) {
    let (rect, _) = ui.allocate_exact_size(vec2(ui.available_width(), height), egui::Sense::hover());
    ui.painter().rect_filled(rect, 4.0, ui.visuals().extreme_bg_color);
    // A real label (not painted text), so screen readers and UI tests can read it.
    ui.put(rect, egui::Label::new(egui::RichText::new(text).size(14.0).color(ui.visuals().weak_text_color())));
}

/// A log-mel picture of a model's audio window with its axes: seconds into the window and mel
/// bands (the audio-under-attack window's three pictures).
pub fn mel_picture(ui: &mut Ui, id: &str, tex: &TextureHandle, seconds: f64, height: f32) {
    let bands = tex.size()[1] as f64;
    Plot::new(id)
        .height(height)
        .allow_zoom(false)
        .allow_drag(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .show_grid(false)
        .include_x(0.0)
        .include_x(seconds)
        .include_y(0.0)
        .include_y(bands)
        .set_margin_fraction(vec2(0.0, 0.0))
        .y_axis_min_width(Y_AXIS_WIDTH)
        .x_axis_label("seconds into the model's window")
        .y_axis_label("mel band")
        .show(ui, |p| {
            p.image(PlotImage::new(id.to_string(), tex.id(), PlotPoint::new(seconds / 2.0, bands / 2.0), vec2(seconds as f32, bands as f32)));
        });
}

/// The heatmap's colour scale: the overlay's colours from low to high, as drawn on the picture.
pub fn heat_scale(ui: &mut Ui, what: &str) {
    // Wrapped: the predictions panel keeps its width.
    ui.horizontal_wrapped(|ui| {
        let low = ui.weak("low");
        let (rect, _) = ui.allocate_exact_size(vec2(120.0, 10.0), egui::Sense::hover());
        let steps = 48;
        for k in 0..steps {
            let t = (k as f32 + 0.5) / steps as f32;
            let [r, g, b] = crate::dsp::colormap::Colormap::Magma.rgb(t);
            let x0 = rect.left() + rect.width() * k as f32 / steps as f32;
            let x1 = rect.left() + rect.width() * (k + 1) as f32 / steps as f32;
            ui.painter().rect_filled(Rect::from_min_max(egui::pos2(x0, rect.top()), egui::pos2(x1, rect.bottom())), 0.0, Color32::from_rgb(r, g, b));
        }
        ui.weak("high");
        // One accessible name for the scale (screen readers, UI tests).
        low.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, format!("heatmap colour scale: {what}, low to high")));
        ui.weak(format!("({what}, scaled to each picture's range)"));
    });
}

/// The most probable classes, clean and attacked side by side; multi-label models show each
/// class's own sigmoid probability and the 0.5 line above which a class is heard.
pub fn probability_bars(ui: &mut Ui, id: &str, clean: &[f32], attacked: Option<&[f32]>, multi_label: bool, name: &dyn Fn(usize) -> String) {
    let mut order: Vec<usize> = (0..clean.len()).collect();
    order.sort_by(|a, b| clean[*b].total_cmp(&clean[*a]));
    order.truncate(10);
    ui.label(if multi_label { "per-class probability (sigmoid): heard above 0.5" } else { "class probability (softmax)" });
    let bars = |probs: &[f32], offset: f64| -> Vec<Bar> {
        order.iter().enumerate().map(|(k, &c)| Bar::new(k as f64 + offset, f64::from(probs[c])).width(0.38).name(name(c))).collect()
    };
    let labels: Vec<String> = order.iter().map(|&c| name(c)).collect();
    Plot::new(id)
        .height(200.0)
        .include_y(0.0)
        .include_y(1.0)
        .allow_zoom(false)
        .allow_drag(false)
        .allow_scroll(false)
        .legend(Legend::default())
        .x_axis_formatter(move |m, _| {
            let k = m.value.round();
            if (m.value - k).abs() < 1e-6 && k >= 0.0 { labels.get(k as usize).cloned().unwrap_or_default() } else { String::new() }
        })
        .show(ui, |p| {
            p.bar_chart(BarChart::new("clean", bars(clean, -0.2)).color(Color32::from_rgb(70, 130, 200)));
            if let Some(adv) = attacked {
                p.bar_chart(BarChart::new("attacked", bars(adv, 0.2)).color(Color32::from_rgb(220, 90, 60)));
            }
            if multi_label {
                p.hline(HLine::new("0.5", 0.5).color(Color32::GRAY));
            }
        });
}
