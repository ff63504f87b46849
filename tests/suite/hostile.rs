//! Files a hostile (or unlucky) user brings: non-finite samples, lying headers, hours of
//! audio in a small file, one broken clip in a dataset. Each is an error naming the file or a
//! note saying what was cut, never a panic, an abort or a run that dies.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;
use mcgurk::data::{self, DataOptions, Split};
use mcgurk::media::{Job, LoadOptions, MAX_AUDIO_SECONDS, MODEL_SAMPLE_RATE, open, probe};
use mcgurk::models::Size;

/// A WAV file: a 16-byte format chunk (or 40 for WAVE_FORMAT_EXTENSIBLE) and `data`.
pub fn wav_bytes(tag: u16, channels: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
    let align = channels.wrapping_mul(bits / 8);
    let mut fmt = Vec::new();
    fmt.extend_from_slice(&tag.to_le_bytes());
    fmt.extend_from_slice(&channels.to_le_bytes());
    fmt.extend_from_slice(&rate.to_le_bytes());
    fmt.extend_from_slice(&rate.wrapping_mul(u32::from(align)).to_le_bytes());
    fmt.extend_from_slice(&align.to_le_bytes());
    fmt.extend_from_slice(&bits.to_le_bytes());
    if tag == 0xFFFE {
        fmt.extend_from_slice(&22u16.to_le_bytes());
        fmt.extend_from_slice(&bits.to_le_bytes());
        fmt.extend_from_slice(&u32::MAX.to_le_bytes());
        // KSDATAFORMAT_SUBTYPE_PCM
        fmt.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71]);
    }
    let mut v = b"RIFF".to_vec();
    v.extend_from_slice(&((4 + 8 + fmt.len() + 8 + data.len()) as u32).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
    v.extend_from_slice(&fmt);
    v.extend_from_slice(b"data");
    v.extend_from_slice(&(data.len() as u32).to_le_bytes());
    v.extend_from_slice(data);
    v
}

/// Two seconds of a 440 Hz tone as 32-bit float at 44.1 kHz, sample 1000 NaN, 3000 +Inf.
fn float_wav_with_nan() -> Vec<u8> {
    let mut x: Vec<f32> = (0..88_200).map(|i| 0.5 * (i as f32 * 440.0 * std::f32::consts::TAU / 44_100.0).sin()).collect();
    x[1000] = f32::NAN;
    x[3000] = f32::INFINITY;
    let data: Vec<u8> = x.iter().flat_map(|s| s.to_le_bytes()).collect();
    wav_bytes(3, 1, 44_100, 32, &data)
}

#[test]
fn a_float_wav_with_nan_and_inf_opens_with_finite_audio() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "nan.wav", &float_wav_with_nan());
    let clip = open(&path, &LoadOptions::builtin_only(), &Job::detached()).unwrap();
    let audio = clip.audio.unwrap();
    assert_eq!(audio.sample_rate, MODEL_SAMPLE_RATE);
    assert!(audio.samples.iter().all(|s| s.is_finite()));
    assert!(peak(&audio.samples) > 0.4, "the tone survives");
    // The commands that decode it work too.
    let out = Command::new(env!("CARGO_BIN_EXE_mcgurk")).arg("spectrogram").arg(&path).arg("-o").arg(dir.path().join("s.png")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(env!("CARGO_BIN_EXE_mcgurk")).args(["predict", "--audio"]).arg(&path).arg("--image").arg(root().join("assets/data/farm-av/cow/gcompris-cow.webp")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Hours declared (here 21 minutes of real samples at 1 kHz, 2.5 MB) are cut to the clip limit,
/// and the clip says so.
#[test]
fn long_audio_is_cut_to_the_limit_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let seconds = MAX_AUDIO_SECONDS + 60;
    let data: Vec<u8> = (0..seconds * 1000).flat_map(|i| (((i % 50) as i16 - 25) * 400).to_le_bytes()).collect();
    let path = write(dir.path(), "long.wav", &wav_bytes(1, 1, 1000, 16, &data));
    let clip = open(&path, &LoadOptions::builtin_only(), &Job::detached()).unwrap();
    let kept = clip.audio.as_ref().unwrap().samples.len();
    assert_eq!(kept, MAX_AUDIO_SECONDS as usize * MODEL_SAMPLE_RATE as usize);
    assert!(clip.notes.iter().any(|n| n.contains("audio cut to its first 20:00 of 21:00")), "{:?}", clip.notes);
}

fn hostile_wavs(dir: &Path) -> Vec<(PathBuf, &'static str)> {
    let pcm = vec![0u8; 4096];
    vec![
        (write(dir, "extensible-33.wav", &wav_bytes(0xFFFE, 33, 48_000, 16, &pcm)), "33 channels"),
        (write(dir, "rate-max.wav", &wav_bytes(1, 1, u32::MAX, 16, &pcm)), "4294967295 Hz"),
        (write(dir, "rate-one.wav", &wav_bytes(1, 1, 1, 16, &pcm)), "1 Hz"),
        (write(dir, "zero-bits.wav", &wav_bytes(1, 2, 44_100, 0, &pcm)), "0 bits"),
    ]
}

#[test]
fn lying_wav_headers_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    for (path, expect) in hostile_wavs(dir.path()) {
        for err in [probe(&path, &LoadOptions::builtin_only()).unwrap_err(), open(&path, &LoadOptions::builtin_only(), &Job::detached()).unwrap_err()] {
            let msg = err.to_string();
            assert!(msg.contains(expect) && msg.contains(&path.display().to_string()), "{msg}");
        }
        let out = Command::new(env!("CARGO_BIN_EXE_mcgurk")).arg("probe").arg(&path).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(expect) && !stderr.contains("panicked"), "{stderr}");
    }
}

