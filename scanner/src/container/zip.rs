//! ZIP and the formats built on it (OOXML `.docx/.xlsx/.pptx`, `.jar`, `.apk`, `.odt`), with
//! the `zip` crate (MIT): stored, deflate, deflate64, bzip2, LZMA and XZ methods, ZIP64.
//!
//! Before the crate sees the bytes, the end-of-central-directory records are checked against
//! the content's size: the crate sizes its file table from them, and a hostile count must not
//! turn into a huge allocation. Encrypted members (ZipCrypto, AES) are counted `encrypted`;
//! members with a method the crate does not decode, `unsupported_archive`.
//!
//! A ZIP too large to hold in memory is read in place ([`open_device`]): the crate reads the
//! central directory and each member through a buffered stream over the file's own extents.
//! The crate keeps its whole file table in memory, so an archive opened that way may announce
//! at most [`MAX_IN_PLACE_ENTRIES`] entries (a hostile central directory of millions of tiny
//! entries would otherwise cost hundreds of MiB before the member limit is ever reached).

use std::io::{Cursor, Read, Seek};
use std::ops::ControlFlow;

use super::stream::DeviceStream;
use super::{member_name, ContainerError, MemberMeta, MemberVisitor, Members};
use crate::fs::{Content, SkipReason};
use crate::io::Device;

/// Bytes at the end of a ZIP in which the end-of-central-directory records can be: the classic
/// record (22 bytes) and its comment (up to 65,535), the ZIP64 locator (20) and record (56).
const TAIL: u64 = 65_557 + 56 + 20;

/// Most entries a ZIP read in place may announce (the crate's table costs a few hundred bytes
/// per entry: about 40 MiB at this count).
pub const MAX_IN_PLACE_ENTRIES: u64 = 131_072;

/// An opened ZIP, over its bytes in memory or a stream over its extents.
pub struct Zip<R: Read + Seek> {
    archive: zip::ZipArchive<R>,
}

/// Parses the central directory of a ZIP held in memory.
pub fn open(data: &[u8]) -> Result<Zip<Cursor<&[u8]>>, ContainerError> {
    let tail_start = data.len().saturating_sub(TAIL as usize);
    announced_entries(&data[tail_start..], data.len() as u64)?;
    let archive = zip::ZipArchive::new(Cursor::new(data))
        .map_err(|e| ContainerError::Corrupt(format!("zip: {e}")))?;
    Ok(Zip { archive })
}

/// Parses the central directory of a ZIP on a device (the file's own extents), reading its
/// tail first to check the announced entry counts.
pub fn open_device(dev: Device) -> Result<Zip<DeviceStream>, ContainerError> {
    let size = dev.size();
    let start = size.saturating_sub(TAIL);
    let mut tail = vec![0u8; (size - start) as usize];
    dev.read_exact_at(start, &mut tail)
        .map_err(|e| ContainerError::Corrupt(format!("zip: reading its end: {e}")))?;
    let entries = announced_entries(&tail, size)?;
    if entries > MAX_IN_PLACE_ENTRIES {
        return Err(ContainerError::Limit(format!(
            "zip announces {entries} entries, more than the {MAX_IN_PLACE_ENTRIES} read in place"
        )));
    }
    let stream = DeviceStream::new(dev, super::STREAM_BUFFER);
    let archive =
        zip::ZipArchive::new(stream).map_err(|e| ContainerError::Corrupt(format!("zip: {e}")))?;
    Ok(Zip { archive })
}

