//! UDF disc images (ECMA-167 3rd edition with the OSTA UDF 1.02 to 2.60 profiles): what
//! `mkudffs` and Windows write, DVD-video, and many newer `.iso` downloads, some of which add
//! an ISO 9660 bridge that lists only a readme. Written here from the specifications: a
//! bounded reader over any [`ReadAt`] (the image in memory, or the file's own extents on the
//! host volume when it is larger than the in-memory limit).
//!
//! [`volume`] finds the anchor, the volume descriptor sequences and the partition maps
//! (type 1, sparable and metadata read; virtual counted as unreadable), [`entry`] reads file
//! entries and their allocation descriptors, [`names`] the directory entries, [`tag`] checks
//! every descriptor's checksum and CRC. The walk is bounded: directory depth, directory
//! entries in all, directory data held at once; a directory seen twice (a loop of ICBs) is
//! walked once; every extent is clipped to the image.
//!
//! A disc with both UDF and ISO 9660 descriptors is read as UDF (the ISO side may be a
//! stub); if its UDF side cannot be opened, its ISO 9660 side is read instead, with a note.

pub mod entry;
pub mod map;
pub mod names;
pub mod tag;
pub mod volume;

use std::collections::HashSet;
use std::io::Read;
use std::ops::ControlFlow;
use std::sync::Arc;

use super::{ContainerError, MemberMeta, MemberVisitor, Members};
use crate::fs::{Content, SkipReason};
use crate::io::{BytesAt, Device, ReadAt, Slice};
use entry::{ftype, Data, Entry};
use map::MapError;
use tag::{le16, le32};

pub use volume::sniff;

/// Directory entries read at most (files and directories together).
const MAX_ENTRIES: usize = 1_000_000;
/// Directories nested at most.
const MAX_DEPTH: usize = 64;
/// Largest directory read (tens of thousands of names fit).
const MAX_DIR: u64 = 16 << 20;

/// A long allocation descriptor naming an ICB (ECMA-167 4/14.14.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Icb {
    pub len: u32,
    pub kind: u8,
    pub lbn: u32,
    pub part: u16,
}

impl Icb {
    /// Parses 16 bytes (or fewer, as zeros).
    pub fn parse(b: &[u8]) -> Self {
        let raw = le32(b, 0);
        Self {
            len: raw & 0x3fff_ffff,
            kind: (raw >> 30) as u8,
            lbn: le32(b, 4),
            part: le16(b, 8),
        }
    }
}

fn corrupt(e: impl std::fmt::Display) -> ContainerError {
    ContainerError::Corrupt(format!("udf: {e}"))
}

/// A volume-level failure as the container's error.
fn container_error(e: MapError) -> ContainerError {
    if e.unsupported {
        ContainerError::Unsupported(format!("udf: {e}"))
    } else {
        corrupt(e)
    }
}

/// A UDF volume over a device.
pub struct Udf<R> {
    dev: R,
    vol: volume::Volume,
    /// The disc as a shared device, when it is read in place: a file recorded in one
    /// contiguous run can then be handed out as a device of its own (see
    /// [`MemberVisitor::member_mapped`]).
    shared: Option<Device>,
}

/// Opens an image held in memory.
pub fn open(data: &[u8]) -> Result<Udf<BytesAt<'_>>, ContainerError> {
    open_at(BytesAt(data))
}

/// Opens the UDF volume of an image.
pub fn open_at<R: ReadAt>(dev: R) -> Result<Udf<R>, ContainerError> {
    let vol = volume::open(&dev).map_err(container_error)?;
    Ok(Udf {
        dev,
        vol,
        shared: None,
    })
}

/// Opens a disc sniffed as UDF: its UDF volume, or its ISO 9660 side if the UDF one cannot
/// be opened and the disc has one.
pub fn open_disc<'a, R: ReadAt + 'a>(dev: R) -> Result<Box<dyn Members + 'a>, ContainerError> {
    open_disc_with(dev, None)
}

/// [`open_disc`] over a device (the file's own extents, the disc read in place), whose
/// contiguous files are offered with their extents as devices.
pub fn open_disc_device(dev: Device) -> Result<Box<dyn Members>, ContainerError> {
    open_disc_with(dev.clone(), Some(dev))
}

