//! Partition tables: MBR (primary + extended/logical chain) and GPT.
//!
//! Sector 0 decides. A volume boot record there (NTFS, FAT, exFAT, BitLocker: they end in
//! 0x55AA too) or no 0x55AA at all means no table: the disk is one volume. A protective 0xEE
//! entry sends us to the GPT ([`super::gpt`]), anything else is read as an MBR with its
//! extended chain ([`super::mbr`]). Every value comes from a disk that may be corrupt or
//! hostile: counts are capped, chains are loop-checked, entries past the end of the disk are
//! clipped, and every such repair leaves a short note for the disk record.

use std::io;

use super::{detect, gpt, mbr};
use crate::io::ReadAt;
use crate::record::TableKind;

/// How a partition declares its type (informational only: volumes are detected by content).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionType {
    /// MBR system id byte.
    Mbr(u8),
    /// GPT partition type GUID, lowercase canonical text form.
    Gpt(String),
}

/// One partition that may hold a volume (extended containers are not listed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// Number as Linux gives it: MBR primaries 1-4, logicals from 5; GPT entry index + 1.
    pub number: u32,
    /// Byte offset on the disk.
    pub start: u64,
    /// Length in bytes (clipped to the disk; see `notes`).
    pub len: u64,
    /// Declared type.
    pub type_id: PartitionType,
    /// GPT partition name, if any.
    pub name: Option<String>,
    /// MBR active flag / GPT legacy BIOS bootable attribute.
    pub bootable: bool,
}

/// A disk's partitioning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionTable {
    /// MBR, GPT or none (the disk is one volume, number 0).
    pub kind: TableKind,
    /// Logical sector size used.
    pub sector_size: u32,
    /// Partitions in number order.
    pub partitions: Vec<Partition>,
    /// Problems met (overlaps, entries past the end, chain loops, CRC mismatch, ...).
    pub notes: Vec<String>,
}

/// Why no table could be read at all.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// The device failed.
    #[error("I/O error reading the partition table: {0}")]
    Io(#[from] std::io::Error),
    /// A table is present but unusable.
    #[error("malformed partition table: {0}")]
    Malformed(String),
}

/// At most this many notes per disk; a hostile table could otherwise produce thousands.
const MAX_NOTES: usize = 32;

/// Notes for the disk record, capped at [`MAX_NOTES`].
#[derive(Debug, Default)]
pub(super) struct Notes {
    list: Vec<String>,
    dropped: usize,
}

impl Notes {
    /// Adds a note (or counts it once the cap is reached).
    pub(super) fn push(&mut self, note: impl Into<String>) {
        if self.list.len() < MAX_NOTES {
            self.list.push(note.into());
        } else {
            self.dropped += 1;
        }
    }

    fn finish(mut self) -> Vec<String> {
        if self.dropped > 0 {
            self.list
                .push(format!("{} more problems were not listed", self.dropped));
        }
        self.list
    }
}

