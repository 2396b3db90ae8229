//! Tests of the exFAT reader on images built by `scripts/testimg/exfat.sh` (mkfs.exfat, filled
//! through exfat-fuse), compared with what a read-only mount of the same image shows; crafted
//! damage; random damage.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use super::alloc::Clusters;
use super::dir::{self, Entry, Extent, Item};
use super::*;
use crate::fs::fat::tests::{collect, data_only, images, quiet_panics, within, Outcome, XorShift};
use crate::io::{FileDevice, MemDevice, ReadAt};
use crate::testutil::sha256_file;

fn exfat_images() -> PathBuf {
    static ONCE: OnceLock<()> = OnceLock::new();
    images("exfat.sh", &ONCE)
}

/// The oracle: `path<TAB>size<TAB>sha256` lines from the read-only mount.
fn mount_manifest(name: &str) -> BTreeMap<String, (u64, String)> {
    let text = std::fs::read_to_string(exfat_images().join(format!("{name}.manifest.tsv")))
        .expect("manifest");
    text.lines()
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            (c[0].to_string(), (c[1].parse().unwrap(), c[2].to_string()))
        })
        .collect()
}

fn open_path(p: &Path) -> ExfatWalker {
    open(Arc::new(FileDevice::open(p).unwrap())).unwrap()
}

fn bytes(name: &str) -> Vec<u8> {
    std::fs::read(exfat_images().join(name)).unwrap()
}

fn errors(walk: &BTreeMap<String, Outcome>) -> Vec<(&String, &Outcome)> {
    walk.iter()
        .filter(|(_, o)| !matches!(o, Outcome::Data(..)))
        .collect()
}

#[test]
fn generated_images_match_a_read_only_mount() {
    for (name, label, count) in [
        ("exfat.img", "VIGIE-EXFAT", 3114usize),
        ("exfat-64k.img", "EXFAT64K", 4),
    ] {
        let img = exfat_images().join(name);
        let before = sha256_file(&img);
        let mut w = open_path(&img);
        assert_eq!(w.info().label.as_deref(), Some(label), "{name}");
        assert!(w.info().notes.is_empty(), "{name}: {:?}", w.info().notes);
        let walk = collect(&mut w, u64::MAX);
        assert!(errors(&walk).is_empty(), "{name}: {:?}", errors(&walk));
        let ours = data_only(&walk);
        let theirs = mount_manifest(name.trim_end_matches(".img"));
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            theirs.keys().collect::<Vec<_>>(),
            "{name}: file lists"
        );
        assert_eq!(ours, theirs, "{name}: sizes and hashes");
        assert_eq!(ours.len(), count, "{name}");
        drop(w);
        assert_eq!(sha256_file(&img), before, "{name} changed");
        eprintln!("{name}: {} files identical to the mount", ours.len());
    }
    let ours = mount_manifest("exfat");
    for p in [
        "/café-ñandú-日本語-Ελληνικά.txt",
        "/This is a rather long file name, longer than fifteen characters.txt",
        "/deep/l2/l3/l4/l5/l6/l7/l8/l9/l10/bottom file.txt",
        "/many/entry number 3000.txt",
        "/eicar.com",
    ] {
        assert!(ours.contains_key(p), "{p} missing");
    }
    assert_eq!(ours["/empty.dat"].0, 0);
    assert!(ours.keys().any(|k| k.len() == 1 + 255));
}

/// The root's entries (and their directory subtrees' entries by name) of a volume in memory.
fn clusters_of(img: Vec<u8>) -> Clusters {
    let dev: crate::io::Device = Arc::new(MemDevice::new(img));
    let geo = boot::read(dev.as_ref()).unwrap().geometry;
    Clusters::new(geo, dev.clone(), dev)
}

