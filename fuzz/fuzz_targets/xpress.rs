//! The XPRESS Huffman decoder (WOF-compressed NTFS files). The first three bytes choose the
//! output size (up to two 64 KiB blocks, so the table of a second block is read too); the
//! rest is the compressed stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie::fs::codec::xpress::decompress;

fuzz_target!(|data: &[u8]| {
    vigie_fuzz::setup();
    let Some((head, input)) = data.split_first_chunk::<3>() else {
        return;
    };
    let len =
        (usize::from(head[0]) | usize::from(head[1]) << 8 | usize::from(head[2] & 1) << 16) + 1;
    let mut out = vec![0u8; len];
    let _ = decompress(input, &mut out);
});
