//! Native file dialogs (rfd). `ask` blocks until the user answers, so the workbench runs it
//! as a background job: the window keeps drawing while a dialog is open.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake};

use rfd::AsyncFileDialog;

use super::command::{Command, DialogKind};
use super::settings::Source;

const AUDIO: &[&str] = &["wav", "flac", "mp3", "ogg", "oga", "m4a"];
const IMAGE: &[&str] = &["png", "jpg", "jpeg", "webp"];

/// Shows the dialog `kind` asks for; the command that applies the answer, or None when the user
/// cancelled (or no system dialog could be shown: see `Answer`).
pub fn ask(kind: DialogKind) -> Option<Command> {
    match &kind {
        DialogKind::Pair => {
            let audio = pick("Choose the audio", AUDIO)?;
            pick("Choose the image", IMAGE).map(|image| Command::Open(Source::Pair { audio, image }))
        }
        DialogKind::SaveSession | DialogKind::Export(_) => {
            let dialog = AsyncFileDialog::new().set_title(title(&kind)).set_file_name(default_name(&kind));
            block_on(dialog.save_file()).map(|f| answer(kind, f.path().to_path_buf()))
        }
        DialogKind::Folder(_) => block_on(AsyncFileDialog::new().set_title(title(&kind)).pick_folder()).map(|f| answer(kind, f.path().to_path_buf())),
        _ => pick(&title(&kind), extensions(&kind)).map(|p| answer(kind, p)),
    }
}

/// The title a dialog for `kind` shows.
pub fn title(kind: &DialogKind) -> String {
    match kind {
        DialogKind::Any => "Open a clip".into(),
        DialogKind::Pair => "Choose the audio, then the image".into(),
        DialogKind::OpenSession => "Open a session".into(),
        DialogKind::SaveSession => "Save the session".into(),
        DialogKind::Export(k) => k.label().trim_end_matches('…').to_string(),
        DialogKind::AddModel => "Add a model (safetensors, PyTorch .pth, or a model spec .json)".into(),
        DialogKind::Folder(field) => field.title().to_string(),
        DialogKind::Locate(old) => {
            let name = old.file_name().map_or_else(|| old.display().to_string(), |n| n.to_string_lossy().into_owned());
            format!("Where is {name} now?")
        }
    }
}

/// The file endings a dialog for `kind` lists (empty: all files).
pub fn extensions(kind: &DialogKind) -> &'static [&'static str] {
    match kind {
        DialogKind::Any => MEDIA,
        DialogKind::OpenSession => &["json"],
        DialogKind::AddModel => &["safetensors", "pth", "pt", "json"],
        _ => &[],
    }
}

/// The file name a save dialog proposes.
pub fn default_name(kind: &DialogKind) -> String {
    match kind {
        DialogKind::SaveSession => format!("experiment.{}", crate::session::EXTENSION),
        DialogKind::Export(k) => k.file_name().to_string(),
        _ => String::new(),
    }
}

/// Whether `kind` writes a file (a name is typed) or picks a folder.
pub fn saves(kind: &DialogKind) -> bool {
    matches!(kind, DialogKind::SaveSession | DialogKind::Export(_))
}

/// The command that applies `path` as the answer to `kind` (a pair's image: see `Pair`).
pub fn answer(kind: DialogKind, path: std::path::PathBuf) -> Command {
    match kind {
        DialogKind::Any | DialogKind::Pair => Command::Open(Source::File(path)),
        DialogKind::OpenSession => Command::OpenSession(path),
        DialogKind::SaveSession => Command::SaveSession(Some(with_extension(path))),
        DialogKind::Export(kind) => Command::Export { kind, path },
        DialogKind::AddModel => Command::PickedModel(path),
        DialogKind::Folder(field) => Command::SetPath { field, path },
        DialogKind::Locate(old) => Command::Relocate { old, new: path },
    }
}

/// Audio, video and image endings together.
const MEDIA: &[&str] = &["mp4", "m4v", "mov", "mkv", "webm", "avi", "wav", "flac", "mp3", "ogg", "oga", "m4a", "png", "jpg", "jpeg", "webp"];

/// Audio endings (the first half of a pair).
pub const AUDIO_ENDINGS: &[&str] = AUDIO;
/// Image endings (the second half of a pair).
pub const IMAGE_ENDINGS: &[&str] = IMAGE;

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
