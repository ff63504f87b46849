//! Container reading with symphonia: MP4 (H.264 video through openh264, AAC audio) and the
//! audio formats (WAV, FLAC, MP3, OGG Vorbis). Streams the built-in path cannot decode are
//! reported in [`Demuxed::unsupported`] so the loader can hand them to ffmpeg.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::path::Path;

use symphonia::core::codecs::CodecParameters;
use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions, well_known as audio_ids};
use symphonia::core::codecs::video::well_known as video_ids;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, Track};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::units::TimeBase;

use super::clip::{AudioInfo, Decoder, Frame, MAX_AUDIO_SECONDS, VideoInfo};
use super::error::MediaError;
use super::h264::H264Decoder;
use super::job::Job;

/// Decode everything, or only walk the packets (for `probe`: fast, still finds truncation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Decode,
    DemuxOnly,
}

/// Mono audio at the file's own rate.
pub struct SourceAudio {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
}

/// What one pass over a container produced.
pub struct Demuxed {
    pub video: Option<VideoInfo>,
    pub frames: Vec<Frame>,
    pub audio_info: Option<AudioInfo>,
    pub audio: Option<SourceAudio>,
    /// Streams present but not decodable here: (kind, codec name).
    pub unsupported: Vec<(&'static str, String)>,
    pub notes: Vec<String>,
}

/// Limits on what a decode keeps in memory.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Decoded RGB frames kept at most this many bytes; beyond it every n-th frame is kept.
    pub frame_bytes: usize,
    /// Only frames from..to seconds are kept (a video model reads a few frames around one
    /// moment: a long video must not hold all of its pictures). Decoding starts at the last
    /// IDR picture before the window and stops after it; every packet is still read.
    pub window: Option<(f64, f64)>,
}

/// Decoding starts this long before a window and ends this long after it (pictures come out
/// in presentation order, packets in decode order: B-frames reorder by a few frames).
const WINDOW_MARGIN_S: f64 = 1.0;

/// Pictures kept beyond a window on each side while decoding, before every time is final
/// (the exact cut, half a frame either side, comes at the end).
const KEEP_MARGIN_S: f64 = 0.25;

/// Compressed packets held from the last IDR picture while waiting for a window; beyond this
/// (a stream without IDR pictures after its first) decoding starts from what is held.
const HELD_BYTES: usize = 64 << 20;

/// Where decoding of a windowed video stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Before the window: packets since the last IDR picture are held, not decoded.
    Waiting,
    Decoding,
    /// Past the window: nothing more is decoded.
    Past,
}

pub fn read(path: &Path, container: &'static str, mode: Mode, budget: Budget, job: &Job<'_>) -> Result<Demuxed, MediaError> {
    let file = File::open(path).map_err(|e| MediaError::io(path, e))?;
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    hint.with_extension(container);
    let corrupt = |detail: String| MediaError::Corrupt { path: path.to_path_buf(), container, detail };
    let mut format = match symphonia::default::get_probe().probe(&hint, mss, FormatOptions::default(), MetadataOptions::default()) {
        Ok(f) => f,
        Err(e) => {
            // symphonia rejects some valid MP4s with codecs it cannot decode anyway (HEVC):
            // name the codec so that the caller can hand the file to ffmpeg.
            if container == "mp4"
                && let Ok(codes) = super::mp4_boxes::sample_entries(path)
                && let Some((kind, codec)) = codes.into_iter().find_map(super::mp4_boxes::needs_ffmpeg)
            {
                return Err(MediaError::UnsupportedCodec { path: path.to_path_buf(), kind, codec });
            }
            return Err(corrupt(describe_probe_error(&e)));
        }
    };

    let tracks: Vec<Track> = format.tracks().to_vec();
    let mut out = Demuxed { video: None, frames: Vec::new(), audio_info: None, audio: None, unsupported: Vec::new(), notes: Vec::new() };

    let mut video = VideoState::new(&tracks, mode, budget, &mut out)?;
    let mut audio = AudioState::new(&tracks, mode, &mut out);
    if video.is_none() && audio.is_none() && out.unsupported.is_empty() {
        return Err(corrupt("no audio or video track".into()));
    }
    let total_s = tracks.iter().filter_map(track_duration_s).fold(0.0, f64::max);

    let mut packets_seen = 0u64;
    loop {
        if job.is_cancelled() {
            return Err(MediaError::Cancelled { path: path.to_path_buf() });
        }
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(truncated(path, &video, &audio, packets_seen));
            }
            Err(SymError::ResetRequired) => break,
            Err(e) => return Err(corrupt(format!("reading packet {packets_seen}: {e}"))),
        };
        packets_seen += 1;
        if let Some(v) = video.as_mut().filter(|v| v.track_id == packet.track_id) {
            v.push(&packet.data, packet.pts.get());
        } else if let Some(a) = audio.as_mut().filter(|a| a.track_id == packet.track_id) {
            a.push(&packet);
            if a.full && video.is_none() {
                // Nothing more will be kept: do not walk hours of packets.
                break;
            }
            if total_s > 0.0 && packets_seen % 16 == 0 {
                job.progress((a.seconds_seen(packet.pts.get()) / total_s) as f32);
            }
        }
        if let Some(v) = video.as_ref().filter(|_| packets_seen % 8 == 0 && total_s > 0.0) {
            job.progress((v.seconds_seen() / total_s) as f32);
        }
    }
    if let Some(v) = &video
        && let Some(expected) = v.declared_frames
        && v.packets < expected
    {
        return Err(MediaError::Truncated { path: path.to_path_buf(), expected, found: v.packets, unit: "video frames" });
    }

    if let Some(v) = video {
        v.finish(&mut out);
    }
    if let Some(a) = audio {
        a.finish(path, &mut out)?;
    }
    Ok(out)
}

