//! Audio-visual models of two foreign encoders (PANNs' Cnn14 with torchvision's R(2+1)D-18,
//! tiny widths), read from a spec and one checkpoint holding `audio.*`, `visual.*`, `fusion.*`
//! and `classifier.*`, give PyTorch's logits and input gradients
//! (tests/fixtures/torch/make_pair_fixtures.py); the CLI predicts and attacks them on a sound
//! and a folder of frames.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use mcgurk::models::pair::PairModel;
use mcgurk::models::safetensors::SafeTensors;

use crate::common::*;

fn torch(name: &str) -> PathBuf {
    root().join("tests/fixtures/torch").join(name)
}

fn expected() -> SafeTensors {
    SafeTensors::parse(&std::fs::read(torch("pair.expected.safetensors")).unwrap()).unwrap()
}

fn load(kind: &str, device: &Device) -> PairModel {
    let spec = torch(&format!("pair_{kind}.spec.json"));
    let weights = mcgurk::models::spec::ModelSpec::load(&spec).unwrap().weight_files(&spec);
    PairModel::load(&spec, &weights, device).unwrap_or_else(|e| panic!("{kind}: {e}"))
}

fn relative_l2(a: &[f32], b: &[f32]) -> f32 {
    let num: f32 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f32>().sqrt();
    num / b.iter().map(|y| y * y).sum::<f32>().sqrt()
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

/// Both fusions (gated-sum through `fusion.proj_a`, concat read picture first) against PyTorch:
/// logits within 1e-4, and the gradients of the cross-entropy to the waveform (through the
/// log-mel front end) and to every pixel of the 8 frames within 1e-3 relative.
#[test]
fn cnn14_with_r2plus1d_gives_pytorchs_logits_and_input_gradients() {
    let base = Device::flex();
    let device = base.clone().autodiff();
    let want = expected();
    let t = |name: &str| want.tensors[name].clone();
    let (wave, clip) = (t("wave"), t("clip"));
    let labels: Vec<usize> = t("labels").values.iter().map(|v| *v as usize).collect();
    for kind in ["gated_sum", "concat"] {
        let m = load(kind, &base);
        let w = Tensor::<3>::from_data(TensorData::new(wave.values.clone(), [2, 1, 32000]), &base);
        let p = Tensor::<4>::from_data(TensorData::new(clip.values.clone(), [2, 3, 8 * 40, 40]), &base);
        let logits = values(m.net.valid().logits(m.front.as_ref(), w, p));
        let err = logits.iter().zip(&t(&format!("{kind}_logits")).values).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(err < 1e-4, "{kind}: logits differ by {err}: {logits:?}");

        let net = m.net.valid().fork(&device).no_grad();
        let front = m.front.as_ref().map(|f| f.to_device(&device));
        let w = Tensor::<3>::from_data(TensorData::new(wave.values.clone(), [2, 1, 32000]), &device).require_grad();
        let p = Tensor::<4>::from_data(TensorData::new(clip.values.clone(), [2, 3, 8 * 40, 40]), &device).require_grad();
        let logp = log_softmax(net.logits(front.as_ref(), w.clone(), p.clone()), 1);
        let picked = Tensor::<2, Int>::from_data(TensorData::new(labels.iter().map(|&l| l as i64).collect::<Vec<_>>(), [2, 1]), &device);
        let loss = logp.gather(1, picked).sum().neg();
        let grads = loss.backward();
        let gw = values(w.grad(&grads).expect("the waveform has a gradient"));
        let gp = values(p.grad(&grads).expect("the frames have a gradient"));
        let (ew, ep) = (relative_l2(&gw, &t(&format!("{kind}_grad_wave")).values), relative_l2(&gp, &t(&format!("{kind}_grad_clip")).values));
        eprintln!("{kind}: logits {err:.1e}, waveform gradient {ew:.1e}, pixel gradient {ep:.1e} relative");
        assert!(ew < 1e-3 && ep < 1e-3, "{kind}: gradients differ: waveform {ew:.2e}, pixels {ep:.2e}");
    }
}

fn spec_with(dir: &Path, edit: impl Fn(&mut serde_json::Value)) -> PathBuf {
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(torch("pair_gated_sum.spec.json")).unwrap()).unwrap();
    v["weights"] = serde_json::json!(torch("pair_gated_sum.pth"));
    edit(&mut v);
    let p = dir.join("spec.json");
    std::fs::write(&p, serde_json::to_string(&v).unwrap()).unwrap();
    p
}

