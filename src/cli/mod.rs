//! The command line: `mcgurk [open FILE [IMAGE]] | probe | spectrogram | train | predict | attack | eval | metrics | bench | completions | man`.
//! A thin shell over the engine; errors are reported once, here, with anyhow.

mod probe;
mod spectrogram;
pub mod train;
mod predict;
mod inputs;
mod attack;
mod attack_pair;
mod attack_spectrogram;
mod attack_video;
mod eval;
mod eval_report;
mod eval_spec;
mod spec_models;
mod interrupt;
pub mod progress;
mod bench;
mod metrics;

use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};

/// `mcgurk --version`: the package version and the git revision it was built from.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("MCGURK_GIT_REVISION"), ")");

#[derive(Parser, Debug)]
#[command(name = "mcgurk", version = VERSION, about = "Workbench for adversarial attacks on audio-visual classifiers.\n\nWith no command, opens the GUI on the embedded demo clip.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Open the GUI on a video, an audio file or an image (or an audio file plus an image); with
    /// no file, on the demo clip (what the desktop entry runs from the menu).
    Open {
        file: Option<PathBuf>,
        /// An image to pair with an audio FILE (the image becomes the clip's frame).
        image: Option<PathBuf>,
    },
    /// Print container, codecs, duration, fps, frames, resolution, sample rate and channels.
    Probe {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// One JSON document (an array, one object per file) on stdout.
        #[arg(long)]
        json: bool,
        /// Use only the built-in decoders, even when ffmpeg is on PATH.
        #[arg(long)]
        no_ffmpeg: bool,
    },
    /// Render the log-mel spectrogram of a file's audio to a PNG.
    Spectrogram(spectrogram::Args),
    /// Top-k classes of each model (the demo zoo by default) for one clip.
    Predict(predict::Args),
    /// Attack one clip (FGSM, PGD, MIM; audio, picture or both) and compare predictions.
    Attack(attack::Args),
    /// Robustness table over a dataset: clean, audio, picture and both attacked, Avg, RI.
    Eval(eval::Args),
    /// Class-wise robustness: density, convexity, drop rate under attack, their correlations.
    Metrics(metrics::Args),
    /// Time model forward passes at several sizes on this machine.
    Bench(bench::Args),
    /// Train one model (a fusion or a unimodal baseline) on a dataset.
    Train(train::Args),
    /// Print a shell's completion script for mcgurk (bash, zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
    /// Print the manual page (roff) of mcgurk and its commands, for `man -l -`.
    Man,
}

/// What `main` should do after parsing: run the GUI, or a command already finished.
pub enum Outcome {
    Gui(crate::app::Launch),
    Done(std::process::ExitCode),
}

pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    use crate::app::Launch;
    // Commands that either succeed or fail with an error (probe has its own exit status).
    let ok = |r: anyhow::Result<()>| r.map(|()| Outcome::Done(std::process::ExitCode::SUCCESS));
    match cli.command {
        None => Ok(Outcome::Gui(Launch::Demo)),
        Some(Command::Open { file: None, image: _ }) => Ok(Outcome::Gui(Launch::Demo)),
        Some(Command::Open { file: Some(file), image: None }) => Ok(Outcome::Gui(Launch::File(file))),
        Some(Command::Open { file: Some(file), image: Some(image) }) => Ok(Outcome::Gui(Launch::Pair { audio: file, image })),
        Some(Command::Probe { files, json, no_ffmpeg }) => Ok(Outcome::Done(probe::run(&files, json, no_ffmpeg)?)),
        Some(Command::Predict(args)) => ok(predict::run(&args)),
        Some(Command::Attack(args)) => ok(attack::run(&args)),
        Some(Command::Eval(args)) => ok(eval::run(&args)),
        Some(Command::Bench(args)) => ok(bench::run(&args)),
        Some(Command::Metrics(args)) => ok(metrics::run(&args)),
        Some(Command::Train(args)) => ok(train::run(&args)),
        Some(Command::Spectrogram(args)) => ok(spectrogram::run(&args)),
        Some(Command::Completions { shell }) => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "mcgurk", &mut script);
            ok(std::io::Write::write_all(&mut std::io::stdout(), &script).map_err(Into::into))
        }
        Some(Command::Man) => ok(man()),
    }
}

/// One page: mcgurk's own, then a section per command with its options.
fn man() -> anyhow::Result<()> {
    let cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    let main = clap_mangen::Man::new(cmd.clone());
    main.render_title(&mut out)?;
    main.render_name_section(&mut out)?;
    main.render_synopsis_section(&mut out)?;
    main.render_description_section(&mut out)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        use std::io::Write;
        let name = sub.get_name().to_string();
        writeln!(out, ".SH \"MCGURK {}\"", name.to_uppercase())?;
        if let Some(about) = sub.get_long_about().or(sub.get_about()) {
            writeln!(out, "{}", about.to_string().replace('\\', "\\\\").replace("\n.", "\n\\&."))?;
        }
        let page = clap_mangen::Man::new(sub.clone().bin_name(format!("mcgurk {name}")));
        page.render_synopsis_section(&mut out)?;
        page.render_options_section(&mut out)?;
    }
    main.render_version_section(&mut out)?;
    Ok(())
}
