//! ISO 9660 images (`.iso`, the disc images Windows mounts with a double click), with Joliet
//! names when a Joliet supplementary descriptor is present. Written here: a bounded reader of
//! the volume descriptors and directory records over any [`ReadAt`]: the image held in memory
//! ([`open`]) or, for an image larger than the in-memory limit, the file's own extents on the
//! host volume ([`open_at`]). Directory extents already visited are skipped (a corrupt image
//! can loop), the number of records read and the size of a directory extent are bounded, and
//! file data are read in place (a window of the image). A disc that also has a UDF volume is
//! read by [`super::udf`] (this side may be a stub), this reader being its fallback.

use std::collections::HashSet;
use std::io::{self, Read};
use std::ops::ControlFlow;
use std::sync::Arc;

use super::{ContainerError, MemberMeta, MemberVisitor, Members};
use crate::fs::Content;
use crate::io::{BytesAt, Device, ReadAt, Slice};

const SECTOR: u64 = 2048;
/// Directory records read at most (files and directories together).
const MAX_RECORDS: usize = 1_000_000;
/// Largest directory extent read (a directory of tens of thousands of names fits).
const MAX_DIR_EXTENT: u64 = 16 << 20;

/// An ISO 9660 image over a device.
pub struct Iso<R> {
    dev: R,
    /// Root directory extent (LBA, length) and whether names are Joliet (UCS-2).
    root: (u64, u64),
    joliet: bool,
    /// The image as a shared device, when it is read in place: a file's extent can then be
    /// handed out as a device of its own (see [`MemberVisitor::member_mapped`]).
    shared: Option<Device>,
}

fn corrupt(what: &str) -> ContainerError {
    ContainerError::Corrupt(format!("iso9660: {what}"))
}

fn le32(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 4).map_or(0, |x| {
        u64::from(u32::from_le_bytes([x[0], x[1], x[2], x[3]]))
    })
}

/// Opens an image held in memory.
pub fn open(data: &[u8]) -> Result<Iso<BytesAt<'_>>, ContainerError> {
    open_at(BytesAt(data))
}

/// Opens an image on a device (the file's own extents), whose members are offered with their
/// extents as devices.
pub fn open_device(dev: Device) -> Result<Iso<Device>, ContainerError> {
    Ok(open_at(dev.clone())?.shared(Some(dev)))
}

impl<R> Iso<R> {
    /// The same image, whose files are offered as slices of `shared` (the device it is
    /// read over) when given.
    pub(super) fn shared(mut self, shared: Option<Device>) -> Self {
        self.shared = shared;
        self
    }
}

/// Reads the volume descriptors (sector 16 on): the primary one, and a Joliet one if present.
pub fn open_at<R: ReadAt>(dev: R) -> Result<Iso<R>, ContainerError> {
    let mut primary = None;
    let mut joliet = None;
    let mut vd = [0u8; SECTOR as usize];
    for n in 16..16 + 64 {
        match dev.read_at(n * SECTOR, &mut vd) {
            Ok(got) if got == vd.len() => {}
            Ok(_) => break,
            Err(e) => return Err(corrupt(&format!("reading a volume descriptor: {e}"))),
        }
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
            dev,
            root,
            joliet: true,
            shared: None,
        }),
        (None, Some(root)) => Ok(Iso {
            dev,
            root,
            joliet: false,
            shared: None,
        }),
        _ => Err(corrupt("no primary volume descriptor")),
    }
}

/// Where an extent lies in the image: (byte offset, length), if wholly inside it.
fn span(size: u64, lba: u64, len: u64) -> Option<(u64, u64)> {
    let start = lba.checked_mul(SECTOR)?;
    let end = start.checked_add(len)?;
    (end <= size).then_some((start, len))
}

/// A file's bytes read in place: `len` bytes of the image from `pos`.
struct Window<'r, R> {
    dev: &'r R,
    pos: u64,
    end: u64,
}

impl<R: ReadAt> Read for Window<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.end - self.pos;
        let n = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
        if n == 0 {
            return Ok(0);
        }
        let got = self.dev.read_at(self.pos, &mut buf[..n])?;
        if got == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "iso9660: file extent ends past the image",
            ));
        }
        self.pos += got as u64;
        Ok(got)
    }
}

impl<R: ReadAt> Iso<R> {
    /// A directory extent, read whole (bounded by [`MAX_DIR_EXTENT`]).
    fn directory(&self, lba: u64, len: u64) -> Result<Vec<u8>, ContainerError> {
        let Some((start, len)) = span(self.dev.size(), lba, len) else {
            return Err(corrupt("directory extent outside the image"));
        };
        if len > MAX_DIR_EXTENT {
            return Err(ContainerError::Limit(format!(
                "iso9660 directory extent of {len} bytes"
            )));
        }
        let mut buf = vec![0u8; usize::try_from(len).unwrap_or(0)];
        self.dev
            .read_exact_at(start, &mut buf)
            .map_err(|e| corrupt(&format!("reading a directory: {e}")))?;
        Ok(buf)
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

impl<R: ReadAt> Members for Iso<R> {
    fn for_each(&mut self, visitor: &mut dyn MemberVisitor) -> Result<(), ContainerError> {
        let mut seen = HashSet::new();
        let mut queue = vec![(String::new(), self.root)];
        let mut records = 0usize;
        let sector = SECTOR as usize;
        while let Some((dir, (lba, len))) = queue.pop() {
            if !seen.insert(lba) {
                continue;
            }
            let ext = self.directory(lba, len)?;
            let mut at = 0usize;
            while at < ext.len() {
                let rlen = usize::from(ext[at]);
                if rlen == 0 {
                    // Records do not cross sectors: skip to the next one.
                    at = (at / sector + 1) * sector;
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
                let flow = match span(self.dev.size(), elba, elen) {
                    Some((pos, len)) => {
                        let mut w = Window {
                            dev: &self.dev,
                            pos,
                            end: pos + len,
                        };
                        match &self.shared {
                            Some(dev) => {
                                let mapped = || -> Option<Device> {
                                    Some(Arc::new(Slice::new(dev.clone(), pos, len)))
                                };
                                visitor.member_mapped(&meta, Content::Data(&mut w), &mapped)
                            }
                            None => visitor.member(&meta, Content::Data(&mut w)),
                        }
                    }
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
