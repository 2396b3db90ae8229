//! A FAT file of 1 MiB and more seen as a random-access device over the data region, for the
//! scan engine to open a container too large for memory in place (issue 13).
//!
//! `fatfs` keeps a file's first cluster and its chain private, so the walker learns the first
//! cluster from the [`super::probe::Probe`] (the device offset of the crate's read of the
//! file's first byte) and the chain is read here, from the FAT the crate reads (the active
//! one when FAT32 mirroring is off), with the crate's meaning of its values (free, bad and
//! end-of-chain values end a chain). The walk is bounded: never more links than the file's
//! size needs, that count itself no more than the volume's clusters, every link a cluster of
//! the volume; a chain that loops within those links is refused by the run table (two runs on
//! the same clusters). A chain that ends early leaves the rest of the file a read error, as
//! the walker's stream does.

use std::sync::Arc;

use fatfs::FatType;

use super::geometry::Geometry;
use crate::fs::runmap::{Gap, MapRun, RunMap, RunTable};
use crate::io::{Device, ReadAt};

/// Where the chains and the data of a volume are, as the crate reads them.
#[derive(Debug, Clone, Copy)]
pub(super) struct Layout {
    kind: FatType,
    /// Byte offset of the FAT in use.
    fat: u64,
    fat_bytes: u64,
    data_start: u64,
    cluster_size: u64,
    /// Clusters of the data region, numbered 2..clusters + 2.
    clusters: u64,
}

impl Layout {
    /// The layout of a volume of geometry `geo` and boot sector `boot`, read as `kind`.
    pub(super) fn new(geo: &Geometry, boot: &[u8; 512], kind: FatType) -> Self {
        let fats = geo
            .fat_end
            .saturating_sub(geo.fat_start)
            .checked_div(geo.fat_bytes)
            .unwrap_or(1);
        // FAT32 `ExtFlags`: bit 7 set means one active FAT (bits 0-3) instead of mirrors.
        let flags = u64::from(boot[0x28]);
        let active = if geo.fat32_bpb && flags & 0x80 != 0 && (flags & 0x0F) < fats {
            flags & 0x0F
        } else {
            0
        };
        Self {
            kind,
            fat: geo.fat_start + active * geo.fat_bytes,
            fat_bytes: geo.fat_bytes,
            data_start: geo.data_start,
            cluster_size: geo.cluster_size,
            clusters: geo.count.clusters,
        }
    }

    fn valid(&self, c: u64) -> bool {
        c >= 2 && c - 2 < self.clusters
    }

    /// The FAT's link from cluster `c`: `Some(next)`, or `None` at the end of the chain (the
    /// end mark, and as the crate reads them, a free or a bad cluster's value).
    fn link(&self, meta: &dyn ReadAt, c: u64) -> Result<Option<u64>, String> {
        let (at, width) = match self.kind {
            FatType::Fat12 => (c + c / 2, 2),
            FatType::Fat16 => (2 * c, 2),
            FatType::Fat32 => (4 * c, 4),
        };
        if at + width > self.fat_bytes {
            return Err(format!("cluster {c} has no entry in the FAT"));
        }
        let mut b = [0u8; 4];
        meta.read_exact_at(self.fat + at, &mut b[..width as usize])
            .map_err(|e| format!("FAT unreadable at cluster {c}: {e}"))?;
        let raw = u32::from_le_bytes(b);
        let (value, end) = match self.kind {
            FatType::Fat12 if c % 2 == 1 => (raw >> 4, 0xFF7),
            FatType::Fat12 => (raw & 0x0FFF, 0xFF7),
            FatType::Fat16 => (raw, 0xFFF7),
            FatType::Fat32 => (raw & 0x0FFF_FFFF, 0x0FFF_FFF7),
        };
        Ok((value != 0 && value < end).then_some(u64::from(value)))
    }
}

