//! The CLI contract: probe (text and JSON) and spectrogram.

use std::process::Command;

use crate::common::*;

fn mcgurk(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mcgurk")).args(args).output().unwrap()
}

#[test]
fn probe_json_describes_the_demo_clip() {
    let path = demo("cow.mp4");
    let out = mcgurk(&["probe", "--json", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let info = &doc[0];
    assert_eq!(info["container"], "mp4");
    assert_eq!(info["video"]["codec"], "h264");
    assert_eq!(info["video"]["width"], 448);
    assert_eq!(info["video"]["height"], 336);
    assert_eq!(info["video"]["frame_count"], 52);
    assert_eq!(info["video"]["fps"].as_f64().map(|f| (f * 100.0).round()), Some(800.0));
    assert_eq!(info["audio"]["codec"], "aac");
    assert_eq!(info["audio"]["sample_rate"], 44_100);
    assert_eq!(info["audio"]["channels"], 1);
    assert!((info["duration_s"].as_f64().unwrap() - 6.5).abs() < 0.05);
}

#[test]
fn probe_text_and_mixed_results() {
    let good = fixture("tone_44100.ogg");
    let out = mcgurk(&["probe", good.to_str().unwrap(), "/nonexistent/file.mp4"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "one bad file fails the run");
    assert!(stdout.contains("vorbis 44100 Hz  1 ch"), "{stdout}");
    assert!(stderr.contains("/nonexistent/file.mp4"), "{stderr}");
}

#[test]
fn spectrogram_png_has_the_expected_size() {
    let dir = tempfile::tempdir().unwrap();
    let out_png = dir.path().join("spec.png");
    let out = mcgurk(&["spectrogram", demo("cow.mp4").to_str().unwrap(), "-o", out_png.to_str().unwrap(), "--at", "3.0"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let img = image::open(&out_png).unwrap().to_rgb8();
    // 65535 samples / hop 256 + 1 = 256 frames; 64 mel bands x 4 pixels.
    assert_eq!((img.width(), img.height()), (256, 256));
    // Not one flat colour: the moo is in there.
    let first = img.get_pixel(0, 0);
    assert!(img.pixels().any(|p| p != first));
}

/// `mcgurk metrics`: the class-wise report as text, JSON and CSV; bad arguments are errors.
#[test]
fn metrics_reports_density_convexity_and_drop_rates() {
    let dir = tempfile::tempdir().unwrap();
    let (json, csv) = (dir.path().join("m.json"), dir.path().join("m.csv"));
    let data = root().join("assets/data/farm-av");
    let out = mcgurk(&[
        "metrics", "--data", data.to_str().unwrap(), "--holdout", "tuxpaint", "--split", "train", "--model", "audio", "--views", "3",
        "--pairs", "300", "--attack", "--method", "fgsm", "--eps-a", "0.02", "--json", json.to_str().unwrap(), "--csv", csv.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("drop rate vs kappa") && text.contains("27 samples (3 per clip)"), "{text}");
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let report = &doc[0];
    assert_eq!(report["model"], "audio");
    assert_eq!(report["rows"].as_array().unwrap().len(), 9);
    let cow = report["rows"].as_array().unwrap().iter().find(|r| r["class"] == "cow").unwrap();
    assert_eq!(cow["samples"], 3);
    assert_eq!(cow["kappa"]["pairs"], 300);
    // Audio-only: the fused feature is the audio feature, measured once at tau 0.6 and 0.8.
    assert_eq!(cow["density"].as_array().unwrap().len(), 2, "{cow}");
    assert_eq!(cow["density"][0]["space"], "fused");
    assert_eq!(report["projection"]["clean"].as_array().unwrap().len(), 27);
    assert_eq!(report["projection"]["attacked"].as_array().unwrap().len(), 27);
    let csv = std::fs::read_to_string(&csv).unwrap();
    assert!(csv.starts_with("model,class,samples,clean_acc,attacked_acc,drop_rate,kappa,rho_fused_tau0.6,rho_fused_tau0.8\n"), "{csv}");
    assert_eq!(csv.lines().count(), 10);

    let bad = mcgurk(&["metrics", "--data", "/no/such/data", "--model", "audio"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("/no/such/data"));
    let bad_tau = mcgurk(&["metrics", "--data", data.to_str().unwrap(), "--model", "audio", "--tau", "1.5"]);
    assert!(!bad_tau.status.success());
    assert!(String::from_utf8_lossy(&bad_tau.stderr).contains("--tau 1.5"));
}

/// In a log file (a batch job's stderr) progress comes as whole lines, never `\r` rewrites,
/// and every message starts on a line of its own.
#[test]
fn progress_in_a_log_file_is_whole_lines() {
    let dir = tempfile::tempdir().unwrap();
    let f = root().join("assets/data/farm-av");
    let mut csv = String::new();
    for class in ["cow", "dog"] {
        csv += &format!("{}/{class}/gcompris-{class}.ogg;{}/{class}/gcompris-{class}.webp,{class},train\n", f.display(), f.display());
    }
    let data = dir.path().join("two.csv");
    std::fs::write(&data, csv).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mcgurk"))
        .args(["train", "--fusion", "concat", "--size", "small", "--epochs", "1", "--batch", "2", "--samples-per-epoch", "2", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(dir.path().join("run"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains('\r'), "carriage returns in a log: {stderr:?}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(lines.contains(&"decoding clips 2/2"), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("epoch 1/1: train loss")), "{lines:?}");
}
