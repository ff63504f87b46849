//! Evaluation at scale: sharded runs merged give one run's table exactly, a shard killed at any
//! moment resumes to the same table, `eval merge` refuses what is not one finished run, and the
//! Slurm and Kubernetes templates drive the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use crate::common::*;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_mcgurk")
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(bin());
    c.args(args);
    for var in ["SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_COUNT", "JOB_COMPLETION_INDEX"] {
        c.env_remove(var);
    }
    c.envs(env.iter().copied()).output().unwrap()
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn fails(out: Output) -> String {
    assert!(!out.status.success(), "succeeded: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn data() -> String {
    root().join("assets/data/farm-av").to_str().unwrap().to_string()
}

/// The demo data's train split (9 clips), two models, PGD and a sweep: three settings per clip.
fn base(d: &str) -> Vec<String> {
    ["eval", "--data", d, "--holdout", "tuxpaint", "--split", "train", "--model", "audio", "--model", "sum", "--method", "pgd", "--steps", "2", "--sweep", "0,1"]
        .map(String::from)
        .to_vec()
}

fn with(base: &[String], more: &[&str]) -> Vec<String> {
    base.iter().cloned().chain(more.iter().map(|s| s.to_string())).collect()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn sharded_runs_merge_to_the_table_of_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = data();
    let whole_json = dir.path().join("whole.json");
    let whole = ok(run(&strs(&with(&base(&d), &["--json", whole_json.to_str().unwrap()])), &[]));
    let whole_doc = json(&whole_json);
    assert_eq!(whole_doc["rows"][0]["clips"], 9);
    for n in [1usize, 3, 7] {
        let out = dir.path().join(format!("n{n}"));
        let o = out.to_str().unwrap();
        for i in 0..n {
            let (index, count) = (i.to_string(), n.to_string());
            match n {
                // Slurm's array variables, an array numbered from 1.
                3 => {
                    let id = (i + 1).to_string();
                    let env = [("SLURM_ARRAY_TASK_ID", id.as_str()), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", count.as_str())];
                    ok(run(&strs(&with(&base(&d), &["--out", o, "--shard", "auto"])), &env));
                }
                // A Kubernetes Indexed Job: the index, and N from --shards.
                7 => {
                    ok(run(&strs(&with(&base(&d), &["--out", o, "--shard", "auto", "--shards", "7"])), &[("JOB_COMPLETION_INDEX", index.as_str())]));
                }
                _ => {
                    ok(run(&strs(&with(&base(&d), &["--out", o, "--shard", &format!("{i}/{n}")])), &[]));
                }
            }
            assert!(out.join(format!("shard-{i}-of-{n}.jsonl")).is_file());
        }
        let merged_json = dir.path().join(format!("merged{n}.json"));
        let merged = ok(run(&["eval", "merge", o, "--json", merged_json.to_str().unwrap()], &[]));
        assert_eq!(merged, whole, "{n} shards");
        let doc = json(&merged_json);
        for k in ["rows", "sweep", "sanity", "clips", "split", "attack", "models"] {
            assert_eq!(doc[k], whole_doc[k], "{k}, {n} shards");
        }
    }
}

/// Lines of the results file that are clip records.
fn records(file: &Path) -> usize {
    std::fs::read_to_string(file).map_or(0, |t| t.lines().filter(|l| l.contains("\"kind\":\"clip\"")).count())
}

#[test]
fn a_run_killed_at_random_moments_resumes_to_the_same_table() {
    let dir = tempfile::tempdir().unwrap();
    let d = data();
    let args = ["eval", "--data", &d, "--holdout", "tuxpaint", "--split", "train", "--model", "sum", "--method", "pgd", "--steps", "4"].map(String::from).to_vec();
    let started = Instant::now();
    let whole = ok(run(&strs(&args), &[]));
    let took = started.elapsed();
    let out = dir.path().join("run");
    let file = out.join("shard-0-of-1.jsonl");
    let resumable = with(&args, &["--out", out.to_str().unwrap()]);
    // 9 clips, two settings each (PGD and the FGSM check).
    let all = 18;
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as u64 | 1;
    let mut rng = seed;
    let mut mid_run = 0;
    let mut kills = Vec::new();
    // The whole run was timed while other tests shared the cores: when a run finishes before
    // its kill, start again from nothing with kills aimed earlier.
    let mut scale = 0.9;
    for _ in 0..12 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        // Somewhere in the first 90% of a whole run's time.
        let after = took.mul_f64(scale * (rng % 1000) as f64 / 1000.0);
        let mut child = Command::new(bin()).args(&resumable).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(after);
        let before = records(&file);
        if child.try_wait().unwrap().is_none() {
            // SAFETY: a signal to our own child.
            assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGKILL) }, 0);
            kills.push(after);
        }
        child.wait().unwrap();
        let after_kill = records(&file);
        mid_run += usize::from(after_kill > 0 && after_kill < all && after_kill >= before);
        if after_kill == all && mid_run == 0 {
            std::fs::remove_dir_all(&out).unwrap();
            scale /= 2.0;
            continue;
        }
        if after_kill == all || mid_run >= 6 {
            break;
        }
    }
    assert!(mid_run > 0, "no kill landed mid-run (seed {seed}, kills at {kills:?}, whole run {took:?})");
    // A torn last line, as a kill during a write leaves it, is cut on resume.
    if records(&file) < all {
        use std::io::Write;
        std::fs::OpenOptions::new().append(true).open(&file).unwrap().write_all(b"{\"kind\":\"clip\",\"clip\":\"cat/gcomp").unwrap();
    }
    let resumed = ok(run(&strs(&resumable), &[]));
    assert_eq!(resumed, whole, "seed {seed}, kills at {kills:?}");
    assert_eq!(records(&file), all);
    assert!(std::fs::read_to_string(&file).unwrap().ends_with('\n'));
    // Run again: nothing left to do, the same table.
    let again = run(&strs(&resumable), &[]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("9 clips, 9 of them already in"), "{}", String::from_utf8_lossy(&again.stderr));
    assert_eq!(ok(again), whole);
    let merged = ok(run(&["eval", "merge", out.to_str().unwrap()], &[]));
    assert_eq!(merged, whole);
}

