//! ZIP and the formats built on it (OOXML `.docx/.xlsx/.pptx`, `.jar`, `.apk`, `.odt`), with
//! the `zip` crate (MIT): stored, deflate, deflate64, bzip2, LZMA and XZ methods, ZIP64.
//!
//! Before the crate sees the bytes, the end-of-central-directory records are checked against
//! the content's size: the crate sizes its file table from them, and a hostile count must not
//! turn into a huge allocation. Encrypted members (ZipCrypto, AES) are counted `encrypted`;
//! members with a method the crate does not decode, `unsupported_archive`.

use std::io::Cursor;
use std::ops::ControlFlow;

use super::{member_name, ContainerError, MemberMeta, MemberVisitor, Members};
use crate::fs::{Content, SkipReason};

/// An opened ZIP.
pub struct Zip<'a> {
    archive: zip::ZipArchive<Cursor<&'a [u8]>>,
}

/// Parses the central directory.
pub fn open(data: &[u8]) -> Result<Zip<'_>, ContainerError> {
    check_directory_counts(data)?;
    let archive = zip::ZipArchive::new(Cursor::new(data))
        .map_err(|e| ContainerError::Corrupt(format!("zip: {e}")))?;
    Ok(Zip { archive })
}

/// Every end-of-central-directory record (classic or ZIP64) in the tail must announce no more
/// entries than the content could hold (46 bytes per central header at least).
fn check_directory_counts(data: &[u8]) -> Result<(), ContainerError> {
    let max = (data.len() / 46) as u64;
    let tail_start = data.len().saturating_sub(65_557 + 56 + 20);
    let tail = &data[tail_start..];
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
                    "zip: central directory announces {n} entries in {} bytes",
                    data.len()
                )));
            }
        }
    }
    Ok(())
}

impl Members for Zip<'_> {
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
        assert!(check_directory_counts(&z64).is_err());
    }
}
