//! Arguments shared by the commands that run models on one clip (`predict`, `attack`).

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args as ClapArgs;

use super::train::FusionArg;
use crate::media::{self, Clip, Job, LoadOptions};
use crate::models::{FusionKind, LoadedModel, file, zoo};

#[derive(ClapArgs, Debug)]
pub struct ClipArgs {
    /// A video (or audio, or image) file; or give --audio and --image instead.
    pub clip: Option<PathBuf>,
    /// A sound file, with --image (a still) or --frames (a folder of frames).
    #[arg(long, conflicts_with = "clip")]
    pub audio: Option<PathBuf>,
    #[arg(long, requires = "audio", conflicts_with = "clip")]
    pub image: Option<PathBuf>,
    /// A folder of numbered image frames (name order) instead of a video file; with --audio,
    /// the sound that goes with them.
    #[arg(long, conflicts_with_all = ["clip", "image", "video"])]
    pub frames: Option<PathBuf>,
    /// The video file (the same as giving it as CLIP).
    #[arg(long, conflicts_with_all = ["clip", "audio", "image"])]
    pub video: Option<PathBuf>,
    /// The frame rate of --frames.
    #[arg(long, default_value_t = 8.0, requires = "frames")]
    pub fps: f64,
}

impl ClipArgs {
    pub fn open(&self) -> anyhow::Result<Clip> {
        self.open_with(LoadOptions::default())
    }

    /// The clip with its audio at `sample_rate` (a spectrogram model's own rate).
    pub fn open_at_rate(&self, sample_rate: u32) -> anyhow::Result<Clip> {
        self.open_with(LoadOptions { sample_rate, ..LoadOptions::default() })
    }

    /// The clip for `model` around `at` (default: the middle), and that moment: a video file
    /// keeps only the frames the model reads (`VideoModel::open_around`), so a long video does
    /// not hold all of its pictures; audio files and frame folders open as usual.
    pub fn open_for_video(&self, model: &crate::models::video::VideoModel, at: Option<f64>) -> anyhow::Result<(Clip, f64)> {
        if let Some(t) = at.filter(|t| !t.is_finite()) {
            bail!("--at {t}: give a time in seconds");
        }
        let Some(path) = self.clip.as_ref().or(self.video.as_ref()).filter(|_| self.frames.is_none()) else {
            let clip = self.open()?;
            let t = at.unwrap_or_else(|| clip.duration_s() / 2.0);
            return Ok((clip, t));
        };
        Ok(model.open_around(path, at, &Job::detached())?)
    }

    /// The clip for an audio-visual model of two encoders around `at`: its audio at the
    /// model's rate; a video file keeps only the frames of the model's span.
    pub fn open_for_pair(&self, model: &crate::models::pair::PairModel, at: Option<f64>) -> anyhow::Result<(Clip, f64)> {
        if let Some(t) = at.filter(|t| !t.is_finite()) {
            bail!("--at {t}: give a time in seconds");
        }
        let opts = LoadOptions { sample_rate: model.sample_rate, ..LoadOptions::default() };
        let Some(path) = self.clip.as_ref().or(self.video.as_ref()).filter(|_| self.frames.is_none()) else {
            let clip = self.open_with(opts)?;
            let t = at.unwrap_or_else(|| clip.duration_s() / 2.0);
            return Ok((clip, t));
        };
        Ok(model.sampler.open_around_with(path, at, opts, &Job::detached())?)
    }

    fn open_with(&self, opts: LoadOptions) -> anyhow::Result<Clip> {
        let job = Job::detached();
        if let Some(dir) = &self.frames {
            let mut clip = media::frames::open(dir, self.fps, opts.frame_budget_bytes)?;
            if let Some(a) = &self.audio {
                let sound = media::open(a, &opts, &job)?;
                clip.audio = Some(sound.audio.ok_or_else(|| media::MediaError::NoSamples { path: a.clone() })?);
                clip.sources.extend(sound.sources);
            }
            return Ok(clip);
        }
        Ok(match (self.clip.as_ref().or(self.video.as_ref()), &self.audio, &self.image) {
            (Some(c), _, _) => media::open(c, &opts, &job)?,
            (None, Some(a), Some(i)) => media::open_pair(a, i, &opts, &job)?,
            (None, Some(_), None) => bail!("--audio goes with --image FILE (a still) or --frames DIR"),
            _ => bail!("give a CLIP, --audio FILE --image FILE, or --frames DIR (with --audio FILE for its sound)"),
        })
    }
}

