//! PyTorch interoperability: state dicts written by PyTorch in the reference layout
//! (tests/fixtures/torch/make_torch_fixtures.py) load with no renaming and give PyTorch's logits.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::tensor::TensorData;
use mcgurk::models::file::{self, ModelError};
use mcgurk::models::safetensors::{SafeTensors, StoreAs};
use mcgurk::models::{FusionKind, ModelInfo, Size, AvNet, InputSize};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/torch").join(name)
}

/// The inputs of make_torch_fixtures.py: computed in f64, stored as f32.
fn inputs(batch: usize, samples: usize, pixels: usize, device: &Device) -> (Tensor<3>, Tensor<4>) {
    let mut wave = Vec::new();
    let mut pix = Vec::new();
    for b in 0..batch {
        let bf = b as f64;
        wave.extend((0..samples).map(|i| (0.8 * (0.013 * i as f64 * (bf + 1.0) + bf).sin()) as f32));
        for c in 0..3 {
            for y in 0..pixels {
                for x in 0..pixels {
                    let v = 0.5 + 0.5 * (0.07 * x as f64 * (c as f64 + 1.0) + 0.05 * y as f64 + bf).sin();
                    pix.push(v as f32);
                }
            }
        }
    }
    (
        Tensor::from_data(TensorData::new(wave, [batch, 1, samples]), device),
        Tensor::from_data(TensorData::new(pix, [batch, 3, pixels, pixels]), device),
    )
}

fn logits_of(net: &AvNet, device: &Device) -> Vec<f32> {
    let (w, p) = inputs(2, 8192, 64, device);
    net.forward(w, p).logits.try_to_vec_as::<f32>().unwrap()
}

fn reference(fusion: &str) -> Vec<f32> {
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture(&format!("tiny_{fusion}.logits.json"))).unwrap()).unwrap();
    json["logits"].as_array().unwrap().iter().flat_map(|row| row.as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32)).collect()
}

#[test]
fn pytorch_state_dicts_give_pytorchs_logits() {
    let device = Device::flex();
    for kind in FusionKind::ALL {
        let path = fixture(&format!("tiny_{}.safetensors", kind.name()));
        let model = file::load(&path, Some(kind), &device).unwrap_or_else(|e| panic!("{e}"));
        let got = logits_of(&model.net, &device);
        let want = reference(kind.name());
        assert_eq!(got.len(), want.len());
        let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst <= 1e-4, "{}: max |burn - torch| = {worst:e}\n{got:?}\n{want:?}", kind.name());
        assert_eq!(model.info.classes.len(), 5);
    }
}

#[test]
fn fusion_is_implied_where_only_one_fits_and_class_names_come_from_the_sidecar() {
    let device = Device::flex();
    for kind in [FusionKind::AudioOnly, FusionKind::VisualOnly, FusionKind::Film] {
        let m = file::load(&fixture(&format!("tiny_{}.safetensors", kind.name())), None, &device).unwrap();
        assert_eq!(m.info.fusion, kind);
        assert_eq!(m.info.classes[4], "class 4");
    }
    let sum = file::load(&fixture("tiny_sum.safetensors"), Some(FusionKind::Sum), &device).unwrap();
    assert_eq!(sum.info.classes, ["cat", "cow", "dog", "duck", "pig"]);
    let err = file::load(&fixture("tiny_sum.safetensors"), None, &device).unwrap_err();
    assert!(matches!(err, ModelError::AmbiguousFusion { .. }), "{err}");
    assert!(err.to_string().contains("--fusion") && err.to_string().ends_with("tiny_sum.safetensors"), "{err}");
    let err = file::load(&fixture("tiny_film.safetensors"), Some(FusionKind::Sum), &device).unwrap_err();
    assert!(err.to_string().contains("use --fusion film"), "{err}");
}

