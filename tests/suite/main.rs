//! All integration tests, in one test binary: every test crate links the whole application
//! (about 1.5 GB with debug information in the dev profile), so one crate instead of sixteen
//! saves about 25 GB of disk and most of the link time on a clean build.

mod common;

mod architecture;
mod attacks;
mod bench;
mod bad_input;
mod cli;
mod cpu_ops;
mod crash;
mod data;
mod decode;
mod eval_table;
mod figures;
mod fuzz_replay;
mod fallback;
mod hostile;
mod gui;
mod import;
mod jobs;
mod kernels;
mod live;
mod loader;
mod models;
mod packaging;
mod pair_models;
mod predict;
mod pth;
mod r2plus1d;
mod robust;
mod session;
mod shards;
mod spectrogram_models;
mod tian_spec;
mod train;
