//! Virtual disks found as files (issue 13): dynamic VHD, VHDX, sparse and stream-optimized
//! VMDK made by `qemu-img convert` from a raw disk (MBR, a FAT partition and an NTFS one,
//! EICAR in each) and from a bare FAT filesystem. The scan must name `p<N>/path` members,
//! leave every image unchanged, list exactly the files the raw image lists (differential,
//! through the library), count differencing disks and descriptors as unsupported (an empty
//! UDF-only disc beside them opens with no member: `containers/udf.rs` reads UDF), and
//! survive hundreds of mutated images of each kind.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{eicar_members, ext4_of, sh, skipped_members};
use crate::common::*;
use vigie::container::{self, Kind, MemberMeta};
use vigie::fs::{guard, Content};
use vigie::io::{Device, MemDevice, ReadAt};

/// The images, by file name, built in `work/tree`: `d.*` from the partitioned disk,
/// `bare.*` from the bare FAT filesystem, plus `raw.img` and `p1.img` in `work`.
fn build_vdisks(work: &Path) -> PathBuf {
    std::fs::write(work.join("eicar.com"), eicar()).unwrap();
    sh(
        work,
        r#"
        mkdir -p tree
        truncate -s 8M p1.img && mkfs.fat -n P1 p1.img >/dev/null
        # 3 MiB of noise crosses VHD (2 MiB), VHDX (1 MiB) blocks and VMDK grains (64 KiB).
        head -c 3M /dev/urandom > big.bin && head -c 5000 /dev/urandom > small.bin
        mmd -i p1.img ::/dir && mcopy -i p1.img eicar.com big.bin small.bin ::/dir/
        truncate -s 8M p2.img && mkntfs -q -F -Q p2.img >/dev/null 2>&1
        ntfscp -q p2.img eicar.com eicar.com && ntfscp -q p2.img big.bin big.bin
        truncate -s 20M raw.img
        printf 'label: dos\n2048,16384,6\n18432,16384,7\n' | sfdisk -q raw.img
        dd if=p1.img of=raw.img bs=512 seek=2048 conv=notrunc status=none
        dd if=p2.img of=raw.img bs=512 seek=18432 conv=notrunc status=none
        for src in raw:d p1:bare; do
          i=${src%%:*}.img; o=tree/${src#*:}
          qemu-img convert -f raw -O vpc -o subformat=dynamic $i $o.vhd
          qemu-img convert -f raw -O vhdx -o block_size=1M $i $o.vhdx
          qemu-img convert -f raw -O vmdk -o subformat=monolithicSparse $i $o.vmdk
          qemu-img convert -f raw -O vmdk -o subformat=streamOptimized $i $o-stream.vmdk
        done
        qemu-img convert -f raw -O vhdx raw.img tree/d-32m.vhdx
        qemu-img convert -f raw -O vpc -o subformat=fixed raw.img tree/d-fixed.vhd
        qemu-img create -q -f vmdk -b "$PWD/tree/d.vmdk" -F vmdk tree/child.vmdk
        qemu-img create -q -f vmdk -o subformat=monolithicFlat flat.vmdk 1M
        cp flat.vmdk tree/descriptor.vmdk
        # An empty UDF-only disc image (what Windows tools often write): opened, no member.
        truncate -s 4M tree/udf-only.iso && mkudffs --media-type=hd -b 2048 -l VIGIE tree/udf-only.iso >/dev/null
        "#,
    );
    // A differencing VHD: qemu-img cannot make one; the dynamic one with disk type 4 (both
    // footers, checksums recomputed) is what the reader must refuse.
    let mut v = std::fs::read(work.join("tree/d.vhd")).unwrap();
    let end = v.len() - 512;
    for at in [0, end] {
        let f = &mut v[at..at + 512];
        f[60..64].copy_from_slice(&4u32.to_be_bytes());
        f[64..68].fill(0);
        let sum: u32 = f.iter().map(|&b| u32::from(b)).sum();
        f[64..68].copy_from_slice(&(!sum).to_be_bytes());
    }
    std::fs::write(work.join("tree/diff.vhd"), v).unwrap();
    work.join("tree")
}

/// The disk images whose members must equal the raw image's (name, from).
const TRANSLATED: [(&str, &str); 10] = [
    ("d.vhd", "raw.img"),
    ("d.vhdx", "raw.img"),
    ("d-32m.vhdx", "raw.img"),
    ("d-fixed.vhd", "raw.img"),
    ("d.vmdk", "raw.img"),
    ("d-stream.vmdk", "raw.img"),
    ("bare.vhd", "p1.img"),
    ("bare.vhdx", "p1.img"),
    ("bare.vmdk", "p1.img"),
    ("bare-stream.vmdk", "p1.img"),
];

/// Every member of a disk image with its size and SHA-256, through the container layer.
fn listing(data: &[u8], name: &str) -> BTreeMap<String, (u64, String)> {
    let kind = container::sniff(data, name).unwrap_or_else(|| panic!("{name} not recognised"));
    assert_eq!(kind, Kind::DiskImage, "{name}");
    let mut members = container::open(kind, data, name).unwrap();
    let mut out = BTreeMap::new();
    let mut visit = |m: &MemberMeta, c: Content<'_>| {
        if let Content::Data(r) = c {
            let mut bytes = Vec::new();
            r.read_to_end(&mut bytes).unwrap();
            out.insert(m.name.clone(), (bytes.len() as u64, sha256_bytes(&bytes)));
        }
        ControlFlow::Continue(())
    };
    members.for_each(&mut visit).unwrap();
    out
}

