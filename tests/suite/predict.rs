//! `mcgurk predict`: the demo zoo on the demo clip, imported PyTorch weights, and its errors.

use std::process::Command;

use crate::common::*;

fn mcgurk(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mcgurk")).args(args).output().unwrap()
}

fn json_of(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_zoo_predicts_the_committed_classes_on_the_demo_clip() {
    let doc = json_of(&mcgurk(&["predict", demo("cow.mp4").to_str().unwrap(), "--json", "--top", "9"]));
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("assets/models/demo_expected.json")).unwrap()).unwrap();
    let models = doc["models"].as_array().unwrap();
    let names: Vec<&str> = models.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["sum", "concat", "film", "gated_sum", "gated_concat", "audio", "visual"]);
    for m in models {
        let probs: Vec<f64> = m["probs"].as_array().unwrap().iter().map(|p| p.as_f64().unwrap()).collect();
        assert_eq!(probs.len(), 9);
        assert_eq!(m["logits"].as_array().unwrap().len(), 9);
        assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-4);
        let top = m["top"].as_array().unwrap();
        assert_eq!(top.len(), 9);
        assert!(top.windows(2).all(|w| w[0]["prob"].as_f64() >= w[1]["prob"].as_f64()));
        let name = m["name"].as_str().unwrap();
        assert_eq!(top[0]["class"], expected[name], "{name}");
    }
}

#[test]
fn imported_pytorch_weights_run_on_an_audio_image_pair() {
    let w = root().join("tests/fixtures/torch/tiny_film.safetensors");
    let out = mcgurk(&[
        "predict",
        "--audio",
        fixture("tone_44100.ogg").to_str().unwrap(),
        "--image",
        demo("dog.png").to_str().unwrap(),
        "--weights",
        w.to_str().unwrap(),
        "--json",
    ]);
    let doc = json_of(&out);
    let models = doc["models"].as_array().unwrap();
    assert_eq!(models.len(), 1);
    assert_eq!(models[0]["fusion"], "film");
    assert_eq!(models[0]["name"], "tiny_film");
    assert_eq!(models[0]["probs"].as_array().unwrap().len(), 5);
    assert!(doc["clip"].as_str().unwrap().contains("tone_44100.ogg + dog.png"));
}

