//! The class-wise robustness report of one model on a set of clips (Li et al. section 5): per
//! class the centroid density rho_c (audio, visual and fused features, each tau), the
//! convexity kappa_c of the fused feature under the classifier head, clean and attacked
//! accuracy and the drop rate; the correlation of the drop rate with kappa and rho; a PCA
//! picture of the fused embeddings, clean and attacked.
//!
//! Drop rate of class c: of the class's samples the model gets right when clean, the fraction
//! the attack turns wrong (undefined when it gets none right).

use std::sync::atomic::{AtomicBool, Ordering};

use burn::prelude::*;
use burn::tensor::TensorData;
use serde::{Deserialize, Serialize};

use super::convexity::{Convexity, class_convexity};
use super::correlation::{pearson, spearman};
use super::density::{Density, centroid_distances, density_of, distances_of};
use super::pca::Pca;
use crate::attacks::{AttackConfig, Victim, attack_victim};
use crate::data::prepare::Prepared;
use crate::data::rng::Rng;
use crate::models::input::{Example, batch};
use crate::models::predict::argmax;
use crate::models::{AvNet, LoadedModel};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Options {
    /// Samples per clip: the clip itself, then views-1 augmented views of it (seeded). Tiny
    /// datasets need views: a class of one clip has no density or convexity.
    pub views: usize,
    pub seed: u64,
    pub taus: Vec<f64>,
    /// The norm of the distances; infinity (L-inf) is written as null (JSON has no infinity).
    #[serde(with = "norm_p")]
    pub p: f32,
    /// Interpolations per class for kappa.
    pub pairs: usize,
    pub attack: Option<AttackConfig>,
    pub batch: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self { views: 1, seed: 0, taus: vec![0.6, 0.8], p: 2.0, pairs: 2000, attack: None, batch: 8 }
    }
}

/// p as JSON: a number, or null for infinity.
mod norm_p {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(p: &f32, s: S) -> Result<S::Ok, S::Error> {
        if p.is_finite() { s.serialize_some(p) } else { s.serialize_none() }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
        Ok(Option::<f32>::deserialize(d)?.unwrap_or(f32::INFINITY))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Space {
    Audio,
    Visual,
    Fused,
}

impl Space {
    pub fn name(self) -> &'static str {
        match self {
            Self::Audio => "audio",
            Self::Visual => "visual",
            Self::Fused => "fused",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DensityCell {
    pub space: Space,
    pub tau: f64,
    pub density: Density,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassRow {
    pub class: String,
    pub samples: usize,
    pub clean_acc: f64,
    pub attacked_acc: Option<f64>,
    pub drop_rate: Option<f64>,
    pub kappa: Convexity,
    pub density: Vec<DensityCell>,
}

impl ClassRow {
    pub fn rho(&self, space: Space, tau: f64) -> Option<f64> {
        self.density.iter().find(|d| d.space == space && d.tau == tau).and_then(|d| d.density.rho())
    }
}

/// Correlation of the per-class drop rate with one metric, over the classes where both exist.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Correlation {
    pub metric: String,
    pub classes: usize,
    pub pearson: Option<f64>,
    pub spearman: Option<f64>,
}

/// The fused embeddings in 2-D (PCA fitted on the clean ones).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Projection {
    pub labels: Vec<usize>,
    pub clean: Vec<[f32; 2]>,
    pub attacked: Vec<[f32; 2]>,
    /// Share of the clean variance the two axes show.
    pub explained: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub model: String,
    pub fusion: String,
    pub classes: Vec<String>,
    pub options: Options,
    pub samples: usize,
    pub rows: Vec<ClassRow>,
    pub correlations: Vec<Correlation>,
    pub projection: Projection,
}

/// Where the work is: (stage, done, of).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Embedding,
    Attacking,
    Convexity,
}

#[derive(Debug, thiserror::Error)]
pub enum ClasswiseError {
    #[error("no clips to measure")]
    Empty,
    #[error("cancelled")]
    Cancelled,
    /// A clip could not be read into the model's input.
    #[error("{0}")]
    Clip(String),
}

/// Features of a set of examples, row-major, on the host.
#[derive(Clone, Debug, Default)]
pub struct Embedded {
    pub audio: Option<(Vec<f32>, usize)>,
    pub visual: Option<(Vec<f32>, usize)>,
    pub fused: Vec<f32>,
    pub fused_dim: usize,
    pub predictions: Vec<usize>,
}

fn host(t: Tensor<2>) -> Vec<f32> {
    t.try_to_vec_as::<f32>().expect("float tensor")
}

impl Embedded {
    fn append(&mut self, other: Embedded) {
        for (mine, theirs) in [(&mut self.audio, other.audio), (&mut self.visual, other.visual)] {
            if let Some((rows, dim)) = theirs {
                mine.get_or_insert_with(|| (Vec::new(), dim)).0.extend(rows);
            }
        }
        self.fused_dim = other.fused_dim;
        self.fused.extend(other.fused);
        self.predictions.extend(other.predictions);
    }
}

/// One batch through `victim` (inference mode, on `device`).
fn embed_batch(victim: &Victim, chunk: &[Example], device: &Device) -> Embedded {
    let mut out = Embedded::default();
    let refs: Vec<&Example> = chunk.iter().collect();
    let (w, px) = batch(&refs, device);
    let f = victim.forward_features(w, px);
    for (slot, t) in [(&mut out.audio, f.fa), (&mut out.visual, f.fv)] {
        if let Some(t) = t {
            let dim = t.dims()[1];
            *slot = Some((host(t), dim));
        }
    }
    out.fused_dim = f.fused.dims()[1];
    out.fused = host(f.fused);
    let classes = f.logits.dims()[1];
    out.predictions = host(f.logits).chunks_exact(classes).map(argmax).collect();
    out
}

/// Where a report's samples come from: clips prepared at McGurk's input sizes (with augmented
/// views), or clips read at a spec model's own input.
pub trait SampleSource {
    fn len(&self) -> usize;
    fn label(&self, i: usize) -> usize;
    fn example(&self, i: usize) -> Result<Example, String>;
    fn labels(&self) -> Vec<usize> {
        (0..self.len()).map(|i| self.label(i)).collect()
    }
}

/// The samples a report measures: each clip, then `views - 1` augmented views of it (seeded),
/// made batch by batch so a large dataset never sits in memory as model inputs.
pub struct Samples<'a> {
    pub items: &'a [&'a Prepared],
    pub size: crate::models::InputSize,
    pub views: usize,
    pub seed: u64,
}

