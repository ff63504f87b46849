//! The attack's per-step vector work on [batch, n] rows: the gradient's direction (sign, L2 or
//! L1 normalised) and the projection onto the eps ball around the clean input plus range
//! clipping. On the shared GPU it runs in the WGSL kernels (`shaders/normalise.wgsl`,
//! `shaders/project.wgsl`); elsewhere in their CPU references. A kernel call that fails falls
//! back to the reference for that call, and the attack's result says so ([`VectorPath`]).

use std::sync::Mutex;

use burn::prelude::Device;
use serde::{Deserialize, Serialize};

use super::{Norm, lp};
use crate::kernels::{self, Kernels};

/// Where an attack's per-step vector work ran.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VectorPath {
    /// The CPU references (the model is not on the shared GPU).
    Cpu,
    /// Every call in the WGSL kernels.
    Gpu,
    /// On the shared GPU, but a kernel call failed (the first error) and its step ran on the CPU.
    GpuFellBack(String),
}

pub enum Vector {
    Cpu,
    Gpu { kernels: &'static Kernels, failed: Mutex<Option<String>> },
}

impl Vector {
    pub fn for_device(device: &Device) -> Self {
        kernels::for_device(device).map_or(Self::Cpu, |kernels| Self::Gpu { kernels, failed: Mutex::new(None) })
    }

    pub fn path(&self) -> VectorPath {
        match self {
            Self::Cpu => VectorPath::Cpu,
            Self::Gpu { failed, .. } => match failed.lock().ok().and_then(|f| f.clone()) {
                Some(e) => VectorPath::GpuFellBack(e),
                None => VectorPath::Gpu,
            },
        }
    }

    fn record(&self, error: impl std::fmt::Display) {
        if let Self::Gpu { failed, .. } = self
            && let Ok(mut f) = failed.lock()
            && f.is_none()
        {
            eprintln!("mcgurk: a GPU attack kernel failed, that step ran on the CPU: {error}");
            *f = Some(error.to_string());
        }
    }

    /// Each row of `g` (rows of `n`) as a direction: `mode` 0 sign, 1 L1-, 2 L2-normalised.
    pub fn direction(&self, g: &[f32], n: usize, mode: u8) -> Vec<f32> {
        if let Self::Gpu { kernels, .. } = self {
            // The kernel numbers its modes 0 sign, 1 L2, 2 L1.
            let kernel_mode = match mode {
                0 => 0,
                2 => 1,
                _ => 2,
            };
            match kernels.normalise(g, n, kernel_mode) {
                Ok(v) => return v,
                Err(e) => self.record(e),
            }
        }
        g.chunks(n.max(1)).flat_map(|row| if mode == 0 { lp::sign(row) } else { lp::normalise(row, mode) }).collect()
    }

    /// Projects each row of `x` onto the `norm` ball of radius `eps` around `clean`, clipped to
    /// `range`.
    pub fn project(&self, x: &mut Vec<f32>, clean: &[f32], n: usize, eps: f32, norm: Norm, (lo, hi): (f32, f32)) {
        if let Self::Gpu { kernels, .. } = self {
            match kernels.project(x, clean, n, eps, lo, hi, norm == Norm::L2) {
                Ok(v) => {
                    *x = v;
                    return;
                }
                Err(e) => self.record(e),
            }
        }
        for (row, c) in x.chunks_mut(n.max(1)).zip(clean.chunks(n.max(1))) {
            match norm {
                Norm::Linf => lp::project_linf(row, c, eps, lo, hi),
                Norm::L2 => lp::project_l2(row, c, eps, lo, hi),
            }
        }
    }
}
