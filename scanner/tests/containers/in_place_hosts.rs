//! Containers larger than the full-scan limit on the other hosts (issue 13): the 66 MiB ISO
//! (EICAR at `zz/eicar.com`) written by each filesystem's own tools into ext4 (mke2fs -d;
//! debugfs into freed holes, with an extent tree of index nodes), ext2 with 1 KiB blocks (block
//! maps up to triple indirect), FAT12, FAT16, FAT32 (mcopy into freed holes) and exFAT
//! (exfat-fuse: NoFatChain, and a FAT chain through freed holes); `scripts/testimg/inplace.sh`
//! builds them and records how fragmented the tools say big.iso is. The engine must open the
//! ISO in place through the walker's mapped device; every mapped file's device must read the
//! stream's bytes; hundreds of mutated small images must never make a device panic, lie about
//! its size or read past it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use sha2::{Digest, Sha256};

use super::eicar_members;
use super::in_place::{Differential, ReadAll};
use crate::common::*;
use vigie::fs::{FsError, Walker};
use vigie::io::{Device, FileDevice, MemDevice, ReadAt};

/// The images' directory (`inplace.sh` run once per test process, cached by its stamp).
fn images() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = repo_root().join(".cache/test/inplace");
        let out = Command::new("bash")
            .arg(repo_root().join("scripts/testimg/inplace.sh"))
            .arg(&dir)
            .output()
            .expect("run inplace.sh");
        assert!(
            out.status.success(),
            "inplace.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

/// Every host image holding big.iso.
const HOSTS: [&str; 8] = [
    "ext4.img",
    "ext4-frag.img",
    "ext2-frag.img",
    "fat12.img",
    "fat16.img",
    "fat32-frag.img",
    "exfat.img",
    "exfat-frag.img",
];

/// The walker for an image, chosen by its name.
fn walker(name: &str, dev: Device) -> Result<Box<dyn Walker>, FsError> {
    Ok(if name.starts_with("ext") {
        Box::new(vigie::fs::ext4::open(dev)?)
    } else if name.starts_with("fat") {
        Box::new(vigie::fs::fat::open(dev)?)
    } else {
        Box::new(vigie::fs::exfat::open(dev)?)
    })
}

/// A number the image script wrote next to an image (`<image>.<what>`).
fn fact(name: &str, what: &str) -> u64 {
    let p = images().join(format!("{name}.{what}"));
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("{}: {text:?}: {e}", p.display()))
}

#[test]
fn the_fragmented_hosts_are_fragmented_as_their_tools_report() {
    for name in [
        "ext4-frag.img",
        "ext2-frag.img",
        "fat32-frag.img",
        "exfat-frag.img",
    ] {
        let pieces = fact(name, "frags");
        assert!(pieces >= 100, "{name}: big.iso in {pieces} pieces");
    }
    assert!(fact("ext4-frag.img", "depth") >= 1, "no index node");
    assert!(
        fact("ext4-frag.img", "uninit") >= 1,
        "no uninitialised extent"
    );
    // exfat-fuse writes a lone file as one NoFatChain run.
    assert_eq!(fact("exfat.img", "frags"), 1);
    for name in [
        "ext4-small.img",
        "ext2-small.img",
        "fat12-small.img",
        "fat32-small.img",
        "exfat-small.img",
    ] {
        let pieces = fact(name, "frags");
        assert!(pieces >= 20, "{name}: a.bin in {pieces} pieces");
    }
}

#[test]
fn iso_over_the_limit_opens_in_place_on_ext_fat_and_exfat() {
    for name in HOSTS {
        let img = images().join(name);
        let before = sha256_file(&img);
        let scan = scan_json(&[&img], &[]);
        let found = eicar_members(&scan);
        assert!(
            found.contains(&("/big.iso".to_string(), Some("zz/eicar.com".to_string()))),
            "{name}: {found:?}\n{}",
            scan.run.stdout
        );
        let v = scan.volume(0);
        assert_eq!(
            v["members_skipped"]["archive_limit"].as_u64().unwrap_or(0),
            0,
            "{name}: {v}"
        );
        assert_eq!(
            sha256_file(&img),
            before,
            "{name}: the host image was modified"
        );
    }
}

#[test]
fn mapped_devices_read_the_same_bytes_as_the_streams_on_every_host() {
    let iso = std::fs::read(images().join("big.iso")).unwrap();
    let want: [u8; 32] = Sha256::digest(&iso).into();
    for name in HOSTS {
        let dev: Device = Arc::new(FileDevice::open(&images().join(name)).unwrap());
        let mut w = walker(name, dev).unwrap();
        let mut d = Differential::default();
        w.walk(&mut d).unwrap();
        let paths: Vec<&str> = d.mapped.iter().map(|m| m.0.as_str()).collect();
        let extra: &[&str] = match name {
            "ext4.img" => &["/sparse.bin"],
            "ext4-frag.img" | "ext2-frag.img" => &["/prealloc.bin"],
            "exfat.img" => &["/vdl.bin"],
            _ => &[],
        };
        for p in std::iter::once(&"/big.iso").chain(extra) {
            assert!(paths.contains(p), "{name}: {p} not mapped: {paths:?}");
        }
        for (path, stream, device) in &d.mapped {
            assert_eq!(stream, device, "{name}{path}: device and stream differ");
        }
        let got = d.mapped.iter().find(|m| m.0 == "/big.iso").unwrap();
        assert_eq!(
            got.2,
            (iso.len() as u64, want),
            "{name}: not the ISO's bytes"
        );
    }
}

