//! ext reader: placeholder until the reader lands (every volume reports "unsupported").

use crate::fs::{FsError, Visitor, VolumeInfo, WalkEnd, Walker};
use crate::io::Device;

/// Placeholder walker.
pub struct Ext4Walker;

/// Placeholder: refuses every volume.
pub fn open(_dev: Device) -> Result<Ext4Walker, FsError> {
    Err(FsError::Unsupported {
        fs: "ext4",
        reason: "reader not built yet".into(),
    })
}

impl Walker for Ext4Walker {
    fn info(&self) -> VolumeInfo {
        VolumeInfo::default()
    }
    fn walk(&mut self, _visitor: &mut dyn Visitor) -> Result<WalkEnd, FsError> {
        Ok(WalkEnd::Complete)
    }
}
