//! The LZX decoder (WOF LZX32K files, the WIM variant). The first two bytes choose the output
//! size (1 to 32,768 bytes: one chunk); the rest is the compressed chunk.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie::fs::codec::lzx::decompress;

fuzz_target!(|data: &[u8]| {
    vigie_fuzz::setup();
    let Some((head, input)) = data.split_first_chunk::<2>() else {
        return;
    };
    let len = usize::from(u16::from_le_bytes(*head) & 0x7FFF) + 1;
    let mut out = vec![0u8; len];
    let _ = decompress(input, &mut out);
});
