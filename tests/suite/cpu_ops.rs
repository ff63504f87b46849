//! McGurk's own CPU convolution and max pool (`models::cpu_conv`, `models::max_pool`) against
//! burn's on the same inputs: outputs, input gradients (attacks) and weight gradients
//! (training), with padding, strides, 1 x 1 kernels, batches, ties and NaN.

use burn::module::Param;
use burn::nn::conv::{Conv1d, Conv1dConfig, Conv2d, Conv2dConfig};
use burn::nn::pool::MaxPool2dConfig;
use burn::nn::{PaddingConfig1d, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::module::{conv1d as burn_conv1d, conv2d as burn_conv2d};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Distribution, TensorData};
use mcgurk::models::cpu_conv;
use mcgurk::models::max_pool::{Window, max_pool1d, max_pool2d};

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.try_to_vec_as::<f32>().expect("f32")
}

/// Equal up to float32 rounding of sums taken in another order: within 1e-6 of the largest
/// magnitude (the sums here have at most a few hundred terms).
fn close(ours: &[f32], burn: &[f32], what: &str) {
    assert_eq!(ours.len(), burn.len(), "{what}: lengths");
    let scale = burn.iter().fold(0f32, |m, v| m.max(v.abs())).max(f32::MIN_POSITIVE);
    for (i, (a, b)) in ours.iter().zip(burn).enumerate() {
        assert!((a - b).abs() <= 1e-6 * scale, "{what}[{i}]: {a} (McGurk) vs {b} (burn), scale {scale}");
    }
}

/// Equal up to float32 rounding of sums taken in another order, element by element: within
/// 1e-6 of the sum of the magnitudes of the element's terms (`magnitude`: the same sum over
/// absolute values; a sum that cancels keeps the rounding of its terms).
fn close_to(ours: &[f32], burn: &[f32], magnitude: &[f32], what: &str) {
    assert_eq!((ours.len(), magnitude.len()), (burn.len(), burn.len()), "{what}: lengths");
    for (i, ((a, b), m)) in ours.iter().zip(burn).zip(magnitude).enumerate() {
        assert!((a - b).abs() <= 1e-6 * m.max(f32::MIN_POSITIVE), "{what}[{i}]: {a} (McGurk) vs {b} (burn), magnitude {m}");
    }
}

/// The layer with |weight| and |bias|: run on |x| (and |r|), it gives each output's (and each
/// gradient's) sum of term magnitudes.
fn magnitudes(layer: &Conv2d) -> Conv2d {
    let tracked = |t: Tensor<1>| if t.device().is_autodiff() { t.require_grad() } else { t };
    let mut abs = layer.clone().no_grad();
    abs.weight = Param::from_tensor(layer.weight.val().abs().detach());
    if abs.weight.val().device().is_autodiff() {
        abs.weight = Param::from_tensor(abs.weight.val().require_grad());
    }
    abs.bias = layer.bias.as_ref().map(|b| Param::from_tensor(tracked(b.val().abs().detach())));
    abs
}

/// (batch, in, out, height, width, kernel, stride, padding, bias). The last two have more
/// column values (576 rows x 9216 or 9025 positions) than one tile holds (4 Mi values): they
/// are done in two bands, the first ending inside an output row.
const CONV2D: [(usize, usize, usize, usize, usize, usize, usize, usize, bool); 9] = [
    (2, 3, 5, 9, 11, 3, 1, 1, false),
    (1, 4, 6, 10, 7, 3, 2, 1, true),
    (2, 3, 4, 12, 12, 7, 2, 3, false),
    (1, 5, 3, 6, 6, 1, 1, 0, true),
    (2, 4, 8, 7, 7, 1, 2, 0, false),
    (1, 2, 3, 5, 5, 3, 1, 0, false),
    (1, 2, 2, 4, 4, 3, 3, 2, true),
    (1, 64, 4, 96, 96, 3, 1, 1, false),
    (2, 64, 3, 190, 190, 3, 2, 1, true),
];

fn conv2d_layer(c: (usize, usize, usize, usize, usize, usize, usize, usize, bool), device: &Device) -> Conv2d {
    let (_, ci, co, _, _, k, s, p, bias) = c;
    Conv2dConfig::new([ci, co], [k, k]).with_stride([s, s]).with_padding(PaddingConfig2d::Explicit(p, p, p, p)).with_bias(bias).init(device)
}

