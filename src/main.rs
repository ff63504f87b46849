use std::process::ExitCode;

use clap::Parser;
use mcgurk::cli::{Cli, Outcome, run};

fn main() -> ExitCode {
    match run(Cli::parse()).and_then(|outcome| match outcome {
        Outcome::Done(code) => Ok(code),
        Outcome::Gui(launch) => mcgurk::app::run(launch).map(|()| ExitCode::SUCCESS),
    }) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
