//! PyTorch checkpoints as `torch.save` writes them since 1.6: a zip archive (entries stored, not
//! compressed) holding `data.pkl`, a pickle of the saved object whose tensors point at raw
//! storages `data/<key>`. Read without Python: the zip's central directory, a pickle machine
//! for the opcodes state dicts use (anything else it does not know becomes an opaque value, so
//! optimizer or sampler states beside the weights do no harm), and tensors rebuilt from their
//! storage, offset, size and stride as float32. Every number from the file is checked before use:
//! sizes against the bytes present, strides against the storage.

use std::collections::HashMap;

use super::safetensors::{SafeTensors, StoredTensor};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PthError {
    #[error("not a zip archive (no end-of-central-directory record)")]
    NotZip,
    #[error("in the format before PyTorch 1.6 (not a zip); McGurk reads the zip format torch.save has written since 1.6. Re-save it once: python3 -c \"import torch; torch.save(torch.load('old.pth', map_location='cpu', weights_only=False), 'new.pth')\"")]
    Legacy,
    #[error("damaged zip archive: {0}")]
    Zip(String),
    #[error("zip entry '{0}' is compressed (method {1}); torch.save stores entries uncompressed: re-save the checkpoint with torch.save")]
    Compressed(String, u16),
    #[error("no data.pkl in the archive")]
    NoPickle,
    #[error("pickle: {0}")]
    Pickle(String),
    #[error("tensor '{name}': {detail}")]
    Tensor { name: String, detail: String },
    #[error("holds no tensors (a state dict, or a dict with one under 'model' or 'state_dict', is expected)")]
    NoTensors,
}

fn zip_err(s: impl Into<String>) -> PthError {
    PthError::Zip(s.into())
}

fn u16_at(b: &[u8], at: usize) -> Result<u16, PthError> {
    b.get(at..at + 2).map(|s| u16::from_le_bytes([s[0], s[1]])).ok_or_else(|| zip_err("record cut short"))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, PthError> {
    b.get(at..at + 4).map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]])).ok_or_else(|| zip_err("record cut short"))
}

fn u64_at(b: &[u8], at: usize) -> Result<u64, PthError> {
    b.get(at..at + 8).map(|s| u64::from_le_bytes(s.try_into().expect("8 bytes"))).ok_or_else(|| zip_err("record cut short"))
}

