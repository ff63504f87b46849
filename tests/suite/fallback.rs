//! What only ffmpeg decodes: with ffmpeg on PATH it opens; without, a clear error that names
//! the file, the codec and the remedy.

use crate::common::*;
use mcgurk::media::{Decoder, Job, LoadOptions, MediaError, open, probe};

#[test]
fn without_ffmpeg_the_error_names_file_codec_and_remedy() {
    for (name, codec) in [("hevc.mp4", "hevc"), ("vp9_opus.webm", "vp9")] {
        let path = fixture(name);
        let err = open(&path, &LoadOptions::builtin_only(), &Job::detached()).unwrap_err();
        assert!(matches!(err, MediaError::UnsupportedCodec { .. }), "{name}: {err:?}");
        let msg = err.to_string();
        assert!(msg.contains(codec), "{msg}");
        assert!(msg.contains("ffmpeg"), "{msg}");
        assert!(msg.contains(name), "{msg}");
    }
    // Probing says the same: symphonia cannot read this HEVC file's header either.
    let err = probe(&fixture("hevc.mp4"), &LoadOptions::builtin_only()).unwrap_err();
    assert!(err.to_string().contains("hevc") && err.to_string().contains("ffmpeg"), "{err}");
    // With ffmpeg, probe describes it.
    if let Some(ff) = require_ffmpeg() {
        let info = probe(&fixture("hevc.mp4"), &LoadOptions { ffmpeg: Some(ff), ..LoadOptions::builtin_only() }).unwrap();
        let v = info.video.unwrap();
        assert_eq!((v.codec.as_str(), v.width, v.height, v.frame_count), ("hevc", 64, 48, 10));
    }
}

#[test]
fn six_channel_aac_keeps_the_video_without_ffmpeg() {
    let clip = open(&fixture("aac_6ch.mp4"), &LoadOptions::builtin_only(), &Job::detached()).unwrap();
    assert_eq!(clip.frames.len(), 10);
    assert!(clip.audio.is_none());
    let note = clip.notes.join(" ");
    assert!(note.contains("aac") && note.contains("6 channels") && note.contains("ffmpeg"), "{note}");
}

#[test]
fn with_ffmpeg_everything_opens() {
    let Some(ff) = require_ffmpeg() else { return };
    let opts = LoadOptions { ffmpeg: Some(ff), ..LoadOptions::builtin_only() };

    let clip = open(&fixture("hevc.mp4"), &opts, &Job::detached()).unwrap();
    assert_eq!(clip.frames.len(), 10);
    assert_eq!(clip.sources[0].video.as_ref().unwrap().decoder, Decoder::Ffmpeg);
    assert!(close_rgb(clip.frames[5].image.mean_rgb(), [0.0, 254.0, 0.0], 4.0), "{:?}", clip.frames[5].image.mean_rgb());

    let clip = open(&fixture("vp9_opus.webm"), &opts, &Job::detached()).unwrap();
    assert_eq!(clip.frames.len(), 10);
    let audio = clip.audio.unwrap();
    assert!((zero_crossing_hz(&audio.samples, 11_025) - 440.0).abs() < 3.0);
    assert_eq!(clip.sources[0].audio.as_ref().unwrap().codec, "opus");

    let clip = open(&fixture("aac_6ch.mp4"), &opts, &Job::detached()).unwrap();
    assert_eq!(clip.frames.len(), 10);
    assert_eq!(clip.sources[0].video.as_ref().unwrap().decoder, Decoder::Builtin, "H.264 stays built-in");
    assert_eq!(clip.sources[0].audio.as_ref().unwrap().decoder, Decoder::Ffmpeg);
    assert_eq!(clip.sources[0].audio.as_ref().unwrap().channels, 6);
    assert!((zero_crossing_hz(&clip.audio.unwrap().samples, 11_025) - 440.0).abs() < 3.0);
}
