//! Tian & Xu's own checkpoints (three state dicts, their module layout, a classifier reading
//! (picture, sound)) load through a spec and give PyTorch's logits at the full input size
//! (tests/fixtures/torch/make_tian_fixtures.py builds and saves their modules).

use std::path::PathBuf;
use std::process::Command;

use burn::prelude::Device;
use mcgurk::models::input::Example;
use mcgurk::models::predict::predict;
use mcgurk::models::safetensors::SafeTensors;
use mcgurk::models::spec::ModelSpec;
use mcgurk::models::tian_spec;

use crate::common::*;

fn torch(name: &str) -> PathBuf {
    root().join("tests/fixtures/torch").join(name)
}

fn parts() -> Vec<(Option<String>, PathBuf)> {
    [("audio", "tian_sound_best.pth"), ("visual", "tian_frame_best.pth"), ("head", "tian_classifier_best.pth")].map(|(p, f)| (Some(p.to_string()), torch(f))).to_vec()
}

fn logits_with(spec: &ModelSpec) -> Vec<f32> {
    let device = Device::flex();
    let model = tian_spec::load(&torch("tian.spec.json"), spec, &parts(), &device).unwrap();
    let want = SafeTensors::parse(&std::fs::read(torch("tian.expected.safetensors")).unwrap()).unwrap();
    let ex = Example { wave: want.tensors["wave"].values.clone(), pixels: want.tensors["pixels"].values.clone(), size: model.info.input };
    predict(&model, &ex, &device).logits
}

#[test]
fn tians_three_checkpoints_give_pytorchs_logits_at_full_size() {
    let spec = ModelSpec::load(&torch("tian.spec.json")).unwrap();
    let want = SafeTensors::parse(&std::fs::read(torch("tian.expected.safetensors")).unwrap()).unwrap().tensors["logits"].values.clone();
    let got = logits_with(&spec);
    let err = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    assert!(err < 1e-4, "logits {got:?} vs PyTorch {want:?}");
    // Both their quirks matter: read as McGurk's Concat order, or max-pooled as their paper
    // says, the same weights give other logits.
    let mut swapped = spec.clone();
    swapped.concat_order = None;
    let mut max_pooled = spec.clone();
    max_pooled.visual.as_mut().unwrap().pool = mcgurk::models::visual::Pool::Max;
    for (what, s) in [("audio-first order", swapped), ("max pooling", max_pooled)] {
        let other = logits_with(&s);
        let diff = other.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(diff > 1e-2, "{what} should change the logits ({diff})");
    }
}

#[test]
fn every_command_takes_a_tian_spec_and_bad_ones_are_named() {
    let weights: Vec<String> = parts().iter().map(|(p, f)| format!("{}={}", p.as_ref().unwrap(), f.display())).collect();
    let mut args = vec!["predict".to_string(), demo("cow.mp4").to_str().unwrap().into(), "--spec".into(), torch("tian.spec.json").to_str().unwrap().into()];
    for w in &weights {
        args.extend(["--weights".to_string(), w.clone()]);
    }
    let out = Command::new(env!("CARGO_BIN_EXE_mcgurk")).args(&args).output().unwrap();
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("tian-concat"), "{}", String::from_utf8_lossy(&out.stderr));
    args[0] = "attack".into();
    args.extend(["--method", "fgsm", "--eps-v", "0.03"].map(String::from));
    let out = Command::new(env!("CARGO_BIN_EXE_mcgurk")).args(&args).output().unwrap();
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("tian-concat"), "{}", String::from_utf8_lossy(&out.stderr));
    // A part missing, a spec that contradicts itself: errors naming the file and the field.
    let out = Command::new(env!("CARGO_BIN_EXE_mcgurk"))
        .args(["predict", demo("cow.mp4").to_str().unwrap(), "--spec", torch("tian.spec.json").to_str().unwrap(), "--weights", &weights[0]])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && e.contains("--weights visual=FILE") && e.contains("tian.spec.json"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(torch("tian.spec.json")).unwrap();
    for (change, field) in [
        (text.replace("\"concat\"", "\"sum\""), "concat_order"),
        (text.replace("\"sample_rate\": 11025", "\"sample_rate\": 16000"), "audio.sample_rate"),
        (text.replace("\"pool\": \"avg\"", "\"pool\": \"mean\""), "expected `max` or `avg`"),
        (text.replace("\"size\": 224", "\"size\": 224, \"frames\": 8"), "visual.frames"),
    ] {
        let path = dir.path().join("bad.spec.json");
        std::fs::write(&path, change).unwrap();
        let e = ModelSpec::load(&path).unwrap_err().to_string();
        assert!(e.contains(field) && e.contains("bad.spec.json"), "{field}: {e}");
    }
}

