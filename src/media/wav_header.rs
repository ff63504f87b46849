//! A WAV file's format chunk, checked before the decoder sees it: a hostile header (dozens of
//! channels, a rate of gigahertz, zero-byte frames) gets an error naming the file instead of
//! reaching code that trusts it.

use std::io::Read;
use std::path::Path;

use super::error::MediaError;

/// Most channels a WAV may declare (the decoder's channel mask has 32 positions).
pub const MAX_CHANNELS: u16 = 32;

/// How far into the file the format chunk is looked for.
const SEARCH: u64 = 64 * 1024;

pub fn check(path: &Path) -> Result<(), MediaError> {
    let mut head = Vec::new();
    std::fs::File::open(path).and_then(|f| f.take(SEARCH).read_to_end(&mut head)).map_err(|e| MediaError::io(path, e))?;
    check_bytes(&head).map_err(|detail| MediaError::Corrupt { path: path.to_path_buf(), container: "wav", detail })
}

/// The format chunk's numbers, or why they cannot be right. A file whose format chunk is not in
/// the first bytes passes: the decoder says what is wrong with it.
fn check_bytes(head: &[u8]) -> Result<(), String> {
    let u16_at = |i: usize| head.get(i..i + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |i: usize| head.get(i..i + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let mut at = 12usize;
    while let (Some(id), Some(size)) = (head.get(at..at + 4), u32_at(at + 4)) {
        let body = at + 8;
        if id == b"fmt " {
            if size < 16 {
                return Err(format!("format chunk of {size} bytes (at least 16 needed)"));
            }
            let (Some(channels), Some(rate), Some(align), Some(bits)) = (u16_at(body + 2), u32_at(body + 4), u16_at(body + 12), u16_at(body + 14)) else {
                return Err("the format chunk is cut short".into());
            };
            if channels == 0 || channels > MAX_CHANNELS {
                return Err(format!("the header declares {channels} channels (McGurk reads 1 to {MAX_CHANNELS})"));
            }
            let rates = crate::dsp::resample::RATES;
            if !rates.contains(&rate) {
                return Err(format!("the header declares {rate} Hz (McGurk reads {} Hz to {} Hz)", rates.start(), rates.end()));
            }
            if bits == 0 || bits > 64 {
                return Err(format!("the header declares {bits} bits per sample"));
            }
            if align == 0 {
                return Err("the header declares zero-byte sample frames".into());
            }
            return Ok(());
        }
        if id == b"data" {
            return Err("the data chunk comes before any format chunk".into());
        }
        // Chunks are padded to an even length.
        at = body.saturating_add(size as usize).saturating_add(size as usize & 1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(tag: u16, channels: u16, rate: u32, bits: u16) -> Vec<u8> {
        let align = channels.saturating_mul(bits / 8);
        let mut v = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
        v.extend_from_slice(&16u32.to_le_bytes());
        v.extend_from_slice(&tag.to_le_bytes());
        v.extend_from_slice(&channels.to_le_bytes());
        v.extend_from_slice(&rate.to_le_bytes());
        v.extend_from_slice(&rate.wrapping_mul(u32::from(align)).to_le_bytes());
        v.extend_from_slice(&align.to_le_bytes());
        v.extend_from_slice(&bits.to_le_bytes());
        v.extend_from_slice(b"data\0\0\0\0");
        v
    }

    #[test]
    fn plausible_headers_pass() {
        assert!(check_bytes(&wav(1, 2, 44_100, 16)).is_ok());
        assert!(check_bytes(&wav(3, 1, 11_025, 32)).is_ok());
        assert!(check_bytes(&wav(0xFFFE, 32, 48_000, 24)).is_ok());
    }

    #[test]
    fn hostile_headers_are_refused() {
        assert!(check_bytes(&wav(0xFFFE, 33, 48_000, 16)).unwrap_err().contains("33 channels"));
        assert!(check_bytes(&wav(1, 0, 48_000, 16)).unwrap_err().contains("0 channels"));
        assert!(check_bytes(&wav(1, 1, u32::MAX, 16)).unwrap_err().contains("4294967295 Hz"));
        assert!(check_bytes(&wav(1, 1, 1, 16)).unwrap_err().contains("1 Hz"));
        assert!(check_bytes(&wav(1, 1, 8_000, 0)).unwrap_err().contains("0 bits"));
        let mut data_first = b"RIFF\0\0\0\0WAVEdata\x04\0\0\0abcd".to_vec();
        data_first.extend_from_slice(&wav(1, 1, 8_000, 16)[12..]);
        assert!(check_bytes(&data_first).is_err());
    }

    #[test]
    fn a_huge_chunk_size_does_not_overflow() {
        let mut v = b"RIFF\0\0\0\0WAVEjunk\xff\xff\xff\xff".to_vec();
        v.extend_from_slice(&[0; 32]);
        assert!(check_bytes(&v).is_ok());
    }
}
