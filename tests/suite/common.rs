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