/// Rewrites the Sum fixture through `edit` into a temp file and loads it.
fn load_edited(edit: impl FnOnce(&mut SafeTensors)) -> ModelError {
    let mut st = SafeTensors::parse(&std::fs::read(fixture("tiny_sum.safetensors")).unwrap()).unwrap();
    edit(&mut st);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edited.safetensors");
    std::fs::write(&path, st.to_bytes(StoreAs::F32)).unwrap();
    let err = file::load(&path, Some(FusionKind::Sum), &Device::flex()).unwrap_err();
    assert!(err.to_string().ends_with("edited.safetensors"), "names the file: {err}");
    err
}

#[test]
fn wrong_missing_unexpected_and_non_finite_keys_are_listed() {
    let err = load_edited(|st| {
        st.tensors.remove("audio.3.weight");
        st.tensors.remove("visual.layer2.0.downsample.1.running_var");
    });
    let msg = err.to_string();
    assert!(msg.contains("missing key 'audio.3.weight'") && msg.contains("visual.layer2.0.downsample.1.running_var"), "{msg}");

    let msg = load_edited(|st| {
        let t = st.tensors.remove("classifier.weight").unwrap();
        st.tensors.insert("fc.weight".into(), t);
    })
    .to_string();
    assert!(msg.contains("no 'classifier.weight'") && msg.contains("fc.weight"), "{msg}");

    let msg = load_edited(|st| {
        let t = st.tensors.get_mut("visual.layer1.0.conv2.weight").unwrap();
        t.shape = vec![4, 4, 3, 1];
        t.values.truncate(4 * 4 * 3);
    })
    .to_string();
    assert!(msg.contains("'visual.layer1.0.conv2.weight' has shape [4, 4, 3, 1], expected [4, 4, 3, 3]"), "{msg}");

    let msg = load_edited(|st| st.insert("visual.fc.weight", vec![5, 16], vec![0.0; 80])).to_string();
    assert!(msg.contains("unexpected keys: visual.fc.weight"), "{msg}");

    let msg = load_edited(|st| st.tensors.get_mut("audio.1.running_var").unwrap().values[2] = f32::NAN).to_string();
    assert!(msg.contains("'audio.1.running_var' holds a non-finite value (NaN) at index 2"), "{msg}");
}

#[test]
fn truncated_and_empty_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(fixture("tiny_audio.safetensors")).unwrap();
    let cut = dir.path().join("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let msg = file::load(&cut, None, &Device::flex()).unwrap_err().to_string();
    assert!(msg.starts_with("not a safetensors model file") && msg.contains("past the end"), "{msg}");
    let empty = dir.path().join("empty.safetensors");
    std::fs::write(&empty, b"").unwrap();
    let msg = file::load(&empty, None, &Device::flex()).unwrap_err().to_string();
    assert!(msg.contains("too short") && msg.ends_with("empty.safetensors"), "{msg}");
    let msg = file::load(&dir.path().join("absent.safetensors"), None, &Device::flex()).unwrap_err().to_string();
    assert!(msg.starts_with("cannot read model file"), "{msg}");
}

#[test]
fn saved_models_reload_with_their_metadata_and_logits() {
    let device = Device::flex();
    let net = AvNet::new(FusionKind::GatedConcat, Size::Small, 3, &device);
    let info = ModelInfo {
        name: "gc".into(),
        fusion: FusionKind::GatedConcat,
        classes: vec!["a".into(), "b".into(), "c".into()],
        input: InputSize::new(8192, 64),
        format_version: 1,
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gc.safetensors");
    file::save(&path, &net, &info, StoreAs::F32, false).unwrap();
    let back = file::load(&path, None, &device).unwrap();
    assert_eq!(back.info, info);
    // Same weights; the CPU backend's threaded reductions may differ in the last bit.
    for (a, b) in logits_of(&back.net, &device).iter().zip(logits_of(&net, &device)) {
        assert!((a - b).abs() <= 1e-6, "{a} vs {b}");
    }
    // Half precision: same predictions to about 1e-2 relative.
    file::save(&path, &net, &info, StoreAs::F16, false).unwrap();
    let half = file::load(&path, None, &device).unwrap();
    for (a, b) in logits_of(&half.net, &device).iter().zip(logits_of(&net, &device)) {
        assert!((a - b).abs() <= 2e-2 * b.abs().max(1.0), "{a} vs {b}");
    }
}
