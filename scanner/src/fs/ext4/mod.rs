//! ext2/ext3/ext4 reader of our own: superblock and group descriptors (`meta_bg`, `64bit`),
//! inodes by number (any size, `metadata_csum` checked, the low half only on 128-byte
//! inodes), extent trees and legacy block maps, inline data, directory blocks read linearly,
//! and the journal replayed in memory. Files of 1 MiB and more are also offered as a
//! random-access device over their runs ([`mapped`]), so that a large ISO or disk image opens
//! in place.
//!
//! Why not only `ext4-view` (which stays, as the differential oracle of the tests): its API has
//! no inode numbers, so every open re-resolved its path from `/` and searched the parent
//! directory again, a cost that grows with the square of a directory's size (8,000 files in
//! one unindexed directory took 9.8 s); and it refuses features real systems write
//! (`inline_data`, `meta_bg`, `ea_inode`, `mmp`, 128-byte inodes under `metadata_csum`, most
//! journals). This walk reads each directory's blocks once, opens every entry by its inode
//! number, and reads the files of a directory in the order of their first block on disk
//! (fewer seeks on a spinning disk).
//!
//! The walk: an explicit stack of directories, capped in depth and entries; a set of visited
//! directory inodes (a directory reached twice is a cycle, reported and not walked again);
//! hard links scanned once (inodes with more than one link are remembered by number).
//! fscrypt directories and files are reported as skipped (encrypted); symlinks, devices,
//! FIFOs and sockets are not reported. Features that change nothing for a reader are read
//! as they are: `mmp` (never updated: nothing is written), `ea_inode` (attribute values are
//! not scanned content), `bigalloc` (allocation in clusters, addressing still in blocks),
//! `casefold`, `large_dir`, every htree hash.
//!
//! Every piece of the walk runs under [`guard`]: a panic becomes an error for one path.

mod data;
mod dir;
mod inode;
mod journal;
mod mapped;
mod orphans;
mod reached;
mod superblock;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::Arc;

use crate::fs::runmap::MAPPED_MIN;
use crate::fs::{
    guard, join_path, Content, FileMeta, FsError, SkipReason, Visitor, VolumeInfo, WalkEnd, Walker,
};
use crate::io::{BlockCache, Device, ReadAt};
use data::{FileData, Runs};
use dir::Entry;
use inode::{Inode, FLAG_ENCRYPT, FLAG_INLINE_DATA};
use reached::{InodeSet, SweepCounts};
use superblock::{Superblock, INCOMPAT_RECOVER, SB_AT};

const FS: &str = "ext4";

/// Deepest directory nesting walked.
pub const MAX_DEPTH: usize = 512;
/// Most entries taken from one directory.
pub const MAX_DIR_ENTRIES: usize = 1_000_000;
/// Most entries taken from the whole volume.
pub const MAX_TOTAL_ENTRIES: u64 = 50_000_000;
/// Most blocks read from one directory.
const MAX_DIR_BLOCKS: u64 = 1 << 21;
/// Malformed blocks tolerated in one directory before its listing stops.
const MAX_BAD_DIR_BLOCKS: usize = 16;
/// Size of the block cache (inode tables, descriptors, directories, small files).
const CACHE_BYTES: usize = 16 * 1024 * 1024;
/// The root directory's inode.
const ROOT: u64 = 2;

/// Note added when the journal was replayed (in memory).
pub const NOTE_REPLAYED: &str = "journal replayed in memory";
/// Note added when the journal could not be replayed and was ignored.
pub const NOTE_NOT_REPLAYED: &str = "journal not replayed: recent changes may be missing";

/// An ext2/3/4 volume opened read-only.
pub struct Ext4Walker {
    sb: Superblock,
    dev: Device,
    info: VolumeInfo,
    aliases: Vec<(String, String)>,
    seeks: SeekFigure,
    /// What the last walk's orphan sweep found ([`orphans`]).
    sweep: SweepCounts,
    /// Bytes the last walk's set of reached inodes took.
    reached_bytes: usize,
    /// How long the last walk's sweep took.
    sweep_time: std::time::Duration,
}

/// How often the last walk read backwards on the disk: the number of files whose first block
/// lies before the previous file's first block (files without blocks not counted), in the
/// order of the directory entries (what a walk by name does) and in the order actually read
/// (each directory's files sorted by first block). A benchmark figure for spinning disks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeekFigure {
    /// Backward jumps had the files been read in directory-entry order.
    pub entry_order: u64,
    /// Backward jumps in the order read.
    pub disk_order: u64,
    last_entry: u64,
    last_disk: u64,
}

impl SeekFigure {
    fn count(last: &mut u64, jumps: &mut u64, first: u64) {
        if first == 0 {
            return;
        }
        if first < *last {
            *jumps += 1;
        }
        *last = first;
    }
}

