//! tar (POSIX ustar, GNU long names, pax headers) with the `tar` crate (MIT/Apache-2.0).
//! Regular files are members; links, directories and devices are not.

use std::ops::ControlFlow;

use super::{member_name, ContainerError, MemberMeta, MemberVisitor, Members};
use crate::fs::Content;

/// A tar archive held in memory.
pub struct Tar<'a> {
    data: &'a [u8],
}

/// Wraps the bytes (headers are read as members are visited).
pub fn open(data: &[u8]) -> Tar<'_> {
    Tar { data }
}

impl Members for Tar<'_> {
    fn for_each(&mut self, visitor: &mut dyn MemberVisitor) -> Result<(), ContainerError> {
        let mut archive = tar::Archive::new(self.data);
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