#[derive(ClapArgs, Debug)]
pub struct ModelArgs {
    /// Demo-zoo models by name (sum, concat, film, gated_sum, gated_concat, audio, visual) or
    /// model files (.safetensors); repeatable. Default: the whole zoo, unless --weights is given.
    #[arg(long = "model")]
    pub models: Vec<String>,
    /// A PyTorch state dict in the reference layout (.safetensors, or a .pth from torch.save),
    /// or the weights a --spec describes; PART=FILE (audio, visual, fusion, head) where a spec's
    /// model comes in several files, as Tian & Xu's checkpoints do. Repeatable.
    #[arg(long)]
    pub weights: Vec<String>,
    /// A model spec (JSON, format 1) saying what --weights is (`demo:video`: the demo video
    /// model shipped in McGurk): a spectrogram model such as
    /// PANNs' Cnn14 (`predict` and `attack` for now), or Tian & Xu's audio-visual models from
    /// their own checkpoints (every command). See the README, "Spectrogram models".
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// The fusion of --weights, when the file does not say.
    #[arg(long, value_enum)]
    pub fusion: Option<FusionArg>,
    /// Run on the GPU through wgpu (models and attack kernels on one device) instead of the
    /// CPU backend. On a machine without a GPU this is Mesa's lavapipe: correct but slow.
    #[arg(long)]
    pub gpu: bool,
}

impl ModelArgs {
    /// The device the models run on: burn's Flex CPU backend, or the shared GPU with --gpu.
    pub fn device(&self) -> anyhow::Result<burn::prelude::Device> {
        if self.gpu {
            let gpu = crate::kernels::shared().context("--gpu")?;
            eprintln!("GPU: {}", gpu.kernels.adapter);
            Ok(gpu.device.clone())
        } else {
            Ok(burn::prelude::Device::flex())
        }
    }

    /// `--spec`, with `demo:video` standing for the demo video model shipped in the binary
    /// (written to the cache folder on first use).
    fn spec_path(&self) -> anyhow::Result<Option<PathBuf>> {
        match &self.spec {
            Some(p) if p.as_os_str() == crate::demo::VIDEO_MODEL_NAME => Ok(Some(crate::demo::video_model_spec().context("cannot write the demo video model to the cache folder")?)),
            other => Ok(other.clone()),
        }
    }

    /// `--weights` as (part, file): `audio=a.pth` names a part, a plain path holds them all.
    pub fn weight_files(&self) -> Vec<(Option<String>, PathBuf)> {
        self.weights.iter().map(|w| part_and_file(w)).collect()
    }

    /// `--weights`, else the files the spec names.
    fn weights_or_the_specs(&self, path: &std::path::Path, spec: &crate::models::spec::ModelSpec) -> Vec<(Option<String>, PathBuf)> {
        if self.weights.is_empty() { spec.weight_files(path) } else { self.weight_files() }
    }

    /// (spec, weights) when --spec names a spectrogram model (its own code path in `predict` and
    /// `attack`); None for no spec, a video model or an audio-visual (tian) one.
    pub fn spectrogram_spec(&self) -> anyhow::Result<Option<(PathBuf, PathBuf)>> {
        let Some(spec) = &self.spec_path()? else { return Ok(None) };
        let s = crate::models::spec::ModelSpec::load(spec)?;
        if s.is_video() || s.visual.is_some() || s.audio.as_ref().is_some_and(|a| a.encoder == crate::models::spec::Encoder::Tian) {
            return Ok(None);
        }
        match &self.weights_or_the_specs(spec, &s)[..] {
            [(None, w)] => Ok(Some((spec.clone(), w.clone()))),
            _ => bail!("a spectrogram model's spec takes one --weights FILE"),
        }
    }

    /// (spec, weights) when --spec names a video model (R(2+1)D-18).
    pub fn video_spec(&self) -> anyhow::Result<Option<(PathBuf, PathBuf)>> {
        let Some(spec) = &self.spec_path()? else { return Ok(None) };
        let s = crate::models::spec::ModelSpec::load(spec)?;
        if !s.is_video() {
            return Ok(None);
        }
        match &self.weights_or_the_specs(spec, &s)[..] {
            [(None, w)] => Ok(Some((spec.clone(), w.clone()))),
            _ => bail!("a video model's spec takes one --weights FILE"),
        }
    }

