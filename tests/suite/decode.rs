//! Decoding committed clips: counts, rates, durations, and pixel/sample values checked against
//! values measured independently with ffmpeg (see tests/fixtures/make_fixtures.sh).

use crate::common::*;
use mcgurk::media::{Decoder, Job, LoadOptions, MODEL_SAMPLE_RATE, open, open_pair, probe};

fn builtin() -> LoadOptions {
    LoadOptions::builtin_only()
}

/// A time window decodes only from the IDR picture before it (every second here, B-frames
/// between) and stops after it; what it keeps equals the full decode's frames there, times and
/// pixels, wherever the window falls.
#[test]
fn a_window_keeps_exactly_the_full_decodes_frames() {
    let path = fixture("rgb_tone.mp4");
    let full = open(&path, &builtin(), &Job::detached()).unwrap();
    // (Edges 0.03 s from a frame: half a frame's slack either side keeps the same frames.)
    for (from, to) in [(0.0, 0.23), (0.97, 1.03), (0.97, 1.33), (2.07, 2.43), (2.77, 3.5), (5.0, 6.0)] {
        let windowed = open(&path, &LoadOptions { window: Some((from, to)), ..builtin() }, &Job::detached()).unwrap();
        let expected: Vec<_> = full.frames.iter().filter(|f| f.time_s >= from && f.time_s <= to).collect();
        assert_eq!(windowed.frames.len(), expected.len(), "{from}..{to}: {:?}", windowed.frames.iter().map(|f| f.time_s).collect::<Vec<_>>());
        for (w, f) in windowed.frames.iter().zip(expected) {
            assert!((w.time_s - f.time_s).abs() < 1e-9 && w.image.pixels == f.image.pixels, "{from}..{to}: the frame at {} s", f.time_s);
        }
        // The sound is whole either way.
        assert_eq!(windowed.audio.as_ref().map(|a| a.samples.len()), full.audio.as_ref().map(|a| a.samples.len()));
    }
    // From 2.07 s the first two seconds' pictures are never decoded (the IDR picture at 1 s is
    // more than a second before).
    let late = open(&path, &LoadOptions { window: Some((2.07, 2.43)), ..builtin() }, &Job::detached()).unwrap();
    let decoded = late.notes.iter().find_map(|n| n.split("decoded ").nth(1)?.strip_suffix(" of 30 pictures")?.parse::<usize>().ok());
    assert_eq!(decoded, Some(20), "{:?}", late.notes);
}

#[test]
fn h264_aac_mp4_frames_and_audio() {
    let clip = open(&fixture("rgb_tone.mp4"), &builtin(), &Job::detached()).unwrap();
    assert_eq!(clip.frames.len(), 30);
    let info = &clip.sources[0];
    assert_eq!(info.container, "mp4");
    let v = info.video.as_ref().unwrap();
    assert_eq!((v.codec.as_str(), v.width, v.height, v.frame_count), ("h264", 160, 120, 30));
    assert!((v.fps - 10.0).abs() < 0.01, "fps {}", v.fps);
    assert!((v.duration_s - 3.0).abs() < 0.01, "duration {}", v.duration_s);
    assert_eq!(v.decoder, Decoder::Builtin);
    let a = info.audio.as_ref().unwrap();
    assert_eq!((a.codec.as_str(), a.sample_rate, a.channels), ("aac", 44_100, 2));

    // Timestamps: 0.0, 0.1, ... in presentation order although the stream has B-frames.
    for (i, f) in clip.frames.iter().enumerate() {
        assert!((f.time_s - i as f64 * 0.1).abs() < 1e-6, "frame {i} at {}", f.time_s);
    }
    // Pixels: red, then green, then blue (ffmpeg decodes 253/254 per channel).
    assert!(close_rgb(clip.frames[0].image.mean_rgb(), [253.0, 0.0, 0.0], 4.0), "{:?}", clip.frames[0].image.mean_rgb());
    assert!(close_rgb(clip.frames[15].image.mean_rgb(), [0.0, 254.0, 0.0], 4.0), "{:?}", clip.frames[15].image.mean_rgb());
    assert!(close_rgb(clip.frames[25].image.mean_rgb(), [0.0, 0.0, 254.0], 4.0), "{:?}", clip.frames[25].image.mean_rgb());

    // Audio: resampled to 11025 Hz mono, 3 s of a 440 Hz sine at amplitude 0.5.
    let audio = clip.audio.as_ref().unwrap();
    assert_eq!(audio.sample_rate, MODEL_SAMPLE_RATE);
    let expected = 3 * MODEL_SAMPLE_RATE as usize;
    assert!(audio.samples.len().abs_diff(expected) < 600, "{} samples", audio.samples.len());
    assert!((zero_crossing_hz(&audio.samples, MODEL_SAMPLE_RATE) - 440.0).abs() < 3.0);
    assert!((peak(&audio.samples) - 0.5).abs() < 0.05, "peak {}", peak(&audio.samples));
}