/// Opens the ext2/3/4 volume that `dev` covers exactly.
pub fn open(dev: Device) -> Result<Ext4Walker, FsError> {
    let mut raw = [0u8; 1024];
    if dev.read_at(SB_AT, &mut raw)? < raw.len() {
        return Err(FsError::Invalid {
            fs: FS,
            reason: "shorter than a superblock".into(),
        });
    }
    let mut sb = Superblock::parse(&raw, dev.size())?;
    let cache: Device = Arc::new(BlockCache::new(dev, CACHE_BYTES));
    let mut view = cache.clone();
    let mut notes = Vec::new();
    let mut degraded = false;
    if sb.incompat & INCOMPAT_RECOVER != 0 {
        match guard(|| journal::replay(&sb, &cache)) {
            Ok(Ok(replay)) => {
                notes.extend(replay.notes.iter().cloned());
                degraded |= replay.degraded;
                if replay.blocks() > 0 {
                    view = Arc::new(journal::Replayed::new(cache.clone(), sb.block_size, replay));
                    // The journal may hold a newer superblock: use it if it still makes sense.
                    let mut again = [0u8; 1024];
                    if view.read_exact_at(SB_AT, &mut again).is_ok() {
                        if let Ok(newer) = Superblock::parse(&again, view.size()) {
                            sb = newer;
                        }
                    }
                }
            }
            Ok(Err(e)) => {
                notes.push(format!("{NOTE_NOT_REPLAYED} ({e})"));
                degraded = true;
            }
            Err(p) => {
                notes.push(format!("{NOTE_NOT_REPLAYED} (journal reader crashed: {p})"));
                degraded = true;
            }
        }
    }
    let root = Inode::read(&sb, view.as_ref(), ROOT).map_err(|e| FsError::Invalid {
        fs: FS,
        reason: format!("root directory: {e}"),
    })?;
    if !root.is_dir() {
        return Err(FsError::Invalid {
            fs: FS,
            reason: "inode 2 (the root) is not a directory".into(),
        });
    }
    Ok(Ext4Walker {
        info: VolumeInfo {
            label: sb.label.clone(),
            notes,
            degraded,
        },
        sb,
        dev: view,
        aliases: Vec::new(),
        seeks: SeekFigure::default(),
        sweep: SweepCounts::default(),
        reached_bytes: 0,
        sweep_time: std::time::Duration::ZERO,
    })
}

impl Ext4Walker {
    /// Hard-linked names not handed to the visitor in the last walk, each with the name its
    /// inode was scanned under: `(alias, scanned_as)`.
    pub fn hard_link_aliases(&self) -> &[(String, String)] {
        &self.aliases
    }

    /// What the last walk's sweep of the inode bitmaps found.
    pub fn sweep_counts(&self) -> &SweepCounts {
        &self.sweep
    }

    /// Bytes of memory the last walk's set of reached inodes took.
    pub fn reached_bytes(&self) -> usize {
        self.reached_bytes
    }

    /// How long the last walk's sweep of the inode bitmaps took (its cost).
    pub fn sweep_time(&self) -> std::time::Duration {
        self.sweep_time
    }

    /// The seek figure of the last walk.
    pub fn seek_figure(&self) -> SeekFigure {
        self.seeks
    }

    /// Largest size a file can have on this volume (extent and block-map addressing both end
    /// below 2^32 blocks): a bigger `i_size` is a lie and is cut there.
    fn max_size(&self) -> u64 {
        self.sb.block_size << 32
    }

