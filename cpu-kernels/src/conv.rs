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

/// At most this many column values per tile (16 MiB): larger convolutions are done a band of
/// output positions at a time, so the column buffer stays bounded whatever the input's size
/// (ResNet-18 at 224 px and the audio net at 65535 samples fit one tile).
const TILE_VALUES: usize = 1 << 22;

/// Output positions per tile for `k` column rows: at least one, at most `cols`.
fn tile_len(k: usize, cols: usize) -> usize {
    (TILE_VALUES / k.max(1)).clamp(1, cols.max(1))
}

fn parallelism(flops: usize) -> gemm::Parallelism {
    if flops >= 1 << 20 { gemm::Parallelism::Rayon(0) } else { gemm::Parallelism::None }
}

/// `x` [n, ci, h, w] convolved with `weight` [co, ci, kh, kw] (plus `bias` [co]): [n, co, oh, ow].
/// Shapes must agree and the kernel fit ([`Geometry::out`]).
pub fn forward(x: &[f32], [n, ci, h, w]: [usize; 4], weight: &[f32], [co, wci, kh, kw]: [usize; 4], bias: Option<&[f32]>, geo: Geometry) -> Vec<f32> {
    let [oh, ow] = geo.out([h, w], [kh, kw]).expect("conv: kernel larger than the padded input");
    assert!(wci == ci && x.len() == n * ci * h * w && weight.len() == co * ci * kh * kw, "conv: bad shapes");
    assert!(bias.is_none_or(|b| b.len() == co), "conv: bad bias");
    let (k, cols) = (ci * kh * kw, oh * ow);
    if k == 0 {
        return vec![0.0; n * co * cols];
    }
    // Not zeroed: the gemms below write every value (dst not read), and zeroing the output
    // first was a pass over it of its own.
    let mut out: Vec<f32> = Vec::with_capacity(n * co * cols);
    let base = out.spare_capacity_mut().as_mut_ptr().cast::<f32>();
    // A 1 x 1 kernel at stride 1 without padding reads the input as it is.
    let direct = kh == 1 && kw == 1 && geo.stride == [1, 1] && geo.padding == [0, 0];
    let tile = if direct { cols } else { tile_len(k, cols) };
    with_scratch(if direct { 0 } else { k * tile }, |scratch| {
        for b in 0..n {
            let xb = &x[b * ci * h * w..(b + 1) * ci * h * w];
            // SAFETY: batch item b's [co, cols] block of the allocation.
            let dst = unsafe { base.add(b * co * cols) };
            for start in (0..cols).step_by(tile.max(1)) {
                let span = start..(start + tile).min(cols);
                let len = span.len();
                let rhs: &[f32] = if direct {
                    xb
                } else {
                    im2col(xb, [h, w], [kh, kw], [oh, ow], geo, span.clone(), &mut scratch[..k * len]);
                    &scratch[..k * len]
                };
                let rhs_rs = if direct { cols } else { len };
                // SAFETY: dst[:, span] of [co, cols]; weight [co, k]; rhs [k, len] (row stride
                // rhs_rs); all row-major and in bounds.
                unsafe {
                    gemm::gemm(
                        co, len, k,
                        dst.add(span.start), 1, cols as isize, false,
                        weight.as_ptr(), 1, k as isize,
                        rhs.as_ptr(), 1, rhs_rs as isize,
                        0.0, 1.0, false, false, false, parallelism(co * len * k),
                    );
                }
            }
        }
    });
    // SAFETY: every batch item's every tile was written by its gemm.
    unsafe { out.set_len(n * co * cols) };
    if let Some(bias) = bias {
        out.par_chunks_mut(cols).enumerate().for_each(|(i, row)| row.iter_mut().for_each(|v| *v += bias[i % co]));
    }
    out
}

/// Output columns `ox` whose kernel column `kx` reads inside a row of `w`: ox*sw + kx - pw in
/// [0, w).
fn inside(kx: usize, w: usize, sw: usize, pw: usize, ow: usize) -> (usize, usize) {
    let first = pw.saturating_sub(kx).div_ceil(sw).min(ow);
    let end = if w + pw > kx { ((w + pw - kx - 1) / sw + 1).min(ow) } else { 0 }.max(first);
    (first, end)
}

/// The pieces of output rows that the output positions `span` (row-major over oh x ow) make:
/// (oy, ox range, offset of its first position in the span).
fn row_pieces(span: std::ops::Range<usize>, ow: usize) -> impl Iterator<Item = (usize, std::ops::Range<usize>, usize)> {
    let mut n = span.start;
    std::iter::from_fn(move || {
        (n < span.end).then(|| {
            let (oy, ox0) = (n / ow, n % ow);
            let ox1 = ow.min(ox0 + (span.end - n));
            let piece = (oy, ox0..ox1, n - span.start);
            n += ox1 - ox0;
            piece
        })
    })
}

