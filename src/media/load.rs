//! Opening files: sniff, pick a decoder, fall back to ffmpeg, resample to the model rate.

use std::io::Read;
use std::path::Path;

use super::clip::{Audio, AudioInfo, Clip, Decoder, Frame, MODEL_SAMPLE_RATE, MediaInfo, VideoInfo};
use super::demux::{self, Budget, Demuxed, Mode, SourceAudio};
use super::error::MediaError;
use super::ffmpeg::Ffmpeg;
use super::job::Job;
use super::sniff::{self, Kind};
use super::still;

/// How files are opened.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// The ffmpeg fallback; `None` means built-in decoders only.
    pub ffmpeg: Option<Ffmpeg>,
    /// Memory allowed for decoded frames of one clip.
    pub frame_budget_bytes: usize,
    /// The rate the clip's audio is resampled to: McGurk's own models read 11025 Hz, a
    /// spectrogram model its spec's rate.
    pub sample_rate: u32,
    /// Keep only the frames from..to seconds (a video model's few frames around one moment).
    pub window: Option<(f64, f64)>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self { ffmpeg: Ffmpeg::from_path(), frame_budget_bytes: 1 << 30, sample_rate: MODEL_SAMPLE_RATE, window: None }
    }
}

impl LoadOptions {
    pub fn builtin_only() -> Self {
        Self { ffmpeg: None, ..Self::default() }
    }
}

/// Check the path is a non-empty regular file and sniff what it holds.
fn inspect(path: &Path) -> Result<(Kind, u64, Vec<u8>), MediaError> {
    let meta = std::fs::metadata(path).map_err(|e| MediaError::io(path, e))?;
    if meta.is_dir() {
        return Err(MediaError::IsDirectory { path: path.to_path_buf() });
    }
    if !meta.is_file() {
        // Reading a FIFO may block forever, /dev/zero never ends.
        return Err(MediaError::NotAFile { path: path.to_path_buf() });
    }
    if meta.len() == 0 {
        return Err(MediaError::Empty { path: path.to_path_buf() });
    }
    let mut head = Vec::with_capacity(512);
    std::fs::File::open(path)
        .and_then(|f| f.take(512).read_to_end(&mut head))
        .map_err(|e| MediaError::io(path, e))?;
    Ok((sniff::sniff(&head), meta.len(), head))
}

fn unknown(path: &Path, head: &[u8]) -> MediaError {
    MediaError::UnknownFormat { path: path.to_path_buf(), what: sniff::describe_unknown(head) }
}

fn unsupported(path: &Path, kind: &'static str, codec: &str) -> MediaError {
    MediaError::UnsupportedCodec { path: path.to_path_buf(), kind, codec: codec.to_string() }
}

/// Describe a file without decoding its samples (packets are still walked, so truncation shows).
pub fn probe(path: &Path, opts: &LoadOptions) -> Result<MediaInfo, MediaError> {
    contain(path, || probe_unguarded(path, opts))
}

/// Runs decoder code so that a panic inside it (a dependency tripping over a hostile header)
/// becomes an error naming the file instead of ending the program.
pub fn contain<T>(path: &Path, work: impl FnOnce() -> Result<T, MediaError>) -> Result<T, MediaError> {
    quiet_panics_when_contained();
    let was = CONTAINED.replace(true);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
    CONTAINED.set(was);
    match result {
        Ok(r) => r,
        Err(payload) => {
            let detail = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
            Err(MediaError::DecoderCrashed { path: path.to_path_buf(), detail })
        }
    }
}

thread_local! {
    /// Set while decoder code runs inside `contain` on this thread.
    static CONTAINED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A contained panic becomes an error message; the default hook would also print it to stderr
/// as if the program had crashed. Other panics are reported as before.
fn quiet_panics_when_contained() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !CONTAINED.get() {
                previous(info);
            }
        }));
    });
}

