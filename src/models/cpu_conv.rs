//! Convolutions on the CPU backend (Flex) through McGurk's own forward kernel
//! (`mcgurk_cpu_kernels::conv`) and input-gradient kernel; the weight's gradient (training)
//! stays burn's (`conv2d_weight_backward`), all recorded as one autodiff step. burn-flex's forward reorders the
//! weight and the input on every call on one thread and turned out 1.5 to 3 times slower than
//! its own gemm at batch 1 (README). R(2+1)D's factored 3-D convolutions map onto the same 2-D
//! kernel. Other backends, groups, dilation and uneven padding run burn's own convolution.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::ModuleOps;
use burn::backend::Flex;
use burn::module::Param;
use burn::nn::conv::{Conv1d, Conv2d, Conv3d};
use burn::nn::{PaddingConfig1d, PaddingConfig2d, PaddingConfig3d};
use burn::prelude::*;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, TensorData};
use mcgurk_cpu_kernels::conv::{Geometry, backward_input, forward};

use super::flex_input::{AdTensor, FlexInput};

/// `layer` applied to `x` [B, Cin, H, W] (what `layer.forward(x)` computes).
pub fn conv2d(layer: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    // Explicit, even padding only (every model McGurk builds or imports); the rest is burn's.
    let geo = match layer.padding {
        PaddingConfig2d::Explicit(top, left, bottom, right) if top == bottom && left == right && layer.groups == 1 && layer.dilation == [1, 1] => {
            Some(Geometry { stride: layer.stride, padding: [top, left] })
        }
        _ => None,
    };
    match geo.and_then(|geo| convolve(x.clone(), layer.weight.val(), geo)) {
        Some(y) => with_bias(y, layer.bias.as_ref()),
        None => layer.forward(x),
    }
}

/// `layer` applied to `x` [B, Cin, L] (what `layer.forward(x)` computes).
pub fn conv1d(layer: &Conv1d, x: Tensor<3>) -> Tensor<3> {
    let [b, c, l] = x.dims();
    let geo = match layer.padding {
        PaddingConfig1d::Explicit(left, right) if left == right && layer.groups == 1 && layer.dilation == 1 => Some(Geometry { stride: [1, layer.stride], padding: [0, left] }),
        _ => None,
    };
    let y = geo.and_then(|geo| {
        let [co, ci, k] = layer.weight.dims();
        convolve(x.clone().reshape([b, c, 1, l]), layer.weight.val().reshape([co, ci, 1, k]), geo).map(|y| {
            let [_, _, _, ol] = y.dims();
            y.reshape([b, co, ol])
        })
    });
    match y {
        Some(y) => with_bias(y, layer.bias.as_ref()),
        None => layer.forward(x),
    }
}

/// `layer` applied to `x` [B, Cin, T, H, W] (what `layer.forward(x)` computes). A spatial
/// (1, kh, kw) convolution is a 2-D one over each frame (frames folded into the batch); a
/// temporal (kt, 1, 1) one a 2-D one over (time, one row of all positions). Other shapes (the
/// strided 1x1x1 shortcut) are burn's.
pub fn conv3d(layer: &Conv3d, x: Tensor<5>) -> Tensor<5> {
    let [co, ci, kt, kh, kw] = layer.weight.dims();
    let [b, c, t, h, w] = x.dims();
    let [st, sh, sw] = layer.stride;
    let plain = layer.groups == 1 && layer.dilation == [1, 1, 1];
    let y = match layer.padding {
        PaddingConfig3d::Explicit(0, ph, pw) if plain && kt == 1 && st == 1 => {
            let frames = x.clone().swap_dims(1, 2).reshape([b * t, c, h, w]);
            convolve(frames, layer.weight.val().reshape([co, ci, kh, kw]), Geometry { stride: [sh, sw], padding: [ph, pw] }).map(|y| {
                let [_, _, oh, ow] = y.dims();
                y.reshape([b, t, co, oh, ow]).swap_dims(1, 2)
            })
        }
        PaddingConfig3d::Explicit(pt, 0, 0) if plain && kh == 1 && kw == 1 && sh == 1 && sw == 1 => {
            let rows = x.clone().reshape([b, c, t, h * w]);
            convolve(rows, layer.weight.val().reshape([co, ci, kt, 1]), Geometry { stride: [st, 1], padding: [pt, 0] }).map(|y| {
                let [_, _, ot, _] = y.dims();
                y.reshape([b, co, ot, h, w])
            })
        }
        _ => None,
    };
    match y {
        Some(y) => with_bias(y, layer.bias.as_ref()),
        None => layer.forward(x),
    }
}

