//! PGD-10 joint L-inf, Concat fusion, at batch 1 and 8, small and full size: McGurk's seconds
//! per batch, beside PyTorch's on the same weights and inputs when a Python with torch is
//! there, with both GFLOP/s against the machine's peak and the ratio McGurk / PyTorch.

use std::time::Instant;

use super::machine;
use super::median;
use super::pytorch::{BatchTiming, Torch};
use crate::attacks::{AttackConfig, attack_batch};
use crate::data::rng::Rng;
use crate::models::input::Example;
use crate::models::safetensors::SafeTensors;
use crate::models::{AvNet, FusionKind, Size, flops};
use crate::train::Backend;

const KIND: FusionKind = FusionKind::Concat;
const CLASSES: usize = 9;

/// Seeded inputs in the middle of the valid ranges, and their labels.
fn inputs(size: Size, n: usize) -> (Vec<Example>, Vec<usize>) {
    let input = size.input();
    let mut rng = Rng::new(12);
    let examples = (0..n)
        .map(|_| Example {
            wave: (0..input.samples).map(|_| rng.range(-0.5, 0.5)).collect(),
            pixels: (0..input.pixel_values()).map(|_| rng.range(0.1, 0.9)).collect(),
            size: input,
        })
        .collect();
    (examples, (0..n).map(|i| i % CLASSES).collect())
}

fn mean(v: &[f32]) -> f32 {
    v.iter().sum::<f32>() / v.len().max(1) as f32
}

/// One row of the table, McGurk's half and (when there) PyTorch's.
struct Row {
    size: Size,
    batch: usize,
    mcgurk_s: f64,
    mcgurk_loss: f32,
    torch: Option<(f64, f32)>,
}

pub fn run(reps: usize, wgpu: bool, torch: Option<&Torch>, sizes: &[Size], batches: &[usize]) -> anyhow::Result<()> {
    // The inputs are allocated for the largest batch (a full-size example is 0.9 MB).
    const MAX_BATCH: usize = 256;
    if batches.is_empty() || batches.iter().any(|&b| b == 0 || b > MAX_BATCH) {
        anyhow::bail!("--batches: give batch sizes from 1 to {MAX_BATCH}");
    }
    let threads = rayon::current_num_threads();
    let cfg = AttackConfig::default();
    println!("\nPGD-{} joint L-inf attack ({} fusion, {CLASSES} classes), seconds per batch, median of the timed runs", cfg.steps, KIND.label());
    let peak = machine::peak(threads);
    match &peak {
        Some(p) => println!("CPU peak: {}", p.describe()),
        None => println!("CPU peak: unknown (no clock in /proc/cpuinfo); GFLOP/s shown without a share of it"),
    }
    let mut backends = vec![(format!("cpu (flex, {threads} threads)"), Backend::Cpu)];
    if wgpu {
        backends.push(("wgpu".to_string(), Backend::Wgpu));
    }
    for (name, backend) in backends {
        let device = backend.device();
        // PyTorch on the CPU beside Flex; on CUDA beside wgpu when torch sees a GPU.
        let torch = torch.filter(|t| backend == Backend::Cpu || t.cuda);
        let torch_device = if backend == Backend::Cpu { "cpu" } else { "cuda" };
        let software = backend == Backend::Wgpu && crate::kernels::shared().is_ok_and(|g| g.kernels.adapter.contains("llvmpipe"));
        println!("\n{name}{}", torch.map_or(String::new(), |_| format!(" beside PyTorch ({torch_device})")));
        println!(
            "{:<6} {:>5} {:>7} {:>10} {:>8} {:>6} {:>10} {:>8} {:>6} {:>7}  loss after (McGurk / PyTorch)",
            "size", "batch", "GFLOP", "McGurk s", "GFLOP/s", "peak", "PyTorch s", "GFLOP/s", "peak", "ratio"
        );
        for &size in sizes {
            if software && size == Size::Full {
                println!("{:<6} skipped: the full model takes minutes per step on lavapipe", size.name());
                continue;
            }
            let net = crate::train::seeded_init(AvNet::new(KIND, size, CLASSES, &device), 7, &device);
            let (examples, labels) = inputs(size, batches.iter().copied().max().unwrap_or(1));
            // The full model at batch 8 takes seconds per run even when fast: one timed run.
            let reps_of = |batch: usize| if size == Size::Full && batch > 1 { 1 } else { reps.max(1) };
            let _ = attack_batch(&net, &examples[..1], &labels[..1], &cfg);
            let mut rows = Vec::new();
            for &batch in batches {
                let mut seconds = Vec::new();
                let mut loss = 0.0;
                for _ in 0..reps_of(batch) {
                    let start = Instant::now();
                    let r = attack_batch(&net, &examples[..batch], &labels[..batch], &cfg);
                    seconds.push(start.elapsed().as_secs_f64());
                    loss = mean(&r.iter().map(|r| r.loss_adv).collect::<Vec<_>>());
                }
                rows.push(Row { size, batch, mcgurk_s: median(seconds), mcgurk_loss: loss, torch: None });
            }
            if let Some(t) = torch {
                match pytorch_side(t, &net, size, &examples, &labels, batches, &cfg, threads, backend == Backend::Wgpu, &reps_of) {
                    Ok(timings) => {
                        for (row, t) in rows.iter_mut().zip(timings) {
                            row.torch = Some((median(t.seconds), mean(&t.loss_adv)));
                        }
                    }
                    Err(e) => println!("PyTorch side failed for the {} model: {e:#}", size.name()),
                }
            }
            let peak_share = |gflops: f64| peak.as_ref().filter(|_| backend == Backend::Cpu).map_or("-".to_string(), |p| format!("{:.0}%", 100.0 * gflops / p.gflops()));
            for row in rows {
                let gflop = flops::attack(KIND, row.size.widths(), row.size.input(), CLASSES, cfg.steps) * row.batch as f64 / 1e9;
                let ours = gflop / row.mcgurk_s;
                let (theirs_s, theirs_gf, theirs_peak, ratio, theirs_loss) = match row.torch {
                    Some((s, loss)) => (format!("{s:.2}"), format!("{:.1}", gflop / s), peak_share(gflop / s), format!("{:.2}", row.mcgurk_s / s), format!("{loss:.4}")),
                    None => ("-".into(), "-".into(), "-".into(), "-".into(), "-".into()),
                };
                println!(
                    "{:<6} {:>5} {gflop:>7.1} {:>10.2} {ours:>8.1} {:>6} {theirs_s:>10} {theirs_gf:>8} {theirs_peak:>6} {ratio:>7}  {:.4} / {theirs_loss}",
                    row.size.name(),
                    row.batch,
                    row.mcgurk_s,
                    peak_share(ours),
                    row.mcgurk_loss
                );
            }
        }
    }
    Ok(())
}

