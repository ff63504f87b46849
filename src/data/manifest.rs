//! CSV manifests: `path,label[,split]` per line, paths relative to the manifest; a clip given
//! as an audio file plus an image is written `audio.ogg;image.png`. A first line starting
//! with `path` is a header. No quoting: paths with commas are not supported (said in errors).

use std::path::Path;

use super::{DataError, Dataset, Item, Media, Split, io};

pub fn open(path: &Path) -> Result<Dataset, DataError> {
    let text = crate::files::read_regular_text(path, crate::files::MAX_LIST_BYTES).map_err(io(path))?;
    // Spreadsheets save CSV with a byte-order mark; it is not part of the first field.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
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
        let files: Vec<&std::path::PathBuf> = match &media {
            Media::File(p) => vec![p],
            Media::Pair { audio, image } => vec![audio, image],
        };
        if let Some(p) = files.iter().find(|p| !p.is_file()) {
            // A device or a FIFO exists but is no media file (reading one may never end).
            let why = if p.exists() { "not a regular file" } else { "file missing" };
            ds.skipped.push(format!("line {}: {why}: {}", n + 1, p.display()));
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
        return Err(DataError::Layout { path: path.into(), detail: match ds.skipped.first() {
            Some(first) => format!("the manifest lists no usable clip ({} skipped; {first})", ds.skipped.len()),
            None => "the manifest lists no clip".into(),
        } });
    }
    // Labels in sorted class order, as the other layouts give them.
    let mut sorted = ds.classes.clone();
    sorted.sort();
    let remap: Vec<usize> = ds.classes.iter().map(|c| sorted.iter().position(|s| s == c).expect("same names")).collect();
    ds.items.iter_mut().for_each(|i| i.label = remap[i.label]);
    ds.classes = sorted;
    Ok(ds)
}
