//! XPRESS Huffman ("LZ77+Huffman", MS-XCA section 2.2) decoder, bounded and hostile-safe.
//!
//! Windows' Overlay Filter (CompactOS) stores files as independent chunks of 4, 8 or 16 KiB
//! compressed with this format. Each block starts with 256 bytes holding the 4-bit code
//! lengths of 512 symbols (256 literals, 256 match headers), followed by a bit stream read in
//! 16-bit little-endian words, most significant bit first, with the extra match-length bytes
//! interleaved in the byte stream where the decoder stands when it needs them. A block covers
//! 65,536 output bytes; a new table follows for the next ones, read where the input stands
//! (WOF chunks are at most 16 KiB: one block each).
//!
//! The output is exactly `out.len()` bytes (the size the caller expects): decoding stops
//! there, every symbol writes at least one byte, so the work is bounded by the output size.
//! Any inconsistency (an incomplete or over-full code, a match before the start of the output,
//! a truncated table) is an error; reads past the end of the input yield zero bits, which can
//! only produce wrong-but-bounded output that the caller's size checks then catch.

/// Why a stream does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XpressError {
    /// The input ended inside a code-length table.
    #[error("truncated Huffman table")]
    TruncatedTable,
    /// The code lengths do not form a complete prefix code.
    #[error("invalid Huffman code lengths")]
    BadCode,
    /// A match points before the start of the output.
    #[error("match offset {offset} beyond the {written} bytes written")]
    BadOffset {
        /// Offset of the match.
        offset: usize,
        /// Bytes written so far.
        written: usize,
    },
    /// An extended match length below its minimum.
    #[error("invalid match length")]
    BadLength,
    /// The input ended long before the output was complete.
    #[error("input exhausted")]
    Exhausted,
}

const TABLE_BITS: u32 = 15;
const SYMBOLS: usize = 512;
const BLOCK_OUT: usize = 65_536;
/// Words read past the end of the input (as zeros) before the stream is declared exhausted.
const MAX_OVERRUN_WORDS: usize = 8;

/// Reads the input as the format's decoder does: 16-bit words and single bytes, in order.
struct Input<'a> {
    data: &'a [u8],
    pos: usize,
    overrun: usize,
}

impl Input<'_> {
    fn u16(&mut self) -> Result<u32, XpressError> {
        match self.data.get(self.pos..self.pos + 2) {
            Some(b) => {
                self.pos += 2;
                Ok(u32::from(u16::from_le_bytes([b[0], b[1]])))
            }
            None => {
                self.pos = self.data.len();
                self.overrun += 1;
                if self.overrun > MAX_OVERRUN_WORDS {
                    return Err(XpressError::Exhausted);
                }
                Ok(0)
            }
        }
    }

    fn byte(&mut self) -> Result<u32, XpressError> {
        match self.data.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(u32::from(b))
            }
            None => Err(XpressError::Exhausted),
        }
    }
}

/// Builds the 2^15-entry decoding table from 512 code lengths.
fn build_table(lengths: &[u8; SYMBOLS], table: &mut [u16]) -> Result<(), XpressError> {
    let mut next = 0usize;
    for len in 1..=TABLE_BITS as u8 {
        let span = 1usize << (TABLE_BITS - u32::from(len));
        for (sym, _) in lengths.iter().enumerate().filter(|(_, &l)| l == len) {
            let end = next + span;
            if end > table.len() {
                return Err(XpressError::BadCode);
            }
            table[next..end].fill(sym as u16);
            next = end;
        }
    }
    if next != table.len() {
        return Err(XpressError::BadCode);
    }
    Ok(())
}

