//! The exFAT boot region: the main boot sector and its eleven-sector checksum, with the backup
//! region (sectors 12..24) as the fallback when the main one is damaged.
//!
//! Every field is checked against the ranges the specification allows before anything is
//! derived from it, so the geometry that leaves this module can be trusted for arithmetic
//! (no overflow, no zero divisor) though not for content.

use crate::fs::FsError;
use crate::io::ReadAt;

const FS: &str = "exfat";

/// Sectors in one boot region (boot sector, 8 extended boot sectors, OEM parameters,
/// reserved, checksum sector).
const REGION_SECTORS: u64 = 12;

/// Highest cluster count the specification allows.
const MAX_CLUSTERS: u64 = 0xFFFF_FFF5;

/// `VolumeFlags` bits (boot sector offset 106).
const FLAG_ACTIVE_FAT: u16 = 0x1;
const FLAG_DIRTY: u16 = 0x2;
const FLAG_MEDIA_FAILURE: u16 = 0x4;

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn le64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Where everything lies, in bytes from the start of the volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub(crate) bytes_per_sector: u64,
    pub(crate) cluster_size: u64,
    /// Byte offset of the FAT in use (the second one when `ActiveFat` says so).
    pub(crate) fat_offset: u64,
    /// Bytes of one FAT.
    pub(crate) fat_bytes: u64,
    pub(crate) heap_offset: u64,
    /// Clusters in the heap, numbered 2..cluster_count + 2.
    pub(crate) cluster_count: u64,
    pub(crate) root_cluster: u64,
    pub(crate) volume_length: u64,
    pub(crate) serial: u32,
    pub(crate) flags: u16,
}

impl Geometry {
    /// Whether `c` names a cluster of the heap.
    pub(crate) fn valid_cluster(&self, c: u64) -> bool {
        c >= 2 && c < self.cluster_count + 2
    }

    /// Byte offset of cluster `c` (which must be valid).
    pub(crate) fn cluster_offset(&self, c: u64) -> u64 {
        self.heap_offset + (c - 2) * self.cluster_size
    }

    pub(crate) fn dirty(&self) -> bool {
        self.flags & FLAG_DIRTY != 0
    }

    pub(crate) fn media_failure(&self) -> bool {
        self.flags & FLAG_MEDIA_FAILURE != 0
    }
}

/// The boot region's checksum: sectors 0..11, skipping `VolumeFlags` (106, 107) and
/// `PercentInUse` (112), which change without the checksum being rewritten.
pub(crate) fn region_checksum(region: &[u8], bytes_per_sector: usize) -> u32 {
    let mut sum: u32 = 0;
    for (i, &b) in region[..11 * bytes_per_sector].iter().enumerate() {
        if i == 106 || i == 107 || i == 112 {
            continue;
        }
        sum = sum.rotate_right(1).wrapping_add(u32::from(b));
    }
    sum
}

/// Parses and checks one boot sector (the first 512 bytes of a region).
fn parse_sector(b: &[u8]) -> Result<Geometry, String> {
    if &b[3..11] != b"EXFAT   " {
        return Err("no EXFAT signature".into());
    }
    if b[510..512] != [0x55, 0xAA] {
        return Err("no boot signature".into());
    }
    if b[11..64].iter().any(|&x| x != 0) {
        return Err("MustBeZero field is not zero".into());
    }
    let bps_shift = u32::from(b[108]);
    let spc_shift = u32::from(b[109]);
    if !(9..=12).contains(&bps_shift) {
        return Err(format!("bytes-per-sector shift {bps_shift} outside 9..12"));
    }
    if spc_shift > 25 - bps_shift {
        return Err(format!("sectors-per-cluster shift {spc_shift} too large"));
    }
    let fats = u64::from(b[110]);
    if !(1..=2).contains(&fats) {
        return Err(format!("{fats} FATs (1 or 2 allowed)"));
    }
    let bytes_per_sector = 1u64 << bps_shift;
    let cluster_size = bytes_per_sector << spc_shift;
    let volume_length = le64(b, 72);
    let fat_sector = u64::from(le32(b, 80));
    let fat_sectors = u64::from(le32(b, 84));
    let heap_sector = u64::from(le32(b, 88));
    let cluster_count = u64::from(le32(b, 92));
    let root_cluster = u64::from(le32(b, 96));
    let flags = le16(b, 106);
    if fat_sector < 24 {
        return Err("FAT inside the boot regions".into());
    }
    if fat_sectors == 0 {
        return Err("FAT length is zero".into());
    }
    if heap_sector < fat_sector + fats * fat_sectors {
        return Err("cluster heap overlaps the FAT".into());
    }
    if cluster_count == 0 || cluster_count > MAX_CLUSTERS {
        return Err(format!("cluster count {cluster_count} out of range"));
    }
    if fat_sectors * bytes_per_sector < (cluster_count + 2) * 4 {
        return Err("FAT too short for the cluster count".into());
    }
    if root_cluster < 2 || root_cluster >= cluster_count + 2 {
        return Err(format!(
            "root directory cluster {root_cluster} outside the heap"
        ));
    }
    let active = if flags & FLAG_ACTIVE_FAT != 0 && fats == 2 {
        1
    } else {
        0
    };
    Ok(Geometry {
        bytes_per_sector,
        cluster_size,
        fat_offset: (fat_sector + active * fat_sectors) * bytes_per_sector,
        fat_bytes: fat_sectors * bytes_per_sector,
        heap_offset: heap_sector * bytes_per_sector,
        cluster_count,
        root_cluster,
        volume_length,
        serial: le32(b, 100),
        flags,
    })
}