    /// The entries of a directory, in on-disk order, and the first problem met (entries read
    /// before it are kept).
    fn list(&self, inode: &Inode, cap: usize) -> (Vec<Entry>, Option<String>) {
        let mut entries = Vec::new();
        let filetype = self.sb.has_filetype();
        let mut runs = match Runs::new(&self.sb, &self.dev, inode) {
            Ok(r) => r,
            Err(e) => return (entries, Some(e)),
        };
        if inode.has(FLAG_INLINE_DATA) {
            let data = runs.inline().unwrap_or(&[]);
            let head = &data[data.len().min(4)..data.len().min(60)];
            let mut err = dir::parse_block(head, filetype, &mut entries).err();
            if data.len() > 60 {
                err = err.or(dir::parse_block(&data[60..], filetype, &mut entries).err());
            }
            return (entries, err);
        }
        let bs = self.sb.block_size;
        let blocks = inode
            .size
            .min(self.max_size())
            .div_ceil(bs)
            .min(MAX_DIR_BLOCKS);
        let mut buf = vec![0u8; usize::try_from(bs).unwrap_or(4096)];
        let mut bad = Vec::new();
        let mut from = 0;
        while from < blocks {
            let run = match runs.next_from(from) {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(e) => return (entries, Some(e)),
            };
            let start = run.logical.max(from);
            let end = (run.logical + run.len).min(blocks);
            from = end;
            let Some(phys) = run.phys else { continue };
            for b in start..end {
                let at = (phys + b - run.logical) * bs;
                if let Err(e) = self.dev.read_exact_at(at, &mut buf) {
                    return (entries, Some(format!("directory block {b}: {e}")));
                }
                if let Err(e) = dir::parse_block(&buf, filetype, &mut entries) {
                    bad.push(format!("block {b}: {e}"));
                    if bad.len() > MAX_BAD_DIR_BLOCKS {
                        return (entries, Some(bad.join("; ")));
                    }
                }
                if entries.len() > cap {
                    entries.truncate(cap);
                    return (
                        entries,
                        Some(format!(
                            "more than {MAX_DIR_ENTRIES} entries: rest not walked"
                        )),
                    );
                }
            }
        }
        (entries, (!bad.is_empty()).then(|| bad.join("; ")))
    }
}

struct DirJob {
    ino: u64,
    path: String,
    depth: usize,
}

/// One file of a directory waiting to be read (sorted by its first block).
struct Pending {
    first: u64,
    ino: u64,
    path: String,
}

/// The state of one walk.
struct Walk<'w, 'v> {
    w: &'w Ext4Walker,
    visitor: &'v mut dyn Visitor,
    visited: HashSet<u64>,
    linked: HashMap<u64, String>,
    aliases: Vec<(String, String)>,
    seeks: SeekFigure,
    total: u64,
    stop: bool,
    /// Every inode the walk read through a directory entry (and the root).
    reached: InodeSet,
    /// Files handed to the visitor so far.
    reached_files: usize,
    sweep: SweepCounts,
}

impl Walk<'_, '_> {
    fn report(&mut self, path: &str, content: Content<'_>) -> ControlFlow<()> {
        let meta = FileMeta {
            path: path.to_string(),
            ..FileMeta::default()
        };
        self.visitor.visit(&meta, content)
    }

    fn error(&mut self, path: &str, msg: String) -> ControlFlow<()> {
        self.report(path, Content::Error(msg))
    }

    /// Lists one directory, reports its files (in disk order) and queues its subdirectories.
    fn directory(&mut self, job: DirJob, stack: &mut Vec<DirJob>) -> ControlFlow<()> {
        let w = self.w;
        let (sb, dev) = (&w.sb, &w.dev);
        let inode = match Inode::read(sb, dev.as_ref(), job.ino) {
            Ok(i) => i,
            Err(e) => return self.error(&job.path, format!("directory unreadable: {e}")),
        };
        if !inode.is_dir() {
            return self.error(&job.path, format!("inode {} is not a directory", job.ino));
        }
        if inode.has(FLAG_ENCRYPT) {
            return self.report(&job.path, Content::Skipped(SkipReason::Encrypted));
        }
        let (entries, mut listing_error) = w.list(&inode, MAX_DIR_ENTRIES);
        let mut files = Vec::new();
        let mut subdirs = Vec::new();
        for e in entries {
            self.total += 1;
            if self.total > MAX_TOTAL_ENTRIES {
                listing_error = Some(format!(
                    "more than {MAX_TOTAL_ENTRIES} entries on the volume: walk stopped"
                ));
                self.stop = true;
                break;
            }
            if sb.has_filetype()
                && e.kind != 0
                && e.kind != dir::KIND_REG
                && e.kind != dir::KIND_DIR
            {
                continue; // symlinks, devices, FIFOs, sockets: not files to scan
            }
            let path = join_path(&job.path, &String::from_utf8_lossy(&e.name));
            let child = match Inode::read(sb, dev.as_ref(), u64::from(e.ino)) {
                Ok(i) => i,
                Err(err) => {
                    self.error(&path, err)?;
                    continue;
                }
            };
            self.reached.insert(child.number);
            if child.is_dir() {
                if job.depth + 1 > MAX_DEPTH {
                    self.error(&path, format!("deeper than {MAX_DEPTH} levels: not walked"))?;
                } else if !self.visited.insert(child.number) {
                    self.error(
                        &path,
                        "directory already walked under another name (cycle): not walked again"
                            .into(),
                    )?;
                } else {
                    subdirs.push(DirJob {
                        ino: child.number,
                        path,
                        depth: job.depth + 1,
                    });
                }
            } else if child.is_regular() {
                if child.has(FLAG_ENCRYPT) {
                    self.report(&path, Content::Skipped(SkipReason::Encrypted))?;
                    continue;
                }
                if child.links > 1 {
                    if let Some(first) = self.linked.get(&child.number) {
                        self.aliases.push((path, first.clone()));
                        continue;
                    }
                    self.linked.insert(child.number, path.clone());
                }
                let first = Runs::new(sb, dev, &child).map_or(0, |mut r| r.first_physical());
                files.push(Pending {
                    first,
                    ino: child.number,
                    path,
                });
            } else if child.mode == 0 && e.kind != 0 {
                self.error(
                    &path,
                    format!("entry names inode {}, which is not in use", e.ino),
                )?;
            }
        }
        let s = &mut self.seeks;
        for f in &files {
            SeekFigure::count(&mut s.last_entry, &mut s.entry_order, f.first);
        }
        files.sort_by_key(|f| f.first);
        for f in &files {
            SeekFigure::count(&mut s.last_disk, &mut s.disk_order, f.first);
        }
        for f in files {
            self.file(&f)?;
        }
        if let Some(msg) = listing_error {
            self.error(&job.path, format!("directory unreadable: {msg}"))?;
        }
        stack.extend(subdirs.into_iter().rev());
        ControlFlow::Continue(())
    }