fn open_disc_with<'a, R: ReadAt + 'a>(
    dev: R,
    shared: Option<Device>,
) -> Result<Box<dyn Members + 'a>, ContainerError> {
    let err = match volume::open(&dev) {
        Ok(vol) => return Ok(Box::new(Udf { dev, vol, shared })),
        Err(e) => container_error(e),
    };
    let mut id = [0u8; 5];
    if dev.read_exact_at(0x8001, &mut id).is_ok() && &id == b"CD001" {
        let iso = super::iso::open_at(dev)?.shared(shared);
        return Ok(Box::new(Bridged {
            inner: Box::new(iso),
            note: format!("{err}: its ISO 9660 side read instead"),
        }));
    }
    Err(err)
}

/// The ISO 9660 side of a disc whose UDF side could not be opened.
struct Bridged<'a> {
    inner: Box<dyn Members + 'a>,
    note: String,
}

impl Members for Bridged<'_> {
    fn for_each(&mut self, visitor: &mut dyn MemberVisitor) -> Result<(), ContainerError> {
        self.inner.for_each(visitor)
    }
    fn notes(&self) -> Vec<String> {
        vec![self.note.clone()]
    }
}

impl<R: ReadAt> Udf<R> {
    fn entry(&self, icb: Icb) -> Result<Entry, MapError> {
        entry::read(&self.dev, &self.vol.maps, icb)
    }

    /// A directory's data, whole (bounded by [`MAX_DIR`]).
    fn dir_data(&self, e: &Entry) -> Result<Vec<u8>, ContainerError> {
        if e.size > MAX_DIR {
            return Err(ContainerError::Limit(format!(
                "udf directory of {} bytes",
                e.size
            )));
        }
        match &e.data {
            Data::Embedded(b) => Ok(b.clone()),
            Data::Extents(ads) => {
                let mut out = Vec::new();
                entry::Stream::new(&self.dev, &self.vol.maps, ads, e.size)
                    .read_to_end(&mut out)
                    .map_err(corrupt)?;
                Ok(out)
            }
        }
    }

    /// Hands one file to the visitor.
    fn file(&self, name: &str, e: &Entry, visitor: &mut dyn MemberVisitor) -> ControlFlow<()> {
        let meta = MemberMeta {
            name: super::member_name(name),
            size: Some(e.size),
            packed: None,
        };
        match &e.data {
            Data::Embedded(b) => visitor.member(&meta, Content::Data(&mut &b[..])),
            Data::Extents(ads) => {
                let mut s = entry::Stream::new(&self.dev, &self.vol.maps, ads, e.size);
                let run = self.shared.as_ref().and_then(|dev| {
                    let start = contiguous(&self.vol.maps, ads, e.size)?;
                    Some(Slice::new(dev.clone(), start, e.size))
                });
                match run {
                    Some(run) => {
                        let mapped = || -> Option<Device> { Some(Arc::new(run.clone())) };
                        visitor.member_mapped(&meta, Content::Data(&mut s), &mapped)
                    }
                    None => visitor.member(&meta, Content::Data(&mut s)),
                }
            }
        }
    }
}

/// Where a file's first `size` bytes start on the disc, when they are recorded extents
/// lying one after the other in one run of the image (what mastering tools and Windows
/// write); `None` for anything else (a hole, a remapped packet, a metadata-partition gap).
fn contiguous(maps: &map::Maps, ads: &[map::Ad], size: u64) -> Option<u64> {
    let mut start = None;
    let mut next = 0u64;
    let mut covered = 0u64;
    for a in ads.iter().filter(|a| a.len > 0) {
        if covered >= size {
            break;
        }
        if a.kind != 0 {
            return None;
        }
        let (pos, run) = maps.resolve(a.part, a.lbn).ok()?;
        let len = u64::from(a.len).min(size - covered);
        if run < len || start.is_some_and(|_| pos != next) {
            return None;
        }
        start.get_or_insert(pos);
        next = pos + len;
        covered += len;
    }
    (covered >= size).then_some(start.unwrap_or(0))
}

