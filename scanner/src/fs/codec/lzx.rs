//! LZX decoder for the variant WIM archives and the Windows Overlay Filter (CompactOS
//! `LZX32K`) use, bounded and hostile-safe.
//!
//! The format is LZ77 with three Huffman codes (MS-PATCH section 2, the 1997 CAB "LZX Data
//! Compression Format", and wimlib's notes on where WIM differs). The WOF/WIM variant:
//! - a 32 KiB window and chunks of at most 32 KiB, each decoded on its own (fresh state: code
//!   lengths all zero, repeat offsets 1, 1, 1); so 30 offset slots and 496 main symbols;
//! - no file header: E8 call translation is always on, with the fixed "file size" 12,000,000,
//!   and is undone on the whole chunk after decoding (never in its last 10 bytes);
//! - a block header is a 3-bit type (1 verbatim, 2 aligned offset, 3 uncompressed), then one
//!   bit saying "32,768 bytes" or a 16-bit block size.
//!
//! The bit stream is read in 16-bit little-endian words, most significant bit first. Code
//! lengths are sent as deltas (modulo 17) from the previous block's, through a 20-symbol
//! pre-code with run-length symbols; the main code's lengths come in two parts (literals,
//! then match headers), each with its own pre-code. An uncompressed block's header is
//! followed by padding to the next 16-bit word (a whole word when already aligned), three
//! 32-bit repeat offsets, the bytes, and a pad byte when their count is odd.
//!
//! Bounds: the output is exactly `out.len()` bytes (at most 32 KiB); every block writes at
//! least one byte and every symbol at least one, so the work is bounded by the output size.
//! A match before the start of the output or past its block, a block larger than what is
//! left, an over-full or incomplete code, a zero repeat offset in an uncompressed block: all
//! errors. Reads past the end of the input yield a few zero words (the decoder may look ahead
//! of the last symbol), then the stream is declared exhausted.

/// Why a chunk does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LzxError {
    /// The caller asked for more than one 32 KiB window.
    #[error("output of {0} bytes is larger than the 32 KiB window")]
    TooLarge(usize),
    /// Block type 0 or 4-7.
    #[error("unknown LZX block type {0}")]
    BlockType(u32),
    /// A block of zero bytes or larger than the output left.
    #[error("LZX block of {size} bytes with {left} bytes left")]
    BlockSize {
        /// Declared size.
        size: usize,
        /// Output bytes not yet written.
        left: usize,
    },
    /// Code lengths that do not form a complete prefix code.
    #[error("invalid Huffman code lengths")]
    BadCode,
    /// A symbol read from a code that has none.
    #[error("symbol from an empty Huffman code")]
    EmptyCode,
    /// A pre-code symbol out of place.
    #[error("invalid pre-code symbol")]
    BadPretree,
    /// A match before the start of the output.
    #[error("match offset {offset} beyond the {written} bytes written")]
    BadOffset {
        /// Offset of the match.
        offset: u32,
        /// Bytes written so far.
        written: usize,
    },
    /// A match running past the end of its block.
    #[error("match of {0} bytes past the end of its block")]
    BadLength(usize),
    /// An uncompressed block's repeat offset of zero.
    #[error("zero repeat offset")]
    ZeroOffset,
    /// The input ended long before the output was complete.
    #[error("input exhausted")]
    Exhausted,
}

/// Largest chunk (and window) of this variant.
pub const WINDOW: usize = 32 * 1024;
const MAIN_SYMBOLS: usize = 256 + 8 * OFFSET_SLOTS;
const OFFSET_SLOTS: usize = 30;
const LENGTH_SYMBOLS: usize = 249;
const PRETREE_SYMBOLS: usize = 20;
const ALIGNED_SYMBOLS: usize = 8;
const MAX_CODE_LEN: usize = 16;
const E8_FILE_SIZE: i32 = 12_000_000;
/// Zero words read past the end of the input before the stream is declared exhausted.
const MAX_OVERRUN_WORDS: usize = 8;

/// Extra bits of each offset slot.
const fn extra_bits(slot: usize) -> u32 {
    if slot < 4 {
        0
    } else {
        (slot as u32 / 2) - 1
    }
}

/// Match offset of each slot's first value (slots 0-2 are the repeat offsets: unused).
const fn slot_bases() -> [u32; OFFSET_SLOTS] {
    let mut bases = [0u32; OFFSET_SLOTS];
    let mut formatted = 0u32;
    let mut s = 0;
    while s < OFFSET_SLOTS {
        // The "formatted offset" counts the three repeat slots first.
        bases[s] = formatted.saturating_sub(2);
        formatted += 1 << extra_bits(s);
        s += 1;
    }
    bases
}
const SLOT_BASE: [u32; OFFSET_SLOTS] = slot_bases();

