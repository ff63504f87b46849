//! CSV manifests: `path,label[,split]` per line, paths relative to the manifest; a clip given
//! as an audio file plus an image is written `audio.ogg;image.png`. A first line starting
//! with `path` is a header. No quoting: paths with commas are not supported (said in errors).

use std::path::Path;

use super::{DataError, Dataset, Item, Media, Split, io};

pub fn open(path: &Path) -> Result<Dataset, DataError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut ds = Dataset { root: base.into(), ..Default::default() };
    for (n, raw) in text.lines().enumerate() {
        let raw = raw.trim();
        if raw.is_empty() || raw.starts_with('#') || (n == 0 && raw.to_ascii_lowercase().starts_with("path")) {
            continue;
        }
        let bad = |detail: String| DataError::Line { path: path.into(), line: n + 1, detail };
        let f: Vec<&str> = raw.split(',').map(str::trim).collect();
        if !(2..=3).contains(&f.len()) || f[0].is_empty() || f[1].is_empty() {
            return Err(bad(format!("expected path,label[,split] (no commas inside paths), got '{raw}'")));
        }
        let split = match f.get(2) {
            Some(s) => Split::parse(s).ok_or_else(|| bad(format!("unknown split '{s}' (train, val or test)")))?,
            None => Split::Train,
        };
        let media = match f[0].split_once(';') {
            Some((a, i)) => Media::Pair { audio: base.join(a.trim()), image: base.join(i.trim()) },
            None => Media::File(base.join(f[0])),
        };
        let missing = match &media {
            Media::File(p) => (!p.is_file()).then(|| p.clone()),
            Media::Pair { audio, image } => [audio, image].into_iter().find(|p| !p.is_file()).cloned(),
        };
        if let Some(p) = missing {
            ds.skipped.push(format!("line {}: file missing: {}", n + 1, p.display()));
            continue;
        }
        let label = match ds.classes.iter().position(|c| c == f[1]) {
            Some(i) => i,
            None => {
                ds.classes.push(f[1].to_string());
                ds.classes.len() - 1
            }
        };
        ds.items.push(Item { media, label, split, centre_s: None });
    }
    if ds.items.is_empty() {
        return Err(DataError::Layout { path: path.into(), detail: "the manifest lists no clip that exists".into() });
    }
    // Labels in sorted class order, as the other layouts give them.
    let mut sorted = ds.classes.clone();
    sorted.sort();
    let remap: Vec<usize> = ds.classes.iter().map(|c| sorted.iter().position(|s| s == c).expect("same names")).collect();
    ds.items.iter_mut().for_each(|i| i.label = remap[i.label]);
    ds.classes = sorted;
    Ok(ds)
}
