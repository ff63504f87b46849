//! The safetensors container (an 8-byte little-endian header length, a JSON header, raw
//! little-endian data), read and written here directly: PyTorch writes it with
//! `safetensors.torch.save_file`, and the format is small enough that owning the parser gives
//! exact errors (which key, which offset) for bad files.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// One tensor, converted to f32 whatever its stored float type.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredTensor {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// Tensors by name plus the free-form `__metadata__` strings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SafeTensors {
    pub tensors: BTreeMap<String, StoredTensor>,
    pub metadata: BTreeMap<String, String>,
}

/// How floats are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreAs {
    F32,
    /// Half the size; enough precision for shipped demo weights.
    F16,
}

/// Why bytes are not a safetensors file. The caller adds the path.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FormatError {
    #[error("too short for a safetensors header ({0} bytes)")]
    TooShort(usize),
    #[error("header length {0} exceeds the file size")]
    HeaderTooLong(u64),
    #[error("header is not valid JSON: {0}")]
    HeaderJson(String),
    #[error("tensor '{name}': {detail}")]
    Tensor { name: String, detail: String },
    #[error("'{0}' appears twice in the header")]
    DuplicateKey(String),
    #[error("tensors '{0}' and '{1}' share bytes (overlapping data_offsets)")]
    Overlap(String, String),
    #[error("__metadata__ {0}")]
    Metadata(String),
}

/// The header's entries in file order, repeated keys kept (a JSON map would silently keep the
/// last, loading different weights than another reader of the same file).
struct Entries(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for Entries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Entries;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Entries, A::Error> {
                let mut v = Vec::new();
                while let Some(entry) = m.next_entry::<String, Value>()? {
                    v.push(entry);
                }
                Ok(Entries(v))
            }
        }
        d.deserialize_map(Visit)
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn tensor_err(name: &str, detail: impl Into<String>) -> FormatError {
    FormatError::Tensor { name: name.to_string(), detail: detail.into() }
}

impl SafeTensors {
    /// Keys as a model saved them, not as DataParallel wrapped it: a `module.` prefix on every
    /// key is dropped.
    pub fn drop_data_parallel_prefix(&mut self) {
        if !self.tensors.is_empty() && self.tensors.keys().all(|k| k.starts_with("module.")) {
            self.tensors = std::mem::take(&mut self.tensors).into_iter().map(|(k, v)| (k["module.".len()..].to_string(), v)).collect();
        }
    }

    pub fn insert(&mut self, name: impl Into<String>, shape: Vec<usize>, values: Vec<f32>) {
        self.tensors.insert(name.into(), StoredTensor { shape, values });
    }

    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        if bytes.len() < 8 {
            return Err(FormatError::TooShort(bytes.len()));
        }
        let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
        if n > (bytes.len() - 8) as u64 {
            return Err(FormatError::HeaderTooLong(n));
        }
        let data = &bytes[8 + n as usize..];
        let Entries(header) = serde_json::from_slice(&bytes[8..8 + n as usize]).map_err(|e| FormatError::HeaderJson(e.to_string()))?;
        let mut seen = std::collections::BTreeSet::new();
        if let Some((name, _)) = header.iter().find(|(k, _)| !seen.insert(k.as_str())) {
            return Err(FormatError::DuplicateKey(name.clone()));
        }
        let mut out = SafeTensors::default();
        // (start, end, name) of every tensor's bytes, to refuse overlaps.
        let mut spans: Vec<(usize, usize, String)> = Vec::new();
        for (name, entry) in header {
            if name == "__metadata__" {
                let Value::Object(m) = entry else {
                    return Err(FormatError::Metadata(format!("is not an object of strings but {}", kind_of(&entry))));
                };
                for (k, v) in m {
                    let Value::String(v) = v else {
                        return Err(FormatError::Metadata(format!("entry '{k}' is not a string but {}", kind_of(&v))));
                    };
                    out.metadata.insert(k, v);
                }
                continue;
            }
            let dtype = entry.get("dtype").and_then(Value::as_str).ok_or_else(|| tensor_err(&name, "no dtype"))?;
            let shape: Vec<usize> = entry
                .get("shape")
                .and_then(Value::as_array)
                .and_then(|a| a.iter().map(|d| d.as_u64().map(|d| d as usize)).collect())
                .ok_or_else(|| tensor_err(&name, "no valid shape"))?;
            let offsets: Vec<usize> = entry
                .get("data_offsets")
                .and_then(Value::as_array)
                .and_then(|a| a.iter().map(|d| d.as_u64().map(|d| d as usize)).collect())
                .filter(|o: &Vec<usize>| o.len() == 2 && o[0] <= o[1])
                .ok_or_else(|| tensor_err(&name, "no valid data_offsets"))?;
            let raw = data
                .get(offsets[0]..offsets[1])
                .ok_or_else(|| tensor_err(&name, format!("data {}..{} lies past the end of the file", offsets[0], offsets[1])))?;
            // Checked: a hostile shape's product overflows.
            let count = shape
                .iter()
                .try_fold(1usize, |n, d| n.checked_mul(*d))
                .ok_or_else(|| tensor_err(&name, format!("shape {shape:?} has more elements than memory can hold")))?;
            let values = decode(dtype, raw).map_err(|d| tensor_err(&name, d))?;
            if values.len() != count {
                return Err(tensor_err(&name, format!("shape {shape:?} needs {count} values, the data holds {}", values.len())));
            }
            if offsets[0] < offsets[1] {
                spans.push((offsets[0], offsets[1], name.clone()));
            }
            out.tensors.insert(name, StoredTensor { shape, values });
        }
        spans.sort();
        if let Some(w) = spans.windows(2).find(|w| w[1].0 < w[0].1) {
            return Err(FormatError::Overlap(w[0].2.clone(), w[1].2.clone()));
        }
        Ok(out)
    }

    pub fn to_bytes(&self, store: StoreAs) -> Vec<u8> {
        let mut header = Map::new();
        if !self.metadata.is_empty() {
            let m = self.metadata.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
            header.insert("__metadata__".into(), Value::Object(m));
        }
        let mut data = Vec::new();
        for (name, t) in &self.tensors {
            let start = data.len();
            let dtype = match store {
                StoreAs::F32 => {
                    t.values.iter().for_each(|v| data.extend_from_slice(&v.to_le_bytes()));
                    "F32"
                }
                StoreAs::F16 => {
                    t.values.iter().for_each(|&v| data.extend_from_slice(&f32_to_f16(v).to_le_bytes()));
                    "F16"
                }
            };
            let entry = serde_json::json!({ "dtype": dtype, "shape": t.shape, "data_offsets": [start, data.len()] });
            header.insert(name.clone(), entry);
        }
        let mut head = serde_json::to_vec(&Value::Object(header)).expect("JSON of strings and numbers");
        // The format pads the header with spaces to an 8-byte boundary.
        while head.len() % 8 != 0 {
            head.push(b' ');
        }
        let mut out = (head.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(&head);
        out.extend_from_slice(&data);
        out
    }
}

