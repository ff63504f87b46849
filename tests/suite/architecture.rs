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
    for part in ["media", "dsp", "models", "data", "train", "attacks", "kernels", "metrics", "eval"] {
        rust_files(&src.join(part), &mut files);
    }
    for file in ["analysis.rs", "demo.rs", "files.rs"] {
        files.push(src.join(file));
    }
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for gui in ["egui", "eframe", "rfd", "crate::app", "crate::cli"] {
            assert!(!text.contains(gui), "{} mentions {gui}", f.display());
        }
    }
}

/// The parts of the window (`src/app/*.rs`, a folder counting as its file's part) use each other
/// without cycles: windows and dialogs depend on `command`, not on the workbench that applies
/// it. The module root (`app/mod.rs`: the `Launch` type and the shared demo-dataset default)
/// declares the parts and is left out.
#[test]
fn the_window_parts_have_no_import_cycle() {
    use std::collections::{BTreeMap, BTreeSet};
    let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/app");
    let parts: BTreeSet<String> = std::fs::read_dir(&app)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            let stem = p.file_stem()?.to_str()?.to_string();
            (stem != "mod").then_some(stem)
        })
        .collect();
    // Names that follow `prefix` in `text`.
    let names_after = |text: &str, prefix: &str| -> Vec<String> {
        text.match_indices(prefix)
            .map(|(i, _)| text[i + prefix.len()..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect())
            .collect()
    };
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for part in &parts {
        let mut files = Vec::new();
        let file = app.join(format!("{part}.rs"));
        if file.exists() {
            files.push(file);
        }
        if app.join(part).is_dir() {
            rust_files(&app.join(part), &mut files);
        }
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            let nested = f.parent() != Some(app.as_path());
            // In a part's own file `super::` is the app root; in its folder it is the part itself.
            let mut used = names_after(&text, "crate::app::");
            if !nested {
                used.extend(names_after(&text, "super::"));
            }
            for u in used.into_iter().filter(|u| parts.contains(u) && u != part) {
                edges.entry(part.clone()).or_default().insert(u);
            }
        }
    }
    // Depth-first search for a back edge.
    fn visit(n: &str, edges: &BTreeMap<String, BTreeSet<String>>, path: &mut Vec<String>, done: &mut BTreeSet<String>) {
        if let Some(i) = path.iter().position(|p| p == n) {
            panic!("import cycle in app/: {} -> {n}", path[i..].join(" -> "));
        }
        if done.contains(n) {
            return;
        }
        path.push(n.to_string());
        for m in edges.get(n).into_iter().flatten() {
            visit(m, edges, path, done);
        }
        path.pop();
        done.insert(n.to_string());
    }
    let mut done = BTreeSet::new();
    for part in &parts {
        visit(part, &edges, &mut Vec::new(), &mut done);
    }
    assert!(edges.get("workbench").is_some_and(|e| e.contains("command") && e.contains("dialogs")), "the scan sees the workbench's imports: {edges:?}");
}

/// Each file of the window holds one job: none grows past 400 lines unless its opening comment
/// says why ("longer than 400 lines because ...").
#[test]
fn the_window_files_stay_small() {
    let mut files = Vec::new();
    rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src/app"), &mut files);
    let mut long = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let lines = text.lines().count();
        let head: String = text.lines().take_while(|l| l.starts_with("//!")).collect::<Vec<_>>().join(" ");
        if lines > 400 && !head.contains("longer than 400 lines because") {
            long.push(format!("{} ({lines} lines)", f.display()));
        }
    }
    assert!(long.is_empty(), "split these by concern or say at their top why not: {long:?}");
}
