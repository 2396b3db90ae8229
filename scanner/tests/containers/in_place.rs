//! Containers larger than the full-scan limit (issue 13): an ISO 9660 image and a raw disk
//! image (MBR + FAT) of more than 64 MiB, EICAR in the last file of each, copied into an NTFS
//! host volume with `ntfscp` (no mount). The engine must open them in place, through the
//! walker's mapped device over the file's data runs, and name the members; the host image
//! is unchanged. A differential checks the mapped device against the walker's stream (same
//! bytes) for every mapped file.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::{eicar_members, sh};
use crate::common::*;
use vigie::fs::{Content, FileMeta, Visitor};
use vigie::io::{Device, FileDevice, ReadAt};

/// `ntfs.img` (256 MiB) holding `/big.iso` and `/dir/disk.img`, both over 64 MiB.
fn build_host(work: &Path) -> PathBuf {
    std::fs::write(work.join("eicar.com"), eicar()).unwrap();
    sh(
        work,
        r#"
        mkdir -p iso/zz
        head -c 66M /dev/urandom > iso/filler.bin
        cp eicar.com iso/zz/eicar.com
        genisoimage -quiet -J -o big.iso iso
        truncate -s 70M disk.img
        echo 'start=2048, type=c' | sfdisk -q disk.img
        mformat -i disk.img@@1M -F -v DISK ::
        head -c 60M /dev/urandom > fill.bin
        mcopy -i disk.img@@1M fill.bin ::fill.bin
        mcopy -i disk.img@@1M eicar.com ::eicar.com
        truncate -s 256M ntfs.img
        mkntfs -q -F -Q ntfs.img
        ntfscp -q ntfs.img big.iso big.iso
        ntfscp -q ntfs.img disk.img disk.img
        "#,
    );
    work.join("ntfs.img")
}

#[test]
fn iso_and_disk_image_over_the_limit_open_in_place_on_ntfs() {
    let dir = tempfile::tempdir().unwrap();
    let img = build_host(dir.path());
    assert!(std::fs::metadata(dir.path().join("big.iso")).unwrap().len() > 64 << 20);
    let before = sha256_file(&img);
    let scan = scan_json(&[&img], &[]);
    let found = eicar_members(&scan);
    assert!(
        found.contains(&("/big.iso".to_string(), Some("zz/eicar.com".to_string()))),
        "{found:?}\n{}",
        scan.run.stdout
    );
    assert!(
        found.contains(&("/disk.img".to_string(), Some("p1/EICAR.COM".to_string())))
            || found.contains(&("/disk.img".to_string(), Some("p1/eicar.com".to_string()))),
        "{found:?}\n{}",
        scan.run.stdout
    );
    let v = scan.volume(0);
    assert_eq!(
        v["members_skipped"]["archive_limit"].as_u64().unwrap_or(0),
        0,
        "{v}"
    );
    assert_eq!(sha256_file(&img), before, "the host image was modified");
}

/// Length and SHA-256 of a content.
pub(super) type Digest32 = (u64, [u8; 32]);

/// Reads a device whole, in 1 MiB reads, into a digest.
fn device_digest(dev: &dyn ReadAt) -> Digest32 {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut pos = 0u64;
    loop {
        let n = dev.read_at(pos, &mut buf).expect("device read");
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        pos += n as u64;
    }
    (pos, h.finalize().into())
}

/// For every mapped file: (path, stream digest, device digest).
#[derive(Default)]
pub(super) struct Differential {
    pub(super) mapped: Vec<(String, Digest32, Digest32)>,
}

