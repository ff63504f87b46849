//! `mcgurk bench --pytorch`: without torch it says how to get it and still prints McGurk's own
//! row; with a Python that has torch, PyTorch's PGD on the same weights and inputs ends at the
//! same loss as McGurk's (the script implements the same attack), and the ratio is printed.

use std::process::Command;

use crate::common::loud_skip;

fn bench(python: &str) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mcgurk"))
        .args(["bench", "--only", "attacks", "--sizes", "small", "--batches", "1", "--reps", "1", "--pytorch", "--python", python])
        .output()
        .unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// The table row of the small model at batch 1: its columns.
fn small_row(out: &str) -> Vec<String> {
    let line = out.lines().find(|l| l.starts_with("small")).unwrap_or_else(|| panic!("no small row in:\n{out}"));
    line.split_whitespace().map(str::to_string).collect()
}

#[test]
fn without_torch_the_bench_says_how_to_get_it_and_still_runs() {
    let (ok, out) = bench("/nonexistent/python3");
    assert!(ok, "{out}");
    assert!(out.contains("PyTorch side skipped") && out.contains("--python") && out.contains("MCGURK_PYTHON"), "{out}");
    let row = small_row(&out);
    assert_eq!(&row[1], "1", "{out}");
    assert!(row[3].parse::<f64>().is_ok_and(|s| s > 0.0), "McGurk's seconds: {out}");
    assert_eq!(&row[6], "-", "no PyTorch column without torch: {out}");
}

#[test]
fn with_torch_both_sides_run_the_same_attack() {
    let python = std::env::var("MCGURK_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_torch = Command::new(&python).args(["-c", "import torch, safetensors"]).output().is_ok_and(|o| o.status.success());
    if !has_torch {
        loud_skip("with_torch_both_sides_run_the_same_attack", &format!("{python} has no torch/safetensors (pip install torch safetensors)"));
        return;
    }
    let (ok, out) = bench(&python);
    assert!(ok, "{out}");
    let row = small_row(&out);
    let ratio: f64 = row[9].parse().unwrap_or_else(|_| panic!("ratio column: {out}"));
    assert!(ratio > 0.0, "{out}");
    // "loss after (McGurk / PyTorch)": the last three columns are "a / b".
    let (ours, theirs): (f32, f32) = (row[row.len() - 3].parse().unwrap(), row[row.len() - 1].parse().unwrap());
    assert!((ours - theirs).abs() <= 1e-3 * ours.abs().max(1.0), "McGurk {ours} vs PyTorch {theirs}:\n{out}");
}

/// The video bench: torchvision's own R(2+1)D-18 on the weights McGurk exported (its key names)
/// computes McGurk's feature (the bench refuses to print times otherwise), and both times and
/// their ratio are printed; without torch, McGurk's own times.
#[test]
fn the_video_bench_runs_torchvisions_model_on_the_same_weights() {
    let python = std::env::var("MCGURK_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_torch = Command::new(&python).args(["-c", "import torch, torchvision, safetensors"]).output().is_ok_and(|o| o.status.success());
    let python = if has_torch { python.as_str() } else { "/nonexistent/python3" };
    let out = Command::new(env!("CARGO_BIN_EXE_mcgurk")).args(["bench", "--only", "video", "--reps", "1", "--pytorch", "--python", python]).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    let row = |name: &str| -> Vec<f64> {
        let line = text.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("no {name} row in:\n{text}"));
        line[name.len()..].split_whitespace().map(|v| v.parse().unwrap_or_else(|_| panic!("{line}"))).collect()
    };
    for name in ["forward", "input gradient"] {
        let r = row(name);
        assert!(r[0] > 0.0, "McGurk's ms: {text}");
        if has_torch {
            assert!(r.len() == 3 && r[1] > 0.0 && (r[2] - r[0] / r[1]).abs() < 0.01 + 0.01 * r[2], "{name}: McGurk, PyTorch, ratio: {text}");
        } else {
            assert_eq!(r.len(), 1, "{text}");
        }
    }
    if has_torch {
        assert!(text.contains("features agree"), "{text}");
    } else {
        loud_skip("the_video_bench_runs_torchvisions_model_on_the_same_weights (PyTorch side)", &format!("no torch/torchvision for {python}"));
        assert!(text.contains("PyTorch side skipped"), "{text}");
    }
}