fn burn_forward(layer: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let p = match layer.padding {
        PaddingConfig2d::Explicit(t, l, _, _) => [t, l],
        _ => unreachable!("the tests build explicit padding"),
    };
    burn_conv2d(x, layer.weight.val(), layer.bias.as_ref().map(|b| b.val()), ConvOptions::new(layer.stride, p, [1, 1], 1))
}

#[test]
fn the_own_convolution_computes_burns_outputs() {
    let device = Device::flex();
    for c in CONV2D {
        let (n, ci, _, h, w, ..) = c;
        let layer = conv2d_layer(c, &device);
        let x = Tensor::<4>::random([n, ci, h, w], Distribution::Normal(0.0, 1.0), &device);
        let ours = cpu_conv::conv2d(&layer, x.clone());
        let theirs = burn_forward(&layer, x.clone());
        assert_eq!(ours.dims(), theirs.dims(), "{c:?}");
        let magnitude = burn_forward(&magnitudes(&layer), x.abs());
        close_to(&values(ours), &values(theirs), &values(magnitude), &format!("conv2d {c:?}"));
    }
}

/// The gradients at `x` (and at the weight and bias when `train`) of sum(conv(x) * r).
fn conv2d_grads(layer: &Conv2d, x: &Tensor<4>, r: &Tensor<4>, own: bool) -> Vec<Vec<f32>> {
    let x = x.clone().detach().require_grad();
    let y = if own { cpu_conv::conv2d(layer, x.clone()) } else { burn_forward(layer, x.clone()) };
    let grads = (y * r.clone()).sum().backward();
    let mut out = vec![values(x.grad(&grads).expect("input gradient"))];
    out.extend(layer.weight.val().grad(&grads).map(values));
    out.extend(layer.bias.as_ref().and_then(|b| b.val().grad(&grads)).map(values));
    out
}

#[test]
fn the_own_convolution_gives_burns_gradients_for_attacks_and_training() {
    let device = Device::flex().autodiff();
    for c in CONV2D {
        let (n, ci, ..) = c;
        // Trained: parameters tracked, as `state_dict::import` loads them for training.
        let mut trained = conv2d_layer(c, &device);
        trained.weight = Param::from_tensor(trained.weight.val().detach().require_grad());
        trained.bias = trained.bias.map(|b| Param::from_tensor(b.val().detach().require_grad()));
        let attacked = trained.clone().no_grad();
        let x = Tensor::<4>::random([n, ci, c.3, c.4], Distribution::Normal(0.0, 1.0), &device);
        let r = Tensor::<4>::random(burn_forward(&attacked, x.clone()).dims(), Distribution::Normal(0.0, 1.0), &device);
        for (layer, parts) in [(&attacked, 1), (&trained, if c.8 { 3 } else { 2 })] {
            let (ours, theirs) = (conv2d_grads(layer, &x, &r, true), conv2d_grads(layer, &x, &r, false));
            assert_eq!((ours.len(), theirs.len()), (parts, parts), "{c:?}: gradients present");
            // Each gradient's term magnitudes: the same gradients of the absolute problem
            // (the input's and the weight's only where the layer gives them).
            let magnitude = conv2d_grads(&magnitudes(&trained), &x.clone().abs(), &r.clone().abs(), false);
            for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
                close_to(a, b, &magnitude[i], &format!("conv2d {c:?} gradient {i}"));
            }
        }
    }
}

#[test]
fn the_own_1d_convolution_matches_burns_with_bias_and_gradients() {
    let device = Device::flex().autodiff();
    for (n, ci, co, l) in [(2, 3, 4, 50), (1, 1, 4, 33)] {
        let mut layer: Conv1d = Conv1dConfig::new(ci, co, 3).with_stride(2).with_padding(PaddingConfig1d::Explicit(1, 1)).init(&device);
        layer.weight = Param::from_tensor(layer.weight.val().detach().require_grad());
        let x = Tensor::<3>::random([n, ci, l], Distribution::Normal(0.0, 1.0), &device).require_grad();
        let reference = |x: Tensor<3>| burn_conv1d(x, layer.weight.val(), layer.bias.as_ref().map(|b| b.val()), ConvOptions::new([2], [1], [1], 1));
        let (ours, theirs) = (cpu_conv::conv1d(&layer, x.clone()), reference(x.clone()));
        assert_eq!(ours.dims(), [n, co, l.div_ceil(2)]);
        close(&values(ours.clone()), &values(theirs.clone()), "conv1d");
        let (go, gt) = (ours.sum().backward(), theirs.sum().backward());
        close(&values(x.grad(&go).expect("dx")), &values(x.grad(&gt).expect("dx")), "conv1d input gradient");
        let w = layer.weight.val();
        close(&values(w.grad(&go).expect("dw")), &values(w.grad(&gt).expect("dw")), "conv1d weight gradient");
    }
}

