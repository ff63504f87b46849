//! The model worker: loads the demo zoo once and runs every model on the frame the user looks
//! at, clean and under the attack of the attack panel (`live::Live`). One named thread;
//! requests go through a bounded channel and only the newest pending one is served (also in
//! the middle of an update, between models); Esc sets a cancel flag; results carry a
//! generation number so the UI drops stale ones. The thread is a [`Job`] that lives as long as
//! the window; the cancel flag here is per request (the job's own flag ends the thread).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::time::Instant;

use burn::prelude::Device;

use super::job::{Job, Reporter, Waker};
use crate::attacks::AttackConfig;
use crate::live::{Live, Maps, ModelView};
use crate::media::Clip;
use crate::models::{ModelInfo, zoo};

pub struct Request {
    pub generation: u64,
    pub clip: Arc<Clip>,
    pub time_s: f64,
    pub attack: Option<AttackConfig>,
    /// The models whose localization maps are shown.
    pub maps: Maps,
}

/// What the model thread is asked to do.
enum Ask {
    Predict(Request),
    /// Load a model file (PyTorch reference layout or McGurk's own) and show it with the others.
    AddModel { path: std::path::PathBuf, fusion: Option<crate::models::FusionKind> },
}

/// One model's answer for one frame.
pub struct ModelResult {
    pub info: ModelInfo,
    pub view: ModelView,
}

pub enum Reply {
    /// The zoo is loaded: the model names, in display order.
    Ready(Vec<ModelInfo>),
    Results { generation: u64, results: Vec<ModelResult>, missing: Vec<&'static str>, millis: f64 },
    /// The request `generation` was cancelled (Esc) before it finished.
    Cancelled(u64),
    /// A model file the user picked could not be loaded (the others carry on).
    ModelRejected { path: std::path::PathBuf, error: String },
    Failed(String),
}

pub struct Predictor {
    tx: SyncSender<Ask>,
    /// The model thread's replies; None when it could not start (`failed` says why).
    replies: Option<Job<Reply>>,
    failed: Option<String>,
    /// A failure was reported (the thread is gone).
    stopped: bool,
    generation: u64,
    pending: Option<u64>,
    cancel: Arc<AtomicBool>,
}

impl Predictor {
    pub fn spawn(waker: Waker) -> Self {
        let (tx, requests) = sync_channel::<Ask>(8);
        let cancel = Arc::new(AtomicBool::new(false));
        let flag = cancel.clone();
        let (replies, failed) = match Job::spawn("models", 8, waker, move |r| serve(requests, r, flag)) {
            Ok(job) => (Some(job), None),
            // Without the thread the app still shows media; say why there are no predictions.
            Err(e) => (None, Some(e)),
        };
        Self { tx, replies, failed, stopped: false, generation: 0, pending: None, cancel }
    }

    /// Ask for predictions at `time_s` (attacked with `attack`); anything older still queued or
    /// running is superseded.
    pub fn request(&mut self, clip: Arc<Clip>, time_s: f64, attack: Option<AttackConfig>, maps: Maps) {
        self.generation += 1;
        self.pending = Some(self.generation);
        self.cancel.store(false, Ordering::Relaxed);
        // A full queue means the worker is behind; it serves only the newest anyway.
        let _ = self.tx.try_send(Ask::Predict(Request { generation: self.generation, clip, time_s, attack, maps }));
    }

    /// Load `path` as one more model; a `Ready` with the longer list (or `ModelRejected`) comes
    /// back.
    pub fn add_model(&mut self, path: std::path::PathBuf, fusion: Option<crate::models::FusionKind>) {
        // Blocking send: loading must not be dropped like a superseded frame request.
        let _ = self.tx.send(Ask::AddModel { path, fusion });
    }

    /// Stop the running request (Esc). The last results stay on screen.
    pub fn cancel(&mut self) {
        if self.pending.is_some() {
            self.cancel.store(true, Ordering::Relaxed);
        }
    }

    pub fn is_busy(&self) -> bool {
        self.pending.is_some()
    }

