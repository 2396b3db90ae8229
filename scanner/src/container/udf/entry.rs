//! File entries and extended file entries (ECMA-167 4/14.9 and 4/14.17): a file's type, its
//! length, and where its bytes are: embedded in the entry, or in extents listed by short or
//! long allocation descriptors, continued in allocation extent descriptors (4/14.5). Indirect
//! entries (4/14.7) are followed. Every chain is bounded and loop-checked; extents are
//! located through [`Maps`], which clips them to the image.

use std::collections::HashSet;
use std::io::{self, Read};

use super::map::{Ad, MapError, Maps};
use super::tag::{self, id, le16, le32, le64};
use super::Icb;
use crate::io::ReadAt;

/// Allocation descriptors read at most for one file (a heavily fragmented file of many GiB).
const MAX_ADS: usize = 1 << 20;
/// Allocation extent descriptors followed at most for one file.
const MAX_AEDS: usize = 1 << 14;
/// Indirect entries followed at most before a file entry.
const MAX_INDIRECT: usize = 16;

/// ICB file types (ECMA-167 4/14.6.6, UDF 2.3.5.2).
pub mod ftype {
    pub const UNSPECIFIED: u8 = 0;
    pub const DIRECTORY: u8 = 4;
    pub const FILE: u8 = 5;
    pub const SYMLINK: u8 = 12;
    pub const METADATA: u8 = 250;
    pub const METADATA_MIRROR: u8 = 251;
}

/// Where a file's bytes are.
#[derive(Debug, Clone)]
pub enum Data {
    /// In the entry itself.
    Embedded(Vec<u8>),
    /// In these extents, in order.
    Extents(Vec<Ad>),
}

/// A file entry, parsed.
#[derive(Debug, Clone)]
pub struct Entry {
    pub file_type: u8,
    /// Information length: the file's size in bytes.
    pub size: u64,
    pub data: Data,
}

fn bad<T>(s: impl Into<String>) -> Result<T, MapError> {
    Err(MapError::corrupt(s))
}

/// One logical block of partition `part`, read whole.
pub fn block(dev: &dyn ReadAt, maps: &Maps, part: u16, lbn: u32) -> Result<Vec<u8>, MapError> {
    let (pos, _) = maps.resolve(part, lbn)?;
    let mut b = vec![0u8; maps.bs as usize];
    dev.read_exact_at(pos, &mut b)
        .map_err(|e| MapError::corrupt(format!("reading block {lbn}: {e}")))?;
    Ok(b)
}

/// Reads the file entry an ICB names (following indirect entries).
pub fn read(dev: &dyn ReadAt, maps: &Maps, icb: Icb) -> Result<Entry, MapError> {
    let mut at = icb;
    let mut seen = HashSet::new();
    for _ in 0..=MAX_INDIRECT {
        if !seen.insert((at.part, at.lbn)) {
            return bad("loop of indirect entries");
        }
        let b = block(dev, maps, at.part, at.lbn)?;
        match tag::check(&b, Some(at.lbn))? {
            id::FE => return parse(dev, maps, at.part, &b, 176, 168),
            id::EFE => return parse(dev, maps, at.part, &b, 216, 208),
            id::IE => at = Icb::parse(&b[36..52]),
            id::TE => return bad("terminal entry where a file entry was expected"),
            other => {
                return bad(format!(
                    "descriptor {other} where a file entry was expected"
                ))
            }
        }
    }
    bad("too many indirect entries")
}

/// Parses an FE (`base` 176, lengths at 168) or EFE (`base` 216, lengths at 208) in `b`.
fn parse(
    dev: &dyn ReadAt,
    maps: &Maps,
    part: u16,
    b: &[u8],
    base: usize,
    lengths: usize,
) -> Result<Entry, MapError> {
    let file_type = b[16 + 11];
    let flags = le16(b, 16 + 18) & 7;
    let size = le64(b, 56);
    let l_ea = le32(b, lengths) as usize;
    let l_ad = le32(b, lengths + 4) as usize;
    let start = base.checked_add(l_ea).filter(|&s| s <= b.len());
    let Some(ads) = start.and_then(|s| b.get(s..s.checked_add(l_ad)?)) else {
        return bad("file entry's descriptors run past its block");
    };
    let data = match flags {
        3 => {
            if size > ads.len() as u64 {
                return bad("embedded data shorter than the file's length");
            }
            Data::Embedded(ads[..size as usize].to_vec())
        }
        0 | 1 => Data::Extents(extents(dev, maps, part, ads, flags == 1)?),
        _ => {
            return Err(MapError::unsupported(
                "extended allocation descriptors (ext_ad) not read",
            ))
        }
    };
    Ok(Entry {
        file_type,
        size,
        data,
    })
}

