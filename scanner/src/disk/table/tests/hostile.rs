//! The table reader on synthetic hostile tables: loops, caps, clipping, overlaps, corrupt
//! headers, and random mutations (no panic, no hang).

use super::*;

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
                    let hs = (u32::from_le_bytes(d[ss + 12..ss + 16].try_into().unwrap()) as usize)
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
