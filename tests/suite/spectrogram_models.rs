//! Spectrogram models against their references: the log-mel front end against librosa and
//! torchlibrosa (PANNs' own front end), PANNs' Cnn14 against PyTorch on the same weights and
//! input (logits, and the gradient of the loss with respect to the waveform from autograd), at
//! 1 s and at PANNs' full 10 s input. Fixtures: tests/fixtures/torch/make_cnn14_fixtures.py.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::tensor::TensorData;
use mcgurk::dsp::mel_filters::{MelNorm, MelScale};
use mcgurk::models::cnn14::{self, Keys};
use mcgurk::models::frontend::{Decibels, FrontendConfig, LogMel, PadKind};
use mcgurk::models::safetensors::{SafeTensors, StoredTensor};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/torch").join(name)
}

fn load(name: &str) -> SafeTensors {
    SafeTensors::parse(&std::fs::read(fixture(name)).unwrap()).unwrap()
}

fn tensor<const D: usize>(t: &StoredTensor, device: &Device) -> Tensor<D> {
    let shape: [usize; D] = t.shape.clone().try_into().unwrap();
    Tensor::from_data(TensorData::new(t.values.clone(), shape), device)
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.try_to_vec_as::<f32>().unwrap()
}

/// ||a - b|| / ||b|| in f64.
fn relative_l2(a: &[f32], b: &[f32]) -> (f64, f64) {
    let norm = |v: &mut dyn Iterator<Item = f32>| v.map(|x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    let reference = norm(&mut b.iter().copied());
    (norm(&mut a.iter().zip(b).map(|(x, y)| x - y)) / reference, reference)
}

/// Largest absolute difference.
fn max_abs(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn the_front_end_matches_librosa() {
    let device = Device::flex();
    let expected = load("cnn14_tiny.expected.safetensors");
    let reference = load("librosa_logmel.safetensors");
    let wave: Tensor<2> = tensor::<2>(&expected.tensors["wave"], &device).slice([0..1, 0..32000]);

    let panns = LogMel::new(FrontendConfig::panns_32k(), &device).unwrap();
    let ours = values(panns.forward(wave.clone()));
    let want = &reference.tensors["slaney"];
    assert_eq!(want.shape, [101, 64]);
    let err = max_abs(&ours, &want.values);
    eprintln!("front end vs librosa (slaney): {err:.2e} dB");
    assert!(err < 1e-3, "slaney mel, slaney norm, reflect: {err} dB");

    let variant = FrontendConfig {
        n_fft: 512,
        win_length: 400,
        hop_length: 160,
        n_mels: 40,
        f_min: 0.0,
        f_max: 8000.0,
        mel_scale: MelScale::Htk,
        mel_norm: MelNorm::None,
        pad_mode: PadKind::Constant,
        db: Decibels { reference: 1.0, amin: 1e-10, top_db: Some(80.0) },
        ..FrontendConfig::panns_32k()
    };
    let ours = values(LogMel::new(variant, &device).unwrap().forward(wave));
    let want = &reference.tensors["htk_top80"];
    assert_eq!(ours.len(), want.values.len());
    let err = max_abs(&ours, &want.values);
    eprintln!("front end vs librosa (htk variant): {err:.2e} dB");
    assert!(err < 1e-3, "htk, no norm, window 400 in n_fft 512, constant pad, top_db 80: {err} dB");
}

#[test]
fn the_front_end_matches_torchlibrosa_on_a_batch() {
    let device = Device::flex();
    let expected = load("cnn14_tiny.expected.safetensors");
    let wave: Tensor<2> = tensor(&expected.tensors["wave"], &device);
    let ours = values(LogMel::new(FrontendConfig::panns_32k(), &device).unwrap().forward(wave));
    let err = max_abs(&ours, &expected.tensors["logmel"].values);
    eprintln!("front end vs torchlibrosa: {err:.2e} dB");
    assert!(err < 1e-3, "{err} dB");
}

fn tiny_cnn14(device: &Device) -> cnn14::Cnn14 {
    cnn14::import(&load("cnn14_tiny.safetensors"), &Keys::panns(), 64, device).unwrap()
}

#[test]
fn cnn14_gives_pytorchs_logits_at_1_s_and_at_the_full_10_s() {
    let device = Device::flex();
    let expected = load("cnn14_tiny.expected.safetensors");
    let net = tiny_cnn14(&device);
    let front = LogMel::new(FrontendConfig::panns_32k(), &device).unwrap();
    for (input, output) in [("wave", "logits"), ("wave_long", "logits_long")] {
        let wave: Tensor<2> = tensor(&expected.tensors[input], &device);
        let logits = values(net.forward(front.forward(wave)));
        let want = &expected.tensors[output].values;
        let err = max_abs(&logits, want);
        let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        eprintln!("cnn14 {input}: logits differ by {err:.2e} (largest {scale:.2})");
        assert!(err <= 1e-4 * scale.max(1.0), "{input}: logits differ by {err} ({logits:?} vs {want:?})");
    }
}

/// The backward pass through Cnn14 and the front end to the waveform, against autograd: an
/// attack's direction is this gradient.
#[test]
fn cnn14_gives_pytorchs_waveform_gradient() {
    let base = Device::flex();
    let device = base.clone().autodiff();
    let expected = load("cnn14_tiny.expected.safetensors");
    // Inference mode (running BatchNorm statistics) on the autodiff device, as attacks run it.
    let net = tiny_cnn14(&base).valid().fork(&device).no_grad();
    let front = LogMel::new(FrontendConfig::panns_32k(), &device).unwrap();
    let wave: Tensor<2> = tensor::<2>(&expected.tensors["wave"], &device).require_grad();
    let targets: Tensor<2> = tensor(&expected.tensors["targets"], &device);
    let p = burn::tensor::activation::sigmoid(net.forward(front.forward(wave.clone())));
    let ones = targets.ones_like();
    // BCE summed, as torch.nn.functional.binary_cross_entropy(reduction='sum').
    let loss = -(targets.clone() * p.clone().log() + (ones.clone() - targets) * (ones - p).log()).sum();
    let grads = loss.backward();
    let g = values(wave.grad(&grads).expect("the waveform has a gradient"));
    let want = &expected.tensors["grad_wave"].values;
    let (rel, reference) = relative_l2(&g, want);
    assert!(reference > 0.0);
    eprintln!("cnn14 waveform gradient: {rel:.2e} relative");
    assert!(rel < 1e-3, "gradient differs by {rel:.2e} relative (|reference| {reference})");
}

#[test]
fn a_cnn14_state_dict_with_a_wrong_key_or_shape_names_it() {
    let device = Device::flex();
    let mut st = load("cnn14_tiny.safetensors");
    st.tensors.remove("conv_block3.bn2.running_var");
    let renamed = st.tensors.remove("fc1.bias").unwrap();
    st.tensors.insert("fc1.b".into(), renamed);
    let e = cnn14::import(&st, &Keys::panns(), 64, &device).err().unwrap().to_string();
    assert!(e.contains("conv_block3.bn2.running_var") && e.contains("fc1.bias") && e.contains("unexpected keys: fc1.b"), "{e}");
    let e = cnn14::import(&load("cnn14_tiny.safetensors"), &Keys::panns(), 128, &device).err().unwrap().to_string();
    assert!(e.contains("64 mel bins") && e.contains("128"), "{e}");
    let e = cnn14::import(&load("cnn14_tiny.safetensors"), &Keys { encoder: "audio.".into(), head: "fc_audioset.".into() }, 64, &device).err().unwrap().to_string();
    assert!(e.contains("audio.conv_block1.conv1.weight"), "{e}");
}

#[test]
fn bad_front_end_settings_name_the_field() {
    let ok = FrontendConfig::panns_32k();
    for (cfg, field) in [
        (FrontendConfig { n_fft: 0, ..ok.clone() }, "frontend.n_fft"),
        (FrontendConfig { win_length: 2048, ..ok.clone() }, "frontend.win_length"),
        (FrontendConfig { f_max: 20_000.0, ..ok.clone() }, "frontend.f_max"),
        (FrontendConfig { power: 3.0, ..ok.clone() }, "frontend.power"),
        (FrontendConfig { std: 0.0, ..ok.clone() }, "frontend.std"),
        (FrontendConfig { sample_rate: 10, ..ok.clone() }, "frontend.sample_rate"),
    ] {
        let e = cfg.validate().unwrap_err();
        assert!(e.starts_with(field), "{e}");
    }
    let json = r#"{"sample_rate": 32000, "n_fft": 1024, "win_length": 1024, "hop_length": 320, "center": true,
        "pad_mode": "reflect", "power": 2.0, "n_mels": 64, "f_min": 50, "f_max": 14000, "mel_scale": "slaney",
        "mel_norm": "slaney", "db": {"ref": 1.0, "amin": 1e-10, "top_db": null}, "frames": null, "mean": 0.0, "std": 1.0}"#;
    assert_eq!(serde_json::from_str::<FrontendConfig>(json).unwrap(), ok);
    let e = serde_json::from_str::<FrontendConfig>(&json.replace("\"power\"", "\"powr\"")).unwrap_err().to_string();
    assert!(e.contains("powr"), "{e}");
}


/// A float WAV of `samples` at `rate`.
fn float_wav(samples: &[f32], rate: u32) -> Vec<u8> {
    let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    crate::hostile::wav_bytes(3, 1, rate, 32, &data)
}

fn mcgurk(args: &[&std::ffi::OsStr]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_mcgurk")).args(args).output().unwrap()
}

/// A researcher's route: a spec beside the published weights, then `mcgurk predict` on a clip.
#[test]
fn predict_runs_a_spec_model_on_a_clip_with_pytorchs_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let expected = load("cnn14_tiny.expected.safetensors");
    let wave = &expected.tensors["wave"].values[..32000];
    let clip = dir.path().join("clip.wav");
    std::fs::write(&clip, float_wav(wave, 32000)).unwrap();
    let (spec, weights) = (fixture("cnn14_tiny.spec.json"), fixture("cnn14_tiny.safetensors"));
    let out = mcgurk(&["predict".as_ref(), clip.as_os_str(), "--spec".as_ref(), spec.as_os_str(), "--weights".as_ref(), weights.as_os_str(), "--json".as_ref()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let m = &doc["models"][0];
    assert_eq!(m["output"], "sigmoid");
    let logits: Vec<f32> = m["logits"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    let err = max_abs(&logits, &expected.tensors["logits"].values[..7]);
    assert!(err < 1e-4, "the clip's whole second, as PyTorch saw it: {err}");
    // Multi-label: every class above 0.5 is listed, by name.
    let above: Vec<&str> = m["above_half"].as_array().unwrap().iter().map(|e| e["class"].as_str().unwrap()).collect();
    let probs: Vec<f64> = m["probs"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(above.len(), probs.iter().filter(|p| **p > 0.5).count());
    assert!(above.contains(&"engine"), "{above:?}");

    // A shorter clip is zero-padded, and says so.
    let short = dir.path().join("short.wav");
    std::fs::write(&short, float_wav(&wave[..16000], 32000)).unwrap();
    let out = mcgurk(&["predict".as_ref(), short.as_os_str(), "--spec".as_ref(), spec.as_os_str(), "--weights".as_ref(), weights.as_os_str()]);
    assert!(out.status.success() && String::from_utf8_lossy(&out.stderr).contains("zero-padded"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn bad_specs_and_weights_name_the_file_and_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(fixture("cnn14_tiny.spec.json")).unwrap();
    let weights = fixture("cnn14_tiny.safetensors");
    let clip = dir.path().join("clip.wav");
    std::fs::write(&clip, float_wav(&vec![0.0; 32000], 32000)).unwrap();
    let cases = [
        ("unknown.json", good.replace("\"power\"", "\"powr\""), "unknown field `powr`"),
        ("encoder.json", good.replace("\"cnn14\"", "\"tian\""), "tian reads the waveform itself"),
        ("head.json", good.replace("\"cnn14\"", "\"tal_trans\""), "attention_pooling head"),
        ("format.json", good.replace("\"format\": 1", "\"format\": 2"), "format 2"),
        ("classes.json", good.replace("\"bird\"]", "\"bird\", \"cow\"]"), "classes: 8 but the head"),
        ("fmax.json", good.replace("14000", "20000"), "audio.frontend.f_max"),
        ("nfft.json", good.replace("\"n_fft\": 1024", "\"n_fft\": 65536"), "audio.frontend.n_fft: 65536 (16 to 8192)"),
        ("hop.json", good.replace("\"hop_length\": 320", "\"hop_length\": 1").replace("\"samples\": 32000", "\"samples\": 9000000"), "framed values"),
        ("prefix.json", good.replace("\"audio\": \"\"", "\"audio\": \"encoder.\""), "encoder.conv_block1.conv1.weight"),
    ];
    for (name, text, expect) in cases {
        let spec = dir.path().join(name);
        std::fs::write(&spec, text).unwrap();
        let out = mcgurk(&["predict".as_ref(), clip.as_os_str(), "--spec".as_ref(), spec.as_os_str(), "--weights".as_ref(), weights.as_os_str()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(expect), "{name}: {stderr}");
        assert!(stderr.contains(name) || stderr.contains("cnn14_tiny.safetensors"), "{name}: the message names the file: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // A damaged PyTorch checkpoint: said so, naming the file.
    let pth = dir.path().join("Cnn14_mAP=0.431.pth");
    std::fs::write(&pth, b"PK\x03\x04 not really a zip").unwrap();
    let out = mcgurk(&["predict".as_ref(), clip.as_os_str(), "--spec".as_ref(), fixture("cnn14_tiny.spec.json").as_os_str(), "--weights".as_ref(), pth.as_os_str()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("PyTorch checkpoint: not a zip archive") && stderr.contains("Cnn14_mAP=0.431.pth"), "{stderr}");
    // A one-clip CSV manifest: metrics run, and say a class of one sample has no density.
    let data = dir.path().join("list.csv");
    std::fs::write(&data, format!("{},speech\n", clip.display())).unwrap();
    let out = mcgurk(&["metrics".as_ref(), "--data".as_ref(), data.as_os_str(), "--spec".as_ref(), fixture("cnn14_tiny.spec.json").as_os_str(), "--weights".as_ref(), weights.as_os_str()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("speech"), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
}

/// `mcgurk attack --spec`: the waveform attacked through the front end, written at the model's
/// rate, the bound held.
#[test]
fn attack_runs_a_spec_model_and_writes_the_adversarial_sound() {
    let dir = tempfile::tempdir().unwrap();
    let expected = load("cnn14_tiny.expected.safetensors");
    let clip = dir.path().join("clip.wav");
    std::fs::write(&clip, float_wav(&expected.tensors["wave"].values[..32000], 32000)).unwrap();
    let adv = dir.path().join("adv.wav");
    let (spec, weights) = (fixture("cnn14_tiny.spec.json"), fixture("cnn14_tiny.safetensors"));
    let out = mcgurk(&[
        "attack".as_ref(), clip.as_os_str(), "--spec".as_ref(), spec.as_os_str(), "--weights".as_ref(), weights.as_os_str(),
        "--modality".as_ref(), "a".as_ref(), "--eps-a".as_ref(), "0.01".as_ref(), "--steps".as_ref(), "5".as_ref(),
        "--json".as_ref(), "--out-audio".as_ref(), adv.as_os_str(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["loss"]["adversarial"].as_f64().unwrap() > doc["loss"]["clean"].as_f64().unwrap());
    assert!(doc["norms"]["linf"].as_f64().unwrap() <= 0.01 + 1e-6);
    let info = mcgurk::media::probe(&adv, &mcgurk::media::LoadOptions::builtin_only()).unwrap();
    let audio = info.audio.unwrap();
    assert_eq!((audio.sample_rate, (audio.duration_s * 1000.0).round()), (32000, 1000.0));
    let out = mcgurk(&["attack".as_ref(), clip.as_os_str(), "--spec".as_ref(), spec.as_os_str(), "--weights".as_ref(), weights.as_os_str(), "--modality".as_ref(), "v".as_ref()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("hears audio only"), "{}", String::from_utf8_lossy(&out.stderr));
}

/// FGSM through the front end steps along the sign of PyTorch's waveform gradient, holds its
/// bound and the waveform's range; PGD raises the BCE loss.
#[test]
fn attacks_reach_the_waveform_through_the_front_end() {
    use mcgurk::attacks::{AttackConfig, Loss, Method, Modality, Norm, Victim, attack_victim};
    use mcgurk::models::input::Example;
    use mcgurk::models::spectrogram::SpectrogramModel;
    let device = Device::flex();
    let expected = load("cnn14_tiny.expected.safetensors");
    let model = SpectrogramModel::load(&fixture("cnn14_tiny.spec.json"), &fixture("cnn14_tiny.safetensors"), &device).unwrap();
    let waves = &expected.tensors["wave"].values;
    let targets = &expected.tensors["targets"].values;
    let examples: Vec<Example> = (0..2).map(|i| Example::audio_only(waves[i * 32000..(i + 1) * 32000].to_vec())).collect();
    let labels: Vec<Vec<usize>> = (0..2).map(|i| (0..7).filter(|&c| targets[i * 7 + c] > 0.5).collect()).collect();
    let eps = 0.002;
    let fgsm = AttackConfig { method: Method::Fgsm, norm: Norm::Linf, modality: Modality::Audio, eps_a: eps, loss: Loss::Bce, ..AttackConfig::default() };
    let victim = Victim::spectrogram(&model);
    let results = attack_victim(&victim, &examples, &labels, &fgsm);
    let grad = &expected.tensors["grad_wave"].values;
    let (mut agree, mut counted) = (0, 0);
    for (i, (r, ex)) in results.iter().zip(&examples).enumerate() {
        assert!(r.norms.audio_linf <= eps + 1e-6 && r.adversarial.wave.iter().all(|v| (-1.0..=1.0).contains(v)));
        assert!(r.loss_adv > r.loss_clean, "FGSM raises the loss: {} -> {}", r.loss_clean, r.loss_adv);
        for (k, (a, c)) in r.adversarial.wave.iter().zip(&ex.wave).enumerate() {
            let g = grad[i * 32000 + k];
            // Where the gradient is not lost in float32 noise, the step follows its sign.
            if g.abs() > 1e-6 && c.abs() < 1.0 - eps {
                counted += 1;
                agree += usize::from((a - c).signum() == g.signum());
            }
        }
    }
    assert!(counted > 10_000 && agree == counted, "{agree} of {counted} samples step along PyTorch's gradient sign");
    let pgd = AttackConfig { method: Method::Pgd, steps: 5, eps_a: 0.05, ..fgsm };
    for r in attack_victim(&victim, &examples, &labels, &pgd) {
        assert!(r.loss_adv > r.loss_clean && r.norms.audio_linf <= 0.05 + 1e-6);
        assert_eq!(r.norms.video_linf, 0.0, "no picture is touched");
    }
}

/// Li et al.'s front end: 16 kHz, n_fft 4096 with a 1024 window, hop 400, 64 Slaney mels to
/// 8 kHz, 400 frames, (x + 29.69) / (2 x 40.90).
fn li_front_end() -> FrontendConfig {
    FrontendConfig {
        sample_rate: 16_000,
        n_fft: 4096,
        win_length: 1024,
        hop_length: 400,
        n_mels: 64,
        f_min: 0.0,
        f_max: 8000.0,
        frames: Some(400),
        mean: -29.69,
        std: 2.0 * 40.90,
        ..FrontendConfig::panns_32k()
    }
}

fn tiny_tal(device: &Device) -> mcgurk::models::tal_trans::TalTrans {
    mcgurk::models::tal_trans::import(&load("tal_tiny.safetensors"), "", Default::default(), device).unwrap()
}

#[test]
fn tal_trans_gives_pytorchs_probabilities_from_the_waveform() {
    let device = Device::flex();
    let expected = load("tal_tiny.expected.safetensors");
    let wave: Tensor<2> = tensor(&expected.tensors["wave"], &device);
    let features = LogMel::new(li_front_end(), &device).unwrap().forward(wave);
    let err = max_abs(&values(features.clone()), &expected.tensors["features"].values);
    eprintln!("tal-trans front end vs librosa: {err:.2e} (normalised units)");
    assert!(err < 1e-4, "features differ by {err}");
    let probs = values(burn::tensor::activation::sigmoid(tiny_tal(&device).forward(features)));
    let err = max_abs(&probs, &expected.tensors["prob"].values);
    eprintln!("tal-trans probabilities: {err:.2e}");
    assert!(err < 1e-4, "{probs:?} vs {:?}", expected.tensors["prob"].values);
    // Their published checkpoints may hold the position-wise FFN as 1x1 Conv1d weights.
    let mut st = load("tal_tiny.safetensors");
    for w in ["w_1", "w_2"] {
        st.tensors.get_mut(&format!("enc_layer.pos_ffn.{w}.weight")).unwrap().shape.push(1);
    }
    let conv_ffn = mcgurk::models::tal_trans::import(&st, "", Default::default(), &device).unwrap();
    let feats: Tensor<4> = tensor::<3>(&expected.tensors["features"], &device).unsqueeze_dim(1);
    let again = values(burn::tensor::activation::sigmoid(conv_ffn.forward(feats)));
    assert!(max_abs(&again, &expected.tensors["prob"].values) < 1e-4);
}

/// The gradient with respect to the normalised features (what Li et al. attacked), against
/// autograd.
#[test]
fn tal_trans_gives_pytorchs_feature_gradient() {
    let base = Device::flex();
    let device = base.clone().autodiff();
    let expected = load("tal_tiny.expected.safetensors");
    let net = tiny_tal(&base).valid().fork(&device).no_grad();
    let features: Tensor<3> = tensor::<3>(&expected.tensors["features"], &device).require_grad();
    let targets: Tensor<2> = tensor(&expected.tensors["targets"], &device);
    let p = burn::tensor::activation::sigmoid(net.forward(features.clone().unsqueeze_dim(1)));
    let ones = targets.ones_like();
    let loss = -(targets.clone() * p.clone().log() + (ones.clone() - targets) * (ones - p).log()).sum();
    let g = values(features.grad(&loss.backward()).unwrap());
    let want = &expected.tensors["grad_features"].values;
    let (rel, reference) = relative_l2(&g, want);
    eprintln!("tal-trans feature gradient: {rel:.2e} relative");
    assert!(reference > 0.0 && rel < 1e-3, "{rel}");
}


/// Li et al.'s model from a spec: `predict` on a 10 s clip at 16 kHz gives PyTorch's
/// probabilities; `attack` raises its BCE loss within the bound; a wrong option is named.
#[test]
fn a_tal_trans_spec_runs_in_predict_and_attack() {
    let dir = tempfile::tempdir().unwrap();
    let expected = load("tal_tiny.expected.safetensors");
    let clip = dir.path().join("ten.wav");
    std::fs::write(&clip, float_wav(&expected.tensors["wave"].values, 16_000)).unwrap();
    let (spec, weights) = (fixture("tal_tiny.spec.json"), fixture("tal_tiny.safetensors"));
    let out = mcgurk(&["predict".as_ref(), clip.as_os_str(), "--spec".as_ref(), spec.as_os_str(), "--weights".as_ref(), weights.as_os_str(), "--json".as_ref()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let probs: Vec<f32> = doc["models"][0]["probs"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    let err = max_abs(&probs, &expected.tensors["prob"].values);
    assert!(err < 1e-4, "{probs:?} vs {:?}", expected.tensors["prob"].values);
    let out = mcgurk(&[
        "attack".as_ref(), clip.as_os_str(), "--spec".as_ref(), spec.as_os_str(), "--weights".as_ref(), weights.as_os_str(),
        "--modality".as_ref(), "a".as_ref(), "--eps-a".as_ref(), "0.005".as_ref(), "--steps".as_ref(), "3".as_ref(), "--json".as_ref(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["loss"]["adversarial"].as_f64().unwrap() > doc["loss"]["clean"].as_f64().unwrap(), "{doc}");
    assert!(doc["norms"]["linf"].as_f64().unwrap() <= 0.005 + 1e-6);
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, std::fs::read_to_string(&spec).unwrap().replace("\"heads\": 8", "\"heads\": 7")).unwrap();
    let out = mcgurk(&["predict".as_ref(), clip.as_os_str(), "--spec".as_ref(), bad.as_os_str(), "--weights".as_ref(), weights.as_os_str()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("7 heads") && stderr.contains("tal_tiny.safetensors"), "{stderr}");
    std::fs::write(&bad, std::fs::read_to_string(&spec).unwrap().replace("\"heads\": 8", "\"hedas\": 8")).unwrap();
    let out = mcgurk(&["predict".as_ref(), clip.as_os_str(), "--spec".as_ref(), bad.as_os_str(), "--weights".as_ref(), weights.as_os_str()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("audio.options") && stderr.contains("hedas") && stderr.contains("bad.json"), "{stderr}");
}

/// Li et al.'s setting: the attack on the normalised features steps along the sign of
/// PyTorch's feature gradient (FGSM), holds its bound, and PGD raises the loss; the CLI runs it.
#[test]
fn feature_space_attacks_follow_pytorchs_gradient() {
    use mcgurk::attacks::{AttackConfig, Loss, Method, Modality, Norm, Victim, attack_victim};
    use mcgurk::models::input::Example;
    use mcgurk::models::spectrogram::SpectrogramModel;
    let device = Device::flex();
    let expected = load("tal_tiny.expected.safetensors");
    let model = SpectrogramModel::load(&fixture("tal_tiny.spec.json"), &fixture("tal_tiny.safetensors"), &device).unwrap();
    let features = expected.tensors["features"].values.clone();
    let labels: Vec<usize> = (0..5).filter(|&c| expected.tensors["targets"].values[c] > 0.5).collect();
    let victim = Victim::features(&model, 400);
    let fgsm = AttackConfig { method: Method::Fgsm, norm: Norm::Linf, modality: Modality::Audio, eps_a: 0.01, loss: Loss::Bce, ..AttackConfig::default() };
    let r = attack_victim(&victim, &[Example::audio_only(features.clone())], &[labels.clone()], &fgsm).remove(0);
    let grad = &expected.tensors["grad_features"].values;
    let (mut agree, mut counted) = (0, 0);
    for ((a, c), g) in r.adversarial.wave.iter().zip(&features).zip(grad) {
        if g.abs() > 1e-7 {
            counted += 1;
            agree += usize::from((a - c).signum() == g.signum());
        }
    }
    assert!(counted > 1000 && agree == counted, "{agree} of {counted}");
    assert!(r.loss_adv > r.loss_clean && r.norms.audio_linf <= 0.01 + 1e-6);

    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("ten.wav");
    std::fs::write(&clip, float_wav(&expected.tensors["wave"].values, 16_000)).unwrap();
    let (spec, weights) = (fixture("tal_tiny.spec.json"), fixture("tal_tiny.safetensors"));
    let args = |extra: &[&str]| {
        let mut v: Vec<std::ffi::OsString> = vec!["attack".into(), clip.clone().into(), "--spec".into(), spec.clone().into(), "--weights".into(), weights.clone().into(), "--modality".into(), "a".into(), "--attack-space".into(), "features".into()];
        v.extend(extra.iter().map(|s| std::ffi::OsString::from(*s)));
        v
    };
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mcgurk")).args(args(&["--eps-a", "0.02", "--steps", "3", "--json"])).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["space"], "features");
    assert!(doc["loss"]["adversarial"].as_f64().unwrap() > doc["loss"]["clean"].as_f64().unwrap());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mcgurk")).args(args(&["--out-audio", "x.wav"])).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("no sound to write"));
}

/// `eval --spec`: a spectrogram model over a folder of audio clips whose class names are among
/// the model's. Clean top-1 is checked against the model's own prediction path, clip by clip.
#[test]
fn eval_runs_a_spec_model_over_a_dataset_of_sounds() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let expected = load("cnn14_tiny.expected.safetensors");
    let wave = &expected.tensors["wave_long"].values;
    let mut clips = Vec::new();
    for (class, starts) in [("engine", [0usize, 64000]), ("Rain", [128000, 192000])] {
        std::fs::create_dir_all(data.join(class)).unwrap();
        for s in starts {
            let path = data.join(class).join(format!("{s}.wav"));
            std::fs::write(&path, float_wav(&wave[s..s + 32000], 32000)).unwrap();
            clips.push((path, class.to_lowercase()));
        }
    }
    std::fs::write(data.join("engine/broken.wav"), b"RIFF junk").unwrap();
    let (spec, weights) = (fixture("cnn14_tiny.spec.json"), fixture("cnn14_tiny.safetensors"));
    let (json, csv) = (dir.path().join("t.json"), dir.path().join("t.csv"));
    let run = |extra: &[&std::ffi::OsStr]| {
        let mut args: Vec<&std::ffi::OsStr> = vec!["eval".as_ref(), "--spec".as_ref(), spec.as_os_str(), "--weights".as_ref(), weights.as_os_str(), "--data".as_ref(), data.as_os_str()];
        args.extend_from_slice(extra);
        mcgurk(&args)
    };
    let out = run(&["--eps-a".as_ref(), "0.01".as_ref(), "--steps".as_ref(), "5".as_ref(), "--json".as_ref(), json.as_os_str(), "--csv".as_ref(), csv.as_os_str()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(doc["clips"], 4);
    let skipped = doc["skipped"].as_array().unwrap();
    assert!(skipped.len() == 1 && skipped[0].as_str().unwrap().contains("broken.wav"), "{skipped:?}");
    // Clean top-1 among the dataset's classes, from the model's prediction path.
    let device = Device::flex();
    let model = mcgurk::models::spectrogram::SpectrogramModel::load(&spec, &weights, &device).unwrap();
    let index = |name: &str| model.classes.iter().position(|c| c == name).unwrap();
    let (engine, rain) = (index("engine"), index("rain"));
    let opts = mcgurk::media::LoadOptions { sample_rate: 32000, ..mcgurk::media::LoadOptions::builtin_only() };
    let right = clips
        .iter()
        .filter(|(path, class)| {
            let clip = mcgurk::media::load::open(path, &opts, &mcgurk::media::Job::detached()).unwrap();
            let p = model.predict(&clip, mcgurk::models::input::Example::centre_time(&clip), &device).unwrap().probs;
            let guess = if p[engine] >= p[rain] { "engine" } else { "rain" };
            guess == class
        })
        .count();
    assert_eq!(doc["clean"].as_f64().unwrap(), right as f64 / 4.0);
    assert!(doc["max_linf"].as_f64().unwrap() <= 0.01 + 1e-6, "{}", doc["max_linf"]);
    assert_eq!(doc["dead_gradients"], 0);
    assert!(doc["loss_attacked"].as_f64().unwrap() > doc["loss_clean"].as_f64().unwrap(), "{doc}");
    assert!(doc["snr_db"].as_f64().unwrap() > 10.0);
    let csv_text = std::fs::read_to_string(&csv).unwrap();
    let row: Vec<&str> = csv_text.lines().nth(1).unwrap().split(',').collect();
    assert_eq!((row[2], row[4].parse::<f64>().unwrap()), ("4", doc["clean"].as_f64().unwrap()));
    // The table is printed too.
    assert!(String::from_utf8_lossy(&out.stdout).contains("tiny-cnn14"));

    // What belongs to the audio-visual table is refused, by name.
    let out = run(&["--sweep".as_ref(), "1,2".as_ref()]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--sweep"), "{}", String::from_utf8_lossy(&out.stderr));

    // Sharded into a results folder and merged: the same row as the whole run.
    let results = dir.path().join("results");
    for shard in ["0/2", "1/2"] {
        let out = run(&["--eps-a".as_ref(), "0.01".as_ref(), "--steps".as_ref(), "5".as_ref(), "--out".as_ref(), results.as_os_str(), "--shard".as_ref(), shard.as_ref()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let merged = dir.path().join("merged.json");
    let out = mcgurk(&["eval".as_ref(), "merge".as_ref(), results.as_os_str(), "--json".as_ref(), merged.as_os_str()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let merged: serde_json::Value = serde_json::from_slice(&std::fs::read(&merged).unwrap()).unwrap();
    assert_eq!(merged, doc, "the merged shards differ from the whole run");
    // A shard run again resumes: nothing is measured twice.
    let out = run(&["--eps-a".as_ref(), "0.01".as_ref(), "--steps".as_ref(), "5".as_ref(), "--out".as_ref(), results.as_os_str(), "--shard".as_ref(), "0/2".as_ref()]);
    assert!(out.status.success() && String::from_utf8_lossy(&out.stderr).contains("3 clips, 3 of them already in"), "{}", String::from_utf8_lossy(&out.stderr));
    // Another attack in the same folder is another run: refused, naming what differs.
    let out = run(&["--eps-a".as_ref(), "0.02".as_ref(), "--steps".as_ref(), "5".as_ref(), "--out".as_ref(), results.as_os_str(), "--shard".as_ref(), "0/2".as_ref()]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("attack"), "{}", String::from_utf8_lossy(&out.stderr));
    // A dataset class the model does not know is named.
    std::fs::create_dir_all(data.join("cow")).unwrap();
    std::fs::write(data.join("cow/a.wav"), float_wav(&wave[..32000], 32000)).unwrap();
    let out = run(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("\"cow\"") && err.contains("7 classes"), "{err}");
}

/// What the window shows of a spectrogram model: its input features clean and attacked, the
/// adversarial sound within the budget, and for TAL-trans attention weights that sum to one.
#[test]
fn what_a_spectrogram_model_hears_is_its_own_input_under_the_attack() {
    use mcgurk::attacks::{AttackConfig, Method, Modality};
    let dir = tempfile::tempdir().unwrap();
    let expected = load("cnn14_tiny.expected.safetensors");
    let clip_path = dir.path().join("clip.wav");
    std::fs::write(&clip_path, float_wav(&expected.tensors["wave_long"].values[..48000], 32000)).unwrap();
    let device = Device::flex();
    let cfg = AttackConfig { method: Method::Pgd, modality: Modality::Audio, eps_a: 0.01, steps: 3, ..Default::default() };
    for (spec, weights, rate, attention) in [("cnn14_tiny.spec.json", "cnn14_tiny.safetensors", 32000, false), ("tal_tiny.spec.json", "tal_tiny.safetensors", 16000, true)] {
        let model = mcgurk::models::spectrogram::SpectrogramModel::load(&fixture(spec), &fixture(weights), &device).unwrap();
        let opts = mcgurk::media::LoadOptions { sample_rate: rate, ..mcgurk::media::LoadOptions::builtin_only() };
        let clip = mcgurk::media::load::open(&clip_path, &opts, &mcgurk::media::Job::detached()).unwrap();
        let clean_only = mcgurk::models::heard::hear(&model, &clip, 0.75, None, &device).unwrap();
        assert!(clean_only.adversarial.is_none() && clean_only.wave_adversarial.is_none());
        let h = mcgurk::models::heard::hear(&model, &clip, 0.75, Some(&cfg), &device).unwrap();
        assert_eq!(h.clean.len(), h.frames * h.mels, "{spec}");
        assert_eq!((h.mels, h.sample_rate, h.wave.len()), (64, rate, model.samples()), "{spec}");
        // The same input the prediction path sees.
        let p = model.predict(&clip, 0.75, &device).unwrap().probs;
        assert_eq!(p, h.probs_clean, "{spec}");
        let adv = h.wave_adversarial.as_ref().unwrap();
        let linf = adv.iter().zip(&h.wave).fold(0.0f32, |m, (a, c)| m.max((a - c).abs()));
        assert!(linf > 0.0 && linf <= 0.01 + 1e-6, "{spec}: {linf}");
        assert_eq!(h.adversarial.as_ref().unwrap().len(), h.clean.len());
        assert!(h.adversarial.as_ref().unwrap() != &h.clean);
        assert_eq!(h.probs_adversarial.as_ref().unwrap().len(), model.classes.len());
        match (&h.attention, attention) {
            (Some(a), true) => assert!((a.iter().sum::<f32>() - 1.0).abs() < 1e-4, "{spec}: attention sums to {}", a.iter().sum::<f32>()),
            (None, false) => {}
            (a, _) => panic!("{spec}: attention {a:?}"),
        }
    }
}

/// `metrics --spec`: Li et al.'s class-wise report of a spectrogram model on a folder of sounds,
/// read at the model's rate, its classes found among the model's by name; rows for the
/// dataset's classes only; clean accuracy is the model's own predictions; Cnn14's convexity
/// through its linear head, TAL-trans' said to be undefined (its head attends over frames).
#[test]
fn metrics_measure_a_spectrogram_model_on_a_folder_of_sounds() {
    use mcgurk::media::{Job, LoadOptions};
    use mcgurk::models::spectrogram::SpectrogramModel;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut clips = Vec::new();
    for (class, base) in [("dog", 300.0f32), ("rain", 2500.0)] {
        std::fs::create_dir_all(data.join(class)).unwrap();
        for k in 0..3 {
            let f = base * (1.0 + 0.2 * k as f32);
            let wave: Vec<f32> = (0..32000).map(|i| 0.3 * (std::f32::consts::TAU * f * i as f32 / 32000.0).sin() + 0.02 * ((i * 7919 % 101) as f32 / 50.0 - 1.0)).collect();
            let path = data.join(class).join(format!("{k}.wav"));
            std::fs::write(&path, float_wav(&wave, 32000)).unwrap();
            clips.push((path, class));
        }
    }
    let (spec, weights) = (fixture("cnn14_tiny.spec.json"), fixture("cnn14_tiny.safetensors"));
    let json = dir.path().join("m.json");
    let out = mcgurk(&[
        "metrics".as_ref(), "--data".as_ref(), data.as_os_str(), "--spec".as_ref(), spec.as_os_str(), "--weights".as_ref(), weights.as_os_str(),
        "--attack".as_ref(), "--method".as_ref(), "fgsm".as_ref(), "--eps-a".as_ref(), "0.001".as_ref(), "--pairs".as_ref(), "200".as_ref(), "--json".as_ref(), json.as_os_str(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let r = &doc[0];
    assert_eq!((r["model"].as_str(), r["fusion"].as_str(), r["samples"].as_u64()), (Some("tiny-cnn14"), Some("spectrogram"), Some(6)));
    let rows = r["rows"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|row| row["class"].as_str().unwrap()).collect();
    assert_eq!(names, ["dog", "rain"]);
    let device = Device::flex();
    let model = SpectrogramModel::load(&spec, &weights, &device).unwrap();
    for row in rows {
        let class = row["class"].as_str().unwrap();
        let right = clips
            .iter()
            .filter(|(_, c)| *c == class)
            .filter(|(path, _)| {
                let clip = mcgurk::media::open(path, &LoadOptions { sample_rate: 32000, ..LoadOptions::default() }, &Job::detached()).unwrap();
                let p = model.predict(&clip, clip.duration_s() / 2.0, &device).unwrap();
                model.classes[mcgurk::models::predict::argmax(&p.logits)] == class
            })
            .count();
        assert!((row["clean_acc"].as_f64().unwrap() - right as f64 / 3.0).abs() < 1e-9, "{row}");
        assert_eq!(row["kappa"]["status"], "defined", "{}", row["kappa"]);
        assert!(row["attacked_acc"].as_f64().is_some(), "{row}");
    }
    // TAL-trans: its attention head is not a function of one embedding.
    let tal = dir.path().join("tal");
    for (c, class) in ["class 1", "class 3"].iter().enumerate() {
        std::fs::create_dir_all(tal.join(class)).unwrap();
        for k in 0..2 {
            let wave: Vec<f32> = (0..16000).map(|i| 0.2 * (0.05 * (i as f32) * (k + 2 * c + 1) as f32).sin()).collect();
            std::fs::write(tal.join(class).join(format!("{k}.wav")), float_wav(&wave, 16000)).unwrap();
        }
    }
    let out = mcgurk(&[
        "metrics".as_ref(), "--data".as_ref(), tal.as_os_str(), "--spec".as_ref(), fixture("tal_tiny.spec.json").as_os_str(),
        "--weights".as_ref(), fixture("tal_tiny.safetensors").as_os_str(), "--json".as_ref(), json.as_os_str(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let kappa = doc[0]["rows"][0]["kappa"].to_string();
    assert!(kappa.contains("attends over frames"), "{kappa}");
    // Augmented views are McGurk's own models' business.
    let out = mcgurk(&["metrics".as_ref(), "--data".as_ref(), data.as_os_str(), "--spec".as_ref(), spec.as_os_str(), "--weights".as_ref(), weights.as_os_str(), "--views".as_ref(), "3".as_ref()]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--views 3"));
}

/// A folder per class of four one-second tones at `rate` (300 Hz and up for the first class,
/// 2500 Hz and up for the second), the fourth of each held out (`held` in its name).
fn tone_folder(dir: &Path, classes: [&str; 2], rate: u32) -> PathBuf {
    let data = dir.join("data");
    for (class, base) in classes.into_iter().zip([300.0f32, 2500.0]) {
        std::fs::create_dir_all(data.join(class)).unwrap();
        for k in 0..4 {
            let f = base * (1.0 + 0.15 * k as f32);
            let wave: Vec<f32> = (0..rate).map(|i| 0.3 * (std::f32::consts::TAU * f * i as f32 / rate as f32).sin()).collect();
            let name = if k == 3 { format!("held-{k}.wav") } else { format!("{k}.wav") };
            std::fs::write(data.join(class).join(name), float_wav(&wave, rate)).unwrap();
        }
    }
    data
}

/// `train --spec`: a published Cnn14 fine-tuned on a folder of sounds. The loss falls, the
/// weights come back in the checkpoint's own key layout (every key of the original but the
/// front end's buffers, same shapes), with a spec naming them that `predict` reads, and the
/// held-out clips are measured each epoch.
#[test]
fn train_fine_tunes_a_cnn14_from_its_spec() {
    let dir = tempfile::tempdir().unwrap();
    let data = tone_folder(dir.path(), ["dog", "rain"], 32000);
    let out = dir.path().join("out");
    let (spec, weights) = (fixture("cnn14_tiny.spec.json"), fixture("cnn14_tiny.safetensors"));
    let run = mcgurk(&[
        "train".as_ref(), "--data".as_ref(), data.as_os_str(), "--holdout".as_ref(), "held".as_ref(), "--spec".as_ref(), spec.as_os_str(),
        "--weights".as_ref(), weights.as_os_str(), "--epochs".as_ref(), "12".as_ref(), "--batch".as_ref(), "3".as_ref(), "--lr".as_ref(), "0.003".as_ref(), "--out".as_ref(), out.as_os_str(),
    ]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    crate::common::fine_tune_log(&out, 12, 6, 2);
    // The checkpoint's own layout: every key of the original but the front end's, same shapes.
    let original = SafeTensors::parse(&std::fs::read(&weights).unwrap()).unwrap();
    let tuned = SafeTensors::parse(&std::fs::read(out.join("tiny-cnn14-fine-tuned.safetensors")).unwrap()).unwrap();
    let keep = |k: &&String| !k.contains("extractor") && !k.ends_with("num_batches_tracked");
    assert_eq!(original.tensors.keys().filter(keep).collect::<Vec<_>>(), tuned.tensors.keys().collect::<Vec<_>>());
    assert!(original.tensors.iter().filter(|(k, _)| keep(k)).all(|(k, t)| tuned.tensors[k].shape == t.shape));
    assert!(original.tensors["fc1.weight"].values != tuned.tensors["fc1.weight"].values, "the weights moved");
    let clip = data.join("dog/held-3.wav");
    let p = mcgurk(&["predict".as_ref(), clip.as_os_str(), "--spec".as_ref(), out.join("tiny-cnn14-fine-tuned.spec.json").as_os_str(), "--json".as_ref()]);
    assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stderr));
    // Options of McGurk's own training are refused by name.
    let run = mcgurk(&["train".as_ref(), "--data".as_ref(), data.as_os_str(), "--spec".as_ref(), spec.as_os_str(), "--weights".as_ref(), weights.as_os_str(), "--adversarial".as_ref(), "--out".as_ref(), out.as_os_str()]);
    assert!(!run.status.success() && String::from_utf8_lossy(&run.stderr).contains("--adversarial"));
}

/// TAL-trans written back under Li et al.'s names gives the tensors it was read from, bit for
/// bit (BatchNorm counters aside).
#[test]
fn tal_trans_exports_the_state_dict_it_imported() {
    use mcgurk::models::tal_trans;
    let device = Device::flex();
    let st = SafeTensors::parse(&std::fs::read(fixture("tal_tiny.safetensors")).unwrap()).unwrap();
    let net = tal_trans::import(&st, "", tal_trans::Options::default(), &device).unwrap();
    let back = tal_trans::export(&net, "");
    assert_eq!(crate::common::written_keys(&st), crate::common::written_keys(&back));
    for k in crate::common::written_keys(&st) {
        assert!(st.tensors[&k] == back.tensors[&k], "{k} differs");
    }
}

/// `train --spec` on Li et al.'s TAL-trans (multi-label: binary cross-entropy): the loss falls
/// and the weights come back in the checkpoint's layout, its position-wise FFN as the 1x1
/// Conv1d weights the checkpoint held; the written spec reads them back.
#[test]
fn train_fine_tunes_a_tal_trans_from_its_spec() {
    let dir = tempfile::tempdir().unwrap();
    let data = tone_folder(dir.path(), ["class 1", "class 3"], 16000);
    // The checkpoint with its FFN stored as 1x1 Conv1d weights ([out, in, 1]), as older
    // attention code saves it.
    let mut st = SafeTensors::parse(&std::fs::read(fixture("tal_tiny.safetensors")).unwrap()).unwrap();
    for w in ["w_1", "w_2"] {
        st.tensors.get_mut(&format!("enc_layer.pos_ffn.{w}.weight")).unwrap().shape.push(1);
    }
    let weights = dir.path().join("tal_conv1d.safetensors");
    std::fs::write(&weights, st.to_bytes(mcgurk::models::safetensors::StoreAs::F32)).unwrap();
    let out = dir.path().join("out");
    let spec = fixture("tal_tiny.spec.json");
    let run = mcgurk(&[
        "train".as_ref(), "--data".as_ref(), data.as_os_str(), "--holdout".as_ref(), "held".as_ref(), "--spec".as_ref(), spec.as_os_str(),
        "--weights".as_ref(), weights.as_os_str(), "--epochs".as_ref(), "6".as_ref(), "--batch".as_ref(), "6".as_ref(), "--lr".as_ref(), "0.003".as_ref(), "--out".as_ref(), out.as_os_str(),
    ]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    crate::common::fine_tune_log(&out, 6, 6, 2);
    let tuned = SafeTensors::parse(&std::fs::read(out.join("tiny-tal-trans-fine-tuned.safetensors")).unwrap()).unwrap();
    assert_eq!(crate::common::written_keys(&st), crate::common::written_keys(&tuned));
    assert!(crate::common::written_keys(&st).iter().all(|k| tuned.tensors[k].shape == st.tensors[k].shape), "a shape changed");
    assert!(st.tensors["fc_prob.weight"].values != tuned.tensors["fc_prob.weight"].values, "the weights moved");
    let clip = data.join("class 1/held-3.wav");
    let p = mcgurk(&["predict".as_ref(), clip.as_os_str(), "--spec".as_ref(), out.join("tiny-tal-trans-fine-tuned.spec.json").as_os_str(), "--json".as_ref()]);
    assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stderr));
}

/// Cnn14 written back under PANNs' names gives the tensors it was read from, bit for bit.
#[test]
fn cnn14_exports_the_state_dict_it_imported() {
    let device = Device::flex();
    let st = SafeTensors::parse(&std::fs::read(fixture("cnn14_tiny.safetensors")).unwrap()).unwrap();
    let net = cnn14::import(&st, &Keys::panns(), 64, &device).unwrap();
    let back = cnn14::export(&net, &Keys::panns());
    let kept: Vec<&String> = st.tensors.keys().filter(|k| !k.contains("extractor") && !k.ends_with("num_batches_tracked")).collect();
    assert_eq!(kept, back.tensors.keys().collect::<Vec<_>>());
    for k in kept {
        assert!(st.tensors[k] == back.tensors[k], "{k} differs");
    }
}

/// Li et al.'s front end (n_fft 4096) runs its STFT through burn's FFT: the features and the
/// gradient to the waveform equal the DFT product's (what an attack through it follows).
#[test]
fn the_fft_front_end_gives_the_dft_products_features_and_gradient() {
    let base = Device::flex();
    let device = base.clone().autodiff();
    let fft = LogMel::new(li_front_end(), &device).unwrap();
    assert!(fft.uses_fft());
    let dft = fft.clone().dft_only();
    let n = 32000;
    // Tones over a noise floor (pure tones leave bins 90 dB down, float32 noise in either STFT).
    let mut seed = 7u32;
    let wave: Vec<f32> = (0..n)
        .map(|i| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            0.3 * (i as f32 * 0.013).sin() + 0.1 * (i as f32 * 0.37).cos() + 0.05 * (seed as f32 / u32::MAX as f32 - 0.5)
        })
        .collect();
    let weights = Tensor::<4>::random(fft.forward(Tensor::zeros([1, n], &device)).dims(), burn::tensor::Distribution::Uniform(-1.0, 1.0), &device);
    let run = |front: &LogMel| {
        let x = Tensor::<2>::from_data(TensorData::new(wave.clone(), [1, n]), &device).require_grad();
        let f = front.forward(x.clone());
        let g = x.grad(&(f.clone() * weights.clone()).sum().backward()).unwrap();
        (values(f), values(g))
    };
    let ((fa, ga), (fb, gb)) = (run(&fft), run(&dft));
    assert!(max_abs(&fa, &fb) < 1e-3, "features differ by {}", max_abs(&fa, &fb));
    let (rel, _) = relative_l2(&ga, &gb);
    eprintln!("FFT vs DFT front end: features {:.1e}, waveform gradient {rel:.1e} relative", max_abs(&fa, &fb));
    assert!(rel < 1e-4, "waveform gradients differ by {rel:.2e} relative");
}

/// A foreign checkpoint given without a spec: the error recognises its layout and prints a
/// spec filled in from its shapes, which (saved as it is) loads the model.
#[test]
fn a_foreign_checkpoint_without_a_spec_says_what_to_write() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("clip.wav");
    let expected = load("cnn14_tiny.expected.safetensors");
    std::fs::write(&clip, float_wav(&expected.tensors["wave"].values[..32000], 32000)).unwrap();
    let video = crate::common::root().join("assets/demo/cow.mp4");
    for (weights, what, input) in [
        (fixture("cnn14_tiny.safetensors"), "PANNs' Cnn14", clip.clone()),
        (fixture("cnn14_tiny.pth"), "PANNs' Cnn14", clip.clone()),
        (fixture("r2plus1d_tiny.pth"), "R(2+1)D-18", video.clone()),
        (fixture("tal_tiny.pth"), "TAL-trans", clip.clone()),
    ] {
        let out = mcgurk(&["predict".as_ref(), input.as_os_str(), "--weights".as_ref(), weights.as_os_str()]);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!out.status.success() && stderr.contains(what) && stderr.contains("--spec"), "{stderr}");
        let spec = &stderr[stderr.find("\n{").unwrap() + 1..];
        let path = dir.path().join("suggested.json");
        std::fs::write(&path, spec).unwrap();
        let out = mcgurk(&["predict".as_ref(), input.as_os_str(), "--spec".as_ref(), path.as_os_str(), "--weights".as_ref(), weights.as_os_str()]);
        assert!(out.status.success(), "{what}: the suggested spec does not load: {}\n{spec}", String::from_utf8_lossy(&out.stderr));
    }
}