/// A spec that names its weights (relative to itself): the window's Add model and `--model`
/// take the spec alone.
#[test]
fn a_spec_that_names_its_weights_loads_alone_in_the_window_and_the_commands() {
    use mcgurk::app::command::Command;
    use mcgurk::app::{Launch, Workbench};
    let dir = tempfile::tempdir().unwrap();
    for f in ["tian_sound_best.pth", "tian_frame_best.pth", "tian_classifier_best.pth"] {
        std::fs::copy(torch(f), dir.path().join(f)).unwrap();
    }
    let mut spec: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(torch("tian.spec.json")).unwrap()).unwrap();
    spec["weights"] = serde_json::json!({ "audio": "tian_sound_best.pth", "visual": "tian_frame_best.pth", "head": "tian_classifier_best.pth" });
    let path = dir.path().join("tian.json");
    std::fs::write(&path, serde_json::to_string_pretty(&spec).unwrap()).unwrap();
    // The commands: --model spec.json, and --spec without --weights.
    for args in [vec!["--model", path.to_str().unwrap()], vec!["--spec", path.to_str().unwrap()]] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mcgurk")).args(["predict", demo("cow.mp4").to_str().unwrap()]).args(&args).output().unwrap();
        assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("tian-concat"), "{}", String::from_utf8_lossy(&out.stderr));
    }
    // The window: File > Add model with the spec.
    let mut h = egui_kittest::Harness::builder().with_size([1280.0, 820.0]).wgpu().build_eframe(|cc| Workbench::new(cc, Launch::File(demo("cow.mp4"))));
    let start = std::time::Instant::now();
    while h.state().models.len() < 7 {
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(start.elapsed().as_secs() < 60, "the zoo never loaded");
    }
    h.state_mut().command(Command::AddModel { path: path.clone(), fusion: None });
    let start = std::time::Instant::now();
    while !(h.state().models.len() == 8 && h.state().results.len() == 8) {
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(start.elapsed().as_secs() < 120, "the spec's model never answered: {:?}", h.state().status.as_ref().map(|s| s.text.clone()));
    }
    assert_eq!(h.state().models[7].name, "tian-concat");
    // A part the spec does not know is named.
    spec["weights"]["picture"] = serde_json::json!("x.pth");
    std::fs::write(&path, serde_json::to_string_pretty(&spec).unwrap()).unwrap();
    let e = ModelSpec::load(&path).unwrap_err().to_string();
    assert!(e.contains("unknown part 'picture'"), "{e}");
}

