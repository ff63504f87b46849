//! Fallback for what the built-in decoders cannot read (VP9, AV1, HEVC, Opus, multichannel AAC,
//! AVI, ...): the `ffmpeg` and `ffprobe` executables, when they are on PATH.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

use super::clip::{AudioInfo, Decoder, Frame, RgbImage, VideoInfo};
use super::demux::SourceAudio;
use super::error::MediaError;
use super::job::Job;

/// Paths of the two executables, found together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ffmpeg {
    pub ffmpeg: PathBuf,
    pub ffprobe: PathBuf,
}

impl Ffmpeg {
    /// Both executables from PATH, or None.
    pub fn from_path() -> Option<Self> {
        Some(Self { ffmpeg: which("ffmpeg")?, ffprobe: which("ffprobe")? })
    }
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file())
}

#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    streams: Vec<Stream>,
    format: Option<Format>,
}

#[derive(Deserialize)]
struct Format {
    format_name: Option<String>,
    duration: Option<String>,
}

#[derive(Deserialize)]
struct Stream {
    codec_type: Option<String>,
    codec_name: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    avg_frame_rate: Option<String>,
    r_frame_rate: Option<String>,
    nb_frames: Option<String>,
    sample_rate: Option<String>,
    channels: Option<u32>,
    duration: Option<String>,
}

/// Stream facts as ffprobe reports them.
pub struct FfInfo {
    pub container: String,
    pub duration_s: f64,
    pub video: Option<VideoInfo>,
    pub audio: Option<AudioInfo>,
}

fn fail(path: &Path, detail: impl Into<String>) -> MediaError {
    MediaError::Ffmpeg { path: path.to_path_buf(), detail: detail.into() }
}

fn rate(s: &Option<String>) -> Option<f64> {
    let s = s.as_deref()?;
    let (n, d) = s.split_once('/').unwrap_or((s, "1"));
    let (n, d): (f64, f64) = (n.parse().ok()?, d.parse().ok()?);
    (d > 0.0 && n > 0.0).then(|| n / d)
}

fn num(s: &Option<String>) -> Option<f64> {
    s.as_deref()?.parse().ok()
}

