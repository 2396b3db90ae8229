//! Finding a UDF volume in an image: the volume recognition sequence (ECMA-167 2/9.1:
//! `BEA01`, `NSR02`/`NSR03`, `TEA01` from 32 KiB, after any ISO 9660 descriptors), an anchor
//! volume descriptor pointer at block 256, N-256 or N-1 (3/10.2, for block sizes of 512 to
//! 4096 bytes), the main volume descriptor sequence or else its reserve copy (partition and
//! logical volume descriptors, 3/10.5-10.6), the partition maps, and the file set
//! descriptor (4/14.1) that names the root directory.

use std::collections::HashSet;

use super::entry::{self, ftype, Data};
use super::map::{MapError, Maps, PartMap};
use super::tag::{self, id, le16, le32};
use super::Icb;
use crate::io::ReadAt;

/// Descriptors of a volume descriptor sequence read at most (all extents together).
const MAX_VDS: usize = 256;
/// Volume descriptor pointers followed at most.
const MAX_VDP: usize = 8;
/// Partition maps read at most.
const MAX_MAPS: usize = 16;
/// Sparing table entries kept at most (UDF allows 65,535; real discs hold a few thousand).
const MAX_SPARING: usize = 65_536;

/// Whether the volume recognition sequence at 32 KiB names a UDF volume (`NSR02`/`NSR03`),
/// with descriptors every 2 KiB (or every block of 4 KiB for such block sizes).
pub fn sniff(data: &[u8]) -> bool {
    [2048usize, 4096].iter().any(|&step| {
        for i in 0..64 {
            let at = 32 * 1024 + i * step + 1;
            match data.get(at..at + 5) {
                Some(b"NSR02" | b"NSR03") => return true,
                Some(b"BEA01" | b"CD001" | b"BOOT2" | b"CDW02" | b"TEA01") => {}
                _ => return false,
            }
        }
        false
    })
}

/// The volume, ready for the directory walk.
#[derive(Debug, Clone)]
pub struct Volume {
    pub maps: Maps,
    pub root: Icb,
    pub notes: Vec<String>,
}

fn bad<T>(s: impl Into<String>) -> Result<T, MapError> {
    Err(MapError::corrupt(s))
}

/// Reads `len` bytes at `pos`, or fails.
fn read(dev: &dyn ReadAt, pos: u64, len: usize) -> Result<Vec<u8>, MapError> {
    let mut b = vec![0u8; len];
    dev.read_exact_at(pos, &mut b)
        .map_err(|e| MapError::corrupt(format!("reading at {pos}: {e}")))?;
    Ok(b)
}

/// The block size and the anchor's (main, reserve) sequence extents `(sector, bytes)`.
fn anchor(dev: &dyn ReadAt) -> Result<(u64, [(u64, u64); 2]), MapError> {
    let size = dev.size();
    for bs in [2048u64, 512, 1024, 4096] {
        let n = size / bs;
        for loc in [256, n.saturating_sub(256), n.saturating_sub(1)] {
            if loc < 256 || loc >= n {
                continue;
            }
            let Ok(b) = read(dev, loc * bs, bs as usize) else {
                continue;
            };
            if tag::expect(&b, id::AVDP, u32::try_from(loc).ok()).is_ok() {
                let ext = |at| (u64::from(le32(&b, at + 4)), u64::from(le32(&b, at)));
                return Ok((bs, [ext(16), ext(24)]));
            }
        }
    }
    bad("no anchor volume descriptor pointer")
}

/// The prevailing descriptors of one sequence.
#[derive(Default)]
struct Seq {
    /// (sequence number, partition number, start sector, length in blocks).
    parts: Vec<(u32, u16, u64, u64)>,
    /// (sequence number, the descriptor's block).
    lvd: Option<(u32, Vec<u8>)>,
}

