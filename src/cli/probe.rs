//! `mcgurk probe`: one report per file; exit status 1 if any file failed.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;

use crate::media::{LoadOptions, MediaInfo, probe};

pub fn run(files: &[PathBuf], as_json: bool, no_ffmpeg: bool) -> anyhow::Result<ExitCode> {
    let opts = if no_ffmpeg { LoadOptions::builtin_only() } else { LoadOptions::default() };
    let mut failed = false;
    let mut docs = Vec::new();
    let mut stdout = std::io::stdout().lock();
    for path in files {
        match probe(path, &opts) {
            Ok(info) if as_json => docs.push(serde_json::to_value(&info)?),
            Ok(info) => writeln!(stdout, "{}", describe(&info))?,
            Err(e) => {
                failed = true;
                eprintln!("error: {e}");
                if as_json {
                    docs.push(json!({ "path": path.to_string_lossy(), "error": e.to_string() }));
                }
            }
        }
    }
    if as_json {
        serde_json::to_writer_pretty(&mut stdout, &docs)?;
        writeln!(stdout)?;
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn describe(info: &MediaInfo) -> String {
    let mut s = format!(
        "{}\n  container: {}  size: {} bytes  duration: {:.3} s\n",
        info.path.display(),
        info.container,
        info.size_bytes,
        info.duration_s
    );
    match &info.video {
        Some(v) => s += &format!(
            "  video: {} {}x{}  {:.3} fps  {} frames  {:.3} s  ({:?} decoder)\n",
            v.codec, v.width, v.height, v.fps, v.frame_count, v.duration_s, v.decoder
        ),
        None => s += "  video: none\n",
    }
    match &info.audio {
        Some(a) => s += &format!(
            "  audio: {} {} Hz  {} ch  {:.3} s  ({:?} decoder)",
            a.codec, a.sample_rate, a.channels, a.duration_s, a.decoder
        ),
        None => s += "  audio: none",
    }
    s
}