/// The same weights, inputs and attack through `bench_pgd.py`.
#[allow(clippy::too_many_arguments)]
fn pytorch_side(
    torch: &Torch,
    net: &AvNet,
    size: Size,
    examples: &[Example],
    labels: &[usize],
    batches: &[usize],
    cfg: &AttackConfig,
    threads: usize,
    cuda: bool,
    reps_of: &dyn Fn(usize) -> usize,
) -> anyhow::Result<Vec<BatchTiming>> {
    let (weights, _) = crate::models::state_dict::export(net);
    let weights = torch.write(&format!("{}.safetensors", size.name()), &weights)?;
    let input = size.input();
    let mut x = SafeTensors::default();
    x.insert("wave", vec![examples.len(), 1, input.samples], examples.iter().flat_map(|e| e.wave.iter().copied()).collect());
    x.insert("pixels", vec![examples.len(), 3, input.pixels, input.pixels], examples.iter().flat_map(|e| e.pixels.iter().copied()).collect());
    x.insert("labels", vec![labels.len()], labels.iter().map(|&l| l as f32).collect());
    let inputs = torch.write(&format!("{}-inputs.safetensors", size.name()), &x)?;
    let join = |v: Vec<String>| v.join(",");
    let mut args = vec![
        "--weights".into(),
        weights.display().to_string(),
        "--inputs".into(),
        inputs.display().to_string(),
        "--fusion".into(),
        KIND.name().into(),
        "--widths".into(),
        join(size.widths().0.iter().map(ToString::to_string).collect()),
        "--classes".into(),
        CLASSES.to_string(),
        "--batches".into(),
        join(batches.iter().map(ToString::to_string).collect()),
        "--reps".into(),
        join(batches.iter().map(|&b| reps_of(b).to_string()).collect()),
        "--steps".into(),
        cfg.steps.to_string(),
        "--eps-a".into(),
        cfg.eps_a.to_string(),
        "--eps-v".into(),
        cfg.eps_v.to_string(),
        "--threads".into(),
        threads.to_string(),
    ];
    if cuda {
        args.push("--cuda".into());
    }
    let timing = torch.run(&args)?;
    if timing.results.iter().map(|r| r.batch).ne(batches.iter().copied()) {
        anyhow::bail!("bench_pgd.py answered for other batch sizes than {batches:?}");
    }
    println!("  ({} model: PyTorch {}, {} threads)", size.name(), timing.torch, timing.threads);
    Ok(timing.results)
}
