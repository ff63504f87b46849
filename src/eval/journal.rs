//! A shard's results file, `DIR/shard-I-of-N.jsonl`: a header line (the run's identity), then a
//! line per clip and setting, appended and synced as each is done. A killed shard restarts from
//! what its file holds: a torn last line is cut off, everything before it is kept.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::identity::{FORMAT, RunIdentity};
use super::record::{ClipRecord, Skipped, SpecRecord};
use super::shard::Shard;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub format: u32,
    pub shard: usize,
    pub shards: usize,
    /// The dataset as the command named it (shown in the table's title; not part of the run's
    /// identity: nodes may mount the data elsewhere).
    pub data: String,
    pub run: RunIdentity,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Line {
    Header(Header),
    Clip(ClipRecord),
    Spec(SpecRecord),
    Skipped(Skipped),
}

/// What a results file holds.
#[derive(Debug)]
pub struct ShardFile {
    pub path: PathBuf,
    pub header: Header,
    pub clips: Vec<ClipRecord>,
    /// A spec model's clips (runs of `eval --spec`).
    pub specs: Vec<SpecRecord>,
    pub skipped: Vec<Skipped>,
    /// The file ends in a line without its newline (the writer was killed mid-line).
    pub torn: bool,
    /// Bytes up to the end of the last whole line.
    pub whole: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot use the results file: {error}: {}", path.display())]
    Io { path: PathBuf, error: std::io::Error },
    #[error("not an evaluation results file (no header line): {}", path.display())]
    NoHeader { path: PathBuf },
    #[error("line {line} is not a result ({detail}): {}", path.display())]
    BadLine { path: PathBuf, line: usize, detail: String },
    #[error("results of format {found}; this McGurk reads format {FORMAT}: {}", path.display())]
    Format { path: PathBuf, found: u32 },
    #[error("holds the results of another run ({difference}): give another --out folder, or delete the file to start over: {}", path.display())]
    OtherRun { path: PathBuf, difference: String },
    #[error("{} already holds shards of {found} (this run has {count}): give another --out folder", dir.display())]
    OtherCount { dir: PathBuf, found: usize, count: usize },
    #[error("a result does not read back from its own line ({0})")]
    RoundTrip(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> JournalError + '_ {
    move |error| JournalError::Io { path: path.into(), error }
}

/// Results files hold a few kilobytes per clip; this bounds what is read into memory.
const MAX_FILE_BYTES: u64 = 16 << 30;

/// Reads a results file. A torn last line is reported (`torn`), not an error; any other line
/// that is not a result is.
pub fn read(path: &Path) -> Result<ShardFile, JournalError> {
    let bytes = crate::files::read_regular(path, MAX_FILE_BYTES).map_err(io(path))?;
    let whole = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let text = std::str::from_utf8(&bytes[..whole]).map_err(|e| JournalError::BadLine { path: path.into(), line: 0, detail: e.to_string() })?;
    let mut header = None;
    let (mut clips, mut specs, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
    for (n, line) in text.lines().enumerate() {
        let bad = |detail: String| JournalError::BadLine { path: path.into(), line: n + 1, detail };
        match serde_json::from_str::<Line>(line).map_err(|e| bad(e.to_string()))? {
            Line::Header(h) if n == 0 => header = Some(h),
            Line::Header(_) => return Err(bad("a second header".into())),
            Line::Clip(c) if header.is_some() => clips.push(c),
            Line::Spec(c) if header.is_some() => specs.push(c),
            Line::Skipped(s) if header.is_some() => skipped.push(s),
            _ => return Err(JournalError::NoHeader { path: path.into() }),
        }
    }
    let header = header.ok_or_else(|| JournalError::NoHeader { path: path.into() })?;
    if header.format != FORMAT {
        return Err(JournalError::Format { path: path.into(), found: header.format });
    }
    Ok(ShardFile { path: path.into(), header, clips, specs, skipped, torn: whole < bytes.len(), whole: whole as u64 })
}

/// An open results file, appended to.
pub struct Journal {
    file: File,
    path: PathBuf,
}

impl Journal {
    /// Opens `dir`'s file for `header`'s shard: a new one (its header written atomically) or
    /// the one a killed run left, which must hold the same run; its torn tail is cut. Returns
    /// what it held.
    pub fn open(dir: &Path, header: &Header) -> Result<(Self, Option<ShardFile>), JournalError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        for entry in std::fs::read_dir(dir).map_err(io(dir))? {
            let name = entry.map_err(io(dir))?.file_name();
            if let Some(other) = Shard::from_file_name(&name.to_string_lossy())
                && other.count != header.shards
            {
                return Err(JournalError::OtherCount { dir: dir.into(), found: other.count, count: header.shards });
            }
        }
        let shard = Shard { index: header.shard, count: header.shards };
        let path = dir.join(shard.file_name());
        let existing = if path.exists() {
            let held = read(&path)?;
            if held.header.shard != header.shard || held.header.shards != header.shards {
                return Err(JournalError::OtherRun { path, difference: "its header names another shard".into() });
            }
            if let Some(difference) = held.header.run.difference(&header.run) {
                return Err(JournalError::OtherRun { path, difference });
            }
            Some(held)
        } else {
            let mut line = serde_json::to_string(&Line::Header(header.clone())).map_err(|e| JournalError::Io { path: path.clone(), error: e.into() })?;
            line.push('\n');
            crate::files::write_atomic(&path, line.as_bytes()).map_err(|e| JournalError::Io { path: path.clone(), error: std::io::Error::other(e.to_string()) })?;
            None
        };
        let file = OpenOptions::new().append(true).open(&path).map_err(io(&path))?;
        if let Some(held) = &existing
            && held.torn
        {
            file.set_len(held.whole).map_err(io(&path))?;
        }
        Ok((Self { file, path }, existing))
    }

    /// Appends one line and syncs it to disk (a clip takes seconds; a sync, milliseconds).
    pub fn append(&mut self, line: &str) -> Result<(), JournalError> {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        self.file.write_all(&bytes).map_err(io(&self.path))?;
        self.file.sync_data().map_err(io(&self.path))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A record as its results line, and back: what the table is computed from is exactly what the
/// file holds.
fn to_line(line: &Line) -> String {
    serde_json::to_string(line).expect("results serialize (non-finite floats are written as null)")
}

/// Appends `line` to `journal` when there is one, and returns it as read back from its text:
/// what a table counts is what the file holds.
pub fn keep(journal: Option<&mut Journal>, line: &Line) -> Result<Line, JournalError> {
    let text = to_line(line);
    if let Some(j) = journal {
        j.append(&text)?;
    }
    serde_json::from_str(&text).map_err(|e| JournalError::RoundTrip(e.to_string()))
}
