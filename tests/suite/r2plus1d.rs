//! torchvision's R(2+1)D-18, read from a checkpoint as torchvision saves it, gives PyTorch's
//! features and logits (tests/fixtures/torch/make_r2plus1d_fixtures.py: torchvision's own
//! modules at a tiny width, key names checked against r2plus1d_18's).

use burn::prelude::*;
use mcgurk::models::pth::read;
use mcgurk::models::r2plus1d::{self, mid};
use mcgurk::models::safetensors::SafeTensors;

use crate::common::*;

fn torch(name: &str) -> std::path::PathBuf {
    root().join("tests/fixtures/torch").join(name)
}

#[test]
fn torchvisions_r2plus1d_gives_pytorchs_features_and_logits() {
    let device = Device::flex();
    let st = read(&std::fs::read(torch("r2plus1d_tiny.pth")).unwrap()).unwrap();
    let net = r2plus1d::import(&st, "", &device).unwrap();
    let want = SafeTensors::parse(&std::fs::read(torch("r2plus1d_tiny.expected.safetensors")).unwrap()).unwrap();
    let clip = &want.tensors["clip"];
    let shape: [usize; 5] = clip.shape.clone().try_into().unwrap();
    let x = Tensor::<5>::from_data(TensorData::new(clip.values.clone(), shape), &device);
    let feature = net.forward(x);
    let got: Vec<f32> = feature.clone().into_data().try_to_vec::<f32>().unwrap();
    let close = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    assert_eq!(got.len(), want.tensors["feature"].values.len());
    assert!(close(&got, &want.tensors["feature"].values) < 1e-4, "features {got:?}");
    // torchvision's fc on that feature: the logits PyTorch gave.
    let (w, b) = (&st.tensors["fc.weight"], &st.tensors["fc.bias"]);
    let (classes, width) = (w.shape[0], w.shape[1]);
    let logits: Vec<f32> = (0..2)
        .flat_map(|i| (0..classes).map(move |k| (i, k)))
        .map(|(i, k)| b.values[k] + (0..width).map(|j| w.values[k * width + j] * got[i * width + j]).sum::<f32>())
        .collect();
    assert!(close(&logits, &want.tensors["logits"].values) < 1e-4, "logits {logits:?}");
    // torchvision's mid widths: in*out*27 // (9*in + 3*out); 230 between 64 and 128 at full width.
    assert_eq!(mid(64, 128), 230);
    assert_eq!(mid(128, 256), 460);
}

/// The backward pass through every (2+1)D convolution to the pixels, against autograd: what an
/// attack on a video follows.
#[test]
fn the_gradient_to_the_pixels_is_autograds() {
    let base = Device::flex();
    let device = base.clone().autodiff();
    let st = read(&std::fs::read(torch("r2plus1d_tiny.pth")).unwrap()).unwrap();
    let net = r2plus1d::import(&st, "", &base).unwrap().valid().fork(&device).no_grad();
    let want = SafeTensors::parse(&std::fs::read(torch("r2plus1d_tiny.expected.safetensors")).unwrap()).unwrap();
    let t = |name: &str| want.tensors[name].clone();
    let clip = t("clip");
    let shape: [usize; 5] = clip.shape.clone().try_into().unwrap();
    let x = Tensor::<5>::from_data(TensorData::new(clip.values, shape), &device).require_grad();
    let w = t("feature_weights");
    let weights = Tensor::<2>::from_data(TensorData::new(w.values, [w.shape[0], w.shape[1]]), &device);
    let loss = (net.forward(x.clone()) * weights).sum();
    let g: Vec<f32> = x.grad(&loss.backward()).expect("the clip has a gradient").into_data().try_to_vec::<f32>().unwrap();
    let r = t("grad_clip").values;
    let num: f32 = g.iter().zip(&r).map(|(a, b)| (a - b) * (a - b)).sum::<f32>().sqrt();
    let den: f32 = r.iter().map(|b| b * b).sum::<f32>().sqrt();
    assert!(den > 0.0 && num / den < 1e-4, "relative L2 error {}", num / den);
}

#[test]
fn a_state_dict_that_is_not_r2plus1d_is_named() {
    let device = Device::flex();
    let mut st = read(&std::fs::read(torch("r2plus1d_tiny.pth")).unwrap()).unwrap();
    st.tensors.remove("layer2.1.conv1.0.3.weight");
    let e = r2plus1d::import(&st, "", &device).unwrap_err().to_string();
    assert!(e.contains("layer2.1.conv1.0.3.weight"), "{e}");
    let e = r2plus1d::import(&st, "video.", &device).unwrap_err().to_string();
    assert!(e.contains("no 'video.stem.0.weight'"), "{e}");
}

