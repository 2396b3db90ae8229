//! NTFS reader: walks a Windows volume with the `ntfs` crate and hands every file and every
//! alternate data stream to the scan engine, read-only.
//!
//! The crate parses records, attributes and directory indexes; this module adds what it leaves
//! out (see `crate-notes.md`): it reads file contents itself from the data runs, so that holes
//! and the bytes past `initialized_size` read as zeros and LZNT1-compressed units are
//! decompressed (see [`super::lznt1`]); it skips the root's self-reference, DOS 8.3 duplicate
//! names, metadata files, hard-link duplicates and directory cycles; it checks each record's
//! in-use flag and sequence number; it reports EFS-encrypted files as skipped; it notes dirty
//! and hibernated volumes. The crate only reaches the `$MFT` extent named in record 0 (upstream
//! bug #32): [`mft`] builds the whole `$MFT` map, attribute list included, and shows the crate
//! a view of the volume where `$MFT` is one contiguous run, so every record is reachable (and
//! records that straddle two fragments read right). After the directory walk, [`orphans`]
//! sweeps `$MFT` for in-use records that no directory lists. Every crate call runs under
//! [`guard`] and a read budget, so a corrupt volume costs one error per file or directory,
//! never the scan. The files of a directory are handed out in the order of their first
//! clusters, a bounded batch at a time ([`Batch`]), so that a hard disk reads them forward.
//!
//! Here: opening, the walk and the visitor hand-off; `dirs` lists directories, `streams` turns
//! records into stream descriptions, `volume` reads the facts for the volume record.