/// The columns of the output positions `span`: rows (c, ky, kx), `cols[(c*kh + ky)*kw + kx][j]`
/// = x[c][oy*sh + ky - ph][ox*sw + kx - pw] for the span's j-th position (oy, ox), 0 in the
/// padding.
fn im2col(x: &[f32], [h, w]: [usize; 2], [kh, kw]: [usize; 2], [_oh, ow]: [usize; 2], geo: Geometry, span: std::ops::Range<usize>, cols: &mut [f32]) {
    let ([sh, sw], [ph, pw]) = (geo.stride, geo.padding);
    cols.par_chunks_mut(span.len()).enumerate().for_each(|(row, dst)| {
        let (c, ky, kx) = (row / (kh * kw), row / kw % kh, row % kw);
        let plane = &x[c * h * w..(c + 1) * h * w];
        let (first, end) = inside(kx, w, sw, pw, ow);
        for (oy, oxs, at) in row_pieces(span.clone(), ow) {
            let out = &mut dst[at..at + oxs.len()];
            let iy = (oy * sh + ky).wrapping_sub(ph);
            if iy >= h {
                out.fill(0.0);
                continue;
            }
            let src = &plane[iy * w..(iy + 1) * w];
            // The piece's columns inside the image, relative to the piece.
            let (a, b) = (first.clamp(oxs.start, oxs.end), end.clamp(oxs.start, oxs.end));
            out[..a - oxs.start].fill(0.0);
            out[b - oxs.start..].fill(0.0);
            let inner = &mut out[a - oxs.start..b - oxs.start];
            if sw == 1 {
                let from = a + kx - pw;
                inner.copy_from_slice(&src[from..from + (b - a)]);
            } else {
                for (ox, v) in (a..b).zip(inner) {
                    *v = src[ox * sw + kx - pw];
                }
            }
        }
    });
}

/// The input's gradient [n, ci, h, w] of [`forward`] from the output's gradient `grad`
/// [n, co, oh, ow]: columns = weightᵀ · grad (one gemm per tile reading the weight as stored),
/// then each column added back where im2col took it from.
pub fn backward_input(grad: &[f32], [n, co, oh, ow]: [usize; 4], weight: &[f32], [wco, ci, kh, kw]: [usize; 4], [h, w]: [usize; 2], geo: Geometry) -> Vec<f32> {
    assert!(geo.out([h, w], [kh, kw]) == Some([oh, ow]), "conv backward: output shape does not match the input's");
    assert!(wco == co && grad.len() == n * co * oh * ow && weight.len() == co * ci * kh * kw, "conv backward: bad shapes");
    let (k, cols) = (ci * kh * kw, oh * ow);
    let tile = tile_len(k, cols);
    let mut dx = vec![0f32; n * ci * h * w];
    with_scratch(k * tile, |scratch| {
        for b in 0..n {
            let g = &grad[b * co * cols..(b + 1) * co * cols];
            let dxb = &mut dx[b * ci * h * w..(b + 1) * ci * h * w];
            for start in (0..cols).step_by(tile) {
                let span = start..(start + tile).min(cols);
                let len = span.len();
                let columns = &mut scratch[..k * len];
                // SAFETY: columns is [k, len]; weightᵀ is [k, co] (column stride k, row stride
                // 1); g[:, span] of [co, cols]; all in bounds.
                unsafe {
                    gemm::gemm(
                        k, len, co,
                        columns.as_mut_ptr(), 1, len as isize, false,
                        weight.as_ptr(), k as isize, 1,
                        g.as_ptr().add(span.start), 1, cols as isize,
                        0.0, 1.0, false, false, false, parallelism(co * len * k),
                    );
                }
                col2im(columns, [h, w], [kh, kw], ow, geo, span, dxb);
            }
        }
    });
    dx
}

/// Adds each column entry of the output positions `span` back at the input position
/// [`im2col`] read it from (one channel's rows per task: tasks never write the same plane).
fn col2im(cols: &[f32], [h, w]: [usize; 2], [kh, kw]: [usize; 2], ow: usize, geo: Geometry, span: std::ops::Range<usize>, dx: &mut [f32]) {
    let ([sh, sw], [ph, pw]) = (geo.stride, geo.padding);
    let len = span.len();
    dx.par_chunks_mut(h * w).enumerate().for_each(|(c, plane)| {
        for ky in 0..kh {
            for kx in 0..kw {
                let row = (c * kh + ky) * kw + kx;
                let src = &cols[row * len..(row + 1) * len];
                let (first, end) = inside(kx, w, sw, pw, ow);
                for (oy, oxs, at) in row_pieces(span.clone(), ow) {
                    let iy = (oy * sh + ky).wrapping_sub(ph);
                    if iy >= h {
                        continue;
                    }
                    let dst = &mut plane[iy * w..(iy + 1) * w];
                    let (a, b) = (first.clamp(oxs.start, oxs.end), end.clamp(oxs.start, oxs.end));
                    let src = &src[at + (a - oxs.start)..at + (b - oxs.start)];
                    if sw == 1 {
                        let from = a + kx - pw;
                        for (d, s) in dst[from..from + (b - a)].iter_mut().zip(src) {
                            *d += s;
                        }
                    } else {
                        for (ox, s) in (a..b).zip(src) {
                            dst[ox * sw + kx - pw] += s;
                        }
                    }
                }
            }
        }
    });
}