fn load_error(spec: &Path) -> String {
    let weights = mcgurk::models::spec::ModelSpec::load(spec).map(|s| s.weight_files(spec)).map_err(|e| e.to_string());
    match weights {
        Err(e) => e,
        Ok(w) => PairModel::load(spec, &w, &Device::flex()).err().map(|e| e.to_string()).unwrap_or_default(),
    }
}

#[test]
fn a_pair_that_does_not_fit_says_why() {
    let dir = tempfile::tempdir().unwrap();
    // Without the projection, f_a (24) and f_v (16) cannot be summed.
    let e = load_error(&spec_with(dir.path(), |v| {
        v.as_object_mut().unwrap().remove("projections");
    }));
    assert!(e.contains("f_a is 24 wide and f_v 16") && e.contains("projections"), "{e}");
    let e = load_error(&spec_with(dir.path(), |v| v["projections"] = serde_json::json!(["audio", "sound"])));
    assert!(e.contains("projections") && e.contains("spec.json"), "{e}");
    // Prefixes that leave keys outside every part.
    let e = load_error(&spec_with(dir.path(), |v| v["keys"]["visual"] = serde_json::json!("video.")));
    assert!(e.contains("visual.") && e.contains("pair_gated_sum.pth"), "{e}");
    let e = load_error(&spec_with(dir.path(), |v| v["classes"] = serde_json::json!(4)));
    assert!(e.contains("the head") && e.contains("4 classes") && e.contains("pair_gated_sum.pth"), "{e}");
    let e = load_error(&spec_with(dir.path(), |v| v["fusion"] = serde_json::json!("film")));
    assert!(e.contains("alpha"), "{e}");
}

/// The sound as a WAV and the fixture's first clip as 8 PNG frames.
fn sound_and_frames(dir: &Path) -> (PathBuf, PathBuf) {
    let want = expected();
    let wave = &want.tensors["wave"].values[..32000];
    let data: Vec<u8> = wave.iter().flat_map(|s| s.to_le_bytes()).collect();
    let wav = dir.join("sound.wav");
    std::fs::write(&wav, crate::hostile::wav_bytes(3, 1, 32000, 32, &data)).unwrap();
    let frames = dir.join("frames");
    std::fs::create_dir(&frames).unwrap();
    let clip = &want.tensors["clip"].values;
    for k in 0..8 {
        let img = image::RgbImage::from_fn(40, 40, |x, y| {
            let at = |c: usize| (clip[((c * 8 + k) * 40 + y as usize) * 40 + x as usize] * 255.0).round() as u8;
            image::Rgb([at(0), at(1), at(2)])
        });
        img.save(frames.join(format!("{k:03}.png"))).unwrap();
    }
    (wav, frames)
}

fn mcgurk(args: &[&std::ffi::OsStr]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_mcgurk")).args(args).output().unwrap()
}

