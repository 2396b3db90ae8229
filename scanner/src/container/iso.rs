//! ISO 9660 images (`.iso`, the disc images Windows mounts with a double click), with Joliet
//! names when a Joliet supplementary descriptor is present. Written here: a bounded reader of
//! the volume descriptors and directory records, over the image held in memory. Directory
//! extents already visited are skipped (a corrupt image can loop), the number of records read
//! is bounded, and file data are slices of the image. UDF-only discs (no ISO 9660 bridge) are
//! not read.

use std::collections::HashSet;
use std::ops::ControlFlow;

use super::{ContainerError, MemberMeta, MemberVisitor, Members};
use crate::fs::Content;

const SECTOR: usize = 2048;
/// Directory records read at most (files and directories together).
const MAX_RECORDS: usize = 1_000_000;

/// An ISO 9660 image held in memory.
pub struct Iso<'a> {
    data: &'a [u8],
    /// Root directory extent (LBA, length) and whether names are Joliet (UCS-2).
    root: (u64, u64),
    joliet: bool,
}

fn corrupt(what: &str) -> ContainerError {
    ContainerError::Corrupt(format!("iso9660: {what}"))
}

fn le32(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 4).map_or(0, |x| {
        u64::from(u32::from_le_bytes([x[0], x[1], x[2], x[3]]))
    })
}

/// Reads the volume descriptors (sector 16 on): the primary one, and a Joliet one if present.
pub fn open(data: &[u8]) -> Result<Iso<'_>, ContainerError> {
    let mut primary = None;
    let mut joliet = None;
    for n in 16..16 + 64 {
        let Some(vd) = data.get(n * SECTOR..(n + 1) * SECTOR) else {
            break;
        };
        if &vd[1..6] != b"CD001" {
            break;
        }
        let root = &vd[156..190];
        let extent = (le32(root, 2), le32(root, 10));
        match vd[0] {
            1 => primary = primary.or(Some(extent)),
            2 if matches!(&vd[88..91], b"%/@" | b"%/C" | b"%/E") => {
                joliet = joliet.or(Some(extent))
            }
            255 => break,
            _ => {}
        }
    }
    match (joliet, primary) {
        (Some(root), _) => Ok(Iso {
            data,
            root,
            joliet: true,
        }),
        (None, Some(root)) => Ok(Iso {
            data,
            root,
            joliet: false,
        }),
        _ => Err(corrupt("no primary volume descriptor")),
    }
}

impl Iso<'_> {
    fn extent(&self, lba: u64, len: u64) -> Option<&[u8]> {
        let start = usize::try_from(lba).ok()?.checked_mul(SECTOR)?;
        let end = start.checked_add(usize::try_from(len).ok()?)?;
        self.data.get(start..end)
    }

    fn name(&self, raw: &[u8]) -> String {
        let s = if self.joliet {
            let units: Vec<u16> = raw
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        } else {
            String::from_utf8_lossy(raw).into_owned()
        };
        // `NAME.EXT;1`: drop the version, and the trailing dot of names without extension.
        let s = s.split(';').next().unwrap_or("").to_string();
        s.strip_suffix('.').map(str::to_string).unwrap_or(s)
    }
}

impl Members for Iso<'_> {
    fn for_each(&mut self, visitor: &mut dyn MemberVisitor) -> Result<(), ContainerError> {
        let mut seen = HashSet::new();
        let mut queue = vec![(String::new(), self.root)];
        let mut records = 0usize;
        while let Some((dir, (lba, len))) = queue.pop() {
            if !seen.insert(lba) {
                continue;
            }
            let Some(ext) = self.extent(lba, len) else {
                return Err(corrupt("directory extent outside the image"));
            };
            let mut at = 0usize;
            while at < ext.len() {
                let rlen = usize::from(ext[at]);
                if rlen == 0 {
                    // Records do not cross sectors: skip to the next one.
                    at = (at / SECTOR + 1) * SECTOR;
                    continue;
                }
                let Some(rec) = ext.get(at..at + rlen) else {
                    return Err(corrupt("truncated directory record"));
                };
                at += rlen;
                records += 1;
                if records > MAX_RECORDS {
                    return Err(ContainerError::Limit("too many directory records".into()));
                }
                if rec.len() < 34 {
                    continue;
                }
                let nlen = usize::from(rec[32]);
                let Some(raw) = rec.get(33..33 + nlen) else {
                    continue;
                };
                if raw == [0] || raw == [1] {
                    continue; // `.` and `..`
                }
                let name = self.name(raw);
                let path = if dir.is_empty() {
                    name
                } else {
                    format!("{dir}/{name}")
                };
                let (elba, elen) = (le32(rec, 2), le32(rec, 10));
                if rec[25] & 0x02 != 0 {
                    queue.push((path, (elba, elen)));
                    continue;
                }
                let meta = MemberMeta {
                    name: super::member_name(&path),
                    size: Some(elen),
                    packed: None,
                };
                let flow = match self.extent(elba, elen) {
                    Some(mut bytes) => visitor.member(&meta, Content::Data(&mut bytes)),
                    None => visitor.member(
                        &meta,
                        Content::Error("iso9660: file extent outside the image".into()),
                    ),
                };
                if let ControlFlow::Break(()) = flow {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}
