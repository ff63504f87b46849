//! The two sizes of one design: `Full` is the papers' network; `Small` has a quarter of the
//! channels and shorter inputs for CPU interactivity (chosen by measurement, see the README).
//! Imported weights may have any widths: `Widths` is what the layers are built from.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Size {
    Small,
    Full,
}

/// Output channels of the four stages (audio blocks and ResNet stages alike), so that f_a and
/// f_v have the same width and Sum/Gated fusions are defined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Widths(pub [usize; 4]);

impl Widths {
    pub fn feature_dim(self) -> usize {
        self.0[3]
    }
}

impl From<Size> for Widths {
    fn from(size: Size) -> Self {
        size.widths()
    }
}

impl Size {
    pub fn widths(self) -> Widths {
        match self {
            Self::Full => Widths([64, 128, 256, 512]),
            Self::Small => Widths([16, 32, 64, 128]),
        }
    }

    pub fn feature_dim(self) -> usize {
        self.widths().feature_dim()
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Small => "small",
            Self::Full => "full",
        }
    }

    /// Input sizes the models of this size are trained and run at.
    pub fn input(self) -> InputSize {
        match self {
            Self::Full => InputSize::new(65_535, 224),
            Self::Small => InputSize::new(SMALL_SAMPLES, SMALL_PIXELS),
        }
    }
}

/// Audio window (samples at 11025 Hz) and square image side (pixels).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputSize {
    pub samples: usize,
    pub pixels: usize,
    /// Frames of `pixels` x `pixels` the model reads (1 for a picture; T for a video model).
    #[serde(default = "one_frame", skip_serializing_if = "is_one")]
    pub frames: usize,
}

fn one_frame() -> usize {
    1
}

fn is_one(v: &usize) -> bool {
    *v == 1
}

impl InputSize {
    /// A picture input of these sizes.
    pub const fn new(samples: usize, pixels: usize) -> Self {
        Self { samples, pixels, frames: 1 }
    }

    /// The values of one example's picture (or clip): 3 x frames x pixels x pixels.
    pub fn pixel_values(&self) -> usize {
        3 * self.frames * self.pixels * self.pixels
    }
}

/// Small inputs: 2.97 s of audio and 112 px frames (see README, "Model sizes").
pub const SMALL_SAMPLES: usize = 32_767;
pub const SMALL_PIXELS: usize = 112;