/// The bit stream, with the byte-level reads uncompressed blocks need.
struct Bits<'a> {
    data: &'a [u8],
    /// Next byte to load.
    pos: usize,
    buf: u64,
    /// Valid bits at the bottom of `buf`.
    count: u32,
    overrun: usize,
}

impl Bits<'_> {
    /// At least `n` (at most 32) bits in the buffer.
    fn ensure(&mut self, n: u32) -> Result<(), LzxError> {
        while self.count < n {
            let word = match self.data.get(self.pos..self.pos + 2) {
                Some(b) => {
                    self.pos += 2;
                    u64::from(u16::from_le_bytes([b[0], b[1]]))
                }
                None => {
                    self.pos = self.data.len();
                    self.overrun += 1;
                    if self.overrun > MAX_OVERRUN_WORDS {
                        return Err(LzxError::Exhausted);
                    }
                    0
                }
            };
            self.buf = (self.buf << 16) | word;
            self.count += 16;
        }
        Ok(())
    }

    /// The next `n` bits without consuming them (after `ensure(n)`).
    fn peek(&self, n: u32) -> u32 {
        if n == 0 {
            return 0;
        }
        ((self.buf >> (self.count - n)) & ((1u64 << n) - 1)) as u32
    }

    fn read(&mut self, n: u32) -> Result<u32, LzxError> {
        self.ensure(n)?;
        let v = self.peek(n);
        self.count -= n;
        Ok(v)
    }

    /// Skips to the next 16-bit word, a whole word when already aligned (the format's
    /// quirk, as wimlib reads it), for the byte-level reads of an uncompressed block.
    fn align(&mut self) -> Result<(), LzxError> {
        self.ensure(1)?;
        self.count = 0;
        self.buf = 0;
        if self.overrun > 0 {
            return Err(LzxError::Exhausted);
        }
        Ok(())
    }

    fn bytes(&mut self, n: usize) -> Result<&[u8], LzxError> {
        let end = self.pos.checked_add(n).ok_or(LzxError::Exhausted)?;
        let b = self.data.get(self.pos..end).ok_or(LzxError::Exhausted)?;
        self.pos = end;
        Ok(b)
    }
}

/// A canonical Huffman code, decoded one length at a time (codes of at most 16 bits).
struct Code<const N: usize> {
    /// Codes of each length.
    counts: [u16; MAX_CODE_LEN + 1],
    /// Symbols ordered by (length, value).
    symbols: [u16; N],
    used: usize,
}

impl<const N: usize> Code<N> {
    fn new() -> Self {
        Self {
            counts: [0; MAX_CODE_LEN + 1],
            symbols: [0; N],
            used: 0,
        }
    }

    /// A complete code from `lengths` (each at most 16), or an empty one when all are zero.
    fn build(&mut self, lengths: &[u8; N]) -> Result<(), LzxError> {
        self.counts = [0; MAX_CODE_LEN + 1];
        for &l in lengths {
            let l = usize::from(l);
            if l > MAX_CODE_LEN {
                return Err(LzxError::BadCode);
            }
            self.counts[l] += 1;
        }
        self.counts[0] = 0;
        // Kraft sum in units of 2^-16: exactly 2^16 for a complete code.
        let mut kraft = 0u32;
        for l in 1..=MAX_CODE_LEN {
            kraft += u32::from(self.counts[l]) << (MAX_CODE_LEN - l);
        }
        self.used = 0;
        if kraft == 0 {
            return Ok(());
        }
        if kraft != 1 << MAX_CODE_LEN {
            return Err(LzxError::BadCode);
        }
        for l in 1..=MAX_CODE_LEN as u8 {
            for (s, _) in lengths.iter().enumerate().filter(|(_, &x)| x == l) {
                self.symbols[self.used] = s as u16;
                self.used += 1;
            }
        }
        Ok(())
    }