    fn file(&mut self, f: &Pending) -> ControlFlow<()> {
        let w = self.w;
        let inode = match Inode::read(&w.sb, w.dev.as_ref(), f.ino) {
            Ok(i) => i,
            Err(e) => return self.error(&f.path, e),
        };
        let runs = match Runs::new(&w.sb, &w.dev, &inode) {
            Ok(r) => r,
            Err(e) => return self.error(&f.path, e),
        };
        let size = inode.size.min(w.max_size());
        self.reached_files += 1;
        let meta = FileMeta {
            path: f.path.clone(),
            size,
            modified: Some(inode.mtime),
            ..FileMeta::default()
        };
        let mut reader = FileData::new(runs, size);
        if size < MAPPED_MIN || inode.has(FLAG_INLINE_DATA) {
            return self.visitor.visit(&meta, Content::Data(&mut reader));
        }
        // Large files: also offered as a device over their runs (see `mapped`).
        let device = || -> Option<Device> {
            let runs = Runs::new(&w.sb, &w.dev, &inode).ok()?;
            mapped::device(&w.dev, runs, w.sb.block_size, size).ok()
        };
        self.visitor
            .visit_mapped(&meta, Content::Data(&mut reader), &device)
    }
}

impl Walker for Ext4Walker {
    fn info(&self) -> VolumeInfo {
        let mut info = self.info.clone();
        info.notes.extend(self.sweep.notes());
        info
    }

    fn walk(&mut self, visitor: &mut dyn Visitor) -> Result<WalkEnd, FsError> {
        let mut walk = Walk {
            w: self,
            visitor,
            visited: HashSet::from([ROOT]),
            linked: HashMap::new(),
            aliases: Vec::new(),
            seeks: SeekFigure::default(),
            total: 0,
            stop: false,
            reached: InodeSet::default(),
            reached_files: 0,
            sweep: SweepCounts::default(),
        };
        walk.reached.insert(ROOT);
        let mut stack = vec![DirJob {
            ino: ROOT,
            path: "/".into(),
            depth: 0,
        }];
        let mut end = WalkEnd::Complete;
        while let Some(job) = stack.pop() {
            let path = job.path.clone();
            let flow = match guard(|| walk.directory(job, &mut stack)) {
                Ok(f) => f,
                Err(p) => walk.error(&path, format!("reader crashed: {p}")),
            };
            if flow.is_break() {
                end = WalkEnd::Cancelled;
                break;
            }
            if walk.stop {
                break;
            }
        }
        // In-use inodes that no directory entry reached: hidden files, detached directories.
        let started = std::time::Instant::now();
        if end == WalkEnd::Complete && !walk.stop {
            match guard(|| walk.sweep()) {
                Ok(ControlFlow::Break(())) => end = WalkEnd::Cancelled,
                Ok(ControlFlow::Continue(())) => {}
                Err(p) => {
                    if walk
                        .error("/<orphan>", format!("orphan sweep crashed: {p}"))
                        .is_break()
                    {
                        end = WalkEnd::Cancelled;
                    }
                }
            }
        }
        let aliases = std::mem::take(&mut walk.aliases);
        let seeks = walk.seeks;
        let sweep = std::mem::take(&mut walk.sweep);
        let reached_bytes = walk.reached.bytes();
        let sweep_time = started.elapsed();
        drop(walk);
        self.sweep_time = sweep_time;
        self.aliases = aliases;
        self.seeks = seeks;
        self.sweep = sweep;
        self.reached_bytes = reached_bytes;
        Ok(end)
    }
}
