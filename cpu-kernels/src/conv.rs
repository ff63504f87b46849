//! 2-D convolution (groups 1, dilation 1) of NCHW f32 data: im2col in the input's own channel
//! order, so the weight [Cout, Cin, kh, kw] is the gemm's left operand as stored (no per-call
//! reordering of the weight, which for a 512 x 512 x 3 x 3 layer cost more than its gemm), the
//! column buffer reused per thread (fresh buffers page-fault on every call), and the gemm
//! writing the NCHW output in place.

use std::cell::RefCell;

use rayon::prelude::*;

/// Stride and symmetric padding per spatial axis (rows, columns).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub stride: [usize; 2],
    pub padding: [usize; 2],
}

impl Geometry {
    /// Output rows and columns for an `h` x `w` input and a `kh` x `kw` kernel; `None` when the
    /// kernel does not fit the padded input or a stride is 0.
    pub fn out(&self, [h, w]: [usize; 2], [kh, kw]: [usize; 2]) -> Option<[usize; 2]> {
        let o = |a: usize, k: usize, s: usize, p: usize| (s > 0 && k > 0 && a + 2 * p >= k).then(|| (a + 2 * p - k) / s + 1);
        Some([o(h, kh, self.stride[0], self.padding[0])?, o(w, kw, self.stride[1], self.padding[1])?])
    }
}

thread_local! {
    static COLUMNS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on this thread's column buffer of `len` values. The buffer is taken out while in
/// use: waiting on the thread pool inside `f`, this thread may run another convolution, which
/// then works in a buffer of its own.
fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    let mut buf = COLUMNS.take();
    if buf.len() < len {
        buf.resize(len, 0.0);
    }
    let r = f(&mut buf[..len]);
    COLUMNS.with_borrow_mut(|kept| {
        if kept.len() < buf.len() {
            *kept = buf;
        }
    });
    r
}

/// `x` [n, ci, h, w] convolved with `weight` [co, ci, kh, kw] (plus `bias` [co]): [n, co, oh, ow].
/// Shapes must agree and the kernel fit ([`Geometry::out`]).
pub fn forward(x: &[f32], [n, ci, h, w]: [usize; 4], weight: &[f32], [co, wci, kh, kw]: [usize; 4], bias: Option<&[f32]>, geo: Geometry) -> Vec<f32> {
    let [oh, ow] = geo.out([h, w], [kh, kw]).expect("conv: kernel larger than the padded input");
    assert!(wci == ci && x.len() == n * ci * h * w && weight.len() == co * ci * kh * kw, "conv: bad shapes");
    assert!(bias.is_none_or(|b| b.len() == co), "conv: bad bias");
    let (k, cols) = (ci * kh * kw, oh * ow);
    let mut out = vec![0f32; n * co * cols];
    // A 1 x 1 kernel at stride 1 without padding reads the input as it is.
    let direct = kh == 1 && kw == 1 && geo.stride == [1, 1] && geo.padding == [0, 0];
    with_scratch(if direct { 0 } else { k * cols }, |scratch| {
        for b in 0..n {
            let xb = &x[b * ci * h * w..(b + 1) * ci * h * w];
            let rhs: &[f32] = if direct {
                xb
            } else {
                im2col(xb, [ci, h, w], [kh, kw], [oh, ow], geo, scratch);
                scratch
            };
            let dst = &mut out[b * co * cols..(b + 1) * co * cols];
            let parallelism = if co * cols * k >= 1 << 20 { gemm::Parallelism::Rayon(0) } else { gemm::Parallelism::None };
            // SAFETY: dst is [co, cols], weight [co, k], rhs [k, cols], all row-major and in bounds.
            unsafe {
                gemm::gemm(
                    co, cols, k,
                    dst.as_mut_ptr(), 1, cols as isize, false,
                    weight.as_ptr(), 1, k as isize,
                    rhs.as_ptr(), 1, cols as isize,
                    0.0, 1.0, false, false, false, parallelism,
                );
            }
            if let Some(bias) = bias {
                dst.par_chunks_mut(cols).zip(bias).for_each(|(row, &b)| row.iter_mut().for_each(|v| *v += b));
            }
        }
    });
    out
}

