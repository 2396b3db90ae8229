//! Recognises what a volume holds from its on-disk signatures.
//!
//! The partition type byte or GUID says what a volume was created for, not what it holds now,
//! so only the bytes decide. Order matters: containers whose first sector imitates a
//! filesystem come first (BitLocker volumes carry a FAT32-looking BPB, BitLocker To Go is a
//! real FAT32 "discovery volume"; RAID members hold a filesystem at their start), then the
//! filesystems, then swap. Every probe reads a bounded amount from fixed offsets.

use crate::io::ReadAt;
use crate::record::FsKind;

/// Bytes read from the start of the volume: everything a probe looks at, up to the swap
/// signature of a 64 KiB page (65526) and the third LUKS2 secondary header (64 KiB).
const HEAD_LEN: usize = 0x10000 + 512;

/// BitLocker's volume GUID 4967d63b-2e29-4ad8-8399-f6a339e3d001 as stored on disk.
const BITLOCKER_GUID: [u8; 16] = [
    0x3b, 0xd6, 0x67, 0x49, 0x29, 0x2e, 0xd8, 0x4a, 0x83, 0x99, 0xf6, 0xa3, 0x39, 0xe3, 0xd0, 0x01,
];
/// Where that GUID sits: after a `-FVE-FS-` BPB (Windows 7+), and in a BitLocker To Go
/// discovery volume (OEM "MSWIN4.1", a real FAT32 holding BitLockerToGo.exe).
const BITLOCKER_GUID_AT: [usize; 2] = [0xA0, 0x1A8];

/// Linux md superblock magic (little-endian on disk for v1.x; host order for v0.90).
const MD_MAGIC: u32 = 0xa92b_4efc;

fn bytes_at<const N: usize>(b: &[u8], off: usize) -> Option<[u8; N]> {
    b.get(off..off.checked_add(N)?)?.try_into().ok()
}

fn le16(b: &[u8], off: usize) -> Option<u16> {
    bytes_at(b, off).map(u16::from_le_bytes)
}

fn le32(b: &[u8], off: usize) -> Option<u32> {
    bytes_at(b, off).map(u32::from_le_bytes)
}

fn le64(b: &[u8], off: usize) -> Option<u64> {
    bytes_at(b, off).map(u64::from_le_bytes)
}

fn has(b: &[u8], off: usize, magic: &[u8]) -> bool {
    off.checked_add(magic.len())
        .and_then(|end| b.get(off..end))
        .is_some_and(|s| s == magic)
}

/// Probes `dev` (a partition or a whole disk) and says what it holds.
pub fn detect(dev: &dyn ReadAt) -> std::io::Result<FsKind> {
    let size = dev.size();
    let want = usize::try_from(size.min(HEAD_LEN as u64)).unwrap_or(HEAD_LEN);
    let mut head = vec![0u8; want];
    let n = dev.read_at(0, &mut head)?;
    head.truncate(n);

    if is_luks(&head) {
        return Ok(FsKind::Luks);
    }
    if is_bitlocker(&head) {
        return Ok(FsKind::Bitlocker);
    }
    if is_md_raid(dev, &head, size)? {
        return Ok(FsKind::Raid);
    }
    if is_lvm(&head) {
        return Ok(FsKind::Lvm);
    }
    if let Some(kind) = boot_sector_kind(&head) {
        return Ok(kind);
    }
    if let Some(kind) = ext_kind(&head) {
        return Ok(kind);
    }
    if is_swap(&head) {
        return Ok(FsKind::Swap);
    }
    Ok(FsKind::Unknown)
}

/// What a volume boot record at the start of `sector` says: BitLocker, NTFS, exFAT or
/// FAT12/16/32 (by a valid BPB). `None` for anything else, including a partition table.
/// The partition-table reader uses this to tell a filesystem on a whole disk from an MBR.
pub(crate) fn boot_sector_kind(sector: &[u8]) -> Option<FsKind> {
    if is_bitlocker(sector) {
        Some(FsKind::Bitlocker)
    } else if has(sector, 3, b"NTFS    ") {
        Some(FsKind::Ntfs)
    } else if has(sector, 3, b"EXFAT   ") {
        Some(FsKind::Exfat)
    } else {
        fat_kind(sector)
    }
}

