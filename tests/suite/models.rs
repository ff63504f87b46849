//! Model definitions against the reference: parameter counts, shapes of both sizes, each fusion
//! against its formula, and the localization map.

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::{Distribution, TensorData};
use mcgurk::models::{AudioNet, AvNet, Fusion, FusionKind, Size, VisualNet, localization_map};

fn dev() -> Device {
    Device::flex()
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.try_to_vec_as::<f32>().unwrap()
}

fn close(a: &[f32], b: &[f32], tol: f32) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
}

#[test]
fn parameter_counts_match_the_reference() {
    // torchvision resnet18 has 11,689,512 parameters; without fc (512*1000 + 1000): 11,176,512.
    assert_eq!(VisualNet::new(Size::Full, &dev()).trainable_params(), 11_176_512);
    // Tian's audio net (Figure 1), convs with bias, BatchNorm affine: computed by hand,
    // sum over layers of c_in*c_out*3 + c_out, plus 2 * 1920 BatchNorm parameters.
    assert_eq!(AudioNet::new(Size::Full, &dev()).trainable_params(), 1_566_528);
    // FiLM adds alpha (512*512 + 512); the classifier is 512*classes + classes.
    let film = AvNet::new(FusionKind::Film, Size::Full, 28, &dev());
    assert_eq!(film.trainable_params(), 11_176_512 + 1_566_528 + 262_656 + 512 * 28 + 28);
    let concat = AvNet::new(FusionKind::GatedConcat, Size::Full, 9, &dev());
    assert_eq!(concat.trainable_params(), 11_176_512 + 1_566_528 + 1024 * 9 + 9);
    // burn's own count adds the BatchNorm running mean and variance: 2 x 4,800 channels.
    assert_eq!(VisualNet::new(Size::Full, &dev()).num_params(), 11_176_512 + 9_600);
    assert!(AvNet::new(FusionKind::Sum, Size::Small, 9, &dev()).trainable_params() < 1_200_000);
}

#[test]
fn shapes_of_both_sizes() {
    let device = dev();
    for (size, d) in [(Size::Full, 512), (Size::Small, 128)] {
        let audio = AudioNet::new(size, &device);
        let wave = Tensor::<3>::random([2, 1, 65_535], Distribution::Uniform(-1.0, 1.0), &device);
        assert_eq!(audio.forward_map(wave.clone()).dims(), [2, d, 16]);
        assert_eq!(audio.forward(wave).dims(), [2, d]);
        let visual = VisualNet::new(size, &device);
        let pixels = Tensor::<4>::random([1, 3, 224, 224], Distribution::Uniform(0.0, 1.0), &device);
        assert_eq!(visual.forward_map(pixels.clone()).dims(), [1, d, 7, 7]);
        let small_pixels = Tensor::<4>::random([1, 3, 112, 112], Distribution::Uniform(0.0, 1.0), &device);
        assert_eq!(visual.forward_map(small_pixels).dims(), [1, d, 4, 4]);
    }
}

#[test]
fn every_fusion_gives_logits() {
    let device = dev();
    let wave = Tensor::<3>::random([2, 1, 16_384], Distribution::Uniform(-1.0, 1.0), &device);
    let pixels = Tensor::<4>::random([2, 3, 64, 64], Distribution::Uniform(0.0, 1.0), &device);
    for kind in FusionKind::ALL {
        let net = AvNet::new(kind, Size::Small, 9, &device);
        let out = net.forward(wave.clone(), pixels.clone());
        assert_eq!(out.logits.dims(), [2, 9], "{kind:?}");
        assert!(values(out.logits).iter().all(|v| v.is_finite()), "{kind:?}");
        assert_eq!(out.fa.is_some(), kind.uses_audio());
        assert_eq!(out.visual_map.is_some(), kind.uses_visual());
    }
}

