//! The WGSL kernels against their CPU references on random data with edge cases (zero
//! gradients, deltas already inside the ball, values clipped at the range's ends, sizes that are
//! not multiples of the workgroup), and naga validation of every shader. The attack's kernels run
//! as attacks run them, on burn's GPU buffers. Runs on lavapipe here; skips with a message only
//! when the machine has no adapter at all.

use burn::prelude::*;
use burn::tensor::TensorData;

use mcgurk::attacks::lp;
use mcgurk::data::rng::Rng;
use mcgurk::kernels::{self, Kernels, KernelError, burn_buffers, reference};

use crate::common::shared_gpu;

fn kernels() -> Option<Kernels> {
    match Kernels::new() {
        Ok(k) => Some(k),
        Err(KernelError::NoAdapter(e)) => {
            assert!(std::env::var_os("CI").is_none(), "CI must install lavapipe (tests/run.sh): no GPU adapter ({e})");
            crate::common::loud_skip("a kernel test", &format!("no GPU adapter on this machine ({e}); the CPU references are tested in the library"));
            None
        }
        Err(e) => panic!("{e}"),
    }
}

fn random(n: usize, lo: f32, hi: f32, seed: u64) -> Vec<f32> {
    let mut r = Rng::new(seed);
    (0..n).map(|_| r.range(lo, hi)).collect()
}

fn assert_close(gpu: &[f32], cpu: &[f32], tol: f32, what: &str) {
    assert_eq!(gpu.len(), cpu.len(), "{what}");
    let worst = gpu.iter().zip(cpu).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    assert!(worst <= tol, "{what}: max |gpu - cpu| = {worst:e}");
}

#[test]
fn every_shader_passes_naga_and_a_broken_one_does_not() {
    let Some(k) = kernels() else { return };
    for (name, src) in kernels::ALL {
        k.validate(name, src).unwrap_or_else(|e| panic!("{e}"));
    }
    let err = k.validate("broken.wgsl", "@compute @workgroup_size(1) fn main() { let x: f32 = 1u; }").unwrap_err();
    assert!(err.to_string().contains("broken.wgsl"), "{err}");
    // Every file in shaders/ is one of the embedded kernels.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".wgsl") {
            assert!(kernels::ALL.iter().any(|(n, _)| *n == name), "{name} is not embedded and tested");
        }
    }
}

/// Values as a tensor in burn's buffers on the shared GPU.
fn on_gpu(v: &[f32], rows: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v.to_vec(), [rows, v.len() / rows]), device)
}

fn read(t: Tensor<2>) -> Vec<f32> {
    t.try_to_vec_as::<f32>().unwrap()
}

#[test]
fn projection_matches_the_cpu_reference() {
    let Some(gpu) = shared_gpu("projection_matches_the_cpu_reference") else { return };
    let n = 1000; // not a multiple of the 256-wide workgroup
    // Clean values within eps of the range's ends and perturbed ones beyond them: the range
    // clipping has work to do.
    let clean = random(4 * n, -0.99, 0.99, 1);
    let mut x = random(4 * n, -1.5, 1.5, 2);
    // Sample 2 already inside both balls; sample 3 unperturbed.
    for i in 2 * n..3 * n {
        x[i] = clean[i] + 1e-4;
    }
    x[3 * n..].copy_from_slice(&clean[3 * n..]);
    for (l2, eps) in [(false, 0.05f32), (true, 0.8)] {
        let (xt, ct) = (on_gpu(&x, 4, &gpu.device), on_gpu(&clean, 4, &gpu.device));
        let out = read(burn_buffers::project(xt.clone(), ct, n, eps, -1.0, 1.0, l2).unwrap());
        // The result is a new tensor: the input's buffer is left as it was.
        assert_eq!(read(xt), x);
        let mut cpu = x.clone();
        for (xs, cs) in cpu.chunks_mut(n).zip(clean.chunks(n)) {
            if l2 { lp::project_l2(xs, cs, eps, -1.0, 1.0) } else { lp::project_linf(xs, cs, eps, -1.0, 1.0) }
        }
        assert_close(&out, &cpu, 1e-6, if l2 { "L2" } else { "L-inf" });
        assert_eq!(&out[3 * n..], &clean[3 * n..]);
        if !l2 {
            assert!(out.iter().any(|v| v.abs() == 1.0), "nothing was clipped");
        }
    }
}

#[test]
fn normalisation_matches_the_cpu_reference() {
    let Some(gpu) = shared_gpu("normalisation_matches_the_cpu_reference") else { return };
    let n = 777;
    let mut g = random(3 * n, -2.0, 2.0, 3);
    g[n..2 * n].iter_mut().for_each(|v| *v = 0.0); // a zero gradient stays zero
    for mode in 0..3u32 {
        let out = read(burn_buffers::normalise(on_gpu(&g, 3, &gpu.device), n, mode).unwrap());
        let cpu: Vec<f32> = g
            .chunks(n)
            .flat_map(|s| match mode {
                0 => lp::sign(s),
                1 => lp::normalise(s, 2),
                _ => lp::normalise(s, 1),
            })
            .collect();
        assert_close(&out, &cpu, 1e-6, &format!("mode {mode}"));
        assert!(out[n..2 * n].iter().all(|v| *v == 0.0));
    }
}

#[test]
fn centroid_distances_match_the_cpu_reference() {
    let Some(k) = kernels() else { return };
    let (rows, dim, classes) = (130, 17, 4); // 130 is not a multiple of the 64-wide workgroup
    let emb = random(rows * dim, -3.0, 3.0, 4);
    let centroids = random(classes * dim, -1.0, 1.0, 5);
    let labels: Vec<u32> = (0..rows as u32).map(|i| i % classes as u32).collect();
    for p in [1.0, 2.0, 3.0, f32::INFINITY] {
        let gpu = k.centroid_distances(&emb, dim, &centroids, &labels, p).unwrap();
        let cpu = reference::centroid_distances(&emb, dim, &centroids, &labels, p);
        let tol = 1e-5 * cpu.iter().fold(1.0f32, |m, v| m.max(*v));
        assert_close(&gpu, &cpu, tol, &format!("p = {p}"));
    }
}

/// A strided view (a transposed tensor) is read in its logical order; what a kernel cannot run
/// is an error naming it, not a silent result.
#[test]
fn the_attack_kernels_read_views_and_refuse_what_they_cannot_run() {
    let Some(gpu) = shared_gpu("the_attack_kernels_read_views_and_refuse_what_they_cannot_run") else { return };
    let (rows, n) = (3, 300);
    let g = random(rows * n, -2.0, 2.0, 6);
    // Stored [n, rows]: its transpose is `rows` rows of n, not contiguous.
    let stored: Vec<f32> = (0..n).flat_map(|j| (0..rows).map(move |i| (i, j))).map(|(i, j)| g[i * n + j]).collect();
    let view = on_gpu(&stored, n, &gpu.device).swap_dims(0, 1);
    let out = read(burn_buffers::normalise(view, n, 1).unwrap());
    let cpu: Vec<f32> = g.chunks(n).flat_map(|s| lp::normalise(s, 2)).collect();
    assert_close(&out, &cpu, 1e-6, "a transposed view");

    let err = burn_buffers::normalise(on_gpu(&g, 1, &gpu.device), 7, 0).unwrap_err();
    assert!(err.to_string().contains("normalise.wgsl"), "{err}");
    let on_cpu = on_gpu(&g, 1, &Device::flex());
    assert!(burn_buffers::normalise(on_cpu, n, 0).is_err(), "a tensor on the CPU");
}
