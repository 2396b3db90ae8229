//! Disks for PID 1: enumerate `/sys/block`, wait for them to settle, make every one (and its
//! partitions) read-only in the kernel before anything reads it, and find the stick itself by
//! identity: a FAT partition labelled `VIGIE-LOGS` holding `/VIGIE.ID` equal to the identity
//! baked into the initramfs. Never by position.

use crate::io::{FileDevice, ReadSeekAdapter};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Label of the stick's log partition.
pub const LOG_LABEL: &str = "VIGIE-LOGS";
/// Identity file at the root of the log partition.
pub const ID_FILE: &str = "VIGIE.ID";

/// A whole disk and its partitions, as the kernel names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    /// Kernel name (`sda`, `nvme0n1`, `vda`).
    pub name: String,
    /// Size in 512-byte sectors (from sysfs).
    pub sectors: u64,
    /// Partition names (`sda1`, `nvme0n1p2`).
    pub partitions: Vec<String>,
    /// Whether the kernel calls it removable.
    pub removable: bool,
}

impl Disk {
    /// `/dev/<name>`.
    pub fn dev(&self) -> PathBuf {
        Path::new("/dev").join(&self.name)
    }
}

/// Whether a `/sys/block` entry is a disk we consider (not loop, ram, zram, optical, floppy).
pub fn is_candidate(name: &str) -> bool {
    !["loop", "ram", "zram", "sr", "fd", "md", "dm-", "nbd"]
        .iter()
        .any(|p| name.starts_with(p))
}

/// Lists the candidate disks with a non-zero size, sorted by name.
pub fn list() -> Vec<Disk> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/sys/block") else {
        return out;
    };
    for e in rd.flatten().take(1024) {
        let name = e.file_name().to_string_lossy().into_owned();
        if !is_candidate(&name) {
            continue;
        }
        let p = e.path();
        let read = |f: &str| {
            std::fs::read_to_string(p.join(f))
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        let sectors: u64 = read("size").parse().unwrap_or(0);
        if sectors == 0 {
            continue;
        }
        let mut partitions: Vec<String> = std::fs::read_dir(&p)
            .map(|rd| {
                rd.flatten()
                    .take(1024)
                    .filter(|s| s.path().join("partition").exists())
                    .map(|s| s.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        partitions.sort();
        out.push(Disk {
            name,
            sectors,
            partitions,
            removable: read("removable") == "1",
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Waits until the disk list has not changed for `quiet`, at least `min` and at most `max`.
pub fn settle(min: Duration, quiet: Duration, max: Duration) -> Vec<Disk> {
    let start = Instant::now();
    let mut last = list();
    let mut since = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(250));
        let now = list();
        if now != last {
            last = now;
            since = Instant::now();
        }
        let el = start.elapsed();
        if (el >= min && since.elapsed() >= quiet) || el >= max {
            return last;
        }
    }
}

/// Outcome of making a disk read-only.
#[derive(Debug)]
pub struct Protected {
    /// The disk.
    pub disk: Disk,
    /// Error if the disk or one of its partitions could not be made read-only: such a disk
    /// is never read.
    pub error: Option<String>,
}

fn set_ro(dev: &Path) -> Result<(), String> {
    let f = std::fs::File::open(dev).map_err(|e| format!("{}: open: {e}", dev.display()))?;
    crate::sys::set_block_device_read_only(&f)
        .map_err(|e| format!("{}: BLKROSET: {e}", dev.display()))?;
    match crate::sys::block_device_is_read_only(&f) {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!("{}: still writable after BLKROSET", dev.display())),
        Err(e) => Err(format!("{}: BLKROGET: {e}", dev.display())),
    }
}

/// Sets `BLKROSET` on the disk and each partition. Opening a block device `O_RDONLY` reads
/// nothing from it.
pub fn protect(disk: &Disk) -> Protected {
    let mut errs = Vec::new();
    if let Err(e) = set_ro(&disk.dev()) {
        errs.push(e);
    }
    for p in &disk.partitions {
        if let Err(e) = set_ro(&Path::new("/dev").join(p)) {
            errs.push(e);
        }
    }
    Protected {
        disk: disk.clone(),
        error: (!errs.is_empty()).then(|| errs.join("; ")),
    }
}

/// Whether the FAT volume on `dev` is labelled [`LOG_LABEL`] and holds [`ID_FILE`] equal to
/// `id`. Reads through the read-only adapter (writes refused).
pub fn is_stick_log_partition(dev: &Path, id: &str) -> bool {
    let Ok(fd) = FileDevice::open(dev) else {
        return false;
    };
    let mut boot = [0u8; 512];
    if crate::io::ReadAt::read_at(&fd, 0, &mut boot).is_err() {
        return false;
    }
    // FAT32 label at 0x47, FAT12/16 at 0x2B: cheap filter before mounting anything.
    let label_ok = |o: usize| boot[o..o + 11].starts_with(LOG_LABEL.as_bytes());
    if !(label_ok(0x47) || label_ok(0x2B)) {
        return false;
    }
    let adapter = ReadSeekAdapter::new(Arc::new(fd));
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let fs = fatfs::FileSystem::new(adapter, fatfs::FsOptions::new()).ok()?;
        let mut f = fs.root_dir().open_file(ID_FILE).ok()?;
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(&mut f, 256), &mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf).trim() == id)
    }));
    matches!(res, Ok(Some(true)))
}

/// Finds the stick: the disk with a partition that [`is_stick_log_partition`]. Returns the
/// disk and the log partition's name.
pub fn find_stick(disks: &[Disk], id: &str) -> Option<(Disk, String)> {
    for d in disks {
        for p in &d.partitions {
            if is_stick_log_partition(&Path::new("/dev").join(p), id) {
                return Some((d.clone(), p.clone()));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates() {
        for n in ["sda", "nvme0n1", "vda", "hda", "mmcblk0"] {
            assert!(is_candidate(n), "{n}");
        }
        for n in ["loop0", "ram0", "zram0", "sr0", "fd0"] {
            assert!(!is_candidate(n), "{n}");
        }
    }
}
