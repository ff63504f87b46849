//! The GUI's media worker: a newer request supersedes an older one, cancel drops the result,
//! and the UI is woken when work is done.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::common::*;
use mcgurk::app::loader::{Loader, Outcome};
use mcgurk::app::settings::Source;
use mcgurk::dsp::MelConfig;

fn loader() -> (Loader, Arc<AtomicUsize>) {
    let wakes = Arc::new(AtomicUsize::new(0));
    let counter = wakes.clone();
    (Loader::new(Arc::new(move || { counter.fetch_add(1, Ordering::Relaxed); })), wakes)
}

fn drain(loader: &mut Loader) -> Vec<Outcome> {
    let start = Instant::now();
    let mut out = Vec::new();
    while loader.busy().is_some() {
        out.extend(loader.poll());
        assert!(start.elapsed() < Duration::from_secs(60), "worker never finished");
        std::thread::sleep(Duration::from_millis(5));
    }
    out
}

#[test]
fn a_newer_request_supersedes_an_older_one() {
    let (mut loader, wakes) = loader();
    loader.open(Source::File(demo("cow.mp4")), MelConfig::default());
    loader.open(Source::File(fixture("tone_22050.wav")), MelConfig::default());
    let outcomes = drain(&mut loader);
    assert_eq!(outcomes.len(), 1, "only the newest result is delivered");
    match &outcomes[0] {
        Outcome::Loaded { source, clip, analysis } => {
            assert_eq!(*source, Source::File(fixture("tone_22050.wav")));
            assert!(clip.audio.is_some() && analysis.is_some());
        }
        _ => panic!("expected the wav to load"),
    }
    assert!(wakes.load(Ordering::Relaxed) > 0, "the UI must be woken");
    // Whatever the superseded job sends later is dropped too.
    std::thread::sleep(Duration::from_millis(300));
    assert!(loader.poll().is_empty());
}

#[test]
fn cancel_drops_the_result() {
    let (mut loader, _) = loader();
    loader.open(Source::File(demo("cow.mp4")), MelConfig::default());
    loader.cancel();
    assert!(loader.busy().is_none());
    std::thread::sleep(Duration::from_millis(1500));
    assert!(loader.poll().is_empty());
}

#[test]
fn failures_come_back_as_messages() {
    let (mut loader, _) = loader();
    loader.open(Source::File("/nonexistent/clip.mp4".into()), MelConfig::default());
    let outcomes = drain(&mut loader);
    match &outcomes[..] {
        [Outcome::Failed { message, .. }] => assert!(message.contains("/nonexistent/clip.mp4"), "{message}"),
        _ => panic!("expected one failure"),
    }
}
