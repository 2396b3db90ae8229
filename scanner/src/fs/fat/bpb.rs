//! FAT boot sectors as Linux reads them, and the corrected copy shown to the `fatfs` crate.
//!
//! Real systems write BPBs that bend the specification and that Linux's vfat (`fat_fill_super`
//! in `fs/fat/inode.c`) reads anyway, while `fatfs` 0.3.6 refuses them:
//!
//! - FAT type. Linux: FAT32 when the 16-bit FAT size is 0 (and the 32-bit one is not),
//!   whatever the cluster count; otherwise FAT16 above 4084 clusters, else FAT12. `fatfs`
//!   decides by the cluster count only and refuses a FAT32 BPB with fewer than 65 525
//!   clusters (nobodd's `fat32.img`, `mkfs.fat -F 32` on a small device).
//! - Total sectors. Linux takes the 16-bit count, else the 32-bit one; with both 0 its
//!   unsigned arithmetic ends with the cluster count the FAT can hold. DR-DOS puts a 64-bit
//!   count at offset 0x52 of a FAT32 BPB (over the "FAT32   " type string) when both are 0;
//!   Linux has no such field (checked in `fat_read_bpb`/`fat_fill_super`), so a FAT32 whose
//!   count is only there is read here from that field when it is plausible, else from the
//!   FAT's size as Linux would. `fatfs` wants exactly one of the 16/32-bit counts set, and the
//!   16-bit one 0 on FAT32.
//! - `fatfs` also refuses a FAT32 version other than 0, a backup boot sector or FSInfo
//!   sector outside the reserved area; Linux ignores the first two and uses sector 1 when
//!   the FSInfo sector is 0.
//!
//! [`present`] returns a boot sector that makes `fatfs` decide what Linux decides: the
//! cluster count it computes is moved into the class of the Linux FAT type (a few more
//! clusters than the volume has for an undersized FAT32: they are never reached by a chain
//! the FAT describes, and reading one would fail as a read past the end), the count sits in
//! the 32-bit field, and the fields it rejects for no reading purpose are neutralised.

/// Where the total sector count came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CountSource {
    Field16,
    Field32,
    /// DR-DOS's 64-bit count at 0x52 of a FAT32 BPB.
    Field64,
    /// No count at all: the FAT's capacity decides, as in Linux.
    FatSize,
}

fn le16(b: &[u8], at: usize) -> u64 {
    u64::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

fn le32(b: &[u8], at: usize) -> u64 {
    u64::from(u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]))
}

fn le64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Below this count `fatfs` calls a volume FAT16 (and FAT32 at or above it).
pub(super) const FATFS_FAT32_MIN: u64 = 65_525;
/// Most clusters a FAT32 may have.
const FAT32_MAX: u64 = 0x0FFF_FFF5;

/// The volume's size as Linux sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Count {
    pub(super) source: CountSource,
    /// Clusters of the data area, clamped to what the FAT can describe (as Linux does).
    pub(super) clusters: u64,
    /// FAT32 by the BPB's layout (16-bit FAT size 0).
    pub(super) fat32: bool,
}

/// Reads the total sector count and cluster count as Linux does. `data_start_sectors`,
/// `fat_sectors` (one FAT) and `spc` come from the already checked BPB.
pub(super) fn count(
    boot: &[u8; 512],
    data_start_sectors: u64,
    fat_sectors: u64,
    spc: u64,
) -> Count {
    let bps = le16(boot, 0x0B);
    let fat32 = le16(boot, 0x16) == 0;
    let total16 = le16(boot, 0x13);
    let total32 = le32(boot, 0x20);
    let bits = if fat32 { 32 } else { 16 };
    let fat_capacity = (fat_sectors * bps * 8 / bits).saturating_sub(2);
    let (source, total) = if total16 != 0 {
        (CountSource::Field16, Some(total16))
    } else if total32 != 0 {
        (CountSource::Field32, Some(total32))
    } else if fat32 && &boot[0x52..0x5A] != b"FAT32   " && le64(boot, 0x52) > data_start_sectors {
        (CountSource::Field64, Some(le64(boot, 0x52)))
    } else {
        (CountSource::FatSize, None)
    };
    let clusters = match total {
        Some(t) => (t.saturating_sub(data_start_sectors) / spc).min(fat_capacity),
        None => fat_capacity,
    };
    Count {
        source,
        clusters,
        fat32,
    }
}

