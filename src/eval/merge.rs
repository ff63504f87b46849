//! `eval merge`: the shard files of one run read back as one set of records, after checking
//! that they are one run (same identity and shard count), that every shard is there and
//! finished, and that no clip is counted twice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::journal::{Header, JournalError, ShardFile, read};
use super::record::{ClipRecord, Skipped, SpecRecord};
use super::shard::Shard;

#[derive(Debug)]
pub struct Merged {
    /// The first shard's header (all agree but for the shard index).
    pub header: Header,
    pub clips: Vec<ClipRecord>,
    /// A spec model's clips (runs of `eval --spec`).
    pub specs: Vec<SpecRecord>,
    pub skipped: Vec<Skipped>,
    pub files: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error(transparent)]
    File(#[from] JournalError),
    #[error("cannot list the results folder: {error}: {}", dir.display())]
    List { dir: PathBuf, error: std::io::Error },
    #[error("no results files (shard-I-of-N.jsonl) in {}", dir.display())]
    Empty { dir: PathBuf },
    #[error("{} holds shards of different runs: {a} and {b} split the data {na} and {nb} ways", dir.display())]
    Counts { dir: PathBuf, a: String, b: String, na: usize, nb: usize },
    #[error("shard {index} of {count} is missing: {}", path.display())]
    Missing { index: usize, count: usize, path: PathBuf },
    #[error("comes from another run than {} ({difference}): {}", other.display(), path.display())]
    OtherRun { path: PathBuf, other: PathBuf, difference: String },
    #[error("ends in a torn line (the shard was stopped while writing); run that shard again to finish it: {}", path.display())]
    Torn { path: PathBuf },
    #[error("is not finished: {done} of {expected} clips done; run shard {index} of {count} again to finish it: {}", path.display())]
    Unfinished { path: PathBuf, done: usize, expected: usize, index: usize, count: usize },
    #[error("clip '{clip}' ({setting}) is in {} and again in {}", first.display(), path.display())]
    Twice { clip: String, setting: String, first: PathBuf, path: PathBuf },
    #[error("clip '{clip}' (position {index}) belongs to shard {owner}, not to this file: {}", path.display())]
    WrongShard { clip: String, index: usize, owner: usize, path: PathBuf },
}

impl MergeError {
    /// Shards still running could end it: files missing or not finished yet (a running shard's
    /// file may end in half a line for a moment).
    pub fn is_pending(&self) -> bool {
        matches!(self, Self::List { .. } | Self::Empty { .. } | Self::Missing { .. } | Self::Torn { .. } | Self::Unfinished { .. })
    }
}

pub fn merge(dir: &Path) -> Result<Merged, MergeError> {
    let mut found: BTreeMap<usize, (Shard, PathBuf)> = BTreeMap::new();
    let mut count: Option<(usize, String)> = None;
    for entry in std::fs::read_dir(dir).map_err(|error| MergeError::List { dir: dir.into(), error })? {
        let entry = entry.map_err(|error| MergeError::List { dir: dir.into(), error })?;
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(shard) = Shard::from_file_name(&name) else { continue };
        match &count {
            Some((n, first)) if *n != shard.count => {
                return Err(MergeError::Counts { dir: dir.into(), a: first.clone(), b: name, na: *n, nb: shard.count });
            }
            Some(_) => {}
            None => count = Some((shard.count, name.clone())),
        }
        found.insert(shard.index, (shard, entry.path()));
    }
    let Some((n, _)) = count else { return Err(MergeError::Empty { dir: dir.into() }) };
    if let Some(index) = (0..n).find(|i| !found.contains_key(i)) {
        return Err(MergeError::Missing { index, count: n, path: dir.join(Shard { index, count: n }.file_name()) });
    }
    let files: Vec<ShardFile> = found.values().map(|(_, p)| read(p)).collect::<Result<_, _>>()?;
    let first = &files[0];
    let mut owner: BTreeMap<(String, String), PathBuf> = BTreeMap::new();
    for f in &files {
        if let Some(difference) = first.header.run.difference(&f.header.run) {
            return Err(MergeError::OtherRun { path: f.path.clone(), other: first.path.clone(), difference });
        }
        if f.torn {
            return Err(MergeError::Torn { path: f.path.clone() });
        }
        let shard = Shard { index: f.header.shard, count: f.header.shards };
        // A spec model's run has one setting: its attack.
        let one = f.header.run.settings.first().map(|s| &s.name);
        let clips = f.clips.iter().map(|c| (&c.clip, c.index, Some(&c.setting))).chain(f.specs.iter().map(|c| (&c.clip, c.index, one))).chain(f.skipped.iter().map(|s| (&s.clip, s.index, None)));
        for (clip, index, setting) in clips {
            if !shard.owns(index) {
                return Err(MergeError::WrongShard { clip: clip.clone(), index, owner: index % n, path: f.path.clone() });
            }
            let key = (clip.clone(), setting.cloned().unwrap_or_else(|| "skipped".into()));
            if let Some(first) = owner.insert(key.clone(), f.path.clone()) {
                return Err(MergeError::Twice { clip: key.0, setting: key.1, first, path: f.path.clone() });
            }
        }
        // Finished: every clip of the shard has every setting, or was skipped.
        let settings = f.header.run.settings.len();
        let mut per_clip: BTreeMap<usize, usize> = BTreeMap::new();
        for index in f.clips.iter().map(|c| c.index).chain(f.specs.iter().map(|c| c.index)) {
            *per_clip.entry(index).or_default() += 1;
        }
        let skipped: std::collections::BTreeSet<usize> = f.skipped.iter().map(|s| s.index).collect();
        let finished = (0..f.header.run.clips)
            .filter(|i| shard.owns(*i))
            .filter(|i| skipped.contains(i) || per_clip.get(i) == Some(&settings))
            .count();
        let expected = shard.size(f.header.run.clips);
        if finished < expected {
            return Err(MergeError::Unfinished { path: f.path.clone(), done: finished, expected, index: shard.index, count: n });
        }
    }
    let header = first.header.clone();
    let paths = files.iter().map(|f| f.path.clone()).collect();
    let (mut clips, mut specs, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
    for f in files {
        clips.extend(f.clips);
        specs.extend(f.specs);
        skipped.extend(f.skipped);
    }
    clips.sort_by_key(|c| c.index);
    specs.sort_by_key(|c| c.index);
    skipped.sort_by_key(|s| s.index);
    Ok(Merged { header, clips, specs, skipped, files: paths })
}