/// The archive's entries: name -> its bytes (slices of `bytes`).
fn entries(bytes: &[u8]) -> Result<HashMap<String, &[u8]>, PthError> {
    // The end record is in the last 64 KiB + 22 bytes (its comment is at most 65535 bytes).
    let from = bytes.len().saturating_sub(65_535 + 22);
    let eocd = (from..bytes.len().saturating_sub(21)).rev().find(|&i| bytes[i..i + 4] == [0x50, 0x4b, 0x05, 0x06]).ok_or(PthError::NotZip)?;
    let mut count = u64::from(u16_at(bytes, eocd + 10)?);
    let mut cd_size = u64::from(u32_at(bytes, eocd + 12)?);
    let mut cd_offset = u64::from(u32_at(bytes, eocd + 16)?);
    // ZIP64: the real numbers are in the zip64 end record, found through its locator.
    if (count == 0xffff || cd_size == 0xffff_ffff || cd_offset == 0xffff_ffff) && eocd >= 20 && bytes[eocd - 20..eocd - 16] == [0x50, 0x4b, 0x06, 0x07] {
        let at = usize::try_from(u64_at(bytes, eocd - 12)?).ok().filter(|a| a.saturating_add(56) <= bytes.len()).ok_or_else(|| zip_err("zip64 record offset beyond the end of the file"))?;
        if bytes.get(at..at + 4) != Some(&[0x50, 0x4b, 0x06, 0x06]) {
            return Err(zip_err("zip64 end record missing"));
        }
        count = u64_at(bytes, at + 32)?;
        cd_size = u64_at(bytes, at + 40)?;
        cd_offset = u64_at(bytes, at + 48)?;
    }
    let start = usize::try_from(cd_offset).ok().filter(|s| *s <= bytes.len()).ok_or_else(|| zip_err("central directory beyond the end of the file"))?;
    let end = start.checked_add(usize::try_from(cd_size).map_err(|_| zip_err("central directory size"))?).filter(|e| *e <= bytes.len()).ok_or_else(|| zip_err("central directory beyond the end of the file"))?;
    let mut out = HashMap::new();
    let mut at = start;
    for _ in 0..count {
        if at + 46 > end || bytes[at..at + 4] != [0x50, 0x4b, 0x01, 0x02] {
            return Err(zip_err("central directory entry damaged"));
        }
        let method = u16_at(bytes, at + 10)?;
        let mut size = u64::from(u32_at(bytes, at + 24)?);
        let (name_len, extra_len, comment_len) = (usize::from(u16_at(bytes, at + 28)?), usize::from(u16_at(bytes, at + 30)?), usize::from(u16_at(bytes, at + 32)?));
        let mut local = u64::from(u32_at(bytes, at + 42)?);
        let name = String::from_utf8_lossy(bytes.get(at + 46..at + 46 + name_len).ok_or_else(|| zip_err("entry name cut short"))?).to_string();
        // ZIP64 extra field: the 64-bit sizes and offset, in the order of the fields that overflowed.
        let extra = bytes.get(at + 46 + name_len..at + 46 + name_len + extra_len).ok_or_else(|| zip_err("entry extra field cut short"))?;
        let mut e = 0;
        while e + 4 <= extra.len() {
            let (id, len) = (u16_at(extra, e)?, usize::from(u16_at(extra, e + 2)?));
            if id == 1 {
                let mut f = e + 4;
                if u32_at(bytes, at + 24)? == 0xffff_ffff {
                    size = u64_at(extra, f)?;
                    f += 8;
                }
                if u32_at(bytes, at + 20)? == 0xffff_ffff {
                    f += 8;
                }
                if u32_at(bytes, at + 42)? == 0xffff_ffff {
                    local = u64_at(extra, f)?;
                }
            }
            e += 4 + len;
        }
        if method != 0 {
            return Err(PthError::Compressed(name, method));
        }
        // Offsets from the file (a ZIP64 one may be anything): checked before any arithmetic.
        let local = usize::try_from(local).ok().filter(|l| l.saturating_add(30) <= bytes.len()).ok_or_else(|| zip_err(format!("local header of '{name}' beyond the end of the file")))?;
        if bytes.get(local..local + 4) != Some(&[0x50, 0x4b, 0x03, 0x04]) {
            return Err(zip_err(format!("local header of '{name}' missing")));
        }
        let data = local + 30 + usize::from(u16_at(bytes, local + 26)?) + usize::from(u16_at(bytes, local + 28)?);
        let data_end = usize::try_from(size).ok().and_then(|s| data.checked_add(s)).filter(|e| *e <= bytes.len()).ok_or_else(|| zip_err(format!("entry '{name}' runs past the end of the file")))?;
        out.insert(name, &bytes[data..data_end]);
        at += 46 + name_len + extra_len + comment_len;
    }
    Ok(out)
}

/// A value of the pickle machine; containers hold indices into its arena, so a value fetched
/// from the memo many times is never copied.
#[derive(Clone, Debug)]
enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float,
    Str(String),
    Tuple(Vec<usize>),
    List(Vec<usize>),
    Dict(Vec<(usize, usize)>),
    Global(String, String),
    Storage { dtype: Dtype, key: String },
    Tensor(TensorRef),
    /// Something a state dict does not need (an optimizer's object, a numpy array, bytes...).
    Opaque,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Dtype {
    F32,
    F64,
    F16,
    Bf16,
    I64,
    I32,
    I16,
    I8,
    U8,
    Bool,
}

