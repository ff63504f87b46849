//! Native file dialogs (rfd). `ask` blocks until the user answers, so the workbench runs it
//! as a background job: the window keeps drawing while a dialog is open.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake};

use rfd::AsyncFileDialog;

use super::command::{Command, DialogKind};
use super::settings::Source;

const VIDEO: &[&str] = &["mp4", "m4v", "mov", "mkv", "webm", "avi"];
const AUDIO: &[&str] = &["wav", "flac", "mp3", "ogg", "oga", "m4a"];
const IMAGE: &[&str] = &["png", "jpg", "jpeg", "webp"];

/// Shows the dialog `kind` asks for; the command that applies the answer, or None when the user
/// cancelled.
pub fn ask(kind: DialogKind) -> Option<Command> {
    match kind {
        DialogKind::Any => {
            let all: Vec<&str> = [VIDEO, AUDIO, IMAGE].concat();
            pick("Open a clip", &all).map(|p| Command::Open(Source::File(p)))
        }
        DialogKind::Pair => pick("Choose the audio", AUDIO)
            .and_then(|audio| pick("Choose the image", IMAGE).map(|image| Command::Open(Source::Pair { audio, image }))),
        DialogKind::OpenSession => pick("Open a session", &["json"]).map(Command::OpenSession),
        DialogKind::SaveSession => {
            let dialog = AsyncFileDialog::new().set_title("Save the session").set_file_name(format!("experiment.{}", crate::session::EXTENSION));
            block_on(dialog.save_file()).map(|f| Command::SaveSession(Some(with_extension(f.path().to_path_buf()))))
        }
        DialogKind::Export(kind) => {
            let dialog = AsyncFileDialog::new().set_title(kind.label().trim_end_matches('…')).set_file_name(kind.file_name());
            block_on(dialog.save_file()).map(|f| Command::Export { kind, path: f.path().to_path_buf() })
        }
        DialogKind::AddModel => pick("Add a model (safetensors)", &["safetensors"]).map(Command::PickedModel),
        DialogKind::Folder(field) => {
            block_on(AsyncFileDialog::new().set_title(field.title()).pick_folder()).map(|f| Command::SetPath { field, path: f.path().to_path_buf() })
        }
        DialogKind::Locate(old) => {
            let name = old.file_name().map_or_else(|| old.display().to_string(), |n| n.to_string_lossy().into_owned());
            pick(&format!("Where is {name} now?"), &[]).map(|new| Command::Relocate { old, new })
        }
    }
}

fn pick(title: &str, extensions: &[&str]) -> Option<std::path::PathBuf> {
    let mut dialog = AsyncFileDialog::new().set_title(title);
    if !extensions.is_empty() {
        dialog = dialog.add_filter("Media", extensions);
    }
    block_on(dialog.add_filter("All files", &["*"]).pick_file()).map(|f| f.path().to_path_buf())
}

/// `name.mcgurk.json` unless the user typed that ending already.
fn with_extension(p: std::path::PathBuf) -> std::path::PathBuf {
    let ext = crate::session::EXTENSION;
    if p.to_string_lossy().ends_with(ext) { p } else { std::path::PathBuf::from(format!("{}.{ext}", p.display())) }
}

struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Drive one future to completion on this thread (rfd's async dialogs need no runtime).
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let waker = Arc::new(ThreadWaker(std::thread::current())).into();
    let mut cx = Context::from_waker(&waker);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return v,
            Poll::Pending => std::thread::park(),
        }
    }
}