fn entries(vol: &Clusters, extent: Extent) -> Vec<Entry> {
    let mut out = Vec::new();
    let _ = dir::list(vol, extent, &mut |item| {
        if let Item::Entry(e) = item {
            out.push(e);
        }
        std::ops::ControlFlow::Continue(())
    })
    .unwrap();
    vol.reset_claims();
    out
}

fn sub(e: &Entry) -> Extent {
    Extent::Sub {
        first: e.first_cluster,
        size: e.size,
        contiguous: e.contiguous,
    }
}

#[test]
fn images_hold_both_allocation_kinds_and_a_short_valid_length() {
    let vol = clusters_of(bytes("exfat.img"));
    let root = entries(&vol, Extent::Root(vol.geo.root_cluster));
    let get = |list: &[Entry], n: &str| list.iter().find(|e| e.name == n).cloned().unwrap();
    let contiguous = get(&root, "contiguous.bin");
    assert!(contiguous.contiguous, "{contiguous:?}");
    let vdl = get(&root, "vdl.bin");
    assert_eq!((vdl.size, vdl.valid), (100_000, 40_000));
    let frag = entries(&vol, sub(&get(&root, "frag")));
    for n in ["interleaved-a.bin", "interleaved-b.bin"] {
        let e = get(&frag, n);
        assert!(!e.contiguous, "{n} should be FAT-chained: {e:?}");
    }
    let many = get(&root, "many");
    assert!(many.size > 64 * 1024, "{many:?}");
    assert_eq!(entries(&vol, sub(&many)).len(), 3000);
}

// ---- crafted damage ------------------------------------------------------------------------

/// Offsets on disk of the clusters of a directory (following the FAT or contiguous).
fn dir_offsets(img: &[u8], vol: &Clusters, extent: Extent) -> Vec<u64> {
    let g = vol.geo;
    let (first, n, contiguous) = match extent {
        Extent::Root(c) => (c, 64, false),
        Extent::Sub {
            first,
            size,
            contiguous,
        } => (first, size.div_ceil(g.cluster_size), contiguous),
    };
    let mut out = Vec::new();
    let mut c = first;
    for _ in 0..n {
        out.push(g.cluster_offset(c));
        c = if contiguous {
            c + 1
        } else {
            let at = usize::try_from(g.fat_offset + 4 * c).unwrap();
            u64::from(u32::from_le_bytes(img[at..at + 4].try_into().unwrap()))
        };
        if !g.valid_cluster(c) {
            break;
        }
    }
    out
}

/// Disk offsets of the 32-byte entries of the entry set named `name` in a directory.
fn find_set(img: &[u8], vol: &Clusters, extent: Extent, name: &str) -> Vec<usize> {
    let cs = usize::try_from(vol.geo.cluster_size).unwrap();
    let slots: Vec<usize> = dir_offsets(img, vol, extent)
        .into_iter()
        .flat_map(|o| (0..cs / 32).map(move |i| usize::try_from(o).unwrap() + 32 * i))
        .collect();
    let want: Vec<u16> = name.encode_utf16().collect();
    for (k, &at) in slots.iter().enumerate() {
        if img[at] != 0x85 {
            continue;
        }
        let n = usize::from(img[at + 1]);
        let set = &slots[k..=k + n];
        let len = usize::from(img[set[1] + 3]);
        let units: Vec<u16> = set[2..]
            .iter()
            .flat_map(|&e| {
                (0..15).map(move |i| u16::from_le_bytes([img[e + 2 + 2 * i], img[e + 3 + 2 * i]]))
            })
            .take(len)
            .collect();
        if units == want {
            return set.to_vec();
        }
    }
    panic!("{name} not found");
}

/// Recomputes the SetChecksum of the entry set at `set`.
fn fix_checksum(img: &mut [u8], set: &[usize]) {
    let entries: Vec<[u8; 32]> = set
        .iter()
        .map(|&o| img[o..o + 32].try_into().unwrap())
        .collect();
    let sum = dir::set_checksum(&entries);
    img[set[0] + 2..set[0] + 4].copy_from_slice(&sum.to_le_bytes());
}