/// Parses one allocation descriptor: short (8 bytes, partition of the entry) or long (16).
fn ad(b: &[u8], long: bool, part: u16) -> Ad {
    let raw = le32(b, 0);
    Ad {
        kind: (raw >> 30) as u8,
        len: raw & 0x3fff_ffff,
        lbn: le32(b, 4),
        part: if long { le16(b, 8) } else { part },
    }
}

/// The extents of a file: its descriptors, continued in allocation extent descriptors.
fn extents(
    dev: &dyn ReadAt,
    maps: &Maps,
    part: u16,
    first: &[u8],
    long: bool,
) -> Result<Vec<Ad>, MapError> {
    let step = if long { 16 } else { 8 };
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut area = first.to_vec();
    loop {
        let mut next = None;
        for raw in area.chunks_exact(step) {
            let a = ad(raw, long, part);
            if a.len == 0 {
                break;
            }
            if a.kind == 3 {
                next = Some(a);
                break;
            }
            if out.len() >= MAX_ADS {
                return bad("too many extents in one file");
            }
            out.push(a);
        }
        let Some(a) = next else {
            break;
        };
        if seen.len() >= MAX_AEDS || !seen.insert((a.part, a.lbn)) {
            return bad("loop or too long a chain of allocation extents");
        }
        let b = block(dev, maps, a.part, a.lbn)?;
        tag::expect(&b, id::AED, Some(a.lbn))?;
        let n = (le32(&b, 20) as usize).min(a.len as usize);
        let Some(more) = b.get(24..24usize.saturating_add(n)) else {
            return bad("allocation extent runs past its block");
        };
        area = more.to_vec();
    }
    Ok(out)
}

/// A file's bytes, read through its extents: exactly `size` bytes, unrecorded extents as
/// zeros; it fails if the extents end first or leave the image.
pub struct Stream<'a> {
    dev: &'a dyn ReadAt,
    maps: &'a Maps,
    ads: &'a [Ad],
    idx: usize,
    off: u64,
    left: u64,
}

impl<'a> Stream<'a> {
    pub fn new(dev: &'a dyn ReadAt, maps: &'a Maps, ads: &'a [Ad], size: u64) -> Self {
        Self {
            dev,
            maps,
            ads,
            idx: 0,
            off: 0,
            left: size,
        }
    }
}

fn io_err(s: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("udf: {}", s.into()))
}

impl Read for Stream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 || buf.is_empty() {
            return Ok(0);
        }
        while self
            .ads
            .get(self.idx)
            .is_some_and(|a| self.off >= u64::from(a.len))
        {
            self.idx += 1;
            self.off = 0;
        }
        let Some(a) = self.ads.get(self.idx) else {
            return Err(io_err("the file's extents end before its length"));
        };
        let mut n = (u64::from(a.len) - self.off)
            .min(self.left)
            .min(buf.len() as u64);
        if a.kind == 0 {
            let bs = self.maps.bs;
            let lbn = u64::from(a.lbn) + self.off / bs;
            let lbn = u32::try_from(lbn).map_err(|_| io_err("extent past 2^32 blocks"))?;
            let (pos, run) = self.maps.resolve(a.part, lbn).map_err(|e| io_err(e.msg))?;
            let within = self.off % bs;
            if run <= within {
                return Err(io_err("extent ends past the image"));
            }
            n = n.min(run - within);
            let got = self.dev.read_at(pos + within, &mut buf[..n as usize])?;
            if got == 0 {
                return Err(io_err("extent ends past the image"));
            }
            n = got as u64;
        } else {
            buf[..n as usize].fill(0);
        }
        self.off += n;
        self.left -= n;
        Ok(n as usize)
    }
}