    fn decode(&self, bits: &mut Bits<'_>) -> Result<usize, LzxError> {
        if self.used == 0 {
            return Err(LzxError::EmptyCode);
        }
        bits.ensure(MAX_CODE_LEN as u32)?;
        let window = bits.peek(MAX_CODE_LEN as u32);
        let (mut code, mut first, mut index) = (0u32, 0u32, 0usize);
        for len in 1..=MAX_CODE_LEN {
            code |= (window >> (MAX_CODE_LEN - len)) & 1;
            let count = u32::from(self.counts[len]);
            if code < first + count {
                bits.count -= len as u32;
                let at = index + (code - first) as usize;
                return self
                    .symbols
                    .get(at)
                    .map(|&s| usize::from(s))
                    .ok_or(LzxError::BadCode);
            }
            index += count as usize;
            first = (first + count) << 1;
            code <<= 1;
        }
        // A complete code always ends above; kept for safety.
        Err(LzxError::BadCode)
    }
}

/// Reads a pre-code, then `lengths.len()` code lengths as deltas from their previous values.
fn read_lengths(bits: &mut Bits<'_>, lengths: &mut [u8]) -> Result<(), LzxError> {
    let mut pre = [0u8; PRETREE_SYMBOLS];
    for l in pre.iter_mut() {
        *l = bits.read(4)? as u8;
    }
    let mut code = Code::<PRETREE_SYMBOLS>::new();
    code.build(&pre)?;
    let delta = |prev: u8, sym: usize| ((usize::from(prev) + 17 - sym) % 17) as u8;
    let mut i = 0;
    while i < lengths.len() {
        let sym = code.decode(bits)?;
        let (run, value) = match sym {
            0..=16 => (1, delta(lengths[i], sym)),
            17 => (4 + bits.read(4)? as usize, 0),
            18 => (20 + bits.read(5)? as usize, 0),
            _ => {
                let run = 4 + bits.read(1)? as usize;
                let sym = code.decode(bits)?;
                if sym > 17 {
                    return Err(LzxError::BadPretree);
                }
                (run, delta(lengths[i], sym))
            }
        };
        // A run past the end of the list is cut there.
        let end = (i + run).min(lengths.len());
        lengths[i..end].fill(value);
        i = end;
    }
    Ok(())
}

/// Decompresses one WOF/WIM LZX chunk into exactly `out.len()` bytes (at most 32 KiB).
pub fn decompress(input: &[u8], out: &mut [u8]) -> Result<(), LzxError> {
    if out.len() > WINDOW {
        return Err(LzxError::TooLarge(out.len()));
    }
    let mut bits = Bits {
        data: input,
        pos: 0,
        buf: 0,
        count: 0,
        overrun: 0,
    };
    let mut main_len = [0u8; MAIN_SYMBOLS];
    let mut length_len = [0u8; LENGTH_SYMBOLS];
    let mut main = Code::<MAIN_SYMBOLS>::new();
    let mut length = Code::<LENGTH_SYMBOLS>::new();
    let mut aligned = Code::<ALIGNED_SYMBOLS>::new();
    let mut recent = [1u32; 3];
    let mut written = 0usize;
    while written < out.len() {
        let kind = bits.read(3)?;
        if !(1..=3).contains(&kind) {
            return Err(LzxError::BlockType(kind));
        }
        let size = if bits.read(1)? == 1 {
            WINDOW
        } else {
            bits.read(16)? as usize
        };
        let left = out.len() - written;
        if size == 0 || size > left {
            return Err(LzxError::BlockSize { size, left });
        }
        let block_end = written + size;
        if kind == 3 {
            bits.align()?;
            for r in recent.iter_mut() {
                let b = bits.bytes(4)?;
                *r = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                if *r == 0 {
                    return Err(LzxError::ZeroOffset);
                }
            }
            out[written..block_end].copy_from_slice(bits.bytes(size)?);
            if size % 2 == 1 {
                bits.bytes(1)?;
            }
            written = block_end;
            continue;
        }
        let is_aligned = kind == 2;
        if is_aligned {
            let mut a = [0u8; ALIGNED_SYMBOLS];
            for l in a.iter_mut() {
                *l = bits.read(3)? as u8;
            }
            aligned.build(&a)?;
        }
        read_lengths(&mut bits, &mut main_len[..256])?;
        read_lengths(&mut bits, &mut main_len[256..])?;
        read_lengths(&mut bits, &mut length_len)?;
        main.build(&main_len)?;
        length.build(&length_len)?;
        while written < block_end {
            let sym = main.decode(&mut bits)?;
            if sym < 256 {
                out[written] = sym as u8;
                written += 1;
                continue;
            }
            let header = sym - 256;
            let slot = header >> 3;
            let mut len = header & 7;
            if len == 7 {
                len += length.decode(&mut bits)?;
            }
            len += 2;
            let offset = if slot < 3 {
                recent.swap(slot, 0);
                recent[0]
            } else {
                let extra = extra_bits(slot);
                let verbatim = if is_aligned && extra >= 3 {
                    let high = bits.read(extra - 3)? << 3;
                    high | aligned.decode(&mut bits)? as u32
                } else {
                    bits.read(extra)?
                };
                let o = SLOT_BASE[slot] + verbatim;
                recent = [o, recent[0], recent[1]];
                o
            };
            if offset as usize > written || offset == 0 {
                return Err(LzxError::BadOffset { offset, written });
            }
            if len > block_end - written {
                return Err(LzxError::BadLength(len));
            }
            let from = written - offset as usize;
            for i in 0..len {
                out[written + i] = out[from + i];
            }
            written += len;
        }
    }
    undo_e8(out);
    Ok(())
}

