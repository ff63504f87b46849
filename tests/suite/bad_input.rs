//! Every bad input from the foundation issue gives a clear error that names the file: from the
//! library, and from the CLI with a non-zero exit and no panic.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;
use mcgurk::media::{Job, LoadOptions, MediaError, open, probe};

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A PNG header claiming `w`x`h` pixels, with no pixel data (enough to read dimensions).
fn png_header(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    // An IDAT chunk holding an empty zlib stream: readers look for it before trusting the header.
    let idat: &[u8] = b"IDAT\x78\x9c\x03\x00\x00\x00\x00\x01";
    png.extend_from_slice(&((idat.len() - 4) as u32).to_be_bytes());
    png.extend_from_slice(idat);
    png.extend_from_slice(&crc32(idat).to_be_bytes());
    png.extend_from_slice(&[0, 0, 0, 0]);
    png.extend_from_slice(b"IEND");
    png.extend_from_slice(&crc32(b"IEND").to_be_bytes());
    png
}

fn tiny_png() -> Vec<u8> {
    let img = image::RgbImage::from_pixel(1, 1, image::Rgb([255, 0, 0]));
    let mut bytes = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png).unwrap();
    bytes
}

fn random_bytes(n: usize) -> Vec<u8> {
    // xorshift: deterministic noise, no dependency.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn half_of(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap();
    bytes[..bytes.len() / 2].to_vec()
}

/// (file, what the message must say)
fn bad_files(dir: &Path) -> Vec<(PathBuf, &'static str)> {
    let non_utf8 = dir.join(std::ffi::OsStr::from_bytes(b"garbage-\xff\xfe.mp4"));
    std::fs::write(&non_utf8, random_bytes(4096)).unwrap();
    let folder = dir.join("a-folder.mp4");
    std::fs::create_dir(&folder).unwrap();
    vec![
        (write(dir, "empty.mp4", b""), "empty"),
        (write(dir, "truncated.mp4", &half_of(&demo("cow.mp4"))), "truncated"),
        (write(dir, "truncated-moov-at-end.mp4", &half_of(&fixture("moov_at_end.mp4"))), "truncated"),
        (write(dir, "random.mp4", &random_bytes(100_000)), "not a recognised"),
        // The formats ffmpeg adds are named too.
        (write(dir, "random.bin", &random_bytes(5_000)), "WebM, MKV, AVI, FLV and MPEG-TS"),
        (write(dir, "notes.wav", b"these are my notes, not audio\n".repeat(50).as_slice()), "looks like text"),
        (write(dir, "one-pixel.png", &tiny_png()), "1x1"),
        (write(dir, "huge.png", &png_header(20_000, 20_000)), "20000x20000"),
        (fixture("empty.wav"), "no samples"),
        (non_utf8, "not a recognised"),
        (folder, "directory"),
    ]
}

fn check_message(err: &MediaError, path: &Path, expect: &str) {
    let msg = err.to_string();
    assert!(msg.contains(expect), "{}: expected '{expect}' in: {msg}", path.display());
    assert!(msg.contains(&path.display().to_string()), "message must name the file: {msg}");
    assert_eq!(err.path(), path);
}

#[test]
fn library_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    for (path, expect) in bad_files(dir.path()) {
        let err = open(&path, &LoadOptions::builtin_only(), &Job::detached()).expect_err(&path.display().to_string());
        check_message(&err, &path, expect);
        let err = probe(&path, &LoadOptions::builtin_only()).expect_err(&path.display().to_string());
        check_message(&err, &path, expect);
    }
}

#[test]
fn ffmpeg_does_not_change_the_verdict_on_garbage() {
    let Some(ff) = require_ffmpeg() else { return };
    let opts = LoadOptions { ffmpeg: Some(ff), ..LoadOptions::builtin_only() };
    let dir = tempfile::tempdir().unwrap();
    for (path, expect) in bad_files(dir.path()) {
        let err = open(&path, &opts, &Job::detached()).expect_err(&path.display().to_string());
        check_message(&err, &path, expect);
    }
}

#[test]
fn a_good_file_at_a_non_utf8_path_opens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(std::ffi::OsStr::from_bytes(b"tone-\xff.wav"));
    std::fs::copy(fixture("tone_22050.wav"), &path).unwrap();
    let clip = open(&path, &LoadOptions::builtin_only(), &Job::detached()).unwrap();
    assert!(clip.audio.is_some());
    assert!(clip.title().contains("tone-"));
}

#[test]
fn probe_json_handles_a_non_utf8_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(std::ffi::OsStr::from_bytes(b"tone-\xff.wav"));
    std::fs::copy(fixture("tone_22050.wav"), &path).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mcgurk")).args(["probe", "--json"]).arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc[0]["path"].as_str().unwrap().ends_with("tone-\u{fffd}.wav"));
    assert_eq!(doc[0]["audio"]["sample_rate"], 22_050);
}

#[test]
fn cli_exits_non_zero_with_a_message_and_no_panic() {
    let dir = tempfile::tempdir().unwrap();
    for (path, expect) in bad_files(dir.path()) {
        for args in [vec!["probe"], vec!["probe", "--json"], vec!["spectrogram"]] {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_mcgurk"));
            cmd.args(&args).arg(&path);
            if args[0] == "spectrogram" {
                cmd.arg("-o").arg(dir.path().join("out.png"));
            }
            let out = cmd.output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{args:?} {}: exit 0", path.display());
            assert_eq!(out.status.code(), Some(1), "{args:?} {}: {stderr}", path.display());
            assert!(stderr.contains("error:") && stderr.contains(expect), "{args:?} {}: {stderr}", path.display());
            assert!(!stderr.contains("panicked"), "{stderr}");
        }
    }
    assert!(!dir.path().join("out.png").exists(), "no output may be written for bad input");
}
