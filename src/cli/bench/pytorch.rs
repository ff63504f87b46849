//! PyTorch's side of the benchmarks: the committed scripts `tests/fixtures/torch/bench_pgd.py`
//! (the attack, with the model definitions it imports) and `bench_video.py` (torchvision's
//! R(2+1)D-18), embedded, run the same work on the same weights and inputs, which McGurk writes
//! to a scratch folder as safetensors files.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::models::safetensors::{SafeTensors, StoreAs};

const SCRIPT: &str = include_str!("../../../tests/fixtures/torch/bench_pgd.py");
const MODELS: &str = include_str!("../../../tests/fixtures/torch/make_torch_fixtures.py");
const VIDEO: &str = include_str!("../../../tests/fixtures/torch/bench_video.py");

/// Where the Python comes from: `--python`, else `MCGURK_PYTHON`, else `python3` on PATH.
pub fn python(flag: Option<&Path>) -> PathBuf {
    flag.map(Path::to_path_buf)
        .or_else(|| std::env::var_os("MCGURK_PYTHON").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("python3"))
}

/// What the script reports for one model: per batch size, the seconds of each timed run and
/// the per-example losses at the end point.
#[derive(Debug, Deserialize)]
pub struct Timing {
    pub torch: String,
    pub threads: usize,
    pub results: Vec<BatchTiming>,
}

/// What `bench_video.py` reports: seconds of each timed forward pass and input gradient, and
/// the feature it computed.
#[derive(Debug, Deserialize)]
pub struct VideoTiming {
    pub torch: String,
    pub threads: usize,
    pub forward: Vec<f64>,
    pub gradient: Vec<f64>,
    pub feature: Vec<f32>,
}

#[derive(Debug, Deserialize)]
pub struct BatchTiming {
    pub batch: usize,
    pub seconds: Vec<f64>,
    pub loss_adv: Vec<f32>,
}

/// A Python that can import torch and safetensors, with the folder the script runs in.
pub struct Torch {
    python: PathBuf,
    dir: PathBuf,
    pub cuda: bool,
}

impl Torch {
    /// Checks the interpreter; Err says why and how to get one.
    pub fn find(python: PathBuf) -> anyhow::Result<Self> {
        let probe = Command::new(&python).args(["-c", "import torch, safetensors; print(torch.cuda.is_available())"]).output();
        let out = match probe {
            Ok(out) if out.status.success() => out,
            Ok(out) => bail!(
                "{} cannot import torch and safetensors ({}); install them with `{} -m pip install torch safetensors`, or name another Python with --python or MCGURK_PYTHON",
                python.display(),
                String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("no message"),
                python.display()
            ),
            Err(e) => bail!("cannot run {} ({e}); name a Python that has torch with --python or MCGURK_PYTHON", python.display()),
        };
        let cuda = String::from_utf8_lossy(&out.stdout).trim() == "True";
        let dir = std::env::temp_dir().join(format!("mcgurk-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for (name, text) in [("bench_pgd.py", SCRIPT), ("make_torch_fixtures.py", MODELS), ("bench_video.py", VIDEO)] {
            std::fs::write(dir.join(name), text).with_context(|| format!("cannot write {}", dir.join(name).display()))?;
        }
        Ok(Self { python, dir, cuda })
    }

    /// Writes a file for the script to read; returns its path.
    pub fn write(&self, name: &str, st: &SafeTensors) -> anyhow::Result<PathBuf> {
        let path = self.dir.join(name);
        std::fs::write(&path, st.to_bytes(StoreAs::F32)).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    }

    /// Runs the attack script with `args` (after its own name); parses its JSON line.
    pub fn run(&self, args: &[String]) -> anyhow::Result<Timing> {
        self.script("bench_pgd.py", args)
    }

    /// Runs the embedded script `name` with `args`; parses the JSON line it prints last.
    pub fn script<T: serde::de::DeserializeOwned>(&self, name: &str, args: &[String]) -> anyhow::Result<T> {
        let out = Command::new(&self.python)
            .arg(self.dir.join(name))
            .args(args)
            .current_dir(&self.dir)
            .output()
            .with_context(|| format!("cannot run {}", self.python.display()))?;
        if !out.status.success() {
            bail!("{name} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout.lines().rev().find(|l| l.starts_with('{')).with_context(|| format!("{name} printed no result"))?;
        serde_json::from_str(line).with_context(|| format!("{name} printed an unreadable result: {line}"))
    }
}

impl Drop for Torch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
