//! Tests of the FAT walker on real images (mkfs.fat, mtools, the oracles); [`damage`] holds the
//! crafted and random damage. The walk helpers here are shared with the exFAT and ext4 tests.

mod damage;

use super::geometry::{le16, le32};
use super::*;
use crate::fs::SkipReason;
use crate::io::{FileDevice, MemDevice, Slice};
use crate::testutil::{hex, oracle, oracles_dir, sha256_file};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// What the walker said about one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Read to the end: size read and SHA-256.
    Data(u64, String),
    /// Reading failed mid-way.
    ReadError(String),
    Skipped(SkipReason),
    Error(String),
}

/// Walks and reads everything (at most `cap` bytes per file), keyed by path.
pub(crate) fn collect(walker: &mut dyn Walker, cap: u64) -> BTreeMap<String, Outcome> {
    let mut out = BTreeMap::new();
    let mut visit = |meta: &FileMeta, content: Content<'_>| {
        let o = match content {
            Content::Data(r) => {
                let mut h = Sha256::new();
                let mut buf = vec![0u8; 256 * 1024];
                let mut n_total = 0u64;
                loop {
                    if n_total >= cap {
                        break Outcome::Data(n_total, hex(&h.clone().finalize()));
                    }
                    match r.read(&mut buf) {
                        Ok(0) => break Outcome::Data(n_total, hex(&h.clone().finalize())),
                        Ok(n) => {
                            h.update(&buf[..n]);
                            n_total += n as u64;
                        }
                        Err(e) => break Outcome::ReadError(e.to_string()),
                    }
                }
            }
            Content::Skipped(s) => Outcome::Skipped(s),
            Content::Error(e) => Outcome::Error(e),
        };
        let key = if out.contains_key(&meta.path) {
            format!("{} (again)", meta.path)
        } else {
            meta.path.clone()
        };
        out.insert(key, o);
        std::ops::ControlFlow::Continue(())
    };
    walker.walk(&mut visit).expect("walk");
    out
}

/// Files of an extracted tree (symlinks ignored): path -> (size, sha256).
pub(crate) fn tree_files(root: &Path) -> BTreeMap<String, (u64, String)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                let rel = e
                    .path()
                    .strip_prefix(root)
                    .unwrap()
                    .to_str()
                    .expect("utf-8 name")
                    .to_string();
                let size = e.metadata().unwrap().len();
                out.insert(format!("/{rel}"), (size, sha256_file(&e.path())));
            }
        }
    }
    out
}

/// Regular files of a manifest: path -> (size, sha256). Paths carry `\xHH` escapes.
pub(crate) fn manifest(path: &Path) -> BTreeMap<String, (u64, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let sha_col = if header.contains("md5") { 3 } else { 2 };
    let mut out = BTreeMap::new();
    for line in lines {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols[0] != "f" {
            continue;
        }
        let raw = cols[cols.len() - 1];
        let mut bytes = Vec::new();
        let b = raw.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'\\' && i + 3 < b.len() && b[i + 1] == b'x' {
                bytes.push(u8::from_str_radix(&raw[i + 2..i + 4], 16).unwrap());
                i += 4;
            } else {
                bytes.push(b[i]);
                i += 1;
            }
        }
        out.insert(
            String::from_utf8_lossy(&bytes).into_owned(),
            (cols[1].parse().unwrap(), cols[sha_col].to_string()),
        );
    }
    out
}

/// The outcomes that are complete reads, as path -> (size, sha256).
pub(crate) fn data_only(walk: &BTreeMap<String, Outcome>) -> BTreeMap<String, (u64, String)> {
    walk.iter()
        .filter_map(|(p, o)| match o {
            Outcome::Data(n, h) => Some((p.clone(), (*n, h.clone()))),
            _ => None,
        })
        .collect()
}

pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs a `scripts/testimg` script once per test process; returns `.cache/images`.
pub(crate) fn images(script: &str, once: &'static OnceLock<()>) -> PathBuf {
    once.get_or_init(|| {
        let st = Command::new("bash")
            .arg(repo_root().join("scripts/testimg").join(script))
            .status()
            .expect("run image script");
        assert!(st.success(), "{script} failed");
    });
    repo_root().join(".cache/images")
}

fn fat_images() -> PathBuf {
    static ONCE: OnceLock<()> = OnceLock::new();
    images("fat.sh", &ONCE)
}

fn open_file(path: &Path) -> FatWalker {
    open(Arc::new(FileDevice::open(path).unwrap())).unwrap()
}

fn open_mem(bytes: Vec<u8>) -> Result<FatWalker, FsError> {
    open(Arc::new(MemDevice::new(bytes)))
}