impl Samples<'_> {
    pub fn len(&self) -> usize {
        self.items.len() * self.views.max(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn label(&self, i: usize) -> usize {
        self.items[i / self.views.max(1)].label
    }

    pub fn labels(&self) -> Vec<usize> {
        (0..self.len()).map(|i| self.label(i)).collect()
    }

    /// Sample `i`: view `i % views` of clip `i / views`.
    pub fn example(&self, i: usize) -> Example {
        let (item, view) = (i / self.views.max(1), i % self.views.max(1));
        let mut rng = Rng::derive(self.seed, 0x71e5_0000 + item as u64, view as u64);
        self.items[item].example(self.size, (view > 0).then_some(&mut rng))
    }
}

impl SampleSource for Samples<'_> {
    fn len(&self) -> usize {
        Samples::len(self)
    }

    fn label(&self, i: usize) -> usize {
        Samples::label(self, i)
    }

    fn example(&self, i: usize) -> Result<Example, String> {
        Ok(Samples::example(self, i))
    }
}

/// Runs `net` (inference mode, on `device`) over `samples` in batches; `tick(done)` after each.
/// With `attack`, each batch is attacked first and the adversarial inputs are embedded.
pub fn embed(net: &AvNet, samples: &Samples, attack: Option<&AttackConfig>, batch_size: usize, device: &Device, cancel: &AtomicBool, tick: &mut dyn FnMut(usize)) -> Result<Embedded, ClasswiseError> {
    embed_victim(&Victim::AudioVisual(net.clone()), samples, attack, batch_size, device, cancel, tick)
}

/// [`embed`] for any model an attack can differentiate.
pub fn embed_victim(victim: &Victim, samples: &dyn SampleSource, attack: Option<&AttackConfig>, batch_size: usize, device: &Device, cancel: &AtomicBool, tick: &mut dyn FnMut(usize)) -> Result<Embedded, ClasswiseError> {
    let mut out = Embedded::default();
    let n = samples.len();
    let step = batch_size.max(1);
    for start in (0..n).step_by(step) {
        if cancel.load(Ordering::Relaxed) {
            return Err(ClasswiseError::Cancelled);
        }
        let end = (start + step).min(n);
        let mut chunk: Vec<Example> = (start..end).map(|i| samples.example(i)).collect::<Result<_, _>>().map_err(ClasswiseError::Clip)?;
        if let Some(cfg) = attack {
            let labels: Vec<Vec<usize>> = (start..end).map(|i| vec![samples.label(i)]).collect();
            chunk = attack_victim(victim, &chunk, &labels, cfg).into_iter().map(|r| r.adversarial).collect();
        }
        out.append(embed_batch(victim, &chunk, device));
        tick(end);
    }
    Ok(out)
}

