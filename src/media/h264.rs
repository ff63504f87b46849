//! H.264 in MP4 to RGB frames with openh264 (bundled source, no system library).
//!
//! MP4 stores NAL units length-prefixed, with SPS/PPS in the `avcC` box; openh264 wants an
//! Annex-B byte stream (start codes) with SPS/PPS in front of keyframes.

use openh264::OpenH264API;
use openh264::decoder::{DecodedYUV, Decoder, DecoderConfig, Flush};
use openh264::formats::YUVSource;

use super::clip::RgbImage;

const START_CODE: [u8; 4] = [0, 0, 0, 1];

/// The parts of an `AVCDecoderConfigurationRecord` the decoder needs.
#[derive(Debug, Clone)]
pub struct AvcConfig {
    /// Bytes in each NAL length prefix (1, 2 or 4).
    pub length_size: usize,
    /// SPS and PPS NAL units, already in Annex-B form.
    pub parameter_sets: Vec<u8>,
}

impl AvcConfig {
    /// Parse an `avcC` payload (ISO/IEC 14496-15 5.3.3.1).
    pub fn parse(avcc: &[u8]) -> Result<Self, String> {
        let mut r = Reader { data: avcc, pos: 0 };
        let version = r.u8()?;
        if version != 1 {
            return Err(format!("avcC version {version}, expected 1"));
        }
        r.skip(3)?; // profile, compatibility, level
        let length_size = usize::from(r.u8()? & 0b11) + 1;
        if length_size == 3 {
            return Err("avcC NAL length size of 3 bytes is invalid".into());
        }
        let mut parameter_sets = Vec::new();
        let num_sps = r.u8()? & 0x1F;
        for _ in 0..num_sps {
            let len = usize::from(r.u16()?);
            parameter_sets.extend_from_slice(&START_CODE);
            parameter_sets.extend_from_slice(r.bytes(len)?);
        }
        let num_pps = r.u8()?;
        for _ in 0..num_pps {
            let len = usize::from(r.u16()?);
            parameter_sets.extend_from_slice(&START_CODE);
            parameter_sets.extend_from_slice(r.bytes(len)?);
        }
        if num_sps == 0 || num_pps == 0 {
            return Err("avcC holds no SPS or no PPS".into());
        }
        Ok(Self { length_size, parameter_sets })
    }

    /// Convert one MP4 sample to Annex-B, putting SPS/PPS in front of IDR slices.
    pub fn to_annex_b(&self, sample: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        out.clear();
        let mut prefixed = false;
        self.each_nal(sample, |nal| {
            if nal_type(nal) == Some(IDR) && !prefixed {
                out.extend_from_slice(&self.parameter_sets);
                prefixed = true;
            }
            out.extend_from_slice(&START_CODE);
            out.extend_from_slice(nal);
        })
    }

    /// Whether the sample holds an IDR slice: decoding may start there (nothing after it
    /// refers to a picture before it).
    pub fn is_idr(&self, sample: &[u8]) -> bool {
        let mut idr = false;
        let parsed = self.each_nal(sample, |nal| idr |= nal_type(nal) == Some(IDR));
        parsed.is_ok() && idr
    }

    /// The sample's NAL units, in order.
    fn each_nal(&self, sample: &[u8], mut f: impl FnMut(&[u8])) -> Result<(), String> {
        let mut rest = sample;
        while !rest.is_empty() {
            if rest.len() < self.length_size {
                return Err("NAL length prefix cut short".into());
            }
            let len = rest[..self.length_size].iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            rest = &rest[self.length_size..];
            if len > rest.len() {
                return Err(format!("NAL unit of {len} bytes overruns its {}-byte sample", sample.len()));
            }
            let (nal, tail) = rest.split_at(len);
            rest = tail;
            if !nal.is_empty() {
                f(nal);
            }
        }
        Ok(())
    }
}

/// `nal_unit_type` of an IDR picture's slice.
const IDR: u8 = 5;

