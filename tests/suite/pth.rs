//! PyTorch checkpoints read as published (`torch.save`'s zip format), without Python: the
//! tensors equal what PyTorch saved (checked against safetensors copies written by
//! tests/fixtures/torch/make_pth_fixtures.py), PANNs' and Li et al.'s wrappers load, and broken
//! or hostile files are errors, never panics.

use std::process::Command;

use crate::common::*;
use mcgurk::models::pth::{PthError, read};
use mcgurk::models::safetensors::SafeTensors;

fn torch(name: &str) -> std::path::PathBuf {
    root().join("tests/fixtures/torch").join(name)
}

fn safetensors(name: &str) -> SafeTensors {
    SafeTensors::parse(&std::fs::read(torch(name)).unwrap()).unwrap()
}

#[test]
fn every_layout_of_tensor_reads_as_pytorch_saved_it() {
    let got = read(&std::fs::read(torch("layouts.pth")).unwrap()).unwrap();
    let want = safetensors("layouts.expected.safetensors");
    assert_eq!(got.tensors.len(), 10);
    for (name, w) in &want.tensors {
        let g = got.tensors.get(name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(g.shape, w.shape, "{name}");
        // Exact: float16, bfloat16 and int64 convert exactly, float64 rounds as torch's .float().
        assert_eq!(g.values, w.values, "{name}");
    }
}

#[test]
fn panns_and_li_checkpoints_load_as_published() {
    use mcgurk::models::spectrogram::read_weights;
    // PANNs: {'iteration', 'model': ..., 'sampler': ...}, with num_batches_tracked counters.
    let pth = read_weights(&torch("cnn14_tiny.pth")).unwrap();
    let st = read_weights(&torch("cnn14_tiny.safetensors")).unwrap();
    // (The counters are the script's own, 1234: not weights.)
    for (k, v) in st.tensors.iter().filter(|(k, _)| !k.ends_with("num_batches_tracked")) {
        assert_eq!(&pth.tensors[k].values, &v.values, "{k}");
    }
    assert_eq!(pth.tensors["bn0.num_batches_tracked"].values, vec![1234.0]);
    // Li et al.: DataParallel's `module.` prefix dropped.
    let pth = read_weights(&torch("tal_tiny.pth")).unwrap();
    let st = read_weights(&torch("tal_tiny.safetensors")).unwrap();
    assert_eq!(pth.tensors.len(), st.tensors.len());
    for (k, v) in &st.tensors {
        assert_eq!(&pth.tensors[k].values, &v.values, "{k}");
    }
    // The commands take them as --weights: the same answers as from safetensors.
    let predict = |weights: &str, spec: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_mcgurk"))
            .args(["predict", demo("cow.mp4").to_str().unwrap(), "--json", "--spec", torch(spec).to_str().unwrap(), "--weights", torch(weights).to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        doc["models"][0]["logits"].clone()
    };
    assert_eq!(predict("cnn14_tiny.pth", "cnn14_tiny.spec.json"), predict("cnn14_tiny.safetensors", "cnn14_tiny.spec.json"));
    assert_eq!(predict("tal_tiny.pth", "tal_tiny.spec.json"), predict("tal_tiny.safetensors", "tal_tiny.spec.json"));
}

#[test]
fn broken_checkpoints_are_clear_errors() {
    let err = |name: &str| read(&std::fs::read(torch(name)).unwrap()).unwrap_err();
    assert_eq!(err("legacy.pth"), PthError::Legacy);
    assert!(matches!(err("compressed.pth"), PthError::Compressed(name, 8) if name.ends_with("data.pkl") || name.contains("data")));
    let oob = err("out_of_bounds.pth").to_string();
    assert!(oob.contains("tensor 'transposed'") && oob.contains("storage of 24"), "{oob}");
    // Through the command: the message names the file and says what to do.
    let out = Command::new(env!("CARGO_BIN_EXE_mcgurk"))
        .args(["predict", demo("cow.mp4").to_str().unwrap(), "--spec", torch("cnn14_tiny.spec.json").to_str().unwrap(), "--weights", torch("legacy.pth").to_str().unwrap()])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && e.contains("before PyTorch 1.6") && e.contains("legacy.pth") && e.contains("torch.save"), "{e}");
    // Cut anywhere, or with bytes changed anywhere: an error or a result, never a panic.
    let bytes = std::fs::read(torch("layouts.pth")).unwrap();
    for cut in (0..bytes.len()).step_by(7) {
        let _ = read(&bytes[..cut]);
    }
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..3000 {
        let mut b = bytes.clone();
        for _ in 0..3 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let at = (rng % b.len() as u64) as usize;
            b[at] = (rng >> 32) as u8;
        }
        let _ = read(&b);
    }
}

#[test]
fn an_audio_visual_state_dict_loads_from_a_pth_too() {
    use burn::prelude::Device;
    let device = Device::flex();
    let from_pth = mcgurk::models::file::load(&torch("tiny_concat.pth"), Some(mcgurk::models::FusionKind::Concat), &device).unwrap();
    let from_st = mcgurk::models::file::load(&torch("tiny_concat.safetensors"), Some(mcgurk::models::FusionKind::Concat), &device).unwrap();
    let (a, _) = mcgurk::models::state_dict::export(&from_pth.net);
    let (b, _) = mcgurk::models::state_dict::export(&from_st.net);
    assert_eq!(a.tensors.len(), b.tensors.len());
    for (k, v) in &b.tensors {
        assert_eq!(a.tensors[k].values, v.values, "{k}");
    }
    // The format before 1.6, as --weights of an audio-visual model: refused with advice.
    let e = mcgurk::models::file::load(&torch("legacy.pth"), None, &device).unwrap_err().to_string();
    assert!(e.contains("before PyTorch 1.6") && e.contains("legacy.pth"), "{e}");
}
