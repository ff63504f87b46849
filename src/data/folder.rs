//! Folder-per-class: `root/<class>/<clip>`. A clip is a video file, or an audio file plus the
//! image with the same stem (or, failing that, the one unpaired image whose name shares the
//! longest prefix with it: `gcompris-chickens.ogg` + `gcompris-chicken.webp`).

use std::path::{Path, PathBuf};

use super::{DataError, DataOptions, Dataset, Item, Media, Split, io, kind_of};

pub fn open(root: &Path, opts: &DataOptions) -> Result<Dataset, DataError> {
    let mut classes: Vec<(String, PathBuf)> = std::fs::read_dir(root)
        .map_err(io(root))?
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .filter(|(n, _)| !n.starts_with('.'))
        .collect();
    classes.sort();
    if classes.len() < 2 {
        return Err(DataError::Layout {
            path: root.into(),
            detail: format!("found {} class folders; folder-per-class needs at least 2 (root/<class>/<clip>)", classes.len()),
        });
    }
    let mut ds = Dataset { root: root.into(), classes: classes.iter().map(|c| c.0.clone()).collect(), ..Default::default() };
    for (label, (_, dir)) in classes.iter().enumerate() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir).map_err(io(dir))?.filter_map(Result::ok).map(|e| e.path()).collect();
        files.sort();
        let of = |k| files.iter().filter(move |f| kind_of(f) == Some(k)).cloned().collect::<Vec<_>>();
        let (audios, mut images) = (of("audio"), of("image"));
        let mut clips: Vec<Media> = of("video").into_iter().map(Media::File).collect();
        let mut lonely = Vec::new();
        for a in audios {
            match take_partner(&a, &mut images) {
                Some(image) => clips.push(Media::Pair { audio: a, image }),
                None => lonely.push(a),
            }
        }
        for a in lonely {
            if opts.audio_only {
                clips.push(Media::File(a));
            } else {
                ds.skipped.push(format!("no image to pair with: {}", a.display()));
            }
        }
        for i in images {
            ds.skipped.push(format!("image without audio: {}", i.display()));
        }
        for media in clips {
            let name = match &media {
                Media::File(p) | Media::Pair { audio: p, .. } => p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            };
            let held_out = opts.holdout.as_deref().is_some_and(|h| name.contains(h));
            ds.items.push(Item { media, label, split: if held_out { Split::Test } else { Split::Train }, centre_s: None });
        }
    }
    Ok(ds)
}

fn stem(p: &Path) -> String {
    p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Removes and returns the image that belongs to `audio`.
fn take_partner(audio: &Path, images: &mut Vec<PathBuf>) -> Option<PathBuf> {
    let s = stem(audio);
    if let Some(i) = images.iter().position(|p| stem(p) == s) {
        return Some(images.remove(i));
    }
    let common = |p: &PathBuf| stem(p).chars().zip(s.chars()).take_while(|(a, b)| a == b).count();
    let best = images.iter().map(common).max().filter(|&n| n >= 3)?;
    let mut at = images.iter().enumerate().filter(|(_, p)| common(p) == best).map(|(i, _)| i);
    match (at.next(), at.next()) {
        (Some(i), None) => Some(images.remove(i)),
        _ => None, // ambiguous: better unpaired than wrongly paired
    }
}