/// R(2+1)D's factored 3-D convolutions (spatial 1 x k x k with a spatial stride, temporal k x 1 x 1
/// with a temporal stride) and its strided 1 x 1 x 1 shortcut (burn's own), against burn's Conv3d:
/// outputs, and the input's, weight's and bias's gradients, each value within 1e-6 of its terms'
/// summed magnitudes (see `close_to`).
#[test]
fn r2plus1ds_3d_convolutions_match_burns() {
    use burn::nn::PaddingConfig3d;
    use burn::nn::conv::{Conv3d, Conv3dConfig};
    let device = Device::flex().autodiff();
    let tracked = |t: Tensor<5>| Param::from_tensor(t.detach().require_grad());
    // The output and the gradients of sum(conv(x) * r): input, weight, bias.
    let run = |layer: &Conv3d, x: &Tensor<5>, r: &Tensor<5>, own: bool| -> Vec<Vec<f32>> {
        let x = x.clone().detach().require_grad();
        let y = if own { cpu_conv::conv3d(layer, x.clone()) } else { layer.forward(x.clone()) };
        let grads = (y.clone() * r.clone()).sum().backward();
        let mut out = vec![values(y), values(x.grad(&grads).expect("dx")), values(layer.weight.val().grad(&grads).expect("dw"))];
        out.extend(layer.bias.as_ref().and_then(|b| b.val().grad(&grads)).map(values));
        out
    };
    // (in, out, kernel, stride, padding, bias)
    let cases: [(usize, usize, [usize; 3], [usize; 3], [usize; 3], bool); 5] = [
        (3, 5, [1, 7, 7], [1, 2, 2], [0, 3, 3], false),
        (4, 6, [1, 3, 3], [1, 1, 1], [0, 1, 1], true),
        (5, 4, [3, 1, 1], [2, 1, 1], [1, 0, 0], false),
        (6, 3, [3, 1, 1], [1, 1, 1], [1, 0, 0], true),
        (4, 6, [1, 1, 1], [2, 2, 2], [0, 0, 0], false),
    ];
    for (ci, co, kernel, stride, padding, bias) in cases {
        let what = format!("conv3d {ci}->{co} kernel {kernel:?} stride {stride:?}");
        let mut layer = Conv3dConfig::new([ci, co], kernel)
            .with_stride(stride)
            .with_padding(PaddingConfig3d::Explicit(padding[0], padding[1], padding[2]))
            .with_bias(bias)
            .init(&device);
        layer.weight = tracked(layer.weight.val());
        layer.bias = layer.bias.map(|b| Param::from_tensor(b.val().detach().require_grad()));
        let x = Tensor::<5>::random([2, ci, 5, 9, 8], Distribution::Normal(0.0, 1.0), &device);
        let r = Tensor::<5>::random(layer.forward(x.clone()).dims(), Distribution::Normal(0.0, 1.0), &device);
        let mut abs = layer.clone();
        abs.weight = tracked(layer.weight.val().abs());
        abs.bias = layer.bias.as_ref().map(|b| Param::from_tensor(b.val().abs().detach().require_grad()));
        let magnitude = run(&abs, &x.clone().abs(), &r.clone().abs(), false);
        let (ours, theirs) = (run(&layer, &x, &r, true), run(&layer, &x, &r, false));
        assert_eq!(ours.len(), theirs.len(), "{what}");
        for (i, name) in ["output", "input gradient", "weight gradient", "bias gradient"].iter().enumerate().take(ours.len()) {
            close_to(&ours[i], &theirs[i], &magnitude[i], &format!("{what}: {name}"));
        }
    }
}

/// Windows of ResNet's stem, 2 x 2, TAL-trans's frequency-only pool, and a window wider than
/// its stride on an odd plane.
const WINDOWS: [Window; 4] = [
    Window { kernel: [3, 3], stride: [2, 2], padding: [1, 1] },
    Window { kernel: [2, 2], stride: [2, 2], padding: [0, 0] },
    Window { kernel: [1, 2], stride: [1, 2], padding: [0, 0] },
    Window { kernel: [3, 2], stride: [1, 2], padding: [1, 0] },
];