/// The device over a file of `size` bytes whose first byte the crate read at device offset
/// `first_read`, or why it cannot be built.
pub(super) fn device(
    layout: &Layout,
    dev: &Device,
    first_read: u64,
    size: u64,
) -> Result<Device, String> {
    let cs = layout.cluster_size;
    let rel = first_read
        .checked_sub(layout.data_start)
        .ok_or("first read before the data region")?;
    if rel % cs != 0 {
        return Err(format!(
            "first read at {first_read} is not a cluster's start"
        ));
    }
    let needed = size.div_ceil(cs);
    if needed > layout.clusters {
        return Err(format!("file size {size} exceeds the volume's clusters"));
    }
    let mut table = RunTable::default();
    let mut cluster = Some(rel / cs + 2);
    for i in 0..needed {
        let Some(c) = cluster else { break };
        if !layout.valid(c) {
            return Err(format!("cluster chain reaches invalid cluster {c}"));
        }
        table.push(MapRun {
            logical: i * cs,
            len: cs,
            phys: layout.data_start + (c - 2) * cs,
        })?;
        cluster = if i + 1 < needed {
            layout.link(dev.as_ref(), c)?
        } else {
            None
        };
    }
    Ok(Arc::new(RunMap::new(
        dev.clone(),
        size,
        size,
        Gap::Error,
        table,
    )?))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::io::MemDevice;

    /// A FAT12 volume in miniature: the FAT (one copy, 16 bytes) at 0, eight clusters of 16
    /// bytes from 64, cluster `c` filled with the byte `c`. The FAT's bytes are written out by
    /// hand, 12-bit entries packed two in three bytes (entry 2k in byte 3k and the low nibble
    /// of 3k+1, entry 2k+1 in the high nibble of 3k+1 and byte 3k+2):
    /// 2→3, 3→5, 4 end, 5→4, 6 bad, 7→0xABC, 8 free, 9→0x123.
    fn fat12() -> (Layout, Device) {
        let fat: [u8; 16] = [
            0xF0, 0xFF, 0xFF, // entries 0 and 1
            0x03, 0x50, 0x00, // 2 = 0x003, 3 = 0x005
            0xFF, 0x4F, 0x00, // 4 = 0xFFF, 5 = 0x004
            0xF7, 0xCF, 0xAB, // 6 = 0xFF7, 7 = 0xABC
            0x00, 0x30, 0x12, // 8 = 0x000, 9 = 0x123
            0x00,
        ];
        let mut bytes = vec![0u8; 64];
        bytes[..16].copy_from_slice(&fat);
        for c in 2..10u8 {
            bytes.extend([c; 16]);
        }
        let layout = Layout {
            kind: FatType::Fat12,
            fat: 0,
            fat_bytes: 16,
            data_start: 64,
            cluster_size: 16,
            clusters: 8,
        };
        (layout, Arc::new(MemDevice::new(bytes)))
    }

    #[test]
    fn fat12_entries_decode_even_and_odd_with_their_end_bad_and_free_values() {
        let (layout, dev) = fat12();
        let links: Vec<Option<u64>> = (2..10)
            .map(|c| layout.link(dev.as_ref(), c).unwrap())
            .collect();
        assert_eq!(
            links,
            [
                Some(3),
                Some(5),
                None,
                Some(4),
                None,
                Some(0xABC),
                None,
                Some(0x123)
            ]
        );
        // Entry 10 would need bytes 15 and 16: past the FAT.
        assert!(layout.link(dev.as_ref(), 10).is_err());
    }

    #[test]
    fn a_fat12_chain_maps_its_clusters_in_chain_order_and_stops_at_its_end() {
        let (layout, dev) = fat12();
        // 2→3→5→4: four clusters, not in disk order.
        let m = device(&layout, &dev, 64, 60).unwrap();
        let mut buf = vec![0u8; 60];
        m.read_exact_at(0, &mut buf).unwrap();
        let want: Vec<u8> = [2u8, 3, 5, 4]
            .iter()
            .flat_map(|&c| [c; 16])
            .take(60)
            .collect();
        assert_eq!(buf, want);
        // A fifth cluster the chain does not have: a read error, not zeros.
        let m = device(&layout, &dev, 64, 70).unwrap();
        let mut buf = vec![0u8; 70];
        assert!(m.read_exact_at(0, &mut buf).is_err());
        // 7→0xABC: not a cluster of the volume.
        assert!(device(&layout, &dev, 64 + 5 * 16, 40).is_err());
        // A first read inside a cluster is refused.
        assert!(device(&layout, &dev, 65, 40).is_err());
    }
}