/// Rows (c, ky, kx), columns the output positions: `cols[(c*kh + ky)*kw + kx][oy*ow + ox]` =
/// x[c][oy*sh + ky - ph][ox*sw + kx - pw], 0 in the padding.
fn im2col(x: &[f32], [ci, h, w]: [usize; 3], [kh, kw]: [usize; 2], [oh, ow]: [usize; 2], geo: Geometry, cols: &mut [f32]) {
    let ([sh, sw], [ph, pw]) = (geo.stride, geo.padding);
    let _ = ci;
    cols.par_chunks_mut(oh * ow).enumerate().for_each(|(row, dst)| {
        let (c, ky, kx) = (row / (kh * kw), row / kw % kh, row % kw);
        let plane = &x[c * h * w..(c + 1) * h * w];
        // Output columns whose input column is inside the image: ox*sw + kx - pw in [0, w).
        let first = pw.saturating_sub(kx).div_ceil(sw).min(ow);
        let end = if w + pw > kx { ((w + pw - kx - 1) / sw + 1).min(ow) } else { 0 }.max(first);
        for oy in 0..oh {
            let out = &mut dst[oy * ow..(oy + 1) * ow];
            let iy = (oy * sh + ky).wrapping_sub(ph);
            if iy >= h {
                out.fill(0.0);
                continue;
            }
            let src = &plane[iy * w..(iy + 1) * w];
            out[..first].fill(0.0);
            out[end..].fill(0.0);
            if sw == 1 {
                let start = first + kx - pw;
                out[first..end].copy_from_slice(&src[start..start + (end - first)]);
            } else {
                for (ox, v) in (first..end).zip(&mut out[first..end]) {
                    *v = src[ox * sw + kx - pw];
                }
            }
        }
    });
}

/// The input's gradient [n, ci, h, w] of [`forward`] from the output's gradient `grad`
/// [n, co, oh, ow]: columns = weightᵀ · grad (one gemm reading the weight as stored), then
/// each column added back where im2col took it from.
pub fn backward_input(grad: &[f32], [n, co, oh, ow]: [usize; 4], weight: &[f32], [wco, ci, kh, kw]: [usize; 4], [h, w]: [usize; 2], geo: Geometry) -> Vec<f32> {
    assert!(geo.out([h, w], [kh, kw]) == Some([oh, ow]), "conv backward: output shape does not match the input's");
    assert!(wco == co && grad.len() == n * co * oh * ow && weight.len() == co * ci * kh * kw, "conv backward: bad shapes");
    let (k, cols) = (ci * kh * kw, oh * ow);
    let mut dx = vec![0f32; n * ci * h * w];
    with_scratch(k * cols, |columns| {
        for b in 0..n {
            let g = &grad[b * co * cols..(b + 1) * co * cols];
            let parallelism = if co * cols * k >= 1 << 20 { gemm::Parallelism::Rayon(0) } else { gemm::Parallelism::None };
            // SAFETY: columns is [k, cols]; weightᵀ is [k, co] (column stride k, row stride 1);
            // g is [co, cols]; all in bounds.
            unsafe {
                gemm::gemm(
                    k, cols, co,
                    columns.as_mut_ptr(), 1, cols as isize, false,
                    weight.as_ptr(), k as isize, 1,
                    g.as_ptr(), 1, cols as isize,
                    0.0, 1.0, false, false, false, parallelism,
                );
            }
            col2im(columns, [ci, h, w], [kh, kw], [oh, ow], geo, &mut dx[b * ci * h * w..(b + 1) * ci * h * w]);
        }
    });
    dx
}

/// Adds each column entry back at the input position [`im2col`] read it from (one channel's
/// rows per task: tasks never write the same plane).
fn col2im(cols: &[f32], [ci, h, w]: [usize; 3], [kh, kw]: [usize; 2], [oh, ow]: [usize; 2], geo: Geometry, dx: &mut [f32]) {
    let ([sh, sw], [ph, pw]) = (geo.stride, geo.padding);
    let _ = ci;
    dx.par_chunks_mut(h * w).enumerate().for_each(|(c, plane)| {
        for ky in 0..kh {
            for kx in 0..kw {
                let row = (c * kh + ky) * kw + kx;
                let src = &cols[row * oh * ow..(row + 1) * oh * ow];
                let first = pw.saturating_sub(kx).div_ceil(sw).min(ow);
                let end = if w + pw > kx { ((w + pw - kx - 1) / sw + 1).min(ow) } else { 0 }.max(first);
                for oy in 0..oh {
                    let iy = (oy * sh + ky).wrapping_sub(ph);
                    if iy >= h {
                        continue;
                    }
                    let dst = &mut plane[iy * w..(iy + 1) * w];
                    let src = &src[oy * ow..(oy + 1) * ow];
                    if sw == 1 {
                        let start = first + kx - pw;
                        for (d, s) in dst[start..start + (end - first)].iter_mut().zip(&src[first..end]) {
                            *d += s;
                        }
                    } else {
                        for ox in first..end {
                            dst[ox * sw + kx - pw] += src[ox];
                        }
                    }
                }
            }
        }
    });
}
