//! NTFS reader: placeholder until the reader lands (every volume reports "unsupported").

use crate::fs::{FsError, Visitor, VolumeInfo, WalkEnd, Walker};
use crate::io::Device;

/// Placeholder walker.
pub struct NtfsWalker;

/// Placeholder: refuses every volume.
pub fn open(_dev: Device) -> Result<NtfsWalker, FsError> {
    Err(FsError::Unsupported {
        fs: "ntfs",
        reason: "reader not built yet".into(),
    })
}

impl Walker for NtfsWalker {
    fn info(&self) -> VolumeInfo {
        VolumeInfo::default()
    }
    fn walk(&mut self, _visitor: &mut dyn Visitor) -> Result<WalkEnd, FsError> {
        Ok(WalkEnd::Complete)
    }
}