impl Dtype {
    fn of(class: &str) -> Option<Self> {
        Some(match class {
            "FloatStorage" => Self::F32,
            "DoubleStorage" => Self::F64,
            "HalfStorage" => Self::F16,
            "BFloat16Storage" => Self::Bf16,
            "LongStorage" => Self::I64,
            "IntStorage" => Self::I32,
            "ShortStorage" => Self::I16,
            "CharStorage" => Self::I8,
            "ByteStorage" => Self::U8,
            "BoolStorage" => Self::Bool,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            Self::F64 | Self::I64 => 8,
            Self::F32 | Self::I32 => 4,
            Self::F16 | Self::Bf16 | Self::I16 => 2,
            Self::I8 | Self::U8 | Self::Bool => 1,
        }
    }

    fn read(self, b: &[u8]) -> f32 {
        match self {
            Self::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            Self::F64 => f64::from_le_bytes(b[..8].try_into().expect("8 bytes")) as f32,
            Self::F16 => super::safetensors::f16_to_f32(u16::from_le_bytes([b[0], b[1]])),
            Self::Bf16 => f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16),
            Self::I64 => i64::from_le_bytes(b[..8].try_into().expect("8 bytes")) as f32,
            Self::I32 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32,
            Self::I16 => f32::from(i16::from_le_bytes([b[0], b[1]])),
            Self::I8 => f32::from(b[0] as i8),
            Self::U8 | Self::Bool => f32::from(b[0]),
        }
    }
}

#[derive(Clone, Debug)]
struct TensorRef {
    dtype: Dtype,
    key: String,
    offset: usize,
    size: Vec<usize>,
    stride: Vec<usize>,
}

struct Machine<'a> {
    code: &'a [u8],
    at: usize,
    arena: Vec<Value>,
    stack: Vec<usize>,
    marks: Vec<usize>,
    memo: HashMap<u32, usize>,
}

fn perr(s: impl Into<String>) -> PthError {
    PthError::Pickle(s.into())
}