use std::collections::{HashMap, HashSet};
use std::io::{self, BufReader, Cursor, Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ntfs::Ntfs;

mod content;
mod dirs;
mod index;
mod mapped;
mod mft;
mod orphans;
mod record;
mod streams;
mod volume;
mod wof;

use super::{
    guard, join_path, Content, FileMeta, FsError, SkipReason, Visitor, VolumeInfo, WalkEnd, Walker,
};
use crate::io::{BlockCache, Device, ReadSeekAdapter};
use content::{read_span, StreamReader};

const FS: &str = "ntfs";
/// Cache over the volume: metadata is re-read constantly by the crate.
const CACHE_BYTES: usize = 16 << 20;
/// Root directory record number.
const ROOT_RECORD: u64 = 5;
/// Records 0..24 are NTFS metadata, never user files: $MFT (0), $MFTMirr (1), $LogFile (2),
/// $Volume (3), $AttrDef (4), the root (5, walked as the root), $Bitmap (6), $Boot (7),
/// $BadClus (8), $Secure (9), $UpCase (10), $Extend (11, holding $Quota, $ObjId, $Reparse,
/// $UsnJrnl, $RmMetadata, whose own records are only reachable through it), 12..15 reserved
/// and 16..23 kept for $MFT extension records. None of them is reported.
const FIRST_USER_RECORD: u64 = 24;
/// Deepest directory nesting walked.
const MAX_DEPTH: usize = 512;
/// Entries read from one directory index before giving up on it.
const MAX_DIR_ENTRIES: usize = 1 << 20;
/// Directory entries in a row that name records already seen in the same directory: an index
/// that loops.
const MAX_REPEATS: usize = 50_000;
/// Records (files and directories) visited in one walk.
const MAX_RECORDS: usize = 20_000_000;
/// Bytes the crate may read to list one directory (a looping index stops here).
const DIR_READ_BUDGET: u64 = 128 << 20;
/// Bytes the crate may read to describe one file's attributes.
const FILE_READ_BUDGET: u64 = 32 << 20;
/// Attributes and attribute-list entries looked at per file.
const MAX_ATTRIBUTES: usize = 4096;
/// Data runs kept per stream.
const MAX_RUNS: usize = 1 << 20;
/// Largest index record size accepted (the crate allocates it unchecked).
const MAX_INDEX_RECORD: u32 = 64 * 1024;
/// Largest compression unit decoded.
const MAX_UNIT: u64 = 4 << 20;
/// WOF files up to this size are decoded whole before they are handed out.
const WOF_IN_MEMORY: u64 = 64 << 20;
/// Read buffer handed to the visitor.
const READ_BUFFER: usize = 1 << 20;
/// Files of a directory sorted by first cluster at a time, and the bytes their facts may hold
/// (resident contents, run lists) before the batch is handed out (see [`Batch`]).
const BATCH_FILES: usize = 4096;
const BATCH_BYTES: usize = 4 << 20;

/// Attribute type codes used here.
const AT_STANDARD_INFORMATION: u32 = 0x10;
const AT_ATTRIBUTE_LIST: u32 = 0x20;
const AT_DATA: u32 = 0x80;
const AT_REPARSE_POINT: u32 = 0xC0;
const AT_LOGGED_UTILITY_STREAM: u32 = 0x100;
/// Attribute flags.
const ATTR_COMPRESSION_MASK: u16 = 0x00FF;
const ATTR_ENCRYPTED: u16 = 0x4000;
/// File attribute flag in $STANDARD_INFORMATION.
const FILE_ATTRIBUTE_ENCRYPTED: u32 = 0x4000;
/// Reparse tags.
const IO_REPARSE_TAG_WOF: u32 = 0x8000_0017;
const IO_REPARSE_TAG_DEDUP: u32 = 0x8000_0013;
const IO_REPARSE_TAG_SYMLINK: u32 = 0xA000_000C;
const IO_REPARSE_TAG_MOUNT_POINT: u32 = 0xA000_0003;

/// An NTFS volume opened for walking.
pub struct NtfsWalker {
    cache: Device,
    ntfs: Ntfs,
    info: VolumeInfo,
    /// The complete `$MFT` map, when it could be built (see [`mft`]).
    mft: Option<mft::MftMap>,
    /// The plain (cached) volume, without the `$MFT` overlay.
    base: Device,
    /// Records reached by the directory walk, and the paths of the directories it listed.
    reached: HashSet<u64>,
    dir_paths: HashMap<u64, String>,
    /// What the last orphan sweep found, for the volume's notes.
    sweep_note: Option<String>,
    /// WOF files that could not be decoded.
    wof_failed: AtomicUsize,
}

/// Opens the NTFS volume that `dev` covers exactly.
pub fn open(dev: Device) -> Result<NtfsWalker, FsError> {
    let base: Device = Arc::new(BlockCache::new(dev, CACHE_BYTES));
    let mut fs = Budget::new(&base, FILE_READ_BUDGET);
    // The boot sector first (through the crate), then the $MFT map and its overlay.
    let (cache, map, map_error) = match guard(|| Ntfs::new(&mut fs)) {
        Ok(Ok(probe)) => {
            let built = guard(|| {
                let pos = probe
                    .mft_position()
                    .value()
                    .ok_or("no $MFT position")?
                    .get();
                let map = mft::read_map(
                    &base,
                    pos,
                    u64::from(probe.cluster_size()),
                    u64::from(probe.file_record_size()),
                )?;
                let view = mft::overlay(&base, &map, pos)?;
                Ok::<_, String>((view, map))
            });
            match built {
                Ok(Ok((view, map))) => (view, Some(map), None),
                Ok(Err(e)) => (base.clone(), None, Some(e)),
                Err(p) => (base.clone(), None, Some(format!("reader crashed: {p}"))),
            }
        }
        // Ntfs::new below reports it.
        _ => (base.clone(), None, None),
    };
    let mut fs = Budget::new(&cache, FILE_READ_BUDGET);
    let mut ntfs = match guard(|| Ntfs::new(&mut fs)) {
        Ok(Ok(n)) => n,
        Ok(Err(e)) => {
            return Err(FsError::Invalid {
                fs: FS,
                reason: e.to_string(),
            })
        }
        Err(p) => return Err(FsError::Panic(p)),
    };
    // Some lookups panic without the upcase table: load it before anything else.
    match guard(|| ntfs.read_upcase_table(&mut fs)) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            return Err(FsError::Invalid {
                fs: FS,
                reason: format!("$UpCase: {e}"),
            })
        }
        Err(p) => return Err(FsError::Panic(p)),
    }
    match guard(|| ntfs.root_directory(&mut fs).map(|_| ())) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            return Err(FsError::Invalid {
                fs: FS,
                reason: format!("root directory: {e}"),
            })
        }
        Err(p) => return Err(FsError::Panic(p)),
    }
    let mut walker = NtfsWalker {
        cache,
        ntfs,
        info: VolumeInfo::default(),
        mft: map,
        base,
        reached: HashSet::new(),
        dir_paths: HashMap::new(),
        sweep_note: None,
        wof_failed: AtomicUsize::new(0),
    };
    walker.info = walker.read_volume_info(map_error);
    Ok(walker)
}

impl Walker for NtfsWalker {
    fn info(&self) -> VolumeInfo {
        let mut info = self.info.clone();
        info.notes.extend(self.sweep_note.iter().cloned());
        let failed = self.wof_failed.load(Ordering::Relaxed);
        if failed > 0 {
            info.notes.push(format!(
                "{failed} CompactOS (WOF) streams did not decode: skipped as wof_compressed"
            ));
        }
        info
    }