    /// (spec, weights) when --spec names an audio-visual model of two encoders other than Tian
    /// & Xu's own pair (for instance Cnn14 with R(2+1)D-18).
    pub fn pair_spec(&self) -> anyhow::Result<Option<(PathBuf, Vec<(Option<String>, PathBuf)>)>> {
        let Some(spec) = &self.spec_path()? else { return Ok(None) };
        let s = crate::models::spec::ModelSpec::load(spec)?;
        if !s.is_pair() {
            return Ok(None);
        }
        let weights = self.weights_or_the_specs(spec, &s);
        if weights.is_empty() {
            bail!("--spec {}: give --weights (or name them in the spec's \"weights\")", spec.display());
        }
        Ok(Some((spec.clone(), weights)))
    }

    pub fn load(&self, device: &burn::prelude::Device) -> anyhow::Result<Vec<LoadedModel>> {
        if let Some(spec_path) = &self.spec_path()? {
            let spec = crate::models::spec::ModelSpec::load(spec_path)?;
            if spec.is_video() {
                bail!("--spec video models (r2plus1d_18) run in `mcgurk predict`, `attack`, `eval`, `metrics` and `train`, one model at a time; this use takes McGurk's own audio-visual models");
            }
            if spec.is_pair() {
                bail!("--spec audio-visual models of other encoders than tian + resnet18 run in `mcgurk predict`, `attack`, `eval`, `metrics` and `train`, one model at a time; this use takes McGurk's own audio-visual models");
            }
            if spec.audio.as_ref().is_none_or(|a| a.encoder != crate::models::spec::Encoder::Tian) {
                bail!("--spec models of spectrogram encoders run in `mcgurk predict`, `attack`, `eval`, `metrics` and `train`, one model at a time; this use takes McGurk's own audio-visual models");
            }
            let mut out = Vec::new();
            for m in &self.models {
                out.extend(ModelArgs { models: vec![m.clone()], weights: Vec::new(), spec: None, fusion: None, gpu: self.gpu }.load(device)?);
            }
            let weights = self.weights_or_the_specs(spec_path, &spec);
            if weights.is_empty() {
                bail!("--spec {}: give --weights (or name them in the spec's \"weights\")", spec_path.display());
            }
            out.push(crate::models::tian_spec::load(spec_path, &spec, &weights, device)?);
            return Ok(out);
        }
        let mut out = Vec::new();
        let wanted: Vec<String> = if self.models.is_empty() && self.weights.is_empty() {
            zoo::ZOO.iter().map(|e| e.name.to_string()).collect()
        } else {
            self.models.clone()
        };
        for m in &wanted {
            let path = PathBuf::from(m);
            if path.extension().is_some_and(|e| e == "json") {
                out.push(crate::models::tian_spec::load_file(&path, device)?);
            } else if path.extension().is_some_and(|e| e == "safetensors") || path.is_file() {
                out.push(file::load(&path, None, device)?);
            } else {
                let entry = zoo::find(m).with_context(|| {
                    format!("no demo model '{m}' (known: sum, concat, film, gated_sum, gated_concat, audio, visual; or give a .safetensors path)")
                })?;
                out.push(entry.load(device)?);
            }
        }
        for (part, w) in self.weight_files() {
            if let Some(part) = part {
                bail!("--weights {part}={}: parts are for a --spec model", w.display());
            }
            out.push(file::load(&w, self.fusion.map(FusionKind::from), device)?);
        }
        Ok(out)
    }
}

/// Which dataset a command reads (`eval`, `metrics`, `train`), spelled alike in each.
#[derive(ClapArgs, Debug)]
pub struct DataArgs {
    /// Dataset: a folder per class, an AVE folder (Annotations.txt) or a CSV manifest.
    #[arg(long)]
    pub data: PathBuf,
    /// Folder layout: clips whose file name contains this are held out (the test split of `eval`
    /// and `metrics`; what `train` validates on).
    #[arg(long)]
    pub holdout: Option<String>,
}

impl DataArgs {
    pub fn open(&self) -> Result<crate::data::Dataset, crate::data::DataError> {
        self.open_as(false)
    }

    /// `audio_only`: audio files without a picture are clips (models that only hear).
    pub fn open_as(&self, audio_only: bool) -> Result<crate::data::Dataset, crate::data::DataError> {
        crate::data::open(&self.data, &crate::data::DataOptions { holdout: self.holdout.clone(), audio_only })
    }
}

/// One `--weights` value as (part, file): `audio=a.pth` names a part, a plain path holds them all.
pub fn part_and_file(w: &str) -> (Option<String>, PathBuf) {
    match w.split_once('=') {
        Some((part, file)) if crate::models::tian_spec::PARTS.contains(&part) => (Some(part.to_string()), PathBuf::from(file)),
        _ => (None, PathBuf::from(w)),
    }
}
