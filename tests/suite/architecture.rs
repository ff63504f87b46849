//! The engine never depends on the GUI (ARCHITECTURE.md): no GUI crate is named in its files.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn engine_modules_do_not_import_gui_crates() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for part in ["media", "dsp", "models", "data", "train", "attacks", "kernels", "metrics"] {
        rust_files(&src.join(part), &mut files);
    }
    for file in ["analysis.rs", "demo.rs", "files.rs", "eval.rs"] {
        files.push(src.join(file));
    }
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for gui in ["egui", "eframe", "rfd", "crate::app", "crate::cli"] {
            assert!(!text.contains(gui), "{} mentions {gui}", f.display());
        }
    }
}
