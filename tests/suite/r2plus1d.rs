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
