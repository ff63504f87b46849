//! A clip's values frame by frame. The models' layout is channels outermost (per example
//! [3, T, S, S]); a budget per frame works on rows of one frame's 3 x S x S values.

/// How the pixel values of each example are laid out: `frames` frames of `plane` values per
/// channel, three channels.
#[derive(Clone, Copy, Debug)]
pub struct FrameRows {
    pub frames: usize,
    pub plane: usize,
}

impl FrameRows {
    /// Values in one frame (a row of the frame-major layout).
    pub fn row(&self) -> usize {
        3 * self.plane
    }

    /// [B, 3, T, P] -> [B, T, 3, P].
    pub fn to_frame_major(&self, v: &[f32]) -> Vec<f32> {
        self.permute(v, true)
    }

    /// [B, T, 3, P] -> [B, 3, T, P].
    pub fn from_frame_major(&self, v: &[f32]) -> Vec<f32> {
        self.permute(v, false)
    }

    fn permute(&self, v: &[f32], to_frames: bool) -> Vec<f32> {
        let (t, p) = (self.frames, self.plane);
        let example = 3 * t * p;
        let mut out = vec![0.0; v.len()];
        for (src, dst) in v.chunks(example.max(1)).zip(out.chunks_mut(example.max(1))) {
            for c in 0..3 {
                for k in 0..t {
                    let channel_major = (c * t + k) * p;
                    let frame_major = (k * 3 + c) * p;
                    let (from, to) = if to_frames { (channel_major, frame_major) } else { (frame_major, channel_major) };
                    if let (Some(s), Some(d)) = (src.get(from..from + p), dst.get_mut(to..to + p)) {
                        d.copy_from_slice(s);
                    }
                }
            }
        }
        out
    }
}

/// The L2 norm of each frame's perturbation (`adv - clean`, one example of 3 x `frames`
/// planes).
pub fn frame_l2(clean: &[f32], adv: &[f32], frames: usize) -> Vec<f32> {
    let frames = frames.max(1);
    let rows = FrameRows { frames, plane: clean.len() / (3 * frames) };
    let delta: Vec<f32> = adv.iter().zip(clean).map(|(a, c)| a - c).collect();
    rows.to_frame_major(&delta).chunks(rows.row().max(1)).map(|r| super::lp::l2(r.iter().copied())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_become_rows_and_back() {
        // Two examples of 3 channels x 2 frames x 2 values, numbered.
        let rows = FrameRows { frames: 2, plane: 2 };
        let v: Vec<f32> = (0..24).map(|i| i as f32).collect();
        let fm = rows.to_frame_major(&v);
        // Frame 0 of the first example: channel 0's [0, 1], channel 1's [4, 5], channel 2's [8, 9].
        assert_eq!(&fm[..6], &[0.0, 1.0, 4.0, 5.0, 8.0, 9.0]);
        assert_eq!(&fm[6..12], &[2.0, 3.0, 6.0, 7.0, 10.0, 11.0]);
        assert_eq!(&fm[12..18], &[12.0, 13.0, 16.0, 17.0, 20.0, 21.0]);
        assert_eq!(rows.from_frame_major(&fm), v);
    }
}
