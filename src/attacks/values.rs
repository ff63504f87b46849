//! The values an attack run moves, one modality of a batch as [batch, n] rows: host vectors for
//! a model on the CPU, tensors in burn's GPU buffers for a model on the shared GPU, where a
//! step (forward, backward, direction, update, projection) then never leaves the GPU.

use burn::prelude::*;
use burn::tensor::TensorData;

use super::frames::FrameRows;
use super::vector::{self, Vector};
use super::{Norm, Oracle};

pub(super) trait Values: Clone {
    /// Host values as `Self` on `device` (the model's device, without autodiff).
    fn load(v: Vec<f32>, device: &Device) -> Self;
    fn into_host(self) -> Vec<f32>;
    /// The input gradients of the audio and the picture at (`wave`, `pixels`).
    fn gradients(oracle: &Oracle, wave: &Self, pixels: &Self) -> (Self, Self);
    /// Each row (of `row` values) as a direction: `mode` 0 sign, 1 L1-, 2 L2-normalised.
    fn direction(&self, vector: &Vector, row: usize, mode: u8) -> Self;
    /// Each row projected onto the `norm` ball of radius `eps` around the same row of `clean`,
    /// clipped to `range`.
    fn project(self, vector: &Vector, clean: &Self, row: usize, eps: f32, norm: Norm, range: (f32, f32)) -> Self;
    /// `self + a * d`.
    fn plus(self, a: f32, d: &Self) -> Self;
    /// `mu * self + g` (MIM's momentum).
    fn momentum(self, mu: f32, g: &Self) -> Self;
    /// The picture's values frame-major (`to_frames`) or back in the models' layout.
    fn frames(self, rows: FrameRows, to_frames: bool) -> Self;
}

impl Values for Vec<f32> {
    fn load(v: Vec<f32>, _: &Device) -> Self {
        v
    }

    fn into_host(self) -> Vec<f32> {
        self
    }

    fn gradients(oracle: &Oracle, wave: &Self, pixels: &Self) -> (Self, Self) {
        let e = oracle.eval(wave, pixels, true);
        (e.ga, e.gv)
    }

    fn direction(&self, _: &Vector, row: usize, mode: u8) -> Self {
        vector::direction(self, row, mode)
    }

    fn project(mut self, _: &Vector, clean: &Self, row: usize, eps: f32, norm: Norm, range: (f32, f32)) -> Self {
        vector::project(&mut self, clean, row, eps, norm, range);
        self
    }

    fn plus(mut self, a: f32, d: &Self) -> Self {
        self.iter_mut().zip(d).for_each(|(x, d)| *x += a * d);
        self
    }

    fn momentum(mut self, mu: f32, g: &Self) -> Self {
        self.iter_mut().zip(g).for_each(|(m, g)| *m = mu * *m + g);
        self
    }

    fn frames(self, rows: FrameRows, to_frames: bool) -> Self {
        if to_frames { rows.to_frame_major(&self) } else { rows.from_frame_major(&self) }
    }
}

impl Values for Tensor<2> {
    fn load(v: Vec<f32>, device: &Device) -> Self {
        let n = v.len();
        Tensor::from_data(TensorData::new(v, [1, n]), device)
    }

    fn into_host(self) -> Vec<f32> {
        self.try_to_vec_as::<f32>().expect("f32")
    }

    fn gradients(oracle: &Oracle, wave: &Self, pixels: &Self) -> (Self, Self) {
        oracle.device_gradients(wave, pixels)
    }

    fn direction(&self, vector: &Vector, row: usize, mode: u8) -> Self {
        vector.direction_of(self, row, mode)
    }

    fn project(self, vector: &Vector, clean: &Self, row: usize, eps: f32, norm: Norm, range: (f32, f32)) -> Self {
        vector.project_of(self, clean, row, eps, norm, range)
    }

    fn plus(self, a: f32, d: &Self) -> Self {
        self + d.clone() * a
    }

    fn momentum(self, mu: f32, g: &Self) -> Self {
        self * mu + g.clone()
    }

    fn frames(self, rows: FrameRows, to_frames: bool) -> Self {
        let [a, b] = self.dims();
        let n = a * b;
        let (t, p) = (rows.frames, rows.plane);
        let batch = n / (3 * t * p).max(1);
        let split = if to_frames { [batch, 3, t, p] } else { [batch, t, 3, p] };
        self.reshape(split).swap_dims(1, 2).reshape([a, b])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tensors' frame-major reordering is the host one (burn's view ops, on any device).
    #[test]
    fn tensor_frames_match_the_host_reordering() {
        let rows = FrameRows { frames: 3, plane: 4 };
        let host: Vec<f32> = (0..2 * 3 * 3 * 4).map(|i| i as f32).collect();
        let device = Device::flex();
        let t = <Tensor<2> as Values>::load(host.clone(), &device);
        let there = t.frames(rows, true);
        assert_eq!(there.clone().into_host(), rows.to_frame_major(&host));
        assert_eq!(there.frames(rows, false).into_host(), host);
    }
}