    fn walk(&mut self, visitor: &mut dyn Visitor) -> Result<WalkEnd, FsError> {
        let mut state = WalkState::default();
        self.reached.clear();
        self.dir_paths.clear();
        state.visited_dirs.insert(ROOT_RECORD);
        let stack = vec![(ROOT_RECORD, "/".to_string(), 0)];
        if let Some(end) = self.walk_from(&mut state, stack, visitor) {
            return Ok(end);
        }
        // Records that no directory lists: hidden files, orphans.
        match self.sweep_orphans(&mut state, visitor) {
            Some(end) => Ok(end),
            None => Ok(WalkEnd::Complete),
        }
    }
}

impl NtfsWalker {
    /// Walks the directories on `stack` and everything below them. `Some(end)` means stop
    /// the whole walk there.
    fn walk_from(
        &mut self,
        state: &mut WalkState,
        mut stack: Vec<(u64, String, usize)>,
        visitor: &mut dyn Visitor,
    ) -> Option<WalkEnd> {
        while let Some((record, path, depth)) = stack.pop() {
            self.reached.insert(record);
            self.dir_paths.insert(record, path.clone());
            let listing = match guard(|| self.list_directory(record)) {
                Ok(r) => r,
                Err(p) => Err(format!("reader crashed: {p}")),
            };
            let listing = match listing {
                Ok(l) => l,
                Err(e) => {
                    let meta = FileMeta {
                        path: path.clone(),
                        ..FileMeta::default()
                    };
                    if visitor
                        .visit(&meta, Content::Error(format!("directory: {e}")))
                        .is_break()
                    {
                        return Some(WalkEnd::Cancelled);
                    }
                    continue;
                }
            };
            // Named streams of the directory itself (ADS can hang on directories).
            if let ControlFlow::Break(()) = self.visit_facts(listing.own, &path, true, visitor) {
                return Some(WalkEnd::Cancelled);
            }
            let mut subdirs = Vec::new();
            let mut batch = Batch::default();
            for child in listing.children {
                let child_path = join_path(&path, &child.name);
                if state.records >= MAX_RECORDS {
                    if self.flush(&mut batch, visitor).is_break() {
                        return Some(WalkEnd::Cancelled);
                    }
                    let meta = FileMeta {
                        path: child_path,
                        ..FileMeta::default()
                    };
                    let _ = visitor.visit(
                        &meta,
                        Content::Error(format!("more than {MAX_RECORDS} records: walk cut short")),
                    );
                    return Some(WalkEnd::Complete);
                }
                state.records += 1;
                self.reached.insert(child.record);
                let opened = match guard(|| self.open_child(&child)) {
                    Ok(r) => r,
                    Err(p) => Err(format!("reader crashed: {p}")),
                };
                let opened = match opened {
                    Ok(o) => o,
                    Err(e) => {
                        let meta = FileMeta {
                            path: child_path,
                            ..FileMeta::default()
                        };
                        if visitor.visit(&meta, Content::Error(e)).is_break() {
                            return Some(WalkEnd::Cancelled);
                        }
                        continue;
                    }
                };
                match opened {
                    Opened::Directory => {
                        if !state.visited_dirs.insert(child.record) {
                            continue; // a cycle or a second name of a directory
                        }
                        if depth + 1 > MAX_DEPTH {
                            let meta = FileMeta {
                                path: child_path,
                                ..FileMeta::default()
                            };
                            let msg = format!("directory deeper than {MAX_DEPTH} levels");
                            if visitor.visit(&meta, Content::Error(msg)).is_break() {
                                return Some(WalkEnd::Cancelled);
                            }
                            continue;
                        }
                        subdirs.push((child.record, child_path, depth + 1));
                    }
                    Opened::File(facts) => {
                        // Hard links: the content is scanned once, under its first path.
                        if !state.seen_files.insert(child.record) {
                            continue;
                        }
                        if batch.push(child_path, facts)
                            && self.flush(&mut batch, visitor).is_break()
                        {
                            return Some(WalkEnd::Cancelled);
                        }
                    }
                    Opened::NotReported => {}
                }
            }
            if self.flush(&mut batch, visitor).is_break() {
                return Some(WalkEnd::Cancelled);
            }
            // Depth first, in index order.
            stack.extend(subdirs.into_iter().rev());
        }
        None
    }
}

impl NtfsWalker {
    /// Hands a batch of files to the visitor in the order of their first clusters.
    fn flush(&self, batch: &mut Batch, visitor: &mut dyn Visitor) -> ControlFlow<()> {
        for (path, facts) in batch.take_sorted() {
            self.visit_facts(facts, &path, false, visitor)?;
        }
        ControlFlow::Continue(())
    }
}