#[test]
fn bad_models_are_clear_errors() {
    let clip = demo("cow.mp4");
    let out = mcgurk(&["predict", clip.to_str().unwrap(), "--model", "resnet9000"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no demo model 'resnet9000'") && err.contains("gated_concat"), "{err}");
    let w = root().join("tests/fixtures/torch/tiny_sum.safetensors");
    let out = mcgurk(&["predict", clip.to_str().unwrap(), "--weights", w.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pass --fusion") && err.contains("tiny_sum.safetensors"), "{err}");
    let out = mcgurk(&["predict", clip.to_str().unwrap(), "--weights", w.to_str().unwrap(), "--fusion", "gated-sum"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("tiny_sum") && text.contains("Gated-Sum"), "{text}");
}

#[test]
fn attack_json_reports_both_sides_and_writes_the_adversarial_clip() {
    let dir = tempfile::tempdir().unwrap();
    let (wav, png) = (dir.path().join("adv.wav"), dir.path().join("adv.png"));
    let clip = demo("cow.mp4");
    let out = mcgurk(&[
        "attack", clip.to_str().unwrap(), "--model", "gated_sum", "--method", "mim", "--modality", "av",
        "--eps-a", "0.01", "--eps-v", "0.03", "--steps", "5", "--json",
        "--out-audio", wav.to_str().unwrap(), "--out-image", png.to_str().unwrap(),
    ]);
    let doc = json_of(&out);
    let m = &doc["models"][0];
    assert_eq!(m["label"], "cow", "no --label: the clean prediction");
    assert!(m["loss"]["adversarial"].as_f64() > m["loss"]["clean"].as_f64());
    assert!(m["norms"]["audio_linf"].as_f64().unwrap() <= 0.01 + 1e-6);
    assert!(m["norms"]["video_linf"].as_f64().unwrap() <= 0.03 + 1e-6);
    assert!(m["snr_db"].as_f64().unwrap() > 0.0 && m["psnr_db"].as_f64().unwrap() > 0.0);
    assert_eq!(m["vector_path"], "cpu", "{m}");
    assert_eq!(m["clean"]["probs"].as_array().unwrap().len(), 9);
    // The written window decodes with McGurk's own loader at the model rate and length.
    let back = mcgurk::media::open(&wav, &mcgurk::media::LoadOptions::builtin_only(), &mcgurk::media::Job::detached()).unwrap();
    assert_eq!(back.audio.unwrap().samples.len(), 32_767);
    assert_eq!(image::image_dimensions(&png).unwrap(), (112, 112));

    let out = mcgurk(&["attack", clip.to_str().unwrap(), "--out-audio", wav.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("need exactly one model"));
    let out = mcgurk(&["attack", clip.to_str().unwrap(), "--model", "sum", "--target", "unicorn"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--target 'unicorn' is not a class") && err.contains("sheep"), "{err}");
}

#[test]
fn eval_prints_the_robustness_table_and_writes_json_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let (json_path, csv_path) = (dir.path().join("eval.json"), dir.path().join("eval.csv"));
    let data = root().join("assets/data/farm-av");
    let out = mcgurk(&[
        "eval", "--data", data.to_str().unwrap(), "--holdout", "tuxpaint", "--split", "train", "--limit", "4",
        "--model", "audio", "--model", "visual", "--method", "fgsm", "--eps-a", "0.01", "--eps-v", "0.03",
        "--baseline", "audio", "--json", json_path.to_str().unwrap(), "--csv", csv_path.to_str().unwrap(), "--sweep", "0,1",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("clean") && text.contains("xAV") && text.contains("sanity: gradients neither zero nor NaN"), "{text}");
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    let rows = doc["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let f = |r: &serde_json::Value, k: &str| r[k].as_f64().unwrap();
    for r in rows {
        assert_eq!(r["clips"], 4);
        for k in ["clean", "audio_attacked", "video_attacked", "both_attacked", "avg", "worst_case"] {
            assert!((0.0..=1.0).contains(&f(r, k)), "{k}");
        }
        let avg = (f(r, "audio_attacked") + f(r, "video_attacked") + f(r, "both_attacked")) / 3.0;
        // Li's ranking metrics: d' = sqrt(2) * Phi^-1(AUC), so both or neither are present.
        let (auc, dp) = (&r["ranking_clean"]["auc"], &r["ranking_clean"]["d_prime"]);
        assert_eq!(auc.is_null(), dp.is_null());
        if let Some(a) = auc.as_f64() {
            assert!((0.0..=1.0).contains(&a) && (dp.as_f64().unwrap() > 0.0) == (a > 0.5));
        }
        assert!((f(r, "avg") - avg).abs() < 1e-6);
    }
    // An attack on a modality a model does not have changes nothing.
    assert_eq!(f(&rows[0], "video_attacked"), f(&rows[0], "clean"), "audio-only model, picture attacked");
    assert_eq!(f(&rows[1], "audio_attacked"), f(&rows[1], "clean"), "visual-only model, audio attacked");
    assert_eq!(f(&rows[0], "ri"), 0.0, "the baseline's own RI");
    // The sweep: at eps x0 nothing moves, so attacked accuracy equals clean accuracy.
    let sweep = doc["sweep"].as_array().unwrap();
    assert_eq!(sweep.len(), 2);
    assert_eq!(sweep[0]["scale"], 0.0);
    for r in sweep[0]["rows"].as_array().unwrap() {
        assert_eq!(f(r, "both_attacked"), f(r, "clean"));
    }
    let checks: Vec<&str> = doc["sanity"].as_array().unwrap().iter().map(|c| c["check"].as_str().unwrap()).collect();
    assert!(checks.contains(&"accuracy non-increasing in eps") && checks.iter().any(|c| c.starts_with("largest eps reaches chance")), "{checks:?}");
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    assert!(csv.starts_with("scale,model,fusion,clips,clean,") && csv.lines().count() == 5, "{csv}");

    let out = mcgurk(&["eval", "--data", data.to_str().unwrap(), "--model", "audio", "--baseline", "nope", "--limit", "1", "--method", "fgsm"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--baseline 'nope'"));
}

#[test]
fn ctrl_c_stops_eval_cleanly_and_keeps_the_partial_table() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("partial.json");
    let data = root().join("assets/data/farm-av");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcgurk"))
        .args(["eval", "--data", data.to_str().unwrap(), "--holdout", "tuxpaint", "--split", "train"])
        .args(["--model", "sum", "--model", "film", "--steps", "10", "--json", json_path.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the first clip is done, then press Ctrl-C.
    let mut stderr = child.stderr.take().unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&seen).contains("clip 1/") {
        let n = stderr.read(&mut buf).unwrap();
        assert!(n > 0, "eval ended before its first clip: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("interrupted"), "{text}");
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_eq!(doc["interrupted"], true);
    let done: u64 = doc["rows"].as_array().unwrap().iter().map(|r| r["clips"].as_u64().unwrap()).sum();
    assert!((1..18).contains(&done), "{done} of 18 clip-model pairs evaluated");
}

#[test]
fn eval_universal_fits_on_one_split_tests_on_another_and_plots_the_curve() {
    let dir = tempfile::tempdir().unwrap();
    let (json_path, png_path) = (dir.path().join("u.json"), dir.path().join("curve.png"));
    let data = root().join("assets/data/farm-av");
    let out = mcgurk(&[
        "eval", "--data", data.to_str().unwrap(), "--holdout", "tuxpaint", "--split", "test", "--limit", "3",
        "--model", "audio", "--universal", "--universal-epochs", "1", "--eps-a", "0.02", "--sweep", "0,1,2",
        "--json", json_path.to_str().unwrap(), "--plot", png_path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("universal (fitted on 9 train clips, 1 passes)"), "{text}");
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_eq!(doc["universal"]["fit_clips"], 9);
    assert_eq!(doc["split"], "test");
    let png = image::open(&png_path).unwrap().to_rgb8();
    assert_eq!(png.dimensions(), (960, 600));
    // The audio model's line (first palette colour) is drawn.
    assert!(png.pixels().any(|p| p.0 == [31, 119, 180]));

    let out = mcgurk(&["eval", "--data", data.to_str().unwrap(), "--holdout", "tuxpaint", "--split", "train", "--model", "audio", "--universal"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("not fitted on"), "{err}");
}
