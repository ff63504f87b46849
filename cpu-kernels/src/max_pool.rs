//! Max pooling of NCHW f32 planes: forward (values and each output's winner) and backward
//! (each output's gradient added at its winner). Semantics of burn's and PyTorch's pool: the
//! first maximum of a window wins, a NaN wins over any number (the last NaN of the window);
//! padding never wins.

use rayon::prelude::*;

/// Kernel, stride and symmetric padding per spatial axis (rows, columns).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
}

impl Window {
    /// Whether this window pools a `h` x `w` plane: a non-empty kernel and stride, padding
    /// smaller than the kernel, the padded plane at least one kernel.
    pub fn fits(&self, h: usize, w: usize) -> bool {
        let [kh, kw] = self.kernel;
        let [ph, pw] = self.padding;
        kh * kw > 0 && self.stride[0] * self.stride[1] > 0 && ph < kh && pw < kw && h + 2 * ph >= kh && w + 2 * pw >= kw
    }

    /// Output rows and columns for a `h` x `w` plane (floor mode); the window must fit.
    pub fn out(&self, h: usize, w: usize) -> [usize; 2] {
        let o = |i: usize, a: usize| (a + 2 * self.padding[i] - self.kernel[i]) / self.stride[i] + 1;
        [o(0, h), o(1, w)]
    }
}

/// No element of the window seen yet (never a real index: planes are smaller than this).
const UNSET: u32 = u32::MAX;

/// Pools `planes` planes of `h` x `w` (contiguous in `x`): the outputs and, per output, the
/// index of its winner in its plane. The window must fit and `h * w` fit in a `u32`.
pub fn forward(x: &[f32], planes: usize, [h, w]: [usize; 2], window: Window) -> (Vec<f32>, Vec<u32>) {
    assert!(window.fits(h, w) && x.len() == planes * h * w && h * w < UNSET as usize, "max pool: bad shapes");
    let [oh, ow] = window.out(h, w);
    let Window { kernel: [kh, kw], stride: [sh, sw], padding: [ph, pw] } = window;
    let (plane, out_plane) = (h * w, oh * ow);
    let mut out = vec![0f32; planes * out_plane];
    let mut winner = vec![0u32; planes * out_plane];
    out.par_chunks_mut(out_plane).zip(winner.par_chunks_mut(out_plane)).enumerate().for_each(|(i, (out, winner))| {
        let src = &x[i * plane..(i + 1) * plane];
        winner.fill(UNSET);
        out.fill(f32::NEG_INFINITY);
        for y in 0..oh {
            let (best, at) = (&mut out[y * ow..(y + 1) * ow], &mut winner[y * ow..(y + 1) * ow]);
            // Window rows and columns in the order of a window's own scan (row by row, left
            // to right), each over the whole output row: the outputs' running maxima are
            // independent, so the loop pipelines (one window at a time waits on each compare).
            for ky in 0..kh {
                let r = (y * sh + ky).wrapping_sub(ph);
                if r >= h {
                    continue;
                }
                let row = &src[r * w..(r + 1) * w];
                for kx in 0..kw {
                    let first = pw.saturating_sub(kx).div_ceil(sw).min(ow);
                    let end = if w + pw > kx { ((w + pw - kx - 1) / sw + 1).min(ow) } else { 0 }.max(first);
                    for ox in first..end {
                        let c = ox * sw + kx - pw;
                        let v = row[c];
                        let take = at[ox] == UNSET || v > best[ox] || v.is_nan();
                        best[ox] = if take { v } else { best[ox] };
                        at[ox] = if take { (r * w + c) as u32 } else { at[ox] };
                    }
                }
            }
        }
    });
    (out, winner)
}

/// The input gradient, `planes` planes of `h` x `w`, from the outputs' gradient `grad` and
/// their winners (as [`forward`] gave them).
pub fn backward(grad: &[f32], winner: &[u32], planes: usize, [h, w]: [usize; 2]) -> Vec<f32> {
    assert!(grad.len() == winner.len() && planes > 0 && grad.len() % planes == 0, "max pool backward: bad shapes");
    let out_plane = grad.len() / planes;
    let mut dx = vec![0f32; planes * h * w];
    dx.par_chunks_mut(h * w).enumerate().for_each(|(i, dx)| {
        let span = i * out_plane..(i + 1) * out_plane;
        for (&at, &g) in winner[span.clone()].iter().zip(&grad[span]) {
            dx[at as usize] += g;
        }
    });
    dx
}