/// Files of one directory waiting to be read, so that they can be read in the order of their
/// first clusters (on a hard disk, seeks and not bytes set the time; NTFS indexes are in name
/// order, which says nothing of where the contents lie). Bounded, so that a directory of a
/// million files costs a few MiB at a time: a full batch is handed out before the next file
/// is opened.
#[derive(Default)]
struct Batch {
    files: Vec<(u64, String, Result<FileFacts, String>)>,
    bytes: usize,
}

impl Batch {
    /// Adds a file; `true` when the batch is full and must be flushed.
    fn push(&mut self, path: String, facts: Result<FileFacts, String>) -> bool {
        let (first, weight) = match &facts {
            Ok(f) => (f.first_cluster(), f.weight()),
            Err(e) => (0, e.len()),
        };
        self.bytes += path.len() + weight;
        self.files.push((first, path, facts));
        self.files.len() >= BATCH_FILES || self.bytes >= BATCH_BYTES
    }

    /// Empties the batch, in the order of first clusters (resident and empty files first:
    /// their bytes were read with their record); files at the same place keep index order.
    fn take_sorted(&mut self) -> impl Iterator<Item = (String, Result<FileFacts, String>)> {
        let mut files = std::mem::take(&mut self.files);
        self.bytes = 0;
        files.sort_by_key(|f| f.0);
        files.into_iter().map(|(_, path, facts)| (path, facts))
    }
}

impl FileFacts {
    /// Volume offset of the first cluster the file's content is read from (its unnamed
    /// stream, or the stream holding a WOF file's compressed data); 0 when resident or empty.
    fn first_cluster(&self) -> u64 {
        self.streams
            .iter()
            .find(|s| s.name.is_none())
            .and_then(|s| match &s.data {
                Ok(StreamData::NonResident(nr)) => nr.runs.iter().find_map(|r| r.lcn_pos),
                _ => None,
            })
            .unwrap_or(0)
    }

    /// Approximate bytes held in memory by these facts.
    fn weight(&self) -> usize {
        self.streams
            .iter()
            .map(|s| {
                64 + match &s.data {
                    Ok(StreamData::Resident(b)) => b.len(),
                    Ok(StreamData::NonResident(nr)) => nr.runs.len() * std::mem::size_of::<Run>(),
                    Err(_) => 0,
                }
            })
            .sum()
    }
}

#[derive(Default)]
pub(super) struct WalkState {
    visited_dirs: HashSet<u64>,
    seen_files: HashSet<u64>,
    records: usize,
}

/// One name in a directory index.
struct Child {
    name: String,
    record: u64,
    sequence: u16,
}

struct Listing {
    /// The directory's own streams (named ones are reported).
    own: Result<FileFacts, String>,
    children: Vec<Child>,
}

enum Opened {
    Directory,
    File(Result<FileFacts, String>),
    /// Symlinks and junction files: not files to scan.
    NotReported,
}

/// What is known of one record's data streams, with no borrow of the crate.
struct FileFacts {
    modified: Option<i64>,
    streams: Vec<StreamDesc>,
}

struct StreamDesc {
    name: Option<String>,
    size: u64,
    data: Result<StreamData, StreamProblem>,
    /// For a WOF file's main stream: `data` is its `WofCompressedData` stream, of this many
    /// bytes, in chunks of this size.
    wof: Option<(u64, u64)>,
}

enum StreamProblem {
    Skip(SkipReason),
    Error(String),
}

enum StreamData {
    Resident(Vec<u8>),
    NonResident(NonResident),
}

#[derive(Clone)]
struct NonResident {
    runs: Vec<Run>,
    cluster: u64,
    data_size: u64,
    init_size: u64,
    /// Compression unit size in bytes, for LZNT1-compressed streams.
    unit: Option<u64>,
}

/// A run of clusters of a stream: `clusters` clusters from `vcn`, at byte `lcn_pos` of the
/// volume or sparse (`None`).
#[derive(Clone, Copy, Debug)]
struct Run {
    vcn: u64,
    clusters: u64,
    lcn_pos: Option<u64>,
}

impl NtfsWalker {
    fn fs(&self, budget: u64) -> Budget {
        Budget::new(&self.cache, budget)
    }

