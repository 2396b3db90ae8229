//! OLE compound files (`.doc/.xls/.ppt`, `.msi`, Outlook `.msg`, `vbaProject.bin`) with the
//! `cfb` crate (MIT): every stream is a member, named by its storage path. An embedded
//! object's `\x01Ole10Native` stream (a file dropped into a Word or Excel document) is also
//! unwrapped: the embedded file is a member `<stream>/<its label>`. A compound file too large
//! to hold in memory (a large `.msi`) is read in place ([`open_device`]), through a buffered
//! stream over the file's extents.

use std::io::{Cursor, Read, Seek};
use std::ops::ControlFlow;

use super::stream::DeviceStream;
use super::{member_name, ContainerError, MemberMeta, MemberVisitor, Members};
use crate::fs::Content;
use crate::io::Device;

/// Largest `Ole10Native` stream unwrapped (it is read into memory).
const MAX_NATIVE: u64 = 64 << 20;

/// The embedded file of an `Ole10Native` stream: (label, data). Layout: total size (u32),
/// flags (u16), label, source path (NUL-terminated), reserved (u32), temporary path (u32
/// length + bytes), data (u32 length + bytes). `None` when it does not parse.
pub(super) fn ole10native(b: &[u8]) -> Option<(String, &[u8])> {
    let cstr = |at: usize| -> Option<(String, usize)> {
        let rest = b.get(at..)?;
        let n = rest.iter().position(|&c| c == 0)?;
        Some((String::from_utf8_lossy(&rest[..n]).into_owned(), at + n + 1))
    };
    let u32_at = |at: usize| -> Option<usize> {
        let x = b.get(at..at + 4)?;
        usize::try_from(u32::from_le_bytes([x[0], x[1], x[2], x[3]])).ok()
    };
    let (label, at) = cstr(6)?;
    let (_source, at) = cstr(at)?;
    let tmp_len = u32_at(at + 4)?;
    let at = (at + 8).checked_add(tmp_len)?;
    let len = u32_at(at)?;
    let data = b.get(at + 4..(at + 4).checked_add(len)?)?;
    Some((
        if label.is_empty() {
            "<embedded>".into()
        } else {
            label
        },
        data,
    ))
}

/// An opened compound file, over its bytes in memory or a stream over its extents.
pub struct Ole<R: Read + Seek> {
    file: cfb::CompoundFile<R>,
}

/// Parses the header, FAT and directory of a compound file held in memory.
pub fn open(data: &[u8]) -> Result<Ole<Cursor<&[u8]>>, ContainerError> {
    open_stream(Cursor::new(data))
}

/// Parses the header, FAT and directory of a compound file on a device.
pub fn open_device(dev: Device) -> Result<Ole<DeviceStream>, ContainerError> {
    open_stream(DeviceStream::new(dev, super::STREAM_BUFFER))
}

fn open_stream<R: Read + Seek>(stream: R) -> Result<Ole<R>, ContainerError> {
    let file = cfb::CompoundFile::open(stream)
        .map_err(|e| ContainerError::Corrupt(format!("ole: {e}")))?;
    Ok(Ole { file })
}

impl<R: Read + Seek> Members for Ole<R> {
    fn for_each(&mut self, visitor: &mut dyn MemberVisitor) -> Result<(), ContainerError> {
        let streams: Vec<(std::path::PathBuf, u64)> = self
            .file
            .walk()
            .filter(|e| e.is_stream())
            .map(|e| (e.path().to_path_buf(), e.len()))
            .collect();
        for (path, len) in streams {
            let meta = MemberMeta {
                name: member_name(&path.to_string_lossy()),
                size: Some(len),
                packed: None,
            };
            let native = path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().ends_with("Ole10Native"));
            let flow = match self.file.open_stream(&path) {
                Ok(mut s) if native && len <= MAX_NATIVE => {
                    let mut buf = Vec::new();
                    match std::io::Read::read_to_end(&mut (&mut s).take(MAX_NATIVE), &mut buf) {
                        Ok(_) => {
                            let flow = visitor.member(&meta, Content::Data(&mut &buf[..]));
                            match (flow, ole10native(&buf)) {
                                (ControlFlow::Continue(()), Some((label, mut data))) => {
                                    let inner = MemberMeta {
                                        name: format!("{}/{}", meta.name, member_name(&label)),
                                        size: Some(data.len() as u64),
                                        packed: None,
                                    };
                                    visitor.member(&inner, Content::Data(&mut data))
                                }
                                (flow, _) => flow,
                            }
                        }
                        Err(e) => visitor.member(&meta, Content::Error(format!("ole: {e}"))),
                    }
                }
                Ok(mut s) => visitor.member(&meta, Content::Data(&mut s)),
                Err(e) => visitor.member(&meta, Content::Error(format!("ole: {e}"))),
            };
            if let ControlFlow::Break(()) = flow {
                break;
            }
        }
        Ok(())
    }
}
