//! The table reader on real disks: tables written by gptman, mbrman, sfdisk, Raspberry Pi OS,
//! Android and other tools, compared with what they declare.

use super::*;

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