/// Seconds as h:mm:ss or m:ss.
fn clock(s: f64) -> String {
    let t = s.max(0.0).round() as u64;
    let (h, m, sec) = (t / 3600, t / 60 % 60, t % 60);
    if h > 0 { format!("{h}:{m:02}:{sec:02}") } else { format!("{m}:{sec:02}") }
}

fn describe_probe_error(e: &SymError) -> String {
    match e {
        SymError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            "the file ends before its header or index is complete; it is probably truncated".into()
        }
        SymError::Unsupported(what) => format!("unsupported: {what}"),
        other => other.to_string(),
    }
}

fn truncated(path: &Path, video: &Option<VideoState>, audio: &Option<AudioState>, packets: u64) -> MediaError {
    if let Some(v) = video
        && let Some(expected) = v.declared_frames
    {
        return MediaError::Truncated { path: path.to_path_buf(), expected, found: v.packets, unit: "video frames" };
    }
    if let Some(a) = audio
        && let Some(expected) = a.declared_frames
    {
        return MediaError::Truncated { path: path.to_path_buf(), expected, found: a.frames_seen, unit: "audio samples" };
    }
    MediaError::Truncated { path: path.to_path_buf(), expected: packets + 1, found: packets, unit: "packets" }
}

fn seconds(tb: Option<TimeBase>, ts: i64) -> f64 {
    tb.map_or(0.0, |tb| ts as f64 * f64::from(tb.numer.get()) / f64::from(tb.denom.get()))
}

fn track_duration_s(t: &Track) -> Option<f64> {
    Some(seconds(t.time_base, i64::try_from(t.duration?.get()).ok()?))
}

pub fn video_codec_name(id: symphonia::core::codecs::video::VideoCodecId) -> String {
    let known = [
        (video_ids::CODEC_ID_H264, "h264"),
        (video_ids::CODEC_ID_HEVC, "hevc"),
        (video_ids::CODEC_ID_VP8, "vp8"),
        (video_ids::CODEC_ID_VP9, "vp9"),
        (video_ids::CODEC_ID_AV1, "av1"),
        (video_ids::CODEC_ID_MPEG4, "mpeg4"),
        (video_ids::CODEC_ID_MPEG2, "mpeg2video"),
        (video_ids::CODEC_ID_MJPEG, "mjpeg"),
        (video_ids::CODEC_ID_VVC, "vvc"),
        (video_ids::CODEC_ID_THEORA, "theora"),
    ];
    known.iter().find(|(k, _)| *k == id).map_or_else(|| format!("video codec {id}"), |(_, n)| (*n).to_string())
}

