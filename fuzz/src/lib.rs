//! What every fuzz target shares: an allocator that treats one allocation above the memory
//! limit as a finding (libFuzzer's own `-malloc_limit_mb` needs a sanitizer runtime, which
//! stable Rust does not link), so a size taken from a hostile header aborts loudly at once
//! instead of paging the machine.

use std::alloc::{GlobalAlloc, Layout, System};

/// The largest single allocation allowed: far above what any seed needs (a 20-minute audio
/// cap is about 230 MB of samples) and below the 2 GiB RSS limit `run.sh` gives libFuzzer.
pub const MAX_ALLOCATION: usize = 1 << 30;

pub struct Capped;

fn too_big(size: usize) -> ! {
    eprintln!("==fuzz== allocation of {size} bytes exceeds the {MAX_ALLOCATION}-byte limit");
    std::process::abort()
}

unsafe impl GlobalAlloc for Capped {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > MAX_ALLOCATION {
            too_big(layout.size());
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > MAX_ALLOCATION {
            too_big(layout.size());
        }
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > MAX_ALLOCATION {
            too_big(new_size);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