/// The zeros the devices must show: ext4's unwritten extent and holes, exFAT's bytes past
/// `ValidDataLength`, read from the device itself.
#[test]
fn unwritten_extents_holes_and_bytes_past_the_valid_length_read_as_zeros() {
    let zeros_from = |name: &str, path: &str, from: u64, data_before: bool| {
        let dev: Device = Arc::new(FileDevice::open(&images().join(name)).unwrap());
        let mut w = walker(name, dev).unwrap();
        let mut found = None;
        let mut v = |meta: &vigie::fs::FileMeta,
                     content: vigie::fs::Content<'_>,
                     mapped: &dyn Fn() -> Option<Device>| {
            if meta.path == path {
                found = mapped();
            }
            drop(content);
        };
        w.walk(&mut MappedOnly(&mut v)).unwrap();
        let dev = found.unwrap_or_else(|| panic!("{name}{path}: not mapped"));
        let mut head = vec![0u8; usize::try_from(from).unwrap()];
        dev.read_exact_at(0, &mut head).unwrap();
        if data_before {
            assert!(
                head.iter().any(|&b| b != 0),
                "{name}{path}: no data before {from}"
            );
        }
        let mut tail = vec![0xAAu8; usize::try_from(dev.size() - from).unwrap()];
        dev.read_exact_at(from, &mut tail).unwrap();
        assert!(
            tail.iter().all(|&b| b == 0),
            "{name}{path}: not zeros from {from}"
        );
    };
    // prealloc.bin: 1 MiB written, 1..2 MiB unwritten extents (ext4), 2..4 MiB holes.
    zeros_from("ext4-frag.img", "/prealloc.bin", 1 << 20, true);
    zeros_from("ext2-frag.img", "/prealloc.bin", 1 << 20, true);
    zeros_from("exfat.img", "/vdl.bin", 1_500_000, true);
    zeros_from("exfat-small.img", "/b.bin", 1_000_000, true);
}

/// What [`MappedOnly`] calls for each mapped file: its metadata, content and device maker.
type OnMapped<'a> =
    dyn FnMut(&vigie::fs::FileMeta, vigie::fs::Content<'_>, &dyn Fn() -> Option<Device>) + 'a;

/// Hands each mapped file to a closure (the others are ignored).
struct MappedOnly<'a>(&'a mut OnMapped<'a>);

impl vigie::fs::Visitor for MappedOnly<'_> {
    fn visit(
        &mut self,
        _meta: &vigie::fs::FileMeta,
        _content: vigie::fs::Content<'_>,
    ) -> std::ops::ControlFlow<()> {
        std::ops::ControlFlow::Continue(())
    }
    fn visit_mapped(
        &mut self,
        meta: &vigie::fs::FileMeta,
        content: vigie::fs::Content<'_>,
        mapped: &dyn Fn() -> Option<Device>,
    ) -> std::ops::ControlFlow<()> {
        (self.0)(meta, content, mapped);
        std::ops::ControlFlow::Continue(())
    }
}

/// A device recording where the small reads go (metadata: the mutations aim there).
struct Recorder {
    inner: Device,
    small: std::sync::Mutex<Vec<(u64, usize)>>,
}

impl ReadAt for Recorder {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.len() <= 64 * 1024 {
            self.small.lock().unwrap().push((offset, buf.len()));
        }
        self.inner.read_at(offset, buf)
    }
    fn size(&self) -> u64 {
        self.inner.size()
    }
}

#[test]
fn mutated_hosts_never_escape_their_mapped_devices() {
    for name in [
        "ext4-small.img",
        "ext2-small.img",
        "fat12-small.img",
        "fat32-small.img",
        "exfat-small.img",
    ] {
        let image = std::fs::read(images().join(name)).unwrap();
        // A clean walk, every device read: the metadata it touched is where mutations go.
        let rec = Arc::new(Recorder {
            inner: Arc::new(MemDevice::new(image.clone())),
            small: Default::default(),
        });
        let mut clean = ReadAll::default();
        walker(name, rec.clone()).unwrap().walk(&mut clean).unwrap();
        assert_eq!(
            (clean.mapped, clean.errors),
            (2, 0),
            "{name}: a.bin and b.bin"
        );
        let mut spots: Vec<(u64, usize)> = rec.small.lock().unwrap().clone();
        spots.sort_unstable();
        spots.dedup();
        let (mut mapped, mut errors) = (0u64, 0u64);
        let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ image.len() as u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..200 {
            let mut img = image.clone();
            for _ in 0..1 + next() % 8 {
                let (at, len) = spots[usize::try_from(next() % spots.len() as u64).unwrap()];
                let at = usize::try_from(at + next() % len as u64).unwrap();
                if at < img.len() {
                    img[at] = (next() & 0xff) as u8;
                }
            }
            let dev: Device = Arc::new(MemDevice::new(img));
            let walked = vigie::fs::guard(|| {
                let mut r = ReadAll::default();
                if let Ok(mut w) = walker(name, dev) {
                    let _ = w.walk(&mut r);
                }
                r
            });
            let r = walked.unwrap_or_else(|p| panic!("{name}: a mutated image panicked: {p}"));
            mapped += r.mapped;
            errors += r.errors;
        }
        eprintln!("{name}: mapped devices read: {mapped}, read errors: {errors}");
        assert!(mapped > 100, "{name}: mapped {mapped}");
    }
}
