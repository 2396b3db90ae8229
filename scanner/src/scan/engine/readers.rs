//! Whether a volume no reader takes holds anything worth scanning (a leaf: the volume sequence
//! and the walk both ask it; which reader a volume gets is `fs::open`).

use crate::disk::table::{Partition, PartitionType};
use crate::io::{Device, ReadAt};
use crate::record::FsKind;

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
