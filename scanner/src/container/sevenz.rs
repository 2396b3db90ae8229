//! 7-Zip archives with `sevenz-rust2` (Apache-2.0), pure Rust: LZMA, LZMA2, BCJ/BCJ2, PPMd,
//! deflate, bzip2 and the other methods it decodes. Solid blocks are decoded in order.
//!
//! The crate's memory limit bounds header buffers and decoder dictionaries ([`MAX_DICT`]):
//! a hostile dictionary size is an error, not an allocation. Archives with encrypted headers
//! or members (no password is tried) are `encrypted`. An archive too large to hold in memory
//! is read in place ([`open_device`]), through a buffered stream over the file's extents.

use std::io::{Cursor, Read, Seek};

use sevenz_rust2::{ArchiveReader, Password};

use super::stream::DeviceStream;
use super::{member_name, ContainerError, MemberMeta, MemberVisitor, Members};
use crate::fs::{Content, SkipReason};
use crate::io::Device;

/// Memory the crate may use for headers and for a decoder's dictionary (7-Zip's `-mx9` uses
/// a 64 MiB dictionary).
pub const MAX_DICT: u64 = 256 << 20;

/// An opened 7z archive, over its bytes in memory or a stream over its extents.
pub struct SevenZ<R: Read + Seek> {
    reader: ArchiveReader<R>,
}

fn map_err(e: sevenz_rust2::Error) -> ContainerError {
    use sevenz_rust2::Error as E;
    match e {
        E::PasswordRequired | E::MaybeBadPassword(_) => ContainerError::Encrypted,
        // Built without the AES coder: an AES-encrypted archive (headers or members).
        E::UnsupportedCompressionMethod(m) if m.contains("AES") => ContainerError::Encrypted,
        E::UnsupportedCompressionMethod(m) => ContainerError::Unsupported(format!("7z method {m}")),
        E::Unsupported(m) => ContainerError::Unsupported(format!("7z: {m}")),
        E::MaxMemLimited { actaul_kb, .. } => {
            ContainerError::Limit(format!("7z needs {actaul_kb} KiB of decoder memory"))
        }
        other => ContainerError::Corrupt(format!("7z: {other}")),
    }
}

/// Reads the headers of an archive held in memory.
pub fn open(data: &[u8]) -> Result<SevenZ<Cursor<&[u8]>>, ContainerError> {
    open_stream(Cursor::new(data))
}

/// Reads the headers of an archive on a device (the file's own extents).
pub fn open_device(dev: Device) -> Result<SevenZ<DeviceStream>, ContainerError> {
    open_stream(DeviceStream::new(dev, super::STREAM_BUFFER))
}

/// Reads the headers, with the crate's memory limit on header buffers and decoder
/// dictionaries ([`MAX_DICT`]); one decoding thread.
fn open_stream<R: Read + Seek>(stream: R) -> Result<SevenZ<R>, ContainerError> {
    let mut reader =
        ArchiveReader::new_with_memory_limit(stream, Password::empty(), (MAX_DICT >> 10) as usize)
            .map_err(map_err)?;
    reader.set_thread_count(1);
    Ok(SevenZ { reader })
}

impl<R: Read + Seek> Members for SevenZ<R> {
    fn for_each(&mut self, visitor: &mut dyn MemberVisitor) -> Result<(), ContainerError> {
        let mut stopped = false;
        let r = self.reader.for_each_entries(|entry, reader| {
            if stopped {
                return Ok(false);
            }
            if entry.is_directory() || !entry.has_stream() {
                return Ok(true);
            }
            let meta = MemberMeta {
                name: member_name(entry.name()),
                size: Some(entry.size()),
                packed: None,
            };
            let flow = visitor.member(&meta, Content::Data(reader));
            // The crate wants each entry read to its end before the next (solid blocks).
            if flow.is_continue() {
                let _ = super::drain(reader);
            }
            stopped = flow.is_break();
            Ok(!stopped)
        });
        match r {
            Ok(()) => Ok(()),
            Err(e) => match map_err(e) {
                ContainerError::Encrypted => {
                    let meta = MemberMeta {
                        name: "<encrypted>".into(),
                        ..MemberMeta::default()
                    };
                    let _ = visitor.member(&meta, Content::Skipped(SkipReason::Encrypted));
                    Ok(())
                }
                other => Err(other),
            },
        }
    }
}
