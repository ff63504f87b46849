//! Media: files in, [`Clip`]s out. Knows nothing of the GUI.

pub mod clip;
pub mod demux;
pub mod error;
pub mod ffmpeg;
pub mod frames;
pub mod h264;
pub mod job;
pub mod load;
pub mod mp4_boxes;
pub mod sniff;
pub mod still;
pub mod wav_header;

pub use clip::{ANALYSIS_WINDOW, Audio, AudioInfo, Clip, Decoder, Frame, MAX_AUDIO_SECONDS, MODEL_SAMPLE_RATE, MediaInfo, RgbImage, VideoInfo};
pub use error::MediaError;
pub use ffmpeg::Ffmpeg;
pub use job::Job;
pub use load::{LoadOptions, open, open_pair, probe};
