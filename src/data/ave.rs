//! The AVE layout: `Annotations.txt` and `trainSet.txt` / `valSet.txt` / `testSet.txt`, lines
//! `Category&VideoID&Quality&StartTime&EndTime` (a header line may come first), videos
//! `VideoID.mp4` in the root or in `AVE/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{DataError, Dataset, Item, Media, Split, io};

struct Line {
    category: String,
    video: String,
    start: f64,
    end: f64,
}

fn read_lines(path: &Path) -> Result<Vec<Line>, DataError> {
    let text = crate::files::read_regular_text(path, crate::files::MAX_LIST_BYTES).map_err(io(path))?;
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let raw = raw.trim();
        if raw.is_empty() {
            continue;
        }
        let f: Vec<&str> = raw.split('&').map(str::trim).collect();
        let bad = |detail: String| DataError::Line { path: path.into(), line: n + 1, detail };
        if f.len() != 5 {
            return Err(bad(format!("expected Category&VideoID&Quality&StartTime&EndTime, got {} fields", f.len())));
        }
        let (Ok(start), Ok(end)) = (f[3].parse::<f64>(), f[4].parse::<f64>()) else {
            if n == 0 && f[1].eq_ignore_ascii_case("videoid") {
                continue; // header
            }
            return Err(bad(format!("start/end times '{}' and '{}' are not numbers", f[3], f[4])));
        };
        out.push(Line { category: f[0].to_string(), video: f[1].to_string(), start, end });
    }
    Ok(out)
}

pub fn open(root: &Path) -> Result<Dataset, DataError> {
    let annotations = read_lines(&root.join("Annotations.txt"))?;
    let mut classes: Vec<String> = annotations.iter().map(|l| l.category.clone()).collect();
    classes.sort();
    classes.dedup();
    let label: BTreeMap<&str, usize> = classes.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
    let mut ds = Dataset { root: root.into(), classes: classes.clone(), ..Default::default() };
    let video = |id: &str| -> Option<PathBuf> {
        [root.join(format!("{id}.mp4")), root.join("AVE").join(format!("{id}.mp4"))].into_iter().find(|p| p.is_file())
    };
    let splits = [("trainSet.txt", Split::Train), ("valSet.txt", Split::Val), ("testSet.txt", Split::Test)];
    let with_splits = splits.iter().any(|(f, _)| root.join(f).is_file());
    let lists: Vec<(Vec<Line>, Split)> = if with_splits {
        let mut v = Vec::new();
        for (f, split) in splits {
            let p = root.join(f);
            if p.is_file() {
                v.push((read_lines(&p)?, split));
            }
        }
        v
    } else {
        vec![(annotations, Split::Train)]
    };
    for (lines, split) in lists {
        for l in lines {
            let Some(&lab) = label.get(l.category.as_str()) else {
                ds.skipped.push(format!("category '{}' of {} is not in Annotations.txt", l.category, l.video));
                continue;
            };
            match video(&l.video) {
                Some(path) => ds.items.push(Item {
                    media: Media::File(path),
                    label: lab,
                    split,
                    centre_s: Some((l.start + l.end) / 2.0),
                }),
                None => ds.skipped.push(format!("video file missing: {}", root.join(format!("{}.mp4", l.video)).display())),
            }
        }
    }
    if ds.items.is_empty() {
        return Err(DataError::Layout { path: root.into(), detail: "AVE annotations list no video that exists".into() });
    }
    Ok(ds)
}
