//! McGurk's own file dialog, in the window: used when the system has no file dialog to show
//! (no xdg desktop portal, no zenity), so that opening, saving, exporting and adding models work
//! on a bare Linux desktop too. A folder's entries (folders first, then files with the endings
//! the question wants), a path field, Up, and the last folder remembered.

use std::path::{Path, PathBuf};

use super::command::{Command, DialogKind};
use super::dialogs::{AUDIO_ENDINGS, IMAGE_ENDINGS, answer, default_name, extensions, saves, title};
use super::settings::Source;

/// At most this many entries of one folder are listed.
const MAX_ENTRIES: usize = 5000;

struct Entry {
    name: String,
    dir: bool,
}

struct Asking {
    kind: DialogKind,
    /// The audio already chosen for a pair (the image comes next).
    audio: Option<PathBuf>,
    entries: Vec<Entry>,
    selected: Option<String>,
    /// The file name to write (save dialogs).
    name: String,
    /// The path field (a folder to go to).
    typed: String,
    error: Option<String>,
}

pub struct FileDialog {
    asking: Option<Asking>,
    /// Where the next dialog opens.
    pub dir: PathBuf,
}

impl Default for FileDialog {
    fn default() -> Self {
        let dir = std::env::current_dir().ok().or_else(|| std::env::var_os("HOME").map(PathBuf::from)).unwrap_or_else(|| PathBuf::from("/"));
        Self { asking: None, dir }
    }
}

impl FileDialog {
    pub fn is_open(&self) -> bool {
        self.asking.is_some()
    }

    /// Opens the dialog for `kind` in the last folder.
    pub fn ask(&mut self, kind: DialogKind) {
        let name = default_name(&kind);
        let mut asking = Asking { kind, audio: None, entries: Vec::new(), selected: None, name, typed: String::new(), error: None };
        let dir = self.dir.clone();
        Self::list(&mut asking, &dir);
        self.asking = Some(asking);
    }

    /// Goes to `dir` (tests, and the path field).
    pub fn go_to(&mut self, dir: &Path) {
        if let Some(a) = &mut self.asking {
            if Self::list(a, dir) {
                self.dir = dir.to_path_buf();
            }
        }
    }

    /// Reads `dir` into the list; false (and a message) when it cannot be read.
    fn list(a: &mut Asking, dir: &Path) -> bool {
        let wanted: &[&str] = match (&a.kind, &a.audio) {
            (DialogKind::Pair, None) => AUDIO_ENDINGS,
            (DialogKind::Pair, Some(_)) => IMAGE_ENDINGS,
            (k, _) => extensions(k),
        };
        let read = match std::fs::read_dir(dir) {
            Ok(r) => r,
            Err(e) => {
                a.error = Some(format!("cannot read {}: {e}", dir.display()));
                return false;
            }
        };
        let mut entries: Vec<Entry> = read
            .flatten()
            .take(MAX_ENTRIES)
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let dir = e.path().is_dir();
                let ending = Path::new(&name).extension().map(|x| x.to_string_lossy().to_lowercase());
                let shown = !name.starts_with('.') && (dir || wanted.is_empty() || ending.is_some_and(|x| wanted.contains(&x.as_str())));
                shown.then_some(Entry { name, dir })
            })
            .collect();
        entries.sort_by(|x, y| y.dir.cmp(&x.dir).then_with(|| x.name.to_lowercase().cmp(&y.name.to_lowercase())));
        a.entries = entries;
        a.selected = None;
        a.typed = dir.display().to_string();
        a.error = None;
        true
    }

    /// The dialog; returns the command that applies the answer.
    pub fn show(&mut self, ctx: &egui::Context) -> Option<Command> {
        let a = self.asking.as_mut()?;
        let mut go: Option<PathBuf> = None;
        let mut chosen: Option<PathBuf> = None;
        let mut cancel = false;
        let heading = match (&a.kind, &a.audio) {
            (DialogKind::Pair, None) => "Choose the audio".to_string(),
            (DialogKind::Pair, Some(_)) => "Choose the image".to_string(),
            (k, _) => title(k),
        };
        let dir = self.dir.clone();
        egui::Modal::new(egui::Id::unique("mcgurk_file_dialog")).show(ctx, |ui| {
            ui.set_width(560.0);
            ui.heading(heading);
            ui.horizontal(|ui| {
                if ui.button("Up").clicked() {
                    go = dir.parent().map(Path::to_path_buf);
                }
                let field = ui.add(egui::TextEdit::singleline(&mut a.typed).desired_width(460.0));
                if field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                    go = Some(PathBuf::from(a.typed.trim()));
                }
            });
            // A fixed height: the dialog does not jump as folders with more or fewer entries open.
            egui::ScrollArea::vertical().min_scrolled_height(320.0).max_height(320.0).auto_shrink([false, false]).show(ui, |ui| {
                for e in &a.entries {
                    let label = if e.dir { format!("{}/", e.name) } else { e.name.clone() };
                    let picked = a.selected.as_deref() == Some(e.name.as_str());
                    let r = ui.selectable_label(picked, label);
                    if r.double_clicked() {
                        if e.dir {
                            go = Some(dir.join(&e.name));
                        } else {
                            chosen = Some(dir.join(&e.name));
                        }
                    } else if r.clicked() {
                        if e.dir && !matches!(a.kind, DialogKind::Folder(_)) {
                            go = Some(dir.join(&e.name));
                        } else {
                            a.selected = Some(e.name.clone());
                            if saves(&a.kind) && !e.dir {
                                a.name = e.name.clone();
                            }
                        }
                    }
                }
                if a.entries.is_empty() {
                    ui.weak("nothing to choose here");
                }
            });
            if saves(&a.kind) {
                ui.horizontal(|ui| {
                    let l = ui.label("file name");
                    ui.add(egui::TextEdit::singleline(&mut a.name).desired_width(400.0)).labelled_by(l.id);
                });
            }
            if let Some(e) = &a.error {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            ui.horizontal(|ui| {
                let (verb, ready) = match &a.kind {
                    k if saves(k) => ("Save", !a.name.trim().is_empty()),
                    DialogKind::Folder(_) => ("Choose this folder", true),
                    _ => ("Open", a.selected.is_some()),
                };
                if ui.add_enabled(ready, egui::Button::new(verb)).clicked() {
                    chosen = Some(match &a.kind {
                        k if saves(k) => dir.join(a.name.trim()),
                        DialogKind::Folder(_) => a.selected.as_ref().map_or_else(|| dir.clone(), |s| dir.join(s)),
                        _ => dir.join(a.selected.clone().unwrap_or_default()),
                    });
                }
                if ui.button("Cancel").clicked() {
                    cancel = true;
                }
            });
            ui.weak("McGurk's own file dialog: this desktop offers no system one (no xdg portal, no zenity)");
        });
        if let Some(d) = go {
            self.go_to(&d);
            return None;
        }
        if cancel {
            self.asking = None;
            return None;
        }
        let path = chosen?;
        let a = self.asking.take()?;
        match (a.kind, a.audio) {
            (DialogKind::Pair, None) => {
                // The image is next, from the same folder.
                let mut next = Asking { kind: DialogKind::Pair, audio: Some(path), entries: Vec::new(), selected: None, name: String::new(), typed: String::new(), error: None };
                Self::list(&mut next, &self.dir);
                self.asking = Some(next);
                None
            }
            (DialogKind::Pair, Some(audio)) => Some(Command::Open(Source::Pair { audio, image: path })),
            (kind, _) => Some(answer(kind, path)),
        }
    }
}