#[test]
fn predict_and_attack_a_pair_on_a_sound_and_a_frame_folder() {
    let dir = tempfile::tempdir().unwrap();
    let (wav, frames) = sound_and_frames(dir.path());
    let spec = torch("pair_gated_sum.spec.json");
    let common = ["--spec".as_ref(), spec.as_os_str(), "--audio".as_ref(), wav.as_os_str(), "--frames".as_ref(), frames.as_os_str(), "--json".as_ref()];
    let out = mcgurk(&[&["predict".as_ref()], &common[..]].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let logits: Vec<f32> = doc["models"][0]["logits"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    // The whole second and all 8 frames, in order (8-bit, as the PNGs hold them).
    let want = expected();
    let quantised: Vec<f32> = want.tensors["clip"].values[..3 * 8 * 40 * 40].iter().map(|v| (v * 255.0).round() / 255.0).collect();
    let m = load("gated_sum", &Device::flex());
    let engine = m.logits(&want.tensors["wave"].values[..32000], &quantised, &Device::flex());
    let err = logits.iter().zip(&engine).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(err < 1e-4, "logits {logits:?}, the engine on the same input {engine:?}");

    // Small budgets: this random tiny network is far from linear at a few grey levels (8-bit
    // rounding of the frames alone moves its logits by ~0.5), and PGD needs a slope to climb.
    let (eps_a, eps_v) = (2e-4f64, 2e-4f64);
    for (modality, audio_moves, video_moves) in [("av", true, true), ("v", false, true), ("a", true, false)] {
        let (ea, ev) = (eps_a.to_string(), eps_v.to_string());
        let out = mcgurk(&[&["attack".as_ref()], &common[..], &["--modality".as_ref(), modality.as_ref(), "--eps-a".as_ref(), ea.as_ref(), "--eps-v".as_ref(), ev.as_ref(), "--steps".as_ref(), "3".as_ref()]].concat());
        assert!(out.status.success(), "{modality}: {}", String::from_utf8_lossy(&out.stderr));
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let m = &doc["models"][0];
        let n = |k: &str| m["norms"][k].as_f64().unwrap();
        assert!(n("audio_linf") <= eps_a + 1e-6 && n("video_linf") <= eps_v + 1e-6, "{modality}: bound broken: {}", m["norms"]);
        assert_eq!(n("audio_linf") > 0.0, audio_moves, "{modality}: {}", m["norms"]);
        assert_eq!(n("video_linf") > 0.0, video_moves, "{modality}: {}", m["norms"]);
        assert!(m["loss"]["adversarial"].as_f64().unwrap() > m["loss"]["clean"].as_f64().unwrap(), "{modality}: loss did not rise: {}", m["loss"]);
    }

    // Every frame moved, within the bound, written out.
    let out_dir = dir.path().join("adv_frames");
    let out = mcgurk(&[&["attack".as_ref()], &common[..], &["--modality".as_ref(), "v".as_ref(), "--method".as_ref(), "fgsm".as_ref(), "--out-video".as_ref(), out_dir.as_os_str()]].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for k in 0..8 {
        let a = image::open(frames.join(format!("{k:03}.png"))).unwrap().to_rgb8();
        let b = image::open(out_dir.join(format!("frame_{k:04}.png"))).unwrap().to_rgb8();
        let moved = a.pixels().zip(b.pixels()).filter(|(p, q)| p != q).count();
        assert!(moved > 100, "frame {k}: {moved} pixels moved");
    }
}

/// `eval --spec` with an audio-visual pair over a folder of videos with sound (H.264 + AAC):
/// the sound and every frame attacked, each within its budget; clean top-1 is the model's own
/// prediction clip by clip; `--modality v` leaves the sound alone.
#[test]
fn eval_runs_a_pair_over_a_folder_of_videos_with_sound() {
    use mcgurk::media::{Job, LoadOptions};
    if crate::common::require_ffmpeg().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (data, clips) = videos_with_sound(dir.path());
    let spec = torch("pair_concat.spec.json");
    let run = |extra: &[&str]| -> serde_json::Value {
        let json = dir.path().join("t.json");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mcgurk"))
            .args(["eval", "--data", data.to_str().unwrap(), "--spec", spec.to_str().unwrap()])
            .args(["--eps-a", "0.001", "--eps-v", "0.0157", "--steps", "2", "--json", json.to_str().unwrap()])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap()
    };
    let doc = run(&[]);
    assert_eq!((doc["clips"].as_u64(), doc["input"].as_str()), (Some(4), Some("waveform and frames")), "{doc}");
    assert!(doc["max_linf"].as_f64().unwrap() <= 0.0157 + 1e-6, "{doc}");
    assert!(doc["psnr_db"].as_f64().unwrap() > 20.0 && doc["snr_db"].as_f64().is_some(), "{doc}");
    assert_eq!(doc["dead_gradients"], 0);
    let device = Device::flex();
    let model = load("concat", &device);
    let (d, r) = (model.classes.iter().position(|c| c == "dog").unwrap(), model.classes.iter().position(|c| c == "rain").unwrap());
    let right = clips
        .iter()
        .filter(|(path, class)| {
            let opts = LoadOptions { ffmpeg: None, sample_rate: 32000, ..LoadOptions::default() };
            let clip = mcgurk::media::open(path, &opts, &Job::detached()).unwrap();
            let (wave, pixels, _) = model.input(&clip, clip.duration_s() / 2.0).unwrap();
            let z = model.logits(&wave, &pixels, &device);
            (if z[d] >= z[r] { "dog" } else { "rain" }) == class
        })
        .count();
    assert_eq!(doc["clean"].as_f64().unwrap(), right as f64 / 4.0);
    let frames_only = run(&["--modality", "v"]);
    assert_eq!(frames_only["input"], "frames");
    assert!(frames_only["snr_db"].is_null() && frames_only["psnr_db"].as_f64().is_some(), "{frames_only}");
}

/// What the window shows of a pair: the frames it reads and the sound's attack, and Tian's
/// localization map over the frames where f_a and the visual map meet in one width (gated-sum
/// through `proj_a`), none where they do not (concat of 24 and 16 wide features).
#[test]
fn the_window_sees_a_pairs_frames_its_attack_and_its_localization_map() {
    use mcgurk::attacks::{AttackConfig, Method, Modality};
    use mcgurk::models::seen::{Watched, see};
    let dir = tempfile::tempdir().unwrap();
    let (wav, frames) = sound_and_frames(dir.path());
    let device = Device::flex();
    let spec = torch("pair_gated_sum.spec.json");
    let watched = Watched::load(&spec, &device).unwrap();
    let Watched::Pair(model) = &watched else { panic!("a pair spec gives a pair") };
    let mut clip = mcgurk::media::frames::open(&frames, 8.0, 1 << 30).unwrap();
    clip.audio = mcgurk::media::open(&wav, &mcgurk::media::LoadOptions { sample_rate: 32000, ..Default::default() }, &mcgurk::media::Job::detached()).unwrap().audio;
    let (eps_a, eps_v) = (1e-3, 2.0 / 255.0);
    let cfg = AttackConfig { method: Method::Pgd, modality: Modality::Both, eps_a, eps_v, steps: 2, ..Default::default() };
    let s = see(&watched, &clip, 0.5, Some(&cfg), &device).unwrap();
    let (_, pixels, _) = model.input(&clip, 0.5).unwrap();
    assert!(s.clean == pixels, "the strip is the model's input");
    let adv = s.adversarial.as_ref().unwrap();
    let linf = adv.iter().zip(&pixels).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(linf <= eps_v + 1e-6 && linf > 0.0, "{linf}");
    assert!(s.snr_db.is_some_and(|v| v.is_finite()) && s.psnr_db.is_some(), "{:?} {:?}", s.snr_db, s.psnr_db);
    assert_eq!((s.map_kind, s.cam.len(), s.cam_mean.len()), ("cosine", 8 * 40 * 40, 40 * 40));
    assert!(s.cam.iter().all(|v| (0.0..=1.0).contains(v)) && s.cam.iter().any(|v| *v > 0.99));
    // The map is the cosine of f_a with the visual map: in [-1, 1] before display.
    let s1 = model.sampler.size;
    let w = Tensor::<3>::from_data(TensorData::new(expected().tensors["wave"].values[..32000].to_vec(), [1, 1, 32000]), &device);
    let p = Tensor::<4>::from_data(TensorData::new(pixels.clone(), [1, 3, 8 * s1, s1]), &device);
    let raw = values(model.net.localization(model.front.as_ref(), w, p).unwrap());
    assert!(raw.iter().all(|v| (-1.0 - 1e-5..=1.0 + 1e-5).contains(v)), "cosines out of range");
    let concat = Watched::load(&torch("pair_concat.spec.json"), &device).unwrap();
    let s = see(&concat, &clip, 0.5, None, &device).unwrap();
    assert!(s.cam.is_empty() && s.adversarial.is_none());
}

/// A folder dataset of two classes ("dog", "Rain") of two generated 2 s videos each, with a
/// tone as their sound (H.264 + AAC, through ffmpeg).
fn videos_with_sound(dir: &Path) -> (PathBuf, Vec<(PathBuf, String)>) {
    let data = dir.join("data");
    let mut clips = Vec::new();
    for (class, sources) in [("dog", [("testsrc2", 440), ("rgbtestsrc", 880)]), ("Rain", [("smptebars", 220), ("testsrc", 1200)])] {
        std::fs::create_dir_all(data.join(class)).unwrap();
        for (s, hz) in sources {
            let path = data.join(class).join(format!("{s}.mp4"));
            let made = std::process::Command::new("ffmpeg")
                .args(["-v", "error", "-y", "-f", "lavfi", "-i", &format!("{s}=size=64x48:rate=10:duration=2")])
                .args(["-f", "lavfi", "-i", &format!("sine=frequency={hz}:duration=2:sample_rate=32000")])
                .args(["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest"])
                .arg(&path)
                .status()
                .unwrap();
            assert!(made.success());
            clips.push((path, class.to_lowercase()));
        }
    }
    (data, clips)
}

/// `metrics --spec` with a pair: densities of f_a, f_v and the fused feature, convexity through
/// its linear classifier, drop rates under an attack on the sound and the frames.
#[test]
fn metrics_measure_a_pair_on_videos_with_sound() {
    if crate::common::require_ffmpeg().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (data, _) = videos_with_sound(dir.path());
    let json = dir.path().join("m.json");
    let out = mcgurk(&[
        "metrics".as_ref(), "--data".as_ref(), data.as_os_str(), "--spec".as_ref(), torch("pair_concat.spec.json").as_os_str(),
        "--attack".as_ref(), "--method".as_ref(), "fgsm".as_ref(), "--pairs".as_ref(), "100".as_ref(), "--json".as_ref(), json.as_os_str(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let r = &doc[0];
    assert_eq!((r["fusion"].as_str(), r["samples"].as_u64()), (Some("audio-visual"), Some(4)));
    let rows = r["rows"].as_array().unwrap();
    assert_eq!(rows.iter().map(|row| row["class"].as_str().unwrap()).collect::<Vec<_>>(), ["dog", "rain"]);
    let spaces: Vec<&str> = rows[0]["density"].as_array().unwrap().iter().map(|d| d["space"].as_str().unwrap()).collect();
    for s in ["audio", "visual", "fused"] {
        assert!(spaces.contains(&s), "{spaces:?}");
    }
    assert!(rows.iter().all(|row| row["kappa"]["status"] == "defined" && row["attacked_acc"].is_number()), "{rows:?}");
}

/// A pair written back (one file, every part under the spec's keys) is the file it was read
/// from, tensor for tensor and bit for bit, the head's columns back in the spec's order (concat
/// read picture first); read again it gives the same logits.
#[test]
fn a_pair_exports_the_state_dict_it_imported() {
    let base = Device::flex();
    let want = expected();
    let t = |name: &str| want.tensors[name].clone();
    for (kind, file) in [("gated_sum", "pair_gated_sum.pth"), ("concat", "pair_concat.safetensors")] {
        let m = load(kind, &base);
        let (st, keys) = m.export().unwrap();
        assert_eq!(keys, m.spec.keys, "{kind}: the keys were prefixes already");
        let original = mcgurk::models::spectrogram::read_weights(&torch(file)).unwrap();
        assert_eq!(written_keys(&original), written_keys(&st), "{kind}");
        for k in written_keys(&original) {
            assert!(original.tensors[&k] == st.tensors[&k], "{kind}: {k} differs");
        }
        let again = PairModel::from_state(&torch(&format!("pair_{kind}.spec.json")), m.spec.clone(), &st, &base).unwrap();
        let w = Tensor::<3>::from_data(TensorData::new(t("wave").values, [2, 1, 32000]), &base);
        let p = Tensor::<4>::from_data(TensorData::new(t("clip").values, [2, 3, 8 * 40, 40]), &base);
        let (x, y) = (values(m.net.logits(m.front.as_ref(), w.clone(), p.clone())), values(again.net.logits(again.front.as_ref(), w, p)));
        assert!(x == y, "{kind}: {x:?} vs {y:?}");
    }
}

/// `train --spec` on an audio-visual pair (Cnn14 + R(2+1)D-18, concat read picture first) over
/// videos with sound: the loss falls, one file comes back holding every part, with a spec that
/// `predict` reads.
#[test]
fn train_fine_tunes_a_pair_from_its_spec() {
    if crate::common::require_ffmpeg().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (data, clips) = videos_with_sound(dir.path());
    let out = dir.path().join("out");
    let spec = torch("pair_concat.spec.json");
    let run = mcgurk(&["train".as_ref(), "--data".as_ref(), data.as_os_str(), "--spec".as_ref(), spec.as_os_str(), "--epochs".as_ref(), "8".as_ref(), "--batch".as_ref(), "4".as_ref(), "--lr".as_ref(), "0.003".as_ref(), "--out".as_ref(), out.as_os_str()]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    fine_tune_log(&out, 8, 4, 0);
    let original = mcgurk::models::spectrogram::read_weights(&torch("pair_concat.safetensors")).unwrap();
    let tuned = SafeTensors::parse(&std::fs::read(out.join("tiny-cnn14+r2plus1d-concat-fine-tuned.safetensors")).unwrap()).unwrap();
    assert_eq!(written_keys(&original), written_keys(&tuned));
    assert!(original.tensors["classifier.weight"].values != tuned.tensors["classifier.weight"].values, "the weights moved");
    let p = mcgurk(&["predict".as_ref(), clips[0].0.as_os_str(), "--spec".as_ref(), out.join("tiny-cnn14+r2plus1d-concat-fine-tuned.spec.json").as_os_str(), "--json".as_ref()]);
    assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stderr));
}