fn is_bitlocker(s: &[u8]) -> bool {
    has(s, 3, b"-FVE-FS-")
        || BITLOCKER_GUID_AT
            .iter()
            .any(|&at| has(s, at, &BITLOCKER_GUID))
}

/// LUKS1/LUKS2 primary header, or a LUKS2 secondary header at one of its first offsets.
fn is_luks(s: &[u8]) -> bool {
    has(s, 0, b"LUKS\xba\xbe")
        || [0x4000usize, 0x8000, 0x10000]
            .iter()
            .any(|&at| has(s, at, b"SKUL\xba\xbe"))
}

/// LVM2 physical volume: a `LABELONE` label in one of the first four sectors, naming the
/// sector it sits in, with type `LVM2 001`.
fn is_lvm(s: &[u8]) -> bool {
    (0..4u64).any(|i| {
        let at = i as usize * 512;
        has(s, at, b"LABELONE") && has(s, at + 24, b"LVM2 001") && le64(s, at + 8) == Some(i)
    })
}

/// Linux swap (or a swsuspend image in it): the signature ends the first page, whatever the
/// page size (4, 8, 16 or 64 KiB).
fn is_swap(s: &[u8]) -> bool {
    const MAGICS: [&[u8]; 6] = [
        b"SWAPSPACE2",
        b"SWAP-SPACE",
        b"S1SUSPEND",
        b"S2SUSPEND",
        b"ULSUSPEND",
        b"LINHIB0001",
    ];
    [4096usize, 8192, 16384, 65536]
        .iter()
        .any(|&page| MAGICS.iter().any(|m| has(s, page - 10, m)))
}

/// md v1.x superblock at `sb` (read from byte `offset`): magic, major version 1, and the
/// superblock's own recorded position (in 512-byte sectors), which random data and
/// stale copies rarely get right.
fn md_v1_at(sb: &[u8], offset: u64) -> bool {
    le32(sb, 0) == Some(MD_MAGIC) && le32(sb, 4) == Some(1) && le64(sb, 144) == Some(offset / 512)
}

/// md v0.90 superblock: magic and major version 0, in either byte order (it is written in
/// the creating host's order).
fn md_v090(sb: &[u8]) -> bool {
    let le = le32(sb, 0) == Some(MD_MAGIC) && le32(sb, 4) == Some(0);
    let be = bytes_at::<4>(sb, 0).map(u32::from_be_bytes) == Some(MD_MAGIC)
        && bytes_at::<4>(sb, 4).map(u32::from_be_bytes) == Some(0);
    le || be
}