/// The classifier head on fused rows ([k, dim]): predicted classes.
pub fn head_predictions(net: &AvNet, rows: &[f32], k: usize, device: &Device) -> Vec<usize> {
    let dim = rows.len() / k.max(1);
    let x = Tensor::<2>::from_data(TensorData::new(rows.to_vec(), [k, dim]), device);
    let logits = net.classifier.forward(x);
    let classes = logits.dims()[1];
    host(logits).chunks_exact(classes).map(argmax).collect()
}

/// What a report is of: the network as an attack sees it, and what to call it.
pub struct Subject<'a> {
    pub victim: Victim,
    pub name: &'a str,
    /// The fusion's name, or the kind of model ("spectrogram", "video").
    pub kind: &'a str,
    pub classes: &'a [String],
}

/// Measures `model` on `items` as `opts` says.
pub fn report(model: &LoadedModel, items: &[&Prepared], opts: &Options, cancel: &AtomicBool, progress: &mut dyn FnMut(Stage, usize, usize)) -> Result<Report, ClasswiseError> {
    let samples = Samples { items, size: model.info.input, views: opts.views, seed: opts.seed };
    let subject = Subject { victim: Victim::AudioVisual(model.net.clone()), name: &model.info.name, kind: model.info.fusion.name(), classes: &model.info.classes };
    report_of(&subject, &samples, opts, cancel, progress)
}