#[test]
fn virtual_disks_list_the_files_of_the_raw_disk_they_were_made_from() {
    let dir = tempfile::tempdir().unwrap();
    let tree = build_vdisks(dir.path());
    let raw = listing(
        &std::fs::read(dir.path().join("raw.img")).unwrap(),
        "raw.img",
    );
    let bare = listing(&std::fs::read(dir.path().join("p1.img")).unwrap(), "p1.img");
    assert!(
        raw.contains_key("p1/dir/eicar.com") && raw.contains_key("p2/eicar.com"),
        "{raw:?}"
    );
    assert_eq!(bare["dir/eicar.com"], (68, EICAR_SHA256.to_string()));
    for (name, from) in TRANSLATED {
        let got = listing(&std::fs::read(tree.join(name)).unwrap(), name);
        let want = if from == "raw.img" { &raw } else { &bare };
        assert_eq!(&got, want, "{name} lists other files than {from}");
    }
    eprintln!(
        "{} members in the raw disk, {} in the bare filesystem",
        raw.len(),
        bare.len()
    );
}

#[test]
fn eicar_inside_every_virtual_disk_is_found_by_partition_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let tree = build_vdisks(dir.path());
    let img = dir.path().join("vdisks.img");
    ext4_of(&tree, &img, 160);
    // The images are read inside the ext4 image: its digest covers every one of them.
    let outer = sha256_file(&img);
    let scan = scan_json(&[&img], &[]);
    assert_eq!(sha256_file(&img), outer, "the scan changed the image");
    let got = eicar_members(&scan);
    for (name, from) in TRANSLATED {
        let members: &[&str] = if from == "raw.img" {
            &["p1/dir/eicar.com", "p2/eicar.com"]
        } else {
            &["dir/eicar.com"]
        };
        for m in members {
            let path = format!("/{name}");
            assert!(
                got.iter()
                    .any(|(p, mm)| *p == path && mm.as_deref() == Some(*m)),
                "no EICAR at {path} // {m}; got {got:?}\n{}",
                scan.run.stdout
            );
        }
    }
    // Differencing VHD, VMDK with a parent, a descriptor whose extent is another file; the
    // empty UDF-only image is read (no member, no skip).
    let sum = scan.summary();
    assert_eq!(skipped_members(sum, "unsupported_archive"), 3, "{sum}");
    let notes = scan.run.stdout.clone();
    assert!(notes.contains("differencing"), "{notes}");
    assert!(notes.contains("vmdk descriptor"), "{notes}");
    assert!(!notes.contains("udf-only.iso"), "{notes}");
    assert_eq!(scan.verdict(), "infected");
}

/// Reads the translated device as a filesystem would: the start, then random pieces.
fn read_around(dev: &dyn ReadAt, rnd: &mut impl FnMut() -> u64) {
    let mut buf = vec![0u8; 64 * 1024];
    let size = dev.size();
    for i in 0..64u64 {
        let _ = dev.read_at(i * buf.len() as u64, &mut buf);
    }
    for _ in 0..200 {
        let at = rnd() % size.max(1);
        let len = (rnd() % buf.len() as u64) as usize + 1;
        let _ = dev.read_at(at, &mut buf[..len]);
    }
}

/// Recomputes the checksums a mutation broke (VHD footers and dynamic header, VHDX headers
/// and region tables), so that mutations reach the tables behind them.
fn reseal(m: &mut [u8]) {
    let vhd = |b: &mut [u8], at: usize| {
        b[at..at + 4].fill(0);
        let sum: u32 = b.iter().map(|&x| u32::from(x)).sum();
        b[at..at + 4].copy_from_slice(&(!sum).to_be_bytes());
    };
    if m.starts_with(b"conectix") && m.len() >= 1536 {
        vhd(&mut m[..512], 64);
        vhd(&mut m[512..1536], 36);
        let end = m.len() - 512;
        if m[end..].starts_with(b"conectix") {
            vhd(&mut m[end..], 64);
        }
    }
    if m.starts_with(b"vhdxfile") {
        for (off, len) in [
            (64 << 10, 4 << 10),
            (128 << 10, 4 << 10),
            (192 << 10, 64 << 10),
            (256 << 10, 64 << 10),
        ] {
            if let Some(b) = m.get_mut(off..off + len) {
                b[4..8].fill(0);
                let c = vigie::container::vdisk::crc32c::crc32c(b);
                b[4..8].copy_from_slice(&c.to_le_bytes());
            }
        }
    }
}

