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
//! never the scan.

use std::collections::{HashMap, HashSet};
use std::io::{self, BufReader, Cursor, Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ntfs::structured_values::{NtfsAttributeList, NtfsFileNamespace, NtfsIndexRoot};
use ntfs::{Ntfs, NtfsAttribute, NtfsAttributeType, NtfsFile, NtfsFileFlags};

mod content;
mod index;
mod mft;
mod orphans;
mod record;
mod wof;

use super::{
    guard, join_path, Content, FileMeta, FsError, SkipReason, Visitor, VolumeInfo, WalkEnd, Walker,
};
use crate::io::{BlockCache, Device, ReadAt, ReadSeekAdapter};
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
            for child in listing.children {
                let child_path = join_path(&path, &child.name);
                if state.records >= MAX_RECORDS {
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
                        if let ControlFlow::Break(()) =
                            self.visit_facts(facts, &child_path, false, visitor)
                        {
                            return Some(WalkEnd::Cancelled);
                        }
                    }
                    Opened::NotReported => {}
                }
            }
            // Depth first, in index order.
            stack.extend(subdirs.into_iter().rev());
        }
        None
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

    fn read_volume_info(&self, map_error: Option<String>) -> VolumeInfo {
        let mut info = VolumeInfo::default();
        let mut fs = self.fs(FILE_READ_BUDGET);
        if let Ok(Some(Ok(name))) = guard(|| self.ntfs.volume_name(&mut fs)) {
            let label = name.name().to_string_lossy();
            if !label.is_empty() {
                info.label = Some(label);
            }
        }
        match guard(|| self.ntfs.volume_info(&mut fs)) {
            Ok(Ok(v)) => {
                if v.flags()
                    .contains(ntfs::structured_values::NtfsVolumeFlags::IS_DIRTY)
                {
                    info.notes.push(
                        "volume is marked dirty (not cleanly unmounted): recent changes may be missing"
                            .to_string(),
                    );
                    info.degraded = true;
                }
            }
            Ok(Err(e)) => info
                .notes
                .push(format!("$Volume information unreadable: {e}")),
            Err(p) => info
                .notes
                .push(format!("$Volume information crashed the reader: {p}")),
        }
        match (&self.mft, map_error) {
            (Some(map), _) => {
                if map.attribute_list {
                    log::debug!(
                        "ntfs: $MFT has an attribute list: {} extension records, {} runs, all mapped",
                        map.extension_records,
                        map.runs.len()
                    );
                }
            }
            (None, e) => {
                info.notes.push(format!(
                    "$MFT map could not be built ({}): records beyond its first extent may be unreachable",
                    e.unwrap_or_else(|| "unknown reason".to_string())
                ));
                info.degraded = true;
            }
        }
        if let Ok(true) = guard(|| self.hibernated()) {
            info.notes
                .push("Windows was hibernated; files may be out of date".to_string());
            info.degraded = true;
        }
        info
    }

    /// Whether `/hiberfil.sys` starts with a hibernation signature.
    fn hibernated(&self) -> bool {
        let Ok(listing) = self.list_directory(ROOT_RECORD) else {
            return false;
        };
        let Some(child) = listing
            .children
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case("hiberfil.sys"))
        else {
            return false;
        };
        let Ok(Opened::File(Ok(facts))) = self.open_child(child) else {
            return false;
        };
        let Some(main) = facts.streams.into_iter().find(|s| s.name.is_none()) else {
            return false;
        };
        let Ok(data) = main.data else { return false };
        let mut reader = StreamReader::new(self.cache.clone(), data);
        let mut magic = [0u8; 4];
        if reader.read_exact(&mut magic).is_err() {
            return false;
        }
        matches!(&magic, b"hibr" | b"HIBR" | b"wake" | b"WAKE")
    }

    /// Reads a directory's index: its children (minus the self-reference, metadata files and
    /// DOS duplicates) and its own streams.
    fn list_directory(&self, record: u64) -> Result<Listing, String> {
        let mut fs = self.fs(DIR_READ_BUDGET);
        let dir = self.ntfs.file(&mut fs, record).map_err(|e| e.to_string())?;
        if !dir.flags().contains(NtfsFileFlags::IN_USE) {
            return Err("directory record is not in use".to_string());
        }
        check_index_record_size(&dir)?;
        let raw = match self.crate_entries(&mut fs, &dir) {
            Ok(r) => r,
            // The crate cannot follow an index split by an attribute list: read it ourselves.
            Err(e) => match &self.mft {
                Some(map) => {
                    let cluster = u64::from(self.ntfs.cluster_size());
                    match guard(|| index::list(&self.base, map, cluster, record)) {
                        Ok(Ok(r)) => r,
                        Ok(Err(e2)) => return Err(format!("{e}; read directly: {e2}")),
                        Err(p) => return Err(format!("{e}; reading it directly crashed: {p}")),
                    }
                }
                None => return Err(e),
            },
        };
        // A DOS 8.3 name is only kept when the record has no other name here.
        let mut long_named: HashSet<u64> = HashSet::new();
        for (_, rec, _, dos) in &raw {
            if !dos {
                long_named.insert(*rec);
            }
        }
        let mut children = Vec::new();
        let mut kept: HashSet<(u64, String)> = HashSet::new();
        for (name, rec, sequence, dos) in raw {
            if rec == record {
                continue; // the root's entry for itself
            }
            if rec < FIRST_USER_RECORD {
                continue; // NTFS metadata files (see FIRST_USER_RECORD)
            }
            if dos && long_named.contains(&rec) {
                continue;
            }
            if !kept.insert((rec, name.clone())) {
                continue;
            }
            children.push(Child {
                name,
                record: rec,
                sequence,
            });
        }
        let own = self.file_facts(&mut fs, &dir);
        Ok(Listing { own, children })
    }

    /// A directory's index entries through the crate: (name, record, sequence, DOS name).
    fn crate_entries(
        &self,
        fs: &mut Budget,
        dir: &NtfsFile<'_>,
    ) -> Result<Vec<index::Entry>, String> {
        let index = dir.directory_index(fs).map_err(|e| e.to_string())?;
        let mut entries = index.entries();
        let mut raw: Vec<index::Entry> = Vec::new();
        let mut seen: HashSet<u64> = HashSet::new();
        let mut repeats = 0usize;
        let mut count = 0usize;
        while let Some(entry) = entries.next(fs) {
            count += 1;
            if count > MAX_DIR_ENTRIES {
                return Err(format!("more than {MAX_DIR_ENTRIES} index entries"));
            }
            let entry = entry.map_err(|e| e.to_string())?;
            let Some(key) = entry.key() else { continue };
            let key = key.map_err(|e| e.to_string())?;
            let reference = entry.file_reference();
            let child = reference.file_record_number();
            if seen.insert(child) {
                repeats = 0;
            } else {
                repeats += 1;
                if repeats > MAX_REPEATS {
                    return Err("directory index loops".to_string());
                }
            }
            let dos = key.namespace() == NtfsFileNamespace::Dos;
            raw.push((
                key.name().to_string_lossy(),
                child,
                reference.sequence_number(),
                dos,
            ));
        }
        Ok(raw)
    }

    /// Opens a child record and checks it against its index entry.
    fn open_child(&self, child: &Child) -> Result<Opened, String> {
        let mut fs = self.fs(FILE_READ_BUDGET);
        let file = self
            .ntfs
            .file(&mut fs, child.record)
            .map_err(|e| e.to_string())?;
        if !file.flags().contains(NtfsFileFlags::IN_USE) {
            return Err(format!(
                "stale directory entry: record {} is not in use",
                child.record
            ));
        }
        if child.sequence != 0 && file.sequence_number() != child.sequence {
            return Err(format!(
                "stale directory entry: record {} has sequence {}, the index says {}",
                child.record,
                file.sequence_number(),
                child.sequence
            ));
        }
        if file.is_directory() {
            return Ok(Opened::Directory);
        }
        let facts = self.file_facts(&mut fs, &file);
        if let Ok(f) = &facts {
            if f.streams.is_empty() {
                return Ok(Opened::NotReported);
            }
        }
        Ok(Opened::File(facts))
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
                    let mut reader = BufReader::with_capacity(
                        capacity,
                        StreamReader::new(self.cache.clone(), data),
                    );
                    visitor.visit(&meta, Content::Data(&mut reader))?;
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

    /// Collects a record's data streams (following its attribute list), its flags and time.
    fn file_facts(&self, fs: &mut Budget, file: &NtfsFile<'_>) -> Result<FileFacts, String> {
        let record_size = self.ntfs.file_record_size();
        let mut pieces: Vec<Piece> = Vec::new();
        let base_raw = read_record(&self.cache, file, record_size)?;
        for (i, attr) in file.attributes_raw().enumerate() {
            if i >= MAX_ATTRIBUTES {
                return Err("too many attributes".to_string());
            }
            let attr = attr.map_err(|e| e.to_string())?;
            let Ok(ty) = attr.ty() else { continue };
            if ty as u32 == AT_ATTRIBUTE_LIST {
                let list = attr
                    .structured_value::<_, NtfsAttributeList>(fs)
                    .map_err(|e| format!("attribute list: {e}"))?;
                let mut entries = list.entries();
                let mut n = 0usize;
                while let Some(entry) = entries.next(fs) {
                    n += 1;
                    if n > MAX_ATTRIBUTES {
                        return Err("attribute list too long".to_string());
                    }
                    let entry = entry.map_err(|e| format!("attribute list: {e}"))?;
                    let Ok(ety) = entry.ty() else { continue };
                    let ety = ety as u32;
                    if !matches!(
                        ety,
                        AT_DATA
                            | AT_REPARSE_POINT
                            | AT_LOGGED_UTILITY_STREAM
                            | AT_STANDARD_INFORMATION
                    ) {
                        continue;
                    }
                    if entry.base_file_reference().file_record_number() == file.file_record_number()
                    {
                        continue; // in the base record: seen by the raw iteration
                    }
                    let ext = entry.to_file(&self.ntfs, fs).map_err(|e| e.to_string())?;
                    let ext_attr = entry.to_attribute(&ext).map_err(|e| e.to_string())?;
                    let raw = read_record(&self.cache, &ext, record_size)?;
                    if let Some(p) = self.piece(fs, &raw, &ext, &ext_attr)? {
                        pieces.push(p);
                    }
                }
            } else if let Some(p) = self.piece(fs, &base_raw, file, &attr)? {
                pieces.push(p);
            }
        }
        self.assemble(pieces)
    }

    /// Extracts what is needed from one attribute into owned data.
    fn piece(
        &self,
        fs: &mut Budget,
        raw: &[u8],
        file: &NtfsFile<'_>,
        attr: &NtfsAttribute<'_, '_>,
    ) -> Result<Option<Piece>, String> {
        let Ok(ty) = attr.ty() else { return Ok(None) };
        let ty = ty as u32;
        if !matches!(
            ty,
            AT_DATA | AT_REPARSE_POINT | AT_LOGGED_UTILITY_STREAM | AT_STANDARD_INFORMATION
        ) {
            return Ok(None);
        }
        let name = attr.name().map_err(|e| e.to_string())?.to_string_lossy();
        let flags = attr.flags().bits();
        if ty == AT_STANDARD_INFORMATION {
            let Ok(si) = attr
                .resident_structured_value::<ntfs::structured_values::NtfsStandardInformation>()
            else {
                return Ok(None);
            };
            let modified = i64::try_from(si.modification_time().nt_timestamp() / 10_000_000)
                .ok()
                .map(|s| s - 11_644_473_600);
            let encrypted = si.file_attributes().bits() & FILE_ATTRIBUTE_ENCRYPTED != 0;
            return Ok(Some(Piece {
                ty,
                name,
                flags,
                body: PieceBody::Info {
                    modified,
                    encrypted,
                },
            }));
        }
        if attr.is_resident() {
            let value = attr.value(fs).map_err(|e| e.to_string())?;
            let ntfs::attribute_value::NtfsAttributeValue::Resident(v) = value else {
                return Err("resident attribute without a resident value".to_string());
            };
            return Ok(Some(Piece {
                ty,
                name,
                flags,
                body: PieceBody::Resident(v.data().to_vec()),
            }));
        }
        // Non-resident: the header fields the crate keeps private come from our own copy of
        // the record.
        let file_pos = file
            .position()
            .value()
            .map(|p| p.get())
            .ok_or("record without position")?;
        let attr_pos = attr
            .position()
            .value()
            .map(|p| p.get())
            .ok_or("attribute without position")?;
        let off = usize::try_from(
            attr_pos
                .checked_sub(file_pos)
                .ok_or("attribute before record")?,
        )
        .map_err(|_| "attribute offset out of range")?;
        let hdr = raw
            .get(off..off + 0x40)
            .ok_or("non-resident header outside the record")?;
        if hdr[8] != 1
            || u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]) != ty
            || u32::from_le_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]) != attr.attribute_length()
        {
            return Err("record copy does not match the attribute".to_string());
        }
        let lowest_vcn = le_u64(hdr, 0x10);
        let unit_exp = hdr[0x22];
        let data_size = le_u64(hdr, 0x30);
        let init_size = le_u64(hdr, 0x38);
        let value = attr.value(fs).map_err(|e| e.to_string())?;
        let ntfs::attribute_value::NtfsAttributeValue::NonResident(v) = value else {
            return Err("non-resident attribute without data runs".to_string());
        };
        let cluster = u64::from(self.ntfs.cluster_size());
        let mut runs = Vec::new();
        let mut vcn = lowest_vcn;
        for run in v.data_runs() {
            if runs.len() >= MAX_RUNS {
                return Err(format!("more than {MAX_RUNS} data runs"));
            }
            let run = run.map_err(|e| format!("data runs: {e}"))?;
            let clusters = run.allocated_size() / cluster;
            runs.push(Run {
                vcn,
                clusters,
                lcn_pos: run.data_position().value().map(|p| p.get()),
            });
            vcn = vcn.checked_add(clusters).ok_or("data runs overflow")?;
        }
        Ok(Some(Piece {
            ty,
            name,
            flags,
            body: PieceBody::NonResident {
                lowest_vcn,
                unit_exp,
                data_size,
                init_size,
                runs,
            },
        }))
    }

    /// Turns the attribute pieces of a record into its streams.
    fn assemble(&self, pieces: Vec<Piece>) -> Result<FileFacts, String> {
        let mut modified = None;
        let mut encrypted = false;
        let mut reparse_tag = None;
        let mut reparse_data: Vec<u8> = Vec::new();
        let mut data: HashMap<String, Vec<Piece>> = HashMap::new();
        let mut order: Vec<String> = Vec::new();
        for p in pieces {
            match p.ty {
                AT_STANDARD_INFORMATION => {
                    if let PieceBody::Info {
                        modified: m,
                        encrypted: e,
                    } = p.body
                    {
                        modified = m;
                        encrypted |= e;
                    }
                }
                AT_LOGGED_UTILITY_STREAM if p.name == "$EFS" => encrypted = true,
                AT_REPARSE_POINT => {
                    if let PieceBody::Resident(v) = &p.body {
                        if v.len() >= 4 {
                            reparse_tag = Some(u32::from_le_bytes([v[0], v[1], v[2], v[3]]));
                            reparse_data.clone_from(v);
                        }
                    }
                }
                AT_DATA => {
                    if p.flags & ATTR_ENCRYPTED != 0 {
                        encrypted = true;
                    }
                    if !data.contains_key(&p.name) {
                        order.push(p.name.clone());
                    }
                    data.entry(p.name.clone()).or_default().push(p);
                }
                _ => {}
            }
        }
        if matches!(
            reparse_tag,
            Some(IO_REPARSE_TAG_SYMLINK | IO_REPARSE_TAG_MOUNT_POINT)
        ) {
            // Symlinks and junctions point elsewhere: nothing of their own to scan.
            return Ok(FileFacts {
                modified,
                streams: Vec::new(),
            });
        }
        if order.is_empty() {
            // Not a link, yet no content at all: say so rather than drop the file silently.
            return Ok(FileFacts {
                modified,
                streams: vec![StreamDesc {
                    name: None,
                    size: 0,
                    data: Err(StreamProblem::Error(
                        "file has no $DATA attribute".to_string(),
                    )),
                    wof: None,
                }],
            });
        }
        let cluster = u64::from(self.ntfs.cluster_size());
        // CompactOS: the main stream's bytes come from the WofCompressedData stream.
        let wof = reparse_tag == Some(IO_REPARSE_TAG_WOF);
        let mut wof_main: Option<Result<(StreamData, u64, u64), StreamProblem>> = None;
        if wof {
            let chunk = match wof::parse_reparse(&reparse_data) {
                Some(Ok(algorithm)) => Ok(algorithm.chunk()),
                Some(Err(_)) | None => {
                    self.wof_failed.fetch_add(1, Ordering::Relaxed);
                    Err(StreamProblem::Skip(SkipReason::WofCompressed))
                }
            };
            let stream = match data.remove("WofCompressedData") {
                Some(mut parts) => {
                    order.retain(|n| n != "WofCompressedData");
                    parts.sort_by_key(|p| match &p.body {
                        PieceBody::NonResident { lowest_vcn, .. } => *lowest_vcn,
                        _ => 0,
                    });
                    match &parts[0].body {
                        PieceBody::Resident(b) => {
                            Ok((StreamData::Resident(b.clone()), b.len() as u64))
                        }
                        PieceBody::NonResident { data_size, .. } => {
                            build_nonresident(&parts, cluster)
                                .map(|nr| (StreamData::NonResident(nr), *data_size))
                        }
                        PieceBody::Info { .. } => {
                            Err(StreamProblem::Skip(SkipReason::WofCompressed))
                        }
                    }
                }
                None => Err(StreamProblem::Skip(SkipReason::WofCompressed)),
            };
            wof_main = Some(chunk.and_then(|c| stream.map(|(d, n)| (d, n, c))));
        }
        let mut streams = Vec::new();
        for name in order {
            let Some(mut parts) = data.remove(&name) else {
                continue;
            };
            parts.sort_by_key(|p| match &p.body {
                PieceBody::NonResident { lowest_vcn, .. } => *lowest_vcn,
                _ => 0,
            });
            let first = &parts[0];
            let stream_name = if name.is_empty() {
                None
            } else {
                Some(name.clone())
            };
            let (size, built) = match &first.body {
                PieceBody::Resident(bytes) => {
                    (bytes.len() as u64, Ok(StreamData::Resident(bytes.clone())))
                }
                PieceBody::NonResident { data_size, .. } => (
                    *data_size,
                    build_nonresident(&parts, cluster).map(StreamData::NonResident),
                ),
                PieceBody::Info { .. } => continue,
            };
            let mut wof_info = None;
            let data = if encrypted {
                Err(StreamProblem::Skip(SkipReason::Encrypted))
            } else if stream_name.is_none() && wof_main.is_some() {
                match wof_main.take() {
                    Some(Ok((d, stream_size, chunk))) => {
                        wof_info = Some((stream_size, chunk));
                        Ok(d)
                    }
                    Some(Err(e)) => Err(e),
                    None => Err(StreamProblem::Skip(SkipReason::WofCompressed)),
                }
            } else if reparse_tag == Some(IO_REPARSE_TAG_DEDUP) && stream_name.is_none() {
                Err(StreamProblem::Skip(SkipReason::UnsupportedCompression))
            } else {
                built
            };
            streams.push(StreamDesc {
                name: stream_name,
                size,
                data,
                wof: wof_info,
            });
        }
        Ok(FileFacts { modified, streams })
    }
}