pub fn audio_codec_name(id: symphonia::core::codecs::audio::AudioCodecId) -> String {
    let known = [
        (audio_ids::CODEC_ID_AAC, "aac"),
        (audio_ids::CODEC_ID_MP3, "mp3"),
        (audio_ids::CODEC_ID_OPUS, "opus"),
        (audio_ids::CODEC_ID_VORBIS, "vorbis"),
        (audio_ids::CODEC_ID_FLAC, "flac"),
        (audio_ids::CODEC_ID_AC3, "ac3"),
        (audio_ids::CODEC_ID_EAC3, "eac3"),
        (audio_ids::CODEC_ID_ALAC, "alac"),
    ];
    if let Some((_, n)) = known.iter().find(|(k, _)| *k == id) {
        return (*n).to_string();
    }
    symphonia::default::get_codecs()
        .get_audio_decoder(id)
        .map_or_else(|| format!("audio codec {id}"), |d| d.codec.info.short_name.to_string())
}

/// Video track state: H.264 only; other codecs are recorded as unsupported.
struct VideoState {
    track_id: u32,
    time_base: Option<TimeBase>,
    decoder: Option<H264Decoder>,
    declared_frames: Option<u64>,
    packets: u64,
    last_pts: i64,
    pts: Vec<i64>,
    /// Decoded pictures kept so far, with their output index (presentation order).
    images: Vec<(usize, super::clip::RgbImage)>,
    decoded: usize,
    keep_every: usize,
    frame_budget: usize,
    window: Option<(f64, f64)>,
    /// Pictures left out because they fell outside the window.
    outside: usize,
    phase: Phase,
    /// Packet times not yet given to a decoded picture, earliest first.
    unassigned: BinaryHeap<Reverse<i64>>,
    /// Packets from the last IDR picture on, while `Waiting`, and their bytes.
    held: Vec<Vec<u8>>,
    held_bytes: usize,
    /// Packets never decoded (before the held ones, or past the window).
    undecoded: usize,
    errors: u64,
    first_error: Option<String>,
    info: VideoInfo,
}

impl VideoState {
    fn new(tracks: &[Track], mode: Mode, budget: Budget, out: &mut Demuxed) -> Result<Option<Self>, MediaError> {
        let Some((track, params)) = tracks.iter().find_map(|t| match &t.codec_params {
            Some(CodecParameters::Video(p)) => Some((t, p)),
            _ => None,
        }) else {
            return Ok(None);
        };
        let codec = video_codec_name(params.codec);
        let duration_s = track_duration_s(track).unwrap_or(0.0);
        let declared_frames = track.num_frames;
        let frame_count = declared_frames.unwrap_or(0);
        let fps = if duration_s > 0.0 { frame_count as f64 / duration_s } else { 0.0 };
        let (width, height) = (u32::from(params.width.unwrap_or(0)), u32::from(params.height.unwrap_or(0)));
        let info = VideoInfo { codec: codec.clone(), width, height, fps, frame_count, duration_s, decoder: Decoder::Builtin };
        if params.codec != video_ids::CODEC_ID_H264 {
            out.video = Some(info);
            out.unsupported.push(("video", codec));
            return Ok(None);
        }
        let decoder = match mode {
            Mode::DemuxOnly => None,
            Mode::Decode => {
                let avcc = params
                    .extra_data
                    .iter()
                    .find(|e| e.id == video_ids::extra_data::VIDEO_EXTRA_DATA_ID_AVC_DECODER_CONFIG)
                    .map(|e| &e.data[..]);
                match avcc.map(H264Decoder::new) {
                    Some(Ok(d)) => Some(d),
                    Some(Err(e)) => {
                        out.notes.push(format!("video track dropped: {e}"));
                        out.video = Some(info);
                        return Ok(None);
                    }
                    None => {
                        out.notes.push("video track dropped: H.264 track without avcC configuration".into());
                        out.video = Some(info);
                        return Ok(None);
                    }
                }
            }
        };
        Ok(Some(Self {
            track_id: track.id,
            time_base: track.time_base,
            decoder,
            declared_frames,
            packets: 0,
            last_pts: 0,
            pts: Vec::new(),
            images: Vec::new(),
            decoded: 0,
            keep_every: 1,
            frame_budget: budget.frame_bytes.max(1),
            window: budget.window,
            outside: 0,
            phase: if budget.window.is_some() { Phase::Waiting } else { Phase::Decoding },
            unassigned: BinaryHeap::new(),
            held: Vec::new(),
            held_bytes: 0,
            undecoded: 0,
            errors: 0,
            first_error: None,
            info,
        }))
    }

