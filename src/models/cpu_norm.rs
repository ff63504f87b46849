//! BatchNorm in inference mode, with the ReLU after it when there is one, on the CPU backend
//! (Flex) through `mcgurk_cpu_kernels::batch_norm`: one pass forward and one backward instead
//! of burn's five element-wise operations each way (sub, div, mul, add, ReLU), with the same
//! float operations in the same order, so results are burn's bit for bit. Training (batch
//! statistics), trained gamma or beta, and other backends run burn's own.

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::Flex;
use burn::nn::BatchNorm;
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::{DType, TensorData};
use mcgurk_cpu_kernels::batch_norm::{Channels, backward, forward};

use super::flex_input::{AdTensor, FlexInput};

/// `norm` applied to `x` [B, C, ...], then ReLU when `then_relu`.
pub fn batch_norm<const D: usize>(norm: &BatchNorm, x: Tensor<D>, then_relu: bool) -> Tensor<D> {
    if let Some(y) = own(norm, x.clone(), then_relu) {
        return y;
    }
    let y = norm.forward(x);
    if then_relu { relu(y) } else { y }
}

fn own<const D: usize>(norm: &BatchNorm, x: Tensor<D>, then_relu: bool) -> Option<Tensor<D>> {
    let (gamma, beta) = (norm.gamma.val(), norm.beta.val());
    let training = x.device().is_autodiff() && norm.training.is_enabled();
    if training || gamma.is_require_grad() || beta.is_require_grad() || D < 2 {
        return None;
    }
    // The backend first: the parameters are read to the host only for the CPU kernel.
    let input = FlexInput::of(x)?;
    let values = |t: Tensor<1>| t.try_to_vec_as::<f32>().ok();
    let eps = norm.epsilon as f32;
    let var = values(norm.running_var.value())?;
    let ch = Channels {
        mean: values(norm.running_mean.value())?,
        std: var.iter().map(|v| (v + eps).sqrt()).collect(),
        gamma: values(gamma)?,
        beta: values(beta)?,
    };
    let c = ch.mean.len();
    if [ch.std.len(), ch.gamma.len(), ch.beta.len()] != [c; 3] {
        // Mismatched parameters: burn's own BatchNorm says what is wrong.
        return None;
    }
    input.apply(|t| tracked(t, &ch, then_relu), |t| run(t, &ch, then_relu))
}

fn run(x: &FlexTensor, ch: &Channels, then_relu: bool) -> Option<FlexTensor> {
    let dims = x.layout().shape().to_vec();
    let c = *dims.get(1)?;
    let plane: usize = dims[2..].iter().product();
    if x.dtype() != DType::F32 || c != ch.mean.len() || c * plane == 0 {
        return None;
    }
    let x = x.to_contiguous();
    Some(FlexTensor::from_data(TensorData::new(forward(x.storage(), c, plane, ch, then_relu), dims)))
}

/// What the backward pass needs: the output (for the ReLU's mask), gamma and std.
#[derive(Debug)]
struct Plan {
    relu_out: Option<FlexTensor>,
    gamma: Vec<f32>,
    std: Vec<f32>,
}

#[derive(Debug)]
struct NormBackward;

impl Backward<Flex, 1> for NormBackward {
    type State = Arc<Plan>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [parent] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let Some(node) = parent else { return };
        let plan = ops.state;
        let dims = grad.layout().shape().to_vec();
        let (c, plane) = (dims[1], dims[2..].iter().product());
        let grad = grad.to_contiguous();
        let out = plan.relu_out.as_ref().map(FlexTensor::to_contiguous);
        let dx = backward(grad.storage(), out.as_ref().map(|y| y.storage()), c, plane, &plan.gamma, &plan.std);
        grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(dx, dims)));
    }
}

fn tracked(x: AdTensor, ch: &Channels, then_relu: bool) -> Option<AdTensor> {
    let (primitive, node) = x.into_parts();
    let y = run(&primitive, &ch, then_relu)?;
    Some(match NormBackward.prepare::<NoCheckpointing>([node]).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let plan = Plan { relu_out: then_relu.then(|| y.clone()), gamma: ch.gamma.clone(), std: ch.std.clone() };
            prep.finish(Arc::new(plan), y)
        }
        OpsKind::UnTracked(prep) => prep.finish(y),
    })
}