/// Decompresses `input` into exactly `out.len()` bytes.
pub fn decompress(input: &[u8], out: &mut [u8]) -> Result<(), XpressError> {
    let mut table = vec![0u16; 1 << TABLE_BITS];
    let mut inp = Input {
        data: input,
        pos: 0,
        overrun: 0,
    };
    let mut written = 0usize;
    while written < out.len() {
        // The code-length table.
        let raw = input
            .get(inp.pos..inp.pos + SYMBOLS / 2)
            .ok_or(XpressError::TruncatedTable)?;
        let mut lengths = [0u8; SYMBOLS];
        for (i, b) in raw.iter().enumerate() {
            lengths[2 * i] = b & 0x0F;
            lengths[2 * i + 1] = b >> 4;
        }
        build_table(&lengths, &mut table)?;
        inp.pos += SYMBOLS / 2;
        let mut bits: u32 = inp.u16()? << 16;
        bits |= inp.u16()?;
        let mut extra: i32 = 16;
        let block_end = written.saturating_add(BLOCK_OUT).min(out.len());
        while written < block_end {
            let sym = usize::from(table[(bits >> (32 - TABLE_BITS)) as usize]);
            let len = u32::from(lengths[sym]);
            bits = bits.checked_shl(len).unwrap_or(0);
            extra -= len as i32;
            if extra < 0 {
                bits |= inp.u16()? << (-extra) as u32;
                extra += 16;
            }
            if sym < 256 {
                out[written] = sym as u8;
                written += 1;
                continue;
            }
            let sym = sym - 256;
            let mut length = sym & 0x0F;
            let offset_bits = (sym >> 4) as u32;
            if length == 15 {
                length = inp.byte()? as usize;
                if length == 255 {
                    let l = inp.u16()? as usize;
                    if l < 15 {
                        return Err(XpressError::BadLength);
                    }
                    length = l - 15;
                }
                length += 15;
            }
            length += 3;
            let offset = if offset_bits == 0 {
                1
            } else {
                ((bits >> (32 - offset_bits)) as usize) + (1usize << offset_bits)
            };
            bits = bits.checked_shl(offset_bits).unwrap_or(0);
            extra -= offset_bits as i32;
            if extra < 0 {
                bits |= inp.u16()? << (-extra) as u32;
                extra += 16;
            }
            if offset > written {
                return Err(XpressError::BadOffset { offset, written });
            }
            // Byte by byte: matches may overlap their own output. Capped at the output size.
            let end = written.saturating_add(length).min(out.len());
            for i in written..end {
                out[i] = out[i - offset];
            }
            written = end;
        }
    }
    Ok(())
}

/// A test-only XPRESS Huffman encoder: greedy matches (hash of 3 bytes), real Huffman code
/// lengths (a flat 9-bit code when they would exceed 15 bits). It writes valid MS-XCA streams,
/// including extended match lengths, so the decoder can be checked on round trips.
#[cfg(test)]
pub mod encoder {
    use std::collections::HashMap;

    enum Token {
        Literal(u8),
        Match { length: usize, offset: usize },
    }

    fn tokens(data: &[u8], matches: bool) -> Vec<Token> {
        let mut out = Vec::new();
        let mut last: HashMap<[u8; 3], usize> = HashMap::new();
        let mut i = 0;
        while i < data.len() {
            if matches && i + 3 <= data.len() {
                let key = [data[i], data[i + 1], data[i + 2]];
                if let Some(&j) = last.get(&key) {
                    let offset = i - j;
                    if (1..65_536).contains(&offset) {
                        let mut length = 0;
                        while i + length < data.len()
                            && data[j + length] == data[i + length]
                            && length < 65_535 + 3
                        {
                            length += 1;
                        }
                        if length >= 3 {
                            for k in i..i + length {
                                if k + 3 <= data.len() {
                                    last.insert([data[k], data[k + 1], data[k + 2]], k);
                                }
                            }
                            out.push(Token::Match { length, offset });
                            i += length;
                            continue;
                        }
                    }
                }
                last.insert(key, i);
            }
            out.push(Token::Literal(data[i]));
            i += 1;
        }
        out
    }

    fn symbol(t: &Token) -> usize {
        match t {
            Token::Literal(b) => usize::from(*b),
            Token::Match { length, offset } => {
                let nibble = (length - 3).min(15);
                let bits = (usize::BITS - 1 - offset.leading_zeros()) as usize;
                256 + bits * 16 + nibble
            }
        }
    }