fn walk_mem(img: Vec<u8>) -> BTreeMap<String, Outcome> {
    let mut w = open(Arc::new(MemDevice::new(img))).unwrap();
    collect(&mut w, u64::MAX)
}

fn reference() -> &'static BTreeMap<String, Outcome> {
    static R: OnceLock<BTreeMap<String, Outcome>> = OnceLock::new();
    R.get_or_init(|| walk_mem(bytes("exfat.img")))
}

#[test]
fn damaged_main_boot_region_falls_back_to_the_backup() {
    let mut img = bytes("exfat.img");
    img[120] ^= 0x55; // boot code: only the checksum notices
    let mut w = open(Arc::new(MemDevice::new(img.clone()))).unwrap();
    assert!(
        w.info()
            .notes
            .iter()
            .any(|n| n.contains("backup boot region was used")),
        "{:?}",
        w.info().notes
    );
    assert_eq!(&collect(&mut w, u64::MAX), reference());
    // The backup damaged too: the main boot sector, sane apart from its checksum, is used.
    let bps = 512;
    img[12 * bps + 120] ^= 0x55;
    let w = open(Arc::new(MemDevice::new(img.clone()))).unwrap();
    assert!(
        w.info().notes.iter().any(|n| n.contains("no better")),
        "{:?}",
        w.info().notes
    );
    // Both boot sectors unusable: not an exFAT volume.
    img[3] = b'X';
    img[12 * bps + 3] = b'X';
    assert!(matches!(
        open(Arc::new(MemDevice::new(img))),
        Err(FsError::Invalid { .. })
    ));
}

#[test]
fn dirty_flag_is_noted() {
    let mut img = bytes("exfat.img");
    img[106] |= 0x2; // VolumeFlags is outside the checksum
    let w = open(Arc::new(MemDevice::new(img))).unwrap();
    assert!(w.info().notes.iter().any(|n| n.contains("VolumeDirty")));
}

