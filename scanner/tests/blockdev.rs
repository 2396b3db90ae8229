//! `scanner scan` on a real block device: a loop device over a copy of `mbr-mixed.img`.
//!
//! Proves what image files cannot: the device is marked read-only in the kernel (`BLKROSET`)
//! by the scan, and a block device gives the same findings as the image file it exposes.
//! Needs root (losetup); as root a failure to set up the loop device fails the test.

mod common;

use std::path::Path;
use std::process::Command;

use common::{image, scan_json, sha256_file, sparse_copy};

struct Loop(String);

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.0]).status();
    }
}

fn blockdev_ro(dev: &str) -> bool {
    let out = Command::new("blockdev")
        .args(["--getro", dev])
        .output()
        .expect("run blockdev");
    String::from_utf8_lossy(&out.stdout).trim() == "1"
}

#[test]
fn loop_device_is_marked_read_only_and_scans_like_the_image() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: loop devices need root");
        return;
    }
    let src = image("mbr-mixed");
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("disk.img");
    sparse_copy(&src, &copy);
    let before = sha256_file(&copy);

    let out = Command::new("losetup")
        .args(["-f", "--show"])
        .arg(&copy)
        .output()
        .expect("run losetup");
    assert!(
        out.status.success(),
        "losetup failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dev = Loop(String::from_utf8_lossy(&out.stdout).trim().to_string());
    // The kernel keeps a BLKROSET flag across loop detach/attach: start from a writable device.
    let rw = Command::new("blockdev")
        .args(["--setrw", &dev.0])
        .status()
        .expect("run blockdev");
    assert!(
        rw.success() && !blockdev_ro(&dev.0),
        "could not make {} writable",
        dev.0
    );

    let from_dev = scan_json(&[Path::new(&dev.0)], &[]);
    assert!(
        blockdev_ro(&dev.0),
        "scanner must set BLKROSET on the device"
    );
    let from_img = scan_json(&[&copy], &[]);

    let keys = |s: &common::Scan| {
        let mut k: Vec<String> = s
            .findings()
            .iter()
            .map(|f| format!("{} {} {}", f["volume"], f["path"], f["stream"]))
            .collect();
        k.sort();
        k
    };
    assert!(!keys(&from_dev).is_empty());
    assert_eq!(keys(&from_dev), keys(&from_img));
    assert_eq!(from_dev.verdict(), "infected");
    drop(dev);
    assert_eq!(
        sha256_file(&copy),
        before,
        "the image behind the loop device changed"
    );
}