/// A member that could not be read (a file, or a directory's rest), named by its path (or
/// `<root>`): `archive_error`, or `unsupported_archive` for a valid structure not read here.
fn error(path: &str, why: &MapError, visitor: &mut dyn MemberVisitor) -> ControlFlow<()> {
    let meta = MemberMeta {
        name: super::member_name(if path.is_empty() { "<root>" } else { path }),
        size: None,
        packed: None,
    };
    if why.unsupported {
        visitor.member(&meta, Content::Skipped(SkipReason::UnsupportedArchive))
    } else {
        visitor.member(&meta, Content::Error(format!("udf: {why}")))
    }
}

impl<R: ReadAt> Members for Udf<R> {
    fn for_each(&mut self, visitor: &mut dyn MemberVisitor) -> Result<(), ContainerError> {
        let mut seen = HashSet::new();
        let mut queue = vec![(String::new(), self.vol.root, 0usize)];
        let mut entries = 0usize;
        while let Some((dir, icb, depth)) = queue.pop() {
            if !seen.insert((icb.part, icb.lbn)) {
                continue;
            }
            let e = match self.entry(icb) {
                Ok(e) if e.file_type == ftype::DIRECTORY => e,
                Ok(_) if dir.is_empty() => return Err(corrupt("the root is not a directory")),
                Ok(_) => {
                    let why = MapError::corrupt("named as a directory, its entry is not one");
                    if error(&dir, &why, visitor).is_break() {
                        return Ok(());
                    }
                    continue;
                }
                Err(e) if dir.is_empty() => {
                    return Err(container_error(MapError {
                        msg: format!("root directory: {e}"),
                        ..e
                    }))
                }
                Err(e) => {
                    if error(&dir, &e, visitor).is_break() {
                        return Ok(());
                    }
                    continue;
                }
            };
            let data = match self.dir_data(&e) {
                Ok(d) => d,
                Err(e) if dir.is_empty() => return Err(e),
                Err(e) => {
                    if error(&dir, &MapError::corrupt(e.to_string()), visitor).is_break() {
                        return Ok(());
                    }
                    continue;
                }
            };
            let mut at = 0usize;
            while at < data.len() {
                let (fid, next) = match names::fid(&data, at) {
                    Ok(x) => x,
                    Err(e) => {
                        let why = MapError::corrupt(format!(
                            "directory entry at byte {at}: {e}: the rest of this directory not read"
                        ));
                        if error(&dir, &why, visitor).is_break() {
                            return Ok(());
                        }
                        break;
                    }
                };
                at = next;
                entries += 1;
                if entries > MAX_ENTRIES {
                    return Err(ContainerError::Limit(
                        "too many udf directory entries".into(),
                    ));
                }
                if fid.skip {
                    continue;
                }
                let path = if dir.is_empty() {
                    fid.name
                } else {
                    format!("{dir}/{}", fid.name)
                };
                if fid.dir {
                    if depth + 1 > MAX_DEPTH {
                        let why = MapError::corrupt(format!(
                            "directories nested deeper than {MAX_DEPTH}"
                        ));
                        if error(&path, &why, visitor).is_break() {
                            return Ok(());
                        }
                    } else {
                        queue.push((path, fid.icb, depth + 1));
                    }
                    continue;
                }
                let flow = match self.entry(fid.icb) {
                    Ok(e) if matches!(e.file_type, ftype::FILE | ftype::UNSPECIFIED) => {
                        self.file(&path, &e, visitor)
                    }
                    Ok(e) if e.file_type == ftype::DIRECTORY => {
                        let why = MapError::corrupt("a directory named as a file: not walked");
                        error(&path, &why, visitor)
                    }
                    // Symbolic links, devices, FIFOs: no content of their own.
                    Ok(_) => ControlFlow::Continue(()),
                    Err(e) => error(&path, &e, visitor),
                };
                if flow.is_break() {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    fn notes(&self) -> Vec<String> {
        self.vol.notes.clone()
    }
}

#[cfg(test)]
mod tests;