/// The fixture's clip as a folder of PNG frames (8 bit, as datasets ship them).
fn frame_folder(dir: &std::path::Path, count: usize) -> Vec<f32> {
    let want = SafeTensors::parse(&std::fs::read(torch("r2plus1d_tiny.expected.safetensors")).unwrap()).unwrap();
    let clip = &want.tensors["clip"];
    let (t, s) = (clip.shape[2], clip.shape[3]);
    let mut quantised = vec![0.0; 3 * count.min(t) * s * s];
    for k in 0..count.min(t) {
        let img = image::RgbImage::from_fn(s as u32, s as u32, |x, y| {
            image::Rgb(std::array::from_fn(|c| {
                let v = clip.values[((c * t + k) * s + y as usize) * s + x as usize];
                (v * 255.0).round().clamp(0.0, 255.0) as u8
            }))
        });
        img.save(dir.join(format!("frame_{k:03}.png"))).unwrap();
        for c in 0..3 {
            for i in 0..s * s {
                quantised[(c * count.min(t) + k) * s * s + i] = f32::from(img.as_raw()[i * 3 + c]) / 255.0;
            }
        }
    }
    quantised
}

#[test]
fn predict_reads_a_frame_folder_with_a_video_spec() {
    use mcgurk::models::video::VideoModel;
    let dir = tempfile::tempdir().unwrap();
    let frames = dir.path().join("frames");
    std::fs::create_dir(&frames).unwrap();
    let quantised = frame_folder(&frames, 8);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mcgurk"))
        .args(["predict", "--frames", frames.to_str().unwrap(), "--spec", torch("r2plus1d_tiny.spec.json").to_str().unwrap()])
        .args(["--weights", torch("r2plus1d_tiny.pth").to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let logits: Vec<f32> = doc["models"][0]["logits"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    // A folder of exactly T frames of the model's size: all of them, in order, untouched.
    let device = Device::flex();
    let model = VideoModel::load(&torch("r2plus1d_tiny.spec.json"), &torch("r2plus1d_tiny.pth"), &device).unwrap();
    let direct = model.logits(&quantised, &device);
    assert_eq!(logits.len(), 5);
    assert!(logits.iter().zip(&direct).all(|(a, b)| (a - b).abs() < 1e-5), "{logits:?} vs {direct:?}");
    assert_eq!(doc["models"][0]["classes"][0], "abseiling");
    // Fewer frames than the model reads: the last repeats, and it says so.
    let short = dir.path().join("short");
    std::fs::create_dir(&short).unwrap();
    frame_folder(&short, 5);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mcgurk"))
        .args(["predict", "--frames", short.to_str().unwrap(), "--spec", torch("r2plus1d_tiny.spec.json").to_str().unwrap()])
        .args(["--weights", torch("r2plus1d_tiny.pth").to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.contains("the source has 5 frames; the model reads 8"), "{err}");
    // Not a frame folder: named.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mcgurk"))
        .args(["predict", "--frames", empty.to_str().unwrap(), "--spec", torch("r2plus1d_tiny.spec.json").to_str().unwrap()])
        .args(["--weights", torch("r2plus1d_tiny.pth").to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("no PNG, JPEG or WebP frames") && err.contains("empty"), "{err}");
}

#[test]
fn frames_are_taken_around_the_moment_at_the_specs_rate() {
    use mcgurk::media::{Clip, Frame, RgbImage};
    use mcgurk::models::video::VideoModel;
    let device = Device::flex();
    let mut model = VideoModel::load(&torch("r2plus1d_tiny.spec.json"), &torch("r2plus1d_tiny.pth"), &device).unwrap();
    // 20 frames at 10 fps; the model reads 4 frames 0.2 s apart around t = 1.0 s.
    let image = RgbImage { width: 16, height: 16, pixels: vec![0; 16 * 16 * 3] };
    let clip = Clip { sources: Vec::new(), audio: None, frames: (0..20).map(|i| Frame { time_s: f64::from(i) / 10.0, image: image.clone() }).collect(), notes: Vec::new() };
    model.frames = 4;
    model.fps = Some(5.0);
    assert_eq!(model.frame_indices(&clip, 1.0), (vec![7, 9, 11, 13], None));
    // Consecutive source frames (fps null), centred, kept inside the clip.
    model.fps = None;
    assert_eq!(model.frame_indices(&clip, 1.0).0, vec![8, 9, 10, 11]);
    assert_eq!(model.frame_indices(&clip, 0.0).0, vec![0, 1, 2, 3]);
    assert_eq!(model.frame_indices(&clip, 9.9).0, vec![16, 17, 18, 19]);
}

/// The tiny R(2+1)D and the first of its fixture's clips (8 frames of 40 px) as an example.
fn tiny_model_and_clip(device: &Device) -> (mcgurk::models::video::VideoModel, mcgurk::models::input::Example) {
    let model = mcgurk::models::video::VideoModel::load(&torch("r2plus1d_tiny.spec.json"), &torch("r2plus1d_tiny.pth"), device).unwrap();
    let want = SafeTensors::parse(&std::fs::read(torch("r2plus1d_tiny.expected.safetensors")).unwrap()).unwrap();
    let clip = &want.tensors["clip"];
    let one = clip.values.len() / 2;
    let size = mcgurk::models::InputSize { samples: 1, pixels: 40, frames: 8 };
    (model, mcgurk::models::input::Example { wave: vec![0.0], pixels: clip.values[..one].to_vec(), size })
}

/// An attack on a video model perturbs every frame it reads, within the budget and the pixel
/// range, and raises the loss; the command writes the adversarial frames.
#[test]
fn a_video_attack_covers_every_frame_within_its_bound() {
    use mcgurk::attacks::{AttackConfig, Method, Modality, Norm, Victim, attack_victim};
    let device = Device::flex();
    let (model, ex) = tiny_model_and_clip(&device);
    let eps = 4.0 / 255.0;
    for method in [Method::Fgsm, Method::Pgd] {
        let cfg = AttackConfig { method, norm: Norm::Linf, modality: Modality::Video, eps_v: eps, steps: 5, ..AttackConfig::default() };
        let label = mcgurk::models::predict::argmax(&model.logits(&ex.pixels, &device));
        let r = attack_victim(&Victim::video(&model), std::slice::from_ref(&ex), &[vec![label]], &cfg).remove(0);
        let adv = &r.adversarial.pixels;
        assert!(adv.iter().zip(&ex.pixels).all(|(a, c)| (a - c).abs() <= eps + 1e-6 && (0.0..=1.0).contains(a)), "{method:?}: bound or range");
        assert!(r.loss_adv > r.loss_clean, "{method:?}: loss {} -> {}", r.loss_clean, r.loss_adv);
        // Every one of the 8 frames was moved.
        let per = 40 * 40;
        for k in 0..8 {
            let moved = (0..3).flat_map(|c| ((c * 8 + k) * per)..((c * 8 + k + 1) * per)).any(|i| adv[i] != ex.pixels[i]);
            assert!(moved, "{method:?}: frame {k} untouched");
        }
    }
    // Through the command, from a frame folder, the adversarial frames as PNGs.
    let dir = tempfile::tempdir().unwrap();
    let frames = dir.path().join("frames");
    std::fs::create_dir(&frames).unwrap();
    frame_folder(&frames, 8);
    let out = dir.path().join("adversarial");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_mcgurk"))
        .args(["attack", "--frames", frames.to_str().unwrap(), "--spec", torch("r2plus1d_tiny.spec.json").to_str().unwrap()])
        .args(["--weights", torch("r2plus1d_tiny.pth").to_str().unwrap(), "--modality", "v", "--method", "fgsm", "--eps-v", "0.02"])
        .args(["--out-video", out.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert!(doc["models"][0]["psnr_db"].as_f64().unwrap() > 30.0 && doc["frames"] == 8);
    let written: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
    assert_eq!(written.len(), 8);
    assert_eq!(image::open(out.join("frame_0000.png")).unwrap().width(), 40);
    // An audio attack on a model that has no audio is refused with the reason.
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_mcgurk"))
        .args(["attack", "--frames", frames.to_str().unwrap(), "--spec", torch("r2plus1d_tiny.spec.json").to_str().unwrap()])
        .args(["--weights", torch("r2plus1d_tiny.pth").to_str().unwrap(), "--modality", "a"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&run.stderr).contains("sees pictures only"));
}

/// An L2 budget per frame: every frame's perturbation within eps (and so the clip's within
/// sqrt(T) eps, more than eps), against the default budget over the whole clip; the command
/// reports each frame's L2.
#[test]
fn an_l2_budget_can_bound_each_frame() {
    use mcgurk::attacks::{AttackConfig, Method, Modality, Norm, Victim, attack_victim, frame_l2};
    let device = Device::flex();
    let (model, ex) = tiny_model_and_clip(&device);
    let label = mcgurk::models::predict::argmax(&model.logits(&ex.pixels, &device));
    let eps = 0.1;
    for (method, random_start) in [(Method::Pgd, false), (Method::Pgd, true), (Method::Mim, false)] {
        let run = |per_frame: bool| {
            let cfg = AttackConfig { method, norm: Norm::L2, modality: Modality::Video, eps_v: eps, steps: 5, random_start, per_frame, ..AttackConfig::default() };
            attack_victim(&Victim::video(&model), std::slice::from_ref(&ex), &[vec![label]], &cfg).remove(0)
        };
        let (whole, each) = (run(false), run(true));
        let frames = frame_l2(&ex.pixels, &each.adversarial.pixels, 8);
        assert_eq!(frames.len(), 8);
        assert!(frames.iter().all(|&l| l <= eps * (1.0 + 1e-5) && l > 0.5 * eps), "{method:?}: frame L2 {frames:?}");
        assert!(each.norms.video_l2 > 2.0 * eps, "{method:?}: the clip's L2 {} under per-frame budgets", each.norms.video_l2);
        assert!(whole.norms.video_l2 <= eps * (1.0 + 1e-5), "{method:?}: the clip's L2 {} over its budget", whole.norms.video_l2);
        assert!(each.adversarial.pixels.iter().all(|a| (0.0..=1.0).contains(a)));
        assert!(each.loss_adv > each.loss_clean, "{method:?}: loss {} -> {}", each.loss_clean, each.loss_adv);
    }
    // The command: --per-frame with --norm l2, each frame's L2 in the report.
    let dir = tempfile::tempdir().unwrap();
    let frames = dir.path().join("frames");
    std::fs::create_dir(&frames).unwrap();
    frame_folder(&frames, 8);
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_mcgurk"))
        .args(["attack", "--frames", frames.to_str().unwrap(), "--spec", torch("r2plus1d_tiny.spec.json").to_str().unwrap()])
        .args(["--weights", torch("r2plus1d_tiny.pth").to_str().unwrap(), "--modality", "v", "--norm", "l2", "--eps-v", "0.1", "--per-frame", "--json"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(doc["config"]["per_frame"], true);
    let l2: Vec<f64> = doc["models"][0]["frame_l2"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert!(l2.len() == 8 && l2.iter().all(|&l| l <= 0.1 * (1.0 + 1e-5)), "{l2:?}");
    assert!(doc["models"][0]["norms"]["video_l2"].as_f64().unwrap() > 0.2);
}

/// The real r2plus1d_18's every parameter and buffer (names and shapes, listed by the fixture
/// script from torchvision) fits McGurk's encoder at full width, with nothing left over but fc.
#[test]
fn the_real_r2plus1d_18_layout_loads_at_full_width() {
    use mcgurk::models::safetensors::StoredTensor;
    let list = std::fs::read_to_string(torch("r2plus1d_18_keys.txt")).unwrap();
    let mut st = SafeTensors::default();
    for line in list.lines() {
        let mut parts = line.split_whitespace();
        let name = parts.next().unwrap().to_string();
        let shape: Vec<usize> = parts.map(|d| d.parse().unwrap()).collect();
        let n = shape.iter().product::<usize>();
        // Unit variances: a negative or NaN one would be refused.
        let value = if name.ends_with("running_var") { 1.0 } else { 0.0 };
        st.tensors.insert(name, StoredTensor { shape, values: vec![value; n] });
    }
    // 187 parameters and running statistics, and 37 BatchNorm counters.
    assert_eq!(st.tensors.keys().filter(|k| !k.ends_with("num_batches_tracked")).count(), 187);
    let net = r2plus1d::import(&st, "", &Device::flex()).unwrap();
    assert_eq!(net.width(), 512);
    assert_eq!(net.blocks.len(), 8);
}

#[test]
fn frame_folders_are_read_in_name_order_and_bad_ones_are_named() {
    use mcgurk::media::frames;
    let dir = tempfile::tempdir().unwrap();
    // Names out of creation order; a text file beside them is not a frame.
    for (name, shade) in [("b_002.png", 20u8), ("a_001.png", 10), ("c_003.png", 30)] {
        image::RgbImage::from_pixel(20, 16, image::Rgb([shade; 3])).save(dir.path().join(name)).unwrap();
    }
    std::fs::write(dir.path().join("notes.txt"), "not a frame").unwrap();
    let clip = frames::open(dir.path(), 4.0, 1 << 30).unwrap();
    let shades: Vec<u8> = clip.frames.iter().map(|f| f.image.pixels[0]).collect();
    assert_eq!(shades, [10, 20, 30]);
    assert_eq!(clip.frames[2].time_s, 0.5);
    assert!(clip.audio.is_none());
    // A frame of another size, a damaged frame: errors naming the file.
    image::RgbImage::from_pixel(32, 16, image::Rgb([0; 3])).save(dir.path().join("d_004.png")).unwrap();
    let e = frames::open(dir.path(), 4.0, 1 << 30).unwrap_err().to_string();
    assert!(e.contains("32x16") && e.contains("d_004.png"), "{e}");
    std::fs::write(dir.path().join("d_004.png"), b"\x89PNG\r\n\x1a\n broken").unwrap();
    let e = frames::open(dir.path(), 4.0, 1 << 30).unwrap_err().to_string();
    assert!(e.contains("d_004.png"), "{e}");
    std::fs::remove_file(dir.path().join("d_004.png")).unwrap();
    // A budget too small for the frames, a rate that is not one.
    assert!(frames::open(dir.path(), 4.0, 1000).unwrap_err().to_string().contains("memory budget"));
    assert!(frames::open(dir.path(), 0.0, 1 << 30).unwrap_err().to_string().contains("--fps 0"));
}

#[test]
fn a_video_file_feeds_a_video_model_as_clip_or_with_video() {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mcgurk"))
            .arg("predict")
            .args(args)
            .args(["--spec", torch("r2plus1d_tiny.spec.json").to_str().unwrap(), "--weights", torch("r2plus1d_tiny.pth").to_str().unwrap(), "--json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        doc["models"][0]["logits"].clone()
    };
    let cow = demo("cow.mp4");
    // 8 consecutive frames of the 448x336 video around its middle, each resized and cropped to 40.
    assert_eq!(run(&["--video", cow.to_str().unwrap()]), run(&[cow.to_str().unwrap()]));
}

/// A long video feeds a video model without holding all of its pictures: only the frames
/// around the moment are kept, and the model reads the same input as from a full decode.
#[test]
fn a_long_video_keeps_only_the_frames_the_model_reads() {
    use mcgurk::media::{Job, LoadOptions};
    use mcgurk::models::video::VideoModel;
    if crate::common::require_ffmpeg().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let long = dir.path().join("long.mp4");
    // 20 s at 25 fps of a moving test pattern (every frame differs), H.264.
    let made = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25:duration=20", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "50"])
        .arg(&long)
        .status()
        .unwrap();
    assert!(made.success());
    let device = Device::flex();
    let model = VideoModel::load(&torch("r2plus1d_tiny.spec.json"), &torch("r2plus1d_tiny.pth"), &device).unwrap();
    let opts = LoadOptions { ffmpeg: None, ..LoadOptions::default() };
    let full = mcgurk::media::open(&long, &opts, &Job::detached()).unwrap();
    assert_eq!(full.frames.len(), 500);
    let t = 10.0;
    let span = model.span_s(25.0);
    let windowed = mcgurk::media::open(&long, &LoadOptions { window: Some((t - span / 2.0, t + span / 2.0)), ..opts.clone() }, &Job::detached()).unwrap();
    assert!((8..=12).contains(&windowed.frames.len()), "{} frames kept", windowed.frames.len());
    // Decoded from the IDR picture before the window (every 2 s here) to a second past it.
    let decoded = windowed.notes.iter().find_map(|n| n.split("decoded ").nth(1)?.strip_suffix(" of 500 pictures")?.parse::<usize>().ok());
    assert!(decoded.is_some_and(|d| (20..=120).contains(&d)), "{:?}", windowed.notes);
    let (a, _) = model.input(&full, t);
    let (b, _) = model.input(&windowed, t);
    assert!(a == b, "the model's input differs between the full and the windowed decode");
    // Near and past either end too (the window stays inside the clip), and at every IDR
    // picture's edge: the pictures equal the full decode's.
    for at in [0.0, 0.1, 19.95, 100.0, -3.0, 2.98, 3.0, 3.02, 7.5] {
        let (clip, _) = model.open_around(&long, Some(at), &Job::detached()).unwrap();
        assert!(clip.frames.len() <= 12, "{at}: {} frames kept", clip.frames.len());
        assert!(model.input(&full, at) == model.input(&clip, at), "at {at} s the windowed decode changes the model's input");
    }
    // The command line does the same on its own (the middle of the video by default).
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mcgurk"))
        .args(["predict", "--video", long.to_str().unwrap(), "--spec", torch("r2plus1d_tiny.spec.json").to_str().unwrap()])
        .args(["--weights", torch("r2plus1d_tiny.pth").to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let logits: Vec<f32> = doc["models"][0]["logits"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    let direct = model.logits(&a, &device);
    assert!(logits.iter().zip(&direct).all(|(x, y)| (x - y).abs() < 1e-5), "{logits:?} vs {direct:?}");

    // The same through the ffmpeg fallback (VP9 in WebM): the window keeps only its frames.
    let webm = dir.path().join("long.webm");
    let made = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25:duration=20", "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"])
        .arg(&webm)
        .status()
        .unwrap();
    assert!(made.success());
    let with_ffmpeg = LoadOptions::default();
    let full = mcgurk::media::open(&webm, &with_ffmpeg, &Job::detached()).unwrap();
    assert_eq!(full.frames.len(), 500);
    let windowed = mcgurk::media::open(&webm, &LoadOptions { window: Some((t - span / 2.0, t + span / 2.0)), ..with_ffmpeg }, &Job::detached()).unwrap();
    assert!((8..=12).contains(&windowed.frames.len()), "{} frames kept through ffmpeg", windowed.frames.len());
    assert!(model.input(&full, t).0 == model.input(&windowed, t).0, "the windowed ffmpeg decode changes the model's input");
    // ffmpeg seeks: the frames and their times equal the full decode's wherever the window is.
    for at in [0.3, 1.0, 4.02, 10.0, 19.9] {
        let opts = LoadOptions { window: Some((at - span / 2.0, at + span / 2.0)), ..LoadOptions::default() };
        let windowed = mcgurk::media::open(&webm, &opts, &Job::detached()).unwrap();
        assert!(!windowed.frames.is_empty(), "at {at} s");
        for f in &windowed.frames {
            let same = full.frames.iter().find(|g| (g.time_s - f.time_s).abs() < 1e-9).unwrap_or_else(|| panic!("no frame at {} s in the full decode", f.time_s));
            assert!(same.image.pixels == f.image.pixels, "at {at} s the frame at {} s differs", f.time_s);
        }
    }
}

/// What the window's frame strip shows: the T frames the model reads (the same input as
/// `predict`), and the attacked clip within its bound and range.
#[test]
fn what_a_video_model_sees_is_its_input_under_the_attack() {
    use mcgurk::attacks::{AttackConfig, Method, Modality};
    use mcgurk::media::{Job, LoadOptions};
    use mcgurk::models::video::VideoModel;
    let device = Device::flex();
    let model = VideoModel::load(&torch("r2plus1d_tiny.spec.json"), &torch("r2plus1d_tiny.pth"), &device).unwrap();
    let clip = mcgurk::media::open(&demo("cow.mp4"), &LoadOptions::builtin_only(), &Job::detached()).unwrap();
    let eps = 4.0 / 255.0;
    let cfg = AttackConfig { method: Method::Pgd, modality: Modality::Video, eps_v: eps, steps: 3, ..Default::default() };
    let watched = mcgurk::models::seen::Watched::Video(VideoModel::load(&torch("r2plus1d_tiny.spec.json"), &torch("r2plus1d_tiny.pth"), &device).unwrap());
    let s = mcgurk::models::seen::see(&watched, &clip, 3.25, Some(&cfg), &device).unwrap();
    assert_eq!(s.map_kind, "CAM");
    assert_eq!(s.cam_mean.len(), s.size * s.size);
    assert!((s.cam_mean.iter().copied().fold(0.0f32, f32::max) - 1.0).abs() < 1e-6);
    let (input, _) = model.input(&clip, 3.25);
    assert_eq!(s.clean, input);
    assert_eq!(s.times.len(), 8);
    assert!(s.times.windows(2).all(|w| w[1] > w[0]), "{:?}", s.times);
    let expected = mcgurk::models::predict::probabilities(&model.logits(&input, &device), false);
    assert_eq!(s.probs_clean, expected);
    let adv = s.adversarial.as_ref().unwrap();
    let linf = adv.iter().zip(&s.clean).fold(0.0f32, |m, (a, c)| m.max((a - c).abs()));
    assert!(linf > 0.0 && linf <= eps + 1e-6, "{linf}");
    assert!(adv.iter().all(|v| (0.0..=1.0).contains(v)));
    // Every frame was moved.
    let n = 40 * 40;
    for k in 0..8 {
        let moved = (0..3).any(|c| (0..n).any(|p| adv[(c * 8 + k) * n + p] != s.clean[(c * 8 + k) * n + p]));
        assert!(moved, "frame {k} untouched");
    }
    assert_eq!(s.frame_rgb(&s.clean, 0).len(), 40 * 40 * 3);
    // The class activation map: one [S, S] map per model frame, scaled to its peak.
    assert_eq!(s.cam.len(), 8 * n);
    assert!(s.cam.iter().all(|v| (0.0..=1.0).contains(v)));
    assert!((s.cam.iter().copied().fold(0.0f32, f32::max) - 1.0).abs() < 1e-6);
}

/// `eval --spec` with a video model: a folder of videos per class, every frame attacked; clean
/// top-1 is the model's own prediction clip by clip.
#[test]
fn eval_runs_a_video_model_over_a_folder_of_videos() {
    use mcgurk::media::{Job, LoadOptions};
    use mcgurk::models::video::VideoModel;
    if crate::common::require_ffmpeg().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut clips = Vec::new();
    for (class, sources) in [("abseiling", ["testsrc2", "rgbtestsrc"]), ("Baking", ["smptebars", "testsrc"])] {
        std::fs::create_dir_all(data.join(class)).unwrap();
        for s in sources {
            let path = data.join(class).join(format!("{s}.mp4"));
            let made = std::process::Command::new("ffmpeg")
                .args(["-v", "error", "-y", "-f", "lavfi", "-i", &format!("{s}=size=64x48:rate=10:duration=2"), "-c:v", "libx264", "-pix_fmt", "yuv420p"])
                .arg(&path)
                .status()
                .unwrap();
            assert!(made.success());
            clips.push((path, class.to_lowercase()));
        }
    }
    let json = dir.path().join("t.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mcgurk"))
        .args(["eval", "--data", data.to_str().unwrap(), "--spec", torch("r2plus1d_tiny.spec.json").to_str().unwrap()])
        .args(["--weights", torch("r2plus1d_tiny.pth").to_str().unwrap(), "--eps-v", "0.0157", "--steps", "3", "--json", json.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("every frame attacked"));
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!((doc["clips"].as_u64(), doc["input"].as_str()), (Some(4), Some("frames")));
    assert!(doc["max_linf"].as_f64().unwrap() <= 0.0157 + 1e-6 && doc["max_linf"].as_f64().unwrap() > 0.0, "{doc}");
    assert!(doc["psnr_db"].as_f64().unwrap() > 20.0 && doc["snr_db"].is_null(), "{doc}");
    assert_eq!(doc["dead_gradients"], 0);
    let device = Device::flex();
    let model = VideoModel::load(&torch("r2plus1d_tiny.spec.json"), &torch("r2plus1d_tiny.pth"), &device).unwrap();
    let (a, b) = (model.classes.iter().position(|c| c == "abseiling").unwrap(), model.classes.iter().position(|c| c == "baking").unwrap());
    let right = clips
        .iter()
        .filter(|(path, class)| {
            let clip = mcgurk::media::open(path, &LoadOptions { ffmpeg: None, ..LoadOptions::default() }, &Job::detached()).unwrap();
            let (input, _) = model.input(&clip, clip.duration_s() / 2.0);
            let z = model.logits(&input, &device);
            (if z[a] >= z[b] { "abseiling" } else { "baking" }) == class
        })
        .count();
    assert_eq!(doc["clean"].as_f64().unwrap(), right as f64 / 4.0);
}

/// The demo video model ships inside McGurk (`--spec demo:video`): written to the cache folder
/// on first use, it loads as any spec does and recognises the cow of the demo clip (whose photo
/// it was trained on, under camera moves).
#[test]
fn the_demo_video_model_ships_in_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let clip = write(dir.path(), "cow.mp4", mcgurk::demo::DEMO_MP4);
    let cache = dir.path().join("cache");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mcgurk"))
        .env("XDG_CACHE_HOME", &cache)
        .args(["predict", clip.to_str().unwrap(), "--spec", "demo:video", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let m = &doc["models"][0];
    assert_eq!((m["name"].as_str(), m["classes"].as_array().map(Vec::len)), (Some("demo-r2plus1d"), Some(9)));
    assert_eq!(m["top"][0]["class"], "cow", "{}", m["top"]);
    let spec = cache.join("mcgurk/demo/video-model/r2plus1d_demo.json");
    assert!(spec.is_file() && spec.with_file_name("r2plus1d_demo.safetensors").is_file());
    // The attack perturbs all 8 frames of 112 px within the budget.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mcgurk"))
        .env("XDG_CACHE_HOME", &cache)
        .args(["attack", clip.to_str().unwrap(), "--spec", "demo:video", "--modality", "v", "--method", "fgsm", "--eps-v", "0.0157", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["frames"], 8);
    let linf = doc["models"][0]["norms"]["video_linf"].as_f64().unwrap();
    assert!(linf > 0.0 && linf <= 0.0157 + 1e-6, "{linf}");
}

/// R(2+1)D-18 and its head written back in torchvision's layout give the tensors they were
/// read from, bit for bit (BatchNorm counters aside).
#[test]
fn r2plus1d_exports_the_state_dict_it_imported() {
    let device = Device::flex();
    let st = read(&std::fs::read(torch("r2plus1d_tiny.pth")).unwrap()).unwrap();
    let spec = mcgurk::models::spec::ModelSpec::load(&torch("r2plus1d_tiny.spec.json")).unwrap();
    let (net, head) = mcgurk::models::video::import(&st, &spec, &device).unwrap();
    let back = mcgurk::models::video::export(&net, &head, &spec.keys);
    assert_eq!(written_keys(&st), written_keys(&back));
    for k in written_keys(&st) {
        assert!(st.tensors[&k] == back.tensors[&k], "{k} differs");
    }
}

/// `train --spec` on a video model: the tiny R(2+1)D fine-tuned on a folder of videos per
/// class. The loss falls, the weights come back in torchvision's layout with a spec naming them
/// that `predict` reads, the held-out clips are measured each epoch.
#[test]
fn train_fine_tunes_an_r2plus1d_from_its_spec() {
    if crate::common::require_ffmpeg().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for (class, colour) in [("archery", "0xC83C28"), ("baking", "0x2850D2")] {
        std::fs::create_dir_all(data.join(class)).unwrap();
        for k in 0..4 {
            let name = if k == 3 { format!("held-{k}.mp4") } else { format!("{k}.mp4") };
            let made = std::process::Command::new("ffmpeg")
                .args(["-v", "error", "-y", "-f", "lavfi", "-i", &format!("color=c={colour}:s=48x48:r=8:d=1.5,noise=alls={}:allf=t", 10 + 8 * k)])
                .args(["-c:v", "libx264", "-pix_fmt", "yuv420p"])
                .arg(data.join(class).join(name))
                .status()
                .unwrap();
            assert!(made.success());
        }
    }
    let out = dir.path().join("out");
    let (spec, weights) = (torch("r2plus1d_tiny.spec.json"), torch("r2plus1d_tiny.pth"));
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_mcgurk"))
        .args(["train", "--data", data.to_str().unwrap(), "--holdout", "held", "--spec", spec.to_str().unwrap(), "--weights", weights.to_str().unwrap()])
        // Batches of 2: 36 steps, enough for BatchNorm's running statistics (momentum 0.1),
        // which the held-out clips are judged with, to leave the checkpoint's. At batch 6 (12
        // steps) the held-out outcome was a coin toss: which class won depended on rounding
        // and on the seed (seeds 1 to 3 failed with burn's own 3-D convolution).
        .args(["--epochs", "12", "--batch", "2", "--lr", "0.003", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    fine_tune_log(&out, 12, 6, 2);
    // torchvision's layout: every key of the original but BatchNorm's counters, same shapes.
    let original = read(&std::fs::read(&weights).unwrap()).unwrap();
    let tuned = SafeTensors::parse(&std::fs::read(out.join("tiny-r2plus1d-fine-tuned.safetensors")).unwrap()).unwrap();
    assert_eq!(written_keys(&original), written_keys(&tuned));
    assert!(written_keys(&original).iter().all(|k| tuned.tensors[k].shape == original.tensors[k].shape));
    assert!(original.tensors["fc.weight"].values != tuned.tensors["fc.weight"].values, "the weights moved");
    // The new spec reads it back, and the tuned model tells the held-out pictures apart.
    let top = |clip: &std::path::Path| -> String {
        let p = std::process::Command::new(env!("CARGO_BIN_EXE_mcgurk"))
            .args(["predict", clip.to_str().unwrap(), "--spec", out.join("tiny-r2plus1d-fine-tuned.spec.json").to_str().unwrap(), "--json"])
            .output()
            .unwrap();
        assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stderr));
        let doc: serde_json::Value = serde_json::from_slice(&p.stdout).unwrap();
        doc["models"][0]["top"][0]["class"].as_str().unwrap_or_default().to_string()
    };
    assert_eq!(top(&data.join("archery/held-3.mp4")), "archery");
    assert_eq!(top(&data.join("baking/held-3.mp4")), "baking");
}