fn burn_pool(x: Tensor<4>, win: Window) -> Tensor<4> {
    let [ph, pw] = win.padding;
    MaxPool2dConfig::new(win.kernel).with_strides(win.stride).with_padding(PaddingConfig2d::Explicit(ph, pw, ph, pw)).init().forward(x)
}

/// Values from a handful of levels: windows often hold several equal maxima.
fn tied(shape: [usize; 4], device: &Device) -> Tensor<4> {
    let n = shape.iter().product::<usize>();
    let v: Vec<f32> = (0..n).map(|i| ((i * 7919 + i / 3) % 5) as f32 - 2.0).collect();
    Tensor::<4>::from_data(TensorData::new(v, shape), device)
}

#[test]
fn the_own_max_pool_picks_burns_winners_with_ties_and_nan() {
    let plain = Device::flex();
    let ad = plain.clone().autodiff();
    for win in WINDOWS {
        let x = tied([2, 3, 9, 8], &plain);
        assert_eq!(values(max_pool2d(x.clone(), win)), values(burn_pool(x.clone(), win)), "{win:?}");
        // The gradient goes to the same winner (ties: the first), adding where windows overlap.
        let xa = tied([2, 3, 9, 8], &ad).require_grad();
        let r = Tensor::<4>::random(burn_pool(xa.clone(), win).dims(), Distribution::Normal(0.0, 1.0), &ad);
        let (go, gt) = ((max_pool2d(xa.clone(), win) * r.clone()).sum().backward(), (burn_pool(xa.clone(), win) * r).sum().backward());
        close(&values(xa.grad(&go).expect("dx")), &values(xa.grad(&gt).expect("dx")), &format!("pool gradient {win:?}"));
    }
    // A NaN wins its windows, as in burn and PyTorch.
    let mut v = vec![1.0f32; 16];
    v[5] = f32::NAN;
    let x = Tensor::<4>::from_data(TensorData::new(v, [1, 1, 4, 4]), &plain);
    let y = values(max_pool2d(x, WINDOWS[1]));
    assert!(y[0].is_nan() && y[1..].iter().all(|&v| v == 1.0), "{y:?}");
    // The 1-D pool of the audio net.
    let x = Tensor::<3>::random([2, 4, 37], Distribution::Normal(0.0, 1.0), &plain);
    let ours = values(max_pool1d(x.clone(), 2, 2));
    let [b, c, l] = x.dims();
    let theirs = values(burn_pool(x.reshape([b, c, 1, l]), Window { kernel: [1, 2], stride: [1, 2], padding: [0, 0] }));
    assert_eq!(ours, theirs);
}

#[test]
fn the_own_batch_norm_computes_burns_values_and_gradients_bit_for_bit() {
    use burn::nn::BatchNormConfig;
    use mcgurk::models::cpu_norm::batch_norm;
    let device = Device::flex().autodiff();
    let mut norm = BatchNormConfig::new(3).init(&device);
    // Running statistics and affine parameters away from their defaults, as after training.
    let set = |v: Vec<f32>| Tensor::<1>::from_data(TensorData::new(v, [3]), &device);
    norm.running_mean = burn::module::RunningState::new(set(vec![0.3, -1.2, 0.01]));
    norm.running_var = burn::module::RunningState::new(set(vec![0.7, 2.5, 0.013]));
    norm.gamma = Param::from_tensor(set(vec![1.3, -0.4, 0.9]));
    norm.beta = Param::from_tensor(set(vec![-0.2, 0.5, 0.05]));
    let norm = norm.valid();
    let norm = norm.fork(&device).no_grad();
    for then_relu in [false, true] {
        let x = Tensor::<4>::random([2, 3, 5, 7], Distribution::Normal(0.0, 2.0), &device).require_grad();
        let r = Tensor::<4>::random([2, 3, 5, 7], Distribution::Normal(0.0, 1.0), &device);
        let ours = batch_norm(&norm, x.clone(), then_relu);
        let theirs = norm.forward(x.clone());
        let theirs = if then_relu { burn::tensor::activation::relu(theirs) } else { theirs };
        assert_eq!(values(ours.clone()), values(theirs.clone()), "relu {then_relu}");
        let (go, gt) = ((ours * r.clone()).sum().backward(), (theirs * r).sum().backward());
        assert_eq!(values(x.grad(&go).expect("dx")), values(x.grad(&gt).expect("dx")), "gradient, relu {then_relu}");
    }
}