/// Undoes the E8 (x86 CALL) translation: the 32-bit operand after each E8 byte was made
/// absolute (position in the chunk) by the encoder.
fn undo_e8(out: &mut [u8]) {
    if out.len() <= 10 {
        return;
    }
    let end = out.len() - 10;
    let mut i = 0;
    while i < end {
        if out[i] != 0xE8 {
            i += 1;
            continue;
        }
        let at = i + 1;
        let abs = i32::from_le_bytes([out[at], out[at + 1], out[at + 2], out[at + 3]]);
        let pos = i as i32; // < 32 KiB
        let rel = if abs >= 0 {
            (abs < E8_FILE_SIZE).then(|| abs - pos)
        } else {
            (abs >= -pos).then(|| abs + E8_FILE_SIZE)
        };
        if let Some(rel) = rel {
            out[at..at + 4].copy_from_slice(&rel.to_le_bytes());
        }
        i += 5;
    }
}

/// A test-only LZX encoder: greedy matches (3-byte hash, no repeat offsets), one verbatim
/// block per chunk with fixed code lengths (main code 8/9 bits, length code 7/8 bits, the
/// pre-code 4/5 bits), or an uncompressed block; E8 translation done as the format wants.
/// It writes valid streams so the decoder can be checked on round trips of any content.
#[cfg(test)]
pub mod encoder {
    use super::*;
    use std::collections::HashMap;

    /// Bits, most significant first, packed into 16-bit little-endian words.
    #[derive(Default)]
    pub struct Writer {
        out: Vec<u8>,
        acc: u32,
        n: u32,
    }

    impl Writer {
        /// Appends the low `bits` bits of `v`.
        pub fn put(&mut self, v: u32, bits: u32) {
            for i in (0..bits).rev() {
                self.acc = (self.acc << 1) | ((v >> i) & 1);
                self.n += 1;
                if self.n == 16 {
                    self.out.extend_from_slice(&(self.acc as u16).to_le_bytes());
                    self.acc = 0;
                    self.n = 0;
                }
            }
        }

        /// Pads to the word boundary (a whole word when aligned, for uncompressed blocks).
        pub fn finish(mut self, whole_word: bool) -> Vec<u8> {
            if self.n > 0 || whole_word {
                let pad = 16 - self.n;
                self.put(0, pad);
            }
            self.out
        }
    }

    /// Canonical codes from lengths (the decoder's order).
    fn codes(lens: &[u8]) -> Vec<u32> {
        let mut codes = vec![0u32; lens.len()];
        let mut next = 0u32;
        for len in 1..=16u8 {
            for (s, &l) in lens.iter().enumerate() {
                if l == len {
                    codes[s] = next >> (16 - len);
                    next += 1 << (16 - len);
                }
            }
        }
        codes
    }

    /// `n` lengths of a complete code: the first `short` one bit shorter than the rest.
    fn flat(n: usize, short: usize, bits: u8) -> Vec<u8> {
        (0..n)
            .map(|i| if i < short { bits - 1 } else { bits })
            .collect()
    }

    /// The forward E8 translation (relative CALL targets made absolute).
    pub fn translate_e8(data: &mut [u8]) {
        if data.len() <= 10 {
            return;
        }
        let end = data.len() - 10;
        let mut i = 0;
        while i < end {
            if data[i] == 0xE8 {
                let pos = i as i32;
                let rel = i32::from_le_bytes(data[i + 1..i + 5].try_into().unwrap());
                if rel >= -pos && rel < E8_FILE_SIZE {
                    let abs = if rel < E8_FILE_SIZE - pos {
                        rel + pos
                    } else {
                        rel - E8_FILE_SIZE
                    };
                    data[i + 1..i + 5].copy_from_slice(&abs.to_le_bytes());
                }
                i += 5;
            } else {
                i += 1;
            }
        }
    }

