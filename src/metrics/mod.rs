//! Evaluation metrics: ranking metrics for the Li-style table (`ranking`); the class-wise
//! density and convexity metrics join here (class-wise robustness issue).

pub mod density;
pub mod ranking;
