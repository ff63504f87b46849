//! `mcgurk spectrogram FILE -o out.png`: the log-mel image of a file's audio.

use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::dsp::{Colormap, MelAnalyzer, MelConfig, colormap, window};
use crate::media::{ANALYSIS_WINDOW, Job, LoadOptions, open};

#[derive(clap::Args, Debug)]
pub struct Args {
    pub file: PathBuf,
    #[arg(short, long)]
    pub output: PathBuf,
    /// Only the analysis window (65535 samples at 11025 Hz) centred at this time, in seconds.
    #[arg(long)]
    pub at: Option<f64>,
    #[arg(long, default_value_t = 1024)]
    pub n_fft: usize,
    #[arg(long, default_value_t = 256)]
    pub hop: usize,
    #[arg(long, default_value_t = 64)]
    pub n_mels: usize,
    /// Dynamic range shown, in dB below the loudest value.
    #[arg(long, default_value_t = 80.0)]
    pub range_db: f32,
    #[arg(long, value_enum, default_value_t = CliColormap::Viridis)]
    pub colormap: CliColormap,
    /// Vertical pixels per mel band (the image is otherwise tiny).
    #[arg(long, default_value_t = 4)]
    pub scale: u32,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum CliColormap {
    Viridis,
    Magma,
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let clip = open(&args.file, &LoadOptions::default(), &Job::detached())?;
    let Some(audio) = &clip.audio else { bail!("no audio to analyse: {}", args.file.display()) };
    let samples = match args.at {
        Some(t) => window::extract(&audio.samples, window::start(t, audio.sample_rate, ANALYSIS_WINDOW), ANALYSIS_WINDOW),
        None => audio.samples.clone(),
    };
    let cfg = MelConfig { n_fft: args.n_fft, hop: args.hop, n_mels: args.n_mels, ..MelConfig::default() };
    let analyzer = MelAnalyzer::new(cfg, audio.sample_rate).map_err(anyhow::Error::msg)?;
    let spec = analyzer.compute(&samples);
    let map = match args.colormap {
        CliColormap::Viridis => Colormap::Viridis,
        CliColormap::Magma => Colormap::Magma,
    };
    let img = colormap::render(&spec, 0, spec.n_frames, args.range_db, map);
    let scale = args.scale.clamp(1, 16);
    let rgb = image::RgbImage::from_raw(img.width, img.height, img.pixels).context("spectrogram buffer size")?;
    let rgb = image::imageops::resize(&rgb, img.width, img.height * scale, image::imageops::FilterType::Nearest);
    crate::files::save_png_atomic(&args.output, &rgb)?;
    eprintln!("wrote {} ({}x{}, {} mel bands, {} frames)", args.output.display(), rgb.width(), rgb.height(), spec.n_mels, spec.n_frames);
    Ok(())
}
