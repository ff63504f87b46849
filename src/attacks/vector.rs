//! Where the attack's per-step vector work runs: the gradient's direction (sign, L2 or L1
//! normalised) and the projection onto the eps ball around the clean input plus range clipping.
//! For a model on the shared GPU the values stay in burn's GPU buffers and the WGSL kernels
//! (`shaders/normalise.wgsl`, `shaders/project.wgsl`) run on them; elsewhere the CPU references
//! run on host vectors. A kernel call that fails falls back to the reference for that call (the
//! values make a trip through the host), and the attack's result says so ([`VectorPath`]).

use std::sync::Mutex;

use burn::prelude::*;
use burn::tensor::TensorData;
use serde::{Deserialize, Serialize};

use super::{Norm, lp};
use crate::kernels::{self, burn_buffers};

/// Where an attack's per-step vector work ran.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VectorPath {
    /// The CPU references (the model is not on the shared GPU).
    Cpu,
    /// Every call in the WGSL kernels, on burn's GPU buffers.
    Gpu,
    /// On the shared GPU, but a kernel call failed (the first error) and its step ran on the CPU.
    GpuFellBack(String),
}

pub enum Vector {
    Cpu,
    Gpu { failed: Mutex<Option<String>> },
}

impl Vector {
    pub fn for_device(device: &Device) -> Self {
        match kernels::for_device(device) {
            Some(_) => Self::Gpu { failed: Mutex::new(None) },
            None => Self::Cpu,
        }
    }

    pub fn on_gpu(&self) -> bool {
        matches!(self, Self::Gpu { .. })
    }

    pub fn path(&self) -> VectorPath {
        match self {
            Self::Cpu => VectorPath::Cpu,
            Self::Gpu { failed } => match failed.lock().ok().and_then(|f| f.clone()) {
                Some(e) => VectorPath::GpuFellBack(e),
                None => VectorPath::Gpu,
            },
        }
    }

    fn record(&self, error: impl std::fmt::Display) {
        if let Self::Gpu { failed } = self
            && let Ok(mut f) = failed.lock()
            && f.is_none()
        {
            eprintln!("mcgurk: a GPU attack kernel failed, that step ran on the CPU: {error}");
            *f = Some(error.to_string());
        }
    }

    /// [`direction`] of a GPU tensor, in the kernel.
    pub fn direction_of(&self, g: &Tensor<2>, n: usize, mode: u8) -> Tensor<2> {
        // The kernel numbers its modes 0 sign, 1 L2, 2 L1.
        let kernel_mode = match mode {
            0 => 0,
            2 => 1,
            _ => 2,
        };
        match burn_buffers::normalise(g.clone(), n, kernel_mode) {
            Ok(d) => d,
            Err(e) => {
                self.record(e);
                through_host(g, |v| direction(v, n, mode))
            }
        }
    }

    /// [`project`] of a GPU tensor, in the kernel.
    pub fn project_of(&self, x: Tensor<2>, clean: &Tensor<2>, n: usize, eps: f32, norm: Norm, (lo, hi): (f32, f32)) -> Tensor<2> {
        match burn_buffers::project(x.clone(), clean.clone(), n, eps, lo, hi, norm == Norm::L2) {
            Ok(p) => p,
            Err(e) => {
                self.record(e);
                let c = host(clean);
                through_host(&x, |v| {
                    let mut v = v.to_vec();
                    project(&mut v, &c, n, eps, norm, (lo, hi));
                    v
                })
            }
        }
    }
}

/// Each row of `g` (rows of `n`) as a direction: `mode` 0 sign, 1 L1-, 2 L2-normalised.
pub fn direction(g: &[f32], n: usize, mode: u8) -> Vec<f32> {
    g.chunks(n.max(1)).flat_map(|row| if mode == 0 { lp::sign(row) } else { lp::normalise(row, mode) }).collect()
}

/// Projects each row of `x` onto the `norm` ball of radius `eps` around `clean`, clipped to
/// `range`.
pub fn project(x: &mut [f32], clean: &[f32], n: usize, eps: f32, norm: Norm, (lo, hi): (f32, f32)) {
    for (row, c) in x.chunks_mut(n.max(1)).zip(clean.chunks(n.max(1))) {
        match norm {
            Norm::Linf => lp::project_linf(row, c, eps, lo, hi),
            Norm::L2 => lp::project_l2(row, c, eps, lo, hi),
        }
    }
}

fn host(t: &Tensor<2>) -> Vec<f32> {
    t.clone().try_to_vec_as::<f32>().unwrap_or_else(|e| panic!("reading GPU values back failed: {e:?}"))
}

/// `f` applied to `t`'s values on the host, back on `t`'s device (the kernels' fallback).
fn through_host(t: &Tensor<2>, f: impl FnOnce(&[f32]) -> Vec<f32>) -> Tensor<2> {
    Tensor::from_data(TensorData::new(f(&host(t)), t.dims()), &t.device())
}
