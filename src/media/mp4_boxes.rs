//! A minimal MP4 box walk: the sample-entry codes of each track, read straight from `moov`.
//! Used when symphonia cannot open a file (its HEVC and other parsers reject some valid
//! files) to tell "unsupported codec, ffmpeg can read it" apart from "corrupt".

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Largest `moov` we read into memory for this check.
const MAX_MOOV: u64 = 64 << 20;

/// Four-character sample-entry codes ("avc1", "hvc1", "mp4a", ...) in file order.
pub fn sample_entries(path: &Path) -> std::io::Result<Vec<[u8; 4]>> {
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    let mut pos = 0u64;
    while pos + 8 <= len {
        f.seek(SeekFrom::Start(pos))?;
        let mut head = [0u8; 16];
        f.read_exact(&mut head[..8])?;
        let mut size = u64::from(u32::from_be_bytes([head[0], head[1], head[2], head[3]]));
        let kind = [head[4], head[5], head[6], head[7]];
        let mut header = 8;
        if size == 1 {
            f.read_exact(&mut head[8..16])?;
            size = u64::from_be_bytes([head[8], head[9], head[10], head[11], head[12], head[13], head[14], head[15]]);
            header = 16;
        } else if size == 0 {
            size = len - pos;
        }
        if size < header {
            break;
        }
        if &kind == b"moov" {
            let body = (size - header).min(MAX_MOOV).min(len - pos - header);
            let mut moov = vec![0u8; body as usize];
            f.read_exact(&mut moov)?;
            return Ok(entries_in(&moov));
        }
        pos += size;
    }
    Ok(Vec::new())
}

/// Find every `stsd` box and list its entries' types.
fn entries_in(moov: &[u8]) -> Vec<[u8; 4]> {
    let mut out = Vec::new();
    let mut i = 4;
    while i + 12 <= moov.len() {
        if &moov[i..i + 4] == b"stsd" {
            let count = u32::from_be_bytes([moov[i + 8], moov[i + 9], moov[i + 10], moov[i + 11]]);
            let mut e = i + 12;
            for _ in 0..count.min(16) {
                let Some(entry) = moov.get(e..e + 8) else { break };
                let size = u32::from_be_bytes([entry[0], entry[1], entry[2], entry[3]]) as usize;
                out.push([entry[4], entry[5], entry[6], entry[7]]);
                if size < 8 {
                    break;
                }
                e += size;
            }
        }
        i += 1;
    }
    out
}

/// (stream kind, codec name) of a sample-entry code, or None for H.264 and AAC (built in).
pub fn needs_ffmpeg(code: [u8; 4]) -> Option<(&'static str, String)> {
    let named = |kind, name: &str| Some((kind, name.to_string()));
    match &code {
        b"avc1" | b"avc3" | b"mp4a" => None,
        b"hvc1" | b"hev1" | b"dvh1" | b"dvhe" => named("video", "hevc"),
        b"vp08" => named("video", "vp8"),
        b"vp09" => named("video", "vp9"),
        b"av01" => named("video", "av1"),
        b"mp4v" => named("video", "mpeg4"),
        b"Opus" => named("audio", "opus"),
        b"ac-3" => named("audio", "ac3"),
        b"ec-3" => named("audio", "eac3"),
        b"fLaC" => named("audio", "flac"),
        other => named("track", &String::from_utf8_lossy(other).trim().to_lowercase()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_entries_in_a_synthetic_stsd() {
        // stsd: size, "stsd", version/flags, count = 2, then two entries.
        let mut moov = vec![0, 0, 0, 40];
        moov.extend_from_slice(b"stsd");
        moov.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 2]);
        moov.extend_from_slice(&[0, 0, 0, 8]);
        moov.extend_from_slice(b"hvc1");
        moov.extend_from_slice(&[0, 0, 0, 8]);
        moov.extend_from_slice(b"mp4a");
        assert_eq!(entries_in(&moov), vec![*b"hvc1", *b"mp4a"]);
        assert_eq!(needs_ffmpeg(*b"hvc1"), Some(("video", "hevc".to_string())));
        assert_eq!(needs_ffmpeg(*b"mp4a"), None);
    }
}
