//! What an evaluation measures on one clip under one attack setting, as the line it becomes in a
//! shard's results file, and the table rows computed back from such lines. The unsharded run
//! and `eval merge` both make their tables from these records, through one JSON round trip, so
//! their numbers cannot differ.

use serde::{Deserialize, Serialize};

use super::{ModelRow, Ranking};
use crate::attacks::Norms;
use crate::models::predict::{argmax, softmax};

/// One model's answers on one clip: clean logits and the three attacks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelResult {
    pub model: String,
    #[serde(with = "floats")]
    pub clean: Vec<f32>,
    pub audio: Outcome,
    pub video: Outcome,
    pub both: Outcome,
}

/// One attack on one modality.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    #[serde(with = "floats")]
    pub logits: Vec<f32>,
    /// The attack could not move its input (zero or non-finite gradient, or a zero universal
    /// perturbation).
    pub dead: bool,
    /// Of the perturbation applied (absent for universal perturbations: one for all clips).
    pub norms: Option<Norms>,
    pub snr_db: Option<f32>,
    pub psnr_db: Option<f32>,
    /// The attack's objective after the attack (absent for universal perturbations).
    pub loss: Option<f32>,
}

/// A clip evaluated under one setting, every model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClipRecord {
    /// The clip's id (its path within the dataset) and its place in the sorted split.
    pub clip: String,
    pub index: usize,
    pub label: usize,
    pub class: String,
    /// The setting's name ("x1", "x0.5", "fgsm").
    pub setting: String,
    pub models: Vec<ModelResult>,
}

/// One clip of a model read from a spec (one model, one attack): its logits clean and attacked
/// over all of the model's classes, and what the attack did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpecRecord {
    pub clip: String,
    pub index: usize,
    /// The dataset's class.
    pub label: usize,
    #[serde(with = "floats")]
    pub clean: Vec<f32>,
    #[serde(with = "floats")]
    pub attacked: Vec<f32>,
    pub loss_clean: f32,
    pub loss_attacked: f32,
    pub norms: Norms,
    pub snr_db: Option<f32>,
    pub psnr_db: Option<f32>,
}

/// A clip that could not be decoded: listed once, never retried on resume.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    pub clip: String,
    pub index: usize,
    pub reason: String,
}

/// Whether a model reads audio and pictures (an attack on what it lacks cannot count as dead).
#[derive(Clone, Copy, Debug)]
pub struct Uses {
    pub audio: bool,
    pub visual: bool,
}

/// The table's row for model `m` (named `name`, `fusion`) over `records` (one setting, any
/// order: they are taken in clip order).
pub fn row(m: usize, name: &str, fusion: &str, uses: Uses, records: &[&ClipRecord]) -> ModelRow {
    let mut sorted: Vec<&&ClipRecord> = records.iter().collect();
    sorted.sort_by_key(|r| r.index);
    let mut row = ModelRow { name: name.into(), fusion: fusion.into(), ..Default::default() };
    let (mut clean, mut xa, mut xv, mut xav, mut worst) = (0, 0, 0, 0, 0);
    let (mut probs_clean, mut probs_adv, mut labels) = (Vec::new(), Vec::new(), Vec::new());
    for rec in sorted {
        let Some(r) = rec.models.get(m) else { continue };
        let ok_clean = argmax(&r.clean) == rec.label;
        let survived = [&r.audio, &r.video, &r.both].map(|o| argmax(&o.logits) == rec.label);
        for (o, uses) in [(&r.audio, uses.audio), (&r.video, uses.visual), (&r.both, true)] {
            row.dead_gradients += usize::from(uses && o.dead);
        }
        probs_clean.push(softmax(&r.clean));
        probs_adv.push(softmax(&r.both.logits));
        labels.push(rec.label);
        clean += usize::from(ok_clean);
        xa += usize::from(survived[0]);
        xv += usize::from(survived[1]);
        xav += usize::from(survived[2]);
        worst += usize::from(ok_clean && survived.iter().all(|s| *s));
        row.clips += 1;
    }
    row.ranking_clean = Ranking::of(&probs_clean, &labels);
    row.ranking_attacked = Ranking::of(&probs_adv, &labels);
    super::finish(row, clean, xa, xv, xav, worst)
}

/// Floats as JSON numbers, a non-finite one as `null` (JSON has no NaN) and back as NaN.
mod floats {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(values: &[f32], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(values.iter().map(|v| v.is_finite().then_some(*v)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f32>, D::Error> {
        let values: Vec<Option<f32>> = Vec::deserialize(d)?;
        Ok(values.into_iter().map(|v| v.unwrap_or(f32::NAN)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(logits: Vec<f32>, dead: bool) -> Outcome {
        Outcome { logits, dead, norms: None, snr_db: None, psnr_db: None, loss: None }
    }

    #[test]
    fn rows_count_what_the_records_say() {
        // Two clips of class 0 and 1; the model is right on both clean, the audio attack turns
        // clip 1 wrong, the joint attack both; one dead audio gradient (counted) and one dead
        // picture gradient of a model without pictures (not counted).
        let rec = |index: usize, label: usize, audio: Vec<f32>, dead_audio: bool| ClipRecord {
            clip: format!("c{index}"),
            index,
            label,
            class: String::new(),
            setting: "x1".into(),
            models: vec![ModelResult {
                model: "m".into(),
                clean: if label == 0 { vec![2.0, 0.0] } else { vec![0.0, 2.0] },
                audio: outcome(audio, dead_audio),
                video: outcome(if label == 0 { vec![2.0, 0.0] } else { vec![0.0, 2.0] }, true),
                both: outcome(if label == 0 { vec![0.0, 2.0] } else { vec![2.0, 0.0] }, false),
            }],
        };
        let a = rec(0, 0, vec![2.0, 0.0], true);
        let b = rec(1, 1, vec![2.0, 0.0], false);
        let r = row(0, "m", "audio", Uses { audio: true, visual: false }, &[&b, &a]);
        assert_eq!((r.clips, r.clean, r.audio_attacked, r.video_attacked, r.both_attacked, r.worst_case), (2, 1.0, 0.5, 1.0, 0.0, 0.0));
        assert_eq!(r.dead_gradients, 1);
        assert_eq!(r.ranking_clean.auc, Some(1.0));
    }

    #[test]
    fn non_finite_logits_survive_the_round_trip() {
        let o = outcome(vec![1.5, f32::NAN, f32::INFINITY], false);
        let back: Outcome = serde_json::from_str(&serde_json::to_string(&o).unwrap()).unwrap();
        assert_eq!(back.logits[0], 1.5);
        assert!(back.logits[1].is_nan() && back.logits[2].is_nan());
    }
}
