//! Microsoft Cabinet files (`.cab`, also inside installers and Windows updates) with the `cab`
//! crate (MIT): stored, MSZIP and LZX folders (via `lzxd`). Quantum folders are counted
//! `unsupported_archive`.

use std::io::Cursor;
use std::ops::ControlFlow;

use super::{member_name, ContainerError, MemberMeta, MemberVisitor, Members};
use crate::fs::{Content, SkipReason};

/// An opened cabinet.
pub struct Cab<'a> {
    cabinet: cab::Cabinet<Cursor<&'a [u8]>>,
}

/// Reads the header, folder and file tables.
pub fn open(data: &[u8]) -> Result<Cab<'_>, ContainerError> {
    let cabinet = cab::Cabinet::new(Cursor::new(data))
        .map_err(|e| ContainerError::Corrupt(format!("cab: {e}")))?;
    Ok(Cab { cabinet })
}

impl Members for Cab<'_> {
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