/// mtools' view of a FAT image: everything copied out with `mcopy -s`.
fn mtools_files(img: &Path) -> BTreeMap<String, (u64, String)> {
    let dir = tempfile::tempdir().unwrap();
    let st = Command::new("mcopy")
        .env("LC_ALL", "C.UTF-8")
        .env("MTOOLS_SKIP_CHECK", "1")
        .args(["-s", "-n", "-i"])
        .arg(img)
        .arg("::/*")
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(st.success(), "mcopy failed on {}", img.display());
    tree_files(dir.path())
}

#[test]
fn generated_images_match_mtools_byte_for_byte() {
    let dir = fat_images();
    for (name, label, ty) in [
        ("fat12.img", "VIGIE-FAT12", fatfs::FatType::Fat12),
        ("fat16.img", "VIGIE-FAT16", fatfs::FatType::Fat16),
        ("fat32.img", "VIGIE-FAT32", fatfs::FatType::Fat32),
    ] {
        let img = dir.join(name);
        let before = sha256_file(&img);
        let mut w = open_file(&img);
        assert_eq!(w.fat_type(), ty, "{name}");
        assert_eq!(w.info().label.as_deref(), Some(label), "{name}");
        let walk = collect(&mut w, u64::MAX);
        let errors: Vec<_> = walk
            .iter()
            .filter(|(_, o)| !matches!(o, Outcome::Data(..)))
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");
        let ours = data_only(&walk);
        let theirs = mtools_files(&img);
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            theirs.keys().collect::<Vec<_>>(),
            "{name}: file lists"
        );
        assert_eq!(ours, theirs, "{name}: sizes and hashes");
        assert_eq!(ours.len(), 158, "{name}");
        for p in [
            "/café-ñandú-日本語.txt",
            "/Straße £99.txt",
            "/This is a rather long file name.txt",
            "/deep/level2/level3/level4/level5/level6/level7/level8/bottom file.txt",
            "/many/entry number 150 with a long name.txt",
        ] {
            assert!(ours.contains_key(p), "{name}: {p} missing");
        }
        assert_eq!(
            ours["/Données médicales/random.bin"].0,
            3 * 1024 * 1024 + 4321
        );
        assert_eq!(ours["/empty.dat"].0, 0);
        assert_eq!(w.writes_attempted(), 0);
        drop(w);
        assert_eq!(sha256_file(&img), before, "{name} changed");
        eprintln!("{name}: {} files identical to mtools", ours.len());
    }
}

#[test]
fn modification_time_is_decoded() {
    let mut w = open_file(&fat_images().join("fat16.img"));
    let mut seen = None;
    let mut visit = |meta: &FileMeta, _c: Content<'_>| {
        if meta.path == "/README.TXT" {
            seen = meta.modified;
        }
        std::ops::ControlFlow::Continue(())
    };
    w.walk(&mut visit).unwrap();
    // touch -d '2024-03-05 12:34:56' (UTC) = 1709642096; FAT keeps 2-second steps.
    assert_eq!(seen, Some(1_709_642_096));
}

#[test]
fn oracle_rust_fatfs_images() {
    for name in ["fat12", "fat16"] {
        let img = oracle(&format!("rust-fatfs/{name}.img.zst"));
        let mut w = open_file(&img);
        assert_eq!(w.info().label.as_deref(), Some("Test!"));
        let walk = collect(&mut w, u64::MAX);
        let want = manifest(&oracles_dir().join(format!("rust-fatfs/{name}.manifest.tsv")));
        assert_eq!(data_only(&walk), want, "{name}");
        assert_eq!(walk.len(), want.len(), "{name}: no extra outcomes");
        assert_eq!(want.len(), 4);
    }
}