#[test]
fn fusions_follow_their_definitions() {
    let device = dev();
    let a = [0.5f32, -1.0, 2.0, 0.0];
    let v = [1.0f32, 3.0, -2.0, 0.25];
    let fa = || Tensor::<2>::from_data(TensorData::new(a.to_vec(), [1, 4]), &device);
    let fv = || Tensor::<2>::from_data(TensorData::new(v.to_vec(), [1, 4]), &device);
    let sig = |x: f32| 1.0 / (1.0 + (-x).exp());
    let run = |kind| values(Fusion::new(kind, 4, &device).forward(Some(fa()), Some(fv())));

    let sum: Vec<f32> = a.iter().zip(v).map(|(x, y)| x + y).collect();
    assert!(close(&run(FusionKind::Sum), &sum, 1e-6));
    assert!(close(&run(FusionKind::Concat), &[a, v].concat(), 1e-6));
    let f1: Vec<f32> = a.iter().zip(v).map(|(x, y)| sig(*x) * y).collect();
    let f2: Vec<f32> = a.iter().zip(v).map(|(x, y)| sig(y) * x).collect();
    let gated_sum: Vec<f32> = f1.iter().zip(&f2).map(|(x, y)| x + y).collect();
    assert!(close(&run(FusionKind::GatedSum), &gated_sum, 1e-6));
    assert!(close(&run(FusionKind::GatedConcat), &[f1, f2].concat(), 1e-6));

    // FiLM: alpha(f_a) * f_v + f_a, with alpha the layer's own weights (burn: x W + b).
    let film = Fusion::new(FusionKind::Film, 4, &device);
    let alpha = film.alpha.as_ref().unwrap();
    let w = values(alpha.weight.val());
    let b = values(alpha.bias.as_ref().unwrap().val());
    let expected: Vec<f32> = (0..4)
        .map(|j| {
            let alpha_j: f32 = (0..4).map(|i| a[i] * w[i * 4 + j]).sum::<f32>() + b[j];
            alpha_j * v[j] + a[j]
        })
        .collect();
    assert!(close(&values(film.forward(Some(fa()), Some(fv()))), &expected, 1e-5));
}

#[test]
fn localization_peaks_where_the_visual_map_matches_the_audio() {
    let device = dev();
    // A 2-channel 2x2 map; position (1, 0) points the same way as f_a.
    let map = Tensor::<4>::from_data(TensorData::new(vec![1.0f32, 0.0, 3.0, -1.0, 0.0, 1.0, 0.0, 0.0], [1, 2, 2, 2]), &device);
    let fa = Tensor::<2>::from_data(TensorData::new(vec![3.0f32, 0.0], [1, 2]), &device);
    let small = values(localization_map(fa.clone(), map.clone(), (2, 2)));
    // cos: (0,0): [1,0] -> 1; (0,1): [0,1] -> 0; (1,0): [3,0] -> 1; (1,1): [-1,0] -> -1.
    assert!(close(&small, &[1.0, 0.0, 1.0, -1.0], 1e-5), "{small:?}");
    let big = localization_map(fa, map, (8, 6));
    assert_eq!(big.dims(), [1, 8, 6]);
    assert!(values(big).iter().all(|v| (-1.0 - 1e-5..=1.0 + 1e-5).contains(v)));
}

#[test]
fn cam_weights_are_the_gradient_of_the_class_logit() {
    use burn::tensor::Distribution::Normal;
    use mcgurk::models::Widths;
    use mcgurk::models::predict::cam_weights;
    let device = Device::flex().autodiff();
    for kind in FusionKind::ALL.into_iter().filter(|k| k.uses_visual()) {
        let net = AvNet::new(kind, Widths([4, 4, 8, 8]), 3, &device);
        let fa = kind.uses_audio().then(|| Tensor::<2>::random([1, 8], Normal(0.0, 1.0), &device));
        let fv = Tensor::<2>::random([1, 8], Normal(0.0, 1.0), &device).require_grad();
        let logits = net.classifier.forward(net.fusion.forward(fa.clone(), Some(fv.clone())));
        let grads = logits.slice([0..1, 1..2]).sum().backward();
        let want = values(fv.grad(&grads).expect("f_v takes part"));
        let got = values(cam_weights(&net, 1, fa, fv));
        assert!(close(&got, &want, 1e-5), "{kind:?}: {got:?} vs {want:?}");
    }
}