impl Ffmpeg {
    pub fn probe(&self, path: &Path) -> Result<FfInfo, MediaError> {
        let out = Command::new(&self.ffprobe)
            .args(["-v", "error", "-print_format", "json", "-show_streams", "-show_format"])
            .arg(path)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| fail(path, format!("cannot run ffprobe: {e}")))?;
        if !out.status.success() {
            return Err(fail(path, format!("ffprobe: {}", String::from_utf8_lossy(&out.stderr).trim())));
        }
        let probe: Probe = serde_json::from_slice(&out.stdout).map_err(|e| fail(path, format!("ffprobe output: {e}")))?;
        let format = probe.format.unwrap_or(Format { format_name: None, duration: None });
        let container_duration = num(&format.duration).unwrap_or(0.0);
        let kind = |k: &str| probe.streams.iter().find(|s| s.codec_type.as_deref() == Some(k));
        let video = kind("video").map(|s| {
            let fps = rate(&s.avg_frame_rate).or_else(|| rate(&s.r_frame_rate)).unwrap_or(0.0);
            let duration_s = num(&s.duration).unwrap_or(container_duration);
            let frame_count = num(&s.nb_frames).map_or((duration_s * fps).round(), |n| n) as u64;
            VideoInfo {
                codec: s.codec_name.clone().unwrap_or_default(),
                width: s.width.unwrap_or(0),
                height: s.height.unwrap_or(0),
                fps,
                frame_count,
                duration_s,
                decoder: Decoder::Ffmpeg,
            }
        });
        let audio = kind("audio").map(|s| AudioInfo {
            codec: s.codec_name.clone().unwrap_or_default(),
            sample_rate: num(&s.sample_rate).unwrap_or(0.0) as u32,
            channels: s.channels.unwrap_or(0),
            duration_s: num(&s.duration).unwrap_or(container_duration),
            decoder: Decoder::Ffmpeg,
        });
        Ok(FfInfo { container: format.format_name.unwrap_or_default(), duration_s: container_duration, video, audio })
    }

    /// Mono f32 audio at the stream's own rate (resampled later by McGurk's own resampler).
    pub fn decode_audio(&self, path: &Path, info: &AudioInfo, job: &Job<'_>) -> Result<SourceAudio, MediaError> {
        // A rate McGurk cannot resample from is a lying header: let ffmpeg resample to 48 kHz.
        let rate = if crate::dsp::resample::RATES.contains(&info.sample_rate) { info.sample_rate } else { 48_000 };
        let args = ["-v", "error", "-i"];
        let limit = super::clip::MAX_AUDIO_SECONDS.to_string();
        let tail = ["-vn", "-ac", "1", "-ar", &rate.to_string(), "-t", &limit, "-f", "f32le", "-"].map(str::to_string);
        let bytes = self.run(path, &args, &tail, job, |_| {})?;
        let samples: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        if samples.is_empty() {
            return Err(MediaError::NoSamples { path: path.to_path_buf() });
        }
        Ok(SourceAudio { samples, sample_rate: rate })
    }

    /// RGB frames at constant frame rate, with every `keep_every`-th frame kept, and only those
    /// from..to seconds when a window is given (a video model's few frames: memory stays small).
    pub fn decode_video(&self, path: &Path, info: &VideoInfo, keep_every: u64, window: Option<(f64, f64)>, job: &Job<'_>) -> Result<Vec<Frame>, MediaError> {
        let (w, h) = (info.width, info.height);
        if w == 0 || h == 0 {
            return Err(fail(path, "video stream has no size"));
        }
        let frame_len = w as usize * h as usize * 3;
        let fps = if info.fps > 0.0 { info.fps } else { 25.0 };
        // With a window ffmpeg seeks (to the keyframe before, decoding from there) to half a
        // frame before the first frame wanted, so that frame comes first, and stops after it.
        let first = window.map_or(0, |(from, _)| ((from - 1.0) * fps).floor().max(0.0) as u64);
        let mut args: Vec<String> = vec!["-v".into(), "error".into()];
        if first > 0 {
            args.extend(["-ss".into(), format!("{:.6}", (first as f64 - 0.5) / fps)]);
        }
        if let Some((_, to)) = window {
            args.extend(["-t".into(), format!("{:.6}", (to - first as f64 / fps + 1.0).max(0.0))]);
        }
        args.push("-i".into());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let tail = ["-an", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"].map(str::to_string);
        let mut frames = Vec::new();
        let mut index = first;
        let total = info.frame_count.max(1);
        self.run(path, &args, &tail, job, |buf: &mut Vec<u8>| {
            while buf.len() >= frame_len {
                let rest = buf.split_off(frame_len);
                let pixels = std::mem::replace(buf, rest);
                let t = index as f64 / fps;
                let inside = window.is_none_or(|(from, to)| t >= from - 0.5 / fps && t <= to + 0.5 / fps);
                if inside && index % keep_every.max(1) == 0 {
                    frames.push(Frame { time_s: t, image: RgbImage { width: w, height: h, pixels } });
                }
                index += 1;
                job.progress(index as f32 / total as f32);
            }
        })?;
        Ok(frames)
    }

    /// Run ffmpeg on `path`, streaming stdout through `chunk`; returns what `chunk` left unread.
    fn run(&self, path: &Path, head: &[&str], tail: &[String], job: &Job<'_>, mut chunk: impl FnMut(&mut Vec<u8>)) -> Result<Vec<u8>, MediaError> {
        let mut child = Command::new(&self.ffmpeg)
            .args(head)
            .arg(path)
            .args(tail)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| fail(path, format!("cannot run ffmpeg: {e}")))?;
        let mut stdout = child.stdout.take().ok_or_else(|| fail(path, "no stdout"))?;
        let mut stderr = child.stderr.take().ok_or_else(|| fail(path, "no stderr"))?;
        // Drain stderr on its own thread so a chatty ffmpeg never blocks on a full pipe.
        let err_reader = std::thread::Builder::new()
            .name("mcgurk-ffmpeg-stderr".into())
            .spawn(move || {
                let mut s = String::new();
                let _ = stderr.read_to_string(&mut s);
                s
            })
            .map_err(|e| fail(path, format!("cannot start thread: {e}")))?;
        let mut buf = Vec::new();
        let mut block = vec![0u8; 1 << 16];
        loop {
            if job.is_cancelled() {
                let _ = child.kill();
                let _ = child.wait();
                return Err(MediaError::Cancelled { path: path.to_path_buf() });
            }
            let n = stdout.read(&mut block).map_err(|e| fail(path, format!("reading ffmpeg output: {e}")))?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&block[..n]);
            chunk(&mut buf);
        }
        let status = child.wait().map_err(|e| fail(path, format!("waiting for ffmpeg: {e}")))?;
        let stderr_text = err_reader.join().unwrap_or_default();
        if !status.success() {
            return Err(fail(path, stderr_text.trim().lines().last().unwrap_or("ffmpeg exited with an error").to_string()));
        }
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rates() {
        assert_eq!(rate(&Some("30000/1001".into())).map(|r| (r * 1000.0).round()), Some(29970.0));
        assert_eq!(rate(&Some("0/0".into())), None);
        assert_eq!(rate(&Some("25".into())), Some(25.0));
        assert_eq!(rate(&None), None);
    }
}