    fn lengths_through_pretree(w: &mut Writer, lens: &[u8]) {
        // Pre-code: symbols 0-11 of 4 bits, 12-19 of 5 bits; deltas from all-zero lengths.
        let pre = flat(PRETREE_SYMBOLS, 12, 5);
        let pc = codes(&pre);
        for &l in &pre {
            w.put(u32::from(l), 4);
        }
        for &l in lens {
            let sym = (17 - usize::from(l)) % 17;
            w.put(pc[sym], u32::from(pre[sym]));
        }
    }

    /// Compresses one chunk (at most 32 KiB); `stored` writes an uncompressed block.
    pub fn compress(chunk: &[u8], stored: bool) -> Vec<u8> {
        assert!(chunk.len() <= WINDOW && !chunk.is_empty());
        let mut data = chunk.to_vec();
        translate_e8(&mut data);
        let mut w = Writer::default();
        if stored {
            w.put(3, 3);
            if data.len() == WINDOW {
                w.put(1, 1);
            } else {
                w.put(0, 1);
                w.put(data.len() as u32, 16);
            }
            let mut out = w.finish(true);
            for _ in 0..3 {
                out.extend_from_slice(&1u32.to_le_bytes());
            }
            out.extend_from_slice(&data);
            if data.len() % 2 == 1 {
                out.push(0);
            }
            return out;
        }
        w.put(1, 3);
        if data.len() == WINDOW {
            w.put(1, 1);
        } else {
            w.put(0, 1);
            w.put(data.len() as u32, 16);
        }
        let main_lens = flat(MAIN_SYMBOLS, 16, 9);
        let len_lens = flat(LENGTH_SYMBOLS, 7, 8);
        lengths_through_pretree(&mut w, &main_lens[..256]);
        lengths_through_pretree(&mut w, &main_lens[256..]);
        lengths_through_pretree(&mut w, &len_lens);
        let mc = codes(&main_lens);
        let lc = codes(&len_lens);
        let mut last: HashMap<[u8; 3], usize> = HashMap::new();
        let mut i = 0;
        while i < data.len() {
            if i + 3 <= data.len() {
                let key = [data[i], data[i + 1], data[i + 2]];
                let prev = last.insert(key, i);
                if let Some(j) = prev.filter(|&j| i - j <= 32_765) {
                    let mut len = 0;
                    while i + len < data.len() && data[j + len] == data[i + len] && len < 257 {
                        len += 1;
                    }
                    let offset = (i - j) as u32;
                    // Explicit offset: the slot whose range holds it (slots 3 and up).
                    let slot = (3..OFFSET_SLOTS)
                        .rev()
                        .find(|&s| SLOT_BASE[s] <= offset)
                        .unwrap();
                    let header = (len - 2).min(7);
                    let sym = 256 + slot * 8 + header;
                    w.put(mc[sym], u32::from(main_lens[sym]));
                    if header == 7 {
                        let l = len - 9;
                        w.put(lc[l], u32::from(len_lens[l]));
                    }
                    w.put(offset - SLOT_BASE[slot], extra_bits(slot));
                    for k in i + 1..i + len {
                        if k + 3 <= data.len() {
                            last.insert([data[k], data[k + 1], data[k + 2]], k);
                        }
                    }
                    i += len;
                    continue;
                }
            }
            let sym = usize::from(data[i]);
            w.put(mc[sym], u32::from(main_lens[sym]));
            i += 1;
        }
        w.finish(false)
    }
}

#[cfg(test)]
mod tests {
    use super::encoder::{compress, translate_e8, Writer};
    use super::*;

