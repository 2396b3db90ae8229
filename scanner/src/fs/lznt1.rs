//! LZNT1 decompression for NTFS compressed `$DATA`.
//!
//! The ntfs crate hands out the raw bytes of compressed files; scanning those would miss
//! everything, so the NTFS reader decompresses each compression unit itself with this module.
//! An LZNT1 stream is a sequence of chunks, each with a 16-bit header (bit 15: compressed,
//! low 12 bits: data length - 1) and decoding to at most 4 KiB; a zero header ends the stream.
//! Inside a compressed chunk, a flag byte announces eight tokens: literals or back-references
//! whose offset/length split depends on the position within the chunk.
//!
//! Every input is hostile: decoding is bounded by the caller's output buffer, never reads or
//! writes out of bounds and never panics; malformed input gives an [`Lznt1Error`].

/// Bytes a chunk decodes to (except possibly the last one).
pub const CHUNK_SIZE: usize = 4096;

/// Why a stream could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Lznt1Error {
    /// A chunk header announces more bytes than the input holds.
    #[error("LZNT1 chunk at input offset {0} runs past the end of the data")]
    Truncated(usize),
    /// A back-reference points before the start of its chunk.
    #[error("LZNT1 back-reference before the start of the chunk at output offset {0}")]
    BadBackReference(usize),
    /// A chunk decodes to more than 4 KiB.
    #[error("LZNT1 chunk at input offset {0} decodes to more than 4096 bytes")]
    ChunkOverflow(usize),
}

/// Decodes `input` into `out` and returns how many bytes were produced.
///
/// Decoding stops at a zero chunk header, at the end of `input`, or when `out` is full (the
/// rest of the input is then ignored, as Windows and ntfs-3g do for a compression unit). A
/// chunk that decodes to less than 4 KiB is followed by zeros up to the 4 KiB boundary when
/// more chunks follow, as in ntfs-3g. Bytes of `out` past the returned length are untouched.
pub fn decompress(input: &[u8], out: &mut [u8]) -> Result<usize, Lznt1Error> {
    let mut ip = 0usize;
    let mut op = 0usize;
    while op < out.len() {
        let Some(header) = read_u16(input, ip) else {
            break;
        };
        if header == 0 {
            break;
        }
        let chunk_start = ip;
        let data_len = usize::from(header & 0x0fff) + 1;
        ip += 2;
        let data_end = ip
            .checked_add(data_len)
            .filter(|&e| e <= input.len())
            .ok_or(Lznt1Error::Truncated(chunk_start))?;
        let data = &input[ip..data_end];
        ip = data_end;
        let chunk_out_end = op.saturating_add(CHUNK_SIZE).min(out.len());
        let dest = &mut out[op..chunk_out_end];
        let produced = if header & 0x8000 == 0 {
            let n = data.len().min(dest.len());
            dest[..n].copy_from_slice(&data[..n]);
            n
        } else {
            decompress_chunk(data, dest, op, chunk_start)?
        };
        // A short chunk followed by another one: the gap reads as zeros.
        let more = read_u16(input, ip).is_some_and(|h| h != 0);
        if more && produced < dest.len() {
            dest[produced..].fill(0);
            op = chunk_out_end;
        } else {
            op += produced;
        }
    }
    Ok(op)
}

