//! A run's saved state, crash-safe: each epoch's checkpoint, optimizer state and running average
//! are written under names that carry the epoch, then the training log, written last and
//! atomically, names them. Resume reads the state the log names, so it sees a whole epoch or
//! the one before, never a mix; whatever a crash left beside it is removed on the next start.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The files of one epoch's state, relative to the run's folder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedState {
    pub epoch: usize,
    pub checkpoint: String,
    pub optimizer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average: Option<String>,
}

impl SavedState {
    pub fn for_epoch(epoch: usize, with_average: bool) -> Self {
        Self {
            epoch,
            checkpoint: format!("checkpoint-{epoch}.safetensors"),
            optimizer: format!("optimizer-{epoch}.bpk"),
            average: with_average.then(|| format!("average-{epoch}.safetensors")),
        }
    }

    /// Runs written before states were named: one fixed set of files, overwritten each epoch.
    pub fn legacy(epoch: usize, with_average: bool) -> Self {
        Self {
            epoch,
            checkpoint: "checkpoint.safetensors".into(),
            optimizer: "optimizer.bpk".into(),
            average: with_average.then(|| "average.safetensors".into()),
        }
    }

    pub fn files(&self) -> impl Iterator<Item = &str> {
        [Some(self.checkpoint.as_str()), Some(self.optimizer.as_str()), self.average.as_deref()].into_iter().flatten()
    }

    /// The files the log names but the folder lacks (a run copied without them, say).
    pub fn missing(&self, out: &Path) -> Vec<String> {
        self.files().filter(|f| !out.join(f).is_file()).map(str::to_string).collect()
    }

    /// Removes this state's files that `next` does not use (after `next` is committed).
    pub fn remove_unused(&self, out: &Path, next: &SavedState) {
        for f in self.files().filter(|f| !next.files().any(|n| n == *f)) {
            let _ = std::fs::remove_file(out.join(f));
        }
    }
}

/// Is `name` a state file of some epoch (`checkpoint-3.safetensors`, ...)?
fn is_epoch_file(name: &str) -> bool {
    [("checkpoint-", ".safetensors"), ("optimizer-", ".bpk"), ("average-", ".safetensors")].iter().any(|(head, tail)| {
        name.strip_prefix(head).and_then(|r| r.strip_suffix(tail)).is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// Removes what an interrupted run left in `out`: temp files of unfinished writes and epoch
/// files the log does not name. Returns how many files went.
pub fn clean_stale(out: &Path, keep: Option<&SavedState>) -> usize {
    let Ok(entries) = std::fs::read_dir(out) else { return 0 };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let temp = name.starts_with('.') && name.ends_with(".tmp");
        let unnamed = is_epoch_file(&name) && !keep.is_some_and(|k| k.files().any(|f| f == name));
        if (temp || unnamed) && entry.file_type().is_ok_and(|t| t.is_file()) && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_temp_files_and_unnamed_epoch_files_are_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        let keep = SavedState::for_epoch(3, true);
        for f in [
            "checkpoint-3.safetensors",
            "optimizer-3.bpk",
            "average-3.safetensors",
            "checkpoint-4.safetensors",
            "optimizer-4.bpk",
            ".checkpoint-4.safetensors.77-0.tmp",
            "train_log.json",
            "sum.safetensors",
            "checkpoint-x.safetensors",
            "notes.tmp",
        ] {
            std::fs::write(dir.path().join(f), b"x").unwrap();
        }
        assert_eq!(clean_stale(dir.path(), Some(&keep)), 3);
        let mut left: Vec<String> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        left.sort();
        assert_eq!(left, ["average-3.safetensors", "checkpoint-3.safetensors", "checkpoint-x.safetensors", "notes.tmp", "optimizer-3.bpk", "sum.safetensors", "train_log.json"]);
        assert!(keep.missing(dir.path()).is_empty());
        let next = SavedState::for_epoch(4, false);
        keep.remove_unused(dir.path(), &next);
        assert!(!dir.path().join("checkpoint-3.safetensors").exists() && !dir.path().join("average-3.safetensors").exists());
    }
}
