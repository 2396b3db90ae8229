//! The FAT walker on damaged volumes: crafted chains, loops, cross links and boot sector
//! fields, then random byte damage (no panic, no hang, no write).

use super::*;

// ---- crafted damage ------------------------------------------------------------------

fn geo_of(img: &[u8]) -> Geometry {
    Geometry::parse(img[..512].try_into().unwrap()).unwrap()
}

fn set_fat32(img: &mut [u8], geo: &Geometry, cluster: u64, value: u32) {
    let at = usize::try_from(geo.fat_start + 4 * cluster).unwrap();
    img[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

#[test]
fn root_chain_looping_onto_itself_terminates_with_an_error() {
    let mut img = fat32_bytes();
    let geo = geo_of(&img);
    let root = le32(&img, 0x2C);
    // Point the root's last cluster back at its first, and turn its free slots (the
    // end-of-directory marker) into deleted entries so the listing runs into the loop.
    let cs = usize::try_from(geo.cluster_size).unwrap();
    let mut c = root;
    loop {
        let at = usize::try_from(geo.data_start + (c - 2) * geo.cluster_size).unwrap();
        for e in (at..at + cs).step_by(32) {
            if img[e] == 0 {
                img[e] = 0xE5;
            }
        }
        let next = le32(&img, usize::try_from(geo.fat_start + 4 * c).unwrap()) & 0x0FFF_FFFF;
        if next >= 0x0FFF_FFF8 {
            break;
        }
        c = next;
    }
    set_fat32(&mut img, &geo, c, u32::try_from(root).unwrap());
    let mut w = open_mem(img.clone()).unwrap();
    let walk = collect(&mut w, u64::MAX);
    match walk.get("/") {
        Some(Outcome::Error(e)) => assert!(e.contains("loops"), "{e}"),
        other => panic!("root outcome {other:?}"),
    }
    // Files listed before the loop closed are still read correctly.
    assert_eq!(
        walk.get("/README.TXT")
            .map(|o| matches!(o, Outcome::Data(17, _))),
        Some(true)
    );

    // Same loop, with the root's first cluster made of deleted entries only: fatfs would
    // spin inside a single `next()` call.
    let first = usize::try_from(geo.data_start + (root - 2) * geo.cluster_size).unwrap();
    for e in (first..first + usize::try_from(geo.cluster_size).unwrap()).step_by(32) {
        img[e] = 0xE5;
    }
    set_fat32(&mut img, &geo, root, u32::try_from(root).unwrap());
    let mut w = open_mem(img).unwrap();
    let walk = collect(&mut w, u64::MAX);
    assert!(matches!(walk.get("/"), Some(Outcome::Error(_))), "{walk:?}");
    assert_eq!(walk.len(), 1);
}

/// (offset of the entry, first cluster) of a short-name entry in a FAT16 directory area.
fn find_sfn(img: &[u8], area: std::ops::Range<usize>, name: &[u8; 11]) -> (usize, u64) {
    for e in area.step_by(32) {
        if &img[e..e + 11] == name {
            return (e, le16(img, e + 26));
        }
    }
    panic!("{name:?} not found");
}

fn fat16_with_random_bin() -> (Vec<u8>, Geometry, usize, u64) {
    let img = std::fs::read(fat_images().join("fat16.img")).unwrap();
    let geo = geo_of(&img);
    let root = usize::try_from(geo.fat_end).unwrap()..usize::try_from(geo.data_start).unwrap();
    // "Données médicales" has the short name DONNÉE~1 (code page 850).
    let e = root
        .step_by(32)
        .find(|&e| img[e + 11] & 0x10 != 0 && img[e..e + 4] == *b"DONN")
        .unwrap();
    let dir_at =
        usize::try_from(geo.data_start + (le16(&img, e + 26) - 2) * geo.cluster_size).unwrap();
    let (entry, first) = find_sfn(
        &img,
        dir_at..dir_at + usize::try_from(geo.cluster_size).unwrap(),
        b"RANDOM  BIN",
    );
    (img, geo, entry, first)
}

#[test]
fn cluster_chain_shorter_than_the_file_is_an_error_for_that_file_only() {
    let (mut img, geo, _entry, first) = fat16_with_random_bin();
    let at = usize::try_from(geo.fat_start + 2 * first).unwrap();
    img[at..at + 2].copy_from_slice(&0xFFFFu16.to_le_bytes());
    let mut w = open_mem(img).unwrap();
    let walk = collect(&mut w, u64::MAX);
    match &walk["/Données médicales/random.bin"] {
        Outcome::ReadError(e) => assert!(e.contains("cluster chain ends"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(data_only(&walk).len(), 157);
}

#[test]
fn cluster_number_below_two_is_an_error_for_that_file_only() {
    let (mut img, _geo, entry, _first) = fat16_with_random_bin();
    img[entry + 26..entry + 28].copy_from_slice(&1u16.to_le_bytes());
    let walk = quiet_panics(|| collect(&mut open_mem(img).unwrap(), u64::MAX));
    assert!(
        matches!(
            &walk["/Données médicales/random.bin"],
            Outcome::ReadError(_) | Outcome::Error(_)
        ),
        "{walk:?}"
    );
    assert_eq!(data_only(&walk).len(), 157);
}

#[test]
fn subdirectory_pointing_back_at_the_root_is_not_walked_twice() {
    let mut img = std::fs::read(fat_images().join("fat16.img")).unwrap();
    let geo = geo_of(&img);
    let root = usize::try_from(geo.fat_end).unwrap()..usize::try_from(geo.data_start).unwrap();
    // "many" is a directory with a short name only: make its first cluster 0 (= root).
    let (entry, _) = find_sfn(&img, root, b"MANY       ");
    img[entry + 26..entry + 28].copy_from_slice(&0u16.to_le_bytes());
    let walk = collect(&mut open_mem(img).unwrap(), u64::MAX);
    assert!(
        matches!(walk.get("/many"), Some(Outcome::Error(_))),
        "{:?}",
        walk.get("/many")
    );
    assert_eq!(data_only(&walk).len(), 8);
}

#[test]
fn bad_fsinfo_signature_is_worked_around() {
    let clean = fat32_bytes();
    let mut img = clean.clone();
    let geo = geo_of(&img);
    let at = usize::try_from(geo.fs_info_sector * geo.bytes_per_sector).unwrap();
    img[at] ^= 0xFF;
    // The crate alone refuses it...
    assert!(FileSystem::new(std::io::Cursor::new(img.clone()), FsOptions::new()).is_err());
    // ...we read it, say so, and find exactly what the clean image holds.
    let mut w = open_mem(img).unwrap();
    assert!(
        w.info().notes.iter().any(|n| n.contains("FSInfo")),
        "{:?}",
        w.info()
    );
    let damaged = collect(&mut w, u64::MAX);
    let reference = collect(&mut open_mem(clean).unwrap(), u64::MAX);
    assert_eq!(damaged, reference);
    assert_eq!(reference.len(), 158);
}

// ---- random damage -------------------------------------------------------------------

#[test]
fn random_damage_never_panics_nor_hangs() {
    let base = Arc::new(std::fs::read(fat_images().join("fat12.img")).unwrap());
    let metadata_end = geo_of(&base).data_start + 64 * 1024;
    let stats = within(600, move || {
        quiet_panics(|| {
            let mut rng = XorShift(0x5EED_F00D_1234_5678);
            let (mut opened, mut files, mut errors) = (0u64, 0u64, 0u64);
            for _ in 0..300 {
                let mut img = (*base).clone();
                for _ in 0..1 + rng.below(8) {
                    let at = usize::try_from(rng.in_use(&base, 0, metadata_end)).unwrap();
                    img[at] ^= u8::try_from(1 + rng.below(255)).unwrap();
                }
                if let Ok(mut w) = open_mem(img) {
                    opened += 1;
                    let walk = collect(&mut w, 16 * 1024 * 1024);
                    files += walk
                        .values()
                        .filter(|o| matches!(o, Outcome::Data(..)))
                        .count() as u64;
                    errors += walk
                        .values()
                        .filter(|o| !matches!(o, Outcome::Data(..)))
                        .count() as u64;
                }
            }
            (opened, files, errors)
        })
    });
    eprintln!(
        "FAT mutations: 300 images, {} opened, {} files read, {} error outcomes",
        stats.0, stats.1, stats.2
    );
    assert!(
        stats.0 > 100,
        "most single-byte damage should still mount: {stats:?}"
    );
}