/// Mutation test of the translators: each qemu-made image mutated 200 times (1-6 bytes
/// overwritten, three times in four in the image's own sectors, else in any non-zero one;
/// a tenth truncated; every other one with its checksums recomputed). Opening and reading the translated device must never panic (no guard around
/// it here); the whole disk-image walk runs under the guard as in the engine, and every case
/// must end quickly.
#[test]
fn mutated_virtual_disks_never_panic_nor_hang() {
    let dir = tempfile::tempdir().unwrap();
    let tree = build_vdisks(dir.path());
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let started = std::time::Instant::now();
    let (mut cases, mut opened, mut caught) = (0u32, 0u32, 0u32);
    let raw = std::fs::read(dir.path().join("raw.img")).unwrap();
    let raw_sectors: HashSet<&[u8]> = raw.chunks(512).collect();
    for name in [
        "d.vhd",
        "d.vhdx",
        "d.vmdk",
        "d-stream.vmdk",
        "d-32m.vhdx",
        "bare.vhd",
    ] {
        let data = std::fs::read(tree.join(name)).unwrap();
        // Sectors that hold something: the image's own structures (footers, headers, tables,
        // bitmaps, compressed grains: what the raw disk does not hold), and the guest's.
        let used = |s: &usize| data[s * 512..(s + 1) * 512].iter().any(|&b| b != 0);
        let all: Vec<usize> = (0..data.len() / 512).filter(used).collect();
        let own: Vec<usize> = all
            .iter()
            .copied()
            .filter(|&s| !raw_sectors.contains(&data[s * 512..(s + 1) * 512]))
            .collect();
        assert!(!own.is_empty(), "{name}");
        for i in 0..200 {
            let mut m = data.clone();
            if i % 10 == 9 {
                m.truncate((rnd() as usize) % m.len());
            } else {
                for _ in 0..1 + rnd() % 6 {
                    let pool = if rnd() % 4 == 0 { &all } else { &own };
                    let s = pool[(rnd() as usize) % pool.len()];
                    let at = s * 512 + (rnd() as usize) % 512;
                    m[at] = match rnd() % 4 {
                        0 => 0,
                        1 => 0xff,
                        _ => rnd() as u8,
                    };
                }
            }
            if i % 2 == 1 {
                reseal(&mut m);
            }
            cases += 1;
            let t = std::time::Instant::now();
            let dev: Device = Arc::new(MemDevice::new(m.clone()));
            if let Ok(o) = vigie::container::vdisk::open(dev) {
                opened += 1;
                read_around(o.dev.as_ref(), &mut rnd);
            }
            let walked = guard(|| {
                let Ok(mut c) = container::open(Kind::DiskImage, &m, name) else {
                    return;
                };
                let mut visit = |_: &MemberMeta, content: Content<'_>| {
                    if let Content::Data(r) = content {
                        let _ = std::io::copy(&mut r.take(64 << 20), &mut std::io::sink());
                    }
                    ControlFlow::Continue(())
                };
                let _ = c.for_each(&mut visit);
            });
            caught += u32::from(walked.is_err());
            assert!(t.elapsed().as_secs() < 10, "{name} #{i}: {:?}", t.elapsed());
        }
    }
    std::panic::set_hook(prev);
    eprintln!(
        "{cases} mutated virtual disks in {:.1} s: {opened} opened by the translators, {caught} panics of the filesystem crates caught",
        started.elapsed().as_secs_f64()
    );
}

/// The common carrier: a virtual disk of 2 GiB whose file is small (only the written blocks
/// are in it). The file's size, not the guest's, is what the full-scan limit applies to: it
/// is opened, and EICAR near the end of the guest disk is found.
#[test]
fn a_2_gib_guest_disk_in_a_small_file_is_opened() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path();
    std::fs::write(w.join("eicar.com"), eicar()).unwrap();
    sh(
        w,
        r#"
        mkdir -p tree
        truncate -s 2G raw.img
        printf 'label: gpt\nstart=2048,size=16384\nstart=4161536,size=16384\n' | sfdisk -q raw.img
        truncate -s 8M p.img && mkfs.fat -n FAR p.img >/dev/null
        mcopy -i p.img eicar.com ::/far.com
        dd if=p.img of=raw.img bs=512 seek=4161536 conv=notrunc status=none
        qemu-img convert -f raw -O vpc -o subformat=dynamic raw.img tree/big.vhd
        qemu-img convert -f raw -O vhdx raw.img tree/big.vhdx
        qemu-img convert -f raw -O vmdk -o subformat=streamOptimized raw.img tree/big.vmdk
        "#,
    );
    for f in ["big.vhd", "big.vhdx", "big.vmdk"] {
        let len = std::fs::metadata(w.join("tree").join(f)).unwrap().len();
        assert!(len < 64 << 20, "{f}: {len} bytes");
    }
    let img = w.join("big.img");
    ext4_of(&w.join("tree"), &img, 160);
    let scan = scan_json(&[&img], &[]);
    let got = eicar_members(&scan);
    for f in ["/big.vhd", "/big.vhdx", "/big.vmdk"] {
        assert!(
            got.iter()
                .any(|(p, m)| p == f && m.as_deref() == Some("p2/far.com")),
            "{f}: {got:?}\n{}",
            scan.run.stdout
        );
    }
}