    fn seconds_seen(&self) -> f64 {
        seconds(self.time_base, self.last_pts)
    }

    fn push(&mut self, data: &[u8], pts: i64) {
        self.packets += 1;
        self.last_pts = pts;
        self.pts.push(pts);
        if self.window.is_some() {
            self.unassigned.push(Reverse(pts));
        }
        let Some(decoder) = self.decoder.as_ref() else { return };
        let t = seconds(self.time_base, pts);
        match (self.phase, self.window) {
            (Phase::Waiting, Some((from, _))) if t < from - WINDOW_MARGIN_S && self.held_bytes < HELD_BYTES => {
                if decoder.is_idr(data) {
                    self.undecoded += self.held.len();
                    self.held.clear();
                    self.held_bytes = 0;
                }
                self.held.push(data.to_vec());
                self.held_bytes += data.len();
                return;
            }
            (Phase::Waiting, _) => {
                // Pictures come out in presentation order: those of the packets before the
                // held IDR picture all come before it.
                self.phase = Phase::Decoding;
                self.decoded = self.undecoded;
                for _ in 0..self.undecoded {
                    self.unassigned.pop();
                }
                for held in std::mem::take(&mut self.held) {
                    self.decode(&held);
                }
                self.held_bytes = 0;
            }
            (Phase::Decoding, Some((_, to))) if t > to + WINDOW_MARGIN_S => self.phase = Phase::Past,
            _ => {}
        }
        if self.phase == Phase::Past {
            self.undecoded += 1;
            return;
        }
        self.decode(data);
    }

    fn decode(&mut self, data: &[u8]) {
        let Some(decoder) = self.decoder.as_mut() else { return };
        match decoder.decode(data) {
            Ok(Some(img)) => self.keep(img),
            Ok(None) => {}
            Err(e) => {
                self.errors += 1;
                self.first_error.get_or_insert(e);
            }
        }
    }

    /// Keep every `keep_every`-th picture; when the kept ones outgrow the budget, double the
    /// stride and thin what is kept, so any length fits and sampling stays uniform.
    fn keep(&mut self, img: super::clip::RgbImage) {
        let index = self.decoded;
        self.decoded += 1;
        // A picture's time: the earliest packet time not yet given to a picture (every packet
        // before it in presentation order was decoded before it came out); from its index and
        // the declared rate in a stream without a time base.
        let t = match (self.time_base, self.unassigned.pop()) {
            (Some(tb), Some(Reverse(p))) => Some(seconds(Some(tb), p)),
            _ => (self.info.fps > 0.0).then(|| index as f64 / self.info.fps),
        };
        if let (Some((from, to)), Some(t)) = (self.window, t) {
            if t < from - KEEP_MARGIN_S || t > to + KEEP_MARGIN_S {
                self.outside += 1;
                return;
            }
        }
        if index % self.keep_every != 0 {
            return;
        }
        let bytes = img.pixels.len().max(1);
        self.images.push((index, img));
        while self.images.len() > 1 && self.images.len() * bytes > self.frame_budget {
            self.keep_every *= 2;
            let stride = self.keep_every;
            self.images.retain(|(i, _)| i % stride == 0);
        }
    }

