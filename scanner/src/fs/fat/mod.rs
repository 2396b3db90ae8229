//! FAT12/16/32 walker over the `fatfs` crate, hardened for hostile volumes.
//!
//! `fatfs` 0.3.6 reads FAT volumes correctly but trusts them completely (see `crate-notes.md`):
//! it follows cluster chains without cycle detection (a looping directory chain makes its
//! directory iterator spin forever, even inside a single `next()` call when the loop holds only
//! deleted entries), a cluster number below 2 underflows and panics, a FAT32 whose FSInfo
//! signature is damaged refuses to mount, and every cluster costs one FAT entry read from the
//! device. This module puts the crate on a stack of small read-only layers:
//!
//! ```text
//! Device -> [FSInfo signature fix] -> BlockCache (holds the FAT) -> Probe -> ReadSeekAdapter -> fatfs
//! ```
//!
//! The [`Probe`] watches which clusters the crate reads while it lists a directory: a directory
//! whose chain comes back to a cluster already read (its own or another directory's) fails with
//! an error instead of looping, and a listing may not read more than the 2 MiB a FAT directory
//! can hold. Every call into the crate runs under [`guard`], so a panic becomes an error for one
//! path. Files of 1 MiB and more are also offered as a random-access device over their
//! cluster chain ([`mapped`]), so that a large ISO or disk image opens in place. Nothing is
//! ever written: the crate's writes land on an adapter that refuses them (and
//! counts the attempts), and `stats()` is never called.

use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use fatfs::{DirEntry, FileSystem, FsOptions};

mod bpb;
mod cp850;
mod geometry;
mod mapped;
mod patch;
mod probe;
mod storage;
#[cfg(test)]
pub(crate) mod tests;
mod time;

use cp850::CP850;
use geometry::Geometry;
use patch::{fix_fs_info, Patched};
use probe::{Probe, ProbeState};
use storage::FatIo;
pub(crate) use time::days_from_civil;
use time::unix_time;

use crate::fs::runmap::MAPPED_MIN;
use crate::fs::{
    guard, join_path, Content, FileMeta, FsError, Visitor, VolumeInfo, WalkEnd, Walker,
};
use crate::io::{BlockCache, Device, ReadAt, ReadSeekAdapter, CACHE_BLOCK};

const FS: &str = "fat";

/// Deepest directory nesting walked (a 260-character path cannot nest deeper than ~130).
pub const MAX_DEPTH: usize = 128;
/// Most entries taken from one directory (the FAT limit is 65 536 32-byte slots).
pub const MAX_DIR_ENTRIES: usize = 65_536;
/// Most entries taken from the whole volume.
pub const MAX_TOTAL_ENTRIES: u64 = 20_000_000;
/// Bounds of the block cache: enough for the FAT of a 32 GiB volume (4 KiB clusters).
const CACHE_MIN: usize = 256 * 1024;
const CACHE_MAX: usize = 32 * 1024 * 1024;

/// A FAT volume opened read-only.
pub struct FatWalker {
    fs: FileSystem<FatIo>,
    probe: Arc<Probe>,
    /// Where chains and data are, for the mapped devices of large files.
    layout: mapped::Layout,
    writes: Arc<AtomicU64>,
    info: VolumeInfo,
}

