#![no_main]

#[global_allocator]
static ALLOC: mcgurk_fuzz::Capped = mcgurk_fuzz::Capped;

libfuzzer_sys::fuzz_target!(|data: &[u8]| mcgurk::fuzz::probe(data));
