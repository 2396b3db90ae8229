//! Where the regions of a FAT volume lie (FATs, root directory, data), read from its boot
//! sector here as well: the crate keeps its own parse private, and the probe needs the regions.

use super::{bpb, FS};
use crate::fs::FsError;

/// Where the regions of a FAT volume lie, from its boot sector (parsed here as well, because
/// the crate keeps it private and the probe needs it).
#[derive(Debug, Clone, Copy)]
pub(super) struct Geometry {
    pub(super) bytes_per_sector: u64,
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) fat_start: u64,
    pub(super) fat_bytes: u64,
    pub(super) fat_end: u64,
    pub(super) data_start: u64,
    pub(super) cluster_size: u64,
    pub(super) fat32_bpb: bool,
    pub(super) fs_info_sector: u64,
    pub(super) reserved_sectors: u64,
    pub(super) sectors_per_cluster: u64,
    /// The volume's size as Linux reads it.
    pub(super) count: bpb::Count,
}

pub(super) fn le16(b: &[u8], at: usize) -> u64 {
    u64::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

pub(super) fn le32(b: &[u8], at: usize) -> u64 {
    u64::from(u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]))
}

impl Geometry {
    pub(super) fn parse(boot: &[u8; 512]) -> Result<Self, FsError> {
        let invalid = |reason: &str| FsError::Invalid {
            fs: FS,
            reason: reason.to_string(),
        };
        if boot[510..512] != [0x55, 0xAA] {
            return Err(invalid("no boot sector signature"));
        }
        let bytes_per_sector = le16(boot, 0x0B);
        let sectors_per_cluster = u64::from(boot[0x0D]);
        if !(512..=4096).contains(&bytes_per_sector) || !bytes_per_sector.is_power_of_two() {
            return Err(invalid("bytes per sector not a power of two in 512..4096"));
        }
        if sectors_per_cluster == 0 || !sectors_per_cluster.is_power_of_two() {
            return Err(invalid("sectors per cluster not a power of two"));
        }
        let reserved_sectors = le16(boot, 0x0E);
        let fats = u64::from(boot[0x10]);
        let root_entries = le16(boot, 0x11);
        let spf16 = le16(boot, 0x16);
        let fat32_bpb = spf16 == 0;
        let spf = if fat32_bpb { le32(boot, 0x24) } else { spf16 };
        let fat_start = reserved_sectors * bytes_per_sector;
        let fat_bytes = spf * bytes_per_sector;
        let fat_end = fat_start + fats * fat_bytes;
        let root_bytes = (root_entries * 32).div_ceil(bytes_per_sector) * bytes_per_sector;
        let data_start = fat_end + root_bytes;
        let cluster_size = sectors_per_cluster * bytes_per_sector;
        let count = bpb::count(
            boot,
            data_start / bytes_per_sector,
            spf,
            sectors_per_cluster,
        );
        Ok(Self {
            bytes_per_sector,
            fat_start,
            fat_bytes,
            fat_end,
            data_start,
            cluster_size,
            fat32_bpb,
            fs_info_sector: if fat32_bpb { le16(boot, 0x30) } else { 0 },
            reserved_sectors,
            sectors_per_cluster,
            count,
        })
    }
}