/// Linux software RAID member: md superblock v1.1 (byte 0), v1.2 (byte 4096), v1.0 (8 KiB
/// before the end, rounded down to 4 KiB) or v0.90 (the size rounded down to 64 KiB, minus
/// 64 KiB).
fn is_md_raid(dev: &dyn ReadAt, head: &[u8], size: u64) -> std::io::Result<bool> {
    if md_v1_at(head, 0) || head.get(4096..).is_some_and(|sb| md_v1_at(sb, 4096)) {
        return Ok(true);
    }
    let mut sb = [0u8; 256];
    let sectors = size / 512;
    if sectors >= 16 {
        let off = ((sectors - 16) & !7) * 512;
        let n = dev.read_at(off, &mut sb)?;
        if md_v1_at(&sb[..n], off) {
            return Ok(true);
        }
    }
    if size >= 0x20000 {
        let off = (size & !0xFFFF) - 0x10000;
        let n = dev.read_at(off, &mut sb)?;
        if md_v090(&sb[..n]) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// ext2/3/4 from the superblock at byte 1024, classified as blkid does: ext4 when any
/// feature is beyond what ext3 knows, else ext3 with a journal, else ext2. An external
/// journal device is not a filesystem: `Unknown`.
fn ext_kind(s: &[u8]) -> Option<FsKind> {
    const SB: usize = 1024;
    const COMPAT_HAS_JOURNAL: u32 = 0x4;
    const INCOMPAT_JOURNAL_DEV: u32 = 0x8;
    // What ext3 understands: filetype, needs_recovery, meta_bg.
    const EXT3_INCOMPAT: u32 = 0x2 | 0x4 | 0x10;
    // sparse_super, large_file, btree_dir.
    const EXT3_RO_COMPAT: u32 = 0x1 | 0x2 | 0x4;

    if le16(s, SB + 56)? != 0xEF53 {
        return None;
    }
    // Sanity: a filesystem has inodes and blocks of at most 64 KiB.
    if le32(s, SB)? == 0 || le32(s, SB + 24)? > 6 {
        return None;
    }
    let compat = le32(s, SB + 92)?;
    let incompat = le32(s, SB + 96)?;
    let ro_compat = le32(s, SB + 100)?;
    Some(if incompat & INCOMPAT_JOURNAL_DEV != 0 {
        FsKind::Unknown
    } else if incompat & !EXT3_INCOMPAT != 0 || ro_compat & !EXT3_RO_COMPAT != 0 {
        FsKind::Ext4
    } else if compat & COMPAT_HAS_JOURNAL != 0 {
        FsKind::Ext3
    } else {
        FsKind::Ext2
    })
}

/// FAT12/16/32 from a valid BIOS parameter block.
///
/// The BPB must be sane (bytes per sector a power of two in 512..=4096, sectors per cluster a
/// power of two, reserved sectors > 0, 1 to 4 FATs, a valid media byte, a non-empty FAT and
/// a data area inside the volume) and the sector must look like a boot sector (x86 jump or
/// 0x55AA). The volume label string ("FAT16   ", ...) is ignored: mkfs tools and Windows
/// write what they like there.
///
/// FAT type: a BPB whose 16-bit FAT size is 0 can only be laid out as FAT32 (the FAT size
/// lives in the FAT32 extension, the root directory is a cluster chain): that is FAT32,
/// whatever its cluster count, as Windows' fastfat (`IsBpbFat32`) and Linux decide too.
/// Otherwise the Microsoft spec's count of clusters picks FAT12 (< 4085) or FAT16. This is
/// why nobodd's deliberately undersized fat32.img (16-bit FAT size 0, far fewer than 65 525
/// clusters) is FAT32 here, as for mtools, Linux and nobodd itself; the pure count rule would
/// call it FAT16 and point a FAT16 reader at a root directory region that does not exist.
/// (fatfs 0.3.6 refuses to mount such a volume; the FAT reader shows it a corrected BPB.)
/// A FAT32 BPB whose 16- and 32-bit sector counts are both 0 is still FAT32: its count is in
/// DR-DOS's 64-bit field at 0x52, or nowhere (Linux then goes by the FAT's size).
fn fat_kind(s: &[u8]) -> Option<FsKind> {
    let jump = matches!(s.first(), Some(0xEB) | Some(0xE9));
    if !jump && !has(s, 510, &[0x55, 0xAA]) {
        return None;
    }
    let bytes_per_sector = le16(s, 11)?;
    let per_cluster = *s.get(13)?;
    let reserved = le16(s, 14)?;
    let fats = *s.get(16)?;
    let root_entries = le16(s, 17)?;
    let total16 = le16(s, 19)?;
    let media = *s.get(21)?;
    let fat16_size = le16(s, 22)?;
    let total32 = le32(s, 32)?;
    let fat32_size = le32(s, 36)?;

    if !bytes_per_sector.is_power_of_two() || !(512..=4096).contains(&bytes_per_sector) {
        return None;
    }
    if !per_cluster.is_power_of_two() || reserved == 0 || !(1..=4).contains(&fats) {
        return None;
    }
    if media != 0xF0 && media < 0xF8 {
        return None;
    }
    let fat32 = fat16_size == 0;
    let total = if total16 != 0 {
        u64::from(total16)
    } else if total32 != 0 {
        u64::from(total32)
    } else if fat32 && !has(s, 0x52, b"FAT32   ") {
        // DR-DOS's 64-bit count over the FAT32 type string (see fs::fat::bpb).
        le64(s, 0x52)?
    } else {
        0
    };
    let fat_size = if fat32 {
        u64::from(fat32_size)
    } else {
        u64::from(fat16_size)
    };
    if fat_size == 0 || (total == 0 && !fat32) {
        return None;
    }
    let bps = u64::from(bytes_per_sector);
    let root_sectors = (u64::from(root_entries) * 32).div_ceil(bps);
    let meta = u64::from(reserved) + u64::from(fats) * fat_size + root_sectors;
    let clusters = if total == 0 {
        // A FAT32 with no sector count at all: Linux ends up with what the FAT can hold.
        (fat_size * bps / 4).saturating_sub(2)
    } else if meta >= total {
        return None;
    } else {
        (total - meta) / u64::from(per_cluster)
    };
    if clusters == 0 {
        return None;
    }
    Some(if fat32 {
        FsKind::Fat32
    } else if clusters < 4085 {
        FsKind::Fat12
    } else {
        FsKind::Fat16
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::testimg::*;
    use crate::io::MemDevice;
    use crate::testutil::oracle;

    fn detect_oracle(rel: &str) -> FsKind {
        let path = oracle(rel);
        let dev = open(&path);
        unchanged(&path, || detect(dev.as_ref()).unwrap())
    }

    fn detect_bytes(v: Vec<u8>) -> FsKind {
        detect(&MemDevice::new(v)).unwrap()
    }

    #[test]
    fn fat_images() {
        // rust-fatfs: mkfs.vfat -F 12 / -F 16 (1955 and 4927 clusters).
        assert_eq!(detect_oracle("rust-fatfs/fat12.img.zst"), FsKind::Fat12);
        assert_eq!(detect_oracle("rust-fatfs/fat16.img.zst"), FsKind::Fat16);
        assert_eq!(detect_oracle("nobodd/fat12.img.gz"), FsKind::Fat12);
        assert_eq!(detect_oracle("nobodd/fat16.img.gz"), FsKind::Fat16);
        // Undersized FAT32: 16-bit FAT size 0, 16 100 clusters. FAT32 by structure (see
        // `fat_kind`), as nobodd's own tests, mtools and Linux say.
        assert_eq!(detect_oracle("nobodd/fat32.img.gz"), FsKind::Fat32);
    }

    #[test]
    fn ext_images() {
        assert_eq!(detect_oracle("ext4-view/test_disk1.bin.zst"), FsKind::Ext4);
        assert_eq!(
            detect_oracle("ext4-view/test_disk_ext2.bin.zst"),
            FsKind::Ext2
        );
        assert_eq!(
            detect_oracle("ext4-view/test_disk_ext3.bin.zst"),
            FsKind::Ext3
        );
        assert_eq!(
            detect_oracle("ext4-view/test_disk_4k_block_journal.bin.zst"),
            FsKind::Ext4
        );
        assert_eq!(detect_oracle("dfvfs/ext2.raw.zst"), FsKind::Ext2);
        assert_eq!(detect_oracle("tsk-test-data/image.dd"), FsKind::Ext2);
    }

    #[test]
    fn ext_classification_follows_features() {
        let base =
            std::fs::read(oracle("ext4-view/test_disk_ext2.bin.zst")).unwrap()[..4096].to_vec();
        let with = |compat: u32, incompat: u32, ro: u32| {
            let mut d = base.clone();
            d[1024 + 92..1024 + 96].copy_from_slice(&compat.to_le_bytes());
            d[1024 + 96..1024 + 100].copy_from_slice(&incompat.to_le_bytes());
            d[1024 + 100..1024 + 104].copy_from_slice(&ro.to_le_bytes());
            detect_bytes(d)
        };
        assert_eq!(with(0, 0x2, 0x3), FsKind::Ext2);
        assert_eq!(with(0x4, 0x2 | 0x4, 0x3), FsKind::Ext3);
        assert_eq!(with(0x4, 0x2 | 0x40, 0x3), FsKind::Ext4); // extents
        assert_eq!(with(0x4, 0x2 | 0x200, 0x3), FsKind::Ext4); // flex_bg
        assert_eq!(with(0, 0x2, 0x3 | 0x8), FsKind::Ext4); // huge_file, no journal
        assert_eq!(with(0x4, 0x2, 0x400), FsKind::Ext4); // metadata_csum
        assert_eq!(with(0, 0x8, 0), FsKind::Unknown); // external journal device
    }

    #[test]
    fn ntfs_volume() {
        assert_eq!(detect_oracle("ntfs-crate/testfs1.zst"), FsKind::Ntfs);
    }

    #[test]
    fn bitlocker_images_all_detected() {
        let dir = tar_heads("encrypted-volumes/bitlk-images.tar.xz", 1 << 20);
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "img") {
                continue;
            }
            let k = detect(open(&path).as_ref()).unwrap();
            assert_eq!(k, FsKind::Bitlocker, "{}", path.display());
            seen += 1;
        }
        assert_eq!(seen, 21);
        // To Go: a genuine FAT32 discovery volume, yet BitLocker wins.
        let togo = std::fs::read(dir.join("bitlk-togo-aes-cbc-128.img")).unwrap();
        assert_eq!(fat_kind(&togo[..512]), Some(FsKind::Fat32));
        assert!(has(&togo, 3, b"MSWIN4.1"));
        assert_eq!(detect_bytes(togo), FsKind::Bitlocker);
        // The truncated 2015 To Go volume from dfvfs.
        assert_eq!(
            detect_oracle("dfvfs/bdetogo.raw@9c0660e6.raw"),
            FsKind::Bitlocker
        );
    }

    #[test]
    fn luks_images_detected() {
        assert_eq!(
            detect_oracle("encrypted-volumes/compatimage.img.xz"),
            FsKind::Luks
        );
        assert_eq!(
            detect_oracle("encrypted-volumes/luks2_valid_hdr.img.xz"),
            FsKind::Luks
        );
        let dir = tar_heads("encrypted-volumes/luks1-images.tar.xz", 1 << 20);
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "img") {
                continue;
            }
            assert_eq!(
                detect(open(&path).as_ref()).unwrap(),
                FsKind::Luks,
                "{}",
                path.display()
            );
            seen += 1;
        }
        assert_eq!(seen, 12);
        // LUKS2 with its primary header wiped: the secondary at 16 KiB still says LUKS.
        let mut d = std::fs::read(oracle("encrypted-volumes/luks2_valid_hdr.img.xz")).unwrap();
        d.truncate(1 << 20);
        d[..6].fill(0);
        assert_eq!(detect_bytes(d), FsKind::Luks);
    }

    #[test]
    fn truecrypt_has_no_signature() {
        // tcrypt containers look like random data: nothing may claim them.
        let dir = tar_heads("encrypted-volumes/tcrypt-images.tar.xz", 1 << 20);
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().unwrap() == ".done" {
                continue;
            }
            assert_eq!(
                detect(open(&path).as_ref()).unwrap(),
                FsKind::Unknown,
                "{}",
                path.display()
            );
            seen += 1;
        }
        assert_eq!(seen, 96);
    }

    #[test]
    fn lvm_label() {
        let mut d = vec![0u8; 8192];
        d[512..520].copy_from_slice(b"LABELONE");
        d[520..528].copy_from_slice(&1u64.to_le_bytes());
        d[536..544].copy_from_slice(b"LVM2 001");
        assert_eq!(detect_bytes(d.clone()), FsKind::Lvm);
        // A label that names the wrong sector is not believed.
        d[520..528].copy_from_slice(&3u64.to_le_bytes());
        assert_eq!(detect_bytes(d), FsKind::Unknown);
    }

    fn md_v1(d: &mut [u8], at: usize) {
        d[at..at + 4].copy_from_slice(&MD_MAGIC.to_le_bytes());
        d[at + 4..at + 8].copy_from_slice(&1u32.to_le_bytes());
        d[at + 144..at + 152].copy_from_slice(&((at / 512) as u64).to_le_bytes());
    }

    #[test]
    fn md_raid_superblocks() {
        // A size that is neither 64 KiB nor 4 KiB aligned: 1 MiB + 5 KiB + 512.
        let size = (1 << 20) + 5 * 1024 + 512;
        let fresh = || {
            // Under the superblock, an ext2 filesystem (a RAID1 member): RAID must win.
            let mut d = vec![0u8; size];
            let ext = std::fs::read(oracle("ext4-view/test_disk_ext2.bin.zst")).unwrap();
            d[1024..2048].copy_from_slice(&ext[1024..2048]);
            d
        };
        assert_eq!(detect_bytes(fresh()), FsKind::Ext2);
        // v1.1 at 0 and v1.2 at 4096.
        for at in [0usize, 4096] {
            let mut d = fresh();
            md_v1(&mut d, at);
            assert_eq!(detect_bytes(d), FsKind::Raid, "v1 at {at}");
        }
        // v1.0: (sectors - 16) rounded down to 8 sectors.
        let at = (((size / 512) - 16) & !7) * 512;
        assert_eq!(at, 1_044_480);
        let mut d = fresh();
        md_v1(&mut d, at);
        assert_eq!(detect_bytes(d.clone()), FsKind::Raid);
        // A superblock that records another offset than where it sits is not believed.
        let mut e = d;
        e[at + 144..at + 152].copy_from_slice(&((at / 512 + 8) as u64).to_le_bytes());
        assert_eq!(detect_bytes(e), FsKind::Ext2);
        // v0.90: size rounded down to 64 KiB, minus 64 KiB; either byte order.
        let at = (size & !0xFFFF) - 0x10000;
        assert_eq!(at, 0xF0000);
        for be in [false, true] {
            let mut d = fresh();
            let (m, v) = if be {
                (MD_MAGIC.to_be_bytes(), 0u32.to_be_bytes())
            } else {
                (MD_MAGIC.to_le_bytes(), 0u32.to_le_bytes())
            };
            d[at..at + 4].copy_from_slice(&m);
            d[at + 4..at + 8].copy_from_slice(&v);
            assert_eq!(detect_bytes(d), FsKind::Raid, "v0.90 be={be}");
        }
    }

    #[test]
    fn swap_signatures_for_each_page_size() {
        for page in [4096usize, 8192, 16384, 65536] {
            for magic in [&b"SWAPSPACE2"[..], b"SWAP-SPACE"] {
                let mut d = vec![0u8; 1 << 17];
                d[page - 10..page].copy_from_slice(magic);
                assert_eq!(detect_bytes(d), FsKind::Swap, "page {page}");
            }
        }
        // A device that ends before the signature's page.
        let mut d = vec![0u8; 4096];
        d[4086..].copy_from_slice(b"SWAPSPACE2");
        assert_eq!(detect_bytes(d.clone()), FsKind::Swap);
        d.truncate(4090);
        assert_eq!(detect_bytes(d), FsKind::Unknown);
    }

    #[test]
    fn mkswap_made_swap() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("swap.img");
        std::fs::write(&p, vec![0u8; 1 << 20]).unwrap();
        let ok = std::process::Command::new("mkswap").arg(&p).output();
        if let Ok(out) = ok {
            assert!(out.status.success());
            assert_eq!(detect(open(&p).as_ref()).unwrap(), FsKind::Swap);
        }
    }

    #[test]
    fn exfat_and_ntfs_oem_ids() {
        let mut d = vec![0u8; 4096];
        d[0..3].copy_from_slice(&[0xEB, 0x76, 0x90]);
        d[3..11].copy_from_slice(b"EXFAT   ");
        assert_eq!(detect_bytes(d.clone()), FsKind::Exfat);
        d[3..11].copy_from_slice(b"NTFS    ");
        assert_eq!(detect_bytes(d.clone()), FsKind::Ntfs);
        d[3..11].copy_from_slice(b"-FVE-FS-");
        assert_eq!(detect_bytes(d), FsKind::Bitlocker);
    }

    /// A FAT12/16 BPB whose data area holds exactly `clusters` clusters of one sector.
    fn bpb(clusters: u32, label: &[u8; 8]) -> Vec<u8> {
        let mut d = vec![0u8; 512];
        d[0..3].copy_from_slice(&[0xEB, 0x3C, 0x90]);
        d[3..11].copy_from_slice(b"mkfs.fat");
        d[11..13].copy_from_slice(&512u16.to_le_bytes());
        d[13] = 1;
        d[14..16].copy_from_slice(&1u16.to_le_bytes());
        d[16] = 2;
        d[17..19].copy_from_slice(&512u16.to_le_bytes()); // 32 root sectors
        d[21] = 0xF8;
        d[22..24].copy_from_slice(&20u16.to_le_bytes());
        let total = 1 + 2 * 20 + 32 + clusters;
        if total < 0x10000 {
            d[19..21].copy_from_slice(&(total as u16).to_le_bytes());
        } else {
            d[32..36].copy_from_slice(&total.to_le_bytes());
        }
        d[54..62].copy_from_slice(label);
        d[510] = 0x55;
        d[511] = 0xAA;
        d
    }

    #[test]
    fn fat_type_by_count_of_clusters_not_label() {
        assert_eq!(fat_kind(&bpb(4084, b"FAT16   ")), Some(FsKind::Fat12));
        assert_eq!(fat_kind(&bpb(4085, b"FAT12   ")), Some(FsKind::Fat16));
        assert_eq!(fat_kind(&bpb(65524, b"FAT12   ")), Some(FsKind::Fat16));
        // Not a BPB: zero bytes per sector, a bad media byte, no FATs, no jump nor 0x55AA.
        let mut d = bpb(5000, b"FAT16   ");
        d[11] = 0;
        d[12] = 0;
        assert_eq!(fat_kind(&d), None);
        let mut d = bpb(5000, b"FAT16   ");
        d[21] = 0x12;
        assert_eq!(fat_kind(&d), None);
        let mut d = bpb(5000, b"FAT16   ");
        d[16] = 0;
        assert_eq!(fat_kind(&d), None);
        let mut d = bpb(5000, b"FAT16   ");
        d[0] = 0;
        d[510] = 0;
        assert_eq!(fat_kind(&d), None);
        // FAT area larger than the volume.
        let mut d = bpb(5000, b"FAT16   ");
        d[22..24].copy_from_slice(&60000u16.to_le_bytes());
        assert_eq!(fat_kind(&d), None);
    }

    #[test]
    fn tiny_devices_are_unknown() {
        for len in [0usize, 1, 3, 11, 100, 511, 512, 1100] {
            assert_eq!(detect_bytes(vec![0u8; len]), FsKind::Unknown, "{len}");
            assert_eq!(detect_bytes(vec![0xFF; len]), FsKind::Unknown, "{len}");
        }
        // A FAT boot sector cut in the middle of its BPB.
        let d = std::fs::read(oracle("rust-fatfs/fat12.img.zst")).unwrap();
        assert_eq!(detect_bytes(d[..30].to_vec()), FsKind::Unknown);
        assert_eq!(detect_bytes(d[..512].to_vec()), FsKind::Fat12);
    }

    #[test]
    fn robustness_mutated_boot_sectors_and_superblocks() {
        let fat = std::fs::read(oracle("rust-fatfs/fat16.img.zst")).unwrap()[..8192].to_vec();
        let ext =
            std::fs::read(oracle("ext4-view/test_disk_ext2.bin.zst")).unwrap()[..8192].to_vec();
        let ntfs = std::fs::read(oracle("ntfs-crate/testfs1.zst")).unwrap()[..8192].to_vec();
        let seeds = [fat, ext, ntfs];
        let mut rng = Rng(0x1234_5678_9abc_def1);
        for round in 0..5000 {
            let mut d = seeds[round % seeds.len()].clone();
            for _ in 0..1 + rng.below(6) {
                let region = if rng.below(2) == 0 {
                    0..90
                } else {
                    1024..1024 + 104
                };
                let i = region.start + rng.below((region.end - region.start) as u64) as usize;
                d[i] = rng.next() as u8;
            }
            if rng.below(8) == 0 {
                let cut = rng.below(d.len() as u64) as usize;
                d.truncate(cut);
            }
            let _ = detect_bytes(d.clone());
            let _ = boot_sector_kind(&d);
        }
    }
}