    /// Replies that are still current.
    pub fn poll(&mut self) -> Vec<Reply> {
        let mut incoming: Vec<Reply> = self.failed.take().map(Reply::Failed).into_iter().collect();
        if let Some(job) = &mut self.replies {
            incoming.extend(job.poll());
            if job.ended() {
                self.replies = None;
                // The thread ends only after saying why, or when it panicked: never silently.
                if !incoming.iter().any(|r| matches!(r, Reply::Failed(_))) && !self.stopped {
                    incoming.push(Reply::Failed("the model thread stopped unexpectedly; restart McGurk to run models".into()));
                }
            }
        }
        let mut out = Vec::new();
        for reply in incoming {
            if matches!(reply, Reply::Failed(_)) {
                self.stopped = true;
            }
            match reply {
                Reply::Results { generation, .. } if generation != self.generation => {}
                Reply::Results { .. } => {
                    self.pending = None;
                    out.push(reply);
                }
                Reply::Cancelled(g) if g == self.generation => {
                    self.pending = None;
                    out.push(reply);
                }
                Reply::Cancelled(_) => {}
                Reply::Failed(_) => {
                    self.pending = None;
                    out.push(reply);
                }
                other => out.push(other),
            }
        }
        out
    }
}

fn serve(requests: Receiver<Ask>, replies: &Reporter<Reply>, cancel: Arc<AtomicBool>) {
    let device = Device::flex();
    let send = |r: Reply| replies.send(r);
    let models = match zoo::load_all(&device) {
        Ok(m) => m,
        Err(e) => {
            send(Reply::Failed(format!("demo models unavailable: {e}")));
            return;
        }
    };
    let mut infos: Vec<ModelInfo> = models.iter().map(|m| m.info.clone()).collect();
    if !send(Reply::Ready(infos.clone())) {
        return;
    }
    let mut live = Live::new(models, device.clone());
    let mut next: Option<Request> = None;
    // Model files to load, taken before the next prediction.
    let mut adds: Vec<(std::path::PathBuf, Option<crate::models::FusionKind>)> = Vec::new();
    loop {
        let mut req = match next.take() {
            Some(r) => Some(r),
            // A model asked for during the last update is loaded now, not after the next
            // request (which may never come: the window asks only when something changes).
            None if !adds.is_empty() => None,
            None => match requests.recv() {
                Ok(Ask::Predict(r)) => Some(r),
                Ok(Ask::AddModel { path, fusion }) => {
                    adds.push((path, fusion));
                    None
                }
                Err(_) => return,
            },
        };
        // Newest wins: skip whatever queued up while the last batch ran.
        loop {
            match requests.try_recv() {
                Ok(Ask::Predict(newer)) => req = Some(newer),
                Ok(Ask::AddModel { path, fusion }) => adds.push((path, fusion)),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return,
            }
        }
        for (path, fusion) in adds.drain(..) {
            match crate::models::tian_spec::load_path(&path, fusion, &device) {
                Ok(m) => {
                    infos.push(m.info.clone());
                    live.add(m);
                    if !send(Reply::Ready(infos.clone())) {
                        return;
                    }
                }
                Err(error) => {
                    if !send(Reply::ModelRejected { path, error }) {
                        return;
                    }
                }
            }
        }
        let Some(req) = req else { continue };
        let started = Instant::now();
        let clip_id = Arc::as_ptr(&req.clip) as usize;
        // Between models: give up for a cancel, or for a newer request (served next).
        let mut stop = || {
            if cancel.load(Ordering::Relaxed) {
                return true;
            }
            match requests.try_recv() {
                Ok(Ask::Predict(newer)) => {
                    next = Some(newer);
                    true
                }
                Ok(Ask::AddModel { path, fusion }) => {
                    // Finish this update; the model is loaded before the next one.
                    adds.push((path, fusion));
                    false
                }
                Err(_) => false,
            }
        };
        let reply = match live.update(&req.clip, clip_id, req.time_s, req.attack.as_ref(), req.maps, &mut stop) {
            Ok((views, missing)) => Reply::Results {
                generation: req.generation,
                results: infos.iter().cloned().zip(views).map(|(info, view)| ModelResult { info, view }).collect(),
                missing,
                millis: started.elapsed().as_secs_f64() * 1000.0,
            },
            Err(_) if next.is_some() => continue,
            Err(_) => Reply::Cancelled(req.generation),
        };
        if !send(reply) {
            return;
        }
    }
}
