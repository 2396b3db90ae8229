//! tar (POSIX ustar, GNU long names, pax headers) with the `tar` crate (MIT/Apache-2.0).
//! Regular files are members; links, directories and devices are not. An archive too large to
//! hold in memory is read in place ([`open_device`]), as a buffered stream over the file's
//! extents: tar is read front to back, so nothing more is needed.

use std::io::Read;
use std::ops::ControlFlow;

use super::stream::DeviceStream;
use super::{member_name, ContainerError, MemberMeta, MemberVisitor, Members};
use crate::fs::Content;
use crate::io::Device;

/// A tar archive (its bytes in memory, or a stream over its extents).
pub struct Tar<R: Read> {
    /// Taken by the one iteration.
    data: Option<R>,
}

/// Wraps the bytes (headers are read as members are visited).
pub fn open(data: &[u8]) -> Tar<&[u8]> {
    Tar { data: Some(data) }
}

/// A tar archive on a device (the file's own extents).
pub fn open_device(dev: Device) -> Tar<DeviceStream> {
    Tar {
        data: Some(DeviceStream::new(dev, super::STREAM_BUFFER)),
    }
}

impl<R: Read> Members for Tar<R> {
    fn for_each(&mut self, visitor: &mut dyn MemberVisitor) -> Result<(), ContainerError> {
        let Some(data) = self.data.take() else {
            return Ok(());
        };
        let mut archive = tar::Archive::new(data);
        let entries = archive
            .entries()
            .map_err(|e| ContainerError::Corrupt(format!("tar: {e}")))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| ContainerError::Corrupt(format!("tar: {e}")))?;
            let kind = entry.header().entry_type();
            if !(kind.is_file() || kind.is_contiguous() || kind.is_gnu_sparse()) {
                continue;
            }
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let meta = MemberMeta {
                name: member_name(&name),
                size: entry.header().size().ok(),
                packed: None,
            };
            if let ControlFlow::Break(()) = visitor.member(&meta, Content::Data(&mut entry)) {
                break;
            }
        }
        Ok(())
    }
}
