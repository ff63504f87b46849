use std::process::ExitCode;

use clap::Parser;
use mcgurk::cli::{Cli, Outcome, run};

fn main() -> ExitCode {
    // burn's optimizer-state loader (`train --resume`) puts tensors on `Device::default()`, which
    // is wgpu in this build and needs a GPU driver; every device the engine uses is named, so
    // let the default be the CPU unless the user chose otherwise.
    if std::env::var_os("BURN_DEVICE").is_none() {
        // SAFETY: the first statement of main, before any thread exists.
        unsafe { std::env::set_var("BURN_DEVICE", "flex") };
    }
    keep_freed_memory();
    match run(Cli::parse()).and_then(|outcome| match outcome {
        Outcome::Done(code) => Ok(code),
        Outcome::Gui(launch) => mcgurk::app::run(launch).map(|()| ExitCode::SUCCESS),
    }) {
        Ok(code) => code,
        Err(e) => {
            // Never glued onto a progress line.
            mcgurk::cli::progress::end();
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Freed buffers stay with the process for the next tensor of their size. By default glibc
/// maps large allocations afresh and unmaps them on free, and on a virtual machine the page
/// faults of each new mapping cost more than the arithmetic in it: every forward and backward
/// pass allocates tensors of the same sizes again. One heap, no mappings, trimmed only past
/// 512 MiB free at its top (`bench`, PGD-10 at batch 8 on the full model, whole process: wall
/// time 10.5 s -> 7.4 s, system time 5.2 s -> 0.6 s, peak memory 789 -> 622 MiB).
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before any thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
    }
}
