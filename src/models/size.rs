//! The two sizes of one design: `Full` is the papers' network; `Small` has a quarter of the
//! channels for CPU interactivity (its input sizes are still to be chosen by measurement).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Size {
    Small,
    Full,
}

impl Size {
    /// Output channels of the four stages (audio blocks and ResNet stages alike), so that
    /// f_a and f_v have the same width and Sum/Gated fusions are defined.
    pub fn widths(self) -> [usize; 4] {
        match self {
            Self::Full => [64, 128, 256, 512],
            Self::Small => [16, 32, 64, 128],
        }
    }

    pub fn feature_dim(self) -> usize {
        self.widths()[3]
    }
}
