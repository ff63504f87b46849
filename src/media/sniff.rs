//! Decide what a file is from its first bytes, never from its extension: a text file named
//! `.wav` must be rejected as text, and a WebP named `.png` must still open.

/// What the first bytes of a file say it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// ISO base media (MP4, MOV, M4A, 3GP).
    IsoMp4,
    Wav,
    Flac,
    Mp3,
    Ogg,
    /// Matroska / WebM: demuxable by symphonia, but its usual codecs (VP8/9, AV1, Opus) need ffmpeg.
    Matroska,
    /// Containers only ffmpeg reads (AVI, MPEG-TS, FLV).
    OtherVideo(&'static str),
    Png,
    Jpeg,
    WebP,
    Unknown,
}

impl Kind {
    pub fn is_image(self) -> bool {
        matches!(self, Self::Png | Self::Jpeg | Self::WebP)
    }

    pub fn is_audio_only(self) -> bool {
        matches!(self, Self::Wav | Self::Flac | Self::Mp3 | Self::Ogg)
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::IsoMp4 => "mp4",
            Self::Wav => "wav",
            Self::Flac => "flac",
            Self::Mp3 => "mp3",
            Self::Ogg => "ogg",
            Self::Matroska => "matroska",
            Self::OtherVideo(name) => name,
            Self::Png => "png",
            Self::Jpeg => "jpeg",
            Self::WebP => "webp",
            Self::Unknown => "unknown",
        }
    }
}

/// Classify a file by its leading bytes (64 are plenty).
pub fn sniff(head: &[u8]) -> Kind {
    let at = |off: usize, magic: &[u8]| head.get(off..off + magic.len()) == Some(magic);
    if at(4, b"ftyp") || at(4, b"moov") || at(4, b"mdat") || at(4, b"wide") || at(4, b"free") {
        Kind::IsoMp4
    } else if at(0, b"RIFF") && at(8, b"WAVE") {
        Kind::Wav
    } else if at(0, b"RIFF") && at(8, b"WEBP") {
        Kind::WebP
    } else if at(0, b"RIFF") && at(8, b"AVI ") {
        Kind::OtherVideo("avi")
    } else if at(0, b"fLaC") {
        Kind::Flac
    } else if at(0, b"OggS") {
        Kind::Ogg
    } else if at(0, b"\x89PNG\r\n\x1a\n") {
        Kind::Png
    } else if at(0, b"\xFF\xD8\xFF") {
        Kind::Jpeg
    } else if at(0, b"\x1A\x45\xDF\xA3") {
        Kind::Matroska
    } else if at(0, b"FLV") {
        Kind::OtherVideo("flv")
    } else if head.len() > 188 && head[0] == 0x47 && head[188] == 0x47 {
        Kind::OtherVideo("mpegts")
    } else if at(0, b"ID3") || is_mpeg_audio_sync(head) {
        Kind::Mp3
    } else {
        Kind::Unknown
    }
}

/// An MPEG-1/2 layer III frame header: 11 sync bits, a valid version, layer III, a valid bitrate
/// and sample-rate index. Strict, so that random bytes are not mistaken for MP3.
fn is_mpeg_audio_sync(head: &[u8]) -> bool {
    let [b0, b1, b2, ..] = head else { return false };
    let sync = *b0 == 0xFF && (b1 & 0xE0) == 0xE0;
    let version_ok = (b1 >> 3) & 0b11 != 0b01;
    let layer3 = (b1 >> 1) & 0b11 == 0b01;
    let bitrate_ok = !matches!(b2 >> 4, 0b0000 | 0b1111);
    let rate_ok = (b2 >> 2) & 0b11 != 0b11;
    sync && version_ok && layer3 && bitrate_ok && rate_ok
}

/// A short description of unrecognised bytes for error messages ("text", "binary data").
pub fn describe_unknown(head: &[u8]) -> String {
    if head.is_empty() {
        return "empty".into();
    }
    let printable = head.iter().filter(|b| b.is_ascii_graphic() || b.is_ascii_whitespace()).count();
    if printable == head.len() {
        "looks like text".into()
    } else {
        "unrecognised binary data".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_numbers() {
        assert_eq!(sniff(b"\0\0\0\x20ftypisom"), Kind::IsoMp4);
        assert_eq!(sniff(b"RIFF\0\0\0\0WAVEfmt "), Kind::Wav);
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Kind::WebP);
        assert_eq!(sniff(b"fLaC\0\0\0\x22"), Kind::Flac);
        assert_eq!(sniff(b"OggS\0\x02"), Kind::Ogg);
        assert_eq!(sniff(b"ID3\x04\0"), Kind::Mp3);
        assert_eq!(sniff(&[0xFF, 0xFB, 0x90, 0x64]), Kind::Mp3);
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0"), Kind::Png);
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Kind::Jpeg);
        assert_eq!(sniff(&[0x1A, 0x45, 0xDF, 0xA3]), Kind::Matroska);
        assert_eq!(sniff(b"hello, this is text\n"), Kind::Unknown);
        assert_eq!(sniff(&[]), Kind::Unknown);
        // A bare 0xFF 0xFF pair is not a plausible MP3 header.
        assert_eq!(sniff(&[0xFF, 0xFF, 0xFF, 0xFF]), Kind::Unknown);
    }

    #[test]
    fn describes_text() {
        assert_eq!(describe_unknown(b"just words\n"), "looks like text");
        assert_eq!(describe_unknown(&[0, 1, 2, 250]), "unrecognised binary data");
    }
}