#[test]
fn entry_set_with_a_bad_checksum_is_an_error_for_that_file_only() {
    let mut img = bytes("exfat.img");
    let vol = clusters_of(img.clone());
    let set = find_set(&img, &vol, Extent::Root(vol.geo.root_cluster), "README.TXT");
    img[set[2] + 2] = b'X'; // "XEADME.TXT", checksum not updated
    let walk = walk_mem(img);
    match &walk["/XEADME.TXT"] {
        Outcome::Error(e) => assert!(e.contains("checksum mismatch"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(data_only(&walk).len(), data_only(reference()).len() - 1);
}

#[test]
fn file_chain_looping_onto_itself_is_an_error_for_that_file_only() {
    let mut img = bytes("exfat.img");
    let vol = clusters_of(img.clone());
    let root = entries(&vol, Extent::Root(vol.geo.root_cluster));
    let frag = root.iter().find(|e| e.name == "frag").unwrap();
    let a = entries(&vol, sub(frag))
        .into_iter()
        .find(|e| e.name == "interleaved-a.bin")
        .unwrap();
    let at = usize::try_from(vol.geo.fat_offset + 4 * a.first_cluster).unwrap();
    img[at..at + 4].copy_from_slice(&u32::try_from(a.first_cluster).unwrap().to_le_bytes());
    let walk = walk_mem(img);
    match &walk["/frag/interleaved-a.bin"] {
        Outcome::ReadError(e) => assert!(e.contains("read twice"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(data_only(&walk).len(), data_only(reference()).len() - 1);
}

#[test]
fn cross_linked_files_are_caught() {
    let mut img = bytes("exfat.img");
    let vol = clusters_of(img.clone());
    let rootx = Extent::Root(vol.geo.root_cluster);
    let root = entries(&vol, rootx);
    let first = root
        .iter()
        .find(|e| e.name == "contiguous.bin")
        .unwrap()
        .first_cluster;
    // vdl.bin (walked after contiguous.bin in entry order?) now starts where contiguous.bin does.
    let set = find_set(&img, &vol, rootx, "vdl.bin");
    img[set[1] + 20..set[1] + 24].copy_from_slice(&u32::try_from(first).unwrap().to_le_bytes());
    fix_checksum(&mut img, &set);
    let walk = walk_mem(img);
    let bad: Vec<_> = errors(&walk);
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert!(
        matches!(bad[0].1, Outcome::ReadError(e) if e.contains("read twice")),
        "{bad:?}"
    );
    assert!(["/vdl.bin", "/contiguous.bin"].contains(&bad[0].0.as_str()));
}

#[test]
fn directory_pointing_back_at_the_root_is_not_walked_twice() {
    let mut img = bytes("exfat.img");
    let vol = clusters_of(img.clone());
    let rootx = Extent::Root(vol.geo.root_cluster);
    let set = find_set(&img, &vol, rootx, "deep");
    let root = u32::try_from(vol.geo.root_cluster).unwrap();
    img[set[1] + 20..set[1] + 24].copy_from_slice(&root.to_le_bytes());
    img[set[1] + 1] &= !0x2; // FAT-chained, like the root
    fix_checksum(&mut img, &set);
    let walk = walk_mem(img);
    match walk.get("/deep") {
        Some(Outcome::Error(e)) => assert!(e.contains("read twice"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(data_only(&walk).len(), data_only(reference()).len() - 1);
}

#[test]
fn root_chain_looping_onto_itself_terminates_with_an_error() {
    let mut img = bytes("exfat-64k.img");
    let vol = clusters_of(img.clone());
    let g = vol.geo;
    let root = usize::try_from(g.cluster_offset(g.root_cluster)).unwrap();
    let cs = usize::try_from(g.cluster_size).unwrap();
    // Free slots become deleted entries, so the listing runs into the loop.
    for e in (root..root + cs).step_by(32) {
        if img[e] == 0 {
            img[e] = 0x05;
        }
    }
    let at = usize::try_from(g.fat_offset + 4 * g.root_cluster).unwrap();
    img[at..at + 4].copy_from_slice(&u32::try_from(g.root_cluster).unwrap().to_le_bytes());
    let walk = within(60, move || walk_mem(img));
    match walk.get("/") {
        Some(Outcome::Error(e)) => assert!(e.contains("read twice"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(walk.get("/readme.txt"), Some(Outcome::Data(13, _))),
        "{walk:?}"
    );
}

// ---- random damage -------------------------------------------------------------------------

/// A shared image with a few bytes changed, without copying it.
struct Mutated {
    base: Arc<Vec<u8>>,
    patch: HashMap<u64, u8>,
}

impl ReadAt for Mutated {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let n = MemDevice(self.base.clone()).read_at(offset, buf)?;
        for (&at, &v) in &self.patch {
            if at >= offset && at < offset + n as u64 {
                buf[usize::try_from(at - offset).unwrap()] = v;
            }
        }
        Ok(n)
    }
    fn size(&self) -> u64 {
        self.base.len() as u64
    }
}

/// Byte ranges worth damaging: boot regions, FAT, allocation bitmap, the first directories.
fn targets(img: &[u8]) -> Vec<(u64, u64)> {
    let vol = clusters_of(img.to_vec());
    let g = vol.geo;
    let mut t = vec![
        (0, 24 * g.bytes_per_sector),
        (g.fat_offset, g.fat_offset + 64 * 1024),
    ];
    let rootx = Extent::Root(g.root_cluster);
    for o in dir_offsets(img, &vol, rootx) {
        t.push((o, o + g.cluster_size));
    }
    for e in entries(&vol, rootx).iter().filter(|e| e.directory) {
        for o in dir_offsets(img, &vol, sub(e)).into_iter().take(4) {
            t.push((o, o + g.cluster_size));
        }
    }
    // The allocation bitmap is the heap's first cluster for mkfs.exfat.
    t.push((g.heap_offset, g.heap_offset + g.cluster_size));
    t
}

#[test]
fn random_damage_never_panics_nor_hangs() {
    let stats = within(600, move || {
        let mut rng = XorShift(0xE8FA_7000_5EED_0001);
        let (mut opened, mut files, mut errors, mut crashes) = (0u64, 0u64, 0u64, 0u64);
        let mut rounds = 0;
        for name in ["exfat.img", "exfat-64k.img"] {
            let base = Arc::new(bytes(name));
            let t = targets(&base);
            for _ in 0..200 {
                rounds += 1;
                let mut patch = HashMap::new();
                for _ in 0..1 + rng.below(8) {
                    let (from, to) = t[usize::try_from(rng.below(t.len() as u64)).unwrap()];
                    let at = from + rng.below(to - from);
                    let old = base[usize::try_from(at).unwrap()];
                    patch.insert(at, old ^ u8::try_from(1 + rng.below(255)).unwrap());
                }
                let dev = Arc::new(Mutated {
                    base: base.clone(),
                    patch,
                });
                let walk = quiet_panics(|| match open(dev) {
                    Ok(mut w) => Some(collect(&mut w, 1 << 20)),
                    Err(_) => None,
                });
                if let Some(walk) = walk {
                    opened += 1;
                    for o in walk.values() {
                        match o {
                            Outcome::Data(..) => files += 1,
                            Outcome::Error(e) | Outcome::ReadError(e) if e.contains("crashed") => {
                                crashes += 1
                            }
                            _ => errors += 1,
                        }
                    }
                }
            }
        }
        (rounds, opened, files, errors, crashes)
    });
    eprintln!(
        "exFAT mutations: {} images, {} opened, {} files read, {} error outcomes, {} crashes",
        stats.0, stats.1, stats.2, stats.3, stats.4
    );
    assert_eq!(stats.4, 0, "a panic was caught inside the reader");
    assert!(stats.1 > 200, "most damage should still open: {stats:?}");
}

#[test]
fn engine_scans_an_exfat_volume_and_finds_eicar() {
    use crate::record::{Record, VolumeStatus};
    use crate::scan::{Engine, ScanOptions, Target};
    use crate::sink::VecSink;
    let img = exfat_images().join("exfat.img");
    let before = sha256_file(&img);
    let engine = Engine::with(
        crate::scan::rules::RuleSet::defaults().unwrap(),
        crate::scan::iocs::HashIocs::default(),
        ScanOptions {
            threads: 2,
            ..ScanOptions::default()
        },
    );
    let target = Target::open(&img).unwrap();
    let mut sink = VecSink::default();
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let summary = engine.scan_targets(vec![Ok(target)], &mut sink, &cancel);
    let vol = sink
        .0
        .iter()
        .find_map(|r| match r {
            Record::Volume(v) => Some(v),
            _ => None,
        })
        .unwrap();
    let json = serde_json::to_string(&Record::Volume(vol.clone())).unwrap();
    assert!(json.contains(r#""fs":"exfat""#), "{json}");
    assert_eq!(vol.status, VolumeStatus::Scanned, "{json}");
    assert_eq!(vol.label.as_deref(), Some("VIGIE-EXFAT"));
    assert_eq!((vol.files, vol.scanned, vol.errors), (3114, 3114, 0));
    let mut hits: Vec<&str> = sink
        .0
        .iter()
        .filter_map(|r| match r {
            Record::Finding(f) if f.rule == "EICAR_Test_File" => Some(f.path.as_str()),
            _ => None,
        })
        .collect();
    hits.sort_unstable();
    assert_eq!(hits, ["/Users/Public/embedded-eicar.bin", "/eicar.com"]);
    assert_eq!(summary.verdict, crate::record::Verdict::Infected);
    assert_eq!(sha256_file(&img), before);
}

/// Disk offsets of every in-use File entry set (as lists of entry offsets) of a directory.
fn all_sets(img: &[u8], vol: &Clusters, extent: Extent) -> Vec<Vec<usize>> {
    let cs = usize::try_from(vol.geo.cluster_size).unwrap();
    let slots: Vec<usize> = dir_offsets(img, vol, extent)
        .into_iter()
        .flat_map(|o| (0..cs / 32).map(move |i| usize::try_from(o).unwrap() + 32 * i))
        .collect();
    let mut out = Vec::new();
    let mut k = 0;
    while k < slots.len() {
        if img[slots[k]] == 0x85 {
            let n = usize::from(img[slots[k] + 1]);
            if k + n < slots.len() {
                out.push(slots[k..=k + n].to_vec());
            }
            k += n + 1;
        } else {
            k += 1;
        }
    }
    out
}

/// Damage that the checksums would otherwise reject: entry-set fields and boot-sector fields
/// changed and their checksums recomputed, so the values themselves reach the reader.
#[test]
fn random_fields_behind_valid_checksums_never_panic_nor_hang() {
    let stats = within(600, move || {
        let base = bytes("exfat.img");
        let vol = clusters_of(base.clone());
        let rootx = Extent::Root(vol.geo.root_cluster);
        let mut sets = all_sets(&base, &vol, rootx);
        for e in entries(&vol, rootx).iter().filter(|e| e.directory) {
            sets.extend(all_sets(&base, &vol, sub(e)).into_iter().take(50));
        }
        assert!(sets.len() > 100, "{}", sets.len());
        let bps = usize::try_from(vol.geo.bytes_per_sector).unwrap();
        let mut rng = XorShift(0xE8FA_7000_5EED_0002);
        let (mut opened, mut files, mut errors, mut crashes) = (0u64, 0u64, 0u64, 0u64);
        for round in 0..240 {
            let mut img = base.clone();
            if round % 3 == 0 {
                // Boot sector geometry fields (64..112), then a valid region checksum.
                for _ in 0..1 + rng.below(3) {
                    let at = 64 + usize::try_from(rng.below(48)).unwrap();
                    img[at] ^= u8::try_from(1 + rng.below(255)).unwrap();
                }
                let sum = boot::region_checksum(&img[..12 * bps], bps);
                for c in img[11 * bps..12 * bps].chunks_exact_mut(4) {
                    c.copy_from_slice(&sum.to_le_bytes());
                }
                // The backup region the same, so that the damaged geometry is the one used.
                img.copy_within(..12 * bps, 12 * bps);
            } else {
                for _ in 0..1 + rng.below(3) {
                    let set = &sets[usize::try_from(rng.below(sets.len() as u64)).unwrap()];
                    let e = set[usize::try_from(rng.below(set.len() as u64)).unwrap()];
                    let at = e + 1 + usize::try_from(rng.below(31)).unwrap();
                    img[at] = u8::try_from(rng.below(256)).unwrap();
                    fix_checksum(&mut img, set);
                }
            }
            let walk = quiet_panics(|| match open(Arc::new(MemDevice::new(img))) {
                Ok(mut w) => Some(collect(&mut w, 1 << 20)),
                Err(_) => None,
            });
            if let Some(walk) = walk {
                opened += 1;
                for o in walk.values() {
                    match o {
                        Outcome::Data(..) => files += 1,
                        Outcome::Error(e) | Outcome::ReadError(e) if e.contains("crashed") => {
                            crashes += 1
                        }
                        _ => errors += 1,
                    }
                }
            }
        }
        (opened, files, errors, crashes)
    });
    eprintln!(
        "exFAT field mutations: 240 images, {} opened, {} files read, {} error outcomes, {} crashes",
        stats.0, stats.1, stats.2, stats.3
    );
    assert_eq!(stats.3, 0, "a panic was caught inside the reader");
    assert!(stats.2 > 0, "damage should be seen: {stats:?}");
}