fn read_u16(input: &[u8], at: usize) -> Option<u16> {
    let b = input.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

/// Decodes one compressed chunk into `dest` (at most 4 KiB, possibly less near the end of the
/// caller's buffer). `out_base` and `in_base` only serve error messages.
fn decompress_chunk(
    data: &[u8],
    dest: &mut [u8],
    out_base: usize,
    in_base: usize,
) -> Result<usize, Lznt1Error> {
    let mut ip = 0usize;
    let mut pos = 0usize;
    while ip < data.len() {
        let flags = data[ip];
        ip += 1;
        for bit in 0..8 {
            if ip >= data.len() {
                break;
            }
            if flags & (1 << bit) == 0 {
                if pos >= CHUNK_SIZE {
                    return Err(Lznt1Error::ChunkOverflow(in_base));
                }
                if pos < dest.len() {
                    dest[pos] = data[ip];
                }
                pos += 1;
                ip += 1;
            } else {
                let Some(token) = read_u16(data, ip) else {
                    return Err(Lznt1Error::Truncated(in_base));
                };
                ip += 2;
                if pos == 0 {
                    return Err(Lznt1Error::BadBackReference(out_base));
                }
                // The offset field widens as the position in the chunk grows.
                let mut offset_bits = 4u32;
                while offset_bits < 12 && (pos - 1) >> offset_bits != 0 {
                    offset_bits += 1;
                }
                let length_bits = 16 - offset_bits;
                let offset = usize::from(token >> length_bits) + 1;
                let length = usize::from(token & ((1u16 << length_bits) - 1)) + 3;
                if offset > pos {
                    return Err(Lznt1Error::BadBackReference(out_base + pos));
                }
                if pos + length > CHUNK_SIZE {
                    return Err(Lznt1Error::ChunkOverflow(in_base));
                }
                // Byte by byte: the source may overlap the destination (run-length copies).
                for _ in 0..length {
                    if pos < dest.len() {
                        dest[pos] = dest[pos - offset];
                    }
                    pos += 1;
                }
            }
        }
    }
    Ok(pos.min(dest.len()))
}

/// A simple LZNT1 compressor, for tests only: greedy matching within each 4 KiB chunk.
#[cfg(test)]
pub fn compress_for_tests(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in input.chunks(CHUNK_SIZE) {
        let mut body = Vec::new();
        let mut pos = 0usize;
        while pos < chunk.len() {
            let flag_at = body.len();
            body.push(0u8);
            for bit in 0..8 {
                if pos >= chunk.len() {
                    break;
                }
                let mut offset_bits = 4u32;
                while offset_bits < 12 && pos > 0 && (pos - 1) >> offset_bits != 0 {
                    offset_bits += 1;
                }
                let length_bits = 16 - offset_bits;
                let max_off = (1usize << offset_bits).min(pos);
                let max_len = ((1usize << length_bits) - 1 + 3).min(chunk.len() - pos);
                let (mut best_len, mut best_off) = (0usize, 0usize);
                for off in 1..=max_off {
                    let mut l = 0;
                    while l < max_len && chunk[pos + l - off] == chunk[pos + l] {
                        l += 1;
                    }
                    if l > best_len {
                        best_len = l;
                        best_off = off;
                    }
                }
                if best_len >= 3 {
                    let token = (((best_off - 1) << length_bits) | (best_len - 3)) as u16;
                    body.extend_from_slice(&token.to_le_bytes());
                    body[flag_at] |= 1 << bit;
                    pos += best_len;
                } else {
                    body.push(chunk[pos]);
                    pos += 1;
                }
            }
        }
        if body.len() < chunk.len() {
            let h = 0xB000u16 | (body.len() - 1) as u16;
            out.extend_from_slice(&h.to_le_bytes());
            out.extend_from_slice(&body);
        } else {
            let h = 0x3000u16 | (chunk.len() - 1) as u16;
            out.extend_from_slice(&h.to_le_bytes());
            out.extend_from_slice(chunk);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_hand_made_chunk() {
        // 'a' 'b' 'c' then a back-reference (offset 3, length 9).
        let input = [0x05, 0xB0, 0x08, b'a', b'b', b'c', 0x06, 0x20, 0, 0];
        let mut out = [0xEEu8; 64];
        let n = decompress(&input, &mut out).unwrap();
        assert_eq!(&out[..n], b"abcabcabcabc");
        assert_eq!(out[n], 0xEE, "bytes past the output are untouched");
    }

    #[test]
    fn uncompressed_chunk_is_copied() {
        let mut input = vec![0xFF, 0x3F];
        input.extend((0..4096u32).map(|i| (i % 256) as u8));
        let mut out = vec![0u8; 4096];
        assert_eq!(decompress(&input, &mut out).unwrap(), 4096);
        assert_eq!(out[300], 300u32 as u8);
    }

    #[test]
    fn round_trip_with_test_compressor() {
        let mut data = Vec::new();
        for i in 0..3000 {
            data.extend_from_slice(format!("line {i}: some fairly repetitive text\n").as_bytes());
        }
        // Incompressible tail: xorshift bytes.
        let mut x = 0x1234_5678_9abc_def0u64;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            data.push(x as u8);
        }
        let packed = compress_for_tests(&data);
        assert!(packed.len() < data.len());
        let mut out = vec![0u8; data.len()];
        assert_eq!(decompress(&packed, &mut out).unwrap(), data.len());
        assert_eq!(out, data);
    }

    #[test]
    fn short_chunk_followed_by_another_is_zero_padded() {
        let mut input = vec![0x05, 0xB0, 0x08, b'a', b'b', b'c', 0x06, 0x20];
        input.extend_from_slice(&[0x00, 0x30, b'Z']); // uncompressed chunk of one byte
        let mut out = vec![0xEEu8; 8192];
        let n = decompress(&input, &mut out).unwrap();
        assert_eq!(n, 4097);
        assert_eq!(&out[..12], b"abcabcabcabc");
        assert!(out[12..4096].iter().all(|&b| b == 0));
        assert_eq!(out[4096], b'Z');
    }

    #[test]
    fn errors_on_bad_input() {
        // Back-reference at position 0.
        assert_eq!(
            decompress(&[0x02, 0xB0, 0x01, 0x00, 0x00], &mut [0u8; 16]),
            Err(Lznt1Error::BadBackReference(0))
        );
        // Offset beyond the data produced so far.
        assert!(matches!(
            decompress(&[0x03, 0xB0, 0x02, b'a', 0x00, 0xF0], &mut [0u8; 16]),
            Err(Lznt1Error::BadBackReference(_))
        ));
        // Header announcing more than the input holds.
        assert_eq!(
            decompress(&[0xFF, 0xBF, 0x00], &mut [0u8; 16]),
            Err(Lznt1Error::Truncated(0))
        );
    }

    #[test]
    fn output_is_bounded_by_the_buffer() {
        let packed = compress_for_tests(&vec![b'x'; 20_000]);
        let mut out = vec![0u8; 5000];
        assert_eq!(decompress(&packed, &mut out).unwrap(), 5000);
        assert!(out.iter().all(|&b| b == b'x'));
    }

    /// The compression units ntfs-3g wrote for the feature image's compressed text files
    /// (`scripts/testimg/ntfs.sh`) decode to the text the script wrote.
    #[test]
    fn decodes_units_compressed_by_ntfs3g() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let img = root.join(".cache/images/ntfs-features.img");
        let st = std::process::Command::new("bash")
            .arg(root.join("scripts/testimg/ntfs.sh"))
            .arg(&img)
            .status()
            .expect("run scripts/testimg/ntfs.sh");
        assert!(st.success());
        let raw = std::fs::read(&img).expect("read image");
        let mut text = Vec::new();
        for i in 0..1000 {
            text.extend_from_slice(
                format!(
                    "line {i:06}: the quick brown fox jumps over the lazy dog, vigie ntfs test\n"
                )
                .as_bytes(),
            );
        }
        // A compressed unit starts with a chunk header (compressed flag set), a flag byte and
        // the first literals of the text; units are cluster-aligned (4 KiB).
        let mut full_units = 0;
        let mut out = vec![0u8; 65536];
        for at in (0..raw.len()).step_by(4096) {
            let unit = &raw[at..(at + 65536).min(raw.len())];
            if unit.len() < 8 || unit[1] & 0x80 == 0 || &unit[3..8] != b"line " {
                continue;
            }
            let n = decompress(unit, &mut out).expect("ntfs-3g unit decodes");
            let common = n.min(7400);
            assert_eq!(&out[..common], &text[..common], "unit at {at}");
            if n == 65536 && out[..] == text[..65536] {
                full_units += 1;
            }
        }
        // text.txt and mixed.bin start with a full unit of this text.
        assert!(full_units >= 2, "{full_units} full units found");
    }

    #[test]
    fn garbage_never_panics() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut out = vec![0u8; 65536];
        for round in 0..2000 {
            let len = (round * 37) % 9000;
            let mut input = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                input.push(x as u8);
            }
            // Make some headers look valid so the token decoder is exercised too.
            if input.len() > 2 {
                input[1] = 0xB0 | (input[1] & 0x0F);
            }
            if let Ok(n) = decompress(&input, &mut out) {
                assert!(n <= out.len());
            }
        }
    }
}
