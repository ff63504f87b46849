//! Errors of the media layer. Every variant names the file, last, so messages read
//! "what went wrong: path" as in rerun's style guide.

use std::path::PathBuf;

use thiserror::Error;

/// Why a file could not be turned into a [`crate::media::Clip`].
#[derive(Debug, Error)]
pub enum MediaError {
    #[error("cannot read file: {error}: {}", path.display())]
    Io { path: PathBuf, error: std::io::Error },

    #[error("file is empty (0 bytes): {}", path.display())]
    Empty { path: PathBuf },

    #[error("is a directory, not a media file: {}", path.display())]
    IsDirectory { path: PathBuf },

    #[error("not a regular file (a device, a pipe or a socket), not a media file: {}", path.display())]
    NotAFile { path: PathBuf },

    #[error(
        "not a recognised audio, video or image file ({what}); McGurk opens MP4, WAV, FLAC, MP3, \
         OGG, PNG, JPEG and WebP itself, and WebM, MKV, AVI, FLV and MPEG-TS (other codecs too) \
         through ffmpeg when it is on PATH: {}",
        path.display()
    )]
    UnknownFormat { path: PathBuf, what: String },

    #[error("corrupt or unreadable {container} file ({detail}): {}", path.display())]
    Corrupt { path: PathBuf, container: &'static str, detail: String },

    #[error("a decoder failed on this file ({detail}); the file is probably damaged or hostile: {}", path.display())]
    DecoderCrashed { path: PathBuf, detail: String },

    #[error(
        "file is truncated: the container declares {expected} {unit} but the data ends after \
         {found}: {}",
        path.display()
    )]
    Truncated { path: PathBuf, expected: u64, found: u64, unit: &'static str },

    #[error(
        "{kind} codec '{codec}' is not supported by the built-in decoders; install ffmpeg \
         (e.g. `apt-get install ffmpeg`) and put it on PATH, or convert the file to H.264/AAC \
         MP4: {}",
        path.display()
    )]
    UnsupportedCodec { path: PathBuf, kind: &'static str, codec: String },

    #[error("ffmpeg failed ({detail}): {}", path.display())]
    Ffmpeg { path: PathBuf, detail: String },

    #[error("{detail}: {}", path.display())]
    BadImage { path: PathBuf, detail: String },

    #[error("audio track has no samples: {}", path.display())]
    NoSamples { path: PathBuf },

    #[error("no usable audio or video in the file ({detail}): {}", path.display())]
    NothingDecoded { path: PathBuf, detail: String },

    #[error("loading was cancelled: {}", path.display())]
    Cancelled { path: PathBuf },
}

impl MediaError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io { path: path.to_path_buf(), error: source }
    }

    /// The file the error is about.
    pub fn path(&self) -> &std::path::Path {
        match self {
            Self::Io { path, .. }
            | Self::Empty { path }
            | Self::IsDirectory { path }
            | Self::NotAFile { path }
            | Self::DecoderCrashed { path, .. }
            | Self::UnknownFormat { path, .. }
            | Self::Corrupt { path, .. }
            | Self::Truncated { path, .. }
            | Self::UnsupportedCodec { path, .. }
            | Self::Ffmpeg { path, .. }
            | Self::BadImage { path, .. }
            | Self::NoSamples { path }
            | Self::NothingDecoded { path, .. }
            | Self::Cancelled { path } => path,
        }
    }
}
