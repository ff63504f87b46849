//! CPU kernels the main crate's CPU backend glue calls (see `Cargo.toml` for why they are apart).

pub mod batch_norm;
pub mod conv;
pub mod max_pool;
