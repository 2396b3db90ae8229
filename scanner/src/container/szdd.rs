//! SZDD files: what Microsoft's `COMPRESS.EXE` wrote for installers and drivers up to Windows
//! XP (`SETUP.EX_`, `DRIVER.SY_`, the `_` standing for the last letter of the name). One
//! member, the decompressed file, named back (`SETUP.EX_` -> `SETUP.EXE`). Written here from
//! the format's description (libmspack's `szddd.c` documents it): a 14-byte header, then LZSS
//! over a 4,096-byte window that starts filled with spaces, control bytes read LSB first.
//! Streamed: the decoder holds the window and one pending match, never the output.

use std::io::{self, Read};

use super::{ContainerError, MemberMeta, MemberVisitor, Members};
use crate::fs::Content;

/// The header's signature, then `A` (the one compression mode).
pub const MAGIC: &[u8; 8] = b"SZDD\x88\xf0\x27\x33";
const HEADER: usize = 14;
const WINDOW: usize = 4096;

/// An SZDD file held in memory.
pub struct Szdd<'a> {
    data: &'a [u8],
    name: String,
}

/// Checks the header; `outer` is the file's name, from which the member is named.
pub fn open<'a>(data: &'a [u8], outer: &str) -> Result<Szdd<'a>, ContainerError> {
    if data.len() < HEADER || &data[..8] != MAGIC || data[8] != b'A' {
        return Err(ContainerError::Corrupt("szdd: bad header".into()));
    }
    Ok(Szdd {
        data,
        name: member_name(outer, data[9]),
    })
}

/// `SETUP.EX_` with missing character `E` -> `SETUP.EXE` (in the name's case); else the name
/// without its trailing `_`, or `<data>`.
fn member_name(outer: &str, missing: u8) -> String {
    let base = outer.rsplit(['/', '\\']).next().unwrap_or(outer);
    let Some(stem) = base.strip_suffix('_').filter(|s| !s.is_empty()) else {
        return "<data>".into();
    };
    if !missing.is_ascii_graphic() {
        return stem.to_string();
    }
    let lower = stem.chars().any(|c| c.is_ascii_lowercase());
    let c = char::from(missing);
    format!("{stem}{}", if lower { c.to_ascii_lowercase() } else { c })
}

impl Members for Szdd<'_> {
    fn for_each(&mut self, visitor: &mut dyn MemberVisitor) -> Result<(), ContainerError> {
        let declared =
            u32::from_le_bytes([self.data[10], self.data[11], self.data[12], self.data[13]]);
        let meta = MemberMeta {
            name: self.name.clone(),
            size: Some(u64::from(declared)),
            packed: Some(self.data.len() as u64),
        };
        let mut r = Decoder::new(&self.data[HEADER..], u64::from(declared));
        let _ = visitor.member(&meta, Content::Data(&mut r));
        Ok(())
    }
}

/// The LZSS decoder, as a stream.
struct Decoder<'a> {
    src: &'a [u8],
    at: usize,
    window: Box<[u8; WINDOW]>,
    pos: usize,
    /// The control byte's remaining bits and how many are left.
    ctrl: u8,
    bits: u8,
    /// A match being copied: window offset and bytes left.
    copy: (usize, usize),
    /// Bytes the header says the output holds (the output stops there).
    left: u64,
}

impl<'a> Decoder<'a> {
    fn new(src: &'a [u8], declared: u64) -> Self {
        Self {
            src,
            at: 0,
            window: Box::new([b' '; WINDOW]),
            pos: WINDOW - 16,
            ctrl: 0,
            bits: 0,
            copy: (0, 0),
            left: declared,
        }
    }

    fn byte(&mut self) -> Option<u8> {
        let b = *self.src.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    fn put(&mut self, b: u8) {
        self.window[self.pos] = b;
        self.pos = (self.pos + 1) % WINDOW;
    }
}

impl Read for Decoder<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < out.len() && self.left > 0 {
            if self.copy.1 > 0 {
                let b = self.window[self.copy.0];
                self.copy = ((self.copy.0 + 1) % WINDOW, self.copy.1 - 1);
                self.put(b);
                out[n] = b;
                n += 1;
                self.left -= 1;
                continue;
            }
            if self.bits == 0 {
                let Some(c) = self.byte() else { break };
                self.ctrl = c;
                self.bits = 8;
            }
            let literal = self.ctrl & 1 == 1;
            self.ctrl >>= 1;
            self.bits -= 1;
            if literal {
                let Some(b) = self.byte() else { break };
                self.put(b);
                out[n] = b;
                n += 1;
                self.left -= 1;
            } else {
                let (Some(lo), Some(hi)) = (self.byte(), self.byte()) else {
                    break;
                };
                let offset = usize::from(lo) | (usize::from(hi & 0xf0) << 4);
                self.copy = (offset, usize::from(hi & 0x0f) + 3);
            }
        }
        if n == 0 && self.left > 0 && !out.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "szdd: compressed data end before the declared size",
            ));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ops::ControlFlow;

    /// An SZDD stream of `text` using literals only, then one back-reference.
    fn sample() -> Vec<u8> {
        let mut v = MAGIC.to_vec();
        v.push(b'A');
        v.push(b'E');
        v.extend_from_slice(&12u32.to_le_bytes());
        // Control: 6 literals (bits 1), then a match (bit 0).
        v.push(0b0011_1111);
        v.extend_from_slice(b"abcdef");
        // Copy 6 bytes from window offset 4080 (where output began): "abcdef".
        let off = WINDOW - 16;
        v.push((off & 0xff) as u8);
        v.push((((off >> 4) & 0xf0) as u8) | (6 - 3));
        v
    }

    fn read_all(data: &[u8], name: &str) -> (String, Result<Vec<u8>, String>) {
        let mut z = open(data, name).unwrap();
        let mut got = (String::new(), Err("not visited".to_string()));
        let mut visit = |m: &MemberMeta, c: Content<'_>| {
            if let Content::Data(r) = c {
                let mut v = Vec::new();
                got = (
                    m.name.clone(),
                    r.read_to_end(&mut v).map(|_| v).map_err(|e| e.to_string()),
                );
            }
            ControlFlow::Continue(())
        };
        z.for_each(&mut visit).unwrap();
        got
    }

    #[test]
    fn literals_and_matches_decode_and_the_name_comes_back() {
        let (name, data) = read_all(&sample(), "/win/SETUP.EX_");
        assert_eq!(name, "SETUP.EXE");
        assert_eq!(data.unwrap(), b"abcdefabcdef");
        assert_eq!(member_name("drv.sy_", b'S'), "drv.sys");
        assert_eq!(member_name("x.bin", b'E'), "<data>");
        assert_eq!(member_name("a_", 0), "a");
    }

    #[test]
    fn truncated_and_mutated_streams_end_without_panic() {
        let s = sample();
        for cut in HEADER..s.len() {
            let (_, r) = read_all(&s[..cut], "a.ex_");
            assert!(r.is_err(), "cut {cut}: {r:?}");
        }
        assert!(open(&s[..10], "a").is_err());
        let mut seed = 7u64;
        for _ in 0..2000 {
            let mut m = s.clone();
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            let at = HEADER + (seed >> 33) as usize % (m.len() - HEADER);
            m[at] = (seed >> 17) as u8;
            let _ = read_all(&m, "a.ex_");
        }
    }
}
