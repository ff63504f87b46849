//! Evaluation metrics: ranking metrics for the Li-style table (`ranking`); Li et al.'s
//! class-wise density and convexity (`density`, `convexity`), their correlation with the drop
//! rate under attack (`correlation`), a 2-D projection of embeddings (`pca`), and the whole
//! class-wise report of one model on a dataset (`classwise`).

pub mod classwise;
pub mod convexity;
pub mod correlation;
pub mod density;
pub mod figures;
pub mod pca;
pub mod ranking;
