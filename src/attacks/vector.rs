//! The attack's per-step vector work on [batch, n] rows: the gradient's direction (sign, L2 or
//! L1 normalised) and the projection onto the eps ball around the clean input plus range
//! clipping. On the shared GPU it runs in the WGSL kernels (`shaders/normalise.wgsl`,
//! `shaders/project.wgsl`); elsewhere, and if a kernel call fails, in their CPU references.

use burn::prelude::Device;

use super::{Norm, lp};
use crate::kernels::{self, Kernels};

pub enum Vector {
    Cpu,
    Gpu(&'static Kernels),
}

impl Vector {
    pub fn for_device(device: &Device) -> Self {
        kernels::for_device(device).map_or(Self::Cpu, Self::Gpu)
    }

    /// Each row of `g` (rows of `n`) as a direction: `mode` 0 sign, 1 L1-, 2 L2-normalised.
    pub fn direction(&self, g: &[f32], n: usize, mode: u8) -> Vec<f32> {
        if let Self::Gpu(k) = self {
            // The kernel numbers its modes 0 sign, 1 L2, 2 L1.
            let kernel_mode = match mode {
                0 => 0,
                2 => 1,
                _ => 2,
            };
            if let Ok(v) = k.normalise(g, n, kernel_mode) {
                return v;
            }
        }
        g.chunks(n.max(1)).flat_map(|row| if mode == 0 { lp::sign(row) } else { lp::normalise(row, mode) }).collect()
    }

    /// Projects each row of `x` onto the `norm` ball of radius `eps` around `clean`, clipped to
    /// `range`.
    pub fn project(&self, x: &mut Vec<f32>, clean: &[f32], n: usize, eps: f32, norm: Norm, (lo, hi): (f32, f32)) {
        if let Self::Gpu(k) = self
            && let Ok(v) = k.project(x, clean, n, eps, lo, hi, norm == Norm::L2)
        {
            *x = v;
            return;
        }
        for (row, c) in x.chunks_mut(n.max(1)).zip(clean.chunks(n.max(1))) {
            match norm {
                Norm::Linf => lp::project_linf(row, c, eps, lo, hi),
                Norm::L2 => lp::project_l2(row, c, eps, lo, hi),
            }
        }
    }
}
