//! Which reader a detected volume gets, and whether a volume no reader takes holds anything
//! worth scanning (a leaf: the volume sequence and the walk both ask it).

use crate::disk::table::{Partition, PartitionType};
use crate::fs::{FsError, Walker};
use crate::io::{Device, ReadAt};
use crate::record::FsKind;

/// Opens the reader for a detected filesystem.
pub(super) fn open_walker(fs: FsKind, dev: Device) -> Result<Box<dyn Walker>, FsError> {
    Ok(match fs {
        FsKind::Fat12 | FsKind::Fat16 | FsKind::Fat32 => Box::new(crate::fs::fat::open(dev)?),
        FsKind::Exfat => Box::new(crate::fs::exfat::open(dev)?),
        FsKind::Ntfs => Box::new(crate::fs::ntfs::open(dev)?),
        FsKind::Ext2 | FsKind::Ext3 | FsKind::Ext4 => Box::new(crate::fs::ext4::open(dev)?),
        other => {
            return Err(FsError::Unsupported {
                fs: other.as_str(),
                reason: "no reader".into(),
            });
        }
    })
}

/// GPT type of the Microsoft reserved partition (never holds a filesystem).
const GPT_MSR: &str = "e3c9e316-0b5c-4db8-817d-f92df00215ae";
/// GPT type of the BIOS boot partition (raw boot loader code, scanned as `<raw volume>`).
const GPT_BIOS_BOOT: &str = "21686148-6449-6e6f-744e-656564454649";

/// Whether an unreadable volume holds nothing worth scanning, so that it does not make the
/// verdict incomplete: swap, Microsoft reserved, BIOS boot (scanned raw), or all zeros.
pub(super) fn negligible(fs: FsKind, part: &Partition, dev: &Device) -> bool {
    match fs {
        FsKind::Swap => true,
        FsKind::Unknown => {
            if let PartitionType::Gpt(t) = &part.type_id {
                if t == GPT_MSR || t == GPT_BIOS_BOOT {
                    return true;
                }
            }
            let mut head = vec![0u8; 64 * 1024];
            match dev.read_at(0, &mut head) {
                Ok(n) => head[..n].iter().all(|&b| b == 0),
                Err(_) => false,
            }
        }
        _ => false,
    }
}
