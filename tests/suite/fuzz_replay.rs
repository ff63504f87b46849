//! Replays the fuzz seeds and every committed finding through the same reader functions the
//! fuzz targets call (`mcgurk::fuzz`), so a fixed finding stays fixed without a fuzzer.
//! Findings live in `fuzz/regressions/TARGET/`, one file each, named after what they broke.

use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir).map(|d| d.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect()).unwrap_or_default();
    v.sort();
    v
}

/// Runs `target` on each file; a panic is collected with the file's name, not fatal at once.
/// A decoder panic McGurk contained (an error for the user) counts as a failure here too.
fn replay(target: &str, run: fn(&[u8]), inputs: &[PathBuf]) -> Vec<String> {
    let mut failures = Vec::new();
    for path in inputs {
        let bytes = std::fs::read(path).unwrap();
        let contained = mcgurk::fuzz::contained_panics();
        if let Err(e) = std::panic::catch_unwind(|| run(&bytes)) {
            let why = e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
            failures.push(format!("{target}: {}: {why}", path.display()));
        } else if mcgurk::fuzz::contained_panics() != contained {
            failures.push(format!("{target}: {}: a decoder panicked (contained as an error)", path.display()));
        }
    }
    failures
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

#[test]
fn every_target_has_seeds_and_they_read_without_panics() {
    let mut failures = Vec::new();
    for (name, run) in mcgurk::fuzz::TARGETS {
        let seeds = files(&root().join("seeds").join(name));
        assert!(!seeds.is_empty(), "no seeds for fuzz target {name}");
        failures.extend(replay(name, run, &seeds));
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn committed_fuzz_findings_stay_fixed() {
    let mut failures = Vec::new();
    let mut count = 0;
    for (name, run) in mcgurk::fuzz::TARGETS {
        let found = files(&root().join("regressions").join(name));
        count += found.len();
        failures.extend(replay(name, run, &found));
    }
    assert!(failures.is_empty(), "{failures:#?}");
    eprintln!("{count} committed findings replayed");
}

#[test]
fn every_fuzz_target_has_a_binary() {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    for (name, _) in mcgurk::fuzz::TARGETS {
        let bin = root().join("fuzz_targets").join(format!("{name}.rs"));
        let text = std::fs::read_to_string(&bin).unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
        assert!(text.contains(&format!("mcgurk::fuzz::{name}(data)")), "{} does not call mcgurk::fuzz::{name}", bin.display());
        assert!(manifest.contains(&format!("name = \"{name}\"")), "fuzz/Cargo.toml has no [[bin]] {name}");
    }
}