#[test]
fn moov_at_the_end_decodes_the_same() {
    let a = open(&fixture("rgb_tone.mp4"), &builtin(), &Job::detached()).unwrap();
    let b = open(&fixture("moov_at_end.mp4"), &builtin(), &Job::detached()).unwrap();
    assert_eq!(a.frames.len(), b.frames.len());
    assert_eq!(a.frames[7].image, b.frames[7].image);
    assert_eq!(a.audio.unwrap().samples, b.audio.unwrap().samples);
}

#[test]
fn demo_clip_matches_ffmpeg() {
    let clip = open(&demo("cow.mp4"), &builtin(), &Job::detached()).unwrap();
    let v = clip.sources[0].video.as_ref().unwrap();
    assert_eq!((v.width, v.height, v.frame_count), (448, 336, 52));
    assert!((v.fps - 8.0).abs() < 0.01);
    assert_eq!(clip.frames.len(), 52);
    // Mean colours of frames 0, 26, 51 as decoded by ffmpeg.
    for (i, want) in [(0, [111.14, 123.37, 91.63]), (26, [110.01, 121.82, 90.08]), (51, [109.39, 120.95, 89.57])] {
        let got = clip.frames[i].image.mean_rgb();
        assert!(close_rgb(got, want, 2.0), "frame {i}: {got:?} vs {want:?}");
    }
    let a = clip.sources[0].audio.as_ref().unwrap();
    assert_eq!((a.sample_rate, a.channels), (44_100, 1));
    let audio = clip.audio.as_ref().unwrap();
    // ffmpeg decodes 286720 samples at 44.1 kHz.
    let expected = 286_720 * 11_025 / 44_100;
    assert!(audio.samples.len().abs_diff(expected) < 600, "{}", audio.samples.len());
    // A cow moos: the clip is not silent, and stays in range.
    assert!(peak(&audio.samples) > 0.1);
    assert!(audio.samples.iter().all(|s| (-1.0..=1.0).contains(s)));
    assert!(clip.notes.is_empty(), "{:?}", clip.notes);
}