fn decode(dtype: &str, raw: &[u8]) -> Result<Vec<f32>, String> {
    let width = match dtype {
        "F32" | "I32" => 4,
        "F16" | "BF16" => 2,
        "F64" | "I64" => 8,
        other => return Err(format!("unsupported dtype {other} (expected F32, F16, BF16 or F64)")),
    };
    if raw.len() % width != 0 {
        return Err(format!("{} bytes is not a whole number of {dtype} values", raw.len()));
    }
    let chunks = raw.chunks_exact(width);
    Ok(match dtype {
        "F32" => chunks.map(|c| f32::from_le_bytes(c.try_into().expect("4"))).collect(),
        "I32" => chunks.map(|c| i32::from_le_bytes(c.try_into().expect("4")) as f32).collect(),
        "F16" => chunks.map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]]))).collect(),
        "BF16" => chunks.map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16)).collect(),
        "F64" => chunks.map(|c| f64::from_le_bytes(c.try_into().expect("8")) as f32).collect(),
        _ => chunks.map(|c| i64::from_le_bytes(c.try_into().expect("8")) as f32).collect(),
    })
}

/// IEEE 754 binary16 to binary32, exact (subnormals, infinities and NaN included).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, f) => {
            // Subnormal: value = f * 2^-24.
            let v = f as f32 * f32::powi(2.0, -24);
            return if sign != 0 { -v } else { v };
        }
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, f) => sign | 0x7fc0_0000 | (f << 13),
        (e, f) => sign | ((e + 112) << 23) | (f << 13),
    };
    f32::from_bits(bits)
}

/// binary32 to binary16, rounding to nearest even; overflow gives infinity.
pub fn f32_to_f16(v: f32) -> u16 {
    let bits = v.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    if v.is_nan() {
        return sign | 0x7e00;
    }
    let a = v.abs();
    if a >= 65520.0 {
        return sign | 0x7c00;
    }
    if a < f32::powi(2.0, -14) {
        // Subnormal or zero: units of 2^-24, rounded to nearest even by the float unit.
        let units = (a * f32::powi(2.0, 24)).round_ties_even();
        return sign | units as u16;
    }
    let exp = ((bits >> 23) & 0xff) as i32 - 127 + 15;
    let mant = bits & 0x7f_ffff;
    let mut h = ((exp as u32) << 10) | (mant >> 13);
    let rest = mant & 0x1fff;
    if rest > 0x1000 || (rest == 0x1000 && h & 1 == 1) {
        h += 1; // may carry into the exponent, which is the right result
    }
    sign | h as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_floats_round_trip_exactly_where_representable() {
        for v in [0.0f32, -0.0, 1.0, -2.5, 65504.0, 6.103_515_6e-5, 5.960_464_5e-8, 0.333_251_95] {
            assert_eq!(f16_to_f32(f32_to_f16(v)), v, "{v}");
        }
        assert_eq!(f32_to_f16(1.0), 0x3c00);
        assert_eq!(f32_to_f16(1e6), 0x7c00);
        assert!(f16_to_f32(f32_to_f16(f32::NAN)).is_nan());
        // 1 + 2^-11 is halfway between 1 and the next half: ties to even (1.0).
        assert_eq!(f32_to_f16(1.0 + f32::powi(2.0, -11)), 0x3c00);
        assert_eq!(f32_to_f16(1.0 + 3.0 * f32::powi(2.0, -11)), 0x3c02);
    }

    #[test]
    fn bytes_round_trip_and_bad_headers_are_named() {
        let mut st = SafeTensors::default();
        st.insert("a.weight", vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        st.insert("b", vec![1], vec![-0.5]);
        st.metadata.insert("k".into(), "v".into());
        assert_eq!(SafeTensors::parse(&st.to_bytes(StoreAs::F32)).unwrap(), st);
        assert_eq!(SafeTensors::parse(&st.to_bytes(StoreAs::F16)).unwrap(), st);
        let bytes = st.to_bytes(StoreAs::F32);
        assert_eq!(SafeTensors::parse(&bytes[..5]), Err(FormatError::TooShort(5)));
        assert!(matches!(SafeTensors::parse(&bytes[..bytes.len() - 4]), Err(FormatError::Tensor { .. })));
        let mut huge = bytes.clone();
        huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(SafeTensors::parse(&huge), Err(FormatError::HeaderTooLong(u64::MAX)));
    }
}
