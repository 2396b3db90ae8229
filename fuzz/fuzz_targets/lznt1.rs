//! The LZNT1 decoder (NTFS compressed data). The first two bytes choose the output size (up to
//! one 64 KiB compression unit); the rest is the compressed stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie::fs::lznt1::decompress;

fuzz_target!(|data: &[u8]| {
    vigie_fuzz::setup();
    let Some((head, input)) = data.split_first_chunk::<2>() else {
        return;
    };
    let len = usize::from(u16::from_le_bytes(*head)) + 1;
    let mut out = vec![0u8; len];
    if let Ok(n) = decompress(input, &mut out) {
        assert!(n <= len, "decoded {n} bytes into {len}");
    }
});