/// `y` [B, Cout, ...] plus a bias per output channel (added outside the kernel, so burn
/// records its gradient).
fn with_bias<const D: usize>(y: Tensor<D>, bias: Option<&Param<Tensor<1>>>) -> Tensor<D> {
    match bias {
        Some(b) => {
            let mut shape = [1; D];
            shape[1] = b.dims()[0];
            y + b.val().reshape(shape)
        }
        None => y,
    }
}

/// `x` convolved with `w` by the own kernel, or `None` where it does not apply (another
/// backend, another element type, a kernel larger than the padded input).
fn convolve(x: Tensor<4>, w: Tensor<4>, geo: Geometry) -> Option<Tensor<4>> {
    match (FlexInput::of(x)?, FlexInput::of(w)?) {
        (x @ FlexInput::Tracked(_), w) => x.apply(|x| tracked(x, w.into_tracked(), geo), |_| None),
        (x @ FlexInput::Plain(_), FlexInput::Plain(w)) => x.apply(|_| None, |x| run(x, &w, geo)),
        // A tracked weight beside an untracked input (not built by McGurk): burn's.
        (FlexInput::Plain(_), FlexInput::Tracked(_)) => None,
    }
}

fn run(x: &FlexTensor, w: &FlexTensor, geo: Geometry) -> Option<FlexTensor> {
    let xs = x.layout().shape().dims::<4>();
    let ws = w.layout().shape().dims::<4>();
    let [n, _, h, wd] = xs;
    let [oh, ow] = geo.out([h, wd], [ws[2], ws[3]])?;
    if x.dtype() != DType::F32 || w.dtype() != DType::F32 || xs[1] != ws[1] {
        return None;
    }
    let (x, w) = (x.to_contiguous(), w.to_contiguous());
    let y = forward(x.storage(), xs, w.storage(), ws, None, geo);
    Some(FlexTensor::from_data(TensorData::new(y, [n, ws[0], oh, ow])))
}

/// The input's gradient by the own kernel; the weight's (only when it is trained) by burn's.
#[derive(Debug)]
struct ConvBackward;

impl Backward<Flex, 2> for ConvBackward {
    type State = (FlexTensor, FlexTensor, Geometry);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_x, node_w] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let (x, w, geo) = ops.state;
        let options = ConvOptions::new(geo.stride, geo.padding, [1, 1], 1);
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, input_grad(&x, &w, &grad, geo));
        }
        if let Some(node) = node_w {
            grads.register::<Flex>(node.id, Flex::conv2d_weight_backward(x, w, grad, options));
        }
    }
}

fn input_grad(x: &FlexTensor, w: &FlexTensor, grad: &FlexTensor, geo: Geometry) -> FlexTensor {
    let xs = x.layout().shape().dims::<4>();
    let (w, grad) = (w.to_contiguous(), grad.to_contiguous());
    let gs = grad.layout().shape().dims::<4>();
    let dx = backward_input(grad.storage(), gs, w.storage(), w.layout().shape().dims::<4>(), [xs[2], xs[3]], geo);
    FlexTensor::from_data(TensorData::new(dx, xs))
}

fn tracked(x: AdTensor, w: AdTensor, geo: Geometry) -> Option<AdTensor> {
    let (xp, xn) = x.into_parts();
    let (wp, wn) = w.into_parts();
    let y = run(&xp, &wp, geo)?;
    Some(match ConvBackward.prepare::<NoCheckpointing>([xn, wn]).compute_bound().stateful() {
        OpsKind::Tracked(prep) => prep.finish((xp, wp, geo), y),
        OpsKind::UnTracked(prep) => prep.finish(y),
    })
}