/// Checks the directory's `$I30` index record size before the crate allocates by it.
fn check_index_record_size(dir: &NtfsFile<'_>) -> Result<(), String> {
    for attr in dir.attributes_raw().take(MAX_ATTRIBUTES) {
        let Ok(attr) = attr else { continue };
        if attr.ty().ok() != Some(NtfsAttributeType::IndexRoot) {
            continue;
        }
        if let Ok(root) = attr.resident_structured_value::<NtfsIndexRoot>() {
            let size = root.index_record_size();
            if size == 0 || size > MAX_INDEX_RECORD {
                return Err(format!("implausible index record size {size}"));
            }
        }
    }
    Ok(())
}

struct Piece {
    ty: u32,
    name: String,
    flags: u16,
    body: PieceBody,
}

enum PieceBody {
    Info {
        modified: Option<i64>,
        encrypted: bool,
    },
    Resident(Vec<u8>),
    NonResident {
        lowest_vcn: u64,
        unit_exp: u8,
        data_size: u64,
        init_size: u64,
        runs: Vec<Run>,
    },
}

/// Joins the pieces of one non-resident stream (sorted by lowest VCN).
fn build_nonresident(parts: &[Piece], cluster: u64) -> Result<NonResident, StreamProblem> {
    let PieceBody::NonResident {
        unit_exp,
        data_size,
        init_size,
        ..
    } = &parts[0].body
    else {
        return Err(StreamProblem::Error(
            "stream mixes resident and non-resident parts".into(),
        ));
    };
    let flags = parts[0].flags;
    let mut runs: Vec<Run> = Vec::new();
    let mut end = 0u64;
    for p in parts {
        let PieceBody::NonResident {
            lowest_vcn,
            runs: r,
            ..
        } = &p.body
        else {
            return Err(StreamProblem::Error(
                "stream mixes resident and non-resident parts".into(),
            ));
        };
        if *lowest_vcn < end {
            return Err(StreamProblem::Error("overlapping data run lists".into()));
        }
        if runs.len() + r.len() > MAX_RUNS {
            return Err(StreamProblem::Error(format!(
                "more than {MAX_RUNS} data runs"
            )));
        }
        runs.extend(r.iter().copied());
        end = runs
            .last()
            .map_or(end, |l| l.vcn.saturating_add(l.clusters));
    }
    let compression = flags & ATTR_COMPRESSION_MASK;
    let unit = match compression {
        0 => None,
        1 => {
            let unit = (*unit_exp < 16)
                .then(|| cluster << unit_exp)
                .filter(|&u| *unit_exp > 0 && u <= MAX_UNIT);
            match unit {
                Some(u) => Some(u),
                None => return Err(StreamProblem::Skip(SkipReason::UnsupportedCompression)),
            }
        }
        _ => return Err(StreamProblem::Skip(SkipReason::UnsupportedCompression)),
    };
    Ok(NonResident {
        runs,
        cluster,
        data_size: *data_size,
        init_size: (*init_size).min(*data_size),
        unit,
    })
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Our own copy of a file record, with the update-sequence fixups applied (the crate keeps its
/// copy private). Checked against the crate's view by the callers.
fn read_record(dev: &Device, file: &NtfsFile<'_>, record_size: u32) -> Result<Vec<u8>, String> {
    let pos = file
        .position()
        .value()
        .map(|p| p.get())
        .ok_or("record without position")?;
    let size = usize::try_from(record_size)
        .map_err(|_| "record size")?
        .min(64 * 1024);
    let mut rec = vec![0u8; size];
    dev.read_exact_at(pos, &mut rec)
        .map_err(|e| format!("reading record: {e}"))?;
    if rec.get(0..4) != Some(b"FILE".as_slice()) {
        return Err("record copy has no FILE signature".to_string());
    }
    let usa_ofs = usize::from(u16::from_le_bytes([rec[4], rec[5]]));
    let usa_count = usize::from(u16::from_le_bytes([rec[6], rec[7]]));
    for i in 1..usa_count {
        let Some(fix) = rec
            .get(usa_ofs + 2 * i..usa_ofs + 2 * i + 2)
            .map(|s| [s[0], s[1]])
        else {
            break;
        };
        let end = i * 512;
        if end > size {
            break;
        }
        rec[end - 2..end].copy_from_slice(&fix);
    }
    Ok(rec)
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
