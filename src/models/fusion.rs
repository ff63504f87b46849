//! The five fusions of f_a and f_v (Tian & Xu, appendix A.4) and the unimodal baselines.

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::sigmoid;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FusionKind {
    Sum,
    Concat,
    Film,
    GatedSum,
    GatedConcat,
    AudioOnly,
    VisualOnly,
}

impl FusionKind {
    pub const ALL: [FusionKind; 7] =
        [Self::Sum, Self::Concat, Self::Film, Self::GatedSum, Self::GatedConcat, Self::AudioOnly, Self::VisualOnly];

    pub fn name(self) -> &'static str {
        match self {
            Self::Sum => "sum",
            Self::Concat => "concat",
            Self::Film => "film",
            Self::GatedSum => "gated_sum",
            Self::GatedConcat => "gated_concat",
            Self::AudioOnly => "audio",
            Self::VisualOnly => "visual",
        }
    }

    /// How people write it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Sum => "Sum",
            Self::Concat => "Concat",
            Self::Film => "FiLM",
            Self::GatedSum => "Gated-Sum",
            Self::GatedConcat => "Gated-Concat",
            Self::AudioOnly => "Audio only",
            Self::VisualOnly => "Visual only",
        }
    }

    /// The kind named `name` (as written by [`FusionKind::name`]; "audio_only"/"visual_only"
    /// and dashes are accepted too).
    pub fn from_name(name: &str) -> Option<Self> {
        let n = name.trim().to_ascii_lowercase().replace('-', "_");
        let n = n.strip_suffix("_only").unwrap_or(&n);
        Self::ALL.into_iter().find(|k| k.name() == n)
    }

    pub fn uses_audio(self) -> bool {
        self != Self::VisualOnly
    }

    pub fn uses_visual(self) -> bool {
        self != Self::AudioOnly
    }

    /// Width of f_av for features of width `d`.
    pub fn output_dim(self, d: usize) -> usize {
        match self {
            Self::Concat | Self::GatedConcat => 2 * d,
            _ => d,
        }
    }
}

/// The fusion step: parameter-free except FiLM's alpha.
#[derive(Module, Debug)]
pub struct Fusion {
    /// FiLM's alpha(f_a), a linear layer; beta is the identity.
    pub alpha: Option<Linear>,
    #[module(skip)]
    pub kind: FusionKind,
}

impl Fusion {
    pub fn new(kind: FusionKind, d: usize, device: &Device) -> Self {
        let alpha = (kind == FusionKind::Film).then(|| LinearConfig::new(d, d).init(device));
        Self { alpha, kind }
    }

    /// f_av from f_a and f_v ([B, d] each; the unused one may be None for unimodal models).
    pub fn forward(&self, fa: Option<Tensor<2>>, fv: Option<Tensor<2>>) -> Tensor<2> {
        match (self.kind, fa, fv) {
            (FusionKind::AudioOnly, Some(a), _) => a,
            (FusionKind::VisualOnly, _, Some(v)) => v,
            (FusionKind::Sum, Some(a), Some(v)) => a + v,
            (FusionKind::Concat, Some(a), Some(v)) => Tensor::cat(vec![a, v], 1),
            (FusionKind::Film, Some(a), Some(v)) => match &self.alpha {
                Some(alpha) => alpha.forward(a.clone()) * v + a,
                None => unreachable_fusion(self.kind),
            },
            (FusionKind::GatedSum, Some(a), Some(v)) => {
                let (f1, f2) = gates(a, v);
                f1 + f2
            }
            (FusionKind::GatedConcat, Some(a), Some(v)) => {
                let (f1, f2) = gates(a, v);
                Tensor::cat(vec![f1, f2], 1)
            }
            (kind, ..) => unreachable_fusion(kind),
        }
    }
}

/// f1 = sigmoid(f_a) * f_v, f2 = sigmoid(f_v) * f_a.
fn gates(a: Tensor<2>, v: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
    (sigmoid(a.clone()) * v.clone(), sigmoid(v) * a)
}

#[track_caller]
fn unreachable_fusion(kind: FusionKind) -> ! {
    // AvNet builds exactly the encoders a fusion needs, so this is a programming error.
    panic!("fusion {kind:?} called without the features it needs")
}
