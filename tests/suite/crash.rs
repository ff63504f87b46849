//! Killed at any moment (SIGKILL, no chance to clean up), McGurk leaves the old or the new
//! state, never a torn one: a training run resumes exactly where its last complete epoch ended,
//! with the losses an uninterrupted run has; a session file is the old or the new one.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use mcgurk::train::TrainLog;

/// Deterministic "random" delays: the same kill points every run of the suite.
struct Delays(u64);

impl Delays {
    fn next_ms(&mut self, max: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % max
    }
}

fn manifest(dir: &Path) -> std::path::PathBuf {
    let f = root().join("assets/data/farm-av");
    let mut text = String::new();
    for (class, a, i) in [("cow", "gcompris-cow.ogg", "gcompris-cow.webp"), ("dog", "gcompris-dog.ogg", "gcompris-dog.webp")] {
        text += &format!("{}/{class}/{a};{}/{class}/{i},{class},train\n", f.display(), f.display());
    }
    let csv = dir.join("two.csv");
    std::fs::write(&csv, text).unwrap();
    csv
}

fn train_cmd(data: &Path, out: &Path, epochs: usize, resume: bool) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mcgurk"));
    c.args(["train", "--fusion", "concat", "--size", "small", "--batch", "2", "--samples-per-epoch", "2", "--seed", "5", "--no-augment"])
        .args(["--epochs", &epochs.to_string()])
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if resume {
        c.arg("--resume");
    }
    c
}

fn read_log(out: &Path) -> Option<TrainLog> {
    let bytes = std::fs::read(out.join("train_log.json")).ok()?;
    Some(serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("a torn training log: {e}")))
}

/// After a kill: the log, if any, parses and names files that exist and load.
fn assert_consistent(out: &Path) {
    let Some(log) = read_log(out) else { return };
    let state = log.state.as_ref().expect("a log on disk names its state");
    assert_eq!(state.epoch, log.epochs.len(), "the log's epochs and its state agree");
    assert!(state.missing(out).is_empty(), "the log names missing files: {:?}", state.missing(out));
    mcgurk::models::file::load(&out.join(&state.checkpoint), None, &burn::prelude::Device::flex()).expect("the named checkpoint loads");
}

#[test]
fn a_killed_training_run_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let data = manifest(dir.path());
    let epochs = 4;
    let whole = dir.path().join("whole");
    let out = train_cmd(&data, &whole, epochs, false).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let reference = read_log(&whole).unwrap();
    let started = Instant::now();

    let run = dir.path().join("killed");
    let mut delays = Delays(0x5EED_1234_ABCD_0001);
    let mut kills = 0;
    while kills < 20 {
        assert!(started.elapsed() < Duration::from_secs(600), "too slow");
        let mut child = train_cmd(&data, &run, epochs, true).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(50 + delays.next_ms(1500)));
        let finished = child.try_wait().unwrap().is_some();
        let _ = child.kill();
        let _ = child.wait();
        assert_consistent(&run);
        if finished {
            // It got to the end before the kill: start over so that kills keep landing mid-run.
            std::fs::remove_dir_all(&run).unwrap();
        } else {
            kills += 1;
        }
    }
    // What the kills left is finished by one more resume: the same epochs as the whole run.
    let out = train_cmd(&data, &run, epochs, true).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let resumed = read_log(&run).unwrap();
    assert_eq!(resumed.epochs.len(), epochs);
    for (a, b) in reference.epochs.iter().zip(&resumed.epochs) {
        assert!((a.train_loss - b.train_loss).abs() <= 1e-4 * a.train_loss.abs().max(1e-3), "epoch {}: {} vs {}", a.epoch, a.train_loss, b.train_loss);
    }
    let leftovers: Vec<String> = std::fs::read_dir(&run)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp") || (n.starts_with("checkpoint-") && *n != resumed.state.as_ref().unwrap().checkpoint))
        .collect();
    assert!(leftovers.is_empty(), "stale files: {leftovers:?}");
}

/// This test binary again, running only the writer test `child` (its target in the environment
/// variable `var`), killed with SIGKILL after `after_ms`, somewhere in a write.
fn run_writer_and_kill(child: &str, var: &str, path: &Path, after_ms: u64) {
    let mut writer = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", child, "--test-threads", "1"])
        .env(var, path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(after_ms));
    let _ = writer.kill();
    let _ = writer.wait();
}

/// Not a check of its own: run by the test below in a child process (named by an environment
/// variable) that keeps saving a large session until it is killed.
#[test]
fn session_writer_child() {
    let Some(path) = std::env::var_os("MCGURK_TEST_SESSION_WRITER") else { return };
    let mut s = mcgurk::session::Session::default();
    for k in 0.. {
        s.notes = format!("new {k} {}", "x".repeat(4 << 20));
        s.save(Path::new(&path)).unwrap();
    }
}

#[test]
fn a_killed_session_save_leaves_the_old_or_the_new_file() {
    use mcgurk::session::Session;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.mcgurk.json");
    let mut old = Session::default();
    old.notes = "old".into();
    old.save(&path).unwrap();
    let mut delays = Delays(0xC0FF_EE00_1234_5678);
    for _ in 0..20 {
        run_writer_and_kill("crash::session_writer_child", "MCGURK_TEST_SESSION_WRITER", &path, 20 + delays.next_ms(300));
        let s = Session::load(&path).expect("the old or the new session, never a torn one");
        assert!(s.notes == "old" || s.notes.starts_with("new"), "{}", &s.notes[..20.min(s.notes.len())]);
    }
    let temps = std::fs::read_dir(dir.path()).unwrap().filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".tmp")).count();
    assert!(temps <= 20, "at most one temp file per killed write");
}

/// Not a check of its own: keeps exporting a model file (each time with other class names)
/// until it is killed, for the test below.
#[test]
fn model_writer_child() {
    let Some(path) = std::env::var_os("MCGURK_TEST_MODEL_WRITER") else { return };
    let device = burn::prelude::Device::flex();
    let m = mcgurk::models::zoo::find("sum").unwrap().load(&device).unwrap();
    let mut info = m.info.clone();
    for k in 0.. {
        info.classes = (0..info.classes.len()).map(|i| format!("new{k}-{i}")).collect();
        mcgurk::models::file::save(Path::new(&path), &m.net, &info, mcgurk::models::safetensors::StoreAs::F32, false).unwrap();
    }
}

#[test]
fn a_killed_model_export_leaves_the_old_or_the_new_file() {
    use mcgurk::models::file;
    let device = burn::prelude::Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exported.safetensors");
    let m = mcgurk::models::zoo::find("sum").unwrap().load(&device).unwrap();
    let mut info = m.info.clone();
    info.classes = (0..info.classes.len()).map(|i| format!("old-{i}")).collect();
    file::save(&path, &m.net, &info, mcgurk::models::safetensors::StoreAs::F32, false).unwrap();
    let mut delays = Delays(0x5EED_0F_EC0DE);
    let mut saw_new = false;
    for _ in 0..20 {
        run_writer_and_kill("crash::model_writer_child", "MCGURK_TEST_MODEL_WRITER", &path, 30 + delays.next_ms(400));
        let loaded = file::load(&path, None, &device).expect("the old or the new model, never a torn file");
        let first = &loaded.info.classes[0];
        assert!(first == "old-0" || first.starts_with("new"), "{first}");
        saw_new |= first.starts_with("new");
    }
    assert!(saw_new, "no export finished in 20 runs: the kills never let one through");
}
