//! OLE compound files (`.doc/.xls/.ppt`, `.msi`, Outlook `.msg`, `vbaProject.bin`) with the
//! `cfb` crate (MIT): every stream is a member, named by its storage path.

use std::io::Cursor;
use std::ops::ControlFlow;

use super::{member_name, ContainerError, MemberMeta, MemberVisitor, Members};
use crate::fs::Content;

/// An opened compound file.
pub struct Ole<'a> {
    file: cfb::CompoundFile<Cursor<&'a [u8]>>,
}

/// Parses the header, FAT and directory.
pub fn open(data: &[u8]) -> Result<Ole<'_>, ContainerError> {
    let file = cfb::CompoundFile::open(Cursor::new(data))
        .map_err(|e| ContainerError::Corrupt(format!("ole: {e}")))?;
    Ok(Ole { file })
}

impl Members for Ole<'_> {
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
            let flow = match self.file.open_stream(&path) {
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
