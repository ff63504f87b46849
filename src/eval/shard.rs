//! Which part of a split one process evaluates: clip i (in the sorted split) belongs to shard
//! i mod N, so shards are disjoint and cover the split whatever N is. `auto` reads the array
//! index a cluster gives each task: Slurm's job arrays or a Kubernetes Indexed Job.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

/// Shards beyond this are surely a typo (and would make as many files).
pub const MAX_SHARDS: usize = 100_000;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShardError {
    #[error("--shard '{0}': give I/N with 0 <= I < N (for example 0/8), or auto")]
    Syntax(String),
    #[error("--shard {index}/{count}: the index must be below the number of shards")]
    OutOfRange { index: usize, count: usize },
    #[error("--shard: at most {MAX_SHARDS} shards")]
    TooMany,
    #[error("--shard auto: {0}")]
    Auto(String),
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    pub const WHOLE: Self = Self { index: 0, count: 1 };

    /// `I/N`, or `auto` (see [`Shard::from_env`]); `shards` is `--shards N`.
    pub fn parse(text: &str, shards: Option<usize>, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ShardError> {
        let text = text.trim();
        if text == "auto" {
            return Self::from_env(shards, env);
        }
        let (i, n) = text.split_once('/').ok_or_else(|| ShardError::Syntax(text.into()))?;
        let (Ok(index), Ok(count)) = (i.trim().parse::<usize>(), n.trim().parse::<usize>()) else {
            return Err(ShardError::Syntax(text.into()));
        };
        Self::new(index, count)
    }

    pub fn new(index: usize, count: usize) -> Result<Self, ShardError> {
        if count > MAX_SHARDS {
            return Err(ShardError::TooMany);
        }
        if index >= count {
            return Err(ShardError::OutOfRange { index, count });
        }
        Ok(Self { index, count })
    }

    /// Slurm: `SLURM_ARRAY_TASK_ID` less `SLURM_ARRAY_TASK_MIN` (arrays may start at 1), N from
    /// `SLURM_ARRAY_TASK_COUNT` or `--shards`. Kubernetes Indexed Job: `JOB_COMPLETION_INDEX`,
    /// N from `--shards` (the Job's `completions`).
    pub fn from_env(shards: Option<usize>, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ShardError> {
        let number = |name: &str| -> Result<Option<usize>, ShardError> {
            match env(name) {
                None => Ok(None),
                Some(v) => v.trim().parse().map(Some).map_err(|_| ShardError::Auto(format!("{name}='{v}' is not a number"))),
            }
        };
        if let Some(id) = number("SLURM_ARRAY_TASK_ID")? {
            let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let index = id.checked_sub(min).ok_or_else(|| ShardError::Auto(format!("SLURM_ARRAY_TASK_ID {id} is below SLURM_ARRAY_TASK_MIN {min}")))?;
            let count = match (number("SLURM_ARRAY_TASK_COUNT")?, shards) {
                (_, Some(n)) | (Some(n), None) => n,
                (None, None) => return Err(ShardError::Auto("SLURM_ARRAY_TASK_COUNT is not set: give --shards N".into())),
            };
            return Self::new(index, count);
        }
        if let Some(index) = number("JOB_COMPLETION_INDEX")? {
            let Some(count) = shards else {
                return Err(ShardError::Auto("a Kubernetes Indexed Job does not say how many shards: give --shards N (the Job's completions)".into()));
            };
            return Self::new(index, count);
        }
        Err(ShardError::Auto("neither SLURM_ARRAY_TASK_ID (a Slurm array job) nor JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) is set".into()))
    }

    /// Whether clip `position` of the sorted split is this shard's.
    pub fn owns(&self, position: usize) -> bool {
        position % self.count == self.index
    }

    /// Clips of a split of `total` that are this shard's.
    pub fn size(&self, total: usize) -> usize {
        (total + self.count - 1 - self.index) / self.count
    }

    /// The shard's results file name.
    pub fn file_name(&self) -> String {
        format!("shard-{}-of-{}.jsonl", self.index, self.count)
    }

    /// The inverse of [`Shard::file_name`].
    pub fn from_file_name(name: &str) -> Option<Self> {
        let rest = name.strip_prefix("shard-")?.strip_suffix(".jsonl")?;
        let (i, n) = rest.split_once("-of-")?;
        Self::new(i.parse().ok()?, n.parse().ok()?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    #[test]
    fn shards_are_disjoint_and_cover_the_split() {
        for n in [1, 3, 7] {
            for total in [0, 1, 6, 23] {
                let shards: Vec<Shard> = (0..n).map(|i| Shard::new(i, n).unwrap()).collect();
                for p in 0..total {
                    assert_eq!(shards.iter().filter(|s| s.owns(p)).count(), 1);
                }
                for s in &shards {
                    assert_eq!(s.size(total), (0..total).filter(|p| s.owns(*p)).count(), "{s} of {total}");
                }
            }
        }
    }

    #[test]
    fn parses_explicit_and_auto_shards() {
        let none = env(&[]);
        assert_eq!(Shard::parse("2/7", None, &none), Ok(Shard { index: 2, count: 7 }));
        assert_eq!(Shard::parse("7/7", None, &none), Err(ShardError::OutOfRange { index: 7, count: 7 }));
        assert!(matches!(Shard::parse("x", None, &none), Err(ShardError::Syntax(_))));
        assert!(matches!(Shard::parse("1/0", None, &none), Err(ShardError::OutOfRange { .. })));
        assert!(matches!(Shard::parse("auto", Some(4), &none), Err(ShardError::Auto(m)) if m.contains("SLURM_ARRAY_TASK_ID")));
        // Slurm, an array 1-8: the task with id 3 is shard 2 of 8.
        let slurm = env(&[("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "8")]);
        assert_eq!(Shard::parse("auto", None, &slurm), Ok(Shard { index: 2, count: 8 }));
        let slurm = env(&[("SLURM_ARRAY_TASK_ID", "3")]);
        assert!(matches!(Shard::parse("auto", None, &slurm), Err(ShardError::Auto(m)) if m.contains("--shards")));
        assert_eq!(Shard::parse("auto", Some(5), &slurm), Ok(Shard { index: 3, count: 5 }));
        // Kubernetes: the index, and N from --shards.
        let k8s = env(&[("JOB_COMPLETION_INDEX", "6")]);
        assert_eq!(Shard::parse("auto", Some(7), &k8s), Ok(Shard { index: 6, count: 7 }));
        assert!(matches!(Shard::parse("auto", None, &k8s), Err(ShardError::Auto(m)) if m.contains("completions")));
        assert!(matches!(Shard::parse("auto", Some(7), &env(&[("JOB_COMPLETION_INDEX", "x")])), Err(ShardError::Auto(_))));
    }

    #[test]
    fn file_names_round_trip() {
        let s = Shard { index: 3, count: 7 };
        assert_eq!(s.file_name(), "shard-3-of-7.jsonl");
        assert_eq!(Shard::from_file_name("shard-3-of-7.jsonl"), Some(s));
        assert_eq!(Shard::from_file_name("shard-7-of-7.jsonl"), None);
        assert_eq!(Shard::from_file_name("notes.txt"), None);
    }
}
