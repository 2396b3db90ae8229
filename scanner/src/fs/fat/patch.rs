//! A device with a few byte ranges replaced, to present a corrected boot sector (see
//! [`super::bpb`]) and a FAT32 FSInfo sector with valid signatures to a crate that refuses the
//! real ones. The disk itself is never written.

use std::io;

use super::geometry::Geometry;
use crate::fs::FsError;
use crate::io::{Device, ReadAt};

/// A device whose bytes in each `[at, at + bytes.len())` read as `bytes` instead: used to
/// present a corrected boot sector (see [`bpb`]) and a FAT32 FSInfo sector with valid
/// signatures to a crate that refuses the real ones.
pub(super) struct Patched {
    pub(super) inner: Device,
    pub(super) patches: Vec<(u64, Vec<u8>)>,
}

impl ReadAt for Patched {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read_at(offset, buf)?;
        let end = offset + n as u64;
        for (at, bytes) in &self.patches {
            let patch_end = at + bytes.len() as u64;
            if offset < patch_end && end > *at {
                let from = offset.max(*at);
                let to = end.min(patch_end);
                let dst = usize::try_from(from - offset).unwrap_or(0);
                let src = usize::try_from(from - at).unwrap_or(0);
                let len = usize::try_from(to - from).unwrap_or(0);
                buf[dst..dst + len].copy_from_slice(&bytes[src..src + len]);
            }
        }
        Ok(n)
    }
    fn size(&self) -> u64 {
        self.inner.size()
    }
}

const FSINFO_LEAD: [u8; 4] = 0x4161_5252u32.to_le_bytes();
const FSINFO_STRUC: [u8; 4] = 0x6141_7272u32.to_le_bytes();
const FSINFO_TRAIL: [u8; 4] = 0xAA55_0000u32.to_le_bytes();

/// If the FAT32 FSInfo sector has a bad signature, returns a device presenting corrected
/// signatures (and "unknown" free-cluster hints, which a reader never needs).
pub(super) fn fix_fs_info(dev: &Device, geo: &Geometry) -> Result<Option<(u64, Vec<u8>)>, FsError> {
    if !geo.fat32_bpb || geo.fs_info_sector == 0 || geo.fs_info_sector >= geo.reserved_sectors {
        return Ok(None);
    }
    let at = geo.fs_info_sector * geo.bytes_per_sector;
    let mut sector = vec![0u8; 512];
    if dev.read_at(at, &mut sector)? != 512 {
        return Ok(None);
    }
    if sector[0..4] == FSINFO_LEAD
        && sector[484..488] == FSINFO_STRUC
        && sector[508..512] == FSINFO_TRAIL
    {
        return Ok(None);
    }
    sector[0..4].copy_from_slice(&FSINFO_LEAD);
    sector[484..488].copy_from_slice(&FSINFO_STRUC);
    sector[488..496].fill(0xFF);
    sector[508..512].copy_from_slice(&FSINFO_TRAIL);
    Ok(Some((at, sector)))
}