    fn sample(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed | 1;
        let words: [&[u8]; 6] = [
            b"vigie ",
            b"\xE8\x10\x00\x00\x00",
            b"compactos ",
            b"lzx ",
            b"\x00\x00\x00\x00",
            b"\xE8\xF0\xFF\xFF\xFF",
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
    fn slot_bases_follow_the_format() {
        assert_eq!(&SLOT_BASE[3..8], &[1, 2, 4, 6, 10]);
        assert_eq!(SLOT_BASE[29], 24_574);
        assert_eq!(extra_bits(29), 13);
        // The last slot reaches the largest offset a 32 KiB window allows.
        assert_eq!(SLOT_BASE[29] + (1 << 13) - 1, 32_765);
    }

    #[test]
    fn e8_translation_round_trips_and_spares_the_tail() {
        let mut data = sample(3, 4000);
        data.extend_from_slice(b"\xE8\x01\x00\x00\x00\xE8\x02\x00\x00\x00");
        let orig = data.clone();
        translate_e8(&mut data);
        assert_ne!(data, orig);
        assert_eq!(data[data.len() - 10..], orig[orig.len() - 10..]);
        undo_e8(&mut data);
        assert_eq!(data, orig);
    }

    #[test]
    fn round_trips_verbatim_and_uncompressed_blocks() {
        let mut cases = vec![
            b"a".to_vec(),
            b"abcabcabcabcabcabc".to_vec(),
            vec![0u8; WINDOW],
            vec![0xE8u8; 1000],
            (0..=255u8).cycle().take(5001).collect(),
        ];
        for (i, len) in [11, 100, 4096, 20_000, WINDOW].into_iter().enumerate() {
            cases.push(sample(i as u64 + 1, len));
        }
        for data in &cases {
            for stored in [false, true] {
                let c = compress(data, stored);
                let mut out = vec![0u8; data.len()];
                decompress(&c, &mut out)
                    .unwrap_or_else(|e| panic!("{} bytes, stored {stored}: {e}", data.len()));
                assert_eq!(&out, data, "{} bytes, stored {stored}", data.len());
            }
        }
        // Matches do compress.
        assert!(compress(&vec![7u8; WINDOW], false).len() < 2000);
    }

    #[test]
    fn broken_streams_are_errors_never_panics() {
        let mut out = [0u8; 64];
        assert_eq!(
            decompress(&[], &mut [0u8; WINDOW + 1]),
            Err(LzxError::TooLarge(WINDOW + 1))
        );
        // Block type 0 (first 3 bits), then 5 (0b101).
        assert_eq!(decompress(&[0, 0], &mut out), Err(LzxError::BlockType(0)));
        assert_eq!(
            decompress(&[0x00, 0xB0], &mut out),
            Err(LzxError::BlockType(5))
        );
        // A 32 KiB block when 64 bytes are expected.
        assert!(matches!(
            decompress(&[0x00, 0x30], &mut out),
            Err(LzxError::BlockSize { .. })
        ));
        // Nothing but the header: exhausted.
        let c = compress(&[5u8; 64], true);
        assert_eq!(decompress(&c[..8], &mut out), Err(LzxError::Exhausted));
        // A zero repeat offset in an uncompressed block.
        let mut z = c.clone();
        z[4..8].fill(0);
        assert_eq!(decompress(&z, &mut out), Err(LzxError::ZeroOffset));
        // Verbatim block of one byte whose first pre-code is over-full (all lengths 1).
        let mut w = Writer::default();
        w.put(1, 3);
        w.put(0, 1);
        w.put(1, 16);
        for _ in 0..20 {
            w.put(1, 4);
        }
        assert_eq!(
            decompress(&w.finish(false), &mut out[..1]),
            Err(LzxError::BadCode)
        );
        // A block size that disagrees with the output size.
        let c = compress(&[9u8; 46], false);
        assert!(decompress(&c, &mut [0u8; 46]).is_ok());
        assert!(decompress(&c, &mut [0u8; 2]).is_err());
    }

    #[test]
    fn mutated_chunks_never_panic_or_overrun() {
        let start = std::time::Instant::now();
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut ok = 0;
        let mut rounds = 0;
        for (seed, stored) in [(9, false), (10, true), (11, false)] {
            let data = sample(seed, WINDOW - seed as usize * 100);
            let c = compress(&data, stored);
            let mut out = vec![0u8; data.len()];
            for round in 0..2000 {
                rounds += 1;
                let mut m = c.clone();
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                match round % 4 {
                    0 => {
                        let p = (x >> 8) as usize % m.len();
                        m[p] ^= 1 << (x % 8);
                    }
                    1 => m.truncate((x >> 8) as usize % m.len()),
                    2 => {
                        // The header and code lengths: the first 400 bytes.
                        for k in 0..4 {
                            let p = (x >> (k * 9)) as usize % m.len().min(400);
                            m[p] = (x >> (k * 7)) as u8;
                        }
                    }
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
        }
        eprintln!(
            "lzx: {rounds} mutated chunks, {ok} decoded, {:?}",
            start.elapsed()
        );
        assert!(ok < rounds);
        assert!(start.elapsed() < std::time::Duration::from_secs(60));
    }
}