#[test]
fn oracle_nobodd_images() {
    for (name, label) in [("fat12", "NOBODD---12"), ("fat16", "NOBODD---16")] {
        let img = oracle(&format!("nobodd/{name}.img.gz"));
        let mut w = open_file(&img);
        assert_eq!(w.info().label.as_deref(), Some(label));
        let walk = collect(&mut w, u64::MAX);
        let want = manifest(&oracles_dir().join("nobodd/fat12.img.manifest.tsv"));
        assert_eq!(data_only(&walk), want, "{name}");
        assert_eq!(walk.len(), want.len());
        assert_eq!(want.len(), 105, "{name}");
    }
    // The undersized FAT32: the BPB says FAT32, the cluster count says otherwise. Linux
    // (and nobodd) go by the BPB; so do we, and say so. Its listing is empty because TSK,
    // which made it, refuses the volume; nobodd's builder put the same tree in it as in
    // its FAT12/16 images, and mtools shows it once the sector count is large enough.
    let img = oracle("nobodd/fat32.img.gz");
    let mut w = open(Arc::new(FileDevice::open(&img).unwrap())).unwrap();
    assert_eq!(w.fat_type(), fatfs::FatType::Fat32);
    assert_eq!(w.info().label.as_deref(), Some("NOBODD---32"));
    assert_note(&w, "under the specification's minimum");
    let walk = collect(&mut w, u64::MAX);
    assert!(manifest(&oracles_dir().join("nobodd/fat32.img.manifest.tsv")).is_empty());
    let want = manifest(&oracles_dir().join("nobodd/fat12.img.manifest.tsv"));
    assert_eq!(data_only(&walk), want);
    assert_eq!(walk.len(), want.len());
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.img");
    with_total32(&std::fs::read(&img).unwrap(), 200_000, &big);
    assert_eq!(data_only(&walk), mtools_files(&big));
}

#[test]
fn oracle_embedded_sdmmc_partitions() {
    let disk: Device = Arc::new(FileDevice::open(&oracle("embedded-sdmmc/disk.img.gz")).unwrap());
    for (start, len, label, manifest_name) in [
        (
            2048u64,
            262_144u64,
            "P-FAT16",
            "disk.img.p1-fat16.manifest.tsv",
        ),
        (
            264_192,
            784_384,
            "P-FAT32",
            "disk.img.p2-fat32.manifest.tsv",
        ),
    ] {
        let part: Device = Arc::new(Slice::new(disk.clone(), start * 512, len * 512));
        let mut w = open(part).unwrap();
        assert_eq!(w.info().label.as_deref(), Some(label));
        let walk = collect(&mut w, u64::MAX);
        let want = manifest(&oracles_dir().join("embedded-sdmmc").join(manifest_name));
        assert_eq!(data_only(&walk), want, "{label}");
        assert_eq!(walk.len(), want.len(), "{label}");
        if label == "P-FAT32" {
            assert!(walk.contains_key("/Copy of Readme.txt"));
        }
    }
}

/// DFTT images live in zip files: the one `.dd`, unpacked once into the test cache.
fn dftt(zip: &str, member: &str) -> PathBuf {
    crate::testutil::oracle_zip_member(&format!("dftt/{zip}"), member)
}

#[test]
fn oracle_dftt_fat_images() {
    for (zip, member, alloc) in [
        (
            "2-kwsrch-fat.zip",
            "2-kwsrch-fat/fat-img-kw.dd",
            "2-kwsrch-fat/fat-img-kw.alloc.tsv",
        ),
        (
            "5-fat-daylight.zip",
            "5-fat-daylight/daylight.dd",
            "5-fat-daylight/daylight.alloc.tsv",
        ),
    ] {
        let img = dftt(zip, member);
        let mut w = open_file(&img);
        let walk = collect(&mut w, u64::MAX);
        let want = manifest(&oracles_dir().join("dftt").join(alloc));
        // TSK prints short names in upper case; fatfs applies the NT lower-case flags.
        let ours: BTreeMap<_, _> = data_only(&walk)
            .into_iter()
            .map(|(p, v)| (p.to_lowercase(), v))
            .collect();
        let want: BTreeMap<_, _> = want
            .into_iter()
            .map(|(p, v)| (p.to_lowercase(), v))
            .collect();
        assert_eq!(ours, want, "{member}");
    }
    // 9-fat-label hides data in entries flagged as volume labels (TSK lists them as files).
    // fatfs skips volume-label entries: documented gap, asserted precisely.
    let img = dftt("9-fat-label.zip", "9-fat-label/9-fat-label.dd");
    let mut w = open_file(&img);
    assert_eq!(w.info().label.as_deref(), Some("LABEL2"));
    let walk = collect(&mut w, u64::MAX);
    let want = manifest(&oracles_dir().join("dftt/9-fat-label/9-fat-label.alloc.tsv"));
    assert!(want.keys().all(|p| p.contains("(Volume Label Entry)")));
    assert!(data_only(&walk).is_empty(), "{walk:?}");
}

/// A copy of `img` at `dst` whose sector count says `total` (16-bit field cleared).
fn with_total32(img: &[u8], total: u32, dst: &Path) {
    let mut b = img.to_vec();
    b[0x13..0x15].fill(0);
    b[0x20..0x24].copy_from_slice(&total.to_le_bytes());
    std::fs::write(dst, b).unwrap();
}

