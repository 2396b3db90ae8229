//! cpio archives, all four header kinds: old binary (little- and big-endian), odc (`070707`,
//! octal ASCII), newc (`070701`) and crc (`070702`, hex ASCII). Written here (the format is
//! a few lines; no maintained crate reads all four): every field is bounds-checked against the
//! content, names and data are slices of it, nothing is allocated by a size read from it.

use std::ops::ControlFlow;

use super::{member_name, ContainerError, MemberMeta, MemberVisitor, Members};
use crate::fs::Content;

/// Regular-file type in `c_mode`.
const S_IFMT: u32 = 0o170000;
const S_IFREG: u32 = 0o100000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    BinLe,
    BinBe,
    Odc,
    Newc,
}

fn variant(h: &[u8]) -> Option<Variant> {
    if h.starts_with(b"070701") || h.starts_with(b"070702") {
        Some(Variant::Newc)
    } else if h.starts_with(b"070707") {
        Some(Variant::Odc)
    } else if h.starts_with(&[0xc7, 0x71]) {
        Some(Variant::BinLe)
    } else if h.starts_with(&[0x71, 0xc7]) {
        Some(Variant::BinBe)
    } else {
        None
    }
}

/// Whether the content starts with a plausible cpio header (the binary magic is two bytes:
/// the first header must also parse, with a NUL-terminated name).
pub fn looks_like(data: &[u8]) -> bool {
    // The magic first: every file is offered here, and a failed parse formats an error.
    variant(data).is_some() && matches!(header(data, 0), Ok(Some(_)))
}

struct Header {
    name: String,
    mode: u32,
    data_start: usize,
    size: usize,
    next: usize,
}

fn num(field: &[u8], radix: u32) -> Result<u64, ContainerError> {
    let s = std::str::from_utf8(field).map_err(|_| corrupt("non-ASCII header field"))?;
    u64::from_str_radix(s, radix).map_err(|_| corrupt("bad header number"))
}

fn corrupt(what: &str) -> ContainerError {
    ContainerError::Corrupt(format!("cpio: {what}"))
}

fn align(n: usize, a: usize) -> Option<usize> {
    n.checked_add(a - 1).map(|v| v / a * a)
}

/// Parses the header at `at`; `Ok(None)` at the trailer.
fn header(data: &[u8], at: usize) -> Result<Option<Header>, ContainerError> {
    let h = data.get(at..).ok_or_else(|| corrupt("truncated"))?;
    let v = variant(h).ok_or_else(|| corrupt("bad magic"))?;
    let (hlen, mode, namesize, size, pad) = match v {
        Variant::Newc => {
            let f = h.get(..110).ok_or_else(|| corrupt("truncated header"))?;
            let field = |i: usize| num(&f[6 + 8 * i..14 + 8 * i], 16);
            (110, field(1)?, field(11)?, field(6)?, 4)
        }
        Variant::Odc => {
            let f = h.get(..76).ok_or_else(|| corrupt("truncated header"))?;
            (
                76,
                num(&f[18..24], 8)?,
                num(&f[59..65], 8)?,
                num(&f[65..76], 8)?,
                1,
            )
        }
        Variant::BinLe | Variant::BinBe => {
            let f = h.get(..26).ok_or_else(|| corrupt("truncated header"))?;
            let w = |i: usize| {
                let b = [f[2 * i], f[2 * i + 1]];
                u64::from(if v == Variant::BinLe {
                    u16::from_le_bytes(b)
                } else {
                    u16::from_be_bytes(b)
                })
            };
            (26, w(3), w(10), (w(11) << 16) | w(12), 2)
        }
    };
    let namesize = usize::try_from(namesize).map_err(|_| corrupt("name size"))?;
    let size = usize::try_from(size).map_err(|_| corrupt("file size"))?;
    if namesize == 0 || namesize > 64 * 1024 {
        return Err(corrupt("implausible name size"));
    }
    let name_start = at + hlen;
    let name_end = name_start
        .checked_add(namesize)
        .filter(|&e| e <= data.len())
        .ok_or_else(|| corrupt("truncated name"))?;
    let raw = &data[name_start..name_end];
    if raw.last() != Some(&0) {
        return Err(corrupt("name not NUL-terminated"));
    }
    let name = String::from_utf8_lossy(&raw[..raw.len() - 1]).into_owned();
    if name == "TRAILER!!!" {
        return Ok(None);
    }
    let data_start = align(name_end - at, pad).ok_or_else(|| corrupt("overflow"))? + at;
    let data_end = data_start
        .checked_add(size)
        .filter(|&e| e <= data.len())
        .ok_or_else(|| corrupt("truncated file data"))?;
    let next = align(data_end - at, pad).ok_or_else(|| corrupt("overflow"))? + at;
    Ok(Some(Header {
        name,
        mode: u32::try_from(mode).unwrap_or(0),
        data_start,
        size,
        next,
    }))
}

/// A cpio archive held in memory.
pub struct Cpio<'a> {
    data: &'a [u8],
}

/// Wraps the bytes.
pub fn open(data: &[u8]) -> Cpio<'_> {
    Cpio { data }
}

impl Members for Cpio<'_> {
    fn for_each(&mut self, visitor: &mut dyn MemberVisitor) -> Result<(), ContainerError> {
        let mut at = 0usize;
        while let Some(h) = header(self.data, at)? {
            if h.next <= at {
                return Err(corrupt("no progress"));
            }
            at = h.next;
            if h.mode & S_IFMT != S_IFREG {
                continue;
            }
            let meta = MemberMeta {
                name: member_name(&h.name),
                size: Some(h.size as u64),
                packed: None,
            };
            let mut bytes = &self.data[h.data_start..h.data_start + h.size];
            if let ControlFlow::Break(()) = visitor.member(&meta, Content::Data(&mut bytes)) {
                break;
            }
            // Some writers pad the end with zeros instead of a trailer.
            if self
                .data
                .get(at..)
                .is_none_or(|r| r.iter().all(|&b| b == 0))
            {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn newc(name: &str, mode: u32, body: &[u8]) -> Vec<u8> {
        let mut v = format!(
            "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            1,
            mode,
            0,
            0,
            1,
            0,
            body.len(),
            0,
            0,
            0,
            0,
            name.len() + 1,
            0
        )
        .into_bytes();
        v.extend_from_slice(name.as_bytes());
        v.push(0);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v.extend_from_slice(body);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }

    #[test]
    fn newc_members_and_trailer() {
        let mut a = newc("dir", 0o040755, b"");
        a.extend(newc("dir/x.txt", 0o100644, b"hello"));
        a.extend(newc("TRAILER!!!", 0, b""));
        assert!(looks_like(&a));
        let mut got = Vec::new();
        open(&a)
            .for_each(&mut |m: &MemberMeta, c: Content<'_>| {
                if let Content::Data(r) = c {
                    let mut s = String::new();
                    r.read_to_string(&mut s).unwrap();
                    got.push((m.name.clone(), s));
                }
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(got, [("dir/x.txt".to_string(), "hello".to_string())]);
        // Truncated: an error, no panic.
        assert!(open(&a[..130])
            .for_each(&mut |_: &MemberMeta, _: Content<'_>| ControlFlow::Continue(()))
            .is_err());
    }
}