/// `train --spec` with Tian & Xu's checkpoints: McGurk's own training starts from their
/// weights (not a fresh initialisation) at the spec's input size; a dataset of other classes is
/// refused, naming both lists.
#[test]
fn train_fine_tunes_tians_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for (k, class) in ["a", "b", "c", "d", "e"].iter().enumerate() {
        std::fs::create_dir_all(data.join(class)).unwrap();
        let samples: Vec<u8> = (0..11025 * 2).flat_map(|i| ((0.3 * (i as f32 * 0.02 * (k + 1) as f32).sin() * 32767.0) as i16).to_le_bytes()).collect();
        std::fs::write(data.join(class).join("clip.wav"), crate::hostile::wav_bytes(1, 1, 11025, 16, &samples)).unwrap();
        image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([(x * 4) as u8, (y * 5) as u8, (k * 50) as u8])).save(data.join(class).join("clip.png")).unwrap();
    }
    let out = dir.path().join("out");
    let mut args: Vec<String> = ["train", "--data", data.to_str().unwrap(), "--spec", torch("tian.spec.json").to_str().unwrap(), "--epochs", "1", "--batch", "5", "--no-augment", "--out", out.to_str().unwrap()].map(String::from).to_vec();
    for (p, f) in parts() {
        args.extend(["--weights".to_string(), format!("{}={}", p.unwrap(), f.display())]);
    }
    let run = Command::new(env!("CARGO_BIN_EXE_mcgurk")).args(&args).output().unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let log: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("train_log.json")).unwrap()).unwrap();
    assert_eq!(log["config"]["init"].as_str(), Some(out.join("start.safetensors").to_str().unwrap()));
    assert_eq!(log["config"]["size"], "full");
    // Started from their weights: the saved start is their model, and training moved it.
    let device = Device::flex();
    let theirs = tian_spec::load(&torch("tian.spec.json"), &ModelSpec::load(&torch("tian.spec.json")).unwrap(), &parts(), &device).unwrap();
    let start = mcgurk::models::file::load(&out.join("start.safetensors"), None, &device).unwrap();
    let (a, b) = (mcgurk::models::state_dict::export(&theirs.net).0, mcgurk::models::state_dict::export(&start.net).0);
    assert!(a.tensors == b.tensors, "the start is not their model");
    let tuned = mcgurk::models::file::load(&out.join("tian-concat-fine-tuned.safetensors"), None, &device).unwrap();
    assert!(mcgurk::models::state_dict::export(&tuned.net).0.tensors["classifier.weight"] != a.tensors["classifier.weight"]);
    // Other classes: refused.
    std::fs::rename(data.join("e"), data.join("z")).unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_mcgurk")).args(&args).output().unwrap();
    let e = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success() && e.contains("\"z\"") && e.contains("\"e\""), "{e}");
}

/// The backward pass of Tian & Xu's model read from their checkpoints, against autograd: the
/// cross-entropy's gradient to the waveform and to the pixels at the full input size (what
/// every attack on it follows), within 1e-3 relative.
#[test]
fn the_gradient_to_the_waveform_and_the_pixels_is_autograds() {
    use burn::module::Module;
    use burn::prelude::*;
    use burn::tensor::activation::log_softmax;
    let base = Device::flex();
    let device = base.clone().autodiff();
    let spec = ModelSpec::load(&torch("tian.spec.json")).unwrap();
    let model = tian_spec::load(&torch("tian.spec.json"), &spec, &parts(), &base).unwrap();
    let net = model.net.valid().fork(&device).no_grad();
    let want = SafeTensors::parse(&std::fs::read(torch("tian.expected.safetensors")).unwrap()).unwrap();
    let t = |name: &str| want.tensors[name].values.clone();
    let w = Tensor::<3>::from_data(TensorData::new(t("wave"), [1, 1, 65535]), &device).require_grad();
    let p = Tensor::<4>::from_data(TensorData::new(t("pixels"), [1, 3, 224, 224]), &device).require_grad();
    let logp = log_softmax(net.forward(w.clone(), p.clone()).logits, 1);
    let loss = logp.slice([0..1, 2..3]).sum().neg();
    let grads = loss.backward();
    let values = |g: Tensor<3>| g.into_data().try_to_vec::<f32>().unwrap();
    let gw = values(w.grad(&grads).unwrap());
    let gp: Vec<f32> = p.grad(&grads).unwrap().into_data().try_to_vec::<f32>().unwrap();
    let rel = |a: &[f32], b: &[f32]| {
        let num: f64 = a.iter().zip(b).map(|(x, y)| f64::from(x - y).powi(2)).sum::<f64>().sqrt();
        num / b.iter().map(|y| f64::from(*y).powi(2)).sum::<f64>().sqrt()
    };
    let (ew, ep) = (rel(&gw, &t("grad_wave")), rel(&gp, &t("grad_pixels")));
    eprintln!("Tian & Xu's model: waveform gradient {ew:.1e}, pixel gradient {ep:.1e} relative");
    assert!(ew < 1e-3 && ep < 1e-3, "gradients differ: waveform {ew:.2e}, pixels {ep:.2e}");
}