/// One broken clip is skipped and listed; the rest of the dataset is decoded; a class that
/// lost every clip is said loudly.
#[test]
fn a_broken_clip_is_skipped_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let farm = root().join("assets/data/farm-av");
    let bad = write(dir.path(), "broken.wav", &wav_bytes(0xFFFE, 33, 48_000, 16, &[0; 64]));
    let nan = write(dir.path(), "nan.wav", &float_wav_with_nan());
    let csv = format!(
        "\u{feff}path,label,split\n{f}/cow/gcompris-cow.ogg;{f}/cow/gcompris-cow.webp,cow,train\n{b};{f}/dog/gcompris-dog.webp,dog,train\n{n};{f}/duck/gcompris-duck.webp,duck,train\n",
        f = farm.display(),
        b = bad.display(),
        n = nan.display(),
    );
    let manifest = write(dir.path(), "list.csv", csv.as_bytes());
    // A byte-order mark before the header is not part of it.
    let ds = data::open(&manifest, &DataOptions::default()).unwrap();
    assert_eq!(ds.items.len(), 3, "{:?}", ds.skipped);
    let (prepared, _, notes) = mcgurk::train::prepare_all(&ds, &[Split::Train], Size::Small.input(), &|_, _| {});
    assert_eq!(prepared.len(), 2, "{notes:?}");
    assert!(notes.iter().any(|n| n.contains("33 channels") && n.contains("broken.wav")), "{notes:?}");
    assert!(notes.iter().any(|n| n.contains("class 'dog' has no usable clip")), "{notes:?}");
}

#[test]
fn a_manifest_naming_a_device_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write(dir.path(), "list.csv", b"/dev/zero,noise,train\n");
    match data::open(&manifest, &DataOptions::default()) {
        Ok(ds) => assert!(ds.skipped.iter().any(|s| s.contains("not a regular file") && s.contains("/dev/zero")), "{:?}", ds.skipped),
        Err(e) => assert!(e.to_string().contains("not a regular file"), "{e}"),
    }
}

mod model_files {
    use super::*;
    use burn::prelude::Device;
    use mcgurk::models::file;
    use mcgurk::models::safetensors::{SafeTensors, StoreAs};

    /// A safetensors file from a JSON header and data bytes.
    fn safetensors(header: &str, data: &[u8]) -> Vec<u8> {
        let mut v = (header.len() as u64).to_le_bytes().to_vec();
        v.extend_from_slice(header.as_bytes());
        v.extend_from_slice(data);
        v
    }

    fn load_err(dir: &Path, name: &str, bytes: &[u8]) -> String {
        let path = write(dir, name, bytes);
        let e = file::load(&path, None, &Device::flex()).err().unwrap_or_else(|| panic!("{name} loaded"));
        let msg = e.to_string();
        assert!(msg.contains(&path.display().to_string()), "the message names the file: {msg}");
        msg
    }

