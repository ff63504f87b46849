//! Ctrl-C for long commands: the first press sets a flag that `train` and `eval` check between
//! steps (they stop cleanly and keep what they have); a second press quits at once.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

static PRESSED: AtomicBool = AtomicBool::new(false);
static INSTALLED: OnceLock<bool> = OnceLock::new();

/// The flag, with the handler installed on first use. If the handler cannot be installed,
/// Ctrl-C keeps its default meaning (quit) and the flag simply never rises.
pub fn flag() -> &'static AtomicBool {
    INSTALLED.get_or_init(|| {
        // SAFETY: the action only touches an atomic and calls _exit, both async-signal-safe.
        unsafe {
            signal_hook_registry::register(libc::SIGINT, || {
                if PRESSED.swap(true, Ordering::SeqCst) {
                    libc::_exit(130);
                }
            })
        }
        .is_ok()
    });
    &PRESSED
}

pub fn pressed() -> bool {
    PRESSED.load(Ordering::SeqCst)
}