    fn finish(mut self, out: &mut Demuxed) {
        if let Some(mut decoder) = self.decoder.take() {
            match decoder.flush() {
                Ok(rest) => rest.into_iter().for_each(|img| self.keep(img)),
                Err(e) => {
                    self.first_error.get_or_insert(e);
                }
            }
            // openh264 emits pictures in presentation order; MP4 packets come in decode order.
            self.pts.sort_unstable();
            if self.errors > 0 {
                out.notes.push(format!(
                    "{} of {} video packets failed to decode (first: {})",
                    self.errors,
                    self.packets,
                    self.first_error.as_deref().unwrap_or("?")
                ));
            }
            if let Some((_, first)) = self.images.first() {
                self.info.width = first.width;
                self.info.height = first.height;
            }
            let tb = self.time_base;
            let pts_of = |i: usize| self.pts.get(i).copied().unwrap_or(self.last_pts);
            out.frames = self.images.into_iter().map(|(i, image)| Frame { time_s: seconds(tb, pts_of(i)), image }).collect();
            if let Some((from, to)) = self.window {
                // Exact times now: half a frame of slack keeps the frames at the edges.
                let slack = if self.info.fps > 0.0 { 0.5 / self.info.fps } else { 0.0 };
                let before = out.frames.len();
                out.frames.retain(|f| f.time_s >= from - slack && f.time_s <= to + slack);
                self.outside += before - out.frames.len();
                if self.outside > 0 || self.undecoded > 0 {
                    let decoded = (self.packets as usize).saturating_sub(self.undecoded + self.held.len());
                    out.notes.push(format!("kept the {} frames from {from:.2} s to {to:.2} s; decoded {decoded} of {} pictures", out.frames.len(), self.packets));
                }
            }
            if self.keep_every > 1 {
                out.notes.push(format!(
                    "long video: kept every {}th of {} frames to stay within the memory budget",
                    self.keep_every, self.decoded
                ));
            }
            if out.frames.is_empty() {
                out.notes.push("video track dropped: no frame could be decoded".into());
            }
        }
        if self.info.frame_count == 0 {
            self.info.frame_count = self.packets;
        }
        if self.info.fps == 0.0 && self.info.duration_s > 0.0 {
            self.info.fps = self.info.frame_count as f64 / self.info.duration_s;
        }
        out.video = Some(self.info);
    }
}

/// Audio track state: any codec symphonia decodes; downmixed to mono as it goes.
struct AudioState {
    track_id: u32,
    time_base: Option<TimeBase>,
    decoder: Option<Box<dyn AudioDecoder>>,
    declared_frames: Option<u64>,
    frames_seen: u64,
    samples: Vec<f32>,
    interleaved: Vec<f32>,
    sample_rate: u32,
    channels: u32,
    packets: u64,
    errors: u64,
    first_error: Option<String>,
    fatal: Option<String>,
    /// The clip's audio is full (`MAX_AUDIO_SECONDS`): later packets are not decoded.
    full: bool,
    info: AudioInfo,
}

impl AudioState {
    fn new(tracks: &[Track], mode: Mode, out: &mut Demuxed) -> Option<Self> {
        let (track, params) = tracks.iter().find_map(|t| match &t.codec_params {
            Some(CodecParameters::Audio(p)) => Some((t, p)),
            _ => None,
        })?;
        let codec = audio_codec_name(params.codec);
        let sample_rate = params.sample_rate.unwrap_or(0);
        let channels = params.channels.as_ref().map_or(0, |c| c.count() as u32);
        let duration_s = match (track.num_frames, sample_rate) {
            (Some(n), r) if r > 0 => n as f64 / f64::from(r),
            _ => track_duration_s(track).unwrap_or(0.0),
        };
        let info = AudioInfo { codec: codec.clone(), sample_rate, channels, duration_s, decoder: Decoder::Builtin };
        // AAC with more than 2 channels is rejected by symphonia's AAC decoder: send it to ffmpeg.
        let too_many_aac_channels = params.codec == audio_ids::CODEC_ID_AAC && channels > 2;
        let decoder = match symphonia::default::get_codecs().make_audio_decoder(params, &AudioDecoderOptions::default()) {
            Ok(d) if !too_many_aac_channels => Some(d),
            Ok(_) => {
                out.unsupported.push(("audio", format!("{codec} ({channels} channels)")));
                out.audio_info = Some(info);
                return None;
            }
            Err(SymError::Unsupported(_)) => {
                let codec = if channels > 2 { format!("{codec} ({channels} channels)") } else { codec };
                out.unsupported.push(("audio", codec));
                out.audio_info = Some(info);
                return None;
            }
            Err(e) => {
                out.notes.push(format!("audio track dropped: cannot start the {codec} decoder: {e}"));
                out.audio_info = Some(info);
                return None;
            }
        };
        let decoder = if mode == Mode::Decode { decoder } else { None };
        Some(Self {
            track_id: track.id,
            time_base: track.time_base,
            decoder,
            declared_frames: track.num_frames,
            frames_seen: 0,
            samples: Vec::new(),
            interleaved: Vec::new(),
            sample_rate,
            channels,
            packets: 0,
            errors: 0,
            first_error: None,
            fatal: None,
            full: false,
            info,
        })
    }