impl Visitor for Differential {
    fn visit(&mut self, _meta: &FileMeta, _content: Content<'_>) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
    fn visit_mapped(
        &mut self,
        meta: &FileMeta,
        content: Content<'_>,
        mapped: &dyn Fn() -> Option<Device>,
    ) -> ControlFlow<()> {
        let Content::Data(r) = content else {
            return ControlFlow::Continue(());
        };
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut len = 0u64;
        loop {
            let n = r.read(&mut buf).expect("stream read");
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            len += n as u64;
        }
        let dev = mapped().expect("a mapped device");
        assert_eq!(dev.size(), meta.size);
        self.mapped.push((
            meta.path.clone(),
            (len, h.finalize().into()),
            device_digest(dev.as_ref()),
        ));
        ControlFlow::Continue(())
    }
}

#[test]
fn ntfs_mapped_device_reads_the_same_bytes_as_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    let img = build_host(dir.path());
    let dev: Device = Arc::new(FileDevice::open(&img).unwrap());
    let mut w = vigie::fs::ntfs::open(dev).unwrap();
    let mut d = Differential::default();
    vigie::fs::Walker::walk(&mut w, &mut d).unwrap();
    let paths: Vec<&str> = d.mapped.iter().map(|m| m.0.as_str()).collect();
    assert!(
        paths.contains(&"/big.iso") && paths.contains(&"/disk.img"),
        "{paths:?}"
    );
    for (path, stream, device) in &d.mapped {
        assert_eq!(stream, device, "{path}: device and stream differ");
    }
    let iso = std::fs::read(dir.path().join("big.iso")).unwrap();
    let want: [u8; 32] = Sha256::digest(&iso).into();
    let got = d.mapped.iter().find(|m| m.0 == "/big.iso").unwrap();
    assert_eq!(got.2, (iso.len() as u64, want));
}

/// Reads every mapped device to its end (errors allowed, counted): a lying run list must
/// give read errors, never a panic, a hang or a device longer than the declared size.
#[derive(Default)]
pub(super) struct ReadAll {
    pub(super) mapped: u64,
    pub(super) errors: u64,
}

impl Visitor for ReadAll {
    fn visit(&mut self, _meta: &FileMeta, _content: Content<'_>) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
    fn visit_mapped(
        &mut self,
        meta: &FileMeta,
        _content: Content<'_>,
        mapped: &dyn Fn() -> Option<Device>,
    ) -> ControlFlow<()> {
        let Some(dev) = mapped() else {
            return ControlFlow::Continue(());
        };
        self.mapped += 1;
        assert_eq!(dev.size(), meta.size);
        let mut buf = vec![0u8; 1 << 20];
        let mut pos = 0u64;
        while pos < dev.size() {
            match dev.read_at(pos, &mut buf) {
                Ok(0) => panic!("{}: device ends at {pos}, before its size", meta.path),
                Ok(n) => {
                    assert!(
                        n <= buf.len(),
                        "{}: read of {n} bytes into {}",
                        meta.path,
                        buf.len()
                    );
                    pos += n as u64;
                    assert!(pos <= meta.size, "{}: read past its size", meta.path);
                }
                Err(_) => {
                    self.errors += 1;
                    break;
                }
            }
        }
        ControlFlow::Continue(())
    }
}

#[test]
fn mutated_ntfs_runs_never_escape_the_mapped_device() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path();
    sh(
        w,
        r#"
        head -c 3M /dev/urandom > a.bin && head -c 1200K /dev/urandom > b.bin
        truncate -s 16M ntfs.img
        mkntfs -q -F -Q ntfs.img
        ntfscp -q ntfs.img a.bin a.bin
        ntfscp -q ntfs.img b.bin b.bin
        "#,
    );
    let image = std::fs::read(w.join("ntfs.img")).unwrap();
    let le = |at: usize, n: usize| {
        let mut v = 0u64;
        for i in (0..n).rev() {
            v = (v << 8) | u64::from(image[at + i]);
        }
        v
    };
    let cluster = le(0x0b, 2) * le(0x0d, 1);
    let mft = usize::try_from(le(0x30, 8) * cluster).unwrap();
    let (mut mapped, mut errors) = (0u64, 0u64);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..300 {
        let mut img = image.clone();
        // Flip bytes in the user records (24..64, where the files' data runs are).
        for _ in 0..1 + next() % 8 {
            let at = mft + 24 * 1024 + usize::try_from(next() % (40 * 1024)).unwrap();
            img[at] = (next() & 0xff) as u8;
        }
        let dev: Device = Arc::new(vigie::io::MemDevice::new(img));
        let walked = vigie::fs::guard(|| {
            let mut r = ReadAll::default();
            if let Ok(mut walker) = vigie::fs::ntfs::open(dev) {
                let _ = vigie::fs::Walker::walk(&mut walker, &mut r);
            }
            r
        });
        let r = walked.expect("a mutated image escaped the guard (panic)");
        mapped += r.mapped;
        errors += r.errors;
    }
    // The mutations hit something: most walks still map the files, some reads fail.
    assert!(mapped > 100, "mapped {mapped}");
    eprintln!("mapped devices read: {mapped}, read errors: {errors}");
}