/// Reads one volume descriptor sequence from `(sector, bytes)`.
fn sequence(dev: &dyn ReadAt, bs: u64, start: (u64, u64)) -> Seq {
    let mut seq = Seq::default();
    let mut ext = start;
    let mut read_n = 0;
    let mut hops = 0;
    let mut seen = HashSet::new();
    'extents: while seen.insert(ext.0) {
        for k in 0..ext.1 / bs {
            read_n += 1;
            if read_n > MAX_VDS {
                break 'extents;
            }
            let sector = ext.0 + k;
            let Ok(b) = read(dev, sector * bs, bs as usize) else {
                break 'extents;
            };
            let Ok(ident) = tag::check(&b, u32::try_from(sector).ok()) else {
                break 'extents;
            };
            let num = le32(&b, 16);
            match ident {
                id::PD => {
                    let number = le16(&b, 22);
                    let entry = (
                        num,
                        number,
                        u64::from(le32(&b, 188)),
                        u64::from(le32(&b, 192)),
                    );
                    match seq.parts.iter().position(|p| p.1 == number) {
                        Some(i) if seq.parts[i].0 <= num => seq.parts[i] = entry,
                        Some(_) => {}
                        None if seq.parts.len() < MAX_MAPS => seq.parts.push(entry),
                        None => {}
                    }
                }
                id::LVD if seq.lvd.as_ref().is_none_or(|l| l.0 <= num) => {
                    seq.lvd = Some((num, b));
                }
                id::VDP => {
                    hops += 1;
                    if hops > MAX_VDP {
                        break 'extents;
                    }
                    ext = (u64::from(le32(&b, 24)), u64::from(le32(&b, 20)));
                    continue 'extents;
                }
                id::TD => break 'extents,
                _ => {}
            }
        }
        break;
    }
    seq
}

/// Opens the volume: anchor, sequences, maps, file set.
pub fn open(dev: &dyn ReadAt) -> Result<Volume, MapError> {
    let (bs, [main, reserve]) = anchor(dev)?;
    let mut notes = Vec::new();
    let mut seq = sequence(dev, bs, main);
    if seq.lvd.is_none() || seq.parts.is_empty() {
        let r = sequence(dev, bs, reserve);
        if r.lvd.is_some() && !r.parts.is_empty() {
            notes.push("main volume descriptor sequence unreadable: reserve copy used".into());
            seq = r;
        }
    }
    let Some((_, lvd)) = seq.lvd else {
        return bad("no logical volume descriptor");
    };
    let lbs = u64::from(le32(&lvd, 212));
    if lbs != bs {
        return Err(MapError::unsupported(format!(
            "logical block size {lbs} differs from the sector size {bs}"
        )));
    }
    let mt_len = le32(&lvd, 264) as usize;
    let n_maps = le32(&lvd, 268) as usize;
    let Some(table) = lvd.get(440..440usize.saturating_add(mt_len)) else {
        return bad("partition map table runs past the logical volume descriptor");
    };
    if n_maps == 0 || n_maps > MAX_MAPS {
        return bad(format!("{n_maps} partition maps"));
    }
    let mut maps = Maps {
        bs,
        size: dev.size(),
        maps: Vec::new(),
    };
    // Metadata maps are resolved once the physical ones are known: (index, map bytes).
    let mut metadata = Vec::new();
    // The partition number each map refers to.
    let mut numbers = Vec::new();
    let mut at = 0usize;
    for i in 0..n_maps {
        let kind = table.get(at).copied().unwrap_or(0);
        let len = usize::from(table.get(at + 1).copied().unwrap_or(0));
        let Some(m) = table.get(at..at + len).filter(|_| len >= 6) else {
            return bad("truncated partition map");
        };
        at += len;
        let physical = |number: u16| seq.parts.iter().find(|p| p.1 == number).map(|p| (p.2, p.3));
        numbers.push(if kind == 1 { le16(m, 4) } else { le16(m, 38) });
        let map = match kind {
            1 => match physical(le16(m, 4)) {
                Some((start, len)) => PartMap::Physical { start, len },
                None => PartMap::Broken("partition without a descriptor"),
            },
            2 if m.len() >= 40 => {
                let ident = &m[5..28];
                let number = le16(m, 38);
                if ident.starts_with(b"*UDF Sparable Partition") {
                    match physical(number) {
                        Some((start, len)) => sparable(dev, &maps, m, start, len, &mut notes),
                        None => PartMap::Broken("partition without a descriptor"),
                    }
                } else if ident.starts_with(b"*UDF Metadata Partition") {
                    metadata.push((i, m.to_vec()));
                    PartMap::Broken("metadata partition without a readable metadata file")
                } else if ident.starts_with(b"*UDF Virtual Partition") {
                    notes.push("virtual partition (VAT, write-once disc) not read".into());
                    PartMap::Unreadable("virtual partition (VAT)")
                } else {
                    PartMap::Unreadable("unknown partition map")
                }
            }
            _ => PartMap::Unreadable("unknown partition map"),
        };
        maps.maps.push(map);
    }
    for (i, m) in metadata {
        let number = le16(&m, 38);
        let phys = maps.maps.iter().enumerate().position(|(k, p)| {
            k != i
                && matches!(p, PartMap::Physical { .. } | PartMap::Sparable { .. })
                && numbers[k] == number
        });
        let Some(phys) = phys else {
            continue;
        };
        let phys = phys as u16;
        let mut got = None;
        for (which, at) in [("main", 40), ("mirror", 44)] {
            let icb = Icb {
                len: bs as u32,
                kind: 0,
                lbn: le32(&m, at),
                part: phys,
            };
            match entry::read(dev, &maps, icb) {
                Ok(e) if matches!(e.file_type, ftype::METADATA | ftype::METADATA_MIRROR) => {
                    if let Data::Extents(ads) = e.data {
                        if which == "mirror" {
                            notes.push("metadata file unreadable: its mirror used".into());
                        }
                        got = Some(ads);
                        break;
                    }
                }
                _ => {}
            }
        }
        if let Some(ads) = got {
            let mut at = 0u64;
            let extents = ads
                .into_iter()
                .map(|a| {
                    let e = (at, a);
                    at += u64::from(a.len);
                    e
                })
                .collect();
            maps.maps[i] = PartMap::Metadata { phys, extents };
        }
    }
    let fsd_at = Icb::parse(&lvd[248..264]);
    let fsd = entry::block(dev, &maps, fsd_at.part, fsd_at.lbn)?;
    tag::expect(&fsd, id::FSD, Some(fsd_at.lbn))?;
    Ok(Volume {
        maps,
        root: Icb::parse(&fsd[400..416]),
        notes,
    })
}

