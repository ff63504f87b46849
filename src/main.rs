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