fn replace_file(path: &Path, f: impl FnOnce(String) -> String) -> String {
    let original = std::fs::read_to_string(path).unwrap();
    std::fs::write(path, f(original.clone())).unwrap();
    original
}

#[test]
fn merge_refuses_what_is_not_one_finished_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = data();
    let quick = ["eval", "--data", &d, "--holdout", "tuxpaint", "--split", "train", "--model", "audio", "--method", "fgsm", "--limit", "6"].map(String::from).to_vec();
    let out = dir.path().join("run");
    let o = out.to_str().unwrap().to_string();
    for i in 0..2 {
        ok(run(&strs(&with(&quick, &["--out", &o, "--shard", &format!("{i}/2")])), &[]));
    }
    ok(run(&["eval", "merge", &o], &[]));
    let (s0, s1) = (out.join("shard-0-of-2.jsonl"), out.join("shard-1-of-2.jsonl"));
    let merge_err = || fails(run(&["eval", "merge", &o], &[]));

    let aside = dir.path().join("aside.jsonl");
    std::fs::rename(&s1, &aside).unwrap();
    let e = merge_err();
    assert!(e.contains("shard 1 of 2 is missing") && e.contains("shard-1-of-2.jsonl"), "{e}");
    // A merge job started beside the shards waits for them, then gives up with the reason.
    let waited = fails(run(&["eval", "merge", &o, "--wait", "1"], &[]));
    assert!(waited.contains("waiting for the shards") && waited.contains("shard 1 of 2 is missing"), "{waited}");
    std::fs::rename(&aside, &s1).unwrap();

    let original = replace_file(&s0, |t| t + "{\"kind\":\"clip\",\"cl");
    let e = merge_err();
    assert!(e.contains("torn line") && e.contains("shard-0-of-2.jsonl"), "{e}");
    let lines: Vec<&str> = original.lines().collect();
    std::fs::write(&s0, lines[..lines.len() - 1].join("\n") + "\n").unwrap();
    let e = merge_err();
    assert!(e.contains("is not finished: 2 of 3 clips done") && e.contains("run shard 0 of 2 again"), "{e}");
    std::fs::write(&s0, original.clone() + lines[lines.len() - 1] + "\n").unwrap();
    let e = merge_err();
    assert!(e.contains("and again in") && e.contains("shard-0-of-2.jsonl"), "{e}");
    std::fs::write(&s0, &original).unwrap();
    let other = replace_file(&s1, |t| t + lines[1] + "\n");
    let e = merge_err();
    assert!(e.contains("belongs to shard 0") && e.contains("shard-1-of-2.jsonl"), "{e}");
    std::fs::write(&s1, other).unwrap();
    std::fs::write(&s0, format!("{}\nnot json\n{}", lines[0], lines[1..].join("\n") + "\n")).unwrap();
    let e = merge_err();
    assert!(e.contains("line 2 is not a result") && e.contains("shard-0-of-2.jsonl"), "{e}");
    std::fs::write(&s0, &original).unwrap();
    ok(run(&["eval", "merge", &o], &[]));

    // A shard of another run (another budget) in the folder.
    let elsewhere = dir.path().join("other");
    ok(run(&strs(&with(&quick, &["--eps-a", "0.02", "--out", elsewhere.to_str().unwrap(), "--shard", "1/2"])), &[]));
    std::fs::copy(elsewhere.join("shard-1-of-2.jsonl"), &s1).unwrap();
    let e = merge_err();
    assert!(e.contains("comes from another run") && e.contains("attack") && e.contains("shard-1-of-2.jsonl"), "{e}");
    // Resuming with other options, or another number of shards, is refused before any work.
    let e = fails(run(&strs(&with(&quick, &["--eps-a", "0.03", "--out", &o, "--shard", "0/2"])), &[]));
    assert!(e.contains("holds the results of another run") && e.contains("shard-0-of-2.jsonl"), "{e}");
    let e = fails(run(&strs(&with(&quick, &["--out", &o, "--shard", "0/3"])), &[]));
    assert!(e.contains("already holds shards of 2"), "{e}");
    let e = fails(run(&["eval", "merge", dir.path().join("nothing").to_str().unwrap()], &[]));
    assert!(e.contains("cannot list the results folder"), "{e}");
}