#[test]
fn undersized_fat32_reads_as_linux_reads_it() {
    let img = fat_images().join("fat32-small.img");
    let before = sha256_file(&img);
    let bytes = std::fs::read(&img).unwrap();
    // fatfs alone refuses it.
    assert!(FileSystem::new(std::io::Cursor::new(bytes.clone()), FsOptions::new()).is_err());
    let mut w = open_file(&img);
    assert_eq!(w.fat_type(), fatfs::FatType::Fat32);
    assert_eq!(w.info().label.as_deref(), Some("VIGIE-SMALL"));
    assert_note(&w, "under the specification's minimum");
    let walk = collect(&mut w, u64::MAX);
    let errors: Vec<_> = walk
        .iter()
        .filter(|(_, o)| !matches!(o, Outcome::Data(..)))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    // mtools decides the FAT type by the cluster count (it sees an empty FAT16 here): its
    // FAT32 reading comes from a copy whose sector count is large enough.
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.img");
    with_total32(&bytes, 200_000, &big);
    let theirs = mtools_files(&big);
    assert_eq!(data_only(&walk), theirs);
    assert_eq!(theirs.len(), 158);
    drop(w);
    assert_eq!(sha256_file(&img), before);
}

#[test]
fn fat32_sector_count_in_the_64_bit_field_or_nowhere() {
    let clean = fat32_bytes();
    let reference = mtools_files(&fat_images().join("fat32.img"));
    assert_eq!(reference.len(), 158);
    assert_eq!(le16(&clean, 0x13), 0);
    let total = le32(&clean, 0x20);
    let mut img = clean.clone();
    img[0x20..0x24].fill(0);
    img[0x52..0x5A].copy_from_slice(&total.to_le_bytes());
    assert_eq!(
        crate::disk::detect::detect(&MemDevice::new(img.clone())).unwrap(),
        crate::record::FsKind::Fat32
    );
    let mut w = open_mem(img.clone()).unwrap();
    assert_note(&w, "64-bit field");
    assert_eq!(data_only(&collect(&mut w, u64::MAX)), reference);
    // No count anywhere: the FAT's size decides, as in Linux.
    img[0x52..0x5A].copy_from_slice(b"FAT32   ");
    assert_eq!(
        crate::disk::detect::detect(&MemDevice::new(img.clone())).unwrap(),
        crate::record::FsKind::Fat32
    );
    let mut w = open_mem(img).unwrap();
    assert_note(&w, "FAT's size");
    assert_eq!(data_only(&collect(&mut w, u64::MAX)), reference);
    // A FAT32 whose count sits in the 16-bit field (fatfs wants it in the 32-bit one).
    let small = std::fs::read(fat_images().join("fat32-small.img")).unwrap();
    assert_ne!(
        le16(&small, 0x13),
        0,
        "mkfs.fat put the small count in the 16-bit field"
    );
}

/// Fails unless one of the volume's notes contains `needle`.
fn assert_note(w: &FatWalker, needle: &str) {
    assert!(
        w.info().notes.iter().any(|n| n.contains(needle)),
        "{:?}",
        w.info().notes
    );
}

// ---- helpers shared with the damage, exFAT and ext4 tests ----

fn fat32_bytes() -> Vec<u8> {
    std::fs::read(fat_images().join("fat32.img")).unwrap()
}

/// xorshift64*, seeded: reproducible damage without a new dependency.
pub(crate) struct XorShift(pub(crate) u64);

impl XorShift {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// An offset in `[from, to)` that lies, if possible, in a 1 KiB block of `img` that
    /// is not all zeros (metadata and data rather than free space).
    pub(crate) fn in_use(&mut self, img: &[u8], from: u64, to: u64) -> u64 {
        let mut at = from + self.below(to - from);
        for _ in 0..20 {
            let b = usize::try_from(at / 1024 * 1024).unwrap();
            if img[b..(b + 1024).min(img.len())].iter().any(|&x| x != 0) {
                break;
            }
            at = from + self.below(to - from);
        }
        at
    }
}

thread_local! {
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with panic messages of this thread silenced (expected panics inside crates
/// fed damaged bytes); other threads keep the normal hook.
pub(crate) fn quiet_panics<T>(f: impl FnOnce() -> T) -> T {
    static HOOK: OnceLock<()> = OnceLock::new();
    HOOK.get_or_init(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(std::cell::Cell::get) {
                prev(info);
            }
        }));
    });
    QUIET.with(|q| q.set(true));
    let r = f();
    QUIET.with(|q| q.set(false));
    r
}

/// Runs `f` on another thread and fails if it takes longer than `secs` (a hang).
pub(crate) fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(std::time::Duration::from_secs(secs))
        .expect("walk hung or died")
}
