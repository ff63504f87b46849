//! `mcgurk metrics`: Li et al.'s class-wise robustness report (density, convexity, drop rate
//! under an attack and their correlations) of one or more models on a dataset split.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args as ClapArgs;

use super::attack::AttackArgs;
use super::inputs::{DataArgs, ModelArgs};
use crate::data::Split;
use crate::metrics::classwise::{Options, Report, Stage, report, to_csv};
use crate::train::prepare_all;

#[derive(ClapArgs, Debug)]
pub struct Args {
    #[command(flatten)]
    dataset: DataArgs,
    /// train, val, test or all (default: all).
    #[arg(long, default_value = "all")]
    split: String,
    #[command(flatten)]
    models: ModelArgs,
    /// Samples per clip: the clip, then augmented views of it (seeded). A class needs at least
    /// two samples for a density or a convexity.
    #[arg(long, default_value_t = 1)]
    views: usize,
    /// Quantiles for the density (comma separated).
    #[arg(long, value_delimiter = ',', default_value = "0.6,0.8")]
    tau: Vec<f64>,
    /// The norm of the distances (1, 2, ... or inf).
    #[arg(long, default_value = "2")]
    p: String,
    /// Interpolations per class for the convexity.
    #[arg(long, default_value_t = 2000)]
    pairs: usize,
    /// Seed of the augmented views and of kappa's draws.
    #[arg(long, default_value_t = 0)]
    draw_seed: u64,
    /// Attack every sample (see the attack options) for drop rates and their correlations.
    #[arg(long)]
    attack: bool,
    #[command(flatten)]
    attack_args: AttackArgs,
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// Write the reports (one per model) as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the per-class tables as CSV (a model column first).
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Draw drop rate against kappa, coloured by rho (Li et al.'s Fig. 4), as .svg or .png;
    /// with several models, one file each (the model's name added to the file name).
    #[arg(long)]
    plot_drop: Option<PathBuf>,
    /// Draw the PCA of the fused embeddings, clean and attacked, as .svg or .png.
    #[arg(long)]
    plot_pca: Option<PathBuf>,
}

/// `path` for model `name`: itself for one model, `stem-name.ext` for several.
fn per_model(path: &std::path::Path, name: &str, several: bool) -> PathBuf {
    if !several {
        return path.to_path_buf();
    }
    let stem = path.file_stem().map_or_else(String::new, |s| s.to_string_lossy().to_string());
    let ext = path.extension().map_or_else(String::new, |e| format!(".{}", e.to_string_lossy()));
    let safe: String = name.chars().map(|c| if c.is_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    path.with_file_name(format!("{stem}-{safe}{ext}"))
}

fn parse_p(p: &str) -> anyhow::Result<f32> {
    if p.eq_ignore_ascii_case("inf") {
        return Ok(f32::INFINITY);
    }
    let v: f32 = p.parse().with_context(|| format!("--p {p}: a number >= 1 or inf"))?;
    if !(v >= 1.0) {
        bail!("--p {p}: a number >= 1 or inf");
    }
    Ok(v)
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    for p in [&args.json, &args.csv, &args.plot_drop, &args.plot_pca].into_iter().flatten() {
        crate::files::check_writable(p)?;
    }
    for p in [&args.plot_drop, &args.plot_pca].into_iter().flatten() {
        crate::figures::check_path(p)?;
    }
    let p = parse_p(&args.p)?;
    if let Some(t) = args.tau.iter().find(|t| !(**t > 0.0 && **t < 1.0)) {
        bail!("--tau {t}: each tau must lie strictly between 0 and 1");
    }
    if args.views == 0 {
        bail!("--views must be at least 1");
    }
    let splits: Vec<Split> = if args.split == "all" {
        vec![Split::Train, Split::Val, Split::Test]
    } else {
        match Split::parse(&args.split) {
            Some(s) => vec![s],
            None => bail!("unknown split '{}' (train, val, test or all)", args.split),
        }
    };
    let opts = Options {
        views: args.views,
        seed: args.draw_seed,
        taus: args.tau.clone(),
        p,
        pairs: args.pairs,
        attack: args.attack.then(|| args.attack_args.config()),
        batch: args.batch.max(1),
    };
    let spec = args.models.pair_spec()?.or(args.models.spectrogram_spec()?.map(|(s, w)| (s, vec![(None, w)]))).or(args.models.video_spec()?.map(|(s, w)| (s, vec![(None, w)])));
    if let Some((spec, weights)) = spec {
        let r = spec_report(args, &spec, &weights, &splits, opts)?;
        return write_reports(args, vec![r]);
    }
    let device = args.models.device()?;
    let models = args.models.load(&device)?;
    let ds = args.dataset.open()?;
    for m in &models {
        if m.info.classes != ds.classes {
            bail!("model '{}' has classes {:?}, the dataset {:?}", m.info.name, m.info.classes, ds.classes);
        }
    }
    let size = models.first().map_or(crate::models::Size::Small.input(), |m| m.info.input);
    let (prepared, _, notes) = prepare_all(&ds, &splits, size, &|done, total| super::progress::count("decoding clips", done, total));
    super::progress::end();
    for n in ds.skipped.iter().chain(&notes) {
        eprintln!("skipped: {n}");
    }
    let items: Vec<_> = prepared.iter().collect();
    if items.is_empty() {
        bail!("no usable clips in the {} split(s) of {}", args.split, args.dataset.data.display());
    }
    let mut reports = Vec::new();
    for m in &models {
        let name = &m.info.name;
        let r = report(m, &items, &opts, super::interrupt::flag(), &mut |stage, done, total| {
            let what = match stage {
                Stage::Embedding => "embedding",
                Stage::Attacking => "attacking",
                Stage::Convexity => "convexity",
            };
            super::progress::count(&format!("{name}: {what}"), done, total);
        });
        super::progress::end();
        let r = r.with_context(|| format!("metrics of {name}"))?;
        print_report(&r);
        reports.push(r);
    }
    write_reports(args, reports)
}

/// The reports' JSON, CSV and figures, as the options ask.
fn write_reports(args: &Args, reports: Vec<Report>) -> anyhow::Result<()> {
    if let Some(path) = &args.json {
        crate::files::write_atomic(path, serde_json::to_string_pretty(&reports)?.as_bytes())?;
    }
    if let Some(path) = &args.csv {
        let mut out = String::new();
        for (i, r) in reports.iter().enumerate() {
            for (k, line) in to_csv(r).lines().enumerate() {
                if k == 0 && i > 0 {
                    continue;
                }
                out += &format!("{},{line}\n", if k == 0 { "model" } else { &r.model });
            }
        }
        crate::files::write_atomic(path, out.as_bytes())?;
    }
    for r in &reports {
        if let Some(p) = &args.plot_drop {
            crate::figures::save(&per_model(p, &r.model, reports.len() > 1), &crate::metrics::figures::drop_vs_kappa(r))?;
        }
        if let Some(p) = &args.plot_pca {
            crate::figures::save(&per_model(p, &r.model, reports.len() > 1), &crate::metrics::figures::pca(r))?;
        }
    }
    Ok(())
}

/// The report of a model from a spec (spectrogram, video or audio-visual pair) on the dataset's
/// clips as they are, read at the model's own input: its classes found among the model's by
/// name, rows for the classes the dataset has.
fn spec_report(args: &Args, spec: &std::path::Path, weights: &[(Option<String>, PathBuf)], splits: &[Split], opts: Options) -> anyhow::Result<Report> {
    use super::spec_models::{Subject, class_map};
    use crate::metrics::classwise::{SampleSource, report_of};
    if args.views != 1 {
        bail!("--views {}: a --spec model is measured on its clips as they are (augmented views are made at McGurk's own input sizes)", args.views);
    }
    let device = args.models.device()?;
    let model = Subject::load(spec, weights, &device)?;
    let ds = args.dataset.open_as(true)?;
    for n in &ds.skipped {
        eprintln!("skipped: {n}");
    }
    let map = class_map(&ds.classes, model.classes()).map_err(anyhow::Error::msg).with_context(|| format!("{} against {}", args.dataset.data.display(), spec.display()))?;
    struct Clips<'a> {
        model: &'a Subject,
        items: Vec<(&'a crate::data::Media, Option<f64>, usize)>,
    }
    impl SampleSource for Clips<'_> {
        fn len(&self) -> usize {
            self.items.len()
        }
        fn label(&self, i: usize) -> usize {
            self.items[i].2
        }
        fn example(&self, i: usize) -> Result<crate::models::input::Example, String> {
            let (media, centre, _) = self.items[i];
            self.model.example(media, centre).map_err(|e| format!("{e} (metrics read every clip: fix or remove it)"))
        }
    }
    let items: Vec<_> = ds.items.iter().filter(|i| splits.contains(&i.split)).map(|i| (&i.media, i.centre_s, map[i.label])).collect();
    if items.is_empty() {
        bail!("no clips in the {} split(s) of {}", args.split, args.dataset.data.display());
    }
    let clips = Clips { model: &model, items };
    let sigmoid = model.spec().output == crate::models::spec::Output::Sigmoid;
    let opts = Options {
        attack: opts.attack.map(|a| crate::attacks::AttackConfig {
            modality: model.modality(a.modality),
            loss: if sigmoid { crate::attacks::Loss::Bce } else { a.loss },
            ..a
        }),
        ..opts
    };
    let name = model.spec().name.clone();
    let subject = crate::metrics::classwise::Subject { victim: model.victim(), name: &name, kind: model.kind(), classes: model.classes() };
    let r = report_of(&subject, &clips, &opts, super::interrupt::flag(), &mut |stage, done, total| {
        super::progress::count(&format!("{name}: {stage:?}").to_lowercase(), done, total);
    });
    super::progress::end();
    let mut r = r.with_context(|| format!("metrics of {name}"))?;
    // A model of more classes than the dataset's (AudioSet's 527): the dataset's rows.
    if model.classes().len() != ds.classes.len() {
        r.rows.retain(|row| row.samples > 0);
    }
    print_report(&r);
    Ok(r)
}

fn print_report(r: &Report) {
    let f = |v: Option<f64>, scale: f64| v.map_or("-".to_string(), |v| format!("{:.2}", v * scale));
    let opts = &r.options;
    println!(
        "\n{} ({}): {} samples ({} per clip), p {}, kappa from {} blends per class{}",
        r.model,
        r.fusion,
        r.samples,
        opts.views,
        opts.p,
        opts.pairs,
        opts.attack.as_ref().map_or(String::new(), |a| format!(", {} ({})", a.name(), a.budgets()))
    );
    let cols: Vec<String> = r.rows.first().map(|row| row.density.iter().map(|d| format!("rho {} {}", d.space.name(), d.tau)).collect()).unwrap_or_default();
    print!("{:<12} {:>7} {:>7} {:>7} {:>7} {:>7}", "class", "samples", "clean%", "adv%", "drop%", "kappa");
    for c in &cols {
        print!(" {c:>17}");
    }
    println!();
    for row in &r.rows {
        print!(
            "{:<12} {:>7} {:>7} {:>7} {:>7} {:>7}",
            row.class,
            row.samples,
            f(Some(row.clean_acc), 100.0),
            f(row.attacked_acc, 100.0),
            f(row.drop_rate, 100.0),
            f(row.kappa.kappa(), 1.0)
        );
        for d in &row.density {
            print!(" {:>17}", f(d.density.rho(), 1.0));
        }
        println!();
    }
    for c in &r.correlations {
        println!("drop rate vs {:<22} over {:>2} classes: Pearson {:>6}  Spearman {:>6}", c.metric, c.classes, f(c.pearson, 1.0), f(c.spearman, 1.0));
    }
    println!("PCA of the fused embeddings: 2 axes show {:.0}% of the variance", 100.0 * r.projection.explained);
}
