//! Microsoft Cabinet files (`.cab`, also inside installers and Windows updates) with the `cab`
//! crate (MIT): stored, MSZIP and LZX folders (via `lzxd`). Quantum folders are counted
//! `unsupported_archive`. A cabinet too large to hold in memory is read in place
//! ([`open_device`]), through a buffered stream over the file's extents.

use std::io::{Cursor, Read, Seek};
use std::ops::ControlFlow;

use super::stream::DeviceStream;
use super::{member_name, ContainerError, MemberMeta, MemberVisitor, Members};
use crate::fs::{Content, SkipReason};
use crate::io::Device;

/// An opened cabinet, over its bytes in memory or a stream over its extents.
pub struct Cab<R: Read + Seek> {
    cabinet: cab::Cabinet<R>,
}

/// Reads the header, folder and file tables of a cabinet held in memory.
pub fn open(data: &[u8]) -> Result<Cab<Cursor<&[u8]>>, ContainerError> {
    open_stream(Cursor::new(data))
}

/// Reads the tables of a cabinet on a device (the file's own extents).
pub fn open_device(dev: Device) -> Result<Cab<DeviceStream>, ContainerError> {
    open_stream(DeviceStream::new(dev, super::STREAM_BUFFER))
}

fn open_stream<R: Read + Seek>(stream: R) -> Result<Cab<R>, ContainerError> {
    let cabinet =
        cab::Cabinet::new(stream).map_err(|e| ContainerError::Corrupt(format!("cab: {e}")))?;
    Ok(Cab { cabinet })
}

impl<R: Read + Seek> Members for Cab<R> {
    fn for_each(&mut self, visitor: &mut dyn MemberVisitor) -> Result<(), ContainerError> {
        let files: Vec<(String, u32, bool)> = self
            .cabinet
            .folder_entries()
            .flat_map(|folder| {
                let quantum = matches!(
                    folder.compression_type(),
                    cab::CompressionType::Quantum(_, _)
                );
                folder
                    .file_entries()
                    .map(move |f| (f.name().to_string(), f.uncompressed_size(), quantum))
            })
            .collect();
        for (name, size, quantum) in files {
            let meta = MemberMeta {
                name: member_name(&name),
                size: Some(u64::from(size)),
                packed: None,
            };
            let flow = if quantum {
                visitor.member(&meta, Content::Skipped(SkipReason::UnsupportedArchive))
            } else {
                match self.cabinet.read_file(&name) {
                    Ok(mut r) => visitor.member(&meta, Content::Data(&mut r)),
                    Err(e) => visitor.member(&meta, Content::Error(format!("cab: {e}"))),
                }
            };
            if let ControlFlow::Break(()) = flow {
                break;
            }
        }
        Ok(())
    }
}