/// Measures `subject` on `samples` as `opts` says (`opts.views` is the samples' business).
pub fn report_of(subject: &Subject, samples: &dyn SampleSource, opts: &Options, cancel: &AtomicBool, progress: &mut dyn FnMut(Stage, usize, usize)) -> Result<Report, ClasswiseError> {
    if samples.len() == 0 {
        return Err(ClasswiseError::Empty);
    }
    let victim = &subject.victim;
    let device = victim.device();
    let classes = subject.classes.len();
    let labels = samples.labels();
    let total = samples.len();
    let clean = embed_victim(victim, samples, None, opts.batch, &device, cancel, &mut |d| progress(Stage::Embedding, d, total))?;
    let attacked = match &opts.attack {
        None => None,
        Some(cfg) => Some(embed_victim(victim, samples, Some(cfg), opts.batch, &device, cancel, &mut |d| progress(Stage::Attacking, d, total))?),
    };

    let labels32: Vec<u32> = labels.iter().map(|&l| l as u32).collect();
    let kernels = crate::kernels::for_device(&device);
    let mut cells: Vec<Vec<DensityCell>> = vec![Vec::new(); classes];
    // A unimodal model's fused feature is its one encoder's: measured once, as "fused".
    let both = clean.audio.is_some() && clean.visual.is_some();
    fn modality(e: &Option<(Vec<f32>, usize)>, both: bool) -> Option<(&[f32], usize)> {
        e.as_ref().filter(|_| both).map(|(rows, dim)| (rows.as_slice(), *dim))
    }
    let spaces = [(Space::Audio, modality(&clean.audio, both)), (Space::Visual, modality(&clean.visual, both)), (Space::Fused, Some((clean.fused.as_slice(), clean.fused_dim)))];
    for (space, emb) in spaces {
        let Some((rows, dim)) = emb else { continue };
        // One set of distances per space serves every tau.
        let dist = centroid_distances(rows, dim, &labels32, classes, opts.p, kernels);
        for &tau in &opts.taus {
            for (c, cell) in cells.iter_mut().enumerate() {
                cell.push(DensityCell { space, tau, density: density_of(&mut distances_of(&dist, &labels32, c), dim, tau) });
            }
        }
    }
    progress(Stage::Convexity, 0, classes);
    if cancel.load(Ordering::Relaxed) {
        return Err(ClasswiseError::Cancelled);
    }
    let kappa = if victim.head(Tensor::zeros([1, clean.fused_dim], &device)).is_some() {
        class_convexity(&clean.fused, clean.fused_dim, &labels32, classes, opts.pairs, opts.seed, &mut |rows, k| {
            let x = Tensor::<2>::from_data(TensorData::new(rows.to_vec(), [k, rows.len() / k.max(1)]), &device);
            let logits = victim.head(x).expect("checked above");
            let n = logits.dims()[1];
            host(logits).chunks_exact(n).map(argmax).collect()
        })
    } else {
        let why = "the head attends over frames: it is not a function of one embedding";
        (0..classes).map(|c| Convexity::Undefined { n: labels.iter().filter(|&&l| l == c).count(), reason: why.into() }).collect()
    };
    progress(Stage::Convexity, classes, classes);

    let rows: Vec<ClassRow> = cells
        .into_iter()
        .zip(kappa)
        .enumerate()
        .map(|(c, (density, kappa))| {
            let members: Vec<usize> = (0..total).filter(|&i| labels[i] == c).collect();
            let n = members.len();
            let right: Vec<usize> = members.iter().copied().filter(|&i| clean.predictions[i] == c).collect();
            let frac = |k: usize| if n == 0 { 0.0 } else { k as f64 / n as f64 };
            let (attacked_acc, drop_rate) = match &attacked {
                None => (None, None),
                Some(adv) => {
                    let survived = members.iter().filter(|&&i| adv.predictions[i] == c).count();
                    let flipped = right.iter().filter(|&&i| adv.predictions[i] != c).count();
                    (Some(frac(survived)), (!right.is_empty()).then(|| flipped as f64 / right.len() as f64))
                }
            };
            ClassRow { class: subject.classes[c].clone(), samples: n, clean_acc: frac(right.len()), attacked_acc, drop_rate, kappa, density }
        })
        .collect();

    let mut correlations = Vec::new();
    if attacked.is_some() {
        let mut against = |metric: String, value: &dyn Fn(&ClassRow) -> Option<f64>| {
            let pairs: Vec<(f64, f64)> = rows.iter().filter_map(|r| Some((r.drop_rate?, value(r)?))).collect();
            let (x, y): (Vec<f64>, Vec<f64>) = pairs.into_iter().unzip();
            correlations.push(Correlation { metric, classes: x.len(), pearson: pearson(&x, &y), spearman: spearman(&x, &y) });
        };
        against("kappa".into(), &|r| r.kappa.kappa());
        for space in [Space::Audio, Space::Visual, Space::Fused] {
            for &tau in &opts.taus {
                if rows.iter().any(|r| r.density.iter().any(|d| d.space == space && d.tau == tau)) {
                    against(format!("rho {} tau {tau}", space.name()), &|r| r.rho(space, tau));
                }
            }
        }
    }

    let pca = Pca::fit(&clean.fused, clean.fused_dim);
    let projection = Projection {
        labels: labels.clone(),
        clean: pca.project(&clean.fused),
        attacked: attacked.as_ref().map(|a| pca.project(&a.fused)).unwrap_or_default(),
        explained: if pca.total_variance > 0.0 { (pca.variance[0] + pca.variance[1]) / pca.total_variance } else { 0.0 },
    };
    Ok(Report {
        model: subject.name.to_string(),
        fusion: subject.kind.to_string(),
        classes: subject.classes.to_vec(),
        options: opts.clone(),
        samples: total,
        rows,
        correlations,
        projection,
    })
}

/// The per-class table as CSV (one row per class; undefined values empty).
pub fn to_csv(report: &Report) -> String {
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.6}"));
    let mut header = vec!["class".to_string(), "samples".into(), "clean_acc".into(), "attacked_acc".into(), "drop_rate".into(), "kappa".into()];
    let cols: Vec<(Space, f64)> = report.rows.first().map(|r| r.density.iter().map(|d| (d.space, d.tau)).collect()).unwrap_or_default();
    header.extend(cols.iter().map(|(s, t)| format!("rho_{}_tau{t}", s.name())));
    let mut out = header.join(",") + "\n";
    for r in &report.rows {
        let mut line = vec![r.class.clone(), r.samples.to_string(), format!("{:.6}", r.clean_acc), opt(r.attacked_acc), opt(r.drop_rate), opt(r.kappa.kappa())];
        line.extend(cols.iter().map(|(s, t)| opt(r.rho(*s, *t))));
        out += &(line.join(",") + "\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// JSON has no infinity: an L-inf report is written with p null and read back as infinity.
    #[test]
    fn an_l_inf_report_survives_json() {
        let opts = Options { p: f32::INFINITY, ..Options::default() };
        let text = serde_json::to_string(&opts).unwrap();
        assert!(text.contains("\"p\":null"), "{text}");
        let back: Options = serde_json::from_str(&text).unwrap();
        assert_eq!(back.p, f32::INFINITY);
        let two: Options = serde_json::from_str(&serde_json::to_string(&Options::default()).unwrap()).unwrap();
        assert_eq!(two.p, 2.0);
    }
}
