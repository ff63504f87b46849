//! The window's background-job type: a newer job supersedes the running one, cancel reaches
//! the worker and its last word still arrives, progress is kept, the UI is woken, and one-shot
//! jobs answer through a pool.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

use mcgurk::app::job::{Job, Pool, Slot, Waker};

fn waker() -> (Waker, Arc<AtomicUsize>) {
    let wakes = Arc::new(AtomicUsize::new(0));
    let counter = wakes.clone();
    (Arc::new(move || { counter.fetch_add(1, Ordering::Relaxed); }), wakes)
}

/// Polls until the slot's job has ended; everything it delivered.
fn drain<M>(slot: &mut Slot<M>) -> Vec<M> {
    let start = Instant::now();
    let mut out = Vec::new();
    while slot.running() {
        out.extend(slot.poll());
        assert!(start.elapsed() < Duration::from_secs(20), "the job never ended");
        std::thread::sleep(Duration::from_millis(2));
    }
    out
}

#[test]
fn a_newer_job_supersedes_the_running_one() {
    let (w, wakes) = waker();
    let mut slot = Slot::<u32>::default();
    let (release, gate) = sync_channel::<()>(0);
    let (told_tx, told) = sync_channel::<(bool, bool)>(1);
    let first = slot.start("test-first", 4, w.clone(), move |r| {
        // Waits until the second job has started, then tries to report.
        let _ = gate.recv();
        let _ = told_tx.send((r.cancelled(), r.send(1)));
    }).unwrap();
    let second = slot.start("test-second", 4, w, |r| {
        r.send(2);
    }).unwrap();
    assert!(second > first, "jobs are numbered");
    let _ = release.send(());
    let (cancelled, delivered) = told.recv_timeout(Duration::from_secs(20)).unwrap();
    assert!(cancelled && !delivered, "a superseded job is told to stop and nobody hears it");
    assert_eq!(drain(&mut slot), vec![2], "only the newest job's messages arrive");
    assert_eq!(slot.generation(), second);
    assert!(wakes.load(Ordering::Relaxed) > 0, "the UI is woken");
}

#[test]
fn cancel_stops_the_worker_and_its_last_word_arrives() {
    let (w, _) = waker();
    let mut slot = Slot::<String>::default();
    slot.start("test-cancel", 4, w, |r| {
        let start = Instant::now();
        while !r.cancelled() {
            assert!(start.elapsed() < Duration::from_secs(20), "cancel never arrived");
            std::thread::sleep(Duration::from_millis(1));
        }
        r.send("stopped after 3 epochs".into());
    }).unwrap();
    slot.cancel();
    assert_eq!(drain(&mut slot), vec!["stopped after 3 epochs".to_string()]);
    assert!(!slot.running());
}

#[test]
fn abandon_drops_what_the_job_still_sends() {
    let (w, _) = waker();
    let mut slot = Slot::<u8>::default();
    let (done_tx, done_rx) = sync_channel::<bool>(1);
    slot.start("test-abandon", 4, w, move |r| {
        std::thread::sleep(Duration::from_millis(50));
        let delivered = r.send(7);
        let _ = done_tx.send(delivered);
    }).unwrap();
    assert!(slot.abandon());
    assert!(!slot.running());
    assert!(!done_rx.recv_timeout(Duration::from_secs(20)).unwrap(), "nobody listens to an abandoned job");
    assert!(slot.poll().is_empty());
    assert!(!slot.abandon(), "nothing runs any more");
}

#[test]
fn progress_is_kept_and_messages_may_be_offered() {
    let (w, _) = waker();
    let mut slot = Slot::<&'static str>::default();
    let (step, next) = sync_channel::<()>(0);
    slot.start("test-progress", 2, w, move |r| {
        r.progress("embedding", 3, 12);
        // A full channel drops offers rather than blocking the worker.
        for _ in 0..10 {
            r.offer("note");
        }
        let _ = next.recv();
        r.send("done");
    }).unwrap();
    let start = Instant::now();
    let mut notes = Vec::new();
    while slot.progress().is_none() {
        notes.extend(slot.poll());
        assert!(start.elapsed() < Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(1));
    }
    let p = slot.progress().unwrap().clone();
    assert_eq!((p.what.as_str(), p.done, p.total), ("embedding", 3, 12));
    assert!((p.fraction() - 0.25).abs() < 1e-6);
    // The worker is not blocked by its ten offers: it waits on us.
    step.send(()).unwrap();
    notes.extend(drain(&mut slot));
    assert_eq!(notes.last(), Some(&"done"));
    assert!(notes.len() <= 3, "offers beyond the channel's room are dropped: {notes:?}");
}

#[test]
fn a_pool_collects_one_shot_answers_and_listeners() {
    let (w, wakes) = waker();
    let mut pool = Pool::<u32>::new(w);
    pool.run("test-a", || Some(1)).unwrap();
    pool.run("test-b", || None).unwrap();
    pool.run("test-c", || Some(3)).unwrap();
    let reporter = pool.listener();
    std::thread::spawn(move || {
        reporter.send(4);
    });
    let start = Instant::now();
    let mut got = Vec::new();
    while !pool.is_empty() {
        got.extend(pool.poll());
        assert!(start.elapsed() < Duration::from_secs(20), "the pool never emptied");
        std::thread::sleep(Duration::from_millis(2));
    }
    got.sort();
    assert_eq!(got, vec![1, 3, 4]);
    assert!(wakes.load(Ordering::Relaxed) >= 4);
}

#[test]
fn a_dropped_job_tells_its_worker_to_stop() {
    let (w, _) = waker();
    let (seen_tx, seen_rx) = sync_channel::<bool>(1);
    let job = Job::<()>::spawn("test-drop", 1, w, move |r| {
        let start = Instant::now();
        while !r.cancelled() && start.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = seen_tx.send(r.cancelled());
    }).unwrap();
    drop(job);
    assert!(seen_rx.recv_timeout(Duration::from_secs(30)).unwrap());
}