/// Opens the FAT volume that `dev` covers exactly.
pub fn open(dev: Device) -> Result<FatWalker, FsError> {
    let mut boot = [0u8; 512];
    if dev.read_at(0, &mut boot)? < 512 {
        return Err(FsError::Invalid {
            fs: FS,
            reason: "shorter than a boot sector".into(),
        });
    }
    let geo = Geometry::parse(&boot)?;
    let mut notes = Vec::new();
    let (presented, bpb_notes) = bpb::present(
        &boot,
        &geo.count,
        geo.data_start / geo.bytes_per_sector,
        geo.sectors_per_cluster,
        geo.reserved_sectors,
    )
    .map_err(|reason| FsError::Unsupported { fs: FS, reason })?;
    notes.extend(bpb_notes);
    let mut patches = Vec::new();
    // What the crate will see: the corrected boot sector, if any.
    let shown = match presented {
        Some(b) => {
            let g = Geometry::parse(&b)?;
            patches.push((0, b.to_vec()));
            g
        }
        None => geo,
    };
    if let Some(fix) = fix_fs_info(&dev, &shown)? {
        notes.push(
            "FAT32 FSInfo sector has a bad signature: ignored (free-space hints only, not \
             needed to read files)"
                .to_string(),
        );
        patches.push(fix);
    }
    let base: Device = if patches.is_empty() {
        dev.clone()
    } else {
        Arc::new(Patched {
            inner: dev.clone(),
            patches,
        })
    };
    let want = usize::try_from(geo.fat_bytes.saturating_add(1024 * 1024)).unwrap_or(CACHE_MAX);
    let need = usize::try_from(dev.size().div_ceil(CACHE_BLOCK as u64) * CACHE_BLOCK as u64)
        .unwrap_or(CACHE_MAX);
    let cache_bytes = want.clamp(CACHE_MIN, CACHE_MAX).min(need.max(CACHE_BLOCK));
    let cache: Device = Arc::new(BlockCache::new(base, cache_bytes));
    let probe = Arc::new(Probe {
        inner: cache,
        geo,
        state: Mutex::new(ProbeState::default()),
    });
    let writes = Arc::new(AtomicU64::new(0));
    let storage = FatIo {
        inner: ReadSeekAdapter::new(probe.clone()),
        writes: writes.clone(),
    };
    let options = FsOptions::new().oem_cp_converter(&CP850);
    let fs = guard(|| FileSystem::new(storage, options))
        .map_err(FsError::Panic)?
        .map_err(|e| FsError::Invalid {
            fs: FS,
            reason: e.to_string(),
        })?;

    // The root directory's label entry wins over the boot sector's copy (Windows updates only
    // the former). Listing the root for it is guarded like any other listing.
    probe.begin_listing();
    let root_label = guard(|| fs.read_volume_label_from_root_dir());
    probe.end_listing(false);
    let clean = |s: String| {
        let s = s.trim_end().to_string();
        (!s.is_empty() && s != "NO NAME").then_some(s)
    };
    let label = match root_label {
        Ok(Ok(Some(l))) => clean(l),
        _ => None,
    }
    .or_else(|| guard(|| fs.volume_label()).ok().and_then(clean));
    if let Ok(Ok(flags)) = guard(|| fs.read_status_flags()) {
        if flags.dirty() {
            notes.push("volume was not cleanly unmounted (dirty flag set)".to_string());
        }
        if flags.io_error() {
            notes.push("volume reports disk I/O errors (FAT status flag)".to_string());
        }
    }
    let layout = mapped::Layout::new(&geo, &boot, fs.fat_type());
    Ok(FatWalker {
        fs,
        probe,
        layout,
        writes,
        info: VolumeInfo {
            label,
            notes,
            degraded: false,
        },
    })
}

impl FatWalker {
    /// FAT12, FAT16 or FAT32, as the crate decided from the cluster count.
    pub fn fat_type(&self) -> fatfs::FatType {
        self.fs.fat_type()
    }

    /// How many writes the crate attempted (all refused). Always 0 unless the crate misbehaves.
    pub fn writes_attempted(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }
}

/// Streams one file's bytes; a cluster chain that ends before the stated size is an error,
/// and so is a panic inside the crate.
struct FileReader<'a> {
    file: fatfs::File<'a, FatIo>,
    remaining: u64,
}

impl Read for FileReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let file = &mut self.file;
        let n = guard(|| file.read(&mut buf[..want]))
            .map_err(|p| io::Error::other(format!("reader crashed: {p}")))??;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "cluster chain ends {} bytes before the file size",
                    self.remaining
                ),
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// Lists one directory under the probe: entries read so far, and the error that stopped the
/// listing early, if any.
fn list_dir<'a>(
    probe: &Probe,
    dir: &fatfs::Dir<'a, FatIo>,
) -> (Vec<DirEntry<'a, FatIo>>, Option<String>) {
    let mut out = Vec::new();
    probe.begin_listing();
    let r = guard(|| {
        let mut it = dir.iter();
        loop {
            match it.next() {
                None => return None,
                Some(Ok(e)) => {
                    if out.len() >= MAX_DIR_ENTRIES {
                        return Some(format!(
                            "more than {MAX_DIR_ENTRIES} entries: rest not walked"
                        ));
                    }
                    out.push(e);
                }
                Some(Err(e)) => return Some(format!("directory unreadable: {e}")),
            }
        }
    });
    probe.end_listing(true);
    let err = match r {
        Ok(e) => e,
        Err(p) => Some(format!("reader crashed: {p}")),
    };
    (out, err)
}

