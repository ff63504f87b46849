//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures").join(name)
}

pub fn demo(name: &str) -> PathBuf {
    root().join("assets/demo").join(name)
}

/// Frequency estimated from zero crossings over the middle of a signal.
pub fn zero_crossing_hz(samples: &[f32], rate: u32) -> f32 {
    let n = samples.len();
    let mid = &samples[n / 4..3 * n / 4];
    let crossings = mid.windows(2).filter(|w| (w[0] < 0.0) != (w[1] < 0.0)).count();
    crossings as f32 / 2.0 / (mid.len() as f32 / rate as f32)
}

pub fn peak(samples: &[f32]) -> f32 {
    let n = samples.len();
    samples[n / 4..3 * n / 4].iter().fold(0.0f32, |m, v| m.max(v.abs()))
}

pub fn close_rgb(actual: [f32; 3], expected: [f32; 3], tol: f32) -> bool {
    actual.iter().zip(expected).all(|(a, e)| (a - e).abs() <= tol)
}

/// Is ffmpeg (with ffprobe) on PATH? CI installs it, so there a missing ffmpeg is a failure.
pub fn require_ffmpeg() -> Option<mcgurk::media::Ffmpeg> {
    let ff = mcgurk::media::Ffmpeg::from_path();
    if ff.is_none() {
        assert!(std::env::var_os("CI").is_none(), "CI must install ffmpeg (see .ci/run)");
        eprintln!("SKIP: ffmpeg/ffprobe not on PATH; the fallback path is untested in this run");
    }
    ff
}

pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Says that a test skipped, past the test harness's output capture (it writes to the
/// process's stderr itself, not through `eprintln!`), so the line shows in a passing run's log.
pub fn loud_skip(test: &str, why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "\n*** SKIPPED {test}: {why} ***");
}

/// The shared GPU (lavapipe where there is no real one). None only where the machine has no
/// adapter at all, said loudly; in CI, which installs lavapipe, that fails instead. An adapter
/// whose device, kernels or burn setup fail fails the test.
pub fn shared_gpu(test: &str) -> Option<&'static mcgurk::kernels::Gpu> {
    match mcgurk::kernels::shared() {
        Ok(gpu) => Some(gpu),
        Err(mcgurk::kernels::KernelError::NoAdapter(e)) => {
            assert!(std::env::var_os("CI").is_none(), "CI must install lavapipe (tests/run.sh): no GPU adapter ({e})");
            loud_skip(test, &format!("no GPU adapter on this machine ({e})"));
            None
        }
        Err(e) => panic!("a GPU adapter exists but the shared device failed: {e}"),
    }
}

/// A mark in an SVG that plotters wrote: a circle (centre, filled or ring) or a polyline.
#[derive(Debug)]
pub struct SvgMark {
    pub circle: bool,
    /// The fill colour of a filled circle, else the stroke colour ("#1F77B4").
    pub colour: String,
    pub filled: bool,
    pub radius: f64,
    pub points: Vec<(f64, f64)>,
}

/// The circles and polylines of an SVG, in drawing order (what the data became).
pub fn svg_marks(svg: &str) -> Vec<SvgMark> {
    let attr = |tag: &str, name: &str| -> Option<String> {
        let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        Some(tag[at..at + tag[at..].find('"')?].to_string())
    };
    let num = |tag: &str, name: &str| attr(tag, name).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
    let mut marks = Vec::new();
    for (i, _) in svg.match_indices('<') {
        let tag = &svg[i..i + svg[i..].find('>').unwrap_or(0)];
        if tag.starts_with("<circle ") {
            let fill = attr(tag, "fill").unwrap_or_default();
            let filled = fill != "none";
            let colour = if filled { fill } else { attr(tag, "stroke").unwrap_or_default() };
            marks.push(SvgMark { circle: true, colour, filled, radius: num(tag, "r"), points: vec![(num(tag, "cx"), num(tag, "cy"))] });
        } else if tag.starts_with("<polyline ") {
            let points = attr(tag, "points")
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|p| p.split_once(',').and_then(|(x, y)| Some((x.parse().ok()?, y.parse().ok()?))))
                .collect();
            marks.push(SvgMark { circle: false, colour: attr(tag, "stroke").unwrap_or_default(), filled: false, radius: 0.0, points });
        }
    }
    marks
}

/// `#RRGGBB` of a palette colour, as plotters writes it.
pub fn hex([r, g, b]: [u8; 3]) -> String {
    format!("#{r:02X}{g:02X}{b:02X}")
}

/// Whether pixel positions are an affine image of the data (one scale and offset for all, to a
/// pixel): the figure drew these values.
pub fn affine(data: &[f64], pixels: &[f64]) -> bool {
    assert_eq!(data.len(), pixels.len());
    let (i, j) = (0..data.len()).flat_map(|i| (0..data.len()).map(move |j| (i, j))).max_by(|a, b| {
        (data[a.0] - data[a.1]).abs().total_cmp(&(data[b.0] - data[b.1]).abs())
    }).unwrap_or((0, 0));
    if (data[i] - data[j]).abs() < 1e-12 {
        return pixels.iter().all(|p| (p - pixels[0]).abs() <= 1.0);
    }
    let scale = (pixels[i] - pixels[j]) / (data[i] - data[j]);
    data.iter().zip(pixels).all(|(d, p)| (pixels[i] + scale * (d - data[i]) - p).abs() <= 1.0)
}

/// The tensor names of a state dict as McGurk writes one back (no BatchNorm counters, no front
/// end buffers), sorted: what a fine-tuned or re-exported checkpoint must hold.
pub fn written_keys(st: &mcgurk::models::safetensors::SafeTensors) -> Vec<String> {
    let mut keys: Vec<String> = st.tensors.keys().filter(|k| !k.ends_with("num_batches_tracked") && !k.contains("extractor")).cloned().collect();
    keys.sort();
    keys
}

/// The `train_log.json` a fine-tuning wrote to `out`, checked: `epochs` epochs on `train` clips
/// with `held_out` held out (each epoch measuring them when there are any), and a training loss
/// that at least halved from the first epoch to the last.
pub fn fine_tune_log(out: &Path, epochs: usize, train: u64, held_out: u64) -> serde_json::Value {
    let log: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("train_log.json")).unwrap()).unwrap();
    let lines = log["epochs"].as_array().unwrap();
    assert_eq!((lines.len(), log["train_clips"].as_u64(), log["held_out_clips"].as_u64()), (epochs, Some(train), Some(held_out)));
    let loss = |e: &serde_json::Value| e["train_loss"].as_f64().unwrap();
    let (first, last) = (loss(&lines[0]), loss(&lines[epochs - 1]));
    assert!(last < 0.5 * first, "the loss did not fall: {first} -> {last}");
    if held_out > 0 {
        assert!(lines.iter().all(|e| e["val_acc"].is_number()));
    }
    log
}