impl<'a> Machine<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], PthError> {
        let s = self.code.get(self.at..self.at.checked_add(n).ok_or_else(|| perr("length overflow"))?).ok_or_else(|| perr("cut short"))?;
        self.at += n;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, PthError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, PthError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn line(&mut self) -> Result<String, PthError> {
        let rest = &self.code[self.at..];
        let n = rest.iter().position(|b| *b == b'\n').ok_or_else(|| perr("unterminated line"))?;
        self.at += n + 1;
        Ok(String::from_utf8_lossy(&rest[..n]).to_string())
    }

    fn push(&mut self, v: Value) {
        self.arena.push(v);
        self.stack.push(self.arena.len() - 1);
    }

    fn pop(&mut self) -> Result<usize, PthError> {
        self.stack.pop().ok_or_else(|| perr("stack empty"))
    }

    fn pop_mark(&mut self) -> Result<Vec<usize>, PthError> {
        let m = self.marks.pop().ok_or_else(|| perr("no mark"))?;
        if m > self.stack.len() {
            return Err(perr("mark beyond the stack"));
        }
        Ok(self.stack.split_off(m))
    }

    fn top(&self) -> Result<usize, PthError> {
        self.stack.last().copied().ok_or_else(|| perr("stack empty"))
    }

    fn int(&self, i: usize) -> Option<i64> {
        match self.arena[i] {
            Value::Int(v) => Some(v),
            Value::Bool(b) => Some(i64::from(b)),
            _ => None,
        }
    }

    fn ints(&self, i: usize) -> Option<Vec<usize>> {
        match &self.arena[i] {
            Value::Tuple(items) | Value::List(items) => items.iter().map(|j| self.int(*j).and_then(|v| usize::try_from(v).ok())).collect(),
            _ => None,
        }
    }

    fn str(&self, i: usize) -> Option<&str> {
        match &self.arena[i] {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    fn set_items(&mut self, dict: usize, items: Vec<usize>) -> Result<(), PthError> {
        if items.len() % 2 != 0 {
            return Err(perr("odd number of dict items"));
        }
        let pairs: Vec<(usize, usize)> = items.chunks(2).map(|c| (c[0], c[1])).collect();
        match &mut self.arena[dict] {
            Value::Dict(d) => d.extend(pairs),
            // Items set on something else (a custom object's state): nothing to keep.
            _ => {}
        }
        Ok(())
    }

    /// What calling `callable` with `args` makes, for the callables state dicts use.
    fn reduce(&mut self, callable: usize, args: usize) -> Result<Value, PthError> {
        let Value::Global(module, name) = self.arena[callable].clone() else { return Ok(Value::Opaque) };
        let arg = |m: &Self, k: usize| -> Option<usize> {
            match &m.arena[args] {
                Value::Tuple(items) => items.get(k).copied(),
                _ => None,
            }
        };
        Ok(match (module.as_str(), name.as_str()) {
            ("collections", "OrderedDict") | ("builtins", "dict") => Value::Dict(Vec::new()),
            ("torch._utils", "_rebuild_tensor_v2" | "_rebuild_tensor") => {
                let bad = |what: &str| perr(format!("{name}: {what}"));
                let storage = arg(self, 0).ok_or_else(|| bad("no storage"))?;
                let Value::Storage { dtype, key } = self.arena[storage].clone() else { return Err(bad("its first argument is not a storage")) };
                let offset = arg(self, 1).and_then(|i| self.int(i)).and_then(|v| usize::try_from(v).ok()).ok_or_else(|| bad("storage offset"))?;
                let size = arg(self, 2).and_then(|i| self.ints(i)).ok_or_else(|| bad("size"))?;
                let stride = arg(self, 3).and_then(|i| self.ints(i)).ok_or_else(|| bad("stride"))?;
                if size.len() != stride.len() {
                    return Err(bad("size and stride differ in length"));
                }
                Value::Tensor(TensorRef { dtype, key, offset, size, stride })
            }
            // nn.Parameter around a tensor.
            ("torch._utils", "_rebuild_parameter" | "_rebuild_parameter_with_state") => match arg(self, 0).map(|i| self.arena[i].clone()) {
                Some(t @ Value::Tensor(_)) => t,
                _ => Value::Opaque,
            },
            _ => Value::Opaque,
        })
    }

    fn run(&mut self) -> Result<usize, PthError> {
        loop {
            let op = self.byte()?;
            match op {
                0x80 => {
                    self.byte()?;
                }
                0x95 => {
                    self.take(8)?;
                }
                b'.' => return self.pop(),
                b'(' => self.marks.push(self.stack.len()),
                b'}' => self.push(Value::Dict(Vec::new())),
                b']' => self.push(Value::List(Vec::new())),
                b')' => self.push(Value::Tuple(Vec::new())),
                b'N' => self.push(Value::None),
                0x88 => self.push(Value::Bool(true)),
                0x89 => self.push(Value::Bool(false)),
                b'K' => {
                    let v = self.byte()?;
                    self.push(Value::Int(i64::from(v)));
                }
                b'M' => {
                    let b = self.take(2)?;
                    self.push(Value::Int(i64::from(u16::from_le_bytes([b[0], b[1]]))));
                }
                b'J' => {
                    let v = self.u32()? as i32;
                    self.push(Value::Int(i64::from(v)));
                }
                0x8a => {
                    let n = usize::from(self.byte()?);
                    let b = self.take(n)?;
                    // Little-endian two's complement; wider than 64 bits is not an index or a size.
                    let v = if n == 0 {
                        0
                    } else if n <= 8 {
                        let mut buf = if b[n - 1] & 0x80 != 0 { [0xff; 8] } else { [0; 8] };
                        buf[..n].copy_from_slice(b);
                        i64::from_le_bytes(buf)
                    } else {
                        i64::MAX
                    };
                    self.push(Value::Int(v));
                }
                b'G' => {
                    // A float (an epoch's loss, a learning rate): not part of any tensor.
                    self.take(8)?;
                    self.push(Value::Float);
                }
                b'X' => {
                    let n = self.u32()? as usize;
                    let s = String::from_utf8_lossy(self.take(n)?).to_string();
                    self.push(Value::Str(s));
                }
                0x8c | b'U' => {
                    let n = usize::from(self.byte()?);
                    let s = String::from_utf8_lossy(self.take(n)?).to_string();
                    self.push(Value::Str(s));
                }
                b'T' | b'B' => {
                    let n = self.u32()? as usize;
                    self.take(n)?;
                    self.push(Value::Opaque);
                }
                b'C' => {
                    let n = usize::from(self.byte()?);
                    self.take(n)?;
                    self.push(Value::Opaque);
                }
                0x8e => {
                    let b = self.take(8)?;
                    let n = usize::try_from(u64::from_le_bytes(b.try_into().expect("8 bytes"))).map_err(|_| perr("length"))?;
                    self.take(n)?;
                    self.push(Value::Opaque);
                }
                b'c' => {
                    let (module, name) = (self.line()?, self.line()?);
                    self.push(Value::Global(module, name));
                }
                0x93 => {
                    let (n, m) = (self.pop()?, self.pop()?);
                    let g = Value::Global(self.str(m).unwrap_or("?").to_string(), self.str(n).unwrap_or("?").to_string());
                    self.push(g);
                }
                b'q' => {
                    let k = u32::from(self.byte()?);
                    let top = self.top()?;
                    self.memo.insert(k, top);
                }
                b'r' => {
                    let k = self.u32()?;
                    let top = self.top()?;
                    self.memo.insert(k, top);
                }
                0x94 => {
                    let k = self.memo.len() as u32;
                    let top = self.top()?;
                    self.memo.insert(k, top);
                }
                b'h' | b'j' => {
                    let k = if op == b'h' { u32::from(self.byte()?) } else { self.u32()? };
                    let v = *self.memo.get(&k).ok_or_else(|| perr(format!("memo {k} missing")))?;
                    self.stack.push(v);
                }
                b't' => {
                    let items = self.pop_mark()?;
                    self.push(Value::Tuple(items));
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    if self.stack.len() < n {
                        return Err(perr("stack empty"));
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.push(Value::Tuple(items));
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    self.push(Value::List(items));
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    self.push(Value::Dict(Vec::new()));
                    let d = self.top()?;
                    self.set_items(d, items)?;
                }
                b'a' => {
                    let v = self.pop()?;
                    let l = self.top()?;
                    if let Value::List(items) = &mut self.arena[l] {
                        items.push(v);
                    }
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    let l = self.top()?;
                    if let Value::List(list) = &mut self.arena[l] {
                        list.extend(items);
                    }
                }
                b's' => {
                    let (v, k) = (self.pop()?, self.pop()?);
                    let d = self.top()?;
                    self.set_items(d, vec![k, v])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let d = self.top()?;
                    self.set_items(d, items)?;
                }
                b'R' | 0x81 => {
                    let (args, callable) = (self.pop()?, self.pop()?);
                    let v = self.reduce(callable, args)?;
                    self.push(v);
                }
                b'b' => {
                    // BUILD: an object's state (an OrderedDict's _metadata, a numpy array's data).
                    self.pop()?;
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let v = match &self.arena[pid] {
                        Value::Tuple(items) if items.len() >= 3 && self.str(items[0]) == Some("storage") => {
                            let class = match &self.arena[items[1]] {
                                Value::Global(_, name) => name.clone(),
                                _ => String::new(),
                            };
                            let dtype = Dtype::of(&class).ok_or_else(|| perr(format!("storage of type '{class}' is not read")))?;
                            let key = self.str(items[2]).ok_or_else(|| perr("storage key"))?.to_string();
                            Value::Storage { dtype, key }
                        }
                        _ => Value::Opaque,
                    };
                    self.push(v);
                }
                b'0' => {
                    self.pop()?;
                }
                b'2' => {
                    let top = self.top()?;
                    self.stack.push(top);
                }
                other => return Err(perr(format!("opcode 0x{other:02x} at byte {} is not read", self.at - 1))),
            }
        }
    }
}

/// Whether `bytes` are a PyTorch checkpoint: a zip (torch.save since 1.6) or the older pickle
/// stream (protocol 2, a magic number first). Not safetensors, whose length prefix may begin
/// with any byte but is followed by its JSON header.
pub fn looks_like(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || (bytes.starts_with(&[0x80, 0x02, 0x8a]) && bytes.get(8) != Some(&b'{'))
}

/// The state dict in a `.pth` file's bytes, as float32 tensors under their keys: the saved
/// object itself when it is a dict of tensors, else its `model` or `state_dict` entry.
pub fn read(bytes: &[u8]) -> Result<SafeTensors, PthError> {
    if bytes.starts_with(&[0x80, 0x02, 0x8a]) {
        return Err(PthError::Legacy);
    }
    let files = entries(bytes)?;
    let (pkl_name, pkl) = files.iter().find(|(n, _)| n.ends_with("data.pkl")).ok_or(PthError::NoPickle)?;
    let prefix = &pkl_name[..pkl_name.len() - "data.pkl".len()];
    let mut m = Machine { code: pkl, at: 0, arena: Vec::new(), stack: Vec::new(), marks: Vec::new(), memo: HashMap::new() };
    let root = m.run()?;
    let tensors_of = |d: usize| -> Vec<(String, TensorRef)> {
        match &m.arena[d] {
            Value::Dict(items) => items
                .iter()
                .filter_map(|(k, v)| match (&m.arena[*k], &m.arena[*v]) {
                    (Value::Str(k), Value::Tensor(t)) => Some((k.clone(), t.clone())),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    };
    let mut found = tensors_of(root);
    if found.is_empty()
        && let Value::Dict(items) = &m.arena[root]
    {
        for wanted in ["model", "state_dict"] {
            if let Some((_, v)) = items.iter().find(|(k, _)| m.str(*k) == Some(wanted)) {
                found = tensors_of(*v);
                if !found.is_empty() {
                    break;
                }
            }
        }
    }
    if found.is_empty() {
        return Err(PthError::NoTensors);
    }
    let mut st = SafeTensors::default();
    for (name, t) in found {
        let bad = |detail: String| PthError::Tensor { name: name.clone(), detail };
        let storage = files.get(&format!("{prefix}data/{}", t.key)).ok_or_else(|| bad(format!("its storage 'data/{}' is not in the archive", t.key)))?;
        let held = storage.len() / t.dtype.size();
        let count = t.size.iter().try_fold(1usize, |a, d| a.checked_mul(*d)).ok_or_else(|| bad("size overflows".into()))?;
        // Stride-0 (expanded) views repeat elements; a hostile size would make petabytes of them.
        if count > held.max(1).saturating_mul(64) {
            return Err(bad(format!("{count} elements from a storage of {held}")));
        }
        // The farthest element the tensor reads must lie in its storage.
        if count > 0 {
            let last = t.size.iter().zip(&t.stride).try_fold(t.offset, |a, (d, s)| (d - 1).checked_mul(*s).and_then(|x| a.checked_add(x))).ok_or_else(|| bad("strides overflow".into()))?;
            if last >= held {
                return Err(bad(format!("reads element {last} of a storage of {held}")));
            }
        }
        let mut values = Vec::with_capacity(count);
        let mut index = vec![0usize; t.size.len()];
        for _ in 0..count {
            let at = t.offset + index.iter().zip(&t.stride).map(|(i, s)| i * s).sum::<usize>();
            let b = at * t.dtype.size();
            values.push(t.dtype.read(&storage[b..b + t.dtype.size()]));
            // Row-major order: the last index moves fastest.
            for d in (0..index.len()).rev() {
                index[d] += 1;
                if index[d] < t.size[d] {
                    break;
                }
                index[d] = 0;
            }
        }
        st.tensors.insert(name, StoredTensor { shape: t.size.clone(), values });
    }
    Ok(st)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An end record whose numbers point past the file, plain and ZIP64: errors, no arithmetic
    /// overflow.
    #[test]
    fn hostile_directory_offsets_are_errors() {
        let mut eocd = vec![0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 1, 0, 1, 0];
        eocd.extend(46u32.to_le_bytes());
        eocd.extend(u32::MAX.to_le_bytes());
        eocd.extend([0, 0]);
        let mut bytes = b"PK\x03\x04".to_vec();
        bytes.extend(&eocd);
        assert!(matches!(entries(&bytes), Err(PthError::Zip(_))));
        // ZIP64: a locator giving an offset near u64::MAX.
        let mut bytes = b"PK\x03\x04".to_vec();
        bytes.extend([0x50, 0x4b, 0x06, 0x07, 0, 0, 0, 0]);
        bytes.extend((u64::MAX - 3).to_le_bytes());
        bytes.extend([1, 0, 0, 0]);
        bytes.extend(&eocd);
        assert!(matches!(entries(&bytes), Err(PthError::Zip(_))));
        // A central entry whose local header offset is near the end of the address space.
        let mut cd = vec![0x50, 0x4b, 0x01, 0x02];
        cd.extend([0u8; 42]);
        cd[42..46].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut bytes = b"PK\x03\x04".to_vec();
        let start = bytes.len() as u32;
        bytes.extend(&cd);
        let mut end = vec![0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 1, 0, 1, 0];
        end.extend((cd.len() as u32).to_le_bytes());
        end.extend(start.to_le_bytes());
        end.extend([0, 0]);
        bytes.extend(&end);
        assert!(matches!(entries(&bytes), Err(PthError::Zip(_))), "{:?}", entries(&bytes).err());
    }
}