/// Reads and checks the boot region starting at sector `first` (0 or 12, in units of the
/// sector size that region's own boot sector states). `Ok((geometry, None))` when the
/// checksum holds, `Ok((geometry, Some(why)))` when only the checksum is wrong.
fn read_region(dev: &dyn ReadAt, first: u64) -> Result<(Geometry, Option<String>), String> {
    // The sector size is not known before the boot sector is read: probe with 512 bytes
    // for the main region; the backup region's position depends on the main one's sector
    // size, so try every allowed size.
    let mut head = [0u8; 512];
    let read = |at: u64, buf: &mut [u8]| -> Result<(), String> {
        match dev.read_at(at, buf) {
            Ok(n) if n == buf.len() => Ok(()),
            Ok(_) => Err("volume shorter than its boot region".into()),
            Err(e) => Err(format!("read error: {e}")),
        }
    };
    let mut last = String::from("no boot sector");
    for bps_shift in 9..=12u32 {
        let bps = 1u64 << bps_shift;
        let at = first * bps;
        if first == 0 && bps_shift > 9 {
            break;
        }
        read(at, &mut head)?;
        let geo = match parse_sector(&head) {
            Ok(g) => g,
            Err(e) => {
                last = e;
                continue;
            }
        };
        if first != 0 && geo.bytes_per_sector != bps {
            last = "backup boot sector states another sector size".into();
            continue;
        }
        let bps = usize::try_from(geo.bytes_per_sector).map_err(|e| e.to_string())?;
        let mut region = vec![0u8; bps * REGION_SECTORS as usize];
        read(first * geo.bytes_per_sector, &mut region)?;
        let sum = region_checksum(&region, bps);
        let stored = &region[11 * bps..12 * bps];
        if stored
            .chunks_exact(4)
            .any(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) != sum)
        {
            return Ok((
                geo,
                Some(format!(
                    "boot region checksum mismatch (computed {sum:#010x})"
                )),
            ));
        }
        return Ok((geo, None));
    }
    Err(last)
}

/// What opening the boot region found.
#[derive(Debug)]
pub(crate) struct BootRegion {
    pub(crate) geometry: Geometry,
    /// Human-readable remarks (checksum mismatch, backup used, ...).
    pub(crate) notes: Vec<String>,
}

/// Reads the main boot region; if it is damaged, the backup one. When both regions fail
/// their checksum but the main boot sector itself is sane, the main one is used (and said).
pub(crate) fn read(dev: &dyn ReadAt) -> Result<BootRegion, FsError> {
    let main = read_region(dev, 0);
    if let Ok((geometry, None)) = main {
        return Ok(BootRegion {
            geometry,
            notes: Vec::new(),
        });
    }
    let main_problem = match &main {
        Ok((_, Some(why))) => why.clone(),
        Err(e) => e.clone(),
        Ok((_, None)) => String::new(),
    };
    match (main, read_region(dev, REGION_SECTORS)) {
        (_, Ok((geometry, None))) => Ok(BootRegion {
            geometry,
            notes: vec![format!(
                "main boot region damaged ({main_problem}): the backup boot region was used"
            )],
        }),
        (Ok((geometry, _)), _) => Ok(BootRegion {
            geometry,
            notes: vec![format!(
                "{main_problem}, and the backup boot region is no better: main boot sector used"
            )],
        }),
        (Err(_), Ok((geometry, Some(why)))) => Ok(BootRegion {
            geometry,
            notes: vec![format!(
                "main boot region damaged ({main_problem}); backup boot region used although \
                 {why}"
            )],
        }),
        (Err(_), Err(backup)) => Err(FsError::Invalid {
            fs: FS,
            reason: format!("main boot region: {main_problem}; backup boot region: {backup}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_skips_the_volatile_fields() {
        let mut r = vec![0u8; 11 * 512];
        r[0] = 1;
        let a = region_checksum(&r, 512);
        r[106] = 0xFF;
        r[107] = 0xFF;
        r[112] = 0x33;
        assert_eq!(region_checksum(&r, 512), a);
        r[113] = 1;
        assert_ne!(region_checksum(&r, 512), a);
        // One byte 1 then 11*512-1 zeros: rotated right that many times.
        assert_eq!(a, 1u32.rotate_right(11 * 512 - 1 - 3));
    }
}
