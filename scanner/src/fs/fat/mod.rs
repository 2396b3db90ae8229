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
//! path. Nothing is ever written: the crate's writes land on an adapter that refuses them (and
//! counts the attempts), and `stats()` is never called.

use std::collections::HashSet;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use fatfs::{DirEntry, FileSystem, FsOptions, OemCpConverter};

mod bpb;

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
/// Most bytes of directory data one listing may read: 2 MiB is the largest FAT directory.
const MAX_DIR_BYTES: u64 = 2 * 1024 * 1024 + 64 * 1024;
/// Bounds of the block cache: enough for the FAT of a 32 GiB volume (4 KiB clusters).
const CACHE_MIN: usize = 256 * 1024;
const CACHE_MAX: usize = 32 * 1024 * 1024;

/// Where the regions of a FAT volume lie, from its boot sector (parsed here as well, because
/// the crate keeps it private and the probe needs it).
#[derive(Debug, Clone, Copy)]
struct Geometry {
    bytes_per_sector: u64,
    #[cfg_attr(not(test), allow(dead_code))]
    fat_start: u64,
    fat_bytes: u64,
    fat_end: u64,
    data_start: u64,
    cluster_size: u64,
    fat32_bpb: bool,
    fs_info_sector: u64,
    reserved_sectors: u64,
    sectors_per_cluster: u64,
    /// The volume's size as Linux reads it.
    count: bpb::Count,
}

fn le16(b: &[u8], at: usize) -> u64 {
    u64::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

fn le32(b: &[u8], at: usize) -> u64 {
    u64::from(u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]))
}

impl Geometry {
    fn parse(boot: &[u8; 512]) -> Result<Self, FsError> {
        let invalid = |reason: &str| FsError::Invalid {
            fs: FS,
            reason: reason.to_string(),
        };
        if boot[510..512] != [0x55, 0xAA] {
            return Err(invalid("no boot sector signature"));
        }
        let bytes_per_sector = le16(boot, 0x0B);
        let sectors_per_cluster = u64::from(boot[0x0D]);
        if !(512..=4096).contains(&bytes_per_sector) || !bytes_per_sector.is_power_of_two() {
            return Err(invalid("bytes per sector not a power of two in 512..4096"));
        }
        if sectors_per_cluster == 0 || !sectors_per_cluster.is_power_of_two() {
            return Err(invalid("sectors per cluster not a power of two"));
        }
        let reserved_sectors = le16(boot, 0x0E);
        let fats = u64::from(boot[0x10]);
        let root_entries = le16(boot, 0x11);
        let spf16 = le16(boot, 0x16);
        let fat32_bpb = spf16 == 0;
        let spf = if fat32_bpb { le32(boot, 0x24) } else { spf16 };
        let fat_start = reserved_sectors * bytes_per_sector;
        let fat_bytes = spf * bytes_per_sector;
        let fat_end = fat_start + fats * fat_bytes;
        let root_bytes = (root_entries * 32).div_ceil(bytes_per_sector) * bytes_per_sector;
        let data_start = fat_end + root_bytes;
        let cluster_size = sectors_per_cluster * bytes_per_sector;
        let count = bpb::count(
            boot,
            data_start / bytes_per_sector,
            spf,
            sectors_per_cluster,
        );
        Ok(Self {
            bytes_per_sector,
            fat_start,
            fat_bytes,
            fat_end,
            data_start,
            cluster_size,
            fat32_bpb,
            fs_info_sector: if fat32_bpb { le16(boot, 0x30) } else { 0 },
            reserved_sectors,
            sectors_per_cluster,
            count,
        })
    }
}

/// A device whose bytes in each `[at, at + bytes.len())` read as `bytes` instead: used to
/// present a corrected boot sector (see [`bpb`]) and a FAT32 FSInfo sector with valid
/// signatures to a crate that refuses the real ones.
struct Patched {
    inner: Device,
    patches: Vec<(u64, Vec<u8>)>,
}

impl ReadAt for Patched {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read_at(offset, buf)?;
        let end = offset + n as u64;
        for (at, bytes) in &self.patches {
            let patch_end = at + bytes.len() as u64;
            if offset < patch_end && end > *at {
                let from = offset.max(*at);
                let to = end.min(patch_end);
                let dst = usize::try_from(from - offset).unwrap_or(0);
                let src = usize::try_from(from - at).unwrap_or(0);
                let len = usize::try_from(to - from).unwrap_or(0);
                buf[dst..dst + len].copy_from_slice(&bytes[src..src + len]);
            }
        }
        Ok(n)
    }
    fn size(&self) -> u64 {
        self.inner.size()
    }
}

