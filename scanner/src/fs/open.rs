//! Which reader a detected filesystem gets: the one table of readers, used by the scan engine
//! for the machine's volumes and by disk images found as files (`container::disk`), so that a
//! filesystem read on a disk is also read inside an image of one.

use super::{FsError, Walker};
use crate::io::Device;
use crate::record::FsKind;

/// Opens the reader for a detected filesystem; `Unsupported` when there is none.
pub fn walker(fs: FsKind, dev: Device) -> Result<Box<dyn Walker>, FsError> {
    Ok(match fs {
        FsKind::Fat12 | FsKind::Fat16 | FsKind::Fat32 => Box::new(super::fat::open(dev)?),
        FsKind::Exfat => Box::new(super::exfat::open(dev)?),
        FsKind::Ntfs => Box::new(super::ntfs::open(dev)?),
        FsKind::Ext2 | FsKind::Ext3 | FsKind::Ext4 => Box::new(super::ext4::open(dev)?),
        other => {
            return Err(FsError::Unsupported {
                fs: other.as_str(),
                reason: "no reader".into(),
            });
        }
    })
}
