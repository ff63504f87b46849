//! Figures for papers (plotters, SVG or PNG by the extension): the data drawn is the data
//! measured. Marks are read back from the SVG; fonts are not compared.

use std::process::Command;

use crate::common::*;
use mcgurk::figures::PALETTE;

fn mcgurk(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mcgurk")).args(args).output().unwrap()
}

fn data() -> String {
    root().join("assets/data/farm-av").to_str().unwrap().to_string()
}

#[test]
fn eval_draws_its_robustness_curve_as_svg_or_png() {
    let dir = tempfile::tempdir().unwrap();
    let (svg_path, png_path, json_path) = (dir.path().join("curve.svg"), dir.path().join("curve.png"), dir.path().join("t.json"));
    let d = data();
    let base = ["eval", "--data", &d, "--holdout", "tuxpaint", "--split", "train", "--model", "audio", "--model", "sum", "--model", "visual", "--method", "pgd", "--steps", "2", "--sweep", "0,0.5,1,4"];
    let out = mcgurk(&[&base[..], &["--json", json_path.to_str().unwrap(), "--plot", svg_path.to_str().unwrap()]].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    let marks = svg_marks(&svg);
    let sweep = doc["sweep"].as_array().unwrap();
    for (i, name) in ["audio", "sum", "visual"].iter().enumerate() {
        assert!(svg.contains(&format!("{name}\n</text>")), "legend entry {name}");
        // Clean accuracy at x0, then joint-attack accuracy at each multiple.
        let want: Vec<f64> = sweep
            .iter()
            .map(|s| {
                let row = &s["rows"][i];
                100.0 * if s["scale"] == 0.0 { row["clean"].as_f64().unwrap() } else { row["both_attacked"].as_f64().unwrap() }
            })
            .collect();
        let dots: Vec<(f64, f64)> = marks.iter().filter(|m| m.circle && m.filled && m.colour == hex(PALETTE[i])).map(|m| m.points[0]).collect();
        assert_eq!(dots.len(), 4, "{name}: one point per multiple");
        assert!(dots.windows(2).all(|w| w[1].0 > w[0].0), "{name}: in eps order");
        assert!(affine(&want, &dots.iter().map(|p| p.1).collect::<Vec<_>>()), "{name}: drawn {dots:?}, measured {want:?}");
        let line = marks.iter().find(|m| !m.circle && m.colour == hex(PALETTE[i]) && m.points.len() == 4).expect("the model's line");
        assert_eq!(line.points, dots, "{name}: the line joins the points");
    }
    // The same figure as PNG, by the extension.
    let out = mcgurk(&[&base[..], &["--plot", png_path.to_str().unwrap()]].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let png = image::open(&png_path).unwrap().to_rgb8();
    assert_eq!(png.dimensions(), (960, 600));
    for c in &PALETTE[..3] {
        assert!(png.pixels().any(|p| p.0 == *c), "colour {c:?} drawn");
    }
    // Another extension is refused before the evaluation runs.
    let out = mcgurk(&["eval", "--data", &d, "--model", "audio", "--plot", dir.path().join("c.pdf").to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains(".svg or .png") && err.contains("c.pdf"), "{err}");
}

#[test]
fn metrics_draws_drop_rate_against_kappa_and_the_pca() {
    let dir = tempfile::tempdir().unwrap();
    let d = data();
    let (drop, pca, json) = (dir.path().join("drop.svg"), dir.path().join("pca.svg"), dir.path().join("m.json"));
    let out = mcgurk(&[
        "metrics", "--data", &d, "--holdout", "tuxpaint", "--model", "sum", "--views", "2", "--attack", "--method", "fgsm", "--eps-a", "0.005", "--eps-v", "0.0078",
        "--json", json.to_str().unwrap(), "--plot-drop", drop.to_str().unwrap(), "--plot-pca", pca.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let reports: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let r = &reports[0];
    // One point per class with both numbers, at (kappa, drop rate).
    let (mut kappa, mut rate) = (Vec::new(), Vec::new());
    for row in r["rows"].as_array().unwrap() {
        if let (Some(k), Some(d)) = (row["kappa"]["kappa"].as_f64(), row["drop_rate"].as_f64()) {
            kappa.push(k);
            rate.push(100.0 * d);
        }
    }
    assert!(kappa.len() >= 5, "{kappa:?}");
    let svg = std::fs::read_to_string(&drop).unwrap();
    let dots: Vec<(f64, f64)> = svg_marks(&svg).iter().filter(|m| m.circle && m.filled && m.radius == 6.0).map(|m| m.points[0]).collect();
    assert_eq!(dots.len(), kappa.len());
    assert!(affine(&kappa, &dots.iter().map(|p| p.0).collect::<Vec<_>>()), "x is kappa: {dots:?} {kappa:?}");
    assert!(affine(&rate, &dots.iter().map(|p| p.1).collect::<Vec<_>>()), "y is the drop rate");
    assert!(svg.contains("rho\n</text>"), "the colour scale is named");
    // The PCA: every sample, clean (filled) and attacked (rings), one colour per class.
    let svg = std::fs::read_to_string(&pca).unwrap();
    let marks = svg_marks(&svg);
    let samples = r["samples"].as_u64().unwrap() as usize;
    assert_eq!(marks.iter().filter(|m| m.circle && m.filled && m.radius == 6.0).count(), samples);
    assert_eq!(marks.iter().filter(|m| m.circle && !m.filled && m.radius == 6.0).count(), samples);
    let labels = r["projection"]["labels"].as_array().unwrap();
    let cats = labels.iter().filter(|l| l.as_u64() == Some(0)).count();
    assert_eq!(marks.iter().filter(|m| m.circle && m.filled && m.radius == 6.0 && m.colour == hex(PALETTE[0])).count(), cats, "the cat's colour");
}
