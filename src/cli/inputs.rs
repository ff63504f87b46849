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
    #[arg(long, requires = "image", conflicts_with = "clip")]
    pub audio: Option<PathBuf>,
    #[arg(long, requires = "audio", conflicts_with = "clip")]
    pub image: Option<PathBuf>,
}

impl ClipArgs {
    pub fn open(&self) -> anyhow::Result<Clip> {
        self.open_with(LoadOptions::default())
    }

    /// The clip with its audio at `sample_rate` (a spectrogram model's own rate).
    pub fn open_at_rate(&self, sample_rate: u32) -> anyhow::Result<Clip> {
        self.open_with(LoadOptions { sample_rate, ..LoadOptions::default() })
    }

    fn open_with(&self, opts: LoadOptions) -> anyhow::Result<Clip> {
        let job = Job::detached();
        Ok(match (&self.clip, &self.audio, &self.image) {
            (Some(c), _, _) => media::open(c, &opts, &job)?,
            (None, Some(a), Some(i)) => media::open_pair(a, i, &opts, &job)?,
            _ => bail!("give a CLIP, or --audio FILE --image FILE"),
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
    /// or the weights a --spec describes.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// A model spec (JSON, format 1) saying what --weights is: a spectrogram model such as
    /// PANNs' Cnn14 (see the README, "Spectrogram models"). `predict` and `attack` for now.
    #[arg(long, requires = "weights")]
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

    pub fn load(&self, device: &burn::prelude::Device) -> anyhow::Result<Vec<LoadedModel>> {
        if self.spec.is_some() {
            anyhow::bail!("--spec models run in `mcgurk predict` and `mcgurk attack` so far; eval, metrics and train on them are not built yet");
        }
        let mut out = Vec::new();
        let wanted: Vec<String> = if self.models.is_empty() && self.weights.is_none() {
            zoo::ZOO.iter().map(|e| e.name.to_string()).collect()
        } else {
            self.models.clone()
        };
        for m in &wanted {
            let path = PathBuf::from(m);
            if path.extension().is_some_and(|e| e == "safetensors") || path.is_file() {
                out.push(file::load(&path, None, device)?);
            } else {
                let entry = zoo::find(m).with_context(|| {
                    format!("no demo model '{m}' (known: sum, concat, film, gated_sum, gated_concat, audio, visual; or give a .safetensors path)")
                })?;
                out.push(entry.load(device)?);
            }
        }
        if let Some(w) = &self.weights {
            out.push(file::load(w, self.fusion.map(FusionKind::from), device)?);
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
        crate::data::open(&self.data, &crate::data::DataOptions { holdout: self.holdout.clone() })
    }
}