fn probe_unguarded(path: &Path, opts: &LoadOptions) -> Result<MediaInfo, MediaError> {
    let (kind, size, head) = inspect(path)?;
    if kind == Kind::Wav {
        super::wav_header::check(path)?;
    }
    let mut info = MediaInfo { path: path.to_path_buf(), container: kind.name().into(), size_bytes: size, duration_s: 0.0, video: None, audio: None };
    match kind {
        Kind::Unknown => return Err(unknown(path, &head)),
        k if k.is_image() => {
            let (w, h) = still::dimensions(path)?;
            still::check_size(path, w, h)?;
            info.video = Some(image_info(k, w, h));
        }
        Kind::OtherVideo(name) => {
            let ff = opts.ffmpeg.as_ref().ok_or_else(|| unsupported(path, "container", name))?;
            let ffi = ff.probe(path)?;
            (info.video, info.audio, info.duration_s) = (ffi.video, ffi.audio, ffi.duration_s);
        }
        _ => {
            let d = match demux::read(path, kind.name(), Mode::DemuxOnly, budget(opts), &Job::detached()) {
                Err(e) if ffmpeg_can_retry(&e, kind) && opts.ffmpeg.is_some() => {
                    let ffi = opts.ffmpeg.as_ref().map(|ff| ff.probe(path)).transpose()?;
                    let ffi = ffi.ok_or(e)?;
                    (info.video, info.audio, info.duration_s) = (ffi.video, ffi.audio, ffi.duration_s);
                    info.duration_s = duration(&info.video, &info.audio).max(info.duration_s);
                    return Ok(info);
                }
                other => other?,
            };
            (info.video, info.audio) = (d.video, d.audio_info);
            if !d.unsupported.is_empty()
                && let Some(ff) = &opts.ffmpeg
            {
                let ffi = ff.probe(path)?;
                info.video = ffi.video.or(info.video);
                info.audio = ffi.audio.or(info.audio);
            }
        }
    }
    info.duration_s = duration(&info.video, &info.audio).max(info.duration_s);
    Ok(info)
}

/// When symphonia cannot open a file whose codec it does not support (or a Matroska file it
/// cannot parse), ffmpeg gets the whole file.
fn ffmpeg_can_retry(e: &MediaError, kind: Kind) -> bool {
    matches!(e, MediaError::UnsupportedCodec { .. }) || (kind == Kind::Matroska && matches!(e, MediaError::Corrupt { .. }))
}

fn duration(video: &Option<VideoInfo>, audio: &Option<AudioInfo>) -> f64 {
    let v = video.as_ref().map_or(0.0, |v| v.duration_s);
    let a = audio.as_ref().map_or(0.0, |a| a.duration_s);
    v.max(a)
}

fn image_info(kind: Kind, width: u32, height: u32) -> VideoInfo {
    VideoInfo { codec: kind.name().into(), width, height, fps: 0.0, frame_count: 1, duration_s: 0.0, decoder: Decoder::Builtin }
}

fn budget(opts: &LoadOptions) -> Budget {
    Budget { frame_bytes: opts.frame_budget_bytes, window: opts.window }
}

/// Open one file: a video, an audio file (a clip with no frames) or an image (one frame).
pub fn open(path: &Path, opts: &LoadOptions, job: &Job<'_>) -> Result<Clip, MediaError> {
    contain(path, || open_unguarded(path, opts, job))
}

fn open_unguarded(path: &Path, opts: &LoadOptions, job: &Job<'_>) -> Result<Clip, MediaError> {
    let (kind, size, head) = inspect(path)?;
    if kind == Kind::Wav {
        super::wav_header::check(path)?;
    }
    let mut info = MediaInfo { path: path.to_path_buf(), container: kind.name().into(), size_bytes: size, duration_s: 0.0, video: None, audio: None };
    let mut d = match kind {
        Kind::Unknown => return Err(unknown(path, &head)),
        k if k.is_image() => {
            let image = still::load(path)?;
            info.video = Some(image_info(k, image.width, image.height));
            job.progress(1.0);
            return Ok(Clip { sources: vec![info], audio: None, frames: vec![Frame { time_s: 0.0, image }], notes: Vec::new() });
        }
        Kind::OtherVideo(name) => {
            let ff = opts.ffmpeg.as_ref().ok_or_else(|| unsupported(path, "container", name))?;
            decode_all_with_ffmpeg(ff, path, opts, job)?
        }
        _ => match (demux::read(path, kind.name(), Mode::Decode, budget(opts), job), &opts.ffmpeg) {
            (Err(e), Some(ff)) if ffmpeg_can_retry(&e, kind) => decode_all_with_ffmpeg(ff, path, opts, job)?,
            (result, _) => {
                let mut d = result?;
                fill_unsupported(&mut d, path, opts, job)?;
                d
            }
        },
    };
    (info.video, info.audio) = (d.video.take(), d.audio_info.take());
    info.duration_s = duration(&info.video, &info.audio);
    let audio = d.audio.take().map(|a| to_model_rate(path, a, opts.sample_rate)).transpose()?;
    if audio.is_none() && d.frames.is_empty() {
        let detail = if d.notes.is_empty() { "nothing decodable".to_string() } else { d.notes.join("; ") };
        return Err(MediaError::NothingDecoded { path: path.to_path_buf(), detail });
    }
    if audio.is_none() && info.audio.is_none() && info.video.is_some() {
        d.notes.push("this video has no audio track".into());
    }
    job.progress(1.0);
    Ok(Clip { sources: vec![info], audio, frames: d.frames, notes: d.notes })
}

