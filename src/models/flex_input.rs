//! A tensor on the CPU backend as the own kernels (`cpu_conv`, `cpu_norm`, `max_pool`) take it:
//! on Flex's autodiff twin (recorded with a backward step of their own) or on plain Flex.
//! Tensors on other backends (wgpu) are none of these: burn's own operations run there.

use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, BackendTypes, Flex};
use burn::prelude::*;

pub type AdTensor = <Autodiff<Flex> as BackendTypes>::FloatTensorPrimitive;

pub enum FlexInput {
    Tracked(AdTensor),
    Plain(FlexTensor),
}

impl FlexInput {
    /// `x`'s primitive, or `None` on another backend.
    pub fn of<const D: usize>(x: Tensor<D>) -> Option<Self> {
        match x.clone().try_into_primitive::<Autodiff<Flex>>() {
            Ok(t) => Some(Self::Tracked(t)),
            Err(_) => x.try_into_primitive::<Flex>().ok().map(Self::Plain),
        }
    }

    /// As an untracked autodiff tensor (a weight without gradients lives off the graph even
    /// on an autodiff device).
    pub fn into_tracked(self) -> AdTensor {
        match self {
            Self::Tracked(t) => t,
            Self::Plain(t) => AdTensor::new(t),
        }
    }

    /// The op's output: `tracked` on the autodiff twin, `plain` on Flex; `None` where the
    /// kernel does not apply.
    pub fn apply<const D: usize>(
        self,
        tracked: impl FnOnce(AdTensor) -> Option<AdTensor>,
        plain: impl FnOnce(&FlexTensor) -> Option<FlexTensor>,
    ) -> Option<Tensor<D>> {
        match self {
            Self::Tracked(t) => tracked(t).map(Tensor::from_primitive::<Autodiff<Flex>>),
            Self::Plain(t) => plain(&t).map(Tensor::from_primitive::<Flex>),
        }
    }
}
