//! Clips decoded as the evaluation goes, never the whole dataset up front: a named thread
//! decodes in order and stays at most a few clips ahead, so memory stays flat whatever the
//! number of clips.

use std::sync::mpsc::{Receiver, sync_channel};

use crate::data::Item;
use crate::data::prepare::{Prepared, prepare};
use crate::media::LoadOptions;
use crate::models::InputSize;

/// Decoded clips waiting for the evaluation, at most.
pub const AHEAD: usize = 4;

/// Decodes `items` (each with the caller's position) in order on the thread `mcgurk-decode`;
/// a clip that cannot be decoded arrives as its reason. Dropping the receiver stops the thread
/// after the clip in hand.
pub fn decoded(items: Vec<(usize, Item)>, size: InputSize) -> std::io::Result<Receiver<(usize, Result<Prepared, String>)>> {
    let (tx, rx) = sync_channel(AHEAD);
    std::thread::Builder::new().name("mcgurk-decode".into()).spawn(move || {
        let opts = LoadOptions::default();
        for (position, item) in items {
            // One clip that trips a decoder is skipped and listed, never the run.
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| prepare(&item, size, &opts)))
                .unwrap_or_else(|_| Err(format!("decoding failed unexpectedly, skipped: {}", item.media.describe())));
            if tx.send((position, r)).is_err() {
                break;
            }
        }
    })?;
    Ok(rx)
}
