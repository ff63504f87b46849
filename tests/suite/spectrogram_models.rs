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
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let diff: Vec<f32> = g.iter().zip(want).map(|(a, b)| a - b).collect();
    let rel = norm(&diff) / norm(want);
    assert!(norm(want) > 0.0);
    eprintln!("cnn14 waveform gradient: {rel:.2e} relative");
    assert!(rel < 1e-3, "gradient differs by {rel:.2e} relative (|g| {} vs {})", norm(&g), norm(want));
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