const FSINFO_LEAD: [u8; 4] = 0x4161_5252u32.to_le_bytes();
const FSINFO_STRUC: [u8; 4] = 0x6141_7272u32.to_le_bytes();
const FSINFO_TRAIL: [u8; 4] = 0xAA55_0000u32.to_le_bytes();

/// If the FAT32 FSInfo sector has a bad signature, returns a device presenting corrected
/// signatures (and "unknown" free-cluster hints, which a reader never needs).
fn fix_fs_info(dev: &Device, geo: &Geometry) -> Result<Option<(u64, Vec<u8>)>, FsError> {
    if !geo.fat32_bpb || geo.fs_info_sector == 0 || geo.fs_info_sector >= geo.reserved_sectors {
        return Ok(None);
    }
    let at = geo.fs_info_sector * geo.bytes_per_sector;
    let mut sector = vec![0u8; 512];
    if dev.read_at(at, &mut sector)? != 512 {
        return Ok(None);
    }
    if sector[0..4] == FSINFO_LEAD
        && sector[484..488] == FSINFO_STRUC
        && sector[508..512] == FSINFO_TRAIL
    {
        return Ok(None);
    }
    sector[0..4].copy_from_slice(&FSINFO_LEAD);
    sector[484..488].copy_from_slice(&FSINFO_STRUC);
    sector[488..496].fill(0xFF);
    sector[508..512].copy_from_slice(&FSINFO_TRAIL);
    Ok(Some((at, sector)))
}

/// Watches the crate's reads while a directory is listed (see the module documentation).
struct Probe {
    inner: Device,
    geo: Geometry,
    state: Mutex<ProbeState>,
}

#[derive(Default)]
struct ProbeState {
    listing: bool,
    bytes: u64,
    last: Option<u64>,
    this_dir: HashSet<u64>,
    all_dirs: HashSet<u64>,
}

/// Probe key for the fixed FAT12/16 root directory region.
const ROOT_REGION: u64 = u64::MAX;

impl Probe {
    fn lock(&self) -> std::sync::MutexGuard<'_, ProbeState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets every directory seen, for a new walk.
    fn reset(&self) {
        *self.lock() = ProbeState::default();
    }

    fn begin_listing(&self) {
        let mut s = self.lock();
        s.listing = true;
        s.bytes = 0;
        s.last = None;
        s.this_dir.clear();
    }

    /// Ends a listing; `commit` records its clusters as belonging to a walked directory.
    fn end_listing(&self, commit: bool) {
        let mut s = self.lock();
        s.listing = false;
        let this: Vec<u64> = s.this_dir.drain().collect();
        if commit {
            s.all_dirs.extend(this);
        }
    }

    fn check(&self, offset: u64, len: usize) -> io::Result<()> {
        let mut s = self.lock();
        if !s.listing || offset < self.geo.fat_end {
            return Ok(());
        }
        s.bytes += len as u64;
        if s.bytes > MAX_DIR_BYTES {
            return Err(io::Error::other(
                "directory larger than FAT allows (corrupt or looping cluster chain)",
            ));
        }
        let key = if offset < self.geo.data_start {
            ROOT_REGION
        } else {
            (offset - self.geo.data_start) / self.geo.cluster_size
        };
        if s.last != Some(key) {
            if s.this_dir.contains(&key) {
                return Err(io::Error::other(
                    "directory cluster chain loops onto itself",
                ));
            }
            if s.all_dirs.contains(&key) {
                return Err(io::Error::other(
                    "directory shares clusters with another directory (cross-linked or cyclic)",
                ));
            }
            s.this_dir.insert(key);
            s.last = Some(key);
        }
        Ok(())
    }
}

impl ReadAt for Probe {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.check(offset, buf.len())?;
        self.inner.read_at(offset, buf)
    }
    fn size(&self) -> u64 {
        self.inner.size()
    }
}

/// The storage handed to `fatfs`: reads and seeks go to the adapter, writes are refused by it
/// and counted here, so tests can prove the crate never even tried.
struct FatIo {
    inner: ReadSeekAdapter,
    writes: Arc<AtomicU64>,
}