    #[test]
    fn lying_headers_are_refused_before_anything_is_built() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let overflow = safetensors(r#"{"classifier.weight":{"dtype":"F32","shape":[8589934592,8589934592,4],"data_offsets":[0,0]}}"#, &[]);
        assert!(load_err(d, "overflow.safetensors", &overflow).contains("more elements than memory can hold"));
        let zero = safetensors(
            r#"{"audio.0.weight":{"dtype":"F32","shape":[4,1,3],"data_offsets":[0,48]},"classifier.weight":{"dtype":"F32","shape":[1099511627776,0],"data_offsets":[48,48]}}"#,
            &[0; 48],
        );
        assert!(load_err(d, "zero-dim.safetensors", &zero).contains("1099511627776 classes"));
        let dup = safetensors(
            r#"{"classifier.weight":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"classifier.weight":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
            &[0; 4],
        );
        assert!(load_err(d, "dup.safetensors", &dup).contains("appears twice"));
        let overlap = safetensors(
            r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
            &[0; 12],
        );
        assert!(load_err(d, "overlap.safetensors", &overlap).contains("share bytes"));
        let meta = safetensors(r#"{"__metadata__":[1,2],"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, &[0; 4]);
        assert!(load_err(d, "meta.safetensors", &meta).contains("__metadata__ is not an object"));
    }

    /// A real model file with one number changed.
    fn edited_zoo_file(edit: impl FnOnce(&mut SafeTensors)) -> Vec<u8> {
        let bytes = std::fs::read(root().join("assets/models/concat.safetensors")).unwrap();
        let mut st = SafeTensors::parse(&bytes).unwrap();
        edit(&mut st);
        st.to_bytes(StoreAs::F32)
    }

    #[test]
    fn a_negative_variance_or_an_impossible_input_size_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let neg = edited_zoo_file(|st| st.tensors.get_mut("visual.bn1.running_var").unwrap().values[0] = -1.0);
        assert!(load_err(dir.path(), "negvar.safetensors", &neg).contains("negative variance"));
        for (samples, expect) in [(0, "input.samples = 0"), (1usize << 40, "input.samples = 1099511627776")] {
            let bytes = edited_zoo_file(|st| {
                let meta = st.metadata.get_mut("mcgurk").unwrap();
                let mut info: serde_json::Value = serde_json::from_str(meta).unwrap();
                info["input"]["samples"] = samples.into();
                *meta = info.to_string();
            });
            assert!(load_err(dir.path(), "input.safetensors", &bytes).contains(expect));
        }
        // The unedited file still loads.
        let ok = write(dir.path(), "ok.safetensors", &edited_zoo_file(|_| {}));
        file::load(&ok, None, &Device::flex()).unwrap();
    }

    #[test]
    fn a_fifo_or_a_device_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("weights.safetensors");
        assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        for path in [fifo.as_path(), Path::new("/dev/zero")] {
            let msg = file::load(path, None, &Device::flex()).err().unwrap().to_string();
            assert!(msg.contains("not a regular file"), "{msg}");
        }
        let out = Command::new(env!("CARGO_BIN_EXE_mcgurk")).args(["predict", "--audio"]).arg(fixture("tone_22050.wav")).arg("--image").arg(root().join("assets/data/farm-av/cow/gcompris-cow.webp")).arg("--weights").arg(&fifo).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains("not a regular file"), "{stderr}");
    }
}

/// Weights that load but overflow (every number finite, their products not) make `predict` fail
/// with the model's name instead of printing null logits with exit 0.
#[test]
fn non_finite_logits_are_an_error_naming_the_model() {
    use mcgurk::models::safetensors::{SafeTensors, StoreAs};
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(root().join("assets/models/concat.safetensors")).unwrap();
    let mut st = SafeTensors::parse(&bytes).unwrap();
    st.tensors.get_mut("classifier.weight").unwrap().values.iter_mut().for_each(|v| *v *= 1e38);
    let path = write(dir.path(), "overflow.safetensors", &st.to_bytes(StoreAs::F32));
    let out = Command::new(env!("CARGO_BIN_EXE_mcgurk")).arg("predict").arg(demo("cow.mp4")).arg("--model").arg(&path).arg("--json").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("non-finite logit") && stderr.contains("overflow"), "{stderr}");
}
