//! The model worker: loads the demo zoo once and runs every model on the frame the user looks
//! at. One named thread; requests go through a bounded channel and only the newest pending one
//! is served; results carry a generation number so the UI drops stale ones.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};

use burn::prelude::Device;

use super::loader::Waker;
use crate::media::Clip;
use crate::models::input::Example;
use crate::models::predict::{Prediction, predict};
use crate::models::{LoadedModel, ModelInfo, zoo};

pub struct Request {
    pub generation: u64,
    pub clip: Arc<Clip>,
    pub time_s: f64,
}

/// One model's answer for one frame.
pub struct ModelResult {
    pub info: ModelInfo,
    pub prediction: Prediction,
}

pub enum Reply {
    /// The zoo is loaded: the model names, in display order.
    Ready(Vec<ModelInfo>),
    Results { generation: u64, results: Vec<ModelResult>, missing: Vec<&'static str> },
    Failed(String),
}

pub struct Predictor {
    tx: SyncSender<Request>,
    rx: Receiver<Reply>,
    generation: u64,
    pending: Option<u64>,
}

impl Predictor {
    pub fn spawn(waker: Waker) -> Self {
        let (tx, requests) = sync_channel::<Request>(8);
        let (reply_tx, rx) = sync_channel::<Reply>(8);
        let spawned = std::thread::Builder::new().name("mcgurk-models".into()).spawn(move || serve(requests, reply_tx, waker));
        if let Err(e) = spawned {
            // Without the thread the app still shows media; say why there are no predictions.
            let (tx2, rx2) = sync_channel(1);
            let _ = tx2.send(Reply::Failed(format!("cannot start the model thread: {e}")));
            return Self { tx, rx: rx2, generation: 0, pending: None };
        }
        Self { tx, rx, generation: 0, pending: None }
    }

    /// Ask for predictions at `time_s`; anything older still queued is superseded.
    pub fn request(&mut self, clip: Arc<Clip>, time_s: f64) {
        self.generation += 1;
        self.pending = Some(self.generation);
        // A full queue means the worker is behind; it serves only the newest anyway.
        let _ = self.tx.try_send(Request { generation: self.generation, clip, time_s });
    }

    pub fn is_busy(&self) -> bool {
        self.pending.is_some()
    }

    /// Replies that are still current.
    pub fn poll(&mut self) -> Vec<Reply> {
        let mut out = Vec::new();
        while let Ok(reply) = self.rx.try_recv() {
            match reply {
                Reply::Results { generation, .. } if generation != self.generation => {}
                Reply::Results { .. } => {
                    self.pending = None;
                    out.push(reply);
                }
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

fn serve(requests: Receiver<Request>, replies: SyncSender<Reply>, waker: Waker) {
    let device = Device::flex();
    let send = |r: Reply| {
        let ok = replies.send(r).is_ok();
        waker();
        ok
    };
    let models: Vec<LoadedModel> = match zoo::load_all(&device) {
        Ok(m) => m,
        Err(e) => {
            send(Reply::Failed(format!("demo models unavailable: {e}")));
            return;
        }
    };
    if !send(Reply::Ready(models.iter().map(|m| m.info.clone()).collect())) {
        return;
    }
    while let Ok(mut req) = requests.recv() {
        // Newest wins: skip whatever queued up while the last batch ran.
        loop {
            match requests.try_recv() {
                Ok(newer) => req = newer,
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return,
            }
        }
        let mut results = Vec::with_capacity(models.len());
        let mut missing = Vec::new();
        let mut cache: Option<Example> = None;
        for m in &models {
            if cache.as_ref().is_none_or(|e| e.size != m.info.input) {
                let (ex, miss) = Example::from_clip(&req.clip, req.time_s, m.info.input);
                missing = miss;
                cache = Some(ex);
            }
            let ex = cache.as_ref().expect("filled above");
            results.push(ModelResult { info: m.info.clone(), prediction: predict(m, ex, &device) });
        }
        if !send(Reply::Results { generation: req.generation, results, missing }) {
            return;
        }
    }
}