impl Read for FatIo {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl Seek for FatIo {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

impl Write for FatIo {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Short names and labels are in the OEM code page; code page 850 (Western Europe, the
/// default of French and most European DOS/Windows installs) decodes them.
#[derive(Debug)]
struct Cp850;

const CP850_HIGH: &str = "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜø£Ø×ƒáíóúñÑªº¿®¬½¼¡«»░▒▓│┤ÁÂÀ©╣║╗╝¢¥┐└┴┬├─┼ãÃ╚╔╩╦╠═╬¤ðÐÊËÈıÍÎÏ┘┌█▄¦Ì▀ÓßÔÒõÕµþÞÚÛÙýÝ¯´\u{ad}±‗¾¶§÷¸°¨·¹³²■\u{a0}";

impl OemCpConverter for Cp850 {
    fn decode(&self, oem_char: u8) -> char {
        if oem_char < 0x80 {
            char::from(oem_char)
        } else {
            CP850_HIGH
                .chars()
                .nth(usize::from(oem_char - 0x80))
                .unwrap_or('\u{FFFD}')
        }
    }
    fn encode(&self, uni_char: char) -> Option<u8> {
        if u32::from(uni_char) < 0x80 {
            u8::try_from(u32::from(uni_char)).ok()
        } else {
            CP850_HIGH
                .chars()
                .position(|c| c == uni_char)
                .and_then(|i| u8::try_from(i + 0x80).ok())
        }
    }
}

static CP850: Cp850 = Cp850;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). The one copy:
/// FAT timestamps, bundle ages and the welcome screen's rule age use it.
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A FAT timestamp (local time of the machine that wrote it, taken as UTC) in Unix seconds.
fn unix_time(t: fatfs::DateTime) -> Option<i64> {
    let (d, h) = (t.date, t.time);
    if !(1..=12).contains(&d.month)
        || !(1..=31).contains(&d.day)
        || h.hour > 23
        || h.min > 59
        || h.sec > 59
    {
        return None;
    }
    let days = days_from_civil(i64::from(d.year), i64::from(d.month), i64::from(d.day));
    Some(days * 86_400 + i64::from(h.hour) * 3600 + i64::from(h.min) * 60 + i64::from(h.sec))
}

/// A FAT volume opened read-only.
pub struct FatWalker {
    fs: FileSystem<FatIo>,
    probe: Arc<Probe>,
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
    Ok(FatWalker {
        fs,
        probe,
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
                        visitor.visit(&meta, Content::Data(&mut reader))
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

#[cfg(test)]
pub(crate) mod tests {
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
        assert!(
            w.info()
                .notes
                .iter()
                .any(|n| n.contains("under the specification's minimum")),
            "{:?}",
            w.info().notes
        );
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
        let disk: Device =
            Arc::new(FileDevice::open(&oracle("embedded-sdmmc/disk.img.gz")).unwrap());
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

    /// DFTT images live in zip files: unpack the one `.dd` once into the test cache.
    fn dftt(zip: &str, member: &str) -> PathBuf {
        let dst = crate::testutil::cache_dir().join("dftt").join(member);
        if !dst.exists() {
            std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
            let out = Command::new("unzip")
                .arg("-p")
                .arg(oracles_dir().join("dftt").join(zip))
                .arg(member)
                .output()
                .unwrap();
            assert!(out.status.success());
            let tmp = dst.with_extension(format!("tmp{}", std::process::id()));
            std::fs::write(&tmp, out.stdout).unwrap();
            std::fs::rename(&tmp, &dst).unwrap();
        }
        dst
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
        assert!(
            w.info()
                .notes
                .iter()
                .any(|n| n.contains("under the specification's minimum")),
            "{:?}",
            w.info().notes
        );
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
        assert!(
            w.info().notes.iter().any(|n| n.contains("64-bit field")),
            "{:?}",
            w.info().notes
        );
        assert_eq!(data_only(&collect(&mut w, u64::MAX)), reference);
        // No count anywhere: the FAT's size decides, as in Linux.
        img[0x52..0x5A].copy_from_slice(b"FAT32   ");
        assert_eq!(
            crate::disk::detect::detect(&MemDevice::new(img.clone())).unwrap(),
            crate::record::FsKind::Fat32
        );
        let mut w = open_mem(img).unwrap();
        assert!(
            w.info().notes.iter().any(|n| n.contains("FAT's size")),
            "{:?}",
            w.info().notes
        );
        assert_eq!(data_only(&collect(&mut w, u64::MAX)), reference);
        // A FAT32 whose count sits in the 16-bit field (fatfs wants it in the 32-bit one).
        let small = std::fs::read(fat_images().join("fat32-small.img")).unwrap();
        assert_ne!(
            le16(&small, 0x13),
            0,
            "mkfs.fat put the small count in the 16-bit field"
        );
    }

    // ---- crafted damage ------------------------------------------------------------------

    fn fat32_bytes() -> Vec<u8> {
        std::fs::read(fat_images().join("fat32.img")).unwrap()
    }

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
    pub(crate) fn within<T: Send + 'static>(
        secs: u64,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(std::time::Duration::from_secs(secs))
            .expect("walk hung or died")
    }

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
}