    /// Huffman code lengths for `freq` (at most 15 bits, complete code).
    fn lengths(freq: &[u64; 512]) -> [u8; 512] {
        let mut used: Vec<(u64, usize)> = freq
            .iter()
            .enumerate()
            .filter(|(_, &f)| f > 0)
            .map(|(s, &f)| (f, s))
            .collect();
        let mut lens = [0u8; 512];
        if used.len() < 2 {
            // Pad with dummies so the code is complete (two symbols of length 1).
            for s in 0..512 {
                if used.len() >= 2 {
                    break;
                }
                if !used.iter().any(|u| u.1 == s) {
                    used.push((1, s));
                }
            }
        }
        // Plain Huffman: nodes (weight, children).
        type Node = (u64, Option<(usize, usize)>, usize);
        let mut nodes: Vec<Node> = used.iter().map(|&(f, s)| (f, None, s)).collect();
        let mut live: Vec<usize> = (0..nodes.len()).collect();
        while live.len() > 1 {
            live.sort_by_key(|&i| std::cmp::Reverse(nodes[i].0));
            let a = live.pop().unwrap();
            let b = live.pop().unwrap();
            nodes.push((nodes[a].0 + nodes[b].0, Some((a, b)), 0));
            live.push(nodes.len() - 1);
        }
        let mut stack = vec![(live[0], 0u8)];
        let mut too_deep = false;
        while let Some((n, depth)) = stack.pop() {
            match nodes[n].1 {
                Some((a, b)) => {
                    stack.push((a, depth + 1));
                    stack.push((b, depth + 1));
                }
                None => {
                    if depth > 15 {
                        too_deep = true;
                    }
                    lens[nodes[n].2] = depth.max(1);
                }
            }
        }
        if too_deep {
            return [9u8; 512];
        }
        lens
    }

    /// Canonical codes, in the order the decoder's table assigns them.
    fn codes(lens: &[u8; 512]) -> [u32; 512] {
        let mut codes = [0u32; 512];
        let mut next = 0u32;
        for len in 1..=15u8 {
            for s in 0..512 {
                if lens[s] == len {
                    codes[s] = next >> (15 - len);
                    next += 1 << (15 - len);
                }
            }
        }
        codes
    }

    /// The byte stream, with 16-bit word slots reserved when the decoder would read them.
    struct Writer {
        out: Vec<u8>,
        slots: Vec<usize>,
        bits: Vec<bool>,
    }

    impl Writer {
        fn put(&mut self, value: u32, count: u8) {
            for i in (0..count).rev() {
                self.bits.push(value >> i & 1 == 1);
            }
            // The decoder has read max(2, ceil((bits + 16) / 16)) words by now.
            let need = ((self.bits.len() + 16).div_ceil(16)).max(2);
            while self.slots.len() < need {
                self.slots.push(self.out.len());
                self.out.extend_from_slice(&[0, 0]);
            }
        }

        fn finish(mut self) -> Vec<u8> {
            for _ in 0..2 {
                self.slots.push(self.out.len());
                self.out.extend_from_slice(&[0, 0]);
            }
            for (k, &at) in self.slots.iter().enumerate() {
                let mut w = 0u16;
                for j in 0..16 {
                    if self.bits.get(16 * k + j) == Some(&true) {
                        w |= 1 << (15 - j);
                    }
                }
                self.out[at..at + 2].copy_from_slice(&w.to_le_bytes());
            }
            self.out
        }
    }

