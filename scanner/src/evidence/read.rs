//! Reads the detected files again, read-only, for the evidence ZIP.
//!
//! Each target with findings is opened as the scan opens it (`O_RDONLY`, `BLKROSET` on block
//! devices); only the volumes that had findings are walked, through the same readers and
//! under the same panic guard, and a walk stops as soon as its wanted files are all copied.
//! Disk and boot areas (`<mbr>`, `<boot sector>`) are read at their offsets, bounded by the
//! scan's own area sizes.

use std::collections::{BTreeMap, HashMap};
use std::io::{Seek, Write};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;

use super::{is_area, Collector, EvidenceError};
use crate::fs::{guard, Content, FileMeta, Walker};
use crate::io::{Device, ReadAt, Slice};
use crate::record::FsKind;

/// The scan reads this much of a disk as `<mbr>` and of a volume as `<boot sector>`.
const DISK_AREA: u64 = 1 << 20;
const VOLUME_AREA: u64 = 64 << 10;

fn open_walker(fs: FsKind, dev: Device) -> Option<Box<dyn Walker>> {
    let w: Box<dyn Walker> = match fs {
        FsKind::Fat12 | FsKind::Fat16 | FsKind::Fat32 => Box::new(crate::fs::fat::open(dev).ok()?),
        FsKind::Exfat => Box::new(crate::fs::exfat::open(dev).ok()?),
        FsKind::Ntfs => Box::new(crate::fs::ntfs::open(dev).ok()?),
        FsKind::Ext2 | FsKind::Ext3 | FsKind::Ext4 => Box::new(crate::fs::ext4::open(dev).ok()?),
        _ => return None,
    };
    Some(w)
}

/// Offers an area's bytes (`len` at most `cap`) from `dev`.
fn offer_area<W: Write + Seek>(
    c: &mut Collector<W>,
    idx: usize,
    dev: &dyn ReadAt,
    len: u64,
    cap: u64,
) -> Result<(), EvidenceError> {
    let n = len.min(cap).min(dev.size());
    let mut buf = vec![0u8; usize::try_from(n).unwrap_or(0)];
    match dev.read_exact_at(0, &mut buf) {
        Ok(()) => c.offer(idx, n, &mut buf.as_slice()),
        Err(_) => {
            c.missing(idx, "unreadable");
            Ok(())
        }
    }
}

/// Copies every item of `c` that can be read from its target. Errors of the ZIP's writer end
/// it (the ZIP is unusable); a target or volume that cannot be opened marks its items.
pub fn collect<W: Write + Seek>(c: &mut Collector<W>) -> Result<(), EvidenceError> {
    // disk -> volume -> item indices.
    let mut by_disk: BTreeMap<String, BTreeMap<Option<u32>, Vec<usize>>> = BTreeMap::new();
    for (i, it) in c.items().iter().enumerate() {
        by_disk
            .entry(it.disk.clone())
            .or_default()
            .entry(it.volume)
            .or_default()
            .push(i);
    }
    for (disk, vols) in by_disk {
        let Ok(target) = crate::scan::Target::open(Path::new(&disk)) else {
            for i in vols.values().flatten() {
                c.missing(*i, "unreadable");
            }
            continue;
        };
        let dev = target.device.clone();
        let parts = crate::persist::volume_spans(&target);
        for (volume, idxs) in vols {
            let Some(number) = volume else {
                for &i in &idxs {
                    let it = &c.items()[i];
                    if it.path == "<mbr>" {
                        let len = it.size;
                        offer_area(c, i, dev.as_ref(), len, DISK_AREA)?;
                    } else {
                        c.missing(i, "not_a_file");
                    }
                }
                continue;
            };
            let Some(&(_, start, len)) = parts.iter().find(|p| p.0 == number) else {
                for &i in &idxs {
                    c.missing(i, "not_found");
                }
                continue;
            };
            let vol: Device = Arc::new(Slice::new(dev.clone(), start, len));
            let mut wanted: HashMap<(String, Option<String>), usize> = HashMap::new();
            for &i in &idxs {
                let it = &c.items()[i];
                if it.path == "<boot sector>" {
                    let len = it.size;
                    offer_area(c, i, vol.as_ref(), len, VOLUME_AREA)?;
                } else if is_area(&it.path) {
                    c.missing(i, "not_a_file");
                } else {
                    wanted.insert((it.path.clone(), it.stream.clone()), i);
                }
            }
            if wanted.is_empty() {
                continue;
            }
            walk_volume(c, vol, &mut wanted)?;
            for (_, i) in wanted {
                c.missing(i, "not_found");
            }
        }
    }
    Ok(())
}

/// Walks one volume and offers each wanted file; found ones leave `wanted`.
fn walk_volume<W: Write + Seek>(
    c: &mut Collector<W>,
    vol: Device,
    wanted: &mut HashMap<(String, Option<String>), usize>,
) -> Result<(), EvidenceError> {
    let walker = guard(|| {
        let fs = crate::disk::detect::detect(vol.as_ref()).ok()?;
        open_walker(fs, vol)
    });
    let Ok(Some(mut w)) = walker else {
        for (_, i) in wanted.drain() {
            c.missing(i, "unreadable");
        }
        return Ok(());
    };
    let mut failed: Option<EvidenceError> = None;
    let mut visit = |meta: &FileMeta, content: Content<'_>| {
        let key = (meta.path.clone(), meta.stream.clone());
        let Some(i) = wanted.remove(&key) else {
            return ControlFlow::Continue(());
        };
        match content {
            Content::Data(r) => {
                if let Err(e) = c.offer(i, meta.size, r) {
                    failed = Some(e);
                    return ControlFlow::Break(());
                }
            }
            Content::Skipped(_) | Content::Error(_) => c.missing(i, "unreadable"),
        }
        if wanted.is_empty() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    // A reader's panic ends this volume's walk; what is still wanted counts as not found.
    let _ = guard(|| w.walk(&mut visit));
    match failed {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The whole evidence of a scan into `out`: plan, read again, write, manifest. The record's
/// status is `status` (`saved` when `out` is the final place).
pub fn to_writer<W: Write + Seek>(
    out: W,
    findings: &[crate::record::FindingRecord],
    limits: super::Limits,
    status: &str,
) -> Result<(crate::record::EvidenceRecord, W), EvidenceError> {
    let mut c = Collector::new(out, findings, limits);
    collect(&mut c)?;
    c.finish(status)
}
