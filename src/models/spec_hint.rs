//! What to write for a foreign checkpoint given without a spec: its layout recognised from its
//! key names (PANNs' Cnn14, Li et al.'s TAL-trans, torchvision's R(2+1)D-18, Tian & Xu's
//! parts), and a spec filled in from its shapes, for the user to check and save.

use serde_json::json;

use super::safetensors::SafeTensors;

fn dim0(st: &SafeTensors, key: &str) -> Option<usize> {
    st.tensors.get(key).and_then(|t| t.shape.first().copied())
}

/// The layout's name and a spec for it, when the keys are one McGurk reads through a spec.
pub fn suggest(st: &SafeTensors) -> Option<(&'static str, String)> {
    let has = |k: &str| st.tensors.contains_key(k);
    let (what, spec) = if has("conv_block1.conv1.weight") && has("fc1.weight") {
        let head = st.tensors.keys().find(|k| k.ends_with(".weight") && !k.contains("extractor") && !k.starts_with("conv_block") && !k.starts_with("bn0") && !k.starts_with("fc1.") && dim0(st, k).is_some())?;
        let prefix = head.trim_end_matches("weight").to_string();
        let classes = dim0(st, head)?;
        let mels = dim0(st, "bn0.weight").unwrap_or(64);
        let spec = json!({ "format": 1, "name": "cnn14",
            "audio": { "encoder": "cnn14", "sample_rate": 32000, "samples": 320000,
                "frontend": { "n_fft": 1024, "win_length": 1024, "hop_length": 320, "center": true, "pad_mode": "reflect",
                    "power": 2.0, "n_mels": mels, "f_min": 50, "f_max": 14000, "mel_scale": "slaney", "mel_norm": "slaney",
                    "db": { "ref": 1.0, "amin": 1e-10, "top_db": null } } },
            "head": "linear", "output": "sigmoid", "classes": classes, "keys": { "audio": "", "head": prefix } });
        ("PANNs' Cnn14 (PANNs' front end at 32 kHz assumed: check yours)", spec)
    } else if has("enc_layer.slf_attn.w_qs.weight") && has("fc_prob.weight") {
        let classes = dim0(st, "fc_prob.weight")?;
        let spec = json!({ "format": 1, "name": "tal-trans",
            "audio": { "encoder": "tal_trans", "sample_rate": 16000, "samples": 160000,
                "frontend": { "n_fft": 4096, "win_length": 1024, "hop_length": 400, "center": true, "pad_mode": "reflect",
                    "power": 2.0, "n_mels": 64, "f_min": 0, "f_max": 8000, "mel_scale": "slaney", "mel_norm": "slaney",
                    "db": { "ref": 1.0, "amin": 1e-10, "top_db": null }, "frames": 400, "mean": -29.69, "std": 81.8 },
                "options": { "heads": 8, "transformer_passes": 2 } },
            "head": "attention_pooling", "output": "sigmoid", "classes": classes, "keys": { "audio": "", "head": "" } });
        ("Li et al.'s TAL-trans (their front end assumed: check yours)", spec)
    } else if has("stem.0.weight") && has("layer1.0.conv1.0.0.weight") {
        let classes = dim0(st, "fc.weight")?;
        let spec = json!({ "format": 1, "name": "r2plus1d",
            "visual": { "encoder": "r2plus1d_18", "frames": 16, "size": 112, "fps": null },
            "head": "linear", "output": "softmax", "classes": classes, "keys": { "visual": "", "head": "fc." } });
        ("torchvision's R(2+1)D-18 (16 frames of 112 px assumed: check yours)", spec)
    } else if has("features.0.weight") {
        let spec = json!({ "format": 1, "name": "tian",
            "audio": { "encoder": "tian", "sample_rate": 11025, "samples": 65535 },
            "visual": { "encoder": "resnet18", "size": 224, "pool": "avg" },
            "fusion": "concat", "concat_order": ["visual", "audio"],
            "head": "linear", "output": "softmax", "classes": 28,
            "keys": { "audio": "features.", "visual": "features.", "head": "fc1." },
            "weights": { "audio": "sound_best.pth", "visual": "frame_best.pth", "head": "classifier_best.pth" } });
        ("one of Tian & Xu's checkpoints (set the classes, fusion and file names)", spec)
    } else {
        return None;
    };
    Some((what, serde_json::to_string_pretty(&spec).ok()?))
}