fn nal_type(nal: &[u8]) -> Option<u8> {
    nal.first().map(|h| h & 0x1F)
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos + n;
        let s = self.data.get(self.pos..end).ok_or("avcC record cut short")?;
        self.pos = end;
        Ok(s)
    }
    fn skip(&mut self, n: usize) -> Result<(), String> {
        self.bytes(n).map(|_| ())
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.bytes(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, String> {
        let b = self.bytes(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
}

/// Stateful H.264 decoder producing RGB frames in presentation order.
pub struct H264Decoder {
    config: AvcConfig,
    decoder: Decoder,
    scratch: Vec<u8>,
}

impl H264Decoder {
    pub fn new(avcc: &[u8]) -> Result<Self, String> {
        let config = AvcConfig::parse(avcc)?;
        // Flushing after every packet (the crate's default) hands out pictures before B-frame
        // reordering is done and loses some; flush once, at the end of the stream, instead.
        let decoder_config = DecoderConfig::new().flush_after_decode(Flush::NoFlush);
        let decoder = Decoder::with_api_config(OpenH264API::from_source(), decoder_config).map_err(|e| format!("openh264 init: {e}"))?;
        Ok(Self { config, decoder, scratch: Vec::new() })
    }

    /// Whether decoding may start at this sample (see [`AvcConfig::is_idr`]).
    pub fn is_idr(&self, sample: &[u8]) -> bool {
        self.config.is_idr(sample)
    }

    /// Decode one MP4 sample; returns a picture when the decoder has one ready.
    pub fn decode(&mut self, sample: &[u8]) -> Result<Option<RgbImage>, String> {
        let mut annex_b = std::mem::take(&mut self.scratch);
        self.config.to_annex_b(sample, &mut annex_b)?;
        let result = self.decoder.decode(&annex_b).map(|yuv| yuv.map(|p| to_rgb(&p)));
        self.scratch = annex_b;
        result.map_err(|e| format!("H.264 decode: {e}"))
    }

    /// Pictures still held for reordering at the end of the stream.
    pub fn flush(&mut self) -> Result<Vec<RgbImage>, String> {
        let frames = self.decoder.flush_remaining().map_err(|e| format!("H.264 flush: {e}"))?;
        Ok(frames.iter().map(to_rgb).collect())
    }
}

fn to_rgb(yuv: &DecodedYUV<'_>) -> RgbImage {
    let (w, h) = yuv.dimensions();
    let mut pixels = vec![0u8; w * h * 3];
    yuv.write_rgb8(&mut pixels);
    RgbImage { width: w as u32, height: h as u32, pixels }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn avcc(length_size_minus_one: u8) -> Vec<u8> {
        let sps = [0x67, 0x42, 0x00, 0x1e];
        let pps = [0x68, 0xce, 0x38, 0x80];
        let mut v = vec![1, 0x42, 0, 0x1e, 0xFC | length_size_minus_one, 0xE1, 0, 4];
        v.extend_from_slice(&sps);
        v.extend_from_slice(&[1, 0, 4]);
        v.extend_from_slice(&pps);
        v
    }

    #[test]
    fn parses_avcc_and_prefixes_idr() {
        let cfg = AvcConfig::parse(&avcc(3)).unwrap();
        assert_eq!(cfg.length_size, 4);
        assert_eq!(cfg.parameter_sets, [0, 0, 0, 1, 0x67, 0x42, 0, 0x1e, 0, 0, 0, 1, 0x68, 0xce, 0x38, 0x80]);
        // An IDR slice (type 5) followed by a non-IDR slice (type 1).
        let sample = [0, 0, 0, 2, 0x65, 0xAA, 0, 0, 0, 1, 0x41];
        let mut out = Vec::new();
        cfg.to_annex_b(&sample, &mut out).unwrap();
        let mut expected = cfg.parameter_sets.clone();
        expected.extend_from_slice(&[0, 0, 0, 1, 0x65, 0xAA, 0, 0, 0, 1, 0x41]);
        assert_eq!(out, expected);
        // A P-slice alone gets no parameter sets.
        cfg.to_annex_b(&[0, 0, 0, 1, 0x41], &mut out).unwrap();
        assert_eq!(out, [0, 0, 0, 1, 0x41]);
        // Decoding may start at the first sample, not at the second; a broken one is no start.
        assert!(cfg.is_idr(&sample));
        assert!(!cfg.is_idr(&[0, 0, 0, 1, 0x41]));
        assert!(!cfg.is_idr(&[0, 0, 0, 9, 0x65]));
    }

    #[test]
    fn rejects_bad_records() {
        assert!(AvcConfig::parse(&[]).is_err());
        assert!(AvcConfig::parse(&[2, 0, 0, 0, 0xFF]).is_err());
        assert!(AvcConfig::parse(&avcc(3)[..10]).is_err());
        let cfg = AvcConfig::parse(&avcc(1)).unwrap();
        assert_eq!(cfg.length_size, 2);
        let mut out = Vec::new();
        assert!(cfg.to_annex_b(&[0, 9, 0x41], &mut out).is_err(), "overrunning NAL must fail");
        assert!(cfg.to_annex_b(&[0], &mut out).is_err(), "cut prefix must fail");
    }
}
