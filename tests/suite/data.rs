//! Dataset layouts: folder-per-class (the farm-animal data), AVE and CSV manifests; clips
//! without audio are reported and skipped, never fatal.

use crate::common::*;
use mcgurk::data::{self, DataOptions, Media, Split};
use mcgurk::models::Size;
use mcgurk::train::prepare_all;

fn farm() -> std::path::PathBuf {
    root().join("assets/data/farm-av")
}

#[test]
fn folder_per_class_pairs_audio_with_images_and_holds_out_by_name() {
    let ds = data::open(&farm(), &DataOptions { holdout: Some("tuxpaint".into()), ..Default::default() }).unwrap();
    assert_eq!(ds.classes, ["cat", "chicken", "cow", "dog", "duck", "horse", "owl", "pig", "sheep"]);
    assert_eq!(ds.split(Split::Train).len(), 9, "one GCompris pair per class");
    assert_eq!(ds.split(Split::Test).len(), 14, "the Tux Paint pairs");
    assert!(ds.skipped.is_empty(), "{:?}", ds.skipped);
    // Different stems, paired by their common prefix.
    let chicken = ds.items.iter().find(|i| i.label == 1 && i.split == Split::Train).unwrap();
    match &chicken.media {
        Media::Pair { audio, image } => {
            assert!(audio.ends_with("gcompris-chickens.ogg") && image.ends_with("gcompris-chicken.webp"));
        }
        other => panic!("{other:?}"),
    }
    let all_train = data::open(&farm(), &DataOptions::default()).unwrap();
    assert_eq!(all_train.split(Split::Train).len(), 23);
}

#[test]
fn ave_layout_reads_splits_and_reports_missing_and_silent_videos() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir(root.join("AVE")).unwrap();
    std::fs::copy(fixture("rgb_tone.mp4"), root.join("AVE/vidA.mp4")).unwrap();
    std::fs::copy(fixture("video_only.mp4"), root.join("AVE/vidB.mp4")).unwrap();
    std::fs::copy(demo("cow.mp4"), root.join("vidC.mp4")).unwrap();
    let ann = "Category&VideoID&Quality&StartTime&EndTime\nChurch bell&vidA&good&0&2\nCow&vidB&good&1&3\nCow&vidC&good&2&6\nDog&vidZ&good&0&10\n";
    std::fs::write(root.join("Annotations.txt"), ann).unwrap();
    std::fs::write(root.join("trainSet.txt"), "Church bell&vidA&good&0&2\nCow&vidB&good&1&3\nDog&vidZ&good&0&10\n").unwrap();
    std::fs::write(root.join("testSet.txt"), "Cow&vidC&good&2&6\n").unwrap();
    let ds = data::open(root, &DataOptions::default()).unwrap();
    assert_eq!(ds.classes, ["Church bell", "Cow", "Dog"]);
    assert_eq!(ds.items.len(), 3);
    assert_eq!(ds.items[2].split, Split::Test);
    assert_eq!(ds.items[2].centre_s, Some(4.0));
    assert!(ds.skipped.iter().any(|s| s.contains("video file missing") && s.contains("vidZ.mp4")), "{:?}", ds.skipped);
    // Decoding: the video with no audio track is reported and skipped, the others kept.
    let (prepared, splits, notes) = prepare_all(&ds, &[Split::Train, Split::Test], Size::Small.input(), &|_, _| {});
    assert_eq!(prepared.len(), 2);
    assert_eq!(splits, [Split::Train, Split::Test]);
    assert!(notes.len() == 1 && notes[0].contains("no audio track") && notes[0].contains("vidB.mp4"), "{notes:?}");

    std::fs::write(root.join("testSet.txt"), "Cow&vidC&good&two&6\n").unwrap();
    let msg = data::open(root, &DataOptions::default()).unwrap_err().to_string();
    assert!(msg.starts_with("line 1: start/end times 'two' and '6' are not numbers") && msg.ends_with("testSet.txt"), "{msg}");
}

#[test]
fn csv_manifests_take_files_pairs_and_splits_with_line_numbered_errors() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("list.csv");
    let f = farm();
    let text = format!(
        "path,label,split\n{}/cow/gcompris-cow.ogg;{}/cow/gcompris-cow.webp,cow,train\n{},tone,val\n{}/dog/gone.ogg;{}/dog/gcompris-dog.webp,dog\n",
        f.display(),
        f.display(),
        fixture("rgb_tone.mp4").display(),
        f.display(),
        f.display()
    );
    std::fs::write(&csv, text).unwrap();
    let ds = data::open(&csv, &DataOptions::default()).unwrap();
    assert_eq!(ds.classes, ["cow", "tone"]);
    assert_eq!(ds.items.len(), 2);
    assert_eq!((ds.items[0].label, ds.items[0].split), (0, Split::Train));
    assert_eq!((ds.items[1].label, ds.items[1].split), (1, Split::Val));
    assert!(ds.skipped[0].contains("line 4: file missing") && ds.skipped[0].contains("gone.ogg"));

    std::fs::write(&csv, "a.mp4,cow,sometimes\n").unwrap();
    let msg = data::open(&csv, &DataOptions::default()).unwrap_err().to_string();
    assert!(msg.starts_with("line 1: unknown split 'sometimes'") && msg.ends_with("list.csv"), "{msg}");
    std::fs::write(&csv, "just-a-path\n").unwrap();
    let msg = data::open(&csv, &DataOptions::default()).unwrap_err().to_string();
    assert!(msg.contains("expected path,label[,split]"), "{msg}");
    let msg = data::open(&dir.path().join("nope"), &DataOptions::default()).unwrap_err().to_string();
    assert!(msg.contains("no such dataset"), "{msg}");
}