/// A sparable map: its first readable sparing table (UDF 2.2.12).
fn sparable(
    dev: &dyn ReadAt,
    maps: &Maps,
    m: &[u8],
    start: u64,
    len: u64,
    notes: &mut Vec<String>,
) -> PartMap {
    let packet = u32::from(le16(m, 40)).max(1);
    let tables = usize::from(m.get(42).copied().unwrap_or(0)).min(4);
    let bs = maps.bs;
    for t in 0..tables {
        let loc = u64::from(le32(m, 48 + 4 * t));
        let Ok(head) = read(dev, loc * bs, bs as usize) else {
            continue;
        };
        if !head[17..].starts_with(b"*UDF Sparing Table") {
            continue;
        }
        let n = usize::from(le16(&head, 48)).min(MAX_SPARING);
        let bytes = (56 + 8 * n).max(bs as usize);
        let Ok(b) = read(dev, loc * bs, bytes) else {
            continue;
        };
        if tag::check(&b, None).is_err() {
            continue;
        }
        let mut table: Vec<(u32, u32)> = b[56..]
            .chunks_exact(8)
            .map(|e| (le32(e, 0), le32(e, 4)))
            .filter(|e| e.0 < 0xffff_fff0)
            .collect();
        table.sort_unstable();
        table.dedup_by_key(|e| e.0);
        return PartMap::Sparable {
            start,
            len,
            packet,
            table,
        };
    }
    notes.push("no readable sparing table: packets read where first written".into());
    PartMap::Sparable {
        start,
        len,
        packet,
        table: Vec::new(),
    }
}