/// An audio file plus an image: the way the papers' models see a clip.
pub fn open_pair(audio_path: &Path, image_path: &Path, opts: &LoadOptions, job: &Job<'_>) -> Result<Clip, MediaError> {
    contain(audio_path, || open_pair_unguarded(audio_path, image_path, opts, job))
}

fn open_pair_unguarded(audio_path: &Path, image_path: &Path, opts: &LoadOptions, job: &Job<'_>) -> Result<Clip, MediaError> {
    let image = open(image_path, opts, &Job::detached())?;
    if image.frames.len() != 1 || image.audio.is_some() {
        return Err(MediaError::BadImage { path: image_path.to_path_buf(), detail: "expected a still image (PNG, JPEG, WebP)".into() });
    }
    let mut clip = open(audio_path, opts, job)?;
    if clip.audio.is_none() {
        return Err(MediaError::NoSamples { path: audio_path.to_path_buf() });
    }
    clip.frames = image.frames;
    clip.sources.extend(image.sources);
    // The still image stands for the whole clip: place its frame at the centre of the audio.
    let centre = clip.audio.as_ref().map_or(0.0, |a| a.duration_s() / 2.0);
    clip.frames[0].time_s = centre;
    Ok(clip)
}

/// Decode, through ffmpeg, the streams symphonia/openh264 could not.
fn fill_unsupported(d: &mut Demuxed, path: &Path, opts: &LoadOptions, job: &Job<'_>) -> Result<(), MediaError> {
    let pending = std::mem::take(&mut d.unsupported);
    if pending.is_empty() {
        return Ok(());
    }
    let Some(ff) = &opts.ffmpeg else {
        // Without ffmpeg, an undecodable video is fatal; an undecodable audio track is not
        // when there are frames to show (nothing the file holds is silently lost).
        for (kind, codec) in &pending {
            let err = unsupported(path, kind, codec);
            if *kind == "video" || d.frames.is_empty() && d.audio.is_none() {
                return Err(err);
            }
            d.notes.push(format!("audio not loaded: {err}"));
        }
        return Ok(());
    };
    let info = ff.probe(path)?;
    for (kind, _) in pending {
        if kind == "video" {
            let v = info.video.clone().ok_or_else(|| MediaError::Ffmpeg { path: path.to_path_buf(), detail: "ffprobe found no video stream".into() })?;
            let keep = keep_every(&v, opts);
            d.frames = ff.decode_video(path, &v, keep, opts.window, job)?;
            d.video = Some(v);
        } else {
            let a = info.audio.clone().ok_or_else(|| MediaError::Ffmpeg { path: path.to_path_buf(), detail: "ffprobe found no audio stream".into() })?;
            d.audio = Some(ff.decode_audio(path, &a, job)?);
            d.audio_info = Some(a);
        }
    }
    Ok(())
}

fn keep_every(v: &VideoInfo, opts: &LoadOptions) -> u64 {
    // A window keeps a few frames: no need to thin them.
    if opts.window.is_some() {
        return 1;
    }
    let total = (v.width as usize * v.height as usize * 3).saturating_mul(v.frame_count.max(1) as usize);
    total.div_ceil(opts.frame_budget_bytes.max(1)).max(1) as u64
}

fn decode_all_with_ffmpeg(ff: &Ffmpeg, path: &Path, opts: &LoadOptions, job: &Job<'_>) -> Result<Demuxed, MediaError> {
    let info = ff.probe(path)?;
    let mut d = Demuxed { video: None, frames: Vec::new(), audio_info: None, audio: None, unsupported: Vec::new(), notes: Vec::new() };
    if let Some(v) = info.video {
        d.frames = ff.decode_video(path, &v, keep_every(&v, opts), opts.window, job)?;
        d.video = Some(v);
    }
    if let Some(a) = info.audio {
        match ff.decode_audio(path, &a, job) {
            Ok(samples) => d.audio = Some(samples),
            Err(e) if !d.frames.is_empty() => d.notes.push(format!("audio track dropped: {e}")),
            Err(e) => return Err(e),
        }
        d.audio_info = Some(a);
    }
    Ok(d)
}

/// Resample to `rate` (McGurk's models: [`MODEL_SAMPLE_RATE`]) and keep values finite and
/// inside [-1, 1].
fn to_model_rate(path: &Path, a: SourceAudio, rate: u32) -> Result<Audio, MediaError> {
    let mut samples = crate::dsp::resample::resample(&a.samples, a.sample_rate, rate)
        .map_err(|detail| MediaError::Corrupt { path: path.to_path_buf(), container: "audio", detail })?;
    for s in &mut samples {
        *s = if s.is_finite() { s.clamp(-1.0, 1.0) } else { 0.0 };
    }
    Ok(Audio { samples, sample_rate: rate })
}