impl Walker for FatWalker {
    fn info(&self) -> VolumeInfo {
        self.info.clone()
    }

    fn walk(&mut self, visitor: &mut dyn Visitor) -> Result<WalkEnd, FsError> {
        let fs = &self.fs;
        let probe = &*self.probe;
        let layout = &self.layout;
        probe.reset();
        let root = guard(|| fs.root_dir()).map_err(FsError::Panic)?;
        let mut stack = vec![("/".to_string(), 0usize, root)];
        let mut total: u64 = 0;
        let error = |visitor: &mut dyn Visitor, path: &str, msg: String| {
            let meta = FileMeta {
                path: path.to_string(),
                ..FileMeta::default()
            };
            visitor.visit(&meta, Content::Error(msg))
        };
        while let Some((dir_path, depth, dir)) = stack.pop() {
            let (entries, listing_error) = list_dir(probe, &dir);
            let mut subdirs = Vec::new();
            for entry in entries {
                total += 1;
                if total > MAX_TOTAL_ENTRIES {
                    let msg = format!(
                        "more than {MAX_TOTAL_ENTRIES} entries on the volume: walk stopped"
                    );
                    if error(visitor, &dir_path, msg).is_break() {
                        return Ok(WalkEnd::Cancelled);
                    }
                    return Ok(WalkEnd::Complete);
                }
                let name = match guard(|| entry.file_name()) {
                    Ok(n) => n.replace(['/', '\0'], "\u{FFFD}"),
                    Err(p) => format!("?{total}: {p}"),
                };
                if depth > 0 && (name == "." || name == "..") {
                    continue;
                }
                let path = join_path(&dir_path, &name);
                if entry.is_dir() {
                    if depth + 1 > MAX_DEPTH {
                        let msg = format!("deeper than {MAX_DEPTH} levels: not walked");
                        if error(visitor, &path, msg).is_break() {
                            return Ok(WalkEnd::Cancelled);
                        }
                        continue;
                    }
                    match guard(|| entry.to_dir()) {
                        Ok(d) => subdirs.push((path, depth + 1, d)),
                        Err(p) => {
                            if error(visitor, &path, format!("reader crashed: {p}")).is_break() {
                                return Ok(WalkEnd::Cancelled);
                            }
                        }
                    }
                    continue;
                }
                let meta = FileMeta {
                    path,
                    stream: None,
                    size: entry.len(),
                    modified: guard(|| entry.modified()).ok().and_then(unix_time),
                };
                let flow = match guard(|| entry.to_file()) {
                    Ok(file) => {
                        let mut reader = FileReader {
                            file,
                            remaining: meta.size,
                        };
                        if meta.size < MAPPED_MIN {
                            visitor.visit(&meta, Content::Data(&mut reader))
                        } else {
                            // Large files: also offered as a device (see `mapped`); the first
                            // cluster is where the crate reads the first byte.
                            let device = || -> Option<Device> {
                                let first = probe.first_data_read(|| {
                                    let _ = entry.to_file().read(&mut [0u8; 1]);
                                })?;
                                mapped::device(layout, &probe.inner, first, meta.size).ok()
                            };
                            visitor.visit_mapped(&meta, Content::Data(&mut reader), &device)
                        }
                    }
                    Err(p) => visitor.visit(&meta, Content::Error(format!("reader crashed: {p}"))),
                };
                if flow.is_break() {
                    return Ok(WalkEnd::Cancelled);
                }
            }
            if let Some(msg) = listing_error {
                if error(visitor, &dir_path, msg).is_break() {
                    return Ok(WalkEnd::Cancelled);
                }
            }
            stack.extend(subdirs.into_iter().rev());
        }
        Ok(WalkEnd::Complete)
    }
}