#[test]
fn universal_perturbations_fitted_once_serve_every_shard() {
    let dir = tempfile::tempdir().unwrap();
    let d = data();
    let args = ["eval", "--data", &d, "--holdout", "tuxpaint", "--split", "test", "--model", "audio", "--universal", "--universal-epochs", "1", "--eps-a", "0.02", "--sweep", "0,1"]
        .map(String::from)
        .to_vec();
    let whole = ok(run(&strs(&args), &[]));
    let file = dir.path().join("u.safetensors");
    let saved = ok(run(&strs(&with(&args, &["--save-universal", file.to_str().unwrap()])), &[]));
    assert!(saved.contains("saved to"), "{saved}");
    let from: Vec<String> = args.iter().filter(|a| *a != "--universal").cloned().chain(["--universal-from".into(), file.to_str().unwrap().into()]).collect();
    let out = dir.path().join("run");
    for i in 0..2 {
        ok(run(&strs(&with(&from, &["--out", out.to_str().unwrap(), "--shard", &format!("{i}/2")])), &[]));
    }
    assert_eq!(ok(run(&["eval", "merge", out.to_str().unwrap()], &[])), whole);
    // Perturbations fitted for another model, or on the split evaluated, are refused.
    let mut other = from.clone();
    let at = other.iter().position(|a| a == "audio").unwrap();
    other[at] = "sum".into();
    let e = fails(run(&strs(&other), &[]));
    assert!(e.contains("do not fit this run") && e.contains("u.safetensors"), "{e}");
    let mut same_split = from.clone();
    let at = same_split.iter().position(|a| a == "test").unwrap();
    same_split[at] = "train".into();
    let e = fails(run(&strs(&same_split), &[]));
    assert!(e.contains("fitted on the Train split"), "{e}");
}

