//! The robustness table's numbers on a case whose answers are known before it runs, and ExFMem's
//! memory banks.

use std::process::Command;

use burn::prelude::*;
use mcgurk::data::{DataOptions, Split};
use mcgurk::models::input::batch;
use mcgurk::models::safetensors::{SafeTensors, StoreAs};
use mcgurk::models::zoo;

use crate::common::*;

fn data() -> std::path::PathBuf {
    root().join("assets/data/farm-av")
}

/// The demo Sum model with its classifier's weights zeroed and its bias pointing at `class`: it
/// answers `class` whatever it hears or sees, and no input gradient reaches its inputs.
fn constant_model(dir: &std::path::Path, class: usize) -> std::path::PathBuf {
    let mut st = SafeTensors::parse(&std::fs::read(root().join("assets/models/sum.safetensors")).unwrap()).unwrap();
    let w = st.tensors.get_mut("classifier.weight").unwrap();
    w.values.iter_mut().for_each(|v| *v = 0.0);
    let b = st.tensors.get_mut("classifier.bias").unwrap();
    b.values = (0..b.values.len()).map(|i| if i == class { 3.0 } else { 0.0 }).collect();
    let path = dir.join("constant.safetensors");
    std::fs::write(&path, st.to_bytes(StoreAs::F32)).unwrap();
    path
}

#[test]
fn a_model_that_ignores_its_inputs_gives_the_table_known_in_advance() {
    let dir = tempfile::tempdir().unwrap();
    let model = constant_model(dir.path(), 2);
    let json_path = dir.path().join("t.json");
    // The nine training clips, one per class: the model is right on the cow only.
    let out = Command::new(env!("CARGO_BIN_EXE_mcgurk"))
        .args(["eval", "--data", data().to_str().unwrap(), "--holdout", "tuxpaint", "--split", "train"])
        .args(["--model", model.to_str().unwrap(), "--method", "pgd", "--steps", "3", "--sweep", "0,1,4"])
        .args(["--json", json_path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    let row = &doc["rows"][0];
    let f = |k: &str| row[k].as_f64().unwrap();
    let ninth = f64::from(1.0f32 / 9.0);
    for k in ["clean", "audio_attacked", "video_attacked", "both_attacked", "avg", "worst_case"] {
        assert!((f(k) - ninth).abs() < 1e-6, "{k} = {}", f(k));
    }
    assert_eq!(row["clips"], 9);
    // Every attack of every clip had nothing to follow: 9 clips x (xA, xV, xAV).
    assert_eq!(row["dead_gradients"], 27);
    // Equal scores for every clip: chance ranking (AUC 0.5, d' 0), clean and attacked.
    for r in ["ranking_clean", "ranking_attacked"] {
        assert!((row[r]["auc"].as_f64().unwrap() - 0.5).abs() < 1e-9 && row[r]["d_prime"].as_f64().unwrap().abs() < 1e-9, "{}", row[r]);
    }
    let sanity: Vec<(String, bool)> =
        doc["sanity"].as_array().unwrap().iter().map(|s| (s["check"].as_str().unwrap().to_string(), s["ok"].as_bool().unwrap())).collect();
    let expect = [
        ("gradients neither zero nor NaN", false),
        ("accuracy non-increasing in eps", true),
        ("largest eps reaches chance (11.1%)", true),
        ("iterative attack at least as strong as FGSM", true),
    ];
    assert_eq!(sanity, expect.map(|(c, ok)| (c.to_string(), ok)).to_vec());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("27 attacks could not move their input"), "{text}");

    // Pointing at the sheep, with the sheep's clip left out: right on none, every number 0.
    let model = constant_model(dir.path(), 8);
    let out = Command::new(env!("CARGO_BIN_EXE_mcgurk"))
        .args(["eval", "--data", data().to_str().unwrap(), "--holdout", "tuxpaint", "--split", "train", "--limit", "8"])
        .args(["--model", model.to_str().unwrap(), "--method", "fgsm", "--json", json_path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    let row = &doc["rows"][0];
    assert_eq!(row["clips"], 8, "the first 8 clips by id: cat to pig, no sheep");
    for k in ["clean", "audio_attacked", "video_attacked", "both_attacked", "avg", "worst_case"] {
        assert_eq!(row[k].as_f64(), Some(0.0), "{k}");
    }
    assert_eq!(row["dead_gradients"], 24);
}

#[test]
fn exfmem_banks_hold_the_training_clips_features_and_defend_in_the_table() {
    let device = Device::flex();
    let model = zoo::find("sum").unwrap().load(&device).unwrap();
    let ds = mcgurk::data::open(&data(), &DataOptions { holdout: Some("tuxpaint".into()), ..Default::default() }).unwrap();
    let (train, _, notes) = mcgurk::train::prepare_all(&ds, &[Split::Train], model.info.input, &|_, _| {});
    assert!(notes.is_empty(), "{notes:?}");
    let train: Vec<_> = train.iter().collect();
    assert_eq!(train.len(), 9);
    let views = 3;
    let defended = mcgurk::eval::with_exfmem(&model, &train, views);
    assert_eq!(defended.info.name, "sum+exfmem");
    let x = defended.net.exfmem.as_ref().unwrap();
    let (audio, visual) = (x.audio.as_ref().unwrap(), x.visual.as_ref().unwrap());
    // One row per training sample: each clip and views - 1 augmented views of it.
    assert_eq!((audio.n, visual.n), (9 * views, 9 * views));
    // Row clip * views is the clip itself, unaugmented, through the undefended model.
    for (i, p) in train.iter().enumerate() {
        let ex = p.example(model.info.input, None);
        let (wave, pixels) = batch(&[&ex], &device);
        let f = model.net.features(wave, pixels);
        for (bank, feature) in [(audio, f.fa.unwrap()), (visual, f.fv.unwrap())] {
            let want: Vec<f32> = feature.into_data().try_to_vec::<f32>().unwrap();
            let row = &bank.rows[i * views * bank.dim..(i * views + 1) * bank.dim];
            let err = want.iter().zip(row).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(err < 1e-4 * want.iter().fold(1.0, |m, v| v.abs().max(m)), "clip {i}: {err}");
        }
    }
    // In the table: the defended twin gets its own row, attacked through the defense.
    let out = Command::new(env!("CARGO_BIN_EXE_mcgurk"))
        .args(["eval", "--data", data().to_str().unwrap(), "--holdout", "tuxpaint", "--split", "test", "--limit", "3"])
        .args(["--model", "sum", "--method", "fgsm", "--exfmem", "--exfmem-views", "2"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("sum")).collect();
    assert!(rows.iter().any(|l| l.starts_with("sum+exfmem") && l.split_whitespace().nth(1) == Some("3")), "{text}");
    let out = Command::new(env!("CARGO_BIN_EXE_mcgurk"))
        .args(["eval", "--data", data().to_str().unwrap(), "--holdout", "tuxpaint", "--split", "train", "--model", "sum", "--exfmem"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("evaluate another split"));
}