    fn seconds_seen(&self, pts: i64) -> f64 {
        seconds(self.time_base, pts)
    }

    fn push(&mut self, packet: &symphonia::core::packet::Packet) {
        self.packets += 1;
        self.frames_seen += packet.dur.get();
        if self.fatal.is_some() {
            return;
        }
        if self.full {
            return;
        }
        let Some(decoder) = self.decoder.as_mut() else { return };
        match decoder.decode(packet) {
            Ok(buf) => {
                let spec = buf.spec();
                let ch = spec.channels().count().max(1);
                if !crate::dsp::resample::RATES.contains(&spec.rate()) {
                    self.fatal = Some(format!("sample rate {} Hz is outside what McGurk reads", spec.rate()));
                    return;
                }
                self.sample_rate = spec.rate();
                self.channels = ch as u32;
                buf.copy_to_vec_interleaved::<f32>(&mut self.interleaved);
                let scale = 1.0 / ch as f32;
                let room = (MAX_AUDIO_SECONDS as usize * self.sample_rate as usize).saturating_sub(self.samples.len());
                let frames = self.interleaved.len() / ch;
                self.samples.extend(self.interleaved.chunks_exact(ch).take(room).map(|f| f.iter().sum::<f32>() * scale));
                self.full = frames >= room;
            }
            Err(SymError::DecodeError(msg)) => {
                self.errors += 1;
                self.first_error.get_or_insert_with(|| msg.to_string());
            }
            Err(SymError::ResetRequired) => decoder.reset(),
            Err(e) => self.fatal = Some(e.to_string()),
        }
    }

    fn finish(self, path: &Path, out: &mut Demuxed) -> Result<(), MediaError> {
        let mut info = self.info;
        info.sample_rate = self.sample_rate;
        info.channels = self.channels;
        if self.decoder.is_none() {
            if self.frames_seen == 0 && out.video.is_none() {
                return Err(MediaError::NoSamples { path: path.to_path_buf() });
            }
            if info.duration_s == 0.0 && self.sample_rate > 0 {
                info.duration_s = self.frames_seen as f64 / f64::from(self.sample_rate);
            }
            out.audio_info = Some(info);
            return Ok(());
        }
        let broken = self.fatal.clone().or_else(|| {
            (self.packets > 0 && self.errors * 2 > self.packets).then(|| {
                format!("{} of {} packets failed ({})", self.errors, self.packets, self.first_error.as_deref().unwrap_or("?"))
            })
        });
        if let Some(why) = broken {
            out.notes.push(format!("audio track dropped: {why}"));
            out.audio_info = Some(info);
            return Ok(());
        }
        if self.errors > 0 {
            out.notes.push(format!("{} of {} audio packets failed to decode and were skipped", self.errors, self.packets));
        }
        if self.full {
            let declared = if info.duration_s > f64::from(MAX_AUDIO_SECONDS) { format!(" of {}", clock(info.duration_s)) } else { String::new() };
            out.notes.push(format!("audio cut to its first {}{declared}: McGurk keeps at most {} of audio per clip", clock(f64::from(MAX_AUDIO_SECONDS)), clock(f64::from(MAX_AUDIO_SECONDS))));
        }
        if self.samples.is_empty() {
            if out.video.is_some() || !out.frames.is_empty() {
                out.notes.push("the audio track holds no samples".into());
                out.audio_info = Some(info);
                return Ok(());
            }
            return Err(MediaError::NoSamples { path: path.to_path_buf() });
        }
        info.duration_s = self.samples.len() as f64 / f64::from(self.sample_rate.max(1));
        out.audio_info = Some(info);
        out.audio = Some(SourceAudio { samples: self.samples, sample_rate: self.sample_rate });
        Ok(())
    }
}