/// The boot sector to show `fatfs`, if it differs from the real one, and what was corrected
/// (for the volume's notes). Fails when no presentation fits `fatfs`' 32-bit count.
pub(super) fn present(
    boot: &[u8; 512],
    c: &Count,
    data_start_sectors: u64,
    spc: u64,
    reserved: u64,
) -> Result<(Option<[u8; 512]>, Vec<String>), String> {
    let mut b = *boot;
    let mut notes = Vec::new();
    let clusters = if c.fat32 {
        if c.clusters < FATFS_FAT32_MIN {
            notes.push(format!(
                "FAT32 with {} clusters, under the specification's minimum of {FATFS_FAT32_MIN}: \
                 read as FAT32, as Linux does",
                c.clusters
            ));
        }
        c.clusters.clamp(FATFS_FAT32_MIN, FAT32_MAX)
    } else if c.clusters >= FATFS_FAT32_MIN {
        notes.push(format!(
            "FAT16 with {} clusters: only the first {} are read",
            c.clusters,
            FATFS_FAT32_MIN - 1
        ));
        FATFS_FAT32_MIN - 1
    } else {
        c.clusters
    };
    match c.source {
        CountSource::Field64 => notes.push(
            "sector count only in the 64-bit field at offset 0x52 (DR-DOS convention)".into(),
        ),
        CountSource::FatSize => notes.push(
            "no sector count in the boot sector: the FAT's size gives the cluster count, as \
             Linux does"
                .into(),
        ),
        CountSource::Field16 | CountSource::Field32 => {}
    }
    let total = data_start_sectors + clusters * spc;
    let total = u32::try_from(total).map_err(|_| format!("{total} sectors do not fit 32 bits"))?;
    let real_total = if le16(boot, 0x13) != 0 {
        le16(boot, 0x13)
    } else {
        le32(boot, 0x20)
    };
    // Keep the real count where it already classifies the volume as Linux does.
    let keep = u64::from(total) == real_total
        || (!c.fat32 && c.source != CountSource::FatSize && clusters == c.clusters);
    if !keep || (c.fat32 && le16(boot, 0x13) != 0) {
        b[0x13..0x15].fill(0);
        b[0x20..0x24].copy_from_slice(&total.to_le_bytes());
    }
    if c.fat32 {
        if le16(boot, 0x2A) != 0 {
            notes.push(format!(
                "FAT32 version {:#06x} (0 expected): ignored",
                le16(boot, 0x2A)
            ));
            b[0x2A..0x2C].fill(0);
        }
        if le16(boot, 0x32) >= reserved {
            b[0x32..0x34].fill(0);
        }
        let fs_info = le16(boot, 0x30);
        if fs_info == 0 || fs_info >= reserved {
            b[0x30..0x32].copy_from_slice(&1u16.to_le_bytes());
        }
    }
    Ok(((b != *boot).then_some(b), notes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A BPB of 512-byte sectors, one sector per cluster, 2 FATs of `spf` sectors.
    fn bpb(fat32: bool, spf: u32, total16: u16, total32: u32) -> [u8; 512] {
        let mut b = [0u8; 512];
        b[0x0B..0x0D].copy_from_slice(&512u16.to_le_bytes());
        b[0x0D] = 1;
        b[0x0E..0x10].copy_from_slice(&32u16.to_le_bytes());
        b[0x10] = 2;
        b[0x13..0x15].copy_from_slice(&total16.to_le_bytes());
        b[0x20..0x24].copy_from_slice(&total32.to_le_bytes());
        if fat32 {
            b[0x24..0x28].copy_from_slice(&spf.to_le_bytes());
            b[0x30..0x32].copy_from_slice(&1u16.to_le_bytes());
            b[0x52..0x5A].copy_from_slice(b"FAT32   ");
        } else {
            b[0x11..0x13].copy_from_slice(&512u16.to_le_bytes());
            b[0x16..0x18].copy_from_slice(&u16::try_from(spf).unwrap().to_le_bytes());
        }
        b
    }

    fn total32(b: &[u8; 512]) -> u64 {
        le32(b, 0x20)
    }

    #[test]
    fn undersized_fat32_is_shown_to_fatfs_with_the_fat32_minimum() {
        let b = bpb(true, 252, 32768, 0);
        let data = 32 + 2 * 252;
        let c = count(&b, data, 252, 1);
        assert_eq!(
            (c.source, c.clusters, c.fat32),
            (CountSource::Field16, 32768 - data, true)
        );
        let (shown, notes) = present(&b, &c, data, 1, 32).unwrap();
        let shown = shown.unwrap();
        assert_eq!(le16(&shown, 0x13), 0);
        assert_eq!(total32(&shown) - data, FATFS_FAT32_MIN);
        assert!(
            notes[0].contains("under the specification's minimum"),
            "{notes:?}"
        );
    }

    #[test]
    fn sector_count_in_the_64_bit_field_or_from_the_fat_size() {
        let mut b = bpb(true, 2000, 0, 0);
        let data = 32 + 2 * 2000;
        b[0x52..0x5A].copy_from_slice(&200_000u64.to_le_bytes());
        let c = count(&b, data, 2000, 1);
        assert_eq!(
            (c.source, c.clusters),
            (CountSource::Field64, 200_000 - data)
        );
        let (shown, notes) = present(&b, &c, data, 1, 32).unwrap();
        assert_eq!(total32(&shown.unwrap()), 200_000);
        assert!(notes.iter().any(|n| n.contains("64-bit")));
        // No count: what the FAT holds (2000 sectors of 128 entries, minus 2).
        b[0x52..0x5A].copy_from_slice(b"FAT32   ");
        let c = count(&b, data, 2000, 1);
        assert_eq!((c.source, c.clusters), (CountSource::FatSize, 256_000 - 2));
        // A count larger than the FAT can describe is clamped to it, as in Linux.
        let b = bpb(true, 2000, 0, 1_000_000);
        assert_eq!(count(&b, data, 2000, 1).clusters, 256_000 - 2);
    }

    #[test]
    fn fat16_beyond_the_fatfs_limit_is_cut_and_ordinary_volumes_are_untouched() {
        let data = 32 + 2 * 256 + 32;
        let b = bpb(false, 256, 0, u32::try_from(data + 65_530).unwrap());
        let c = count(&b, data, 256, 1);
        assert_eq!((c.fat32, c.clusters), (false, 65_530));
        let (shown, notes) = present(&b, &c, data, 1, 32).unwrap();
        assert_eq!(total32(&shown.unwrap()) - data, FATFS_FAT32_MIN - 1);
        assert!(notes[0].contains("only the first"), "{notes:?}");
        let b = bpb(false, 256, u16::try_from(data + 5000).unwrap(), 0);
        let c = count(&b, data, 256, 1);
        assert_eq!(present(&b, &c, data, 1, 32).unwrap(), (None, Vec::new()));
    }
}
