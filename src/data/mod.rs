//! Datasets for training and evaluation: folder-per-class, the AVE layout and CSV manifests,
//! decoded and cached once, turned into (augmented) model inputs.

pub mod augment;
pub mod ave;
pub mod folder;
pub mod manifest;
pub mod prepare;
pub mod rng;

use std::path::{Path, PathBuf};

use serde::Serialize;

/// Where a clip's media lives: one audio-visual file, or an audio file plus a still image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Media {
    File(PathBuf),
    Pair { audio: PathBuf, image: PathBuf },
}

impl Media {
    pub fn describe(&self) -> String {
        match self {
            Self::File(p) => p.display().to_string(),
            Self::Pair { audio, image } => format!("{} + {}", audio.display(), image.display()),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    Train,
    Val,
    Test,
}

impl Split {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "train" | "training" => Some(Self::Train),
            "val" | "valid" | "validation" => Some(Self::Val),
            "test" | "holdout" | "held_out" => Some(Self::Test),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Item {
    pub media: Media,
    pub label: usize,
    pub split: Split,
    /// Centre of the model's window (AVE: the annotated event); None = the clip's centre.
    pub centre_s: Option<f64>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Dataset {
    pub root: PathBuf,
    pub classes: Vec<String>,
    pub items: Vec<Item>,
    /// Entries left out, each with its reason (no audio track, missing file...).
    pub skipped: Vec<String>,
}

impl Dataset {
    pub fn split(&self, split: Split) -> Vec<&Item> {
        self.items.iter().filter(|i| i.split == split).collect()
    }

    /// The held-out split used for validation: Val when there is one, else Test.
    pub fn validation_split(&self) -> Option<Split> {
        [Split::Val, Split::Test].into_iter().find(|s| self.items.iter().any(|i| i.split == *s))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read dataset: {error}: {}", path.display())]
    Io { path: PathBuf, error: std::io::Error },
    #[error("{detail}: {}", path.display())]
    Layout { path: PathBuf, detail: String },
    #[error("line {line}: {detail}: {}", path.display())]
    Line { path: PathBuf, line: usize, detail: String },
}

/// Options common to the layouts.
#[derive(Clone, Debug, Default)]
pub struct DataOptions {
    /// Folder layout: clips whose file name contains this go to the test split.
    pub holdout: Option<String>,
    /// Folder layout: an audio file with no picture beside it is a clip of its own (models
    /// that hear only), instead of being skipped.
    pub audio_only: bool,
}

/// Opens `path` by its layout: a `.csv` file is a manifest, a folder with `Annotations.txt`
/// is AVE, any other folder is folder-per-class.
pub fn open(path: &Path, opts: &DataOptions) -> Result<Dataset, DataError> {
    if path.is_file() {
        return manifest::open(path);
    }
    if !path.is_dir() {
        return Err(DataError::Layout { path: path.into(), detail: "no such dataset folder or manifest".into() });
    }
    if path.join("Annotations.txt").is_file() {
        ave::open(path)
    } else {
        folder::open(path, opts)
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DataError + '_ {
    move |error| DataError::Io { path: path.into(), error }
}

/// Media kind by extension; the loaders sniff contents later, this only sorts a folder listing.
pub(crate) fn kind_of(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "wav" | "flac" | "mp3" | "ogg" | "oga" | "m4a" | "aac" => Some("audio"),
        "png" | "jpg" | "jpeg" | "webp" => Some("image"),
        "mp4" | "m4v" | "mov" | "mkv" | "webm" | "avi" | "ts" => Some("video"),
        _ => None,
    }
}