    /// Compresses `data` (one block: at most 65,536 bytes) into an MS-XCA stream.
    pub fn compress(data: &[u8], matches: bool) -> Vec<u8> {
        assert!(data.len() <= 65_536, "one block only");
        let toks = tokens(data, matches);
        let mut freq = [0u64; 512];
        for t in &toks {
            freq[symbol(t)] += 1;
        }
        let lens = lengths(&freq);
        let codes = codes(&lens);
        let mut w = Writer {
            out: Vec::new(),
            slots: Vec::new(),
            bits: Vec::new(),
        };
        for i in 0..256 {
            w.out.push(lens[2 * i] | (lens[2 * i + 1] << 4));
        }
        w.put(0, 0);
        for t in &toks {
            let s = symbol(t);
            w.put(codes[s], lens[s]);
            if let Token::Match { length, offset } = t {
                let l = length - 3;
                if l >= 15 {
                    if l - 15 < 255 {
                        w.out.push((l - 15) as u8);
                    } else {
                        w.out.push(255);
                        w.out.extend_from_slice(&(l as u16).to_le_bytes());
                    }
                }
                let bits = (usize::BITS - 1 - offset.leading_zeros()) as u8;
                w.put((offset - (1 << bits)) as u32, bits);
            }
        }
        w.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::encoder::compress;
    use super::*;

    fn sample(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed | 1;
        let words: [&[u8]; 6] = [
            b"vigie ",
            b"ntfs ",
            b"compactos ",
            b"xpress ",
            b"\x00\x00\x00\x00",
            b"huffman ",
        ];
        let mut out = Vec::new();
        while out.len() < len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x.is_multiple_of(5) {
                out.push((x >> 24) as u8);
            } else {
                out.extend_from_slice(words[(x >> 8) as usize % words.len()]);
            }
        }
        out.truncate(len);
        out
    }

    #[test]
    fn round_trips_literals_matches_and_long_matches() {
        let mut cases = vec![
            Vec::new(),
            b"a".to_vec(),
            vec![0u8; 16384],
            vec![7u8; 300],
            (0..=255u8).cycle().take(5000).collect(),
        ];
        for (i, len) in [100, 4096, 8192, 16384, 65536].into_iter().enumerate() {
            cases.push(sample(i as u64 + 1, len));
        }
        for data in &cases {
            for matches in [false, true] {
                let c = compress(data, matches);
                let mut out = vec![0u8; data.len()];
                decompress(&c, &mut out).unwrap_or_else(|e| panic!("{} bytes: {e}", data.len()));
                assert_eq!(&out, data, "{} bytes, matches {matches}", data.len());
                if matches && data.len() >= 4096 && data.iter().all(|&b| b == data[0]) {
                    assert!(c.len() < 300, "no compression: {}", c.len());
                }
            }
        }
    }

    #[test]
    fn broken_streams_are_errors_never_panics() {
        let mut out = [0u8; 64];
        assert_eq!(
            decompress(&[0; 10], &mut out),
            Err(XpressError::TruncatedTable)
        );
        // All lengths zero: no code at all.
        assert_eq!(decompress(&[0; 300], &mut out), Err(XpressError::BadCode));
        // Over-full: every symbol of length 1.
        assert_eq!(
            decompress(&[0x11; 300], &mut out),
            Err(XpressError::BadCode)
        );
        // A match first thing: nothing written yet.
        // All 512 symbols 9 bits long, then all ones: symbol 511, a match of offset >= 2^15.
        let mut t = [0xFFu8; 270];
        t.iter_mut().take(256).for_each(|b| *b = 0x99);
        assert!(matches!(
            decompress(&t, &mut out),
            Err(XpressError::BadOffset { .. })
        ));
    }

    #[test]
    fn mutated_streams_never_panic_or_overrun() {
        let data = sample(99, 16384);
        let c = compress(&data, true);
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut out = vec![0u8; data.len()];
        let mut ok = 0;
        for round in 0..3000 {
            let mut m = c.clone();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            match round % 3 {
                0 => {
                    let p = (x >> 8) as usize % m.len();
                    m[p] ^= 1 << (x % 8);
                }
                1 => m.truncate((x >> 8) as usize % m.len()),
                _ => {
                    for k in 0..8 {
                        let p = (x >> (k * 5)) as usize % m.len();
                        m[p] = (x >> (k * 3)) as u8;
                    }
                }
            }
            if decompress(&m, &mut out).is_ok() {
                ok += 1;
            }
        }
        assert!(ok < 3000);
    }
}
