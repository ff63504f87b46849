//! Plays mono audio through ALSA's `libasound.so.2`, loaded at run time so building needs no
//! `-dev` package (as with Vulkan and X11). A machine without ALSA or without an output device
//! gets an error naming what is missing, never a crash. Playback runs on a named thread; `stop`
//! ends it between chunks.

use std::ffi::{CStr, CString, c_char, c_int, c_long, c_uint, c_ulong, c_void};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, thiserror::Error)]
pub enum PlaybackError {
    #[error("no audio output: ALSA's libasound.so.2 is not installed ({0})")]
    NoAlsa(String),
    #[error("no audio output device '{device}': {detail}")]
    Device { device: String, detail: String },
    #[error("audio output failed: {0}")]
    Write(String),
}

type Open = unsafe extern "C" fn(*mut *mut c_void, *const c_char, c_int, c_int) -> c_int;
type SetParams = unsafe extern "C" fn(*mut c_void, c_int, c_int, c_uint, c_uint, c_int, c_uint) -> c_int;
type WriteI = unsafe extern "C" fn(*mut c_void, *const c_void, c_ulong) -> c_long;
type Recover = unsafe extern "C" fn(*mut c_void, c_int, c_int) -> c_int;
type Simple = unsafe extern "C" fn(*mut c_void) -> c_int;
type StrError = unsafe extern "C" fn(c_int) -> *const c_char;

const STREAM_PLAYBACK: c_int = 0;
const FORMAT_FLOAT_LE: c_int = 14;
const ACCESS_RW_INTERLEAVED: c_int = 3;

/// A running playback; dropping it does not stop it (call `stop`).
pub struct Playback {
    stop: Arc<AtomicBool>,
}

impl Playback {
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

struct Alsa {
    _lib: libloading::Library,
    open: Open,
    set_params: SetParams,
    writei: WriteI,
    recover: Recover,
    drain: Simple,
    drop_: Simple,
    close: Simple,
    strerror: StrError,
}

impl Alsa {
    fn load() -> Result<Self, PlaybackError> {
        // SAFETY: loading the system's ALSA library runs its initialisers, which have no
        // preconditions; the symbols are looked up with their documented C signatures.
        unsafe {
            let lib = libloading::Library::new("libasound.so.2").map_err(|e| PlaybackError::NoAlsa(e.to_string()))?;
            let sym = |name: &[u8]| -> Result<*const c_void, PlaybackError> {
                lib.get::<*const c_void>(name).map(|s| *s).map_err(|e| PlaybackError::NoAlsa(e.to_string()))
            };
            Ok(Self {
                open: std::mem::transmute::<*const c_void, Open>(sym(b"snd_pcm_open\0")?),
                set_params: std::mem::transmute::<*const c_void, SetParams>(sym(b"snd_pcm_set_params\0")?),
                writei: std::mem::transmute::<*const c_void, WriteI>(sym(b"snd_pcm_writei\0")?),
                recover: std::mem::transmute::<*const c_void, Recover>(sym(b"snd_pcm_recover\0")?),
                drain: std::mem::transmute::<*const c_void, Simple>(sym(b"snd_pcm_drain\0")?),
                drop_: std::mem::transmute::<*const c_void, Simple>(sym(b"snd_pcm_drop\0")?),
                close: std::mem::transmute::<*const c_void, Simple>(sym(b"snd_pcm_close\0")?),
                strerror: std::mem::transmute::<*const c_void, StrError>(sym(b"snd_strerror\0")?),
                _lib: lib,
            })
        }
    }

    fn error(&self, code: c_int) -> String {
        // SAFETY: snd_strerror returns a static NUL-terminated string for any code.
        unsafe {
            let p = (self.strerror)(code);
            if p.is_null() { format!("error {code}") } else { CStr::from_ptr(p).to_string_lossy().into_owned() }
        }
    }
}

/// A PCM handle that is closed on drop.
struct Pcm<'a> {
    alsa: &'a Alsa,
    handle: *mut c_void,
}

impl Drop for Pcm<'_> {
    fn drop(&mut self) {
        // SAFETY: `handle` came from a successful snd_pcm_open and is closed once, here.
        unsafe { (self.alsa.close)(self.handle) };
    }
}

/// Starts playing `samples` (mono, in [-1, 1]) at `rate` Hz on ALSA device `device` ("default"
/// for the user's output). Opening the device happens before this returns, so a missing device
/// is reported at once; `on_end` gets the outcome of the rest on the playback thread.
pub fn play(samples: Vec<f32>, rate: u32, device: &str, on_end: impl FnOnce(Result<(), PlaybackError>) + Send + 'static) -> Result<Playback, PlaybackError> {
    let alsa = Alsa::load()?;
    let name = CString::new(device).map_err(|_| PlaybackError::Device { device: device.into(), detail: "a NUL in the name".into() })?;
    let mut handle: *mut c_void = std::ptr::null_mut();
    // SAFETY: `handle` is a valid out-pointer and `name` a NUL-terminated string.
    let rc = unsafe { (alsa.open)(&mut handle, name.as_ptr(), STREAM_PLAYBACK, 0) };
    if rc < 0 {
        return Err(PlaybackError::Device { device: device.into(), detail: alsa.error(rc) });
    }
    // SAFETY: the handle is open; a 100 ms latency with ALSA's resampler (our 11025 Hz is
    // rarely native).
    let rc = unsafe { (alsa.set_params)(handle, FORMAT_FLOAT_LE, ACCESS_RW_INTERLEAVED, 1, rate, 1, 100_000) };
    if rc < 0 {
        let detail = alsa.error(rc);
        // SAFETY: closing the handle opened above.
        unsafe { (alsa.close)(handle) };
        return Err(PlaybackError::Device { device: device.into(), detail });
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    // Raw pointers are not Send: move the address and rebuild it on the thread.
    let addr = handle as usize;
    std::thread::Builder::new()
        .name("mcgurk-playback".into())
        .spawn(move || {
            let pcm = Pcm { alsa: &alsa, handle: addr as *mut c_void };
            on_end(write_all(&pcm, &samples, &flag));
        })
        .map_err(|e| PlaybackError::Write(e.to_string()))?;
    Ok(Playback { stop })
}

fn write_all(pcm: &Pcm, samples: &[f32], stop: &AtomicBool) -> Result<(), PlaybackError> {
    let a = pcm.alsa;
    for chunk in samples.chunks(1024) {
        if stop.load(Ordering::Relaxed) {
            // SAFETY: the handle is open (closed by Pcm's drop after this returns).
            unsafe { (a.drop_)(pcm.handle) };
            return Ok(());
        }
        let mut rest = chunk;
        while !rest.is_empty() {
            // SAFETY: `rest` holds rest.len() mono f32 frames, as configured.
            let n = unsafe { (a.writei)(pcm.handle, rest.as_ptr().cast(), rest.len() as c_ulong) };
            if n < 0 {
                // Underruns and suspends are recoverable; anything else ends playback.
                // SAFETY: as above.
                let rc = unsafe { (a.recover)(pcm.handle, n as c_int, 1) };
                if rc < 0 {
                    return Err(PlaybackError::Write(a.error(rc)));
                }
                continue;
            }
            rest = &rest[(n as usize).min(rest.len())..];
        }
    }
    // SAFETY: as above; waits until the queued frames have played.
    unsafe { (a.drain)(pcm.handle) };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_device_is_an_error_not_a_crash() {
        let r = play(vec![0.0; 100], 11_025, "mcgurk_no_such_device", |_| {});
        let err = r.err().expect("no such ALSA device").to_string();
        assert!(err.contains("no audio output"), "{err}");
    }
}