/// Reads `buf.len()` bytes at `offset`. `Ok(false)` when the device ends first (a truncated
/// image or an offset from a corrupt table); real I/O errors are returned.
pub(super) fn read_full(dev: &dyn ReadAt, offset: u64, buf: &mut [u8]) -> io::Result<bool> {
    match dev.read_exact_at(offset, buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

/// Sector sizes we accept from a caller's hint.
fn valid_sector_size(s: u32) -> bool {
    s.is_power_of_two() && (512..=4096).contains(&s)
}

/// Reads the partition table. `sector_size` is the device's logical sector size when known
/// (block devices); `None` probes 512 then 4096 for a GPT header.
pub fn read_partition_table(
    dev: &dyn ReadAt,
    sector_size: Option<u32>,
) -> Result<PartitionTable, TableError> {
    let mut notes = Notes::default();
    let hint = match sector_size {
        Some(s) if valid_sector_size(s) => Some(s),
        Some(s) => {
            notes.push(format!(
                "ignored the reported sector size of {s} bytes and probed instead"
            ));
            None
        }
        None => None,
    };
    let no_table = |notes: Notes| PartitionTable {
        kind: TableKind::None,
        sector_size: hint.unwrap_or(512),
        partitions: Vec::new(),
        notes: notes.finish(),
    };

    let mut s0 = [0u8; 512];
    if !read_full(dev, 0, &mut s0)? {
        // Smaller than one sector: nothing to read, and nothing a volume could hold either.
        return Ok(no_table(notes));
    }
    if detect::boot_sector_kind(&s0).is_some() {
        // A filesystem (or BitLocker) starts at sector 0: the whole disk is one volume.
        return Ok(no_table(notes));
    }
    if s0[510..512] != [0x55, 0xAA] {
        return Ok(no_table(notes));
    }
    let entries = mbr::entries(&s0);
    if entries.iter().any(|e| e.boot != 0 && e.boot != 0x80) {
        // Linux does the same: with a bad boot indicator this is not a partition table.
        notes.push("sector 0 ends in 0x55AA but holds no valid partition table");
        return Ok(no_table(notes));
    }

    let size = dev.size();
    if entries.iter().any(|e| e.kind == mbr::PROTECTIVE) {
        if let Some((ss, parts)) = gpt::read(dev, hint, &mut notes)? {
            return Ok(finish(TableKind::Gpt, ss, parts, size, notes));
        }
        let hybrid = entries
            .iter()
            .any(|e| e.kind != mbr::PROTECTIVE && e.kind != 0 && e.sectors != 0);
        if !hybrid {
            return Err(TableError::Malformed(format!(
                "protective MBR but no usable GPT header ({})",
                notes.list.join("; ")
            )));
        }
        notes.push("no usable GPT behind the protective MBR: used the other MBR entries");
    }
    let ss = hint.unwrap_or(512);
    let parts = mbr::read(dev, &s0, ss, &mut notes)?;
    Ok(finish(TableKind::Mbr, ss, parts, size, notes))
}

/// Clips partitions to the disk, notes overlaps, sorts by number.
fn finish(
    kind: TableKind,
    sector_size: u32,
    mut parts: Vec<Partition>,
    disk_size: u64,
    mut notes: Notes,
) -> PartitionTable {
    parts.sort_by_key(|p| p.number);

    // Overlaps, on the declared extents: sort by start and compare with the furthest end seen.
    let mut order: Vec<(u64, u64, u32)> = parts
        .iter()
        .filter(|p| p.len > 0)
        .map(|p| (p.start, p.start.saturating_add(p.len), p.number))
        .collect();
    order.sort_unstable();
    let mut furthest: Option<(u64, u32)> = None;
    for &(start, end, number) in &order {
        if let Some((fend, fnum)) = furthest {
            if start < fend {
                notes.push(format!("partitions {fnum} and {number} overlap"));
            }
            if end > fend {
                furthest = Some((end, number));
            }
        } else {
            furthest = Some((end, number));
        }
    }

    for p in &mut parts {
        if p.start >= disk_size {
            if p.len > 0 {
                notes.push(format!(
                    "partition {} starts at byte {}, past the end of the disk ({} bytes): it is empty here",
                    p.number, p.start, disk_size
                ));
            }
            p.len = 0;
        } else if p.len > disk_size - p.start {
            let clipped = disk_size - p.start;
            notes.push(format!(
                "partition {} runs past the end of the disk: clipped from {} to {} bytes",
                p.number, p.len, clipped
            ));
            p.len = clipped;
        }
    }

    PartitionTable {
        kind,
        sector_size,
        partitions: parts,
        notes: notes.finish(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::detect::detect;
    use crate::disk::testimg::*;
    use crate::io::{Device, MemDevice, Slice};
    use crate::record::FsKind;
    use crate::testutil::oracle;
    use std::sync::Arc;

    const LINUX: &str = "0fc63daf-8483-4772-8e79-3d69d8477de4";
    const BASIC_DATA: &str = "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7";

    fn table(dev: &dyn ReadAt, ss: Option<u32>) -> PartitionTable {
        read_partition_table(dev, ss).expect("partition table")
    }

    fn table_of(rel: &str, ss: Option<u32>) -> PartitionTable {
        let path = oracle(rel);
        let dev = open(&path);
        unchanged(&path, || table(dev.as_ref(), ss))
    }

    /// (number, start sector, sectors, mbr type) for every partition.
    fn mbr_layout(t: &PartitionTable) -> Vec<(u32, u64, u64, u8)> {
        let ss = u64::from(t.sector_size);
        t.partitions
            .iter()
            .map(|p| {
                let PartitionType::Mbr(k) = p.type_id else {
                    panic!("not an MBR type: {p:?}")
                };
                assert_eq!(p.start % ss, 0);
                assert_eq!(p.len % ss, 0);
                (p.number, p.start / ss, p.len / ss, k)
            })
            .collect()
    }

    /// (number, first lba, last lba, type guid, name) for every partition.
    fn gpt_layout(t: &PartitionTable) -> Vec<(u32, u64, u64, String, Option<String>)> {
        let ss = u64::from(t.sector_size);
        t.partitions
            .iter()
            .map(|p| {
                let PartitionType::Gpt(g) = &p.type_id else {
                    panic!("not a GPT type: {p:?}")
                };
                (
                    p.number,
                    p.start / ss,
                    (p.start + p.len) / ss - 1,
                    g.clone(),
                    p.name.clone(),
                )
            })
            .collect()
    }

    fn s(x: &str) -> Option<String> {
        Some(x.to_string())
    }

    fn has_note(t: &PartitionTable, needle: &str) -> bool {
        t.notes.iter().any(|n| n.contains(needle))
    }

    // ---- partition-tables/ oracles ----

    #[test]
    fn gpt_crate_disk() {
        // gpt-list: p1 34..34, p2 35..38, Linux fs, empty names.
        let t = table_of("partition-tables/gpt-crate/gpt-disk.img", None);
        assert_eq!(t.kind, TableKind::Gpt);
        assert_eq!(t.sector_size, 512);
        assert_eq!(
            gpt_layout(&t),
            vec![
                (1, 34, 34, LINUX.into(), None),
                (2, 35, 38, LINUX.into(), None)
            ]
        );
        assert!(t.notes.is_empty(), "{:?}", t.notes);
    }

    #[test]
    fn gptman_512_names_and_bootable_attribute() {
        let t = table_of("partition-tables/gptman/disk1.img", None);
        assert_eq!(t.kind, TableKind::Gpt);
        assert_eq!(
            gpt_layout(&t),
            vec![
                (1, 34, 43, LINUX.into(), s("Foo")),
                (2, 48, 52, BASIC_DATA.into(), s("Bar")),
            ]
        );
        // attrs 0x8000000000000004: bit 2, legacy BIOS bootable.
        assert!(!t.partitions[0].bootable);
        assert!(t.partitions[1].bootable);
        assert!(t.notes.is_empty(), "{:?}", t.notes);
        // Same with the right hint; with a 4096 hint there is no GPT (gptman: read_from err).
        assert_eq!(table_of("partition-tables/gptman/disk1.img", Some(512)), t);
        let dev = open(&oracle("partition-tables/gptman/disk1.img"));
        assert!(matches!(
            read_partition_table(dev.as_ref(), Some(4096)),
            Err(TableError::Malformed(_))
        ));
    }

    #[test]
    fn gptman_4096_byte_sectors() {
        let t = table_of("partition-tables/gptman/disk2.img", None);
        assert_eq!(t.kind, TableKind::Gpt);
        assert_eq!(t.sector_size, 4096);
        assert_eq!(
            gpt_layout(&t),
            vec![
                (1, 6, 15, LINUX.into(), None),
                (2, 70, 79, LINUX.into(), None)
            ]
        );
        assert_eq!(t.partitions[0].start, 6 * 4096);
        assert_eq!(t.partitions[1].len, 10 * 4096);
        assert!(t.notes.is_empty(), "{:?}", t.notes);
        assert_eq!(table_of("partition-tables/gptman/disk2.img", Some(4096)), t);
        let dev = open(&oracle("partition-tables/gptman/disk2.img"));
        assert!(read_partition_table(dev.as_ref(), Some(512)).is_err());
    }

    #[test]
    fn gptman_names_with_garbage_after_nul() {
        let want = |a: u64, b: u64, c: u64, d: u64| {
            vec![
                (1, a, b, LINUX.to_string(), s("Properly zeroed name")),
                (2, c, d, LINUX.to_string(), s("Name with garbage")),
            ]
        };
        let t3 = table_of("partition-tables/gptman/disk3.img", None);
        assert_eq!((t3.kind, t3.sector_size), (TableKind::Gpt, 512));
        assert_eq!(gpt_layout(&t3), want(34, 49, 50, 65));
        let t4 = table_of("partition-tables/gptman/disk4.img", None);
        assert_eq!((t4.kind, t4.sector_size), (TableKind::Gpt, 4096));
        assert_eq!(gpt_layout(&t4), want(6, 49, 50, 93));
    }

    #[test]
    fn mbrman_primaries() {
        // p1 active 0x06 LBA 1 x1; p2 0x0B LBA 3 x1.
        let t = table_of("partition-tables/mbrman/disk1.img", None);
        assert_eq!(t.kind, TableKind::Mbr);
        assert_eq!(mbr_layout(&t), vec![(1, 1, 1, 0x06), (2, 3, 1, 0x0B)]);
        assert!(t.partitions[0].bootable && !t.partitions[1].bootable);
        assert!(t.notes.is_empty(), "{:?}", t.notes);
    }

    #[test]
    fn mbrman_extended_chain_of_five_ebrs() {
        // mmls: p1 1..3; extended 5..19 with EBRs at 5, 7, 10, 14, 16 and logicals at
        // 6, 8..9, 11..13, 15, 17. The extended container itself is not listed.
        let t = table_of("partition-tables/mbrman/disk2.img", None);
        assert_eq!(t.kind, TableKind::Mbr);
        assert_eq!(
            mbr_layout(&t),
            vec![
                (1, 1, 3, 0x83),
                (5, 6, 1, 0x83),
                (6, 8, 2, 0x83),
                (7, 11, 3, 0x83),
                (8, 15, 1, 0x83),
                (9, 17, 1, 0x83),
            ]
        );
        assert!(t.notes.is_empty(), "{:?}", t.notes);
    }

    #[test]
    fn raspberry_pi_mbr() {
        // The oracle is the single real sector; at its real size (4 GB card) the entries are
        // exact: p1 bootable 0x0C 4194304 + 134217728, p2 0x83 138412032 + 3860856832.
        let path = oracle("partition-tables/bootsector/mbr-ubuntu-raspi3-16.04.img");
        let data = std::fs::read(&path).unwrap();
        let dev = SparseDevice {
            data: data.clone(),
            size: 4_000_000_000,
        };
        let t = table(&dev, None);
        assert_eq!(t.kind, TableKind::Mbr);
        let got: Vec<_> = t
            .partitions
            .iter()
            .map(|p| (p.number, p.start, p.len, p.type_id.clone(), p.bootable))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, 4_194_304, 134_217_728, PartitionType::Mbr(0x0C), true),
                (
                    2,
                    138_412_032,
                    3_860_856_832,
                    PartitionType::Mbr(0x83),
                    false
                ),
            ]
        );
        assert!(t.notes.is_empty(), "{:?}", t.notes);
        // The bare 512-byte file: both start past the end, listed empty, with notes.
        let t = table_of(
            "partition-tables/bootsector/mbr-ubuntu-raspi3-16.04.img",
            None,
        );
        assert_eq!(t.partitions.len(), 2);
        assert!(t.partitions.iter().all(|p| p.len == 0));
        assert!(has_note(
            &t,
            "partition 1 starts at byte 4194304, past the end"
        ));
        assert!(has_note(
            &t,
            "partition 2 starts at byte 138412032, past the end"
        ));
    }

    #[test]
    fn tiny_and_empty_tables() {
        let t = table_of("partition-tables/bootsector/tiny.img", None);
        assert_eq!(t.kind, TableKind::Mbr);
        assert_eq!(
            t.partitions
                .iter()
                .map(|p| (p.number, p.start, p.len))
                .collect::<Vec<_>>(),
            vec![(1, 512, 3584)]
        );
        let t = table_of("partition-tables/bootsector/fdisk-empty-mbr.img", None);
        assert_eq!((t.kind, t.partitions.len()), (TableKind::Mbr, 0));
        let t = table_of("partition-tables/bootsector/fdisk-empty-gpt.img", None);
        assert_eq!((t.kind, t.partitions.len()), (TableKind::Gpt, 0));
        assert!(t.notes.is_empty(), "{:?}", t.notes);
        let t = table_of("partition-tables/bootsector/fdisk-1m-part.img.zst", None);
        assert_eq!(t.kind, TableKind::Gpt);
        assert_eq!(gpt_layout(&t), vec![(1, 34, 2081, LINUX.into(), None)]);
        assert_eq!(
            (t.partitions[0].start, t.partitions[0].len),
            (34 * 512, 1 << 20)
        );
    }

    #[test]
    fn truncated_4tb_gpt_needs_no_backup() {
        // bootsector/tests: first_byte 1 MiB len 3 000 999 346 176; 3 001 000 394 752 len
        // 999 786 618 368; backup header (LBA 7 814 037 167) absent.
        let want = vec![
            (
                1u32,
                1_048_576u64,
                3_000_999_346_176u64,
                "a19d880f-05fc-4d3b-a006-743f0f84911e",
            ),
            (2, 3_001_000_394_752, 999_786_618_368, LINUX),
        ];
        let path = oracle("partition-tables/bootsector/4t-gpt.img");
        let data = std::fs::read(&path).unwrap();
        let dev = SparseDevice {
            data,
            size: 7_814_037_168 * 512,
        };
        let t = table(&dev, None);
        assert_eq!(t.kind, TableKind::Gpt);
        let got: Vec<_> = t
            .partitions
            .iter()
            .map(|p| {
                let PartitionType::Gpt(g) = &p.type_id else {
                    panic!()
                };
                (p.number, p.start, p.len, g.as_str())
            })
            .collect();
        assert_eq!(got, want);
        assert!(t.notes.is_empty(), "{:?}", t.notes);

        // The 18 KiB file itself: same table, partitions past the end are emptied and noted,
        // and the missing backup is mentioned, not required.
        let t = table_of("partition-tables/bootsector/4t-gpt.img", None);
        assert_eq!(t.kind, TableKind::Gpt);
        assert_eq!(t.partitions.len(), 2);
        assert_eq!(t.partitions[0].start, 1_048_576);
        assert!(t.partitions.iter().all(|p| p.len == 0));
        assert!(
            has_note(&t, "backup header at sector 7814037167"),
            "{:?}",
            t.notes
        );
        assert!(has_note(&t, "partition 2 starts at byte 3001000394752"));
    }

    #[test]
    fn android_gpt_with_70_entries() {
        let rel = "partition-tables/bootsector/pirroman-short-header.img";
        let path = oracle(rel);
        let data = std::fs::read(&path).unwrap();
        // backup_lba 244285439: the real disk has 244285440 sectors.
        let dev = SparseDevice {
            data,
            size: 244_285_440 * 512,
        };
        let t = table(&dev, None);
        assert_eq!(t.kind, TableKind::Gpt);
        assert_eq!(t.partitions.len(), 70);
        let l = gpt_layout(&t);
        assert_eq!(l[0], (1, 1024, 2047, BASIC_DATA.into(), s("frp")));
        assert_eq!(l[1], (2, 2048, 6143, BASIC_DATA.into(), s("persist")));
        assert_eq!(
            l[40],
            (
                41,
                987136,
                1052671,
                BASIC_DATA.into(),
                s("erecovery_ramdisk_a")
            )
        );
        assert_eq!(
            l[65],
            (66, 5193728, 8273919, BASIC_DATA.into(), s("system_a"))
        );
        assert_eq!(
            l[69],
            (70, 12730368, 244285439, BASIC_DATA.into(), s("userdata"))
        );
        assert!(t.notes.is_empty(), "{:?}", t.notes);
        // Every row of the gpt-list listing.
        let listing = std::fs::read_to_string(oracle(&format!("{rel}.gpt-list.txt"))).unwrap();
        let rows: Vec<_> = listing
            .lines()
            .filter(|l| !l.starts_with('#') && !l.contains('='))
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (
                    f[0].parse::<u32>().unwrap(),
                    f[1].parse::<u64>().unwrap(),
                    f[2].parse::<u64>().unwrap(),
                    f[4].to_lowercase(),
                    Some(f[6].to_string()),
                )
            })
            .collect();
        assert_eq!(rows.len(), 70);
        assert_eq!(l, rows);

        // The bare 32 KiB prefix: all 70 entries lie past its end. The notes stay bounded.
        let t = table_of(rel, None);
        assert_eq!(t.partitions.len(), 70);
        assert_eq!(t.notes.len(), MAX_NOTES + 1);
        assert!(
            t.notes[0].contains("backup header at sector 244285439"),
            "{:?}",
            t.notes
        );
        assert_eq!(t.notes[MAX_NOTES], "39 more problems were not listed");
    }

    #[test]
    fn mbr_with_4096_byte_sectors_when_told() {
        let mut d = vec![0u8; 64 * 4096];
        set_mbr_entry(&mut d, 0, 0, 0, 0x0C, 2, 10);
        set_mbr_entry(&mut d, 0, 1, 0, 0x05, 20, 40);
        set_mbr_entry(&mut d, 20 * 4096, 0, 0, 0x83, 1, 5);
        let t = table(&mem(d.clone()), Some(4096));
        assert_eq!((t.kind, t.sector_size), (TableKind::Mbr, 4096));
        assert_eq!(mbr_layout(&t), vec![(1, 2, 10, 0x0C), (5, 21, 5, 0x83)]);
        assert_eq!(t.partitions[1].start, 21 * 4096);
        // Without the hint the same bytes are read in 512-byte units (no way to know).
        let t = table(&mem(d), None);
        assert_eq!(t.sector_size, 512);
        assert_eq!(t.partitions[0].start, 2 * 512);
    }

    // ---- partitioned images with filesystems ----

    #[test]
    fn dfvfs_mbr_with_one_logical() {
        // dfvfs: p1 sectors 1..129, p5 131..259 (129 sectors each), type 0x83.
        let path = oracle("dfvfs/mbr.raw.zst");
        let dev = open(&path);
        let t = table(dev.as_ref(), None);
        assert_eq!(t.kind, TableKind::Mbr);
        assert_eq!(mbr_layout(&t), vec![(1, 1, 129, 0x83), (5, 131, 129, 0x83)]);
        assert_eq!(t.partitions[1].start, 131 * 512);
        assert!(t.notes.is_empty(), "{:?}", t.notes);
        // p1 "ext3 without journal" and p5 "ext4 without journal" (blkid: ext2 / ext4).
        let kinds: Vec<_> = t
            .partitions
            .iter()
            .map(|p| detect(&Slice::new(dev.clone(), p.start, p.len)).unwrap())
            .collect();
        assert_eq!(kinds, vec![FsKind::Ext2, FsKind::Ext4]);
    }

    #[test]
    fn dftt_three_entry_extended_table() {
        // ext-part-test-2.mmls.txt: 3 primaries 0x04 at 63 (52353), 52416 (52416),
        // 104832 (52416); the first EBR (157248) holds two logicals, 157311 and 209727
        // (52353 each, 0x04), then links to 262080 whose logical is 262143 (50337, 0x06).
        let path = unzip_member("dftt/1-extend-part.zip", "1-extend-part/ext-part-test-2.dd");
        let dev = open(&path);
        let t = unchanged(&path, || table(dev.as_ref(), None));
        assert_eq!(t.kind, TableKind::Mbr);
        assert_eq!(
            mbr_layout(&t),
            vec![
                (1, 63, 52353, 0x04),
                (2, 52416, 52416, 0x04),
                (3, 104832, 52416, 0x04),
                (5, 157311, 52353, 0x04),
                (6, 209727, 52353, 0x04),
                (7, 262143, 50337, 0x06),
            ]
        );
        assert!(t.notes.is_empty(), "{:?}", t.notes);
        for p in &t.partitions {
            let k = detect(&Slice::new(dev.clone(), p.start, p.len)).unwrap();
            assert_eq!(k, FsKind::Fat16, "partition {}", p.number);
        }
    }

    #[test]
    fn nobodd_gpt_keeps_gaps() {
        let t = table_of("nobodd/gpt_disk.img.gz", None);
        assert_eq!(t.kind, TableKind::Gpt);
        assert_eq!(
            gpt_layout(&t),
            vec![
                (1, 2048, 18431, BASIC_DATA.into(), s("big-part")),
                (2, 18432, 18831, BASIC_DATA.into(), s("little-part1")),
                (5, 20480, 28671, LINUX.into(), s("medium-part")),
                (6, 28672, 29071, BASIC_DATA.into(), s("little-part2")),
            ]
        );
        assert!(t.notes.is_empty(), "{:?}", t.notes);
    }

    #[test]
    fn nobodd_mbr_with_two_logicals() {
        // p1 0x0C 2048+16384; p2 0x0C 18432+401; extended 20480+45056 (not listed);
        // p5 0x83 22528+8192; p6 0x0C 32768+401 (second EBR at 30720).
        let t = table_of("nobodd/mbr_disk.img.gz", None);
        assert_eq!(t.kind, TableKind::Mbr);
        assert_eq!(
            mbr_layout(&t),
            vec![
                (1, 2048, 16384, 0x0C),
                (2, 18432, 401, 0x0C),
                (5, 22528, 8192, 0x83),
                (6, 32768, 401, 0x0C),
            ]
        );
        assert!(t.notes.is_empty(), "{:?}", t.notes);
    }

    #[test]
    fn nobodd_composed_disks_detect_by_content() {
        let dev = open_oracle("nobodd/composed-gpt-fat32p1-ext2p5.img.zst");
        let t = table(dev.as_ref(), None);
        let kinds: Vec<_> = t
            .partitions
            .iter()
            .map(|p| {
                (
                    p.number,
                    detect(&Slice::new(dev.clone(), p.start, p.len)).unwrap(),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                (1, FsKind::Fat32),
                (2, FsKind::Unknown),
                (5, FsKind::Ext2),
                (6, FsKind::Unknown)
            ]
        );
        let dev = open_oracle("nobodd/composed-mbr-fat16p1-ext2p5.img.zst");
        let t = table(dev.as_ref(), None);
        let kinds: Vec<_> = t
            .partitions
            .iter()
            .map(|p| {
                (
                    p.number,
                    detect(&Slice::new(dev.clone(), p.start, p.len)).unwrap(),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                (1, FsKind::Fat16),
                (2, FsKind::Unknown),
                (5, FsKind::Ext2),
                (6, FsKind::Unknown)
            ]
        );
    }

    #[test]
    fn embedded_sdmmc_fat16_and_fat32() {
        // p1 0x0E at 2048 x 262144 (FAT16), p2 0x0C at 264192 x 784384 (FAT32).
        let path = oracle("embedded-sdmmc/disk.img.gz");
        let dev = open(&path);
        let t = table(dev.as_ref(), None);
        assert_eq!(t.kind, TableKind::Mbr);
        assert_eq!(
            mbr_layout(&t),
            vec![(1, 2048, 262144, 0x0E), (2, 264192, 784384, 0x0C)]
        );
        assert!(t.notes.is_empty(), "{:?}", t.notes);
        let kinds: Vec<_> = t
            .partitions
            .iter()
            .map(|p| detect(&Slice::new(dev.clone(), p.start, p.len)).unwrap())
            .collect();
        assert_eq!(kinds, vec![FsKind::Fat16, FsKind::Fat32]);
    }

    #[test]
    fn tsk_windows_disk_two_ntfs() {
        // mmls: p1 128..55423 (55296), p2 55424..116863 (61440), type 0x07.
        let path = oracle("tsk-test-data/imageformat_mmls_1.raw.zst");
        let dev = open(&path);
        let t = unchanged(&path, || table(dev.as_ref(), None));
        assert_eq!(t.kind, TableKind::Mbr);
        assert_eq!(
            mbr_layout(&t),
            vec![(1, 128, 55296, 0x07), (2, 55424, 61440, 0x07)]
        );
        for p in &t.partitions {
            let k = detect(&Slice::new(dev.clone(), p.start, p.len)).unwrap();
            assert_eq!(k, FsKind::Ntfs);
        }
    }

    #[test]
    fn whole_disk_filesystems_have_no_table() {
        for rel in [
            "rust-fatfs/fat12.img.zst",
            "rust-fatfs/fat16.img.zst",
            "nobodd/fat12.img.gz",
            "nobodd/fat16.img.gz",
            "nobodd/fat32.img.gz",
            "ntfs-crate/testfs1.zst",
            "ext4-view/test_disk_ext3.bin.zst",
            "dfvfs/bdetogo.raw@9c0660e6.raw",
        ] {
            let t = table_of(rel, None);
            assert_eq!(t.kind, TableKind::None, "{rel}");
            assert!(t.partitions.is_empty(), "{rel}");
            assert!(t.notes.is_empty(), "{rel}: {:?}", t.notes);
        }
    }

    // ---- synthetic hostile tables ----

    fn mem(v: Vec<u8>) -> MemDevice {
        MemDevice::new(v)
    }

    #[test]
    fn ebr_chain_looping_to_itself_terminates() {
        let mut d = vec![0u8; 64 * 512];
        set_mbr_entry(&mut d, 0, 0, 0, 0x05, 10, 40);
        // EBR at 10: a logical at +1, and a link back to offset 0 (itself).
        set_mbr_entry(&mut d, 10 * 512, 0, 0, 0x83, 1, 4);
        set_mbr_entry(&mut d, 10 * 512, 1, 0, 0x05, 0, 10);
        let t = table(&mem(d.clone()), None);
        assert_eq!(mbr_layout(&t), vec![(5, 11, 4, 0x83)]);
        assert!(has_note(&t, "loops back to sector 10"), "{:?}", t.notes);

        // A two-EBR cycle: 10 -> 20 -> 10.
        set_mbr_entry(&mut d, 10 * 512, 1, 0, 0x05, 10, 10);
        set_mbr_entry(&mut d, 20 * 512, 0, 0, 0x0C, 2, 3);
        set_mbr_entry(&mut d, 20 * 512, 1, 0, 0x0F, 0, 10);
        let t = table(&mem(d), None);
        assert_eq!(mbr_layout(&t), vec![(5, 11, 4, 0x83), (6, 22, 3, 0x0C)]);
        assert!(has_note(&t, "loops back to sector 10"), "{:?}", t.notes);
    }

    #[test]
    fn ebr_offsets_link_relative_to_extended_data_relative_to_ebr() {
        // Extended at 100; EBR1 at 100 holds a logical at +5 (105) and links to +50 (150);
        // EBR2 at 150 holds a logical at +7 (157). Mixing the bases up would give 155/107/...
        let mut d = vec![0u8; 400 * 512];
        set_mbr_entry(&mut d, 0, 1, 0x80, 0x07, 2, 90);
        set_mbr_entry(&mut d, 0, 3, 0, 0x85, 100, 200);
        set_mbr_entry(&mut d, 100 * 512, 0, 0x80, 0x83, 5, 20);
        set_mbr_entry(&mut d, 100 * 512, 1, 0, 0x05, 50, 60);
        set_mbr_entry(&mut d, 150 * 512, 0, 0, 0x07, 7, 30);
        let t = table(&mem(d), None);
        assert_eq!(
            mbr_layout(&t),
            vec![(2, 2, 90, 0x07), (5, 105, 20, 0x83), (6, 157, 30, 0x07)]
        );
        assert!(t.partitions[0].bootable && t.partitions[1].bootable && !t.partitions[2].bootable);
        assert!(t.notes.is_empty(), "{:?}", t.notes);
    }

    #[test]
    fn long_ebr_chain_is_capped() {
        // 300 EBRs, each with one logical and a link to the next: stops at 128 logicals.
        let n = 300usize;
        let mut d = vec![0u8; (2 + 2 * n) * 512];
        set_mbr_entry(&mut d, 0, 0, 0, 0x0F, 2, (2 * n) as u32);
        for i in 0..n {
            let at = (2 + 2 * i) * 512;
            set_mbr_entry(&mut d, at, 0, 0, 0x83, 1, 1);
            set_mbr_entry(&mut d, at, 1, 0, 0x05, (2 * i + 2) as u32, 2);
        }
        let t = table(&mem(d), None);
        assert_eq!(t.partitions.len(), 128);
        assert_eq!(t.partitions.last().unwrap().number, 132);
        assert!(
            has_note(&t, "more than 128 logical partitions"),
            "{:?}",
            t.notes
        );
    }

    #[test]
    fn entry_past_the_end_is_clipped() {
        let mut d = vec![0u8; 100 * 512];
        set_mbr_entry(&mut d, 0, 0, 0, 0x83, 10, 200);
        set_mbr_entry(&mut d, 0, 1, 0, 0x83, 500, 10);
        let t = table(&mem(d), None);
        let got: Vec<_> = t
            .partitions
            .iter()
            .map(|p| (p.number, p.start, p.len))
            .collect();
        assert_eq!(got, vec![(1, 5120, 90 * 512), (2, 500 * 512, 0)]);
        assert!(
            has_note(
                &t,
                "partition 1 runs past the end of the disk: clipped from 102400 to 46080 bytes"
            ),
            "{:?}",
            t.notes
        );
        assert!(
            has_note(&t, "partition 2 starts at byte 256000, past the end"),
            "{:?}",
            t.notes
        );
    }

    #[test]
    fn overlapping_entries_are_listed_and_noted() {
        let mut d = vec![0u8; 100 * 512];
        set_mbr_entry(&mut d, 0, 0, 0, 0x83, 10, 30);
        set_mbr_entry(&mut d, 0, 1, 0, 0x07, 20, 30);
        set_mbr_entry(&mut d, 0, 2, 0, 0x0C, 60, 10);
        let t = table(&mem(d), None);
        assert_eq!(
            mbr_layout(&t),
            vec![(1, 10, 30, 0x83), (2, 20, 30, 0x07), (3, 60, 10, 0x0C)]
        );
        assert_eq!(t.notes, vec!["partitions 1 and 2 overlap".to_string()]);
    }

    #[test]
    fn stray_entries_in_an_ebr_are_ignored_like_linux() {
        let mut d = vec![0u8; 100 * 512];
        set_mbr_entry(&mut d, 0, 0, 0, 0x05, 10, 50);
        set_mbr_entry(&mut d, 10 * 512, 0, 0, 0x83, 1, 5);
        // Slot 3 points far outside the extended partition: garbage.
        set_mbr_entry(&mut d, 10 * 512, 2, 0, 0x83, 5000, 5);
        let t = table(&mem(d), None);
        assert_eq!(mbr_layout(&t), vec![(5, 11, 5, 0x83)]);
        assert!(has_note(&t, "stray entry (slot 3)"), "{:?}", t.notes);
    }

    #[test]
    fn invalid_boot_flags_mean_no_table() {
        let mut d = vec![0u8; 64 * 512];
        set_mbr_entry(&mut d, 0, 0, 0x12, 0x83, 1, 10);
        let t = table(&mem(d), None);
        assert_eq!((t.kind, t.partitions.len()), (TableKind::None, 0));
    }

    fn synthetic_gpt(ss: usize) -> Vec<u8> {
        // 128 sectors of 512 (two 32-sector arrays) or 64 of 4096 (two 4-sector arrays).
        let (first, sectors) = if ss == 512 { (40, 128) } else { (8, 64) };
        build_gpt(
            ss,
            sectors,
            &[
                GptEntry {
                    index: 0,
                    type_guid: LINUX_FS,
                    first,
                    last: first + 9,
                    attrs: 4,
                    name: "alpha",
                },
                GptEntry {
                    index: 3,
                    type_guid: LINUX_FS,
                    first: first + 10,
                    last: first + 11,
                    attrs: 0,
                    name: "δ",
                },
            ],
        )
    }

    #[test]
    fn synthetic_gpt_512_and_4096() {
        for ss in [512usize, 4096] {
            let d = synthetic_gpt(ss);
            let first = if ss == 512 { 40 } else { 8 };
            for hint in [None, Some(ss as u32)] {
                let t = table(&mem(d.clone()), hint);
                assert_eq!((t.kind, t.sector_size), (TableKind::Gpt, ss as u32));
                assert_eq!(
                    gpt_layout(&t),
                    vec![
                        (1, first, first + 9, LINUX.into(), s("alpha")),
                        (4, first + 10, first + 11, LINUX.into(), s("δ")),
                    ]
                );
                assert!(t.partitions[0].bootable);
                assert!(t.notes.is_empty(), "{:?}", t.notes);
            }
        }
    }

    #[test]
    fn corrupt_primary_gpt_header_falls_back_to_backup() {
        for (ss, last) in [(512usize, 127), (4096, 63)] {
            let mut d = synthetic_gpt(ss);
            d[ss + 60] ^= 0xFF; // inside the disk GUID: header CRC mismatch
            let t = table(&mem(d.clone()), None);
            assert_eq!(t.kind, TableKind::Gpt);
            assert_eq!(t.partitions.len(), 2);
            let want = format!("primary GPT header unusable: header CRC mismatch: used the backup header at sector {last}");
            assert!(has_note(&t, &want), "{:?}", t.notes);
            // Signature wiped too: the backup is still found by probing.
            d[ss..ss + 8].fill(0);
            let t = table(&mem(d.clone()), None);
            assert_eq!((t.partitions.len(), t.sector_size), (2, ss as u32));
            assert!(
                has_note(&t, "primary GPT header missing: used the backup header"),
                "{:?}",
                t.notes
            );
        }
        // A corrupt primary entry array (header intact): the backup copy is used.
        let mut d = synthetic_gpt(512);
        d[2 * 512 + 32] ^= 1;
        let t = table(&mem(d.clone()), None);
        assert_eq!(t.partitions.len(), 2);
        assert!(
            has_note(
                &t,
                "primary GPT partition array CRC mismatch: used the backup"
            ),
            "{:?}",
            t.notes
        );
        // Both arrays damaged: the primary's entries are used anyway, with a note.
        let last_array = (127 - 32) * 512;
        d[last_array + 32] ^= 1;
        let t = table(&mem(d), None);
        assert_eq!(t.partitions[0].start, (40 ^ 1) * 512);
        assert!(
            has_note(&t, "used the primary entries anyway"),
            "{:?}",
            t.notes
        );

        // The real gptman disk1 with its primary header damaged.
        let mut d = std::fs::read(oracle("partition-tables/gptman/disk1.img")).unwrap();
        d[512 + 60] ^= 0x55;
        let t = table(&mem(d), None);
        assert_eq!(
            gpt_layout(&t),
            vec![
                (1, 34, 43, LINUX.into(), s("Foo")),
                (2, 48, 52, BASIC_DATA.into(), s("Bar")),
            ]
        );
        assert!(
            has_note(&t, "used the backup header at sector 99"),
            "{:?}",
            t.notes
        );
    }

    #[test]
    fn gpt_with_2_pow_31_entries_is_rejected() {
        let mut d = synthetic_gpt(512);
        let array = d[2 * 512..2 * 512 + 128 * 128].to_vec();
        write_gpt_header(&mut d, 512, 1, 127, 2, 1 << 31, 128, &array);
        write_gpt_header(&mut d, 512, 127, 1, 95, 1 << 31, 128, &array);
        let err = read_partition_table(&mem(d.clone()), None).unwrap_err();
        let TableError::Malformed(msg) = err else {
            panic!("{err}")
        };
        assert!(msg.contains("2147483648 entries"), "{msg}");
        // Entry size not a power of two, and an array over 1 MiB: rejected the same way.
        write_gpt_header(&mut d, 512, 1, 127, 2, 128, 200, &array);
        write_gpt_header(&mut d, 512, 127, 1, 95, 1024, 4096, &array);
        let TableError::Malformed(msg) = read_partition_table(&mem(d.clone()), None).unwrap_err()
        else {
            panic!()
        };
        assert!(
            msg.contains("entry size 200") && msg.contains("too large"),
            "{msg}"
        );
        // With a hybrid MBR entry beside the 0xEE one, that entry is still returned.
        set_mbr_entry(&mut d, 0, 1, 0, 0x0C, 40, 10);
        let t = table(&mem(d), None);
        assert_eq!(
            (t.kind, mbr_layout(&t)),
            (TableKind::Mbr, vec![(2, 40, 10, 0x0C)])
        );
        assert!(has_note(&t, "used the other MBR entries"), "{:?}", t.notes);
    }

    #[test]
    fn gpt_entry_past_the_end_and_reversed() {
        let d = build_gpt(
            512,
            128,
            &[
                GptEntry {
                    index: 0,
                    type_guid: LINUX_FS,
                    first: 40,
                    last: 200,
                    attrs: 0,
                    name: "big",
                },
                GptEntry {
                    index: 1,
                    type_guid: LINUX_FS,
                    first: 50,
                    last: 45,
                    attrs: 0,
                    name: "rev",
                },
                GptEntry {
                    index: 2,
                    type_guid: LINUX_FS,
                    first: u64::MAX / 2,
                    last: u64::MAX,
                    attrs: 0,
                    name: "far",
                },
            ],
        );
        let t = table(&mem(d), None);
        assert_eq!(
            t.partitions
                .iter()
                .map(|p| (p.number, p.start, p.len))
                .collect::<Vec<_>>(),
            vec![(1, 40 * 512, 88 * 512)]
        );
        assert!(
            has_note(&t, "partition 1 runs past the end"),
            "{:?}",
            t.notes
        );
        assert!(
            has_note(&t, "GPT entry 2 ends (sector 45) before it starts"),
            "{:?}",
            t.notes
        );
        assert!(
            has_note(&t, "GPT entry 3 starts beyond any possible disk"),
            "{:?}",
            t.notes
        );
    }

    #[test]
    fn odd_devices_do_not_fail() {
        for len in [0usize, 1, 100, 511] {
            let t = table(&mem(vec![0x55; len]), None);
            assert_eq!((t.kind, t.partitions.len()), (TableKind::None, 0));
        }
        let t = table(&mem(vec![0; 4096]), Some(1000));
        assert_eq!(t.kind, TableKind::None);
        assert!(has_note(&t, "ignored the reported sector size of 1000"));
    }

    /// Feeds many mutated and random tables (and the same bytes to `detect`): nothing may
    /// panic, hang, or return partitions outside the disk.
    #[test]
    fn robustness_random_and_mutated_tables() {
        let mut seeds: Vec<Vec<u8>> = vec![
            std::fs::read(oracle("partition-tables/mbrman/disk2.img")).unwrap(),
            std::fs::read(oracle("partition-tables/gptman/disk1.img")).unwrap(),
            std::fs::read(oracle("partition-tables/gptman/disk2.img")).unwrap(),
            std::fs::read(oracle(
                "partition-tables/bootsector/pirroman-short-header.img",
            ))
            .unwrap(),
            std::fs::read(oracle("rust-fatfs/fat12.img.zst")).unwrap()[..16384].to_vec(),
            synthetic_gpt(512),
            synthetic_gpt(4096),
        ];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut ebr_chain = vec![0u8; 40 * 512];
        set_mbr_entry(&mut ebr_chain, 0, 0, 0, 0x05, 2, 38);
        for i in 0..10 {
            set_mbr_entry(&mut ebr_chain, (2 + 3 * i) * 512, 0, 0, 0x83, 1, 1);
            set_mbr_entry(
                &mut ebr_chain,
                (2 + 3 * i) * 512,
                1,
                0,
                0x05,
                (3 * i + 3) as u32,
                3,
            );
        }
        seeds.push(ebr_chain);
        for round in 0..3000u32 {
            let mut d = seeds[rng.below(seeds.len() as u64) as usize].clone();
            match round % 4 {
                // A few random byte flips in the first sectors (tables, headers).
                0 | 1 => {
                    for _ in 0..1 + rng.below(8) {
                        let span = d.len().min(34 * 512) as u64;
                        let i = rng.below(span) as usize;
                        d[i] = rng.next() as u8;
                    }
                }
                // Random entries in the MBR, keeping boot flags valid.
                2 => {
                    for slot in 0..4 {
                        let e = 446 + 16 * slot;
                        rng.fill(&mut d[e..e + 16]);
                        d[e] = if rng.below(2) == 0 { 0 } else { 0x80 };
                        if rng.below(3) == 0 {
                            d[e + 4] = [0x05, 0x0F, 0x85, 0xEE, 0x83][rng.below(5) as usize];
                        }
                    }
                }
                // Mutated GPT header fields with the CRCs fixed up, so the deep checks run.
                _ => {
                    let ss = if rng.below(2) == 0 { 512 } else { 4096 };
                    if d.len() >= 2 * ss {
                        let field = [24usize, 32, 72, 80, 84][rng.below(5) as usize];
                        let v = rng.next() >> (rng.below(64));
                        d[ss + field..ss + field + 4].copy_from_slice(&(v as u32).to_le_bytes());
                        d[ss + 16..ss + 20].fill(0);
                        let hs = (u32::from_le_bytes(d[ss + 12..ss + 16].try_into().unwrap())
                            as usize)
                            .clamp(92, ss);
                        let crc = crc32fast::hash(&d[ss..ss + hs]);
                        d[ss + 16..ss + 20].copy_from_slice(&crc.to_le_bytes());
                    }
                }
            }
            if rng.below(10) == 0 {
                let cut = rng.below(d.len() as u64 + 1) as usize;
                d.truncate(cut);
            }
            let size = d.len() as u64;
            let dev = mem(d);
            if let Ok(t) = read_partition_table(&dev, None) {
                assert!(t.notes.len() <= MAX_NOTES + 1);
                for p in &t.partitions {
                    assert!(
                        p.len == 0 || p.start + p.len <= size,
                        "round {round}: {p:?}"
                    );
                }
            }
            let _ = detect(&dev).unwrap();
        }
        // Pure noise.
        for _ in 0..500 {
            let mut d = vec![0u8; 512 * (1 + rng.below(64) as usize)];
            rng.fill(&mut d);
            d[510] = 0x55;
            d[511] = 0xAA;
            let dev = mem(d);
            let _ = read_partition_table(&dev, None);
            let _ = read_partition_table(&dev, Some(4096));
            let _ = detect(&dev).unwrap();
        }
    }

    #[test]
    fn device_handle_is_read_only_view() {
        // The table reader only needs `&dyn ReadAt`: a Device (Arc) works as is.
        let dev: Device = Arc::new(mem(synthetic_gpt(512)));
        assert_eq!(table(dev.as_ref(), None).partitions.len(), 2);
    }
}