/// Every end-of-central-directory record (classic or ZIP64) in the tail must announce no more
/// entries than the content could hold (46 bytes per central header at least): returns the
/// largest count announced.
fn announced_entries(tail: &[u8], total: u64) -> Result<u64, ContainerError> {
    let max = total / 46;
    let mut largest = 0u64;
    for i in 0..tail.len().saturating_sub(3) {
        let sig = &tail[i..i + 4];
        let (count_at, wide) = if sig == b"PK\x05\x06" {
            (10, false)
        } else if sig == b"PK\x06\x06" {
            (32, true)
        } else {
            continue;
        };
        let field = if wide {
            tail.get(i + count_at..i + count_at + 8)
                .map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
        } else {
            tail.get(i + count_at..i + count_at + 2)
                .map(|b| u64::from(u16::from_le_bytes([b[0], b[1]])))
        };
        if let Some(n) = field {
            // 0xFFFF means "see the ZIP64 record", which is checked on its own.
            if (wide || n != 0xFFFF) && n > max {
                return Err(ContainerError::Corrupt(format!(
                    "zip: central directory announces {n} entries in {total} bytes"
                )));
            }
            largest = largest.max(n);
        }
    }
    Ok(largest)
}

impl<R: Read + Seek> Members for Zip<R> {
    fn for_each(&mut self, visitor: &mut dyn MemberVisitor) -> Result<(), ContainerError> {
        for i in 0..self.archive.len() {
            let (meta, encrypted, is_file) = match self.archive.by_index_raw(i) {
                Ok(f) => (
                    MemberMeta {
                        name: member_name(&f.name().map(|n| n.into_owned()).unwrap_or_default()),
                        size: Some(f.size()),
                        packed: Some(f.compressed_size()),
                    },
                    f.encrypted(),
                    !f.is_dir() && !f.is_symlink(),
                ),
                Err(e) => {
                    let meta = MemberMeta {
                        name: format!("<entry {i}>"),
                        ..MemberMeta::default()
                    };
                    if visitor
                        .member(&meta, Content::Error(format!("zip: {e}")))
                        .is_break()
                    {
                        return Ok(());
                    }
                    continue;
                }
            };
            if !is_file {
                continue;
            }
            let flow = if encrypted {
                visitor.member(&meta, Content::Skipped(SkipReason::Encrypted))
            } else {
                match self.archive.by_index(i) {
                    Ok(mut f) => visitor.member(&meta, Content::Data(&mut f)),
                    Err(zip::result::ZipError::UnsupportedArchive(_))
                    | Err(zip::result::ZipError::CompressionMethodNotSupported(_)) => {
                        visitor.member(&meta, Content::Skipped(SkipReason::UnsupportedArchive))
                    }
                    Err(zip::result::ZipError::InvalidPassword) => {
                        visitor.member(&meta, Content::Skipped(SkipReason::Encrypted))
                    }
                    Err(e) => visitor.member(&meta, Content::Error(format!("zip: {e}"))),
                }
            };
            if let ControlFlow::Break(()) = flow {
                return Ok(());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hostile_entry_count_is_refused_before_the_crate_allocates() {
        let mut eocd = b"PK\x05\x06".to_vec();
        eocd.extend_from_slice(&[0, 0, 0, 0, 0xfe, 0xff, 0xfe, 0xff]);
        eocd.extend_from_slice(&[0u8; 10]);
        assert!(matches!(open(&eocd), Err(ContainerError::Corrupt(_))));
        let mut z64 = b"PK\x06\x06".to_vec();
        z64.extend_from_slice(&[0u8; 28]);
        z64.extend_from_slice(&u64::MAX.to_le_bytes());
        z64.extend_from_slice(&[0u8; 24]);
        assert!(announced_entries(&z64, z64.len() as u64).is_err());
        // The same record over a large device: within the content, but not read in place.
        let mut z64 = b"PK\x06\x06".to_vec();
        z64.extend_from_slice(&[0u8; 28]);
        z64.extend_from_slice(&(MAX_IN_PLACE_ENTRIES + 1).to_le_bytes());
        z64.extend_from_slice(&[0u8; 24]);
        let mut big = vec![0u8; 8 << 20];
        big.extend_from_slice(&z64);
        let dev: Device = std::sync::Arc::new(crate::io::MemDevice::new(big));
        assert!(matches!(open_device(dev), Err(ContainerError::Limit(_))));
    }
}
