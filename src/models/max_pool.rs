//! Max pooling on the CPU backend (Flex), forward and backward each one pass over the data.
//! burn-flex's own max pool took 3.5 ms forward and 12 ms backward for ResNet-18's first
//! pool at 224 (64 x 112 x 112, batch 1), and 8.5 ms forward and backward for the audio net's
//! first pool, while the whole attack step took about 60 ms. Results equal burn's: the first maximum of a window wins, a NaN wins over any number (the
//! last NaN), the gradient goes to the winner; on other backends burn's own pool runs.

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::Flex;
use burn::nn::pool::MaxPool2dConfig;
use burn::nn::PaddingConfig2d;
use burn::prelude::*;
use burn::tensor::{DType, TensorData};
use mcgurk_cpu_kernels::max_pool as kernel;
pub use mcgurk_cpu_kernels::max_pool::Window;

use super::flex_input::{AdTensor, FlexInput};

/// Max pool of `x` [B, C, H, W].
pub fn max_pool2d(x: Tensor<4>, window: Window) -> Tensor<4> {
    let own = FlexInput::of(x.clone()).and_then(|input| input.apply(|t| tracked(t, window), |t| forward(t, window).map(|(y, _)| y)));
    if let Some(y) = own {
        return y;
    }
    let [ph, pw] = window.padding;
    MaxPool2dConfig::new(window.kernel)
        .with_strides(window.stride)
        .with_padding(PaddingConfig2d::Explicit(ph, pw, ph, pw))
        .init()
        .forward(x)
}

/// Max pool of `x` [B, C, L] over windows of `kernel` samples every `stride`, no padding.
pub fn max_pool1d(x: Tensor<3>, kernel: usize, stride: usize) -> Tensor<3> {
    let [b, c, l] = x.dims();
    let y = max_pool2d(x.reshape([b, c, 1, l]), Window { kernel: [1, kernel], stride: [1, stride], padding: [0, 0] });
    let out = y.dims()[3];
    y.reshape([b, c, out])
}

/// The output and, per output, the winner's index in its input plane; `None` for what the
/// kernel does not handle (other element types, a window that does not fit).
fn forward(x: &FlexTensor, window: Window) -> Option<(FlexTensor, Arc<Plan>)> {
    let [n, c, h, w] = x.layout().shape().dims::<4>();
    if x.dtype() != DType::F32 || !window.fits(h, w) || n * c * h * w == 0 || h * w >= u32::MAX as usize {
        return None;
    }
    let x = x.to_contiguous();
    let (out, winner) = kernel::forward(x.storage(), n * c, [h, w], window);
    let [oh, ow] = window.out(h, w);
    let y = FlexTensor::from_data(TensorData::new(out, [n, c, oh, ow]));
    Some((y, Arc::new(Plan { input: [n, c, h, w], winner })))
}

/// What the backward pass needs: the input's shape and each output's winner.
#[derive(Debug)]
struct Plan {
    input: [usize; 4],
    winner: Vec<u32>,
}

impl Plan {
    fn backward(&self, grad: &FlexTensor) -> FlexTensor {
        let [n, c, h, w] = self.input;
        let grad = grad.to_contiguous();
        let dx = kernel::backward(grad.storage(), &self.winner, n * c, [h, w]);
        FlexTensor::from_data(TensorData::new(dx, [n, c, h, w]))
    }
}

#[derive(Debug)]
struct MaxPoolBackward;

impl Backward<Flex, 1> for MaxPoolBackward {
    type State = Arc<Plan>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [parent] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        if let Some(node) = parent {
            grads.register::<Flex>(node.id, ops.state.backward(&grad));
        }
    }
}

/// The pool on the autodiff twin of Flex, recorded with its own backward step.
fn tracked(x: AdTensor, window: Window) -> Option<AdTensor> {
    let (primitive, node) = x.into_parts();
    let (y, plan) = forward(&primitive, window)?;
    Some(match MaxPoolBackward.prepare::<NoCheckpointing>([node]).compute_bound().stateful() {
        OpsKind::Tracked(prep) => prep.finish(plan, y),
        OpsKind::UnTracked(prep) => prep.finish(y),
    })
}