/// A stand-in for `sbatch` that records its arguments, one per line.
fn fake_sbatch(dir: &Path) -> PathBuf {
    let bin_dir = dir.join("bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    let script = bin_dir.join("sbatch");
    std::fs::write(&script, format!("#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done >> {}\necho 4242\n", dir.join("sbatch.args").display())).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin_dir
}

#[test]
fn the_slurm_template_runs_its_shards_and_submits_the_merge() {
    let dir = tempfile::tempdir().unwrap();
    let d = data();
    let eval_args = "--holdout tuxpaint --split train --method fgsm --limit 5";
    let whole = ok(run(&["eval", "--data", &d, "--model", "audio", "--holdout", "tuxpaint", "--split", "train", "--method", "fgsm", "--limit", "5"], &[]));
    let bin_dir = fake_sbatch(dir.path());
    let out = dir.path().join("results");
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    for task in ["1", "2"] {
        let status = Command::new("bash")
            .arg(root().join("deploy/slurm/eval.sbatch"))
            .current_dir(dir.path())
            .env("PATH", &path)
            .env("MCGURK", bin())
            .env("DATA", &d)
            .env("MODEL", "audio")
            .env("OUT", &out)
            .env("EVAL_ARGS", eval_args)
            .env("SLURM_ARRAY_JOB_ID", "77")
            .env("SLURM_ARRAY_TASK_ID", task)
            .env("SLURM_ARRAY_TASK_MIN", "1")
            .env("SLURM_ARRAY_TASK_COUNT", "2")
            .env("SLURM_CPUS_PER_TASK", "2")
            .env_remove("JOB_COMPLETION_INDEX")
            .output()
            .unwrap();
        assert!(status.status.success(), "task {task}: {}", String::from_utf8_lossy(&status.stderr));
    }
    assert!(out.join("shard-0-of-2.jsonl").is_file() && out.join("shard-1-of-2.jsonl").is_file());
    // Only the first task submitted the merge, after the whole array.
    let submitted = std::fs::read_to_string(dir.path().join("sbatch.args")).unwrap();
    let args: Vec<&str> = submitted.lines().collect();
    assert!(args.contains(&"--dependency=afterok:77"), "{submitted}");
    let wrap = args[args.iter().position(|a| *a == "--wrap").unwrap() + 1];
    let merged = Command::new("bash").arg("-c").arg(wrap).current_dir(dir.path()).output().unwrap();
    assert!(merged.status.success(), "{}", String::from_utf8_lossy(&merged.stderr));
    assert_eq!(std::fs::read_to_string(out.join("table.txt")).unwrap(), whole);
    assert!(out.join("table.json").is_file() && out.join("table.csv").is_file());
    // With SPEC (and WEIGHTS) instead of MODEL a task evaluates the model the spec describes.
    let fake = dir.path().join("fake-mcgurk");
    std::fs::write(&fake, format!("#!/bin/sh\necho \"$@\" > {}\n", dir.path().join("called.txt").display())).unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let status = Command::new("bash")
        .arg(root().join("deploy/slurm/eval.sbatch"))
        .current_dir(dir.path())
        .env("PATH", &path)
        .env("MCGURK", &fake)
        .env("DATA", "/data/esc")
        .env("SPEC", "/models/cnn14.spec.json")
        .env("WEIGHTS", "/models/Cnn14.pth")
        .env_remove("MODEL")
        .env("OUT", &out)
        .env("EVAL_ARGS", "--split test")
        .env("SLURM_ARRAY_JOB_ID", "78")
        .env("SLURM_ARRAY_TASK_ID", "2")
        .env("SLURM_ARRAY_TASK_MIN", "1")
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let called = std::fs::read_to_string(dir.path().join("called.txt")).unwrap();
    assert!(called.starts_with("eval --data /data/esc --spec /models/cnn14.spec.json --weights /models/Cnn14.pth --split test --out "), "{called}");
    assert!(called.trim_end().ends_with("--shard auto"), "{called}");
}

#[test]
fn the_kubernetes_template_is_an_indexed_job_and_a_merge_job() {
    use yaml_rust2::{Yaml, YamlLoader};
    let text = std::fs::read_to_string(root().join("deploy/k8s/eval-job.yaml")).unwrap();
    let docs = YamlLoader::load_from_str(&text).unwrap();
    assert_eq!(docs.len(), 2);
    let strings = |y: &Yaml| -> Vec<String> { y.as_vec().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect() };
    let (eval, merge) = (&docs[0], &docs[1]);
    for job in [eval, merge] {
        assert_eq!(job["apiVersion"].as_str(), Some("batch/v1"));
        assert_eq!(job["kind"].as_str(), Some("Job"));
    }
    let spec = &eval["spec"];
    assert_eq!(spec["completionMode"].as_str(), Some("Indexed"));
    let completions = spec["completions"].as_i64().unwrap();
    assert!(completions > 1 && spec["parallelism"].as_i64().is_some());
    let container = &spec["template"]["spec"]["containers"][0];
    let args = strings(&container["args"]);
    assert_eq!(args[0], "eval");
    assert!(args.contains(&"--shard=auto".to_string()) && args.contains(&format!("--shards={completions}")), "{args:?}");
    let out = args.iter().find_map(|a| a.strip_prefix("--out=")).unwrap().to_string();
    let mounts = |c: &Yaml| -> Vec<String> { c["volumeMounts"].as_vec().unwrap().iter().map(|m| m["mountPath"].as_str().unwrap().to_string()).collect() };
    assert!(mounts(container).iter().any(|m| out.starts_with(m.as_str())), "{out} is not on a mounted volume");
    let merge_container = &merge["spec"]["template"]["spec"]["containers"][0];
    let merge_args = strings(&merge_container["args"]);
    assert_eq!(merge_args[..3], ["eval".to_string(), "merge".to_string(), out.clone()]);
    assert!(merge_args.iter().any(|a| a.starts_with("--wait=")), "{merge_args:?}");
    assert!(mounts(merge_container).iter().any(|m| out.starts_with(m.as_str())));
    // The command lines parse: what fails is the missing model or folder, not the options.
    let e = fails(run(&strs(&args), &[("JOB_COMPLETION_INDEX", "0")]));
    assert!(!e.contains("Usage:") && e.contains("/models/"), "{e}");
    let merge_now: Vec<String> = merge_args.iter().map(|a| if a.starts_with("--wait=") { "--wait=0".into() } else { a.clone() }).collect();
    let e = fails(run(&strs(&merge_now), &[]));
    assert!(!e.contains("Usage:") && e.contains(&out), "{e}");
}

#[test]
fn the_progress_line_gives_rate_and_eta_per_shard() {
    let d = data();
    let out = tempfile::tempdir().unwrap();
    let o = run(&["eval", "--data", &d, "--holdout", "tuxpaint", "--split", "train", "--model", "audio", "--method", "fgsm", "--out", out.path().to_str().unwrap(), "--shard", "1/2"], &[]);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "{err}");
    assert!(err.contains("shard 1/2: 4 clips, 0 of them already in"), "{err}");
    let last = err.lines().filter(|l| l.starts_with("shard 1/2: clip ")).last().unwrap();
    assert!(last.starts_with("shard 1/2: clip 4/4, ") && last.contains(" clips/h, ETA 0 s"), "{last}");
}