    /// Hands each stream of a record to the visitor (only named ones for a directory).
    fn visit_facts(
        &self,
        facts: Result<FileFacts, String>,
        path: &str,
        directory: bool,
        visitor: &mut dyn Visitor,
    ) -> ControlFlow<()> {
        let facts = match facts {
            Ok(f) => f,
            Err(e) => {
                if directory {
                    let meta = FileMeta {
                        path: path.to_string(),
                        ..FileMeta::default()
                    };
                    return visitor.visit(&meta, Content::Error(format!("directory streams: {e}")));
                }
                let meta = FileMeta {
                    path: path.to_string(),
                    ..FileMeta::default()
                };
                return visitor.visit(&meta, Content::Error(e));
            }
        };
        for stream in facts.streams {
            if directory && stream.name.is_none() {
                continue;
            }
            let meta = FileMeta {
                path: path.to_string(),
                stream: stream.name,
                size: stream.size,
                modified: facts.modified,
            };
            match stream.data {
                Ok(data) if stream.wof.is_some() => {
                    let (stream_size, chunk) = stream.wof.unwrap_or_default();
                    self.visit_wof(&meta, data, stream_size, chunk, visitor)?;
                }
                Ok(data) => {
                    let capacity = usize::try_from(stream.size.clamp(4096, READ_BUFFER as u64))
                        .unwrap_or(READ_BUFFER);
                    let extents = match &data {
                        StreamData::NonResident(nr)
                            if nr.unit.is_none() && stream.size >= mapped::MAPPED_MIN =>
                        {
                            Some(nr.clone())
                        }
                        _ => None,
                    };
                    let mut reader = BufReader::with_capacity(
                        capacity,
                        StreamReader::new(self.cache.clone(), data),
                    );
                    match extents {
                        Some(nr) => {
                            // Large plain streams: also offered as a device (see `mapped`).
                            let device = || -> Option<Device> {
                                Some(Arc::new(mapped::StreamDevice::new(
                                    self.cache.clone(),
                                    nr.clone(),
                                )))
                            };
                            visitor.visit_mapped(&meta, Content::Data(&mut reader), &device)?;
                        }
                        None => visitor.visit(&meta, Content::Data(&mut reader))?,
                    }
                }
                Err(StreamProblem::Skip(reason)) => {
                    visitor.visit(&meta, Content::Skipped(reason))?;
                }
                Err(StreamProblem::Error(e)) => visitor.visit(&meta, Content::Error(e))?,
            }
        }
        ControlFlow::Continue(())
    }

    /// Hands a WOF file's logical content to the visitor. Up to [`WOF_IN_MEMORY`] bytes it is
    /// decoded first, so that a chunk that does not decode makes the file skipped
    /// (`wof_compressed`, counted in the volume's notes) rather than half read; larger files
    /// stream, one chunk at a time, and a broken chunk is a read error naming it.
    fn visit_wof(
        &self,
        meta: &FileMeta,
        data: StreamData,
        stream_size: u64,
        chunk: u64,
        visitor: &mut dyn Visitor,
    ) -> ControlFlow<()> {
        let reader = wof::WofReader::new(self.cache.clone(), data, stream_size, meta.size, chunk);
        let mut reader = match reader {
            Ok(r) => r,
            Err(e) => {
                log::debug!("ntfs: {}: {e}", meta.path);
                self.wof_failed.fetch_add(1, Ordering::Relaxed);
                return visitor.visit(meta, Content::Skipped(SkipReason::WofCompressed));
            }
        };
        if meta.size > WOF_IN_MEMORY {
            let mut r = BufReader::with_capacity(READ_BUFFER, reader);
            return visitor.visit(meta, Content::Data(&mut r));
        }
        let mut bytes = Vec::new();
        match reader.read_to_end(&mut bytes) {
            Ok(_) if bytes.len() as u64 == meta.size => {
                visitor.visit(meta, Content::Data(&mut Cursor::new(bytes)))
            }
            other => {
                if let Err(e) = other {
                    log::debug!("ntfs: {}: {e}", meta.path);
                }
                self.wof_failed.fetch_add(1, Ordering::Relaxed);
                visitor.visit(meta, Content::Skipped(SkipReason::WofCompressed))
            }
        }
    }
}

/// `Read + Seek` for the crate over the cached volume, failing once `left` bytes were read:
/// a looping index or attribute list runs out of budget instead of running forever.
struct Budget {
    inner: ReadSeekAdapter,
    left: u64,
}

impl Budget {
    fn new(dev: &Device, budget: u64) -> Self {
        Self {
            inner: ReadSeekAdapter::new(dev.clone()),
            left: budget,
        }
    }
}

impl Read for Budget {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.len() as u64 > self.left {
            return Err(io::Error::other(
                "read budget exhausted (corrupt or looping metadata)",
            ));
        }
        let n = self.inner.read(buf)?;
        self.left -= n as u64;
        Ok(n)
    }
}

impl Seek for Budget {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

#[cfg(test)]
mod tests;