#[test]
fn audio_formats_decode_to_the_model_rate() {
    // (file, source rate, channels, codec)
    let cases = [
        ("tone_22050.wav", 22_050, 1, "pcm_s16le"),
        ("tone_48000.flac", 48_000, 1, "flac"),
        ("tone_44100.mp3", 44_100, 2, "mp3"),
        ("tone_44100.ogg", 44_100, 1, "vorbis"),
        ("tone_11000.wav", 11_000, 1, "pcm_s16le"),
    ];
    for (name, rate, channels, codec) in cases {
        let clip = open(&fixture(name), &builtin(), &Job::detached()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let a = clip.sources[0].audio.as_ref().unwrap();
        assert_eq!(a.sample_rate, rate, "{name}");
        assert_eq!(a.channels, channels, "{name}");
        if codec != "pcm_s16le" {
            assert_eq!(a.codec, codec, "{name}");
        }
        assert!(clip.frames.is_empty());
        let audio = clip.audio.unwrap();
        assert!(audio.samples.len().abs_diff(11_025) < 400, "{name}: {} samples", audio.samples.len());
        let hz = zero_crossing_hz(&audio.samples, MODEL_SAMPLE_RATE);
        assert!((hz - 440.0).abs() < 3.0, "{name}: {hz} Hz");
        assert!((peak(&audio.samples) - 0.5).abs() < 0.05, "{name}: peak {}", peak(&audio.samples));
    }
    // 11000 Hz is resampled, not relabelled (the reference code's bug): exact length.
    let clip = open(&fixture("tone_11000.wav"), &builtin(), &Job::detached()).unwrap();
    assert_eq!(clip.audio.unwrap().samples.len(), 11_025);
}

#[test]
fn audio_plus_image_is_a_clip() {
    let clip = open_pair(&demo("dog.ogg"), &demo("dog.png"), &builtin(), &Job::detached()).unwrap();
    assert_eq!(clip.sources.len(), 2);
    assert_eq!(clip.frames.len(), 1);
    assert_eq!((clip.frames[0].image.width, clip.frames[0].image.height), (194, 222));
    let audio = clip.audio.as_ref().unwrap();
    // ffmpeg decodes 40894 samples at 44.1 kHz.
    assert!(audio.samples.len().abs_diff(40_894 * 11_025 / 44_100) < 300);
    // The still stands at the centre of the audio.
    assert!((clip.frames[0].time_s - audio.duration_s() / 2.0).abs() < 1e-9);
    assert_eq!(clip.title(), "dog.ogg + dog.png");
}

#[test]
fn webp_and_png_open_as_single_frames() {
    let clip = open(&demo("dog.png"), &builtin(), &Job::detached()).unwrap();
    assert_eq!(clip.frames.len(), 1);
    assert!(clip.audio.is_none());
    let farm = root().join("../shared/data/farm-av/cow/gcompris-cow.webp");
    if farm.exists() {
        let clip = open(&farm, &builtin(), &Job::detached()).unwrap();
        assert_eq!((clip.frames[0].image.width, clip.frames[0].image.height), (1024, 768));
    }
}

#[test]
fn video_without_audio_still_opens() {
    let clip = open(&fixture("video_only.mp4"), &builtin(), &Job::detached()).unwrap();
    assert_eq!(clip.frames.len(), 30);
    assert!(clip.audio.is_none());
    assert!(clip.notes.iter().any(|n| n.contains("no audio track")), "{:?}", clip.notes);
}

#[test]
fn probe_reports_without_decoding() {
    let info = probe(&fixture("rgb_tone.mp4"), &builtin()).unwrap();
    let v = info.video.unwrap();
    assert_eq!((v.width, v.height, v.frame_count), (160, 120, 30));
    let a = info.audio.unwrap();
    assert_eq!((a.sample_rate, a.channels), (44_100, 2));
    assert!((info.duration_s - 3.0).abs() < 0.05, "{}", info.duration_s);
    let info = probe(&fixture("tone_48000.flac"), &builtin()).unwrap();
    assert!(info.video.is_none());
    assert!((info.audio.unwrap().duration_s - 1.0).abs() < 0.01);
}

#[test]
fn frame_budget_keeps_every_nth_frame() {
    // Room for 10 of the 30 frames: the stride doubles until the kept frames fit (1, 2, 4).
    let opts = LoadOptions { frame_budget_bytes: 160 * 120 * 3 * 10, ..builtin() };
    let clip = open(&fixture("rgb_tone.mp4"), &opts, &Job::detached()).unwrap();
    assert_eq!(clip.frames.len(), 8);
    for (k, f) in clip.frames.iter().enumerate() {
        assert!((f.time_s - k as f64 * 0.4).abs() < 1e-6, "frame {k} at {}", f.time_s);
    }
    // Still the right pictures: frame 12 (t = 1.2 s) is green.
    assert!(close_rgb(clip.frames[3].image.mean_rgb(), [0.0, 254.0, 0.0], 4.0));
    assert!(clip.notes.iter().any(|n| n.contains("kept every 4th of 30 frames")), "{:?}", clip.notes);
}

#[test]
fn cancelling_stops_a_load() {
    let cancel = std::sync::atomic::AtomicBool::new(true);
    let job = Job::new(&|_| {}, &cancel);
    let err = open(&demo("cow.mp4"), &builtin(), &job).unwrap_err();
    assert!(err.to_string().contains("cancelled"), "{err}");
}

#[test]
fn progress_is_reported_and_monotonic() {
    let seen = std::sync::Mutex::new(Vec::new());
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let report = |f: f32| seen.lock().unwrap().push(f);
    open(&demo("cow.mp4"), &builtin(), &Job::new(&report, &cancel)).unwrap();
    let seen = seen.into_inner().unwrap();
    assert!(seen.len() > 3, "{seen:?}");
    assert_eq!(seen.last(), Some(&1.0));
    assert!(seen.iter().all(|f| (0.0..=1.0).contains(f)));
}

#[test]
fn a_broken_audio_track_keeps_the_video() {
    let clip = open(&fixture("broken_audio.mp4"), &builtin(), &Job::detached()).unwrap();
    assert_eq!(clip.frames.len(), 30);
    assert!(close_rgb(clip.frames[15].image.mean_rgb(), [0.0, 254.0, 0.0], 4.0));
    // The user is told what happened to the audio.
    assert!(clip.notes.iter().any(|n| n.contains("audio")), "{:?}", clip.notes);
}

#[test]
fn a_broken_video_track_keeps_the_audio() {
    let clip = open(&fixture("broken_video.mp4"), &builtin(), &Job::detached()).unwrap();
    let audio = clip.audio.as_ref().expect("audio survives");
    assert!((zero_crossing_hz(&audio.samples, MODEL_SAMPLE_RATE) - 440.0).abs() < 3.0);
    assert!((peak(&audio.samples) - 0.5).abs() < 0.05);
    assert!(clip.notes.iter().any(|n| n.contains("video")), "{:?}", clip.notes);
}
